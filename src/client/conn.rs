//! One keep-alive HTTP/1.1 client connection on monoio with owned buffers:
//! requests go out in one write (head and small body together), responses
//! are parsed with httparse and their bodies streamed to a callback.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

/// Most response headers accepted.
const MAX_HEADERS: usize = 128;
/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Why a request failed below HTTP (a status is not an error here).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Socket error or timeout.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The server sent something that is not HTTP/1.1.
    #[error("bad response: {0}")]
    Protocol(String),
}

/// A response head.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// First value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A keep-alive connection to one server.
pub struct ClientConn {
    stream: TcpStream,
    rbuf: Vec<u8>,
    rpos: usize,
    timeout: Duration,
    closed: bool,
}

impl ClientConn {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<ClientConn, ClientError> {
        let stream = monoio::time::timeout(timeout, TcpStream::connect_addr(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        Ok(ClientConn {
            stream,
            rbuf: Vec::with_capacity(64 * 1024),
            rpos: 0,
            timeout,
            closed: false,
        })
    }

    /// Changes the time allowed for each read and write from now on (a
    /// connect timeout first, then a node timeout for the exchange).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Whether the server closed the connection (reconnect before reuse).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Sends `head` (a complete request head ending in a blank line) and
    /// then `body_len` bytes produced by `fill` into a reused buffer.
    pub async fn send(
        &mut self,
        mut out: Vec<u8>,
        mut body_len: u64,
        fill: &mut dyn FnMut(&mut Vec<u8>, usize),
    ) -> Result<Vec<u8>, ClientError> {
        loop {
            let room = out.capacity() - out.len();
            let n = (body_len as usize).min(room);
            if n > 0 {
                fill(&mut out, n);
                body_len -= n as u64;
            }
            let (res, buf) = monoio::time::timeout(self.timeout, self.stream.write_all(out))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write timed out"))?;
            res?;
            out = buf;
            out.clear();
            if body_len == 0 {
                return Ok(out);
            }
        }
    }

    async fn fill(&mut self) -> Result<usize, ClientError> {
        if self.rpos > 0 {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        if self.rbuf.capacity() - self.rbuf.len() < 16 * 1024 {
            self.rbuf.reserve(64 * 1024);
        }
        let buf = std::mem::take(&mut self.rbuf);
        let len = buf.len();
        let (res, slice) =
            monoio::time::timeout(self.timeout, self.stream.read(buf.slice_mut(len..)))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "read timed out"))?;
        self.rbuf = slice.into_inner();
        let n = res?;
        if n == 0 {
            self.closed = true;
        }
        Ok(n)
    }

    /// Writes `buf` completely (within the timeout) and hands it back.
    pub async fn write_all<T: monoio::buf::IoBuf + 'static>(
        &mut self,
        buf: T,
    ) -> Result<T, ClientError> {
        let (res, buf) = monoio::time::timeout(self.timeout, self.stream.write_all(buf))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write timed out"))?;
        if let Err(e) = res {
            self.closed = true;
            return Err(e.into());
        }
        Ok(buf)
    }

    /// Marks the connection unusable (after a request whose body was not sent).
    pub fn mark_closed(&mut self) {
        self.closed = true;
    }

    /// Reads a response head (skipping `100 Continue`).
    pub async fn read_head(&mut self) -> Result<ResponseHead, ClientError> {
        self.read_head_interim(false).await
    }

