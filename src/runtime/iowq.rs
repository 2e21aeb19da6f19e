//! The kernel's io-wq thread limit for each io_uring instance.
//!
//! io_uring runs operations that may block — fsync, fdatasync, open and
//! mkdir on a regular filesystem — on per-ring kernel worker threads, by
//! default at most 4 per CPU. Durable PUTs are three fsyncs each, so on a
//! 2-core machine at most 8 were in flight, and measured PUT throughput was
//! a fifth of what 32 plain threads doing the same create+fsync+rename got
//! from the same disk. The limit is raised per ring with
//! `IORING_REGISTER_IOWQ_MAX_WORKERS`. monoio does not expose its ring, so
//! the worker finds the io_uring descriptors in `/proc/self/fd`; applying
//! the same limit to every ring in the process is harmless.

use std::io;

/// `io_uring_register` opcode (Linux 5.15+).
const IORING_REGISTER_IOWQ_MAX_WORKERS: libc::c_uint = 19;

/// Sets the bounded (file I/O) io-wq worker limit of every io_uring
/// instance in this process to `bounded`, leaving the unbounded limit
/// alone. Returns how many rings were found.
pub fn set_bounded_workers(bounded: u32) -> io::Result<usize> {
    let mut rings = 0;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let Ok(entry) = entry else { continue };
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if target.as_os_str() != "anon_inode:[io_uring]" {
            continue;
        }
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        // [bounded, unbounded]; 0 leaves a limit unchanged.
        let mut limits: [u32; 2] = [bounded, 0];
        // SAFETY: `limits` is the two-u32 array the opcode reads and writes.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                fd,
                IORING_REGISTER_IOWQ_MAX_WORKERS,
                limits.as_mut_ptr(),
                2u32,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        rings += 1;
    }
    Ok(rings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_threads_ring_and_sets_the_limit() {
        let handle = std::thread::spawn(|| {
            let Ok(mut rt) = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().build() else {
                eprintln!("no io_uring here; nothing to limit");
                return;
            };
            let n = set_bounded_workers(64).expect("register");
            assert!(n >= 1, "the runtime's ring is found");
            rt.block_on(async {});
        });
        handle.join().expect("thread");
    }
}
