//! The Swift API client: tempauth, one keep-alive connection per client,
//! per-operation timeouts, and retries with exponential backoff on
//! connection errors, 408, 429 and 5xx, re-authenticating on 401. This is
//! the retry machinery python-swiftclient has; what it lacks — a body that
//! can be sent again when its source is a pipe — comes from [`Body::rewind`]
//! and the buffered segment reader.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::body::{Body, NoBody};
use super::conn::{ClientConn, ClientError, ResponseHead};
use crate::bench::options::{parse_url, HttpUrl};

/// Bytes of body per socket write.
const CHUNK: usize = 256 * 1024;
/// Largest response body collected in memory (listings, manifests, errors).
const MAX_COLLECT: usize = 64 << 20;
/// Characters kept as they are in an object name in a URL.
const OBJECT_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
/// Characters kept in a container name or query value.
const SEGMENT_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes an object name for a URL (slashes stay).
pub fn encode_object(name: &str) -> String {
    utf8_percent_encode(name, OBJECT_SET).to_string()
}

/// Percent-encodes a container name or a query value.
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT_SET).to_string()
}

/// The path (below the storage URL) of a container or object.
pub fn object_path(container: &str, object: Option<&str>) -> String {
    match object {
        Some(o) => format!("/{}/{}", encode_component(container), encode_object(o)),
        None => format!("/{}", encode_component(container)),
    }
}

/// Why a Swift operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SwiftError {
    /// The server answered with a status that is not retried, or kept
    /// answering with a retryable one until the retries ran out.
    #[error("{method} {path}: HTTP {status}{}", if .body.is_empty() { String::new() } else { format!(": {}", .body) })]
    Status {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// Last status.
        status: u16,
        /// Start of the response body (the server's reason).
        body: String,
    },
    /// The connection kept failing until the retries ran out.
    #[error("{method} {path}: {source} (after {attempts} attempts)")]
    Transport {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// Attempts made.
        attempts: u32,
        /// Last failure.
        source: ClientError,
    },
    /// A failure that could have been retried, but the body could not be
    /// sent again (an unbuffered stream).
    #[error("{method} {path}: {cause}; not retried: {why}")]
    NotRetryable {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// What failed.
        cause: String,
        /// Why the body cannot be sent again.
        why: String,
    },
    /// Authentication failed.
    #[error("auth: {0}")]
    Auth(String),
    /// Reading the local source or writing the local destination failed.
    #[error("{0}")]
    Local(#[from] std::io::Error),
    /// Something the server sent makes no sense for the operation.
    #[error("{0}")]
    Invalid(String),
}

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Delay before the first retry; doubled for each further one.
    pub first_delay: Duration,
    /// Longest delay (also caps a server's Retry-After).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(64),
        }
    }
}

impl RetryPolicy {
    fn delay(&self, retry: u32, retry_after: Option<&str>) -> Duration {
        let backoff = self
            .first_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        let server = retry_after
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        backoff.max(server.unwrap_or_default()).min(self.max_delay)
    }
}

/// What happened on the wire, shared by every client of a session (and read
/// by progress displays and summaries).
#[derive(Debug, Default)]
pub struct Counters {
    /// Request body bytes written to sockets, retries included.
    pub bytes_sent: AtomicU64,
    /// Response body bytes received.
    pub bytes_received: AtomicU64,
    /// Requests sent again after a failure.
    pub retries: AtomicU64,
    /// Re-authentications after a 401.
    pub reauths: AtomicU64,
    faults: Mutex<Vec<String>>,
}

impl Counters {
    /// Every failure that led to a retry, in order.
    pub fn faults(&self) -> Vec<String> {
        self.faults.lock().map(|f| f.clone()).unwrap_or_default()
    }
    fn fault(&self, what: String) {
        if let Ok(mut f) = self.faults.lock() {
            f.push(what);
        }
    }
}

/// tempauth credentials, as python-swiftclient takes them.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Auth URL (`http://host:port/auth/v1.0`).
    pub auth: String,
    /// `account:user`.
    pub user: String,
    /// Key.
    pub key: String,
}

struct Token {
    token: String,
    storage: HttpUrl,
    generation: u64,
}

/// Shared by all clients of one command: credentials, the current token,
/// the retry policy and the counters. Clients on several threads share one
/// session; a 401 on any of them re-authenticates once for all.
pub struct Session {
    creds: Credentials,
    auth_url: HttpUrl,
    /// Timeout of each connect, read and write.
    pub timeout: Duration,
    /// Retry policy.
    pub policy: RetryPolicy,
    /// Wire counters.
    pub counters: Counters,
    token: Mutex<Option<Token>>,
    log: Box<dyn Fn(&str) + Send + Sync>,
}

