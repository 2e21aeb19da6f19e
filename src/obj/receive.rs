//! The object PUT data path: receive the body, hash it (MD5 for the ETag,
//! CRC32 for the footer) and append it to a [`DiskFileWriter`].
//!
//! MD5 is the PUT bottleneck (`../shared/DESIGN.md`): one core hashes
//! ~450 MB/s, so every microsecond the worker spends waiting for a socket or
//! a file write is lost throughput. Two things follow:
//!
//! - Receiving, hashing and writing overlap. While buffer `A` is written,
//!   buffer `B` is received, then `A` is hashed. Buffers hold whole blocks
//!   at a block-aligned address, so for a large body (`[storage]
//!   direct_write_min_size`) the writer can send them to the device with
//!   `O_DIRECT` (`super::direct`): no page-cache copy competing with MD5
//!   for the core (io-wq threads run on the worker's CPUs), and the fsync
//!   at commit finds only the last partial block and the trailer dirty. A
//!   direct write waits for the device, so those go out several at a time
//!   (`super::inflight`); buffered writes land in the page cache at once,
//!   one in flight is enough, and smaller bodies stay cached for the GET
//!   that often follows.
//! - Hashing goes through the worker's [`Md5Batcher`]: buffers that other
//!   uploads on the same worker queued while this one awaited its receive
//!   are hashed together in SIMD lanes (up to 8 with AVX2), so concurrent
//!   uploads on one core are not capped at one stream's MD5 speed. A lone
//!   upload is hashed on the scalar path at once.

use std::rc::Rc;

use monoio::buf::IoBuf;

use super::direct::{align_offset, DIRECT_ALIGN};
use super::diskfile::{DiskFileError, DiskFileWriter};
use super::inflight::Pipe;
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

/// What has been received so far: the hashes and the size of the bytes
/// handed to the writer (all of them hashed).
struct Progress {
    md5: Md5State,
    crc: crc32fast::Hasher,
    size: u64,
}

/// Buffer geometry of one upload.
#[derive(Clone, Copy)]
struct Geometry {
    chunk: usize,
    capacity: usize,
    max_size: u64,
}

/// Receives the whole body into `writer`, with buffers of `buf_size` bytes,
/// refusing to store more than `max_size` bytes. Once `direct_from` bytes
/// have arrived (0: from the start; `None`: never), whole blocks go to the
/// device past the page cache with several writes in flight, if the writer
/// can (see [`DiskFileWriter::start_direct`]).
///
/// Each buffer is filled to a whole number of blocks, its data starting on
/// a block boundary in memory (a partial block at its end moves on to the
/// next buffer), so every buffer but the last can be written directly.
pub async fn receive_body<W: DiskFileWriter>(
    writer: &mut W,
    body: &mut BodySource<'_, '_>,
    buf_size: usize,
    max_size: u64,
    direct_from: Option<u64>,
) -> Result<Received, ReceiveError> {
    let chunk = chunk_size(buf_size);
    let geo = Geometry {
        chunk,
        capacity: buffer_capacity(chunk),
        max_size,
    };
    let mut progress = Progress {
        md5: Md5State::new(),
        crc: crc32fast::Hasher::new(),
        size: 0,
    };
    let first = fill(body, buffers::take(geo.capacity), &[], chunk).await;
    if let Some(rest) =
        receive_buffered(writer, body, geo, &mut progress, first, direct_from).await?
    {
        receive_direct(writer, body, geo, &mut progress, rest).await?;
    }
    let Progress { md5, crc, size } = progress;
    debug_assert_eq!(size, writer.written());
    debug_assert_eq!(size, md5.len());
    Ok(Received {
        etag: hex::encode(md5.finalize()),
        crc32: crc.finalize(),
        size,
    })
}

/// Bytes of a filled buffer that go to the writer now: all of them at the
/// end of the body, else whole blocks (the partial block is carried on).
fn keep_len(ended: bool, data: usize) -> usize {
    if ended {
        data
    } else {
        data / DIRECT_ALIGN * DIRECT_ALIGN
    }
}

