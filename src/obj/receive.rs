//! The object PUT data path: receive the body, hash it (MD5 for the ETag,
//! CRC32 for the footer) and append it to a [`DiskFileWriter`].
//!
//! MD5 is the PUT bottleneck (`../shared/DESIGN.md`): one core hashes
//! ~500 MB/s, so every microsecond the worker spends waiting for a socket or
//! a file write is lost throughput. The loop keeps two buffers: while buffer
//! `A` is being written, buffer `B` is received and hashed. The write and
//! the receive are submitted to the kernel together, so a write the kernel
//! hands to an io-wq thread runs on another core while this one hashes.

use md5::{Digest, Md5};

use super::diskfile::{DiskFileError, DiskFileWriter};
use crate::common::buffers;
use crate::http::{BodyError, BodySource};

/// What the object server needs to know about a body it stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Hex MD5 of the body: the object's ETag.
    pub etag: String,
    /// CRC32 of the body, kept in the footer to detect bit rot.
    pub crc32: u32,
    /// Bytes stored.
    pub size: u64,
}

/// Why a body could not be stored; the writer is left for the caller to
/// abort.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// The client's side failed (timeout, disconnect, bad chunking).
    #[error("{0}")]
    Body(#[from] BodyError),
    /// The body grew past the object size limit.
    #[error("object larger than {0} bytes")]
    TooLarge(u64),
    /// The disk refused the bytes.
    #[error("{0}")]
    Disk(#[from] DiskFileError),
}

/// Running digests of the bytes received so far, in order.
struct Digests {
    md5: Md5,
    crc: crc32fast::Hasher,
    size: u64,
}

impl Digests {
    fn update(&mut self, buf: &[u8]) {
        self.md5.update(buf);
        self.crc.update(buf);
        self.size += buf.len() as u64;
    }
}

/// Receives the whole body into `writer`, with buffers of `buf_size` bytes,
/// refusing to store more than `max_size` bytes.
pub async fn receive_body<W: DiskFileWriter>(
    writer: &mut W,
    body: &mut BodySource<'_, '_>,
    buf_size: usize,
    max_size: u64,
) -> Result<Received, ReceiveError> {
    let mut digests = Digests {
        md5: Md5::new(),
        crc: crc32fast::Hasher::new(),
        size: 0,
    };
    let (res, mut filled) = body.read(buffers::take(buf_size)).await;
    let mut spare = buffers::take(buf_size);
    let mut result = res.map_err(ReceiveError::from).map(|n| {
        digests.update(&filled);
        n
    });
    // `filled` holds hashed bytes not yet written; `spare` is free.
    while let Ok(n) = result {
        if n == 0 {
            break;
        }
        if digests.size > max_size {
            result = Err(ReceiveError::TooLarge(max_size));
            break;
        }
        spare.clear();
        let read_and_hash = async {
            let (res, buf) = body.read(spare).await;
            if let Ok(n) = res {
                if n > 0 {
                    digests.update(&buf);
                }
            }
            (res, buf)
        };
        let ((written, was_filled), (read, now_filled)) =
            monoio::join!(writer.write(filled), read_and_hash);
        spare = was_filled;
        filled = now_filled;
        result = match (written, read) {
            (Err(e), _) => Err(e.into()),
            (Ok(()), read) => read.map_err(ReceiveError::from),
        };
    }
    buffers::give(filled);
    buffers::give(spare);
    result?;
    debug_assert_eq!(digests.size, writer.written());
    Ok(Received {
        etag: hex::encode(digests.md5.finalize()),
        crc32: digests.crc.finalize(),
        size: digests.size,
    })
}
