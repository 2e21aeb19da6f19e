//! Working in an open directory: reading its names with `getdents64` into
//! a stack buffer, and opening a listed name without a path walk.
//!
//! A GET lists its hash directory; `std::fs::read_dir` costs a 32 KiB heap
//! buffer, an `Arc` and a `String` per entry on every request. Hash
//! directories hold a handful of names, so one or two `getdents64` calls
//! into 4 KiB on the stack read them all.

use std::io;

/// Bytes of `getdents64` records fetched per call.
const BUF_LEN: usize = 4096;
/// Offset of `d_reclen` in a `linux_dirent64` record (after ino and off).
const RECLEN_AT: usize = 16;
/// Offset of `d_name` (after `d_reclen` and `d_type`).
const NAME_AT: usize = 19;

/// Calls `each` with every name in the open directory `fd` except `.` and
/// `..`, reading from the directory's current position to its end. The
/// caller opens and closes `fd` (through the ring, on the GET path).
pub fn for_each_name_in(fd: libc::c_int, each: &mut impl FnMut(&[u8])) -> io::Result<()> {
    let mut buf = [0u8; BUF_LEN];
    loop {
        // SAFETY: the kernel writes at most BUF_LEN bytes into `buf`.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                fd,
                buf.as_mut_ptr() as *mut libc::c_void,
                BUF_LEN,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Ok(());
        }
        parse_records(&buf[..n as usize], each)?;
    }
}

/// Walks `linux_dirent64` records, checking every length against the buffer.
fn parse_records(mut recs: &[u8], each: &mut impl FnMut(&[u8])) -> io::Result<()> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed getdents64 record");
    while !recs.is_empty() {
        let reclen = recs
            .get(RECLEN_AT..RECLEN_AT + 2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]) as usize)
            .ok_or_else(bad)?;
        if reclen <= NAME_AT || reclen > recs.len() {
            return Err(bad());
        }
        let field = &recs[NAME_AT..reclen];
        let name = &field[..field.iter().position(|&b| b == 0).ok_or_else(bad)?];
        if name != b"." && name != b".." {
            each(name);
        }
        recs = &recs[reclen..];
    }
    Ok(())
}

/// Longest name [`open_cached`] takes (object file names are a timestamp
/// and an extension, under 40 bytes).
const NAME_MAX_CACHED: usize = 127;

/// Opens `name` in the directory `dirfd` for reading, only when the kernel
/// can resolve it from its caches (`openat2` with `RESOLVE_CACHED`): it
/// never waits for the disk. `Ok(None)` means the caller must open it some
/// other way: the lookup needs I/O, or the kernel lacks `openat2` or the
/// flag, or the name is unusually long.
pub fn open_cached(dirfd: libc::c_int, name: &[u8]) -> io::Result<Option<std::fs::File>> {
    if name.len() > NAME_MAX_CACHED || name.contains(&0) {
        return Ok(None);
    }
    let mut path = [0u8; NAME_MAX_CACHED + 1];
    path[..name.len()].copy_from_slice(name);
    // SAFETY: open_how is plain data; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_CACHED | libc::RESOLVE_BENEATH;
    // SAFETY: `path` is NUL-terminated and outlives the call; `how` is a
    // valid open_how of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            // Needs I/O; or no openat2 / RESOLVE_CACHED (before 5.12), or
            // a seccomp filter refusing it.
            Some(libc::EAGAIN | libc::ENOSYS | libc::EINVAL | libc::EPERM | libc::E2BIG) => {
                Ok(None)
            }
            _ => Err(e),
        };
    }
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    Ok(Some(unsafe {
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd as libc::c_int)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn names(dir: &Path) -> Vec<String> {
        use std::os::fd::AsRawFd;
        let mut v = Vec::new();
        let d = open_dir(dir);
        for_each_name_in(d.as_raw_fd(), &mut |n: &[u8]| {
            v.push(String::from_utf8_lossy(n).into_owned())
        })
        .unwrap();
        v.sort();
        v
    }

    #[test]
    fn lists_what_read_dir_lists() {
        let d = tempfile::tempdir().unwrap();
        // Enough long names to need several getdents64 calls.
        let mut want: Vec<String> = (0..300)
            .map(|i| format!("{i:04}.{}.data", "x".repeat(40)))
            .collect();
        for n in &want {
            std::fs::write(d.path().join(n), b"").unwrap();
        }
        std::fs::create_dir(d.path().join("sub")).unwrap();
        want.push("sub".into());
        want.sort();
        assert_eq!(names(d.path()), want);
    }

    fn open_dir(dir: &Path) -> std::fs::File {
        std::fs::File::open(dir).expect("open dir")
    }

    #[test]
    fn opens_a_cached_name_relative_to_the_directory() {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("0000000001.00000.data"), b"body").unwrap();
        let dir = open_dir(d.path());
        // The write above left the name in the dentry cache.
        let mut f = open_cached(dir.as_raw_fd(), b"0000000001.00000.data")
            .expect("no error")
            .expect("resolved from the caches");
        let mut got = String::new();
        f.read_to_string(&mut got).unwrap();
        assert_eq!(got, "body");
    }

    #[test]
    fn open_cached_never_leaves_the_directory_and_declines_long_names() {
        use std::os::fd::AsRawFd;
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("outside"), b"x").unwrap();
        let sub = open_dir(&d.path().join("sub"));
        assert!(
            !matches!(open_cached(sub.as_raw_fd(), b"../outside"), Ok(Some(_))),
            "RESOLVE_BENEATH refuses a name leaving the directory"
        );
        let long = vec![b'a'; NAME_MAX_CACHED + 1];
        assert!(open_cached(sub.as_raw_fd(), &long).unwrap().is_none());
        assert!(open_cached(sub.as_raw_fd(), b"a\0b").unwrap().is_none());
        match open_cached(sub.as_raw_fd(), b"missing") {
            Ok(None) => {}
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::NotFound),
            Ok(Some(_)) => panic!("opened a missing name"),
        }
    }

    #[test]
    fn malformed_records_are_refused_not_overrun() {
        let mut rec = vec![0u8; 24];
        rec[RECLEN_AT..RECLEN_AT + 2].copy_from_slice(&200u16.to_ne_bytes());
        assert!(parse_records(&rec, &mut |_| {}).is_err());
        rec[RECLEN_AT..RECLEN_AT + 2].copy_from_slice(&24u16.to_ne_bytes());
        rec[NAME_AT..24].copy_from_slice(b"abcde");
        assert!(parse_records(&rec, &mut |_| {}).is_err(), "no NUL");
        for len in 0..24 {
            let _ = parse_records(&rec[..len], &mut |_| {});
        }
    }
}
