//! One client connection: buffered reads, timed writes, and the keep-alive
//! request loop that hands each request to a [`Handler`].

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use super::body::BodyReader;
use super::request::{find_head_end, oversized_head, parse_head, HeadError, Request};
use super::response::{write_response, Response};
use super::Limits;

/// Something that answers requests. One instance serves every connection of
/// a worker; it runs on that worker's thread only.
pub trait Handler {
    /// Produces the response for `req`, reading its body from `body`.
    fn handle(
        &self,
        req: &Request,
        body: &mut BodyReader<'_>,
    ) -> impl std::future::Future<Output = Response>;

    /// Called once per finished request, for the access log.
    fn log(&self, entry: &LogEntry<'_>);
}

/// What the access log records about one request.
#[derive(Debug)]
pub struct LogEntry<'a> {
    /// The request head (absent when the head itself was refused).
    pub req: Option<&'a Request>,
    /// Status sent.
    pub status: u16,
    /// Body bytes received.
    pub bytes_in: u64,
    /// Body bytes sent.
    pub bytes_out: u64,
    /// From the head's arrival to the last byte sent.
    pub duration: Duration,
    /// The transaction id sent in `X-Trans-Id`.
    pub trans_id: &'a str,
    /// The peer's address.
    pub peer: Option<SocketAddr>,
}

impl LogEntry<'_> {
    /// The request's method and raw path, `-` for each when the head was
    /// refused before it could be parsed.
    pub fn method_path(&self) -> (&str, &str) {
        self.req
            .map(|r| (r.method.as_str(), r.raw_path.as_str()))
            .unwrap_or(("-", "-"))
    }
}

/// Writes a [`LogEntry`] as one `info` event under the tracing target given
/// (a macro because tracing wants its targets as constants). The event has
/// one field, `method`, whose value writes the rest of the line itself, so
/// the text is what separate fields gave (`method="GET" path="/v1/a"
/// status=200 ...`) without tracing's per-field visitor and `Debug`
/// machinery (more than a tenth of a 4 KiB GET's instructions). Not a
/// message: tracing re-escapes messages character by character. Nothing is
/// formatted when the level is off.
macro_rules! log_access {
    ($target:literal, $entry:expr) => {{
        let e: &$crate::http::conn::LogEntry<'_> = $entry;
        ::tracing::info!(target: $target, method = ?$crate::http::conn::AccessLine(e));
    }};
}
pub(crate) use log_access;

/// A [`LogEntry`] as the access log writes it: `method="GET" path="/v1/a"
/// status=200 bytes_in=0 bytes_out=5 duration_us=80 trans_id="tx..."
/// peer=Some(127.0.0.1:5000)` (strings quoted and escaped as `Debug` does,
/// so control characters never reach a terminal raw). `Display` gives the
/// whole line; `Debug` gives it from the method's value on, for the event's
/// `method` field.
pub struct AccessLine<'a>(pub &'a LogEntry<'a>);

impl std::fmt::Display for AccessLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("method=")?;
        std::fmt::Debug::fmt(self, f)
    }
}

impl std::fmt::Debug for AccessLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = self.0;
        let (method, path) = e.method_path();
        debug_str(f, method)?;
        f.write_str(" path=")?;
        debug_str(f, path)?;
        f.write_str(" status=")?;
        write_u64(f, e.status.into())?;
        f.write_str(" bytes_in=")?;
        write_u64(f, e.bytes_in)?;
        f.write_str(" bytes_out=")?;
        write_u64(f, e.bytes_out)?;
        f.write_str(" duration_us=")?;
        write_u64(f, e.duration.as_micros() as u64)?;
        f.write_str(" trans_id=")?;
        debug_str(f, e.trans_id)?;
        f.write_str(" peer=")?;
        match e.peer {
            Some(SocketAddr::V4(a)) => {
                f.write_str("Some(")?;
                for (i, o) in a.ip().octets().into_iter().enumerate() {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    write_u64(f, o.into())?;
                }
                f.write_str(":")?;
                write_u64(f, a.port().into())?;
                f.write_str(")")
            }
            Some(a) => write!(f, "Some({a})"),
            None => f.write_str("None"),
        }
    }
}

/// `s` as `{:?}` writes it, without the per-character escaping walk when
/// nothing in it needs escaping (plain printable ASCII, the usual case).
fn debug_str(f: &mut std::fmt::Formatter<'_>, s: &str) -> std::fmt::Result {
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        f.write_str("\"")?;
        f.write_str(s)?;
        f.write_str("\"")
    } else {
        write!(f, "{s:?}")
    }
}

/// `n` in decimal, without the formatter's padding logic.
fn write_u64(f: &mut std::fmt::Formatter<'_>, n: u64) -> std::fmt::Result {
    f.write_str(super::response::Decimal::new(n).as_str())
}

/// The socket and whatever has been read from it but not yet consumed.
pub struct Conn {
    stream: TcpStream,
    rbuf: Vec<u8>,
    rpos: usize,
    pub(crate) limits: Rc<Limits>,
    peer: Option<SocketAddr>,
}