    /// Reads a response head; with `interim`, a `100 Continue` is returned
    /// instead of skipped (the caller sent `Expect: 100-continue`).
    pub async fn read_head_interim(&mut self, interim: bool) -> Result<ResponseHead, ClientError> {
        loop {
            let avail = &self.rbuf[self.rpos..];
            let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut storage);
            match resp.parse(avail) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = resp.code.unwrap_or(0);
                    let headers = resp
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_ascii_lowercase(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect();
                    self.rpos += n;
                    if status == 100 && !interim {
                        continue;
                    }
                    return Ok(ResponseHead { status, headers });
                }
                Ok(httparse::Status::Partial) => {
                    if avail.len() > MAX_HEAD {
                        return Err(ClientError::Protocol("response head too large".into()));
                    }
                }
                Err(e) => return Err(ClientError::Protocol(e.to_string())),
            }
            if self.fill().await? == 0 {
                return Err(ClientError::Protocol(
                    "connection closed before a response".into(),
                ));
            }
        }
    }

    /// Reads the body of a response to `method` with head `head`, handing
    /// each piece to `sink`; returns the body length.
    pub async fn read_body(
        &mut self,
        method: &str,
        head: &ResponseHead,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<u64, ClientError> {
        if method == "HEAD" || head.status == 204 || head.status == 304 {
            return Ok(0);
        }
        if head
            .header("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
        {
            return self.read_chunked(sink).await;
        }
        let Some(len) = head
            .header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok())
        else {
            return Err(ClientError::Protocol(
                "response without Content-Length".into(),
            ));
        };
        let mut left = len;
        while left > 0 {
            if self.rpos == self.rbuf.len() && self.fill().await? == 0 {
                return Err(ClientError::Protocol("connection closed mid-body".into()));
            }
            let avail = &self.rbuf[self.rpos..];
            let n = (avail.len() as u64).min(left) as usize;
            sink(&avail[..n]);
            self.rpos += n;
            left -= n as u64;
        }
        if head
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            self.closed = true;
        }
        Ok(len)
    }

    /// Response bytes received but not consumed yet (after a head: how much
    /// of the body is already here).
    pub fn buffered(&self) -> usize {
        self.rbuf.len() - self.rpos
    }

    /// Appends up to `max` bytes of a length-framed body to `buf` (never
    /// beyond its spare capacity): bytes already received first, otherwise
    /// one read from the socket straight into `buf`, within the timeout.
    /// `Ok(0)` means the server closed the connection. A timeout loses the
    /// buffer (the read owned it) and hands back an empty one.
    pub async fn read_some(
        &mut self,
        mut buf: Vec<u8>,
        max: usize,
    ) -> (Result<usize, ClientError>, Vec<u8>) {
        let want = (buf.capacity() - buf.len()).min(max);
        if want == 0 {
            return (Ok(0), buf);
        }
        if self.rpos < self.rbuf.len() {
            let n = want.min(self.rbuf.len() - self.rpos);
            buf.extend_from_slice(&self.rbuf[self.rpos..self.rpos + n]);
            self.rpos += n;
            return (Ok(n), buf);
        }
        let len = buf.len();
        let read = self.stream.read(buf.slice_mut(len..len + want));
        match monoio::time::timeout(self.timeout, read).await {
            Err(_) => {
                self.closed = true;
                let e = io::Error::new(io::ErrorKind::TimedOut, "read timed out");
                (Err(e.into()), Vec::new())
            }
            Ok((res, slice)) => {
                let buf = slice.into_inner();
                match res {
                    Ok(0) => {
                        self.closed = true;
                        (Ok(0), buf)
                    }
                    Ok(n) => (Ok(n), buf),
                    Err(e) => {
                        self.closed = true;
                        (Err(e.into()), buf)
                    }
                }
            }
        }
    }

    async fn read_line(&mut self) -> Result<String, ClientError> {
        loop {
            if let Some(p) = self.rbuf[self.rpos..].windows(2).position(|w| w == b"\r\n") {
                let line =
                    String::from_utf8_lossy(&self.rbuf[self.rpos..self.rpos + p]).into_owned();
                self.rpos += p + 2;
                return Ok(line);
            }
            if self.fill().await? == 0 {
                return Err(ClientError::Protocol(
                    "connection closed in chunk framing".into(),
                ));
            }
        }
    }

    async fn read_chunked(&mut self, sink: &mut dyn FnMut(&[u8])) -> Result<u64, ClientError> {
        let mut total = 0u64;
        loop {
            let line = self.read_line().await?;
            let size = u64::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| ClientError::Protocol("bad chunk size".into()))?;
            if size == 0 {
                while !self.read_line().await?.is_empty() {}
                return Ok(total);
            }
            let mut left = size;
            while left > 0 {
                if self.rpos == self.rbuf.len() && self.fill().await? == 0 {
                    return Err(ClientError::Protocol("connection closed mid-chunk".into()));
                }
                let avail = &self.rbuf[self.rpos..];
                let n = (avail.len() as u64).min(left) as usize;
                sink(&avail[..n]);
                self.rpos += n;
                left -= n as u64;
            }
            total += size;
            self.read_line().await?;
        }
    }
}
