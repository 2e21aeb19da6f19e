//! Reading a small directory's names with `getdents64` into a stack buffer.
//!
//! A GET lists its hash directory; `std::fs::read_dir` costs a 32 KiB heap
//! buffer, an `Arc` and a `String` per entry on every request. Hash
//! directories hold a handful of names, so one or two `getdents64` calls
//! into 4 KiB on the stack read them all.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Bytes of `getdents64` records fetched per call.
const BUF_LEN: usize = 4096;
/// Offset of `d_reclen` in a `linux_dirent64` record (after ino and off).
const RECLEN_AT: usize = 16;
/// Offset of `d_name` (after `d_reclen` and `d_type`).
const NAME_AT: usize = 19;

/// Calls `each` with every name in `dir` except `.` and `..`. Returns
/// `Ok(false)` when the directory does not exist.
pub fn for_each_name(dir: &Path, mut each: impl FnMut(&[u8])) -> io::Result<bool> {
    let path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a directory path"))?;
    // SAFETY: `path` is a valid NUL-terminated string for the whole call.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::NotFound => Ok(false),
            _ => Err(e),
        };
    }
    let result = read_all(fd, &mut each);
    // SAFETY: `fd` was opened above and is closed exactly once.
    unsafe { libc::close(fd) };
    result.map(|()| true)
}

fn read_all(fd: libc::c_int, each: &mut impl FnMut(&[u8])) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v = Vec::new();
        assert!(for_each_name(dir, |n| v.push(String::from_utf8_lossy(n).into_owned())).unwrap());
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

    #[test]
    fn missing_directory_is_not_an_error() {
        let d = tempfile::tempdir().unwrap();
        assert!(!for_each_name(&d.path().join("nope"), |_| panic!("no names")).unwrap());
        let f = d.path().join("file");
        std::fs::write(&f, b"x").unwrap();
        assert!(
            for_each_name(&f, |_| {}).is_err(),
            "a file is not a directory"
        );
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
