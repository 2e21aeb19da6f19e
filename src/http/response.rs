//! Responses: what handlers return, and writing them to the socket, streaming
//! file bodies through pooled buffers.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use monoio::buf::IoBufMut;

use super::conn::Conn;
use super::stream::{BodyStream, BytesStream, FileStream, StreamBody};
use super::{Headers, Request};
use crate::common::buffers;

/// A response as a handler describes it; the connection layer adds
/// `Content-Length`, `Date`, `X-Trans-Id` and `Connection`.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, sent in order with the case given.
    pub headers: Headers,
    /// The body (never sent for HEAD).
    pub body: Body,
    /// Close the connection after this response.
    pub close: bool,
    /// Set by the connection layer.
    pub trans_id: Option<String>,
    /// Headers whose values hold raw bytes as Latin-1 text (one char per
    /// byte); they are written as those bytes, not as UTF-8.
    pub latin1_headers: Vec<String>,
}

/// Where a response body comes from.
#[derive(Debug)]
pub enum Body {
    /// No body.
    Empty,
    /// Bytes in memory (error texts, listings, small documents).
    Bytes(Vec<u8>),
    /// Pieces of an open file interleaved with bytes in memory (a whole
    /// object, one range, or a multipart/byteranges document).
    File(FileBody),
    /// Chunks produced on demand (large objects made of several objects'
    /// pieces); an error mid-stream closes the connection.
    Stream(StreamBody),
    /// Chunks of unknown total length, each sent as soon as it is produced
    /// (`Transfer-Encoding: chunked`): long-running answers that keep the
    /// client waiting with whitespace heartbeats (bulk operations).
    Chunked(ChunkedBody),
}

/// A body sent chunk by chunk as produced; see [`Body::Chunked`].
pub struct ChunkedBody(pub Box<dyn BodyStream>);

impl std::fmt::Debug for ChunkedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChunkedBody")
    }
}

/// A file and the pieces of the body that come from it.
pub struct FileBody {
    /// The open file.
    pub file: Rc<monoio::fs::File>,
    /// The file's bytes from offset 0 already in memory; ranges within
    /// them are sent from here, not read again.
    pub head: bytes::Bytes,
    /// The body, in order.
    pub parts: Vec<Part>,
}

impl std::fmt::Debug for FileBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBody")
            .field("parts", &self.parts)
            .finish()
    }
}

/// One piece of a [`FileBody`].
#[derive(Debug, Clone)]
pub enum Part {
    /// Literal bytes (multipart headers).
    Bytes(Vec<u8>),
    /// `len` bytes of the file from `offset`.
    Range {
        /// Offset in the file.
        offset: u64,
        /// Length in bytes.
        len: u64,
    },
}

impl Body {
    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::File(f) => f
                .parts
                .iter()
                .map(|p| match p {
                    Part::Bytes(b) => b.len() as u64,
                    Part::Range { len, .. } => *len,
                })
                .sum(),
            Body::Stream(s) => s.len,
            // Unknown until sent.
            Body::Chunked(_) => 0,
        }
    }

    /// The body as a stream of chunks (to feed a PUT or another stream).
    pub fn into_stream(self) -> Box<dyn BodyStream> {
        match self {
            Body::Empty => Box::new(BytesStream::new(Vec::new())),
            Body::Bytes(b) => Box::new(BytesStream::new(b)),
            Body::File(f) => Box::new(FileStream::new(f)),
            Body::Stream(s) => s.stream,
            Body::Chunked(c) => c.0,
        }
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Response {
    /// A response with no body.
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Headers::new(),
            body: Body::Empty,
            close: false,
            trans_id: None,
            latin1_headers: Vec::new(),
        }
    }

    /// A response whose body is `text`, typed as Swift types its messages.
    pub fn text(status: u16, text: &str) -> Response {
        let mut r = Response::empty(status);
        r.headers.set("Content-Type", "text/html; charset=UTF-8");
        r.body = Body::Bytes(text.as_bytes().to_vec());
        r
    }

    /// A response with Swift's standard body for `status`.
    pub fn status(status: u16) -> Response {
        match default_body(status) {
            Some(body) => Response::text(status, &body),
            None => Response::empty(status),
        }
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.set(name, value.into());
        self
    }
}

/// The reason phrase for a status.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request URI Too Long",
        416 => "Requested Range Not Satisfiable",
        422 => "Unprocessable Entity",
        431 => "Request Header Fields Too Large",
        499 => "Client Disconnect",
        500 => "Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