impl Conn {
    /// Wraps an accepted stream.
    pub fn new(stream: TcpStream, limits: Rc<Limits>) -> Conn {
        let peer = stream.peer_addr().ok();
        Conn {
            stream,
            rbuf: Vec::with_capacity(16 * 1024),
            rpos: 0,
            limits,
            peer,
        }
    }

    /// Bytes received and not yet consumed.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.rbuf[self.rpos..]
    }

    /// Marks `n` buffered bytes consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.rbuf.len() - self.rpos);
        self.rpos += n;
        if self.rpos == self.rbuf.len() {
            self.rbuf.clear();
            self.rpos = 0;
        }
    }

    /// Takes up to `max` buffered bytes out, for body readers.
    pub(crate) fn take_buffered(&mut self, out: &mut Vec<u8>, max: usize) -> usize {
        let n = self.buffered().len().min(max);
        out.extend_from_slice(&self.rbuf[self.rpos..self.rpos + n]);
        self.consume(n);
        n
    }

    /// Reads more bytes into the buffer; `Ok(0)` at end of stream. Errors
    /// with `TimedOut` when nothing arrives within `timeout`.
    pub(crate) async fn fill(&mut self, timeout: Duration) -> io::Result<usize> {
        if self.rpos > 0 {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        if self.rbuf.capacity() - self.rbuf.len() < 4096 {
            self.rbuf.reserve(16 * 1024);
        }
        let buf = std::mem::take(&mut self.rbuf);
        let len = buf.len();
        let read = self.stream.read(buf.slice_mut(len..));
        match monoio::time::timeout(timeout, read).await {
            Ok((res, slice)) => {
                self.rbuf = slice.into_inner();
                res
            }
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "client timed out")),
        }
    }

    /// Reads body bytes straight from the socket into `buf`'s spare
    /// capacity (at most `max`), skipping the connection buffer: the PUT
    /// path's one copy is the kernel's. Only valid when nothing is buffered.
    pub(crate) async fn read_direct(
        &mut self,
        buf: Vec<u8>,
        max: usize,
        timeout: Duration,
    ) -> (io::Result<usize>, Vec<u8>) {
        debug_assert!(self.buffered().is_empty());
        let len = buf.len();
        let end = len + max.min(buf.capacity() - len);
        let read = self.stream.read(buf.slice_mut(len..end));
        match monoio::time::timeout(timeout, read).await {
            Ok((res, slice)) => (res, slice.into_inner()),
            Err(_) => (
                Err(io::Error::new(io::ErrorKind::TimedOut, "client timed out")),
                Vec::new(),
            ),
        }
    }

    /// Writes all of `buf`, giving up when the client takes nothing for the
    /// client timeout.
    pub(crate) async fn write_all(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        let timeout = self.limits.client_timeout;
        match monoio::time::timeout(timeout, self.stream.write_all(buf)).await {
            Ok((res, buf)) => (res.map(|_| ()), buf),
            Err(_) => (
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "client stopped reading",
                )),
                Vec::new(),
            ),
        }
    }

    /// Sends `len` bytes of `file` at `off` from the page cache with
    /// `sendfile`, stopping at the first chunk that is not cached. Returns
    /// the bytes sent; the caller sends the rest through its read path.
    pub(crate) async fn send_file_cached(
        &mut self,
        file: &monoio::fs::File,
        mut off: u64,
        len: u64,
    ) -> io::Result<u64> {
        use super::sendfile::{self, Step};
        use std::os::fd::AsRawFd;
        let (sock, fd) = (self.stream.as_raw_fd(), file.as_raw_fd());
        let _nonblocking = sendfile::NonBlocking::set(sock)?;
        let (start, end) = (off, off + len);
        while off < end {
            match sendfile::send_cached(sock, fd, off, end - off)? {
                Step::Sent(n) => off += n,
                Step::NotCached => break,
                Step::WouldBlock => {
                    let timeout = self.limits.client_timeout;
                    match monoio::time::timeout(timeout, self.stream.writable(false)).await {
                        Ok(ready) => ready?,
                        Err(_) => {
                            return Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "client stopped reading",
                            ))
                        }
                    }
                }
            }
        }
        Ok(off - start)
    }

    /// Waits for a complete head. `Ok(None)` means the client closed (or
    /// stayed idle past the idle timeout) between requests.
    async fn read_head(&mut self) -> Result<Option<Request>, HeadError> {
        loop {
            if let Some(end) = find_head_end(self.buffered()) {
                let req = parse_head(&self.buffered()[..end], &self.limits, self.peer);
                self.consume(end);
                return req.map(Some);
            }
            if self.buffered().len() >= self.limits.max_head_bytes {
                return Err(oversized_head(self.buffered(), &self.limits));
            }
            // Between requests the idle timeout applies; once a head has
            // started, the (shorter) client timeout does.
            let waiting = self.buffered().is_empty();
            let timeout = if waiting {
                self.limits.idle_timeout
            } else {
                self.limits.client_timeout
            };
            match self.fill(timeout).await {
                Ok(0) | Err(_) if waiting => return Ok(None),
                Ok(0) => {
                    return Err(HeadError {
                        status: 400,
                        reason: "Connection closed in the middle of a request".into(),
                    })
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Err(HeadError {
                        status: 408,
                        reason: "Request head not received in time".into(),
                    })
                }
                Err(_) => return Ok(None),
            }
        }
    }
}

