//! Request heads: parsing with httparse under explicit limits.

use std::net::SocketAddr;

use super::{Headers, Limits};

/// How the request body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (no Content-Length, not chunked).
    None,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method as sent (`GET`, `PUT`, ...).
    pub method: String,
    /// The path part of the target, still percent-encoded.
    pub raw_path: String,
    /// The query string without `?`, still encoded (empty when absent).
    pub query: String,
    /// All headers in order.
    pub headers: Headers,
    /// Whether this is HTTP/1.1 (else 1.0).
    pub http11: bool,
    /// Body framing.
    pub framing: Framing,
    /// The client sent `Expect: 100-continue`.
    pub expect_continue: bool,
    /// The client wants the connection kept open after this request.
    pub keep_alive: bool,
    /// The peer's address.
    pub peer: Option<SocketAddr>,
    /// Names of headers whose values were not valid UTF-8 (kept as Latin-1
    /// in `headers`); account and container metadata must refuse them.
    pub non_utf8: Vec<String>,
}

/// Why a head was refused, with the status Swift's front end answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {reason}")]
pub struct HeadError {
    /// HTTP status to answer with before closing.
    pub status: u16,
    /// Short body text.
    pub reason: String,
}

fn head_err(status: u16, reason: impl Into<String>) -> HeadError {
    HeadError {
        status,
        reason: reason.into(),
    }
}

/// Where the head ends (index just past `\r\n\r\n`), if it is complete.
pub fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Explains why an incomplete head that already fills `buf` is refused:
/// a request line or a header line over its limit, or a head too large.
pub fn oversized_head(buf: &[u8], limits: &Limits) -> HeadError {
    match buf.iter().position(|&b| b == b'\n') {
        None => head_err(414, "Request line too long"),
        Some(first) if first > limits.max_request_line + 1 => {
            head_err(414, "Request line too long")
        }
        Some(_) => {
            let long_line = buf
                .split(|&b| b == b'\n')
                .any(|l| l.len() > limits.max_header_line + 1);
            if long_line {
                head_err(400, "Header line too long")
            } else {
                head_err(400, "Request header fields too large")
            }
        }
    }
}

/// Parses a complete head (`buf` ends with the blank line).
pub fn parse_head(
    buf: &[u8],
    limits: &Limits,
    peer: Option<SocketAddr>,
) -> Result<Request, HeadError> {
    let mut lines = buf.split(|&b| b == b'\n');
    if let Some(first) = lines.next() {
        if first.len() > limits.max_request_line + 1 {
            return Err(head_err(414, "Request line too long"));
        }
    }
    if lines.any(|l| l.len() > limits.max_header_line + 1) {
        return Err(head_err(400, "Header line too long"));
    }
    // `GET /info asdf HTTP/1.1`: a target with a raw space. Swift answers
    // 412 for such a path rather than a bare 400.
    let first_line = buf.split(|&b| b == b'\n').next().unwrap_or(b"");
    let first_line = first_line.strip_suffix(b"\r").unwrap_or(first_line);
    let words = first_line
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .count();
    if words > 3 && (first_line.ends_with(b"HTTP/1.1") || first_line.ends_with(b"HTTP/1.0")) {
        return Err(head_err(412, "Invalid path: spaces in the request target"));
    }
    // Clients (and Swift's tests) send raw UTF-8 or even invalid bytes in
    // the path; httparse wants a token, so such bytes are percent-encoded
    // first and judged later by the path decoder (412 for invalid UTF-8).
    let escaped;
    let buf = match escape_target(buf) {
        Some(e) => {
            escaped = e;
            &escaped[..]
        }
        None => buf,
    };
    // Most heads fit the slots on the stack; only a head with more
    // headers than that (and a limit allowing it) pays for the full set.
    let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let mut heap;
    let storage: &mut [httparse::Header<'_>] = if limits.max_headers <= STACK_HEADERS {
        &mut stack[..limits.max_headers]
    } else if count_lines(buf) <= STACK_HEADERS {
        &mut stack
    } else {
        heap = vec![httparse::EMPTY_HEADER; limits.max_headers];
        &mut heap
    };
    let mut parsed = httparse::Request::new(storage);
    match parsed.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(head_err(400, "Incomplete request head")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(head_err(400, "Too many headers"));
        }
        Err(e) => return Err(head_err(400, format!("Malformed request: {e}"))),
    }
    let method = parsed.method.unwrap_or_default().to_string();
    let target = parsed.path.unwrap_or_default();
    let http11 = parsed.version == Some(1);
    if !target.starts_with('/') {
        return Err(head_err(400, "Request target must be an absolute path"));
    }
    let (raw_path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };
    let mut headers = Headers::with_capacity(
        parsed.headers.len(),
        parsed
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum(),
    );
    let mut non_utf8 = Vec::new();
    for h in parsed.headers.iter() {
        match std::str::from_utf8(h.value) {
            Ok(v) => headers.append(h.name, v.trim()),
            Err(_) => {
                headers.append(h.name, latin1(h.value).trim());
                non_utf8.push(h.name.to_string());
            }
        }
    }

    let framing = framing(&headers)?;
    let expect_continue = headers
        .get("expect")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    let connection = headers.get("connection").unwrap_or("");
    let keep_alive = if http11 {
        !connection
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("close"))
    } else {
        connection
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("keep-alive"))
    };
    Ok(Request {
        method,
        raw_path,
        query,
        headers,
        http11,
        framing,
        expect_continue,
        keep_alive,
        peer,
        non_utf8,
    })
}

