//! The object PUT data path: receive the body, hash it (MD5 for the ETag,
//! CRC32 for the footer) and append it to a [`DiskFileWriter`].
//!
//! MD5 is the PUT bottleneck (`../shared/DESIGN.md`): one core hashes
//! ~450 MB/s, so every microsecond the worker spends waiting for a socket or
//! a file write is lost throughput. Two things follow:
//!
//! - Two buffers are in flight. While buffer `A` is written, buffer `B` is
//!   received, then `A` is hashed. Buffers hold whole blocks at a
//!   block-aligned address, so the writer sends them to the device with
//!   `O_DIRECT` (`super::direct`): no page-cache copy competing with MD5
//!   for the core (io-wq threads run on the worker's CPUs), and the fsync
//!   at commit finds only the last partial block and the trailer dirty.
//! - Hashing goes through the worker's [`Md5Batcher`]: buffers that other
//!   uploads on the same worker queued while this one awaited its receive
//!   are hashed together in SIMD lanes (up to 8 with AVX2), so concurrent
//!   uploads on one core are not capped at one stream's MD5 speed. A lone
//!   upload is hashed on the scalar path at once.

use std::rc::Rc;

use monoio::buf::IoBuf;

use super::direct::{align_offset, DIRECT_ALIGN};
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
/// queue, so neither has to copy it: the bytes `start..end` of the Vec
/// (the bytes before `start` only align the data for direct I/O).
#[derive(Clone)]
struct SharedBuf {
    vec: Rc<Vec<u8>>,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for SharedBuf {
    fn as_ref(&self) -> &[u8] {
        &self.vec[self.start..self.end]
    }
}

// SAFETY: the bytes live in the Vec's heap allocation, which does not move
// or change while any clone of the Rc exists (nothing can get `&mut` to it
// through a shared Rc), and `start..end` lies within its `len` initialized
// bytes.
unsafe impl IoBuf for SharedBuf {
    fn read_ptr(&self) -> *const u8 {
        self.vec[self.start..].as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.end - self.start
    }
}

impl SharedBuf {
    /// The part of `self` from `at` bytes in.
    fn split_off(&mut self, at: usize) -> SharedBuf {
        let mid = self.start + at;
        let tail = SharedBuf {
            vec: Rc::clone(&self.vec),
            start: mid,
            end: self.end,
        };
        self.end = mid;
        tail
    }
}

impl Drop for SharedBuf {
    /// The last view of a buffer (written and hashed) gives it back to the
    /// pool.
    fn drop(&mut self) {
        if let Some(vec) = Rc::get_mut(&mut self.vec) {
            buffers::give(std::mem::take(vec));
        }
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

/// Capacity of a receive buffer for `chunk` body bytes: room for the
/// alignment padding and for a partial block carried over.
fn buffer_capacity(chunk: usize) -> usize {
    chunk + 2 * DIRECT_ALIGN
}

/// Bytes of body each buffer carries to the disk: `buf_size` rounded down
/// to whole blocks, so every buffer but the last can be written directly.
fn chunk_size(buf_size: usize) -> usize {
    (buf_size / DIRECT_ALIGN).max(1) * DIRECT_ALIGN
}

/// A filled receive buffer: its body bytes start at `start` (a
/// [`DIRECT_ALIGN`] boundary in memory); `Ok(true)` when the body ended.
type Filled = (Result<bool, BodyError>, Vec<u8>, usize);

/// Reads into `vec` until it holds `chunk` body bytes past the alignment
/// padding and the `carry` bytes left over from the previous buffer, or
/// the body ends.
async fn fill(
    body: &mut BodySource<'_, '_>,
    mut vec: Vec<u8>,
    carry: &[u8],
    chunk: usize,
) -> Filled {
    vec.clear();
    let start = align_offset(vec.as_ptr());
    vec.resize(start, 0);
    vec.extend_from_slice(carry);
    while vec.len() - start < chunk {
        let (res, v) = body.read(vec).await;
        vec = v;
        match res {
            Ok(0) => return (Ok(true), vec, start),
            Ok(_) => {}
            Err(e) => return (Err(e), vec, start),
        }
    }
    (Ok(false), vec, start)
}

/// Receives the whole body into `writer`, with buffers of `buf_size` bytes,
/// refusing to store more than `max_size` bytes.
///
/// Each buffer is filled to a whole number of blocks, its data starting on
/// a block boundary in memory (a partial block at its end moves on to the
/// next buffer), so the writer can send it to the device without the page
/// cache (see `direct`); only the body's last partial block is not aligned.
pub async fn receive_body<W: DiskFileWriter>(
    writer: &mut W,
    body: &mut BodySource<'_, '_>,
    buf_size: usize,
    max_size: u64,
) -> Result<Received, ReceiveError> {
    let batcher = MD5_BATCHER.with(Md5Batcher::clone);
    let chunk = chunk_size(buf_size);
    let capacity = buffer_capacity(chunk);
    let mut md5 = Md5State::new();
    let mut crc = crc32fast::Hasher::new();
    let mut size = 0u64;
    let (mut res, mut vec, mut start) = fill(body, buffers::take(capacity), &[], chunk).await;
    // `vec` holds received bytes not yet hashed or written.
    let result = loop {
        let ended = match res {
            Ok(ended) => ended,
            Err(e) => {
                buffers::give(vec);
                break Err(ReceiveError::from(e));
            }
        };
        let data_end = vec.len();
        // A buffer that did not end the body holds at least `chunk` bytes
        // and passes its last partial block on.
        let keep = if ended {
            data_end - start
        } else {
            (data_end - start) / DIRECT_ALIGN * DIRECT_ALIGN
        };
        if keep == 0 {
            buffers::give(vec);
            break Ok(());
        }
        size += keep as u64;
        if size > max_size {
            buffers::give(vec);
            break Err(ReceiveError::TooLarge(max_size));
        }
        let mut shared = SharedBuf {
            vec: Rc::new(vec),
            start,
            end: start + keep,
        };
        crc.update(shared.as_ref());
        let ticket = batcher.submit(std::mem::take(&mut md5), shared.clone());
        // The body's last partial block goes through the page cache.
        let aligned = keep / DIRECT_ALIGN * DIRECT_ALIGN;
        let tail = (aligned != keep && aligned > 0).then(|| shared.split_off(aligned));
        let carry = Rc::clone(&shared.vec);
        // Hashing waits for the next buffer, so that other uploads' buffers
        // queued meanwhile join the same pass, and runs while the write
        // may still be in flight.
        let receive_then_hash = async {
            let next = if ended {
                None
            } else {
                let carry = &carry[start + keep..data_end];
                Some(fill(body, buffers::take(capacity), carry, chunk).await)
            };
            let (md5, hashed) = ticket.wait();
            drop(hashed);
            (next, md5)
        };
        let write = async {
            let (res, head) = writer.write(shared).await;
            drop(head);
            match (res, tail) {
                (Ok(()), Some(tail)) => writer.write(tail).await.0,
                (res, _) => res,
            }
        };
        let (written, (next, hashed_md5)) = monoio::join!(write, receive_then_hash);
        md5 = hashed_md5;
        drop(carry);
        match (written, next) {
            (Err(e), next) => {
                if let Some((_, v, _)) = next {
                    buffers::give(v);
                }
                break Err(e.into());
            }
            (Ok(()), None) => break Ok(()),
            (Ok(()), Some(next)) => (res, vec, start) = next,
        }
    };
    result?;
    debug_assert_eq!(size, writer.written());
    debug_assert_eq!(size, md5.len());
    Ok(Received {
        etag: hex::encode(md5.finalize()),
        crc32: crc.finalize(),
        size,
    })
}
