//! A fault-injecting HTTP/1.1 proxy over real sockets, placed between the
//! `paco` client commands and a node. Requests are matched by method and a
//! path substring; the n-th match of a rule gets its fault: the connection
//! dropped after some body bytes, a status answered (before or after some
//! body), a stall, or a response cut short. Everything else is relayed.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What goes wrong.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Relay the head and this many request body bytes, then close both sides.
    Drop { after: u64 },
    /// Answer this status; with `after`, only once that many body bytes
    /// arrived (sending `100 Continue` first), otherwise at once.
    Status { code: u16, after: Option<u64> },
    /// Relay the head and this many body bytes, then go silent for `hold`.
    Stall { after: u64, hold: Duration },
    /// Relay the request; relay the response head and this many body
    /// bytes, then close.
    CutResponse { after: u64 },
}

/// The `nth` (1-based) request matching `method` and `path_contains` gets
/// `fault`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: &'static str,
    pub path_contains: String,
    pub nth: usize,
    pub fault: Fault,
}

impl Rule {
    pub fn new(method: &'static str, path_contains: &str, nth: usize, fault: Fault) -> Rule {
        Rule {
            method,
            path_contains: path_contains.to_string(),
            nth,
            fault,
        }
    }
}

/// What the proxy saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Request body bytes received from clients (chunk framing included).
    pub body_bytes: AtomicU64,
    /// `METHOD path` of each request, with the fault applied if any.
    pub log: Mutex<Vec<String>>,
    /// Faults applied.
    pub faults: AtomicU64,
}

struct Shared {
    upstream: u16,
    rules: Vec<(Rule, AtomicU64)>,
    seen: Seen,
    stop: AtomicBool,
}

/// A running proxy; stops (and closes its listener) on drop.
pub struct FaultProxy {
    pub port: u16,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    pub fn start(upstream: u16, rules: Vec<Rule>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Shared {
            upstream,
            rules: rules.into_iter().map(|r| (r, AtomicU64::new(0))).collect(),
            seen: Seen::default(),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &s);
                });
            }
        });
        FaultProxy {
            port,
            shared,
            thread: Some(thread),
        }
    }

    pub fn seen(&self) -> &Seen {
        &self.shared.seen
    }

    pub fn log(&self) -> Vec<String> {
        self.shared
            .seen
            .log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A socket with a read buffer.
struct Wire {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Wire {
    fn new(s: TcpStream) -> Wire {
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        Wire { s, buf: Vec::new() }
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 64 * 1024];
        let n = self.s.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    /// A head up to and including the blank line; `None` at a clean EOF.
    fn head(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(Some(self.buf.drain(..p + 4).collect()));
            }
            if self.fill()? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return Ok(self.buf.drain(..p + 2).collect());
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Up to `n` bytes (fewer only at EOF).
    fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                break;
            }
        }
        let n = n.min(self.buf.len());
        Ok(self.buf.drain(..n).collect())
    }
}

/// How a message body is framed.
#[derive(Clone, Copy)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn request_framing(head: &str) -> Framing {
    if header(head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        Framing::Chunked
    } else {
        match header(head, "content-length").and_then(|v| v.parse().ok()) {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        }
    }
}

fn response_framing(head: &str, method: &str) -> Framing {
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if method == "HEAD" || status == 204 || status == 304 || status / 100 == 1 {
        return Framing::None;
    }
    if header(head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return Framing::Chunked;
    }
    match header(head, "content-length").and_then(|v| v.parse().ok()) {
        Some(0) => Framing::None,
        Some(n) => Framing::Length(n),
        None => Framing::UntilClose,
    }
}