impl Session {
    /// A session; nothing is sent until the first request. `log` receives
    /// one line per retry.
    pub fn new(
        creds: Credentials,
        timeout: Duration,
        policy: RetryPolicy,
        log: Box<dyn Fn(&str) + Send + Sync>,
    ) -> Result<Arc<Session>, SwiftError> {
        let auth_url = parse_url(&creds.auth).map_err(SwiftError::Auth)?;
        Ok(Arc::new(Session {
            creds,
            auth_url,
            timeout,
            policy,
            counters: Counters::default(),
            token: Mutex::new(None),
            log,
        }))
    }

    fn current(&self) -> Option<(String, HttpUrl, u64)> {
        let t = self.token.lock().ok()?;
        t.as_ref()
            .map(|t| (t.token.clone(), t.storage.clone(), t.generation))
    }

    /// Counts a retry, records why and tells the user.
    pub fn record_retry(&self, line: String) {
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        (self.log)(&line);
        self.counters.fault(line);
    }

    /// The storage URL's address and path, authenticating first if needed.
    pub async fn storage(&self) -> Result<HttpUrl, SwiftError> {
        Ok(self.token_or_auth(0).await?.1)
    }

    /// The current token, or a new one when none is held or the one held is
    /// generation `stale` (it just got a 401).
    async fn token_or_auth(&self, stale: u64) -> Result<(String, HttpUrl, u64), SwiftError> {
        if let Some(t) = self.current() {
            if t.2 > stale {
                return Ok(t);
            }
        }
        let mut last = None;
        for attempt in 0..=self.policy.retries {
            if attempt > 0 {
                monoio::time::sleep(self.policy.delay(attempt, None)).await;
            }
            match self.authenticate().await {
                Ok((token, storage)) => {
                    let mut g = self
                        .token
                        .lock()
                        .map_err(|_| SwiftError::Auth("token lock poisoned".into()))?;
                    let generation = g.as_ref().map_or(0, |t| t.generation) + 1;
                    *g = Some(Token {
                        token: token.clone(),
                        storage: storage.clone(),
                        generation,
                    });
                    if generation > 1 {
                        self.counters.reauths.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok((token, storage, generation));
                }
                Err(AuthFailure::Final(e)) => return Err(SwiftError::Auth(e)),
                Err(AuthFailure::Retry(e)) => {
                    (self.log)(&format!("auth failed, retrying: {e}"));
                    last = Some(e);
                }
            }
        }
        Err(SwiftError::Auth(last.unwrap_or_default()))
    }

    async fn authenticate(&self) -> Result<(String, HttpUrl), AuthFailure> {
        let a = &self.auth_url;
        let mut conn = ClientConn::connect(a.addr, self.timeout)
            .await
            .map_err(|e| AuthFailure::Retry(e.to_string()))?;
        let head = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nX-Auth-User: {}\r\nX-Auth-Key: {}\r\n\r\n",
            a.path, a.host, self.creds.user, self.creds.key
        );
        conn.write_all(head.into_bytes())
            .await
            .map_err(|e| AuthFailure::Retry(e.to_string()))?;
        let resp = conn
            .read_head()
            .await
            .map_err(|e| AuthFailure::Retry(e.to_string()))?;
        conn.read_body("GET", &resp, &mut |_| {})
            .await
            .map_err(|e| AuthFailure::Retry(e.to_string()))?;
        if resp.status == 408 || resp.status == 429 || resp.status >= 500 {
            return Err(AuthFailure::Retry(format!("HTTP {}", resp.status)));
        }
        if resp.status / 100 != 2 {
            return Err(AuthFailure::Final(format!(
                "HTTP {} from {} as {}",
                resp.status, self.creds.auth, self.creds.user
            )));
        }
        let token = resp
            .header("x-auth-token")
            .or_else(|| resp.header("x-storage-token"))
            .ok_or_else(|| AuthFailure::Final("no X-Auth-Token in the answer".into()))?;
        let url = resp
            .header("x-storage-url")
            .ok_or_else(|| AuthFailure::Final("no X-Storage-Url in the answer".into()))?;
        let storage = parse_url(url).map_err(AuthFailure::Final)?;
        Ok((token.to_string(), storage))
    }
}