/// Serves requests on one connection until the client closes, an error
/// makes the stream unusable, or `stop` resolves (shutdown) between requests.
pub async fn serve<H: Handler>(
    mut conn: Conn,
    handler: &H,
    shutdown: &crate::runtime::shutdown::LocalShutdown,
) {
    loop {
        let head = if conn.buffered().is_empty() {
            monoio::select! {
                head = conn.read_head() => head,
                _ = shutdown.wait() => return,
            }
        } else {
            conn.read_head().await
        };
        let started = Instant::now();
        let req = match head {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(e) => {
                let trans_id = super::response::new_trans_id();
                let resp = Response::text(e.status, &e.reason);
                let sent = write_response(&mut conn, None, resp, false, &trans_id).await;
                handler.log(&LogEntry {
                    req: None,
                    status: e.status,
                    bytes_in: 0,
                    bytes_out: sent.unwrap_or(0),
                    duration: started.elapsed(),
                    trans_id: &trans_id,
                    peer: conn.peer,
                });
                return;
            }
        };
        let trans_id = super::response::new_trans_id();
        let mut body = BodyReader::new(&mut conn, req.framing, req.expect_continue);
        body.allow_early_answer(&req, &trans_id);
        let mut resp = handler.handle(&req, &mut body).await;
        let answered_early = body.answer_started();
        let bytes_in = body.received();
        // A body left unread makes the stream unusable for the next request
        // unless it can be skipped cheaply; a client still waiting for 100
        // Continue may never send it, so that connection is closed.
        let reusable = body.finish().await;
        let keep_alive = req.keep_alive && reusable && !shutdown.is_set() && !resp.close;
        let status = resp.status;
        resp.trans_id = Some(trans_id.clone());
        // An answer the handler started itself only has its body left.
        let sent = if answered_early {
            super::response::write_started_rest(&mut conn, resp).await
        } else {
            write_response(&mut conn, Some(&req), resp, keep_alive, &trans_id).await
        };
        handler.log(&LogEntry {
            req: Some(&req),
            status,
            bytes_in,
            bytes_out: *sent.as_ref().unwrap_or(&0),
            duration: started.elapsed(),
            trans_id: &trans_id,
            peer: conn.peer,
        });
        if sent.is_err() || !keep_alive {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line must read exactly as tracing's own field formatting of the
    /// same values did (`name=value`, strings and the peer as `Debug`).
    fn expected(e: &LogEntry<'_>) -> String {
        let (method, path) = e.method_path();
        format!(
            "method={:?} path={:?} status={} bytes_in={} bytes_out={} duration_us={} trans_id={:?} peer={:?}",
            method,
            path,
            e.status,
            e.bytes_in,
            e.bytes_out,
            e.duration.as_micros() as u64,
            e.trans_id,
            e.peer
        )
    }

    #[test]
    fn access_line_matches_debug_formatting() {
        let limits = Limits::for_tests();
        let peers: [Option<SocketAddr>; 4] = [
            Some("127.0.0.1:49312".parse().unwrap()),
            Some("0.0.0.0:0".parse().unwrap()),
            Some("[::1]:8080".parse().unwrap()),
            None,
        ];
        let heads: [&[u8]; 3] = [
            b"GET /v1/AUTH_test/c/o HTTP/1.1\r\nHost: x\r\n\r\n",
            b"PUT /v1/a/c/%22q%22\\x\tz HTTP/1.1\r\n\r\n",
            "HEAD /v1/a/\u{e9}\u{301} HTTP/1.0\r\n\r\n".as_bytes(),
        ];
        for (i, peer) in peers.into_iter().enumerate() {
            for head in heads {
                let req = parse_head(head, &limits, peer).ok();
                for trans_id in ["tx0123-abc", "t\"x\n"] {
                    let e = LogEntry {
                        req: req.as_ref(),
                        status: [200, 404, 499, 0][i],
                        bytes_in: [0, 1, u64::MAX, 10][i],
                        bytes_out: [4096, 0, 12345678901, 7][i],
                        duration: Duration::from_micros([0, 9, 100, 1_000_000][i]),
                        trans_id,
                        peer,
                    };
                    assert_eq!(AccessLine(&e).to_string(), expected(&e));
                }
            }
        }
        let refused = LogEntry {
            req: None,
            status: 400,
            bytes_in: 0,
            bytes_out: 0,
            duration: Duration::ZERO,
            trans_id: "tx",
            peer: None,
        };
        assert_eq!(AccessLine(&refused).to_string(), expected(&refused));
    }
}
