//! Direct I/O (`O_DIRECT`) for the aligned part of an object body.
//!
//! A buffered write copies every byte into the page cache (on an io-wq
//! thread, which runs on the worker's own core when the node is pinned),
//! and the kernel later walks those pages again to write them back; the
//! fsync at commit then waits for whatever writeback has not finished.
//! Writing whole, aligned blocks with `O_DIRECT` sends them from the
//! receive buffer to the device instead: no copy, no dirty pages, and the
//! fsync only has the tail and the metadata trailer left to write.
//!
//! The file keeps one descriptor: `O_DIRECT` is switched on (`fcntl`) by
//! [`DirectIo::start`] and off again before anything unaligned (the body's
//! last partial block, the trailer), which the page cache takes as before.
//! So the bytes on disk are exactly what a buffered writer stores. A
//! filesystem that refuses `O_DIRECT` (the switch or a write fails with
//! `EINVAL`) gets buffered writes for the rest of the file.
//!
//! Bodies smaller than `[storage] direct_write_min_size` never start it:
//! they stay in the page cache for the GET that often follows.

use std::cell::Cell;
use std::os::fd::AsRawFd;

use monoio::buf::IoBuf;
use monoio::fs::File;

use super::diskfile::{append_at, DiskFileError};

/// Alignment of memory, file offset and length that direct writes keep:
/// one page, which covers any device's logical block size.
pub const DIRECT_ALIGN: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Buffered: not started, or switched off again for an unaligned write.
    Off,
    /// `O_DIRECT` is set on the descriptor.
    On,
    /// The filesystem refused it: buffered from now on.
    Refused,
}

/// Whether a writer's descriptor is in direct mode, and the switch. The
/// state is a `Cell` so that several [`DirectIo::write_at`] may be in
/// flight (one thread, shared borrows) and any of them may fall back.
#[derive(Debug)]
pub struct DirectIo {
    state: Cell<State>,
}

impl Default for DirectIo {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `len` bytes at `ptr`, written at file offset `offset`, meet
/// [`DIRECT_ALIGN`].
pub fn is_aligned(ptr: *const u8, len: usize, offset: u64) -> bool {
    len > 0
        && (ptr as usize).is_multiple_of(DIRECT_ALIGN)
        && len.is_multiple_of(DIRECT_ALIGN)
        && offset.is_multiple_of(DIRECT_ALIGN as u64)
}

fn set_direct(file: &File, on: bool) -> std::io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this file owns; F_GETFL/F_SETFL only
    // read and change its status flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let want = if on {
            flags | libc::O_DIRECT
        } else {
            flags & !libc::O_DIRECT
        };
        if want != flags && libc::fcntl(fd, libc::F_SETFL, want) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

impl DirectIo {
    /// A switch that is off until [`DirectIo::start`].
    pub fn new() -> Self {
        DirectIo {
            state: Cell::new(State::Off),
        }
    }

    /// A switch that never uses direct I/O.
    pub fn disabled() -> Self {
        DirectIo {
            state: Cell::new(State::Refused),
        }
    }

    /// Whether the descriptor is in direct mode now.
    pub fn is_on(&self) -> bool {
        self.state.get() == State::On
    }

    /// Whether direct I/O was refused (or disabled) for this file.
    pub fn is_refused(&self) -> bool {
        self.state.get() == State::Refused
    }

    /// Switches direct mode on for the aligned writes that follow;
    /// `false` when it is disabled or the filesystem refuses it (the file
    /// then stays buffered).
    pub fn start(&self, file: &File) -> bool {
        match self.state.get() {
            State::On => true,
            State::Refused => false,
            State::Off => {
                if let Err(e) = set_direct(file, true) {
                    tracing::debug!("O_DIRECT refused ({e}); writing through the page cache");
                    self.state.set(State::Refused);
                    return false;
                }
                self.state.set(State::On);
                true
            }
        }
    }

