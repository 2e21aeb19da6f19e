//! `receive_body` against a writer over a real file whose block writes
//! take a while (so several overlap) and may be told to fail, on both
//! drivers: every byte lands in order, the hashes are right, no more than
//! `LANES` writes are ever in flight, and whatever fails (a write, the
//! body, the size limit) the call returns with no write still in flight.

use std::cell::Cell;
use std::io;
use std::path::Path;
use std::time::Duration;

use md5::{Digest, Md5};
use monoio::fs::File;

use super::*;
use crate::common::timestamp::Timestamp;
use crate::http::stream::{BodyStream, LocalBoxFuture};
use crate::obj::inflight::LANES;
use crate::obj::metadata::Metadata;
use crate::runtime::on_both_drivers;

/// `io_buffer_size` of these uploads: 4 blocks per buffer.
const BUF: usize = 4 * DIRECT_ALIGN;

/// A writer over a real file. Block writes sleep first, so they overlap,
/// and the one at `fail_at` fails with EIO instead of writing.
struct SlowFile {
    file: File,
    written: u64,
    /// What `start_direct` answers.
    direct: bool,
    fail_at: Option<u64>,
    in_flight: Cell<usize>,
    peak: Cell<usize>,
    block_writes: Cell<usize>,
    appends: usize,
}

impl SlowFile {
    async fn create(path: &Path, direct: bool, fail_at: Option<u64>) -> Self {
        let file = monoio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
            .expect("open");
        SlowFile {
            file,
            written: 0,
            direct,
            fail_at,
            in_flight: Cell::new(0),
            peak: Cell::new(0),
            block_writes: Cell::new(0),
            appends: 0,
        }
    }
}

impl DiskFileWriter for SlowFile {
    async fn write<B: IoBuf>(&mut self, buf: B) -> (Result<(), DiskFileError>, B) {
        self.appends += 1;
        let len = buf.bytes_init() as u64;
        let (res, buf) = self.file.write_all_at(buf, self.written).await;
        self.written += len;
        (res.map_err(DiskFileError::from_io), buf)
    }

    fn written(&self) -> u64 {
        self.written
    }

    fn start_direct(&mut self) -> bool {
        self.direct
    }

    async fn write_block_at<B: IoBuf>(
        &self,
        buf: B,
        offset: u64,
    ) -> (Result<(), DiskFileError>, B) {
        assert!(self.direct, "block write without start_direct");
        assert_eq!(offset % DIRECT_ALIGN as u64, 0);
        assert_eq!(buf.bytes_init() % DIRECT_ALIGN, 0);
        assert_eq!(buf.read_ptr() as usize % DIRECT_ALIGN, 0);
        self.block_writes.set(self.block_writes.get() + 1);
        self.in_flight.set(self.in_flight.get() + 1);
        self.peak.set(self.peak.get().max(self.in_flight.get()));
        monoio::time::sleep(Duration::from_millis(2)).await;
        let (res, buf) = if self.fail_at == Some(offset) {
            (Err(io::Error::from_raw_os_error(libc::EIO)), buf)
        } else {
            self.file.write_all_at(buf, offset).await
        };
        self.in_flight.set(self.in_flight.get() - 1);
        (res.map_err(DiskFileError::from_io), buf)
    }

    fn advance_to(&mut self, end: u64) {
        assert!(end >= self.written);
        self.written = end;
    }

    async fn commit(self, _: Timestamp, _: &Metadata) -> Result<(), DiskFileError> {
        Ok(())
    }

    async fn abort(self) {}
}

/// A body that arrives in `piece`-byte reads and fails after `fail_after`
/// bytes (if given).
struct Pieces {
    bytes: Vec<u8>,
    pos: usize,
    piece: usize,
    fail_after: Option<usize>,
}

impl BodyStream for Pieces {
    fn read(&mut self, mut buf: Vec<u8>) -> LocalBoxFuture<'_, (io::Result<usize>, Vec<u8>)> {
        if self.fail_after.is_some_and(|at| self.pos >= at) {
            return Box::pin(std::future::ready((
                Err(io::Error::from(io::ErrorKind::ConnectionReset)),
                buf,
            )));
        }
        let n = (buf.capacity() - buf.len())
            .min(self.bytes.len() - self.pos)
            .min(self.piece);
        buf.extend_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        Box::pin(std::future::ready((Ok(n), buf)))
    }
}

fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 4093) as u8).collect()
}

fn source(bytes: &[u8], piece: usize, fail_after: Option<usize>) -> BodySource<'static, 'static> {
    BodySource::Stream(Box::new(Pieces {
        bytes: bytes.to_vec(),
        pos: 0,
        piece,
        fail_after,
    }))
}

fn check_received(got: &Received, data: &[u8]) {
    assert_eq!(got.size, data.len() as u64);
    assert_eq!(got.etag, hex::encode(Md5::digest(data)));
    assert_eq!(got.crc32, crc32fast::hash(data));
}

