//! File-to-socket sends without a trip through user space.
//!
//! `sendfile(2)` on a non-blocking socket never waits for the peer, but it
//! does wait for the disk when a page is not cached, and a worker must never
//! block. So each chunk is first checked with `cachestat(2)`: cached chunks
//! go out with `sendfile`, and the first uncached one hands back to the
//! caller's io_uring read path (which also brings it into the cache).
//! Kernels without `cachestat` (before 6.5) keep the copy path.

use std::cell::Cell;
use std::io;
use std::os::fd::RawFd;

/// Bytes sent per `sendfile` call (and checked per `cachestat` call).
const CHUNK: u64 = 1 << 20;

/// `cachestat` has the same number on every architecture.
const SYS_CACHESTAT: libc::c_long = 451;
const PAGE: u64 = 4096;

thread_local! {
    /// Cleared the first time the kernel says it has no `cachestat`.
    static HAVE_CACHESTAT: Cell<bool> = const { Cell::new(true) };
}

#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

#[repr(C)]
#[derive(Default)]
struct Cachestat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

/// Whether every page of `len` bytes at `off` of `fd` is in the page cache;
/// `None` when the kernel cannot tell.
pub fn cached(fd: RawFd, off: u64, len: u64) -> Option<bool> {
    if len == 0 {
        return Some(true);
    }
    if !HAVE_CACHESTAT.with(Cell::get) {
        return None;
    }
    let first = off / PAGE;
    let last = (off + len - 1) / PAGE;
    let range = CachestatRange {
        off: first * PAGE,
        len: (last - first + 1) * PAGE,
    };
    let mut stat = Cachestat::default();
    // SAFETY: both structs match the kernel's layout and outlive the call.
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            fd,
            &range as *const CachestatRange,
            &mut stat as *mut Cachestat,
            0u32,
        )
    };
    if rc != 0 {
        if io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
            HAVE_CACHESTAT.with(|h| h.set(false));
        }
        return None;
    }
    Some(stat.nr_cache > last - first)
}

/// Puts a socket into non-blocking mode and restores its flags when dropped
/// (io_uring treats an O_NONBLOCK socket differently, so it must not stay).
pub struct NonBlocking {
    fd: RawFd,
    flags: libc::c_int,
}

impl NonBlocking {
    /// Sets O_NONBLOCK on `fd`.
    pub fn set(fd: RawFd) -> io::Result<NonBlocking> {
        // SAFETY: fcntl on a descriptor the caller keeps open.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        if flags & libc::O_NONBLOCK == 0 {
            // SAFETY: as above.
            if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(NonBlocking { fd, flags })
    }
}

impl Drop for NonBlocking {
    fn drop(&mut self) {
        if self.flags & libc::O_NONBLOCK == 0 {
            // SAFETY: restores the flags read in `set` on the same descriptor.
            unsafe { libc::fcntl(self.fd, libc::F_SETFL, self.flags) };
        }
    }
}

/// What one `sendfile` attempt did.
pub enum Step {
    /// This many bytes went out.
    Sent(u64),
    /// The socket's buffer is full: wait until it is writable.
    WouldBlock,
    /// The next chunk is not cached (or the kernel cannot tell): use the
    /// read path for it.
    NotCached,
}

/// Sends the next cached chunk (at most `len` bytes at `off`) from `file`
/// to the non-blocking socket `sock`.
pub fn send_cached(sock: RawFd, file: RawFd, off: u64, len: u64) -> io::Result<Step> {
    let want = len.min(CHUNK);
    if cached(file, off, want) != Some(true) {
        return Ok(Step::NotCached);
    }
    let mut pos = off as libc::off_t;
    loop {
        // SAFETY: plain descriptors; `pos` outlives the call.
        let n = unsafe { libc::sendfile(sock, file, &mut pos, want as usize) };
        if n > 0 {
            return Ok(Step::Sent(n as u64));
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "object file shorter than its metadata says",
            ));
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(Step::WouldBlock),
            _ => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    #[test]
    fn cachestat_sees_written_pages() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![7u8; 64 * 1024]).unwrap();
        match cached(f.as_raw_fd(), 0, 64 * 1024) {
            Some(c) => assert!(c, "just-written pages are cached"),
            None => eprintln!("kernel has no cachestat; sendfile path disabled"),
        }
        assert_eq!(cached(f.as_raw_fd(), 5, 0), Some(true));
    }

    #[test]
    fn sends_file_bytes_to_a_nonblocking_socket() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut tx = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut rx, _) = l.accept().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            rx.read_to_end(&mut got).unwrap();
            got
        });
        let guard = NonBlocking::set(tx.as_raw_fd()).unwrap();
        let (mut off, end) = (1000u64, 290_000u64);
        while off < end {
            match send_cached(tx.as_raw_fd(), f.as_raw_fd(), off, end - off).unwrap() {
                Step::Sent(n) => off += n,
                Step::WouldBlock => std::thread::sleep(std::time::Duration::from_millis(1)),
                Step::NotCached => {
                    // No cachestat here: send the rest the ordinary way.
                    drop(guard);
                    tx.write_all(&data[off as usize..end as usize]).unwrap();
                    break;
                }
            }
        }
        drop(tx);
        assert_eq!(reader.join().unwrap(), &data[1000..290_000]);
    }
}
