//! Backend requests to other nodes over HTTP: pooled keep-alive
//! connections to each peer's backend listener, a connect timeout and a
//! node timeout, the streaming side of replicated writes (one body sent
//! to several object servers at once), and object bodies streamed back
//! from a peer as the client reads them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::client::conn::{ClientConn, ClientError, ResponseHead};

mod body;
use crate::http::stream::StreamBody;
use crate::http::{Body, Headers, Response};
use body::{release, Idle, RemoteBody};

/// Characters escaped in backend paths (Swift's `quote` keeps `/`).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']')
    .add(b'\'')
    .add(b';')
    .add(b'=')
    .add(b'+')
    .add(b'&')
    .add(b'$')
    .add(b',')
    .add(b'@')
    .add(b':')
    .add(b'!')
    .add(b'*')
    .add(b'(')
    .add(b')');

/// Headers that belong to one connection, never forwarded to a backend.
const HOP_BY_HOP: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "content-length",
    "transfer-encoding",
    "expect",
    "te",
    "upgrade",
    "proxy-authorization",
    "x-auth-token",
    "x-storage-token",
];

/// `/{device}/{partition}/{account}[/{container}[/{object}]]`, escaped.
pub fn backend_path(
    device: &str,
    partition: u32,
    account: &str,
    container: Option<&str>,
    object: Option<&str>,
) -> String {
    let mut p = format!(
        "/{}/{partition}/{}",
        utf8_percent_encode(device, PATH),
        utf8_percent_encode(account, PATH)
    );
    for seg in [container, object].into_iter().flatten() {
        p.push('/');
        p.push_str(&utf8_percent_encode(seg, PATH).to_string());
    }
    p
}