/// The buffered loop: one write in flight (the page cache takes it at
/// once). Returns the next filled buffer, unreceived into the file, when
/// `direct_from` bytes have arrived and the writer switched to direct
/// block writes; `None` when the body is stored.
async fn receive_buffered<W: DiskFileWriter>(
    writer: &mut W,
    body: &mut BodySource<'_, '_>,
    geo: Geometry,
    progress: &mut Progress,
    first: Filled,
    mut direct_from: Option<u64>,
) -> Result<Option<Filled>, ReceiveError> {
    let batcher = MD5_BATCHER.with(Md5Batcher::clone);
    let (mut res, mut vec, mut start) = first;
    // `vec` holds received bytes not yet hashed or written.
    loop {
        if direct_from.is_some_and(|at| progress.size >= at) {
            if writer.start_direct() {
                return Ok(Some((res, vec, start)));
            }
            direct_from = None;
        }
        let ended = match res {
            Ok(ended) => ended,
            Err(e) => {
                buffers::give(vec);
                return Err(ReceiveError::from(e));
            }
        };
        let data_end = vec.len();
        let keep = keep_len(ended, data_end - start);
        if keep == 0 {
            buffers::give(vec);
            return Ok(None);
        }
        progress.size += keep as u64;
        if progress.size > geo.max_size {
            buffers::give(vec);
            return Err(ReceiveError::TooLarge(geo.max_size));
        }
        let shared = SharedBuf {
            vec: Rc::new(vec),
            start,
            end: start + keep,
        };
        progress.crc.update(shared.as_ref());
        let ticket = batcher.submit(std::mem::take(&mut progress.md5), shared.clone());
        let carry = Rc::clone(&shared.vec);
        // Hashing waits for the next buffer, so that other uploads' buffers
        // queued meanwhile join the same pass, and runs while the write
        // may still be in flight.
        let receive_then_hash = async {
            let next = if ended {
                None
            } else {
                let carry = &carry[start + keep..data_end];
                Some(fill(body, buffers::take(geo.capacity), carry, geo.chunk).await)
            };
            let (md5, hashed) = ticket.wait();
            drop(hashed);
            (next, md5)
        };
        let write = async {
            let (res, buf) = writer.write(shared).await;
            drop(buf);
            res
        };
        let (written, (next, hashed_md5)) = monoio::join!(write, receive_then_hash);
        progress.md5 = hashed_md5;
        drop(carry);
        match (written, next) {
            (Err(e), next) => {
                if let Some((_, v, _)) = next {
                    buffers::give(v);
                }
                return Err(e.into());
            }
            (Ok(()), None) => return Ok(None),
            (Ok(()), Some(next)) => (res, vec, start) = next,
        }
    }
}

/// A block write for a lane: the bytes and where they go.
type BlockJob = (SharedBuf, u64);

/// The direct loop: whole blocks go out with up to [`super::inflight::LANES`]
/// writes in flight while the next buffer is received and the previous
/// one hashed; the body's last partial block follows through the page
/// cache once they are all done. An upload holds at most `LANES + 1`
/// buffers. No write is left in flight when this returns, whatever
/// failed, so the caller may abort (unlink) the file at once.
async fn receive_direct<W: DiskFileWriter>(
    writer: &mut W,
    body: &mut BodySource<'_, '_>,
    geo: Geometry,
    progress: &mut Progress,
    first: Filled,
) -> Result<(), ReceiveError> {
    let batcher = MD5_BATCHER.with(Md5Batcher::clone);
    let pipe: Pipe<BlockJob, DiskFileError> = Pipe::new();
    let shared_writer: &W = writer;
    let run = |(buf, offset): BlockJob| async move {
        let (res, buf) = shared_writer.write_block_at(buf, offset).await;
        drop(buf);
        res
    };
    let receive = async {
        let (mut res, mut vec, mut start) = first;
        let mut offset = progress.size;
        let outcome = loop {
            let ended = match res {
                Ok(ended) => ended,
                Err(e) => {
                    buffers::give(vec);
                    break Err(ReceiveError::from(e));
                }
            };
            let data_end = vec.len();
            let keep = keep_len(ended, data_end - start);
            if keep == 0 {
                buffers::give(vec);
                break Ok((offset, None));
            }
            progress.size += keep as u64;
            if progress.size > geo.max_size {
                buffers::give(vec);
                break Err(ReceiveError::TooLarge(geo.max_size));
            }
            let mut shared = SharedBuf {
                vec: Rc::new(vec),
                start,
                end: start + keep,
            };
            progress.crc.update(shared.as_ref());
            let ticket = batcher.submit(std::mem::take(&mut progress.md5), shared.clone());
            let aligned = keep / DIRECT_ALIGN * DIRECT_ALIGN;
            // The body's last partial block waits for the block writes.
            let tail = if aligned == keep {
                None
            } else if aligned == 0 {
                Some(shared.clone())
            } else {
                Some(shared.split_off(aligned))
            };
            let carry = Rc::clone(&shared.vec);
            if aligned > 0 {
                // Waiting for a free lane also lets other uploads' buffers
                // join this one's hashing pass.
                if !pipe.wait_slot().await {
                    progress.md5 = ticket.wait().0;
                    break Ok((offset, None)); // a write failed: see the pipe
                }
                pipe.push((shared, offset));
                offset += aligned as u64;
            } else {
                drop(shared);
            }
            if ended {
                progress.md5 = ticket.wait().0;
                break Ok((offset, tail));
            }
            let next = fill(
                body,
                buffers::take(geo.capacity),
                &carry[start + keep..data_end],
                geo.chunk,
            )
            .await;
            drop(carry);
            progress.md5 = ticket.wait().0;
            (res, vec, start) = next;
        };
        match outcome {
            Ok(_) => pipe.close(),
            Err(_) => pipe.abandon(),
        }
        outcome
    };
    let (received, ..) = monoio::join!(
        receive,
        pipe.lane(0, run),
        pipe.lane(1, run),
        pipe.lane(2, run),
        pipe.lane(3, run)
    );
    if let Some(e) = pipe.take_error() {
        return Err(e.into());
    }
    let (end, tail) = received?;
    writer.advance_to(end);
    if let Some(tail) = tail {
        let (res, tail) = writer.write(tail).await;
        drop(tail);
        res?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "receive_tests.rs"]
mod tests;
