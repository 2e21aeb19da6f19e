//! Request bodies: Content-Length and chunked framing, `Expect: 100-continue`,
//! and the slow-client timeout, read into caller-owned buffers.

use std::io;

use super::conn::Conn;
use super::request::{Framing, Request};
use super::response::{self, ChunkedBody, Response};

/// Why a body could not be read; each maps to the status Swift answers.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The client stopped sending for longer than the client timeout.
    #[error("request body not received in time")]
    Timeout,
    /// The client closed before the announced end of the body.
    #[error("client disconnected before the end of the body")]
    Disconnected,
    /// Chunked framing was not valid.
    #[error("malformed chunked body: {0}")]
    Malformed(&'static str),
    /// The body is larger than the caller accepts.
    #[error("request body too large")]
    TooLarge,
    /// Any other socket error.
    #[error("reading request body: {0}")]
    Io(#[from] io::Error),
}

impl BodyError {
    /// The status to answer with (499 is Swift's "client disconnected").
    pub fn status(&self) -> u16 {
        match self {
            BodyError::Timeout => 408,
            BodyError::Disconnected | BodyError::Io(_) => 499,
            BodyError::Malformed(_) => 400,
            BodyError::TooLarge => 413,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Done,
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
}

/// Longest chunk-size or trailer line accepted.
const MAX_CHUNK_LINE: usize = 4096;
/// Largest unread body skipped to keep a connection open; anything longer
/// (or of unknown length) closes the connection instead, so a refused
/// upload's answer goes out at once.
const MAX_DRAIN: u64 = 64 * 1024;

/// Reads one request's body from its connection.
pub struct BodyReader<'a> {
    conn: &'a mut Conn,
    state: State,
    continue_pending: bool,
    received: u64,
    failed: bool,
    /// The request and its transaction id, when the handler may start its
    /// answer before it returns (see [`BodyReader::send_early`]).
    early: Option<(&'a Request, &'a str)>,
    /// The answer's head has gone out from inside the handler.
    started: bool,
}

impl<'a> BodyReader<'a> {
    /// A reader for a body framed as `framing`. When `expect_continue`, the
    /// interim `100 Continue` is sent on the first read, so a request refused
    /// before that never makes the client send its body.
    pub fn new(conn: &'a mut Conn, framing: Framing, expect_continue: bool) -> Self {
        let state = match framing {
            Framing::None | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
        };
        BodyReader {
            conn,
            state,
            continue_pending: expect_continue && state != State::Done,
            received: 0,
            failed: false,
            early: None,
            started: false,
        }
    }

    /// Lets the handler of `req` start its answer while it still reads the
    /// body (the connection calls this for client requests).
    pub fn allow_early_answer(&mut self, req: &'a Request, trans_id: &'a str) {
        self.early = Some((req, trans_id));
    }

    /// Sends `chunk` to the client now, as a chunk of the answer, while the
    /// request body is still being read: a long-running answer's keep-alive
    /// whitespace (Swift's bulk extract writes spaces as it unpacks). The
    /// first call sends the head of `answer` (its status and headers, with
    /// chunked framing) before the chunk; after that, whatever response the
    /// handler returns only contributes its body, as further chunks.
    ///
    /// Returns false, sending nothing, when the answer cannot start early:
    /// an HTTP/1.0 client (no chunked framing), or a body not read from a
    /// client connection.
    pub async fn send_early(&mut self, answer: &Response, chunk: &[u8]) -> io::Result<bool> {
        let Some((req, trans_id)) = self.early else {
            return Ok(false);
        };
        if !req.http11 || req.method == "HEAD" {
            return Ok(false);
        }
        let mut out = Vec::new();
        if !self.started {
            let mut head = Response::empty(answer.status);
            head.headers = answer.headers.clone();
            head.latin1_headers = answer.latin1_headers.clone();
            // Chunked framing: the body's length is not known yet.
            head.body = super::Body::Chunked(ChunkedBody(Box::new(
                super::stream::BytesStream::new(Vec::new()),
            )));
            out = response::response_head(Some(req), &mut head, req.keep_alive, trans_id);
            self.started = true;
        }
        if !chunk.is_empty() {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        let (res, buf) = self.conn.write_all(out).await;
        // The head was built in a pooled buffer; plain chunks were not.
        if buf.capacity() >= 64 * 1024 {
            crate::common::buffers::give(buf);
        }
        res?;
        Ok(true)
    }

    /// Whether the handler started its answer (see
    /// [`BodyReader::send_early`]).
    pub fn answer_started(&self) -> bool {
        self.started
    }

    /// Body bytes read so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Appends body bytes to `buf`, up to its spare capacity; `Ok(0)` at the
    /// end of the body. The buffer comes back whatever happens (empty after a
    /// timeout, when the runtime kept it).
    pub async fn read(&mut self, buf: Vec<u8>) -> (Result<usize, BodyError>, Vec<u8>) {
        let (res, buf) = self.read_inner(buf).await;
        if res.is_err() {
            self.failed = true;
        }
        (res, buf)
    }

    async fn read_inner(&mut self, mut buf: Vec<u8>) -> (Result<usize, BodyError>, Vec<u8>) {
        assert!(buf.capacity() > buf.len(), "body read into a full buffer");
        if self.failed {
            return (Err(BodyError::Disconnected), buf);
        }
        if self.continue_pending {
            self.continue_pending = false;
            let (res, _) = self
                .conn
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec())
                .await;
            if let Err(e) = res {
                return (Err(e.into()), buf);
            }
        }
        let timeout = self.conn.limits.client_timeout;
        loop {
            let spare = buf.capacity() - buf.len();
            match self.state {
                State::Done => return (Ok(0), buf),
                State::Length(rem) => {
                    let want = rem.min(spare as u64) as usize;
                    let n = if !self.conn.buffered().is_empty() {
                        self.conn.take_buffered(&mut buf, want)
                    } else {
                        let (res, b) = self.conn.read_direct(buf, want, timeout).await;
                        buf = b;
                        match res {
                            Ok(0) => return (Err(BodyError::Disconnected), buf),
                            Ok(n) => n,
                            Err(e) => return (Err(io_to_body(e)), buf),
                        }
                    };
                    self.received += n as u64;
                    self.state = if rem == n as u64 {
                        State::Done
                    } else {
                        State::Length(rem - n as u64)
                    };
                    return (Ok(n), buf);
                }
                State::ChunkData(rem) => {
                    if self.conn.buffered().is_empty() {
                        if let Err(e) = self.more(timeout).await {
                            return (Err(e), buf);
                        }
                    }
                    let n = self
                        .conn
                        .take_buffered(&mut buf, rem.min(spare as u64) as usize);
                    self.received += n as u64;
                    self.state = if rem == n as u64 {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(rem - n as u64)
                    };
                    return (Ok(n), buf);
                }
                State::ChunkSize | State::ChunkEnd | State::Trailers => {
                    if let Err(e) = self.advance_framing(timeout).await {
                        return (Err(e), buf);
                    }
                }
            }
        }
    }

    /// Consumes one framing line (chunk size, the CRLF after data, or a
    /// trailer line) and moves the state on.
    async fn advance_framing(&mut self, timeout: std::time::Duration) -> Result<(), BodyError> {
        let line_end = loop {
            if let Some(p) = self.conn.buffered().windows(2).position(|w| w == b"\r\n") {
                break p;
            }
            if self.conn.buffered().len() > MAX_CHUNK_LINE {
                return Err(BodyError::Malformed("chunk line too long"));
            }
            self.more(timeout).await?;
        };
        let line = &self.conn.buffered()[..line_end];
        let next = match self.state {
            State::ChunkSize => {
                let size = line.split(|&b| b == b';').next().unwrap_or(b"");
                let size = std::str::from_utf8(size)
                    .ok()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .and_then(|s| u64::from_str_radix(s, 16).ok())
                    .ok_or(BodyError::Malformed("bad chunk size"))?;
                if size == 0 {
                    State::Trailers
                } else {
                    State::ChunkData(size)
                }
            }
            State::ChunkEnd => {
                if !line.is_empty() {
                    return Err(BodyError::Malformed("chunk data longer than its size"));
                }
                State::ChunkSize
            }
            _ => {
                if line.is_empty() {
                    State::Done
                } else {
                    State::Trailers
                }
            }
        };
        self.conn.consume(line_end + 2);
        self.state = next;
        Ok(())
    }

    async fn more(&mut self, timeout: std::time::Duration) -> Result<(), BodyError> {
        match self.conn.fill(timeout).await {
            Ok(0) => Err(BodyError::Disconnected),
            Ok(_) => Ok(()),
            Err(e) => Err(io_to_body(e)),
        }
    }

    /// Reads the rest of the body into memory, refusing more than `limit`
    /// bytes (for small bodies such as manifests, never object data).
    pub async fn read_to_end(&mut self, limit: usize) -> Result<Vec<u8>, BodyError> {
        read_all(limit, async |buf| self.read(buf).await).await
    }

    /// Settles the connection after the handler: true when the next request
    /// can be read from it. An unread body is skipped when it is small; a
    /// client still waiting for `100 Continue` may never send it, and a
    /// failed body leaves the stream at an unknown place, so both close.
    pub async fn finish(&mut self) -> bool {
        if self.state == State::Done {
            return !self.failed;
        }
        if self.failed || self.continue_pending {
            return false;
        }
        match self.state {
            State::Length(rem) if rem <= MAX_DRAIN => {}
            _ => return false,
        }
        let mut scratch = Vec::with_capacity(64 * 1024);
        let mut skipped = 0u64;
        while skipped <= MAX_DRAIN {
            scratch.clear();
            let (res, buf) = self.read(scratch).await;
            scratch = buf;
            match res {
                Ok(0) => return true,
                Ok(n) => skipped += n as u64,
                Err(_) => return false,
            }
        }
        false
    }
}

fn io_to_body(e: io::Error) -> BodyError {
    if e.kind() == io::ErrorKind::TimedOut {
        BodyError::Timeout
    } else {
        BodyError::Io(e)
    }
}

/// Reads a body to its end into memory through `read` (the body's own
/// `read`), refusing more than `limit` bytes.
pub(crate) async fn read_all(
    limit: usize,
    mut read: impl AsyncFnMut(Vec<u8>) -> (Result<usize, BodyError>, Vec<u8>),
) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    loop {
        if out.len() > limit {
            return Err(BodyError::TooLarge);
        }
        if out.capacity() - out.len() < 8192 {
            out.reserve(16 * 1024);
        }
        let (res, buf) = read(out).await;
        out = buf;
        if res? == 0 {
            return Ok(out);
        }
    }
}