/// Swift's default explanation bodies (swob's `RESPONSE_REASONS`).
fn default_body(status: u16) -> Option<String> {
    let explanation = match status {
        400 => "",
        401 => "This server could not verify that you are authorized to access the document you requested.",
        403 => "Access was denied to this resource.",
        404 => "The resource could not be found.",
        405 => "The method is not allowed for this resource.",
        406 => "The resource is not available in a format acceptable to your browser.",
        408 => "The server has waited too long for the request to be sent by the client.",
        409 => "There was a conflict when trying to complete your request.",
        411 => "Content-Length header required.",
        412 => "A precondition for this request was not met.",
        413 => "The body of your request was too large for this server.",
        416 => "The Range requested is not available.",
        422 => "Unable to process the contained instructions",
        499 => "The client disconnected during request.",
        500 => "The server has either erred or is incapable of performing the requested operation.",
        501 => "The requested method is not implemented by this server.",
        502 => "Bad gateway.",
        503 => "The server is currently unavailable. Please try again at a later time.",
        507 => "There was not enough space to save the resource.",
        _ => return None,
    };
    Some(format!(
        "<html><h1>{}</h1><p>{}</p></html>",
        reason(status),
        explanation
    ))
}

/// A new transaction id in Swift's shape: `tx` + 21 hex + `-` + hex time.
pub fn new_trans_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let r: u128 = rand::random();
    // Hex by hand: formatting a u128 through `{:x}` cost as much as the
    // rest of the response head.
    let mut id = String::with_capacity(34);
    id.push_str("tx");
    push_hex(&mut id, r & ((1u128 << 84) - 1), 21);
    id.push('-');
    push_hex(&mut id, secs.into(), 10);
    id
}

/// Appends `n` as at least `width` lowercase hex digits (as `{:0width$x}`).
fn push_hex(out: &mut String, n: u128, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digits = ((128 - n.leading_zeros() as usize).div_ceil(4)).max(width);
    for i in (0..digits).rev() {
        let d = if i < 32 { (n >> (4 * i)) & 0xf } else { 0 };
        out.push(DIGITS[d as usize] as char);
    }
}

thread_local! {
    static DATE: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
}

/// Calls `f` with the `Date` header value, formatted at most once a second
/// per thread.
fn with_http_date_now<R>(f: impl FnOnce(&str) -> R) -> R {
    let now = SystemTime::now();
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        if d.0 != secs || d.1.is_empty() {
            *d = (secs, httpdate::fmt_http_date(now));
        }
        f(&d.1)
    })
}

/// A number in decimal, formatted on the stack.
pub(crate) struct Decimal {
    buf: [u8; 20],
    start: usize,
}

impl Decimal {
    /// `n` in decimal.
    pub(crate) fn new(mut n: u64) -> Decimal {
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        loop {
            start -= 1;
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Decimal { buf, start }
    }

    /// The digits.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits are ever written.
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("0")
    }
}

/// Writes `resp` for `req` (absent when the head was refused). Returns the
/// body bytes sent; an error means the connection must be closed.
pub async fn write_response(
    conn: &mut Conn,
    req: Option<&Request>,
    resp: Response,
    keep_alive: bool,
    trans_id: &str,
) -> io::Result<u64> {
    let file = match &resp.body {
        Body::File(fb) => Some(Rc::clone(&fb.file)),
        _ => None,
    };
    let result = write_response_inner(conn, req, resp, keep_alive, trans_id).await;
    if let Some(file) = file {
        crate::runtime::closing::close_shared(file).await;
    }
    result
}

