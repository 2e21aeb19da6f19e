//! The object PUT data path: receive the body, hash it (MD5 for the ETag,
//! CRC32 for the footer) and append it to a [`DiskFileWriter`].
//!
//! MD5 is the PUT bottleneck (`../shared/DESIGN.md`): one core hashes
//! ~450 MB/s, so every microsecond the worker spends waiting for a socket or
//! a file write is lost throughput. Two things follow:
//!
//! - Two buffers are in flight. While buffer `A` is written, buffer `B` is
//!   received, then `A` is hashed. The write and the receive are submitted
//!   to the kernel together, so a write the kernel hands to an io-wq thread
//!   (ext4 does) copies on another core while this one hashes.
//! - Hashing goes through the worker's [`Md5Batcher`]: buffers that other
//!   uploads on the same worker queued while this one awaited its receive
//!   are hashed together in SIMD lanes (up to 8 with AVX2), so concurrent
//!   uploads on one core are not capped at one stream's MD5 speed. A lone
//!   upload is hashed on the scalar path at once.

use std::rc::Rc;

use monoio::buf::IoBuf;

use super::diskfile::{DiskFileError, DiskFileWriter};
use crate::common::buffers;
use crate::common::md5x::{BatchStats, Md5Batcher, Md5State};
use crate::http::{BodyError, BodySource};

thread_local! {
    /// One batcher per worker thread: uploads on other workers never share
    /// lanes with this one's.
    static MD5_BATCHER: Md5Batcher<SharedBuf> = Md5Batcher::new();
}

/// Hashing counters of this thread's batcher (buffers hashed, how many of
/// them shared a SIMD pass with another upload's).
pub fn md5_batch_stats() -> BatchStats {
    MD5_BATCHER.with(Md5Batcher::stats)
}

/// A received buffer shared by the file write in flight and the hash
/// queue, so neither has to copy it.
#[derive(Clone)]
struct SharedBuf(Rc<Vec<u8>>);

impl AsRef<[u8]> for SharedBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

// SAFETY: the bytes live in the Vec's heap allocation, which does not move
// or change while any clone of the Rc exists (nothing can get `&mut` to it
// through a shared Rc), and `len` bytes of it are initialized.
unsafe impl IoBuf for SharedBuf {
    fn read_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.0.len()
    }
}

impl SharedBuf {
    /// The Vec back for reuse once every other clone is gone; otherwise a
    /// fresh pooled buffer.
    fn reclaim(self, capacity: usize) -> Vec<u8> {
        Rc::try_unwrap(self.0).unwrap_or_else(|_| buffers::take(capacity))
    }
}

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

/// Receives the whole body into `writer`, with buffers of `buf_size` bytes,
/// refusing to store more than `max_size` bytes.
pub async fn receive_body<W: DiskFileWriter>(
    writer: &mut W,
    body: &mut BodySource<'_, '_>,
    buf_size: usize,
    max_size: u64,
) -> Result<Received, ReceiveError> {
    let batcher = MD5_BATCHER.with(Md5Batcher::clone);
    let mut md5 = Md5State::new();
    let mut crc = crc32fast::Hasher::new();
    let mut size = 0u64;
    let (res, mut filled) = body.read(buffers::take(buf_size)).await;
    let mut spare = buffers::take(buf_size);
    let mut result = res.map_err(ReceiveError::from);
    // `filled` holds received bytes not yet hashed or written; `spare` is free.
    while let Ok(n) = result {
        if n == 0 {
            break;
        }
        size += filled.len() as u64;
        if size > max_size {
            result = Err(ReceiveError::TooLarge(max_size));
            break;
        }
        crc.update(&filled);
        let shared = SharedBuf(Rc::new(filled));
        let ticket = batcher.submit(md5, shared.clone());
        spare.clear();
        // Hashing waits for the receive, so that other uploads' buffers
        // queued meanwhile join the same pass, and runs while the write
        // may still be in flight.
        let receive_then_hash = async {
            let (res, buf) = body.read(spare).await;
            let (md5, hashed) = ticket.wait();
            drop(hashed);
            (res, buf, md5)
        };
        let ((written, was_filled), (read, now_filled, hashed_md5)) =
            monoio::join!(writer.write(shared), receive_then_hash);
        md5 = hashed_md5;
        spare = was_filled.reclaim(buf_size);
        filled = now_filled;
        result = match (written, read) {
            (Err(e), _) => Err(e.into()),
            (Ok(()), read) => read.map_err(ReceiveError::from),
        };
    }
    buffers::give(filled);
    buffers::give(spare);
    result?;
    debug_assert_eq!(size, writer.written());
    debug_assert_eq!(size, md5.len());
    Ok(Received {
        etag: hex::encode(md5.finalize()),
        crc32: crc.finalize(),
        size,
    })
}