enum AuthFailure {
    Retry(String),
    Final(String),
}

/// A final response with its body collected.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status and headers.
    pub head: ResponseHead,
    /// The body (for 2xx streamed requests, empty: it went to the sink).
    pub body: Vec<u8>,
}

impl Response {
    /// Status code.
    pub fn status(&self) -> u16 {
        self.head.status
    }
    /// First value of a header (lower-case name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }
    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        self.head.status / 100 == 2
    }
}

/// Whether a status is worth another attempt.
fn retryable(status: u16) -> bool {
    matches!(status, 408 | 429) || (status >= 500 && !matches!(status, 501 | 505))
}

/// One attempt's outcome when it did not produce a final answer.
enum Failure {
    /// Below HTTP: reconnect and retry.
    Conn(ClientError),
    /// The local body failed to read.
    Local(std::io::Error),
}

/// A Swift API client with one keep-alive connection. Not `Send`: each
/// thread (one monoio runtime each) has its own, sharing a [`Session`].
pub struct Client {
    session: Arc<Session>,
    conn: Option<(SocketAddr, ClientConn)>,
    buf: Vec<u8>,
}

impl Client {
    /// A client of `session`.
    pub fn new(session: Arc<Session>) -> Client {
        Client {
            session,
            conn: None,
            buf: Vec::new(),
        }
    }