/// A copy of the head with bytes >= 0x80 in the request line
/// percent-encoded, or `None` when the request line is plain ASCII.
fn escape_target(buf: &[u8]) -> Option<Vec<u8>> {
    let line_end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    if buf[..line_end].iter().all(|b| b.is_ascii()) {
        return None;
    }
    let mut out = Vec::with_capacity(buf.len() + 64);
    for &b in &buf[..line_end] {
        if b.is_ascii() {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out.extend_from_slice(&buf[line_end..]);
    Some(out)
}

/// Header slots parsed on the stack before a head needs heap ones.
const STACK_HEADERS: usize = 64;

/// Lines in a head after the request line: an upper bound of its headers.
fn count_lines(buf: &[u8]) -> usize {
    buf.iter()
        .filter(|&&b| b == b'\n')
        .count()
        .saturating_sub(1)
}

/// Header values are normally UTF-8 (Swift clients send UTF-8); anything
/// else is kept byte for byte as Latin-1 characters rather than dropped.
fn latin1(raw: &[u8]) -> String {
    raw.iter().map(|&b| b as char).collect()
}

fn framing(headers: &Headers) -> Result<Framing, HeadError> {
    // Swift accepts `chunked` and nothing else (no gzip, no lists).
    if let Some(te) = headers.get("transfer-encoding") {
        if te.trim().eq_ignore_ascii_case("chunked") {
            return Ok(Framing::Chunked);
        }
        return Err(head_err(501, "Unsupported Transfer-Encoding"));
    }
    // Every Content-Length (repeated headers, or a comma list) must agree:
    // disagreeing lengths are how requests get smuggled past a proxy.
    let mut length: Option<u64> = None;
    for (_, v) in headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        for item in v.split(',') {
            let item = item.trim();
            if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
                return Err(head_err(400, "Invalid Content-Length"));
            }
            let n = item
                .parse::<u64>()
                .map_err(|_| head_err(400, "Invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(head_err(400, "Conflicting Content-Length headers"));
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(Framing::None, Framing::Length))
}

impl Request {
    /// A request made inside the node (a middleware's subrequest, a proxy's
    /// call to a local device): HTTP/1.1, keep-alive, no peer, no
    /// `Expect`, every header UTF-8.
    pub fn internal(
        method: &str,
        raw_path: String,
        query: &str,
        headers: Headers,
        framing: Framing,
    ) -> Request {
        Request {
            method: method.to_string(),
            raw_path,
            query: query.to_string(),
            headers,
            http11: true,
            framing,
            expect_continue: false,
            keep_alive: true,
            peer: None,
            non_utf8: Vec::new(),
        }
    }

    /// The decoded value of query parameter `name` (first occurrence); a
    /// parameter given without `=` yields an empty string.
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_pairs(&self.query)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Like [`Request::query_param`], but `Err` when the decoded value is not
    /// valid UTF-8 (Swift answers 400 for such listing parameters).
    pub fn query_param_utf8(&self, name: &str) -> Result<Option<String>, NotUtf8> {
        for pair in self.query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if form_decode(k) == name {
                let spaced = v.replace('+', " ");
                let bytes: Vec<u8> = percent_encoding::percent_decode_str(&spaced).collect();
                return String::from_utf8(bytes).map(Some).map_err(|_| NotUtf8);
            }
        }
        Ok(None)
    }
}

/// A query parameter whose decoded value is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("query parameter is not valid UTF-8")]
pub struct NotUtf8;

/// Decoded `key=value` pairs of a query string, `+` meaning space as in
/// form encoding (what Python's `parse_qsl`, and so Swift, does).
pub fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(k), form_decode(v))
    })
}

