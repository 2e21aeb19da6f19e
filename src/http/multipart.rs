//! A streaming `multipart/form-data` reader: parts come one at a time, and
//! a part's body is read piece by piece (never whole) up to the next
//! boundary, so file uploads stream straight into object PUTs.

use std::io;

use super::stream::BodySource;

/// Longest part head accepted.
const MAX_PART_HEAD: usize = 16 * 1024;
/// Bytes asked of the source at a time.
const READ_SIZE: usize = 64 * 1024;

/// Why a multipart body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MultipartError {
    /// The body does not start with the boundary.
    #[error("invalid starting boundary")]
    BadStart,
    /// A part head or boundary line is malformed, or the body ends early.
    #[error("malformed multipart body: {0}")]
    Malformed(&'static str),
    /// Reading the request body failed.
    #[error(transparent)]
    Body(#[from] crate::http::BodyError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first boundary.
    Start,
    /// After a boundary line, before a part head.
    Between,
    /// Inside a part body.
    InPart,
    /// After the closing boundary.
    Done,
}

/// Reads the parts of one multipart body.
pub struct Multipart<'s, 'a, 'c> {
    src: &'s mut BodySource<'a, 'c>,
    /// `\r\n--<boundary>`.
    delim: Vec<u8>,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    state: State,
}

impl<'s, 'a, 'c> Multipart<'s, 'a, 'c> {
    /// A reader of `src` with parts separated by `boundary`.
    pub fn new(src: &'s mut BodySource<'a, 'c>, boundary: &str) -> Self {
        let mut delim = b"\r\n--".to_vec();
        delim.extend_from_slice(boundary.as_bytes());
        Multipart {
            src,
            delim,
            // The first boundary has no CRLF before it; pretend it has.
            buf: b"\r\n".to_vec(),
            pos: 0,
            eof: false,
            state: State::Start,
        }
    }

    fn avail(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Reads more from the source; `false` at its end.
    async fn fill(&mut self) -> Result<bool, MultipartError> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut chunk = Vec::with_capacity(READ_SIZE);
        let (res, b) = self.src.read(chunk).await;
        chunk = b;
        if res? == 0 {
            self.eof = true;
            return Ok(false);
        }
        self.buf.extend_from_slice(&chunk);
        Ok(true)
    }