    /// Writes `buf` at `offset`: directly when direct mode is on and the
    /// buffer is aligned, through the page cache otherwise. Several may be
    /// in flight at once; the caller keeps track of the file's length. A
    /// misaligned buffer while direct mode is on (the kernel would refuse
    /// it) switches the file to buffered for good: writes already in
    /// flight finish as they were sent.
    pub async fn write_at<B: IoBuf>(
        &self,
        file: &File,
        buf: B,
        offset: u64,
    ) -> (Result<(), DiskFileError>, B) {
        let mut end = offset;
        if self.is_on() {
            if is_aligned(buf.read_ptr(), buf.bytes_init(), offset) {
                return self.write_direct(file, buf, &mut end).await;
            }
            if let Err(e) = set_direct(file, false) {
                return (Err(DiskFileError::from_io(e)), buf);
            }
            self.state.set(State::Refused);
        }
        let (res, buf) = file.write_all_at(buf, offset).await;
        (res.map_err(DiskFileError::from_io), buf)
    }

    /// Appends `buf` at `*written` like [`append_at`]: directly when direct
    /// mode is on and the buffer is aligned, through the page cache
    /// otherwise (switching direct mode off first).
    pub async fn append<B: IoBuf>(
        &self,
        file: &File,
        buf: B,
        written: &mut u64,
    ) -> (Result<(), DiskFileError>, B) {
        let aligned = is_aligned(buf.read_ptr(), buf.bytes_init(), *written);
        if !aligned || !self.is_on() {
            if let Err(e) = self.finish(file) {
                return (Err(DiskFileError::from_io(e)), buf);
            }
            return append_at(file, buf, written).await;
        }
        self.write_direct(file, buf, written).await
    }

    /// Writes `buf` with `O_DIRECT` set; an `EINVAL` (the filesystem or
    /// device wants another alignment) rewrites it buffered, whatever part
    /// of it the direct write stored, and stays buffered.
    async fn write_direct<B: IoBuf>(
        &self,
        file: &File,
        buf: B,
        written: &mut u64,
    ) -> (Result<(), DiskFileError>, B) {
        let len = buf.bytes_init() as u64;
        let (res, buf) = file.write_all_at(buf, *written).await;
        match res {
            Ok(()) => {
                *written += len;
                (Ok(()), buf)
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                tracing::debug!("O_DIRECT write refused ({e}); writing through the page cache");
                // Other writes may be in flight: whichever fails first
                // switches the descriptor back.
                if self.state.get() != State::Refused {
                    if let Err(e) = set_direct(file, false) {
                        return (Err(DiskFileError::from_io(e)), buf);
                    }
                    self.state.set(State::Refused);
                }
                append_at(file, buf, written).await
            }
            Err(e) => (Err(DiskFileError::from_io(e)), buf),
        }
    }

    /// Switches direct mode off, so that unaligned writes (the trailer)
    /// can follow. Writers call it before their metadata goes out.
    pub fn finish(&self, file: &File) -> std::io::Result<()> {
        if self.state.get() == State::On {
            set_direct(file, false)?;
            self.state.set(State::Off);
        }
        Ok(())
    }
}

