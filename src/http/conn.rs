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
/// (a macro because tracing wants its targets as constants).
macro_rules! log_access {
    ($target:literal, $entry:expr) => {{
        let e: &$crate::http::conn::LogEntry<'_> = $entry;
        let (method, path) = e.method_path();
        ::tracing::info!(
            target: $target,
            method,
            path,
            status = e.status,
            bytes_in = e.bytes_in,
            bytes_out = e.bytes_out,
            duration_us = e.duration.as_micros() as u64,
            trans_id = e.trans_id,
            peer = ?e.peer,
        );
    }};
}
pub(crate) use log_access;

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