/// The status line and headers of `resp` for `req`, as they go on the
/// wire (framing, `X-Trans-Id`, `Date` and `Connection` added).
pub(crate) fn response_head(
    req: Option<&Request>,
    resp: &mut Response,
    keep_alive: bool,
    trans_id: &str,
) -> Vec<u8> {
    let body_len = resp.body.len();
    let chunked = matches!(resp.body, Body::Chunked(_));
    if chunked {
        // HTTP/1.0 clients get the bytes unframed; the handler closes the
        // connection after them.
        if req.is_none_or(|r| r.http11) && !is_head_method(req) {
            resp.headers.set("Transfer-Encoding", "chunked");
        }
    } else if !resp.headers.contains("content-length") && resp.status >= 200 {
        resp.headers
            .set("Content-Length", Decimal::new(body_len).as_str());
    }
    if !resp.headers.contains("content-type") && resp.status >= 200 && resp.status != 304 {
        resp.headers.set("Content-Type", "text/html; charset=UTF-8");
    }
    let mut head = buffers::take(64 * 1024);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(Decimal::new(resp.status.into()).as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(reason(resp.status).as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in resp.headers.iter() {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        if resp
            .latin1_headers
            .iter()
            .any(|l| l.eq_ignore_ascii_case(name))
        {
            // Chars above U+00FF cannot come from raw bytes; keep them whole.
            for c in value.chars() {
                match u8::try_from(c as u32) {
                    Ok(b) => head.push(b),
                    Err(_) => head.extend_from_slice(c.to_string().as_bytes()),
                }
            }
        } else {
            head.extend_from_slice(value.as_bytes());
        }
        head.extend_from_slice(b"\r\n");
    }
    for name in ["X-Trans-Id: ", "X-Openstack-Request-Id: "] {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(trans_id.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"Date: ");
    with_http_date_now(|d| head.extend_from_slice(d.as_bytes()));
    head.extend_from_slice(b"\r\n");
    if !keep_alive {
        head.extend_from_slice(b"Connection: close\r\n");
    } else if req.is_some_and(|r| {
        r.headers.get("connection").is_some_and(|c| {
            c.as_bytes()
                .windows(b"keep-alive".len())
                .any(|w| w.eq_ignore_ascii_case(b"keep-alive"))
        })
    }) {
        head.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// The rest of an answer the handler started itself (see
/// [`super::BodyReader::send_early`]): its body as further chunks, then
/// the last chunk.
pub(crate) async fn write_started_rest(conn: &mut Conn, resp: Response) -> io::Result<u64> {
    let cb = match resp.body {
        Body::Chunked(cb) => cb,
        other => ChunkedBody(other.into_stream()),
    };
    write_chunked_body(conn, Vec::new(), cb, true).await
}

async fn write_response_inner(
    conn: &mut Conn,
    req: Option<&Request>,
    mut resp: Response,
    keep_alive: bool,
    trans_id: &str,
) -> io::Result<u64> {
    let is_head = req.is_some_and(|r| r.method == "HEAD");
    let body_len = resp.body.len();
    let mut head = response_head(req, &mut resp, keep_alive, trans_id);
    if is_head {
        let (res, buf) = conn.write_all(head).await;
        buffers::give(buf);
        return res.map(|_| 0);
    }
    match resp.body {
        Body::Empty => {
            let (res, buf) = conn.write_all(head).await;
            buffers::give(buf);
            res.map(|_| 0)
        }
        Body::Bytes(bytes) => {
            // Small bodies go out with the head in one write.
            if head.capacity() - head.len() >= bytes.len() {
                head.extend_from_slice(&bytes);
                let (res, buf) = conn.write_all(head).await;
                buffers::give(buf);
                res?;
            } else {
                let (res, buf) = conn.write_all(head).await;
                buffers::give(buf);
                res?;
                let (res, _) = conn.write_all(bytes).await;
                res?;
            }
            Ok(body_len)
        }
        Body::File(fb) => {
            write_file_body(conn, head, &fb, conn.limits.io_buffer_size).await?;
            Ok(body_len)
        }
        Body::Stream(sb) => {
            write_stream_body(conn, head, sb, conn.limits.io_buffer_size).await?;
            Ok(body_len)
        }
        Body::Chunked(cb) => {
            let framed = req.is_none_or(|r| r.http11);
            write_chunked_body(conn, head, cb, framed).await
        }
    }
}

/// Ranges at least this long are sent with `sendfile` when cached; shorter
/// ones are cheaper through the buffer that already holds the head.
const SENDFILE_MIN: u64 = 256 * 1024;

fn is_head_method(req: Option<&Request>) -> bool {
    req.is_some_and(|r| r.method == "HEAD")
}

/// Sends `pending` and hands it back emptied, swapped for a pooled buffer of
/// `chunk` bytes when it is smaller.
async fn flush(conn: &mut Conn, pending: Vec<u8>, chunk: usize) -> io::Result<Vec<u8>> {
    let (res, mut buf) = conn.write_all(pending).await;
    res?;
    buf.clear();
    if buf.capacity() < chunk {
        buffers::give(buf);
        buf = buffers::take(chunk);
    }
    Ok(buf)
}

/// Reads the stream's next piece into `buf`, returning the byte count and
/// the buffer; on an error the buffer goes back to the pool.
async fn read_piece(stream: &mut dyn BodyStream, buf: Vec<u8>) -> io::Result<(usize, Vec<u8>)> {
    let (res, buf) = stream.read(buf).await;
    match res {
        Ok(n) => Ok((n, buf)),
        Err(e) => {
            buffers::give(buf);
            Err(e)
        }
    }
}

/// Sends each piece the stream produces at once, as one HTTP chunk when
/// `framed`; returns the body bytes sent.
async fn write_chunked_body(
    conn: &mut Conn,
    head: Vec<u8>,
    mut cb: ChunkedBody,
    framed: bool,
) -> io::Result<u64> {
    if !head.is_empty() {
        let (res, buf) = conn.write_all(head).await;
        buffers::give(buf);
        res?;
    }
    let mut sent = 0u64;
    let mut piece = buffers::take(64 * 1024);
    loop {
        piece.clear();
        let (n, buf) = read_piece(&mut *cb.0, piece).await?;
        piece = buf;
        if n == 0 {
            break;
        }
        sent += n as u64;
        let mut out = Vec::with_capacity(n + 16);
        if framed {
            out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        }
        out.extend_from_slice(&piece);
        if framed {
            out.extend_from_slice(b"\r\n");
        }
        let (res, _) = conn.write_all(out).await;
        if let Err(e) = res {
            buffers::give(piece);
            return Err(e);
        }
    }
    buffers::give(piece);
    if framed {
        let (res, _) = conn.write_all(b"0\r\n\r\n".to_vec()).await;
        res?;
    }
    Ok(sent)
}

/// Streams a produced body through pooled buffers. Bytes beyond or short of
/// the announced length are errors: the client would misread the framing,
/// so the connection closes (as Swift does when a segment fails mid-body).
async fn write_stream_body(
    conn: &mut Conn,
    mut pending: Vec<u8>,
    mut sb: StreamBody,
    chunk: usize,
) -> io::Result<()> {
    let mut sent = 0u64;
    loop {
        if pending.capacity() - pending.len() < 4096 {
            pending = flush(conn, pending, chunk).await?;
        }
        let (n, buf) = read_piece(&mut *sb.stream, pending).await?;
        pending = buf;
        if n == 0 {
            break;
        }
        sent += n as u64;
        if sent > sb.len {
            buffers::give(pending);
            return Err(io::Error::other("streamed body longer than announced"));
        }
    }
    let (res, buf) = conn.write_all(pending).await;
    buffers::give(buf);
    res?;
    if sent != sb.len {
        return Err(io::Error::other("streamed body shorter than announced"));
    }
    Ok(())
}

/// Streams a file body: reads each range into a pooled buffer and sends it,
/// with the head (and multipart headers) sharing the buffer of the bytes
/// that follow them, so a small object goes out in a single write.
async fn write_file_body(
    conn: &mut Conn,
    mut pending: Vec<u8>,
    fb: &FileBody,
    chunk: usize,
) -> io::Result<()> {
    for part in &fb.parts {
        match part {
            Part::Bytes(b) => pending.extend_from_slice(b),
            Part::Range { offset, len } => {
                let mut pos = *offset;
                let end = offset + len;
                while pos < end && pos < fb.head.len() as u64 {
                    if pending.capacity() == pending.len() {
                        let (res, buf) = conn.write_all(pending).await;
                        pending = buf;
                        res?;
                        pending.clear();
                    }
                    let stop = end.min(fb.head.len() as u64) as usize;
                    let take = (stop - pos as usize).min(pending.capacity() - pending.len());
                    pending.extend_from_slice(&fb.head[pos as usize..pos as usize + take]);
                    pos += take as u64;
                }
                while pos < end {
                    if conn.limits.sendfile && end - pos >= SENDFILE_MIN {
                        // Large and cached: straight from the page cache.
                        if !pending.is_empty() {
                            let (res, buf) = conn.write_all(pending).await;
                            pending = buf;
                            res?;
                            pending.clear();
                        }
                        pos += conn.send_file_cached(&fb.file, pos, end - pos).await?;
                        if pos == end {
                            break;
                        }
                    }
                    if pending.capacity() - pending.len() < 4096 {
                        pending = flush(conn, pending, chunk).await?;
                    }
                    let start = pending.len();
                    let room = (pending.capacity() - start) as u64;
                    let want = room.min(end - pos) as usize;
                    let (res, slice) = fb
                        .file
                        .read_at(pending.slice_mut(start..start + want), pos)
                        .await;
                    pending = slice.into_inner();
                    let n = res?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "object file shorter than its metadata says",
                        ));
                    }
                    pos += n as u64;
                }
            }
        }
    }
    if !pending.is_empty() {
        let (res, buf) = conn.write_all(pending).await;
        buffers::give(buf);
        res?;
    } else {
        buffers::give(pending);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_matches_format() {
        for (n, w) in [
            (0u128, 21),
            (1, 10),
            (0xabc, 2),
            ((1u128 << 84) - 1, 21),
            (u128::MAX, 3),
        ] {
            let mut s = String::new();
            push_hex(&mut s, n, w);
            assert_eq!(s, format!("{n:0w$x}"));
        }
        let id = new_trans_id();
        assert_eq!(id.len(), 34);
        assert!(id.starts_with("tx") && id.as_bytes()[23] == b'-');
    }

    #[test]
    fn decimal_matches_display() {
        for n in [0, 1, 9, 10, 99, 200, 4096, 1 << 40, u64::MAX - 1, u64::MAX] {
            assert_eq!(Decimal::new(n).as_str(), n.to_string());
        }
    }
}
