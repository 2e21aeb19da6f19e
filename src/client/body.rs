//! Request bodies the Swift client can send and, for a retry, send again.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use md5::{Digest, Md5};

/// A request body. `rewind` is what makes a request retryable: a body that
/// can go back to its first byte is sent again after a failure, one that
/// cannot ends the request with the failure.
pub trait Body {
    /// Length when known up front (sent as Content-Length); `None` sends the
    /// body chunked.
    fn len(&self) -> Option<u64>;
    /// Reads the next bytes into `buf`; 0 means the body is complete.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Goes back to the first byte, or says why that is impossible.
    fn rewind(&mut self) -> Result<(), String>;
    /// Whether this body is empty and known to be.
    fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

/// No body at all (GET, HEAD, DELETE, a zero-byte PUT).
pub struct NoBody;

impl Body for NoBody {
    fn len(&self) -> Option<u64> {
        Some(0)
    }
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
    fn rewind(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// A body held in memory (manifests, small objects).
pub struct BytesBody {
    data: Vec<u8>,
    pos: usize,
}

impl BytesBody {
    /// A body of `data`.
    pub fn new(data: Vec<u8>) -> BytesBody {
        BytesBody { data, pos: 0 }
    }
}

impl Body for BytesBody {
    fn len(&self) -> Option<u64> {
        Some(self.data.len() as u64)
    }
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
    fn rewind(&mut self) -> Result<(), String> {
        self.pos = 0;
        Ok(())
    }
}

/// A byte range of a regular file, read in place with positioned reads: a
/// seekable source is never copied, and a retry simply reads it again. The
/// MD5 of what was read in the current attempt is kept for the ETag check.
pub struct FileRange<'a> {
    file: &'a File,
    start: u64,
    len: u64,
    pos: u64,
    md5: Md5,
}

impl<'a> FileRange<'a> {
    /// `len` bytes of `file` from offset `start`.
    pub fn new(file: &'a File, start: u64, len: u64) -> FileRange<'a> {
        FileRange {
            file,
            start,
            len,
            pos: 0,
            md5: Md5::new(),
        }
    }

    /// Hex MD5 of the bytes read in this attempt (all of them once `read`
    /// returned 0).
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5.clone().finalize())
    }
}

impl Body for FileRange<'_> {
    fn len(&self) -> Option<u64> {
        Some(self.len)
    }
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (buf.len() as u64).min(self.len - self.pos) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.start + self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file became shorter while it was uploaded",
            ));
        }
        self.md5.update(&buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
    fn rewind(&mut self) -> Result<(), String> {
        self.pos = 0;
        self.md5 = Md5::new();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn file_range_reads_its_range_again_after_rewind() {
        let mut f = tempfile::tempfile().expect("tempfile");
        f.write_all(b"0123456789").expect("write");
        let mut r = FileRange::new(&f, 3, 4);
        let mut buf = [0u8; 3];
        let mut got = Vec::new();
        loop {
            let n = r.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"3456");
        let first = r.md5_hex();
        r.rewind().expect("rewind");
        let n = r.read(&mut buf).expect("read");
        assert_eq!(&buf[..n], b"345");
        let _ = r.read(&mut buf);
        assert_eq!(r.md5_hex(), first);
        assert_eq!(first, hex::encode(Md5::digest(b"3456")));
    }

    #[test]
    fn bytes_body_rewinds() {
        let mut b = BytesBody::new(b"abc".to_vec());
        let mut buf = [0u8; 8];
        assert_eq!(b.read(&mut buf).ok(), Some(3));
        assert_eq!(b.read(&mut buf).ok(), Some(0));
        b.rewind().expect("rewind");
        assert_eq!(b.read(&mut buf).ok(), Some(3));
    }
}