    /// Makes at least `n` bytes available; `false` if the body ends first.
    async fn want(&mut self, n: usize) -> Result<bool, MultipartError> {
        while self.avail().len() < n {
            if !self.fill().await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// After a delimiter: `--` ends the body, CRLF starts a part.
    async fn after_delimiter(&mut self) -> Result<(), MultipartError> {
        if !self.want(2).await? {
            return Err(MultipartError::Malformed("body ends after a boundary"));
        }
        match &self.avail()[..2] {
            b"--" => {
                self.pos += 2;
                self.state = State::Done;
            }
            b"\r\n" => {
                self.pos += 2;
                self.state = State::Between;
            }
            _ => return Err(MultipartError::Malformed("bad boundary line")),
        }
        Ok(())
    }

    /// The next part's headers (lowercase names), or `None` after the last
    /// part. Whatever is left of the current part is skipped.
    pub async fn next_part(&mut self) -> Result<Option<Vec<(String, String)>>, MultipartError> {
        if self.state == State::Start {
            if !self.want(self.delim.len()).await? || !self.avail().starts_with(&self.delim) {
                return Err(MultipartError::BadStart);
            }
            self.pos += self.delim.len();
            self.after_delimiter().await?;
        }
        while self.state == State::InPart {
            let mut sink = Vec::with_capacity(READ_SIZE);
            loop {
                sink.clear();
                let (res, b) = self.read(sink).await;
                sink = b;
                if res? == 0 {
                    break;
                }
            }
        }
        if self.state == State::Done {
            return Ok(None);
        }
        let end = loop {
            if let Some(i) = find(self.avail(), b"\r\n\r\n") {
                break i;
            }
            if self.avail().starts_with(b"\r\n") {
                break 0;
            }
            if self.avail().len() > MAX_PART_HEAD {
                return Err(MultipartError::Malformed("part head too long"));
            }
            if !self.fill().await? {
                return Err(MultipartError::Malformed("body ends in a part head"));
            }
        };
        let head = String::from_utf8_lossy(&self.avail()[..end]).into_owned();
        self.pos += if end == 0 { 2 } else { end + 4 };
        let headers = head
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        self.state = State::InPart;
        Ok(Some(headers))
    }

    /// Appends the current part's next bytes to `buf` (up to its spare
    /// capacity); `Ok(0)` at the end of the part.
    pub async fn read(&mut self, mut buf: Vec<u8>) -> (Result<usize, MultipartError>, Vec<u8>) {
        if self.state != State::InPart {
            return (Ok(0), buf);
        }
        if buf.capacity() == buf.len() {
            buf.reserve(4096);
        }
        loop {
            let spare = buf.capacity() - buf.len();
            let avail = self.avail();
            let (n, at_delim) = match find(avail, &self.delim) {
                Some(i) => (i, i == 0),
                None => (avail.len().saturating_sub(self.delim.len() - 1), false),
            };
            if n > 0 && spare > 0 {
                let n = n.min(spare);
                buf.extend_from_slice(&avail[..n]);
                self.pos += n;
                return (Ok(n), buf);
            }
            if at_delim {
                self.pos += self.delim.len();
                if let Err(e) = self.after_delimiter().await {
                    return (Err(e), buf);
                }
                return (Ok(0), buf);
            }
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => {
                    return (
                        Err(MultipartError::Malformed("body ends inside a part")),
                        buf,
                    )
                }
                Err(e) => return (Err(e), buf),
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Splits `value; key=value; key="quoted"` (Content-Type or
/// Content-Disposition) into the value and its parameters (lowercase keys).
pub fn parse_params(header: &str) -> (String, Vec<(String, String)>) {
    let mut parts = header.split(';');
    let value = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.trim().to_ascii_lowercase(), v.to_string())
        })
        .collect();
    (value, params)
}

/// Maps a multipart error to an I/O error (for body streams).
pub fn to_io(e: MultipartError) -> io::Error {
    io::Error::other(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parts(
        body: &[u8],
        boundary: &str,
    ) -> Result<Vec<(Vec<(String, String)>, Vec<u8>)>, MultipartError> {
        let mut src = BodySource::bytes(body.to_vec());
        let mut mp = Multipart::new(&mut src, boundary);
        let mut out = Vec::new();
        while let Some(h) = mp.next_part().await? {
            let mut data = Vec::new();
            loop {
                // Tiny buffers exercise boundaries split across reads.
                let (res, b) = mp.read(Vec::with_capacity(3)).await;
                let n = res?;
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&b);
            }
            out.push((h, data));
        }
        Ok(out)
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .expect("rt")
            .block_on(f)
    }

    #[test]
    fn parts_stream_with_their_heads() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\nContent-Type: text/plain\r\n\r\nline1\r\n--X not yet\r\n--XX--\r\n";
        let p = run(parts(body, "XX")).expect("parse");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].1, b"value");
        assert_eq!(p[1].0[1], ("content-type".into(), "text/plain".into()));
        assert_eq!(p[1].1, b"line1\r\n--X not yet");
    }

    #[test]
    fn bad_starts_and_truncation_are_errors() {
        assert!(matches!(
            run(parts(b"junk", "XX")),
            Err(MultipartError::BadStart)
        ));
        assert!(run(parts(b"--XX\r\n\r\nabc", "XX")).is_err());
        assert!(run(parts(b"--XX--", "XX")).expect("empty").is_empty());
    }

    #[test]
    fn params_parse() {
        let (v, p) = parse_params("form-data; name=\"file\"; filename=\"a b.txt\"");
        assert_eq!(v, "form-data");
        assert_eq!(p[1], ("filename".into(), "a b.txt".into()));
    }
}
