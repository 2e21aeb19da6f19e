//! Unnamed staging files: a write is staged in an `O_TMPFILE` inode, which
//! has no directory entry, and linked into its hash directory once its data
//! is durable, as Swift's `DiskFileWriter` does where the filesystem allows
//! it. Compared with a named file in `tmp/` renamed into place, no entry is
//! created in `tmp/` and removed again on every write, so `tmp/` is not
//! among the metadata each write dirties, and a crash leaves nothing to
//! clean up (the kernel frees an unlinked inode).
//!
//! Where `O_TMPFILE` is refused (some filesystems, old kernels) or the
//! unnamed file cannot be linked, the named path is used instead.

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How an unnamed file is given a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkVia {
    /// `linkat(fd, "", ..., AT_EMPTY_PATH)`: no path walk, but older kernels
    /// allow it only with `CAP_DAC_READ_SEARCH`.
    EmptyPath,
    /// `linkat` of `/proc/self/fd/N` with `AT_SYMLINK_FOLLOW` (Swift's way):
    /// needs `/proc`.
    ProcFd,
}

/// Whether `open(O_TMPFILE)` failed because the filesystem or kernel does
/// not offer it (rather than a disk error, which the named path would meet
/// too).
pub fn refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
    )
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))
}

/// Gives the unnamed file `fd` the name `target`; fails with
/// `AlreadyExists` if the name is taken (unlike rename, link never
/// replaces).
///
/// Blocking, on the worker thread: monoio has no io_uring link operation,
/// and the target directory was made or listed by this very request, so
/// its inode and blocks are cached and the link is an in-memory update,
/// as cheap as the hand-off to an io-wq thread it saves.
pub fn link(fd: RawFd, via: LinkVia, target: &Path) -> io::Result<()> {
    let to = cpath(target)?;
    let ret = match via {
        LinkVia::EmptyPath => {
            // SAFETY: both strings are NUL-terminated and live for the call.
            unsafe {
                libc::linkat(
                    fd,
                    c"".as_ptr(),
                    libc::AT_FDCWD,
                    to.as_ptr(),
                    libc::AT_EMPTY_PATH,
                )
            }
        }
        LinkVia::ProcFd => {
            let from = CString::new(format!("/proc/self/fd/{fd}"))
                .map_err(|_| io::Error::other("NUL in a /proc path"))?;
            // SAFETY: both strings are NUL-terminated and live for the call.
            unsafe {
                libc::linkat(
                    libc::AT_FDCWD,
                    from.as_ptr(),
                    libc::AT_FDCWD,
                    to.as_ptr(),
                    libc::AT_SYMLINK_FOLLOW,
                )
            }
        }
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Opens an unnamed file in `dir` (blocking; for the start-up probe).
fn open_unnamed(dir: &Path) -> io::Result<RawFd> {
    let d = cpath(dir)?;
    // SAFETY: `d` is NUL-terminated and lives for the call.
    let fd = unsafe {
        libc::open(
            d.as_ptr(),
            libc::O_TMPFILE | libc::O_WRONLY | libc::O_CLOEXEC,
            0o644 as libc::c_uint,
        )
    };
    if fd < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(fd)
    }
}

/// Finds out at start-up whether writes in `tmp_dir` can be staged
/// unnamed, and how they are linked: an unnamed probe file is made and
/// linked into `tmp_dir` (then removed) with each way in turn. `None`: use
/// named files.
pub fn probe(tmp_dir: &Path) -> Option<LinkVia> {
    let fd = match open_unnamed(tmp_dir) {
        Ok(fd) => fd,
        Err(e) => {
            tracing::info!(dir = %tmp_dir.display(), "O_TMPFILE not available ({e}): staging writes as named files");
            return None;
        }
    };
    let name = tmp_dir.join(format!("probe-{:016x}.tmp", rand::random::<u64>()));
    let mut found = None;
    for via in [LinkVia::EmptyPath, LinkVia::ProcFd] {
        if link(fd, via, &name).is_ok() {
            let _ = std::fs::remove_file(&name);
            found = Some(via);
            break;
        }
    }
    // SAFETY: `fd` was opened above and is closed exactly once.
    unsafe { libc::close(fd) };
    if found.is_none() {
        tracing::info!(dir = %tmp_dir.display(), "unnamed files cannot be linked: staging writes as named files");
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_links_and_leaves_nothing_behind() {
        let d = tempfile::tempdir().expect("tempdir");
        // ext4, tmpfs and XFS have O_TMPFILE; overlayfs before Linux 6.6 not.
        let Some(via) = probe(d.path()) else {
            eprintln!(
                "O_TMPFILE unavailable in {}: not tested",
                d.path().display()
            );
            return;
        };
        assert_eq!(std::fs::read_dir(d.path()).expect("list").count(), 0);
        let fd = open_unnamed(d.path()).expect("open");
        let target = d.path().join("x.data");
        link(fd, via, &target).expect("link");
        let again = link(fd, via, &target).expect_err("a name is never replaced");
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        // SAFETY: opened above, closed once.
        unsafe { libc::close(fd) };
        assert!(target.is_file());
    }

    /// The probe settles on the first way that works, so the fallback is
    /// tested on its own: each way names an unnamed file with its bytes.
    #[test]
    fn each_way_links_the_unnamed_file() {
        use std::io::Write;
        use std::os::fd::FromRawFd;
        let d = tempfile::tempdir().expect("tempdir");
        for via in [LinkVia::EmptyPath, LinkVia::ProcFd] {
            let fd = match open_unnamed(d.path()) {
                Ok(fd) => fd,
                Err(e) if refused(&e) => {
                    eprintln!(
                        "O_TMPFILE unavailable in {}: not tested",
                        d.path().display()
                    );
                    return;
                }
                Err(e) => panic!("open: {e}"),
            };
            // SAFETY: `fd` was just opened and is owned by `f` from here on.
            let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
            f.write_all(b"body").expect("write");
            let target = d.path().join(format!("{via:?}.data"));
            match link(fd, via, &target) {
                Ok(()) => assert_eq!(std::fs::read(&target).expect("read"), b"body"),
                // Older kernels allow AT_EMPTY_PATH only with CAP_DAC_READ_SEARCH.
                Err(e) if via == LinkVia::EmptyPath && e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => panic!("{via:?}: {e}"),
            }
        }
    }

    #[test]
    fn a_missing_directory_is_not_a_refusal() {
        let d = tempfile::tempdir().expect("tempdir");
        let e = open_unnamed(&d.path().join("nope")).expect_err("no such dir");
        assert!(!refused(&e), "{e}");
        assert_eq!(probe(&d.path().join("nope")), None);
    }
}