fn form_decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::for_tests()
    }

    #[test]
    fn parses_put_with_length_and_expect() {
        let raw = b"PUT /v1/AUTH_test/c/o%20x?multipart-manifest=put&a+b=c%2Fd HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nExpect: 100-continue\r\n\r\n";
        let r = parse_head(raw, &limits(), None).expect("parse");
        assert_eq!(r.method, "PUT");
        assert_eq!(r.raw_path, "/v1/AUTH_test/c/o%20x");
        assert_eq!(r.framing, Framing::Length(12));
        assert!(r.expect_continue && r.keep_alive && r.http11);
        assert_eq!(r.query_param("multipart-manifest").as_deref(), Some("put"));
        assert_eq!(r.query_param("a b").as_deref(), Some("c/d"));
    }

    #[test]
    fn chunked_wins_and_bad_lengths_are_refused() {
        let raw = b"PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(
            parse_head(raw, &limits(), None).expect("parse").framing,
            Framing::Chunked
        );
        let raw = b"PUT /x HTTP/1.1\r\nContent-Length: -5\r\n\r\n";
        assert_eq!(parse_head(raw, &limits(), None).unwrap_err().status, 400);
        let raw = b"PUT /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n";
        assert_eq!(parse_head(raw, &limits(), None).unwrap_err().status, 501);
    }

    #[test]
    fn conflicting_lengths_are_refused() {
        let raw = b"PUT /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(parse_head(raw, &limits(), None).unwrap_err().status, 400);
        let raw = b"PUT /x HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n";
        assert_eq!(parse_head(raw, &limits(), None).unwrap_err().status, 400);
        let raw = b"PUT /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(
            parse_head(raw, &limits(), None).expect("same").framing,
            Framing::Length(3)
        );
    }

    #[test]
    fn http10_closes_unless_asked() {
        let r = parse_head(b"GET / HTTP/1.0\r\n\r\n", &limits(), None).expect("parse");
        assert!(!r.keep_alive);
        let r = parse_head(
            b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
            &limits(),
            None,
        )
        .expect("parse");
        assert!(r.keep_alive);
        let r = parse_head(
            b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
            &limits(),
            None,
        )
        .expect("parse");
        assert!(!r.keep_alive);
    }

    #[test]
    fn limits_give_swift_statuses() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000));
        assert_eq!(
            parse_head(long.as_bytes(), &limits(), None)
                .unwrap_err()
                .status,
            414
        );
        let long = format!("GET / HTTP/1.1\r\nX-A: {}\r\n\r\n", "a".repeat(9000));
        assert_eq!(
            parse_head(long.as_bytes(), &limits(), None)
                .unwrap_err()
                .status,
            400
        );
        let mut many = String::from("GET / HTTP/1.1\r\n");
        for i in 0..200 {
            many.push_str(&format!("X-H{i}: v\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(
            parse_head(many.as_bytes(), &limits(), None)
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            parse_head(b"GARBAGE\r\n\r\n", &limits(), None)
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(oversized_head(&[b'a'; 10000], &limits()).status, 414);
    }

    /// Random and mutated heads never panic and never yield a request
    /// whose framing disagrees with its headers.
    #[test]
    fn random_heads_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x9ac0);
        let seeds: [&[u8]; 3] = [
            b"PUT /v1/a/c/o HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
            b"GET /v1/a/c?format=json&prefix=x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Object-Meta-A: b\r\n\r\n",
        ];
        for i in 0..20_000 {
            let mut buf = seeds[i % seeds.len()].to_vec();
            for _ in 0..rng.gen_range(1..6) {
                let at = rng.gen_range(0..buf.len());
                match rng.gen_range(0..3) {
                    0 => buf[at] = rng.gen(),
                    1 => buf.insert(at, rng.gen()),
                    _ => {
                        buf.remove(at);
                    }
                }
            }
            if let Ok(r) = parse_head(&buf, &limits(), None) {
                match r.framing {
                    Framing::Chunked => assert!(r.headers.contains("transfer-encoding")),
                    Framing::Length(_) => assert!(r.headers.contains("content-length")),
                    Framing::None => {}
                }
            }
        }
    }

    #[test]
    fn spaces_in_the_target_are_412() {
        let e = parse_head(
            b"GET /info asdf HTTP/1.1\r\nHost: x\r\n\r\n",
            &limits(),
            None,
        )
        .unwrap_err();
        assert_eq!(e.status, 412);
    }

    #[test]
    fn raw_non_ascii_paths_are_escaped_for_the_path_decoder() {
        let r = parse_head(
            b"GET /v1/a/\xe2\x98\x83/\xff HTTP/1.1\r\nHost: x\r\n\r\n",
            &limits(),
            None,
        )
        .expect("parse");
        assert_eq!(r.raw_path, "/v1/a/%E2%98%83/%FF");
        assert_eq!(r.headers.get("host"), Some("x"));
    }

    #[test]
    fn non_utf8_header_values_are_kept_as_latin1() {
        let r = parse_head(
            b"GET / HTTP/1.1\r\nX-Object-Meta-A: \xe9t\xe9\r\n\r\n",
            &limits(),
            None,
        )
        .expect("parse");
        assert_eq!(r.headers.get("x-object-meta-a"), Some("\u{e9}t\u{e9}"));
    }
}