/// Copies a body from `from` to `to` (if any), at most `limit` raw bytes;
/// returns (bytes copied, whether the body ended).
fn copy_body(
    from: &mut Wire,
    mut to: Option<&mut TcpStream>,
    framing: Framing,
    limit: u64,
    counter: Option<&AtomicU64>,
) -> io::Result<(u64, bool)> {
    let mut copied = 0u64;
    let mut emit = |data: &[u8], to: &mut Option<&mut TcpStream>| -> io::Result<bool> {
        let room = (limit - copied).min(data.len() as u64) as usize;
        if let Some(t) = to.as_mut() {
            t.write_all(&data[..room])?;
        }
        copied += room as u64;
        if let Some(c) = counter {
            c.fetch_add(room as u64, Ordering::Relaxed);
        }
        Ok(room == data.len())
    };
    match framing {
        Framing::None => Ok((0, true)),
        Framing::Length(n) => {
            let mut left = n;
            while left > 0 {
                let piece = from.take(left.min(64 * 1024) as usize)?;
                if piece.is_empty() {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                left -= piece.len() as u64;
                if !emit(&piece, &mut to)? {
                    return Ok((copied, false));
                }
            }
            Ok((copied, true))
        }
        Framing::UntilClose => loop {
            let piece = from.take(64 * 1024)?;
            if piece.is_empty() {
                return Ok((copied, true));
            }
            if !emit(&piece, &mut to)? {
                return Ok((copied, false));
            }
        },
        Framing::Chunked => loop {
            let line = from.line()?;
            let size = u64::from_str_radix(
                String::from_utf8_lossy(&line)
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim(),
                16,
            )
            .map_err(|_| io::Error::other("bad chunk size"))?;
            if !emit(&line, &mut to)? {
                return Ok((copied, false));
            }
            if size == 0 {
                loop {
                    let l = from.line()?;
                    if !emit(&l, &mut to)? {
                        return Ok((copied, false));
                    }
                    if l == b"\r\n" {
                        return Ok((copied, true));
                    }
                }
            }
            let mut left = size + 2;
            while left > 0 {
                let piece = from.take(left.min(64 * 1024) as usize)?;
                if piece.is_empty() {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                left -= piece.len() as u64;
                if !emit(&piece, &mut to)? {
                    return Ok((copied, false));
                }
            }
        },
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        401 => "Unauthorized",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Fault",
    }
}

fn status_response(code: u16) -> Vec<u8> {
    let body = format!("injected {code}");
    format!(
        "HTTP/1.1 {code} {}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n{body}",
        reason(code),
        body.len()
    )
    .into_bytes()
}

/// Relays one response (interim ones included) from `up` to `client`.
fn relay_response(
    up: &mut Wire,
    client: &mut TcpStream,
    method: &str,
    cut: Option<u64>,
) -> io::Result<bool> {
    loop {
        let head = up.head()?.ok_or(io::ErrorKind::UnexpectedEof)?;
        client.write_all(&head)?;
        let text = String::from_utf8_lossy(&head).into_owned();
        if text.starts_with("HTTP/1.1 100") {
            continue;
        }
        let framing = response_framing(&text, method);
        let (_, done) = copy_body(up, Some(client), framing, cut.unwrap_or(u64::MAX), None)?;
        return Ok(done && !matches!(framing, Framing::UntilClose));
    }
}

fn serve(client: TcpStream, s: &Shared) -> io::Result<()> {
    let mut cw = Wire::new(client.try_clone()?);
    let mut client = client;
    let mut up: Option<(Wire, TcpStream)> = None;
    loop {
        let Some(head) = cw.head()? else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut first = text.split_whitespace();
        let method = first.next().unwrap_or("").to_string();
        let path = first.next().unwrap_or("").to_string();
        // Every matching rule counts the request; the first due one fires.
        let mut fault = None;
        for (r, count) in &s.rules {
            if r.method == method && path.contains(&r.path_contains) {
                let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                if n as usize == r.nth && fault.is_none() {
                    fault = Some(r.fault.clone());
                }
            }
        }
        if let Ok(mut l) = s.seen.log.lock() {
            l.push(match &fault {
                Some(f) => format!("{method} {path} <- {f:?}"),
                None => format!("{method} {path}"),
            });
        }
        if fault.is_some() {
            s.seen.faults.fetch_add(1, Ordering::SeqCst);
        }
        let framing = request_framing(&text);
        let expect =
            header(&text, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        if let Some(Fault::Status { code, after }) = fault {
            if let Some(n) = after {
                if expect {
                    client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
                }
                copy_body(&mut cw, None, framing, n, Some(&s.seen.body_bytes))?;
                client.write_all(&status_response(code))?;
                // Read (and drop) whatever else comes, raw, until the client
                // has read the answer and closes: it then sees the status.
                let _ = cw.s.set_read_timeout(Some(Duration::from_secs(5)));
                while let Ok(piece) = cw.take(64 * 1024) {
                    if piece.is_empty() {
                        break;
                    }
                    s.seen
                        .body_bytes
                        .fetch_add(piece.len() as u64, Ordering::Relaxed);
                }
            } else {
                client.write_all(&status_response(code))?;
            }
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        if up.is_none() {
            let u = TcpStream::connect(("127.0.0.1", s.upstream))?;
            up = Some((Wire::new(u.try_clone()?), u));
        }
        let Some((ur, uw)) = up.as_mut() else {
            return Ok(());
        };
        uw.write_all(&head)?;
        if expect && !matches!(framing, Framing::None) {
            let h = ur.head()?.ok_or(io::ErrorKind::UnexpectedEof)?;
            client.write_all(&h)?;
            let t = String::from_utf8_lossy(&h).into_owned();
            if !t.starts_with("HTTP/1.1 100") {
                // Final answer before the body: relay it and end here.
                let f = response_framing(&t, &method);
                copy_body(ur, Some(&mut client), f, u64::MAX, None)?;
                let _ = client.shutdown(Shutdown::Both);
                return Ok(());
            }
        }
        let limit = match &fault {
            Some(Fault::Drop { after }) | Some(Fault::Stall { after, .. }) => *after,
            _ => u64::MAX,
        };
        let (_, done) = copy_body(&mut cw, Some(uw), framing, limit, Some(&s.seen.body_bytes))?;
        if !done {
            if let Some(Fault::Stall { hold, .. }) = fault {
                std::thread::sleep(hold);
            }
            let _ = uw.shutdown(Shutdown::Both);
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        let cut = match fault {
            Some(Fault::CutResponse { after }) => Some(after),
            _ => None,
        };
        let complete = relay_response(ur, &mut client, &method, cut)?;
        if !complete {
            let _ = uw.shutdown(Shutdown::Both);
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
}