/// Where, within a buffer whose bytes start at `ptr`, data must start to
/// lie on a [`DIRECT_ALIGN`] boundary.
pub fn align_offset(ptr: *const u8) -> usize {
    ptr.align_offset(DIRECT_ALIGN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::on_both_drivers;

    /// A buffer whose bytes start on a [`DIRECT_ALIGN`] boundary (after
    /// `pad` filler bytes), as the PUT path lays them out.
    fn aligned_vec(len: usize, fill: impl Fn(usize) -> u8) -> (Vec<u8>, usize) {
        let mut v = Vec::with_capacity(len + DIRECT_ALIGN);
        let pad = align_offset(v.as_ptr());
        v.resize(pad, 0);
        v.extend((0..len).map(fill));
        (v, pad)
    }

    /// A view of `v[start..]`.
    struct View(Vec<u8>, usize);
    // SAFETY: the Vec is owned and not changed while the view exists.
    unsafe impl IoBuf for View {
        fn read_ptr(&self) -> *const u8 {
            self.0[self.1..].as_ptr()
        }
        fn bytes_init(&self) -> usize {
            self.0.len() - self.1
        }
    }

    async fn open(path: &std::path::Path) -> File {
        monoio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
            .expect("open")
    }

    fn pattern(i: usize, j: usize) -> u8 {
        (i * 31 + j * 7) as u8
    }

    #[test]
    fn alignment_rules() {
        let p = DIRECT_ALIGN as *const u8;
        assert!(is_aligned(p, DIRECT_ALIGN, 0));
        assert!(is_aligned(p, 3 * DIRECT_ALIGN, 2 * DIRECT_ALIGN as u64));
        assert!(!is_aligned(p, 0, 0));
        assert!(!is_aligned(p, DIRECT_ALIGN - 1, 0));
        assert!(!is_aligned(p, DIRECT_ALIGN + 1, 0));
        assert!(!is_aligned(p, DIRECT_ALIGN, 512));
        assert!(!is_aligned(p.wrapping_add(16), DIRECT_ALIGN, 0));
    }

    /// Aligned blocks, then lengths around the alignment edge: the file
    /// holds exactly the bytes in order, direct mode was used for the
    /// aligned ones, and an unaligned trailer can follow `finish`.
    #[test]
    fn mixed_direct_and_buffered_appends_store_every_byte() {
        const LENS: [usize; 7] = [
            DIRECT_ALIGN,
            4 * DIRECT_ALIGN,
            DIRECT_ALIGN - 1,
            1,
            DIRECT_ALIGN + 1,
            2 * DIRECT_ALIGN - 1,
            DIRECT_ALIGN,
        ];
        let mut expect = Vec::new();
        for (i, len) in LENS.into_iter().enumerate() {
            expect.extend((0..len).map(|j| pattern(i, j)));
        }
        expect.extend_from_slice(b"trailer");
        let expect = &expect;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = &dir.path().join("f");
        on_both_drivers(|| async move {
            let file = open(path).await;
            let dio = DirectIo::new();
            dio.start(&file);
            let mut written = 0u64;
            let mut used_direct = false;
            for (i, len) in LENS.into_iter().enumerate() {
                let (v, pad) = aligned_vec(len, |j| pattern(i, j));
                let (res, _) = dio.append(&file, View(v, pad), &mut written).await;
                res.expect("append");
                used_direct |= dio.is_on();
            }
            assert!(used_direct || dio.is_refused(), "never tried direct I/O");
            dio.finish(&file).expect("finish");
            let (res, _) = file.write_all_at(b"trailer".to_vec(), written).await;
            res.expect("trailer");
            file.sync_data().await.expect("sync");
            file.close().await.expect("close");
            assert_eq!(&std::fs::read(path).expect("read"), expect);
        });
    }

    /// A body that is a whole number of blocks: every write is direct, and
    /// `finish` lets the unaligned trailer through.
    #[test]
    fn whole_blocks_then_trailer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = &dir.path().join("f");
        on_both_drivers(|| async move {
            let file = open(path).await;
            let dio = DirectIo::new();
            dio.start(&file);
            let mut written = 0u64;
            for i in 0..3 {
                let (v, pad) = aligned_vec(2 * DIRECT_ALIGN, |j| pattern(i, j));
                let (res, _) = dio.append(&file, View(v, pad), &mut written).await;
                res.expect("append");
            }
            dio.finish(&file).expect("finish");
            assert!(!dio.is_on());
            let (res, _) = file.write_all_at(b"xyz".to_vec(), written).await;
            res.expect("trailer");
            file.close().await.expect("close");
            let got = std::fs::read(path).expect("read");
            assert_eq!(got.len(), 6 * DIRECT_ALIGN + 3);
            assert_eq!(&got[6 * DIRECT_ALIGN..], b"xyz");
            assert_eq!(got[2 * DIRECT_ALIGN + 5], pattern(1, 5));
        });
    }

    /// A misaligned buffer is never sent with O_DIRECT: it goes through
    /// the page cache and the file is right.
    #[test]
    fn misaligned_memory_is_written_buffered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = &dir.path().join("f");
        on_both_drivers(|| async move {
            let file = open(path).await;
            let dio = DirectIo::new();
            dio.start(&file);
            let mut written = 0u64;
            let (v, pad) = aligned_vec(DIRECT_ALIGN + 1, |j| j as u8);
            // Starts one byte past the boundary, length a whole block.
            let (res, _) = dio.append(&file, View(v, pad + 1), &mut written).await;
            res.expect("append");
            assert!(!dio.is_on());
            file.close().await.expect("close");
            let want: Vec<u8> = (1..=DIRECT_ALIGN).map(|j| j as u8).collect();
            assert_eq!(std::fs::read(path).expect("read"), want);
        });
    }

    /// When the kernel refuses a direct write with EINVAL, the buffer is
    /// rewritten through the page cache and the writer stays buffered.
    /// (The refusal is provoked with a length no device takes directly.)
    #[test]
    fn refused_direct_write_falls_back_to_buffered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = &dir.path().join("f");
        on_both_drivers(|| async move {
            let file = open(path).await;
            if set_direct(&file, true).is_err() {
                return; // this filesystem refuses O_DIRECT outright
            }
            let dio = DirectIo {
                state: Cell::new(State::On),
            };
            let mut written = 0u64;
            let (v, pad) = aligned_vec(100, |j| j as u8);
            let (res, _) = dio.write_direct(&file, View(v, pad), &mut written).await;
            res.expect("fallback write");
            assert!(dio.is_refused());
            assert_eq!(written, 100);
            // Later aligned buffers stay buffered.
            let (v, pad) = aligned_vec(DIRECT_ALIGN, |j| (j + 100) as u8);
            let (res, _) = dio.append(&file, View(v, pad), &mut written).await;
            res.expect("append");
            assert!(!dio.is_on());
            file.close().await.expect("close");
            let want: Vec<u8> = (0..100 + DIRECT_ALIGN).map(|j| j as u8).collect();
            assert_eq!(std::fs::read(path).expect("read"), want);
        });
    }

    /// Positional writes in flight together, out of order, direct and
    /// (for a misaligned one, which ends direct mode) buffered: the file
    /// holds each at its offset.
    #[test]
    fn concurrent_write_at_lands_every_block() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = &dir.path().join("f");
        on_both_drivers(|| async move {
            let file = open(path).await;
            let dio = DirectIo::new();
            let on = dio.start(&file);
            assert_eq!(on, dio.is_on());
            let block = |i: usize| {
                let (v, pad) = aligned_vec(2 * DIRECT_ALIGN, |j| pattern(i, j));
                View(v, pad)
            };
            let at = |i: usize| (i * 2 * DIRECT_ALIGN) as u64;
            let (v, pad) = aligned_vec(2 * DIRECT_ALIGN + 1, |j| pattern(3, j.saturating_sub(1)));
            let (a, b, c, d) = monoio::join!(
                dio.write_at(&file, block(2), at(2)),
                dio.write_at(&file, block(0), at(0)),
                dio.write_at(&file, View(v, pad + 1), at(3)),
                dio.write_at(&file, block(1), at(1)),
            );
            for (res, _) in [a, b, d] {
                res.expect("write");
            }
            c.0.expect("misaligned write");
            dio.finish(&file).expect("finish");
            file.close().await.expect("close");
            let got = std::fs::read(path).expect("read");
            assert_eq!(got.len(), 8 * DIRECT_ALIGN);
            for i in 0..4 {
                for j in [0, 1, DIRECT_ALIGN, 2 * DIRECT_ALIGN - 1] {
                    assert_eq!(got[at(i) as usize + j], pattern(i, j), "block {i} byte {j}");
                }
            }
        });
    }

    #[test]
    fn disabled_never_switches_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = &dir.path().join("f");
        on_both_drivers(|| async move {
            let file = open(path).await;
            let dio = DirectIo::disabled();
            assert!(!dio.start(&file));
            let mut written = 0u64;
            let (v, pad) = aligned_vec(DIRECT_ALIGN, |j| j as u8);
            let (res, _) = dio.append(&file, View(v, pad), &mut written).await;
            res.expect("append");
            assert!(!dio.is_on());
            file.close().await.expect("close");
            assert_eq!(std::fs::read(path).expect("read").len(), DIRECT_ALIGN);
        });
    }
}