/// How a request body is framed on the wire to the backend.
#[derive(Debug, Clone, Copy)]
pub enum Framing {
    /// No body.
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked` (the client's body had no length).
    Chunked,
}

/// A request head: method, path, the forwarded headers and the framing.
fn request_head(
    method: &str,
    path: &str,
    addr: SocketAddr,
    headers: &Headers,
    framing: Framing,
    expect_continue: bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n").as_bytes());
    for (n, v) in headers.iter() {
        if HOP_BY_HOP.iter().any(|h| n.eq_ignore_ascii_case(h)) {
            continue;
        }
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        Framing::None if matches!(method, "PUT" | "POST") => {
            out.extend_from_slice(b"Content-Length: 0\r\n")
        }
        Framing::None => {}
        Framing::Length(n) => out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes()),
        Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    if expect_continue {
        out.extend_from_slice(b"Expect: 100-continue\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A backend answer's status and headers as a response without a body
/// (the connection's own framing headers dropped).
fn head_response(head: &ResponseHead) -> Response {
    let mut r = Response::empty(head.status);
    for (n, v) in &head.headers {
        if matches!(
            n.as_str(),
            "content-length" | "transfer-encoding" | "connection" | "keep-alive" | "date"
        ) || n == "x-trans-id"
        {
            continue;
        }
        // Swift's object server quotes its ETag, paco's does not: the
        // proxy answers alike whichever kind of node served the object.
        let v = if n == "etag" {
            v.trim_matches('"').to_string()
        } else {
            v.clone()
        };
        r.headers.append(crate::http::headers::title_case(n), v);
    }
    r
}

/// A backend's whole answer, its body read into memory.
pub fn to_response(head: &ResponseHead, body: Vec<u8>) -> Response {
    let mut r = head_response(head);
    if !body.is_empty() {
        r.body = crate::http::Body::Bytes(body);
    } else if let Some(len) = head.header("content-length") {
        // A HEAD answer keeps the length of the body it describes.
        r.headers.set("Content-Length", len);
    }
    r
}

/// Whether a request failed because the peer was too slow (not worth a
/// second try on a fresh connection, unlike a pooled connection the peer
/// had closed).
fn timed_out(e: &ClientError) -> bool {
    matches!(e, ClientError::Io(io) if io.kind() == io::ErrorKind::TimedOut)
}

/// Pooled connections to the peers of one worker.
pub struct Peers {
    idle: Idle,
    conn_timeout: Duration,
    node_timeout: Duration,
}

impl Peers {
    /// A pool with Swift's `conn_timeout` and `node_timeout`.
    pub fn new(conn_timeout: Duration, node_timeout: Duration) -> Self {
        Peers {
            idle: Rc::new(RefCell::new(HashMap::new())),
            conn_timeout,
            node_timeout,
        }
    }

    fn pooled(&self, addr: SocketAddr) -> Option<ClientConn> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(&addr)?;
        while let Some(c) = list.pop() {
            if !c.is_closed() {
                return Some(c);
            }
        }
        None
    }

    async fn connect(&self, addr: SocketAddr) -> Result<ClientConn, ClientError> {
        let mut c = ClientConn::connect(addr, self.conn_timeout).await?;
        c.set_timeout(self.node_timeout);
        Ok(c)
    }

    fn put_back(&self, addr: SocketAddr, conn: ClientConn) {
        release(&self.idle, addr, conn);
    }

    /// Sends a bodiless request and answers as soon as the head arrived: a
    /// successful GET's body is streamed from the peer's connection as the
    /// client reads it (unless it is all here already); any other answer
    /// is read whole. A pooled connection the peer has meanwhile closed is
    /// retried once on a fresh one.
    pub async fn fetch(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &Headers,
    ) -> Result<Response, ClientError> {
        let out = request_head(method, path, addr, headers, Framing::None, false);
        if let Some(mut conn) = self.pooled(addr) {
            let sent = conn.write_all(out.clone()).await;
            match sent.map(|_| ()) {
                Ok(()) => match conn.read_head().await {
                    Ok(head) => return self.answer(addr, conn, method, head).await,
                    Err(e) if timed_out(&e) => return Err(e),
                    Err(_) => {}
                },
                Err(e) if timed_out(&e) => return Err(e),
                Err(_) => {}
            }
        }
        let mut conn = self.connect(addr).await?;
        conn.write_all(out).await?;
        let head = conn.read_head().await?;
        self.answer(addr, conn, method, head).await
    }

    async fn answer(
        &self,
        addr: SocketAddr,
        mut conn: ClientConn,
        method: &str,
        head: ResponseHead,
    ) -> Result<Response, ClientError> {
        let len = head
            .header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        let chunked = head.header("transfer-encoding").is_some();
        match len {
            Some(len)
                if method == "GET"
                    && (200..300).contains(&head.status)
                    && !chunked
                    && len > conn.buffered() as u64 =>
            {
                let mut r = head_response(&head);
                let close_after = head
                    .header("connection")
                    .is_some_and(|c| c.eq_ignore_ascii_case("close"));
                r.body = Body::Stream(StreamBody {
                    len,
                    stream: Box::new(RemoteBody {
                        conn: Some(conn),
                        left: len,
                        addr,
                        idle: Rc::clone(&self.idle),
                        close_after,
                    }),
                });
                Ok(r)
            }
            _ => {
                let mut body = Vec::new();
                conn.read_body(method, &head, &mut |b| body.extend_from_slice(b))
                    .await?;
                self.put_back(addr, conn);
                Ok(to_response(&head, body))
            }
        }
    }

    /// Sends a request with a small in-memory body and reads the whole
    /// answer. A pooled connection the peer has meanwhile closed is retried
    /// once on a fresh one.
    pub async fn request(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &Headers,
        body: &[u8],
    ) -> Result<(ResponseHead, Vec<u8>), ClientError> {
        let framing = if body.is_empty() {
            Framing::None
        } else {
            Framing::Length(body.len() as u64)
        };
        let mut head = request_head(method, path, addr, headers, framing, false);
        head.extend_from_slice(body);
        if let Some(conn) = self.pooled(addr) {
            match self.exchange(addr, conn, method, head.clone()).await {
                Ok(r) => return Ok(r),
                Err(e) if timed_out(&e) => return Err(e),
                Err(_) => {}
            }
        }
        let conn = self.connect(addr).await?;
        self.exchange(addr, conn, method, head).await
    }

    async fn exchange(
        &self,
        addr: SocketAddr,
        mut conn: ClientConn,
        method: &str,
        out: Vec<u8>,
    ) -> Result<(ResponseHead, Vec<u8>), ClientError> {
        conn.write_all(out).await?;
        let head = conn.read_head().await?;
        let mut body = Vec::new();
        conn.read_body(method, &head, &mut |b| body.extend_from_slice(b))
            .await?;
        self.put_back(addr, conn);
        Ok((head, body))
    }

    /// Opens a streamed write: sends the head with `Expect: 100-continue`
    /// and waits for the go-ahead. `Err(Some(answer))` when the object
    /// server answered at once (a final status such as 412 or 507).
    pub async fn open_put(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &Headers,
        framing: Framing,
    ) -> Result<Putter, Option<(ResponseHead, Vec<u8>)>> {
        let mut conn = match self.pooled(addr) {
            Some(c) => c,
            None => self.connect(addr).await.map_err(|e| {
                tracing::warn!(%addr, "backend connect failed: {e}");
                None
            })?,
        };
        let head = request_head(method, path, addr, headers, framing, true);
        let mut sent = conn.write_all(head.clone()).await;
        if sent.is_err() {
            // A stale pooled connection: one fresh try.
            conn = self.connect(addr).await.map_err(|_| None)?;
            sent = conn.write_all(head).await;
        }
        sent.map_err(|_| None)?;
        let interim = conn.read_head_interim(true).await.map_err(|e| {
            tracing::warn!(%addr, "backend did not answer the request head: {e}");
            None
        })?;
        if interim.status == 100 {
            return Ok(Putter {
                addr,
                conn,
                framing,
                failed: false,
            });
        }
        let mut body = Vec::new();
        match conn
            .read_body(method, &interim, &mut |b| body.extend_from_slice(b))
            .await
        {
            Ok(_) => self.put_back(addr, conn),
            Err(_) => conn.mark_closed(),
        }
        Err(Some((interim, body)))
    }

    /// Reads a streamed write's final answer and pools its connection.
    pub async fn finish_put(&self, mut p: Putter) -> Option<(ResponseHead, Vec<u8>)> {
        if p.failed {
            return None;
        }
        if let Framing::Chunked = p.framing {
            if p.conn.write_all(b"0\r\n\r\n".to_vec()).await.is_err() {
                return None;
            }
        }
        let head = p.conn.read_head().await.ok()?;
        let mut body = Vec::new();
        p.conn
            .read_body("PUT", &head, &mut |b| body.extend_from_slice(b))
            .await
            .ok()?;
        self.put_back(p.addr, p.conn);
        Some((head, body))
    }
}

/// One object server receiving a replicated write's body.
pub struct Putter {
    addr: SocketAddr,
    conn: ClientConn,
    framing: Framing,
    failed: bool,
}

impl Putter {
    /// Whether sending failed (the write on this node is lost).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Sends the next piece of the body (`chunk` is shared by all putters).
    pub async fn send(&mut self, chunk: bytes::Bytes) {
        if self.failed {
            return;
        }
        let res = match self.framing {
            Framing::Chunked => {
                let mut framed = Vec::with_capacity(chunk.len() + 16);
                framed.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                framed.extend_from_slice(&chunk);
                framed.extend_from_slice(b"\r\n");
                self.conn.write_all(framed).await.map(|_| ())
            }
            _ => self.conn.write_all(chunk).await.map(|_| ()),
        };
        if let Err(e) = res {
            tracing::warn!(addr = %self.addr, "backend write failed: {e}");
            self.conn.mark_closed();
            self.failed = true;
        }
    }
}

/// Runs futures concurrently on this thread and returns their outputs in
/// order (the runtime is thread-per-core: nothing needs to be `Send`).
pub async fn join_all<'a, T>(futs: Vec<Pin<Box<dyn Future<Output = T> + 'a>>>) -> Vec<T> {
    let mut futs: Vec<Option<Pin<Box<dyn Future<Output = T> + 'a>>>> =
        futs.into_iter().map(Some).collect();
    let mut out: Vec<Option<T>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, res) in futs.iter_mut().zip(out.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *res = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_escaped_but_keep_slashes() {
        assert_eq!(
            backend_path("sdb1", 7, "AUTH_t", Some("c 1"), Some("a/b?c")),
            "/sdb1/7/AUTH_t/c%201/a/b%3Fc"
        );
        assert_eq!(backend_path("d", 0, "a", None, None), "/d/0/a");
    }

    #[test]
    fn heads_drop_hop_by_hop_headers() {
        let mut h = Headers::new();
        h.set("X-Timestamp", "1.00000");
        h.set("Content-Length", "5");
        h.set("X-Auth-Token", "secret");
        let head = request_head(
            "PUT",
            "/d/0/a/c/o",
            "127.0.0.1:1".parse().expect("addr"),
            &h,
            Framing::Length(5),
            true,
        );
        let text = String::from_utf8(head).expect("utf8");
        assert!(text.contains("X-Timestamp: 1.00000\r\n"));
        assert_eq!(text.matches("Content-Length").count(), 1);
        assert!(!text.contains("secret"));
        assert!(text.ends_with("Expect: 100-continue\r\n\r\n"));
    }
}