    /// The session this client belongs to.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    async fn connection(&mut self, addr: SocketAddr) -> Result<&mut ClientConn, ClientError> {
        let reuse = matches!(&self.conn, Some((a, c)) if *a == addr && !c.is_closed());
        if !reuse {
            self.conn = None;
            let c = ClientConn::connect(addr, self.session.timeout).await?;
            self.conn = Some((addr, c));
        }
        match &mut self.conn {
            Some((_, c)) => Ok(c),
            None => Err(ClientError::Protocol("no connection".into())),
        }
    }

    /// Sends one request and reads the answer. `path` is below the storage
    /// URL (see [`object_path`]), query included. Non-2xx bodies are
    /// collected; 2xx bodies go to `sink` (which may refuse with an error).
    async fn attempt<B: Body>(
        &mut self,
        method: &str,
        addr_host: (&SocketAddr, &str),
        target: &str,
        headers: &[(&str, String)],
        body: &mut B,
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<Response, Failure> {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", addr_host.1);
        for (k, v) in headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        let has_body = !(body.is_empty() && matches!(method, "GET" | "HEAD" | "DELETE"));
        let chunked = body.len().is_none();
        match body.len() {
            Some(n) if has_body => head.push_str(&format!("Content-Length: {n}\r\n")),
            Some(_) => {}
            None => head.push_str("Transfer-Encoding: chunked\r\n"),
        }
        // With a body, ask before sending it: a 401, 503 or 413 then costs
        // no body bytes.
        let expect = has_body && !body.is_empty();
        if expect {
            head.push_str("Expect: 100-continue\r\n");
        }
        head.push_str("\r\n");
        let session = self.session.clone();
        let mut buf = std::mem::take(&mut self.buf);
        let conn = self.connection(*addr_host.0).await.map_err(Failure::Conn)?;
        conn.write_all(head.into_bytes())
            .await
            .map_err(Failure::Conn)?;
        let mut early = None;
        if expect {
            let h = conn.read_head_interim(true).await.map_err(Failure::Conn)?;
            if h.status != 100 {
                // A final answer before the body: the body was never sent,
                // so this connection cannot carry another request.
                conn.mark_closed();
                early = Some(h);
            }
        }
        if early.is_none() && has_body {
            // Room before the data for a chunk-size line and after it for
            // the CRLF, so a chunk goes out in one write without a copy.
            const PRE: usize = 16;
            buf.resize(PRE + CHUNK + 2, 0);
            loop {
                let n = body
                    .read(&mut buf[PRE..PRE + CHUNK])
                    .map_err(Failure::Local)?;
                if n == 0 && !chunked {
                    break;
                }
                let (start, end) = if chunked {
                    let line = format!("{n:x}\r\n");
                    let start = PRE - line.len();
                    buf[start..PRE].copy_from_slice(line.as_bytes());
                    buf[PRE + n..PRE + n + 2].copy_from_slice(b"\r\n");
                    (start, PRE + n + 2)
                } else {
                    (PRE, PRE + n)
                };
                buf = conn
                    .write_all(monoio::buf::IoBuf::slice(buf, start..end))
                    .await
                    .map_err(Failure::Conn)?
                    .into_inner();
                session
                    .counters
                    .bytes_sent
                    .fetch_add(n as u64, Ordering::Relaxed);
                if n == 0 {
                    break;
                }
            }
        }
        let resp = match early {
            Some(h) => h,
            None => conn.read_head().await.map_err(Failure::Conn)?,
        };
        let mut collected = Vec::new();
        let mut sink_err = None;
        let ok = resp.status / 100 == 2;
        let received = &session.counters.bytes_received;
        conn.read_body(method, &resp, &mut |piece| {
            received.fetch_add(piece.len() as u64, Ordering::Relaxed);
            if sink_err.is_some() {
                return;
            }
            if ok {
                if let Err(e) = sink(piece) {
                    sink_err = Some(e);
                }
            } else if collected.len() < MAX_COLLECT {
                collected.extend_from_slice(piece);
            }
        })
        .await
        .map_err(Failure::Conn)?;
        self.buf = buf;
        if let Some(e) = sink_err {
            return Err(Failure::Local(e));
        }
        Ok(Response {
            head: resp,
            body: collected,
        })
    }

    /// Sends a request below the storage URL, retrying as the policy says.
    /// Returns the final response for any status that is not retried (the
    /// caller judges 404, 409, ...). A 2xx body goes to `sink`; a retry after
    /// the sink has seen bytes is refused (downloads resume with
    /// [`Client::get_to`] instead).
    pub async fn request<B: Body>(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &mut B,
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<Response, SwiftError> {
        let policy = self.session.policy.clone();
        let mut stale = 0;
        let mut attempt = 0u32;
        loop {
            let (token, storage, generation) = self.session.token_or_auth(stale).await?;
            let target = format!("{}{path}", storage.path);
            let mut all: Vec<(&str, String)> = vec![("X-Auth-Token", token)];
            all.extend(headers.iter().map(|(k, v)| (*k, v.clone())));
            let mut delivered = 0u64;
            let mut counting = |piece: &[u8]| {
                delivered += piece.len() as u64;
                sink(piece)
            };
            let outcome = self
                .attempt(
                    method,
                    (&storage.addr, &storage.host),
                    &target,
                    &all,
                    body,
                    &mut counting,
                )
                .await;
            let (cause, retry_after) = match outcome {
                Ok(r) if r.status() == 401 && attempt < policy.retries => {
                    stale = generation;
                    ("HTTP 401".to_string(), None)
                }
                Ok(r) if retryable(r.status()) && attempt < policy.retries => (
                    format!("HTTP {}", r.status()),
                    r.header("retry-after").map(str::to_string),
                ),
                Ok(r) if retryable(r.status()) || r.status() == 401 => {
                    return Err(SwiftError::Status {
                        method: method.into(),
                        path: path.into(),
                        status: r.status(),
                        body: String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
                            .trim()
                            .to_string(),
                    })
                }
                Ok(r) => return Ok(r),
                Err(Failure::Local(e)) => return Err(SwiftError::Local(e)),
                Err(Failure::Conn(e)) => {
                    self.conn = None;
                    if attempt >= policy.retries {
                        return Err(SwiftError::Transport {
                            method: method.into(),
                            path: path.into(),
                            attempts: attempt + 1,
                            source: e,
                        });
                    }
                    (e.to_string(), None)
                }
            };
            if delivered > 0 {
                return Err(SwiftError::NotRetryable {
                    method: method.into(),
                    path: path.into(),
                    cause,
                    why: "part of the response was already delivered".into(),
                });
            }
            if let Err(why) = body.rewind() {
                return Err(SwiftError::NotRetryable {
                    method: method.into(),
                    path: path.into(),
                    cause,
                    why,
                });
            }
            attempt += 1;
            let delay = if cause == "HTTP 401" {
                Duration::ZERO
            } else {
                policy.delay(attempt, retry_after.as_deref())
            };
            self.session.record_retry(format!(
                "{method} {path}: {cause}; retry {attempt}/{} in {:.1}s",
                policy.retries,
                delay.as_secs_f64()
            ));
            if !delay.is_zero() {
                monoio::time::sleep(delay).await;
            }
        }
    }

    /// A request without a body whose (small) answer is collected.
    pub async fn simple(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<Response, SwiftError> {
        let mut body = Vec::new();
        let mut r = self
            .request(method, path, headers, &mut NoBody, &mut |p| {
                if body.len() + p.len() > MAX_COLLECT {
                    return Err(std::io::Error::other("response too large"));
                }
                body.extend_from_slice(p);
                Ok(())
            })
            .await?;
        if r.ok() {
            r.body = body;
        }
        Ok(r)
    }

    /// GETs `path` into `sink`. A connection that fails mid-body is resumed
    /// with a Range request from the first byte not yet delivered, refusing
    /// a different object (its ETag changed) — the retry budget is shared
    /// with the request-level retries.
    pub async fn get_to(
        &mut self,
        path: &str,
        headers: &[(&str, String)],
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<Response, SwiftError> {
        let delivered = std::cell::Cell::new(0u64);
        let mut first: Option<Response> = None;
        let mut resumes = 0u32;
        loop {
            let before = delivered.get();
            let mut hs: Vec<(&str, String)> = headers.to_vec();
            if before > 0 {
                hs.push(("Range", format!("bytes={before}-")));
            }
            let mut counting = |p: &[u8]| {
                delivered.set(delivered.get() + p.len() as u64);
                sink(p)
            };
            match self
                .request("GET", path, &hs, &mut NoBody, &mut counting)
                .await
            {
                Ok(r) => {
                    let Some(f) = &first else {
                        return Ok(r);
                    };
                    if r.status() != 206 && !(r.status() == 200 && before == 0) {
                        return Err(SwiftError::Invalid(format!(
                            "resuming GET {path} at byte {before}: HTTP {}",
                            r.status()
                        )));
                    }
                    if r.header("etag") != f.header("etag") {
                        return Err(SwiftError::Invalid(format!(
                            "GET {path}: the object changed while it was downloaded"
                        )));
                    }
                    return Ok(f.clone());
                }
                Err(SwiftError::NotRetryable { cause, .. })
                    if delivered.get() > before && resumes < self.session.policy.retries =>
                {
                    // The head of this attempt is lost with the failure;
                    // fetch it once so the caller sees the object's headers.
                    if first.is_none() {
                        let h = self.simple("HEAD", path, headers).await?;
                        if !h.ok() {
                            return Err(SwiftError::Status {
                                method: "HEAD".into(),
                                path: path.into(),
                                status: h.status(),
                                body: String::new(),
                            });
                        }
                        first = Some(h);
                    }
                    resumes += 1;
                    self.session.record_retry(format!(
                        "GET {path}: {cause}; resuming at byte {}",
                        delivered.get()
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// GETs the cluster's `/info` (capabilities); `None` when the cluster
    /// does not publish it.
    pub async fn info(&mut self) -> Result<Option<serde_json::Value>, SwiftError> {
        let storage = self.session.storage().await?;
        let mut body = Vec::new();
        let r = self
            .attempt(
                "GET",
                (&storage.addr, &storage.host),
                "/info",
                &[],
                &mut NoBody,
                &mut |p| {
                    body.extend_from_slice(p);
                    Ok(())
                },
            )
            .await;
        match r {
            Ok(r) if r.ok() => Ok(serde_json::from_slice(&body).ok()),
            Ok(_) => Ok(None),
            Err(Failure::Conn(e)) => {
                self.conn = None;
                Err(SwiftError::Transport {
                    method: "GET".into(),
                    path: "/info".into(),
                    attempts: 1,
                    source: e,
                })
            }
            Err(Failure::Local(e)) => Err(SwiftError::Local(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_classes() {
        for s in [408, 429, 500, 502, 503, 504, 507] {
            assert!(retryable(s), "{s}");
        }
        for s in [200, 201, 400, 401, 403, 404, 409, 412, 413, 422, 501, 505] {
            assert!(!retryable(s), "{s}");
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            retries: 10,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert_eq!(p.delay(1, None), Duration::from_millis(100));
        assert_eq!(p.delay(2, None), Duration::from_millis(200));
        assert_eq!(p.delay(3, None), Duration::from_millis(400));
        assert_eq!(p.delay(9, None), Duration::from_secs(1));
        assert_eq!(p.delay(1, Some("0.5")), Duration::from_millis(500));
        assert_eq!(p.delay(1, Some("3600")), Duration::from_secs(1));
        assert_eq!(p.delay(1, Some("soon")), Duration::from_millis(100));
    }

    #[test]
    fn names_are_encoded() {
        assert_eq!(object_path("c d", Some("a/b c")), "/c%20d/a/b%20c");
        assert_eq!(object_path("c/x", None), "/c%2Fx");
        assert_eq!(encode_component("a&b=c"), "a%26b%3Dc");
    }
}