/// Sizes around the block and buffer edges, read in odd pieces, all
/// written as blocks: the file is the body, and a long one had several
/// writes in flight, never more than LANES.
#[test]
fn direct_writes_store_every_byte_with_writes_overlapping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = &dir.path().join("f");
    const SIZES: [usize; 9] = [
        0,
        1,
        DIRECT_ALIGN - 1,
        DIRECT_ALIGN,
        DIRECT_ALIGN + 1,
        BUF,
        BUF + 1,
        7 * BUF - 5,
        20 * BUF,
    ];
    on_both_drivers(|| async move {
        for len in SIZES {
            let data = body(len);
            let mut w = SlowFile::create(path, true, None).await;
            let mut src = source(&data, 3000, None);
            let got = receive_body(&mut w, &mut src, BUF, 1 << 30, Some(0))
                .await
                .expect("receive");
            check_received(&got, &data);
            assert_eq!(w.written, len as u64);
            assert_eq!(w.in_flight.get(), 0);
            assert!(w.peak.get() <= LANES, "{} writes in flight", w.peak.get());
            if len >= 20 * BUF {
                assert!(w.peak.get() > 1, "{len}: writes never overlapped");
                assert_eq!(w.appends, 0, "{len}: whole blocks went buffered");
            }
            // Only the last partial block goes through `write`.
            assert!(w.appends <= 1);
            assert_eq!(std::fs::read(path).expect("read"), data, "{len}");
        }
    });
}

/// A chunked body switches to block writes once `direct_from` bytes have
/// arrived; a writer that refuses direct I/O keeps everything buffered;
/// `None` never asks.
#[test]
fn switches_to_direct_after_the_threshold_only_when_the_writer_can() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = &dir.path().join("f");
    let data = &body(10 * BUF + 100);
    on_both_drivers(|| async move {
        let from = 3 * BUF as u64;
        let mut w = SlowFile::create(path, true, None).await;
        let got = receive_body(
            &mut w,
            &mut source(data, BUF, None),
            BUF,
            1 << 30,
            Some(from),
        )
        .await
        .expect("receive");
        check_received(&got, data);
        assert_eq!(
            w.appends,
            3 + 1,
            "3 buffers before the switch, then the tail"
        );
        assert_eq!(w.block_writes.get(), 7);
        assert_eq!(std::fs::read(path).expect("read"), *data);

        for (direct, from) in [(false, Some(0)), (true, None)] {
            let mut w = SlowFile::create(path, direct, None).await;
            let got = receive_body(&mut w, &mut source(data, 5000, None), BUF, 1 << 30, from)
                .await
                .expect("receive");
            check_received(&got, data);
            assert_eq!(w.block_writes.get(), 0);
            assert_eq!(std::fs::read(path).expect("read"), *data);
        }
    });
}

/// A block write that fails fails the upload: the receive loop stops
/// soon after (it does not read the rest of the body), queued blocks are
/// never written, and nothing is in flight when the error comes back.
#[test]
fn a_failed_block_write_fails_the_upload_with_nothing_in_flight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = &dir.path().join("f");
    let data = &body(200 * BUF);
    on_both_drivers(|| async move {
        for fail_at in [0, 3 * BUF as u64, 150 * BUF as u64] {
            let mut w = SlowFile::create(path, true, Some(fail_at)).await;
            let res =
                receive_body(&mut w, &mut source(data, BUF, None), BUF, 1 << 30, Some(0)).await;
            match res {
                Err(ReceiveError::Disk(DiskFileError::Io(e))) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EIO), "{e}")
                }
                other => panic!("fail at {fail_at}: {other:?}"),
            }
            assert_eq!(w.in_flight.get(), 0);
            let started = w.block_writes.get() as u64;
            assert!(
                started <= fail_at / BUF as u64 + 2 * LANES as u64,
                "fail at {fail_at}: {started} block writes started"
            );
        }
    });
}

/// The body failing, or growing past the limit, while block writes are in
/// flight: the right error, after every write has finished.
#[test]
fn body_errors_wait_for_writes_in_flight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = &dir.path().join("f");
    let data = &body(50 * BUF);
    on_both_drivers(|| async move {
        let mut w = SlowFile::create(path, true, None).await;
        let mut src = source(data, 7000, Some(20 * BUF + 123));
        let res = receive_body(&mut w, &mut src, BUF, 1 << 30, Some(0)).await;
        assert!(matches!(res, Err(ReceiveError::Body(_))), "{res:?}");
        assert_eq!(w.in_flight.get(), 0);
        assert!(w.block_writes.get() > 0);

        let mut w = SlowFile::create(path, true, None).await;
        let limit = 30 * BUF as u64 + 1;
        let res = receive_body(&mut w, &mut source(data, BUF, None), BUF, limit, Some(0)).await;
        assert!(
            matches!(res, Err(ReceiveError::TooLarge(l)) if l == limit),
            "{res:?}"
        );
        assert_eq!(w.in_flight.get(), 0);
        assert!(w.block_writes.get() <= 31);
    });
}
