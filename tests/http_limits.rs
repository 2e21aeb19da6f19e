//! HTTP/1.1 behaviour: keep-alive, pipelining, chunked request bodies,
//! `Expect: 100-continue`, X-Trans-Id/Date everywhere, request-size limits,
//! malformed requests, idle and slow-client timeouts, and the per-worker
//! connection cap. Every test runs on both I/O drivers.

mod common;

use common::*;
use std::io;
use std::time::{Duration, Instant};

const A: &str = "/v1/AUTH_test";

fn keep_alive(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let mut c = node.conn();
    let body = pattern(5000, 3);
    let steps: Vec<(&str, String, Vec<u8>, u16)> = vec![
        ("PUT", format!("{A}/c/ka"), body.clone(), 201),
        ("GET", format!("{A}/c/ka"), vec![], 200),
        ("HEAD", format!("{A}/c/ka"), vec![], 200),
        ("GET", format!("{A}/c/missing"), vec![], 404),
        ("POST", format!("{A}/c/ka"), vec![], 202),
        ("GET", "/healthcheck".into(), vec![], 200),
        ("DELETE", format!("{A}/c/ka"), vec![], 204),
        ("GET", format!("{A}/c/ka"), vec![], 404),
    ];
    for (m, p, b, want) in &steps {
        let r = c.request(m, p, &[("X-Auth-Token", &tok)], b);
        assert_eq!(r.status, *want, "{m} {p} on a kept-alive connection: {r:?}");
        if *m == "GET" && *want == 200 && p.ends_with("/ka") {
            assert_eq!(r.body, body);
        }
    }
    // Pipelining: two requests in one write, answered in order.
    let mut raw = build_request(
        "PUT",
        &format!("{A}/c/p1"),
        &[("X-Auth-Token", &tok)],
        b"one",
    );
    raw.extend(build_request(
        "GET",
        &format!("{A}/c/p1"),
        &[("X-Auth-Token", &tok)],
        b"",
    ));
    raw.extend(build_request("GET", "/healthcheck", &[], b""));
    c.send(&raw);
    let r1 = c.read_response(false).expect("pipelined 1");
    let r2 = c.read_response(false).expect("pipelined 2");
    let r3 = c.read_response(false).expect("pipelined 3");
    assert_eq!(r1.status, 201, "{r1:?}");
    assert_eq!(
        (r2.status, r2.body.as_slice()),
        (200, &b"one"[..]),
        "{r2:?}"
    );
    assert_eq!((r3.status, r3.body.as_slice()), (200, &b"OK"[..]), "{r3:?}");
    // Connection: close is honoured.
    let r = c.request("GET", "/healthcheck", &[("Connection", "close")], b"");
    assert_eq!(r.status, 200);
    c.wait_closed(Duration::from_secs(3))
        .expect("server closes after Connection: close");
    // HTTP/1.0 without keep-alive: closed after the response.
    let mut c = node.conn();
    let r = c.raw(b"GET /healthcheck HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200, "{r:?}");
    c.wait_closed(Duration::from_secs(3))
        .expect("server closes an HTTP/1.0 connection");
}

fn chunked_put(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let big = pattern(300 * 1024, 9);
    let parts: Vec<&[u8]> = vec![b"hello ", b"chunked ", &big, b"w", b"orld"];
    let whole: Vec<u8> = parts.concat();
    let mut c = node.conn();
    let mut raw = format!("PUT {A}/c/chunky HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
    raw.extend(chunked(&parts));
    let r = c.raw(&raw);
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("etag"), Some(md5_hex(&whole).as_str()));
    // Same connection still usable.
    let g = c.request(
        "GET",
        &format!("{A}/c/chunky"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 200);
    assert_eq!(
        g.header("content-length"),
        Some(whole.len().to_string().as_str())
    );
    assert!(g.body == whole, "chunked body stored wrong");

    // Chunk extensions, upper-case hex and a trailer section are legal.
    let raw = format!(
        "PUT {A}/c/chunky2 HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nTransfer-Encoding: chunked\r\n\r\n\
         5;name=value\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
    );
    let r = c.raw(raw.as_bytes());
    assert_eq!(r.status, 201, "{r:?}");
    let g = c.request(
        "GET",
        &format!("{A}/c/chunky2"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.body, b"hello0123456789");

    // Chunked body sent in dribbles.
    let mut c = node.conn();
    c.send(format!("PUT {A}/c/chunky3 HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nTransfer-Encoding: chunked\r\n\r\n").as_bytes());
    for piece in [
        &b"3\r"[..],
        b"\nabc",
        b"\r\n",
        b"2\r\nde\r",
        b"\n0\r\n",
        b"\r\n",
    ] {
        std::thread::sleep(Duration::from_millis(30));
        c.send(piece);
    }
    let r = c.read_response(false).unwrap();
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        node.req(
            "GET",
            &format!("{A}/c/chunky3"),
            &[("X-Auth-Token", &tok)],
            b""
        )
        .body,
        b"abcde"
    );

    // A malformed chunk size is a 400 and nothing is stored.
    let mut c = node.conn();
    let raw = format!("PUT {A}/c/badchunk HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
    let r = c.raw(raw.as_bytes());
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        node.req(
            "HEAD",
            &format!("{A}/c/badchunk"),
            &[("X-Auth-Token", &tok)],
            b""
        )
        .status,
        404
    );
}

fn expect_100_continue(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let body = pattern(64 * 1024, 5);

    // Accepted: 100 Continue before the body is sent, then 201.
    let mut c = node.conn();
    c.send(
        format!("PUT {A}/c/cont HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n", body.len())
            .as_bytes(),
    );
    c.set_read_timeout(Duration::from_secs(5));
    let interim = c
        .read_response(false)
        .expect("an interim response before the body");
    assert_eq!(
        interim.status, 100,
        "expected 100 Continue, got {interim:?}"
    );
    c.send(&body);
    let r = c.read_response(false).expect("final response");
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("etag"), Some(md5_hex(&body).as_str()));
    // Keep-alive after a 100-continue exchange.
    let g = c.request(
        "GET",
        &format!("{A}/c/cont"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 200);
    assert!(g.body == body);

    // Chunked + Expect.
    let mut c = node.conn();
    c.send(format!("PUT {A}/c/cont2 HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n").as_bytes());
    let interim = c.read_response(false).expect("interim");
    assert_eq!(interim.status, 100, "{interim:?}");
    c.send(&chunked(&[b"abc"]));
    assert_eq!(c.read_response(false).unwrap().status, 201);

    // Refused before the body is read: final status, no 100.
    let refusals: Vec<(String, u16)> = vec![
        (format!("PUT {A}/c/noauth HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"), 401),
        (
            format!("PUT {A}/c/huge HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: 99999999999\r\nExpect: 100-continue\r\n\r\n"),
            413,
        ),
        (
            format!("PUT {A}/c/cont HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: 10\r\nIf-None-Match: *\r\nExpect: 100-continue\r\n\r\n"),
            412,
        ),
        (
            format!("PUT {A}/c/badmeta HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: 10\r\nX-Object-Meta-{}: v\r\nExpect: 100-continue\r\n\r\n", "n".repeat(129)),
            400,
        ),
    ];
    for (head, want) in refusals {
        let mut c = node.conn();
        c.set_read_timeout(Duration::from_secs(5));
        c.send(head.as_bytes());
        let r = c
            .read_response(false)
            .unwrap_or_else(|e| panic!("no response to {head:?}: {e}"));
        assert_eq!(
            r.status, want,
            "request {head:?} must be refused without 100 Continue: {r:?}"
        );
        assert_common_headers(&r);
    }
}

fn trans_id_and_date_everywhere(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    assert_eq!(
        node.req(
            "PUT",
            &format!("{A}/c/o"),
            &[("X-Auth-Token", &tok)],
            b"data"
        )
        .status,
        201
    );
    let mut seen = std::collections::HashSet::new();
    let mut check = |what: &str, r: Response| {
        assert_common_headers(&r);
        let id = r.header("x-trans-id").unwrap().to_string();
        assert!(
            id.starts_with("tx"),
            "{what}: X-Trans-Id {id:?} not Swift-shaped"
        );
        assert!(seen.insert(id.clone()), "{what}: X-Trans-Id {id} repeated");
    };
    let t = tok.as_str();
    check(
        "auth",
        node.req(
            "GET",
            "/auth/v1.0",
            &[("X-Auth-User", "test:tester"), ("X-Auth-Key", "testing")],
            b"",
        ),
    );
    check(
        "auth 401",
        node.req(
            "GET",
            "/auth/v1.0",
            &[("X-Auth-User", "test:tester"), ("X-Auth-Key", "x")],
            b"",
        ),
    );
    check("healthcheck", node.req("GET", "/healthcheck", &[], b""));
    check("info", node.req("GET", "/info", &[], b""));
    check(
        "GET",
        node.req("GET", &format!("{A}/c/o"), &[("X-Auth-Token", t)], b""),
    );
    check(
        "HEAD",
        node.req("HEAD", &format!("{A}/c/o"), &[("X-Auth-Token", t)], b""),
    );
    check(
        "206",
        node.req(
            "GET",
            &format!("{A}/c/o"),
            &[("X-Auth-Token", t), ("Range", "bytes=0-1")],
            b"",
        ),
    );
    check(
        "416",
        node.req(
            "GET",
            &format!("{A}/c/o"),
            &[("X-Auth-Token", t), ("Range", "bytes=10-20")],
            b"",
        ),
    );
    check(
        "304",
        node.req(
            "GET",
            &format!("{A}/c/o"),
            &[("X-Auth-Token", t), ("If-None-Match", "*")],
            b"",
        ),
    );
    check(
        "412",
        node.req(
            "GET",
            &format!("{A}/c/o"),
            &[("X-Auth-Token", t), ("If-Match", "\"x\"")],
            b"",
        ),
    );
    check(
        "404",
        node.req("GET", &format!("{A}/c/nope"), &[("X-Auth-Token", t)], b""),
    );
    check("401", node.req("GET", &format!("{A}/c/o"), &[], b""));
    check(
        "403",
        node.req("GET", "/v1/AUTH_test2/c/o", &[("X-Auth-Token", t)], b""),
    );
    check(
        "202",
        node.req("POST", &format!("{A}/c/o"), &[("X-Auth-Token", t)], b""),
    );
    check(
        "201",
        node.req("PUT", &format!("{A}/c/o2"), &[("X-Auth-Token", t)], b"x"),
    );
    check(
        "204",
        node.req("DELETE", &format!("{A}/c/o2"), &[("X-Auth-Token", t)], b""),
    );
    check("400", node.conn().raw(b"NONSENSE\r\n\r\n"));
    check(
        "411",
        node.conn().raw(
            format!("PUT {A}/c/x HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {t}\r\n\r\n").as_bytes(),
        ),
    );
    check(
        "414",
        node.conn()
            .raw(format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000)).as_bytes()),
    );
    check(
        "431",
        node.conn().raw(
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(9000)
            )
            .as_bytes(),
        ),
    );
    check("unknown path", node.req("GET", "/nowhere", &[], b""));
}

fn request_line_limit(driver: &str) {
    let node = Node::start(driver);
    // ~8000 bytes of request line: fine.
    let q = "a".repeat(8000 - "GET /healthcheck?x= HTTP/1.1".len());
    let r = node
        .conn()
        .raw(format!("GET /healthcheck?x={q} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    assert_eq!(r.status, 200, "8000-byte request line: {r:?}");
    for n in [8300, 20000, 100_000] {
        let mut c = node.conn();
        let raw = format!(
            "GET /healthcheck?x={} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(n)
        );
        // The server may answer and close before reading everything.
        let _ = c.try_send(raw.as_bytes());
        let r = c
            .read_response(false)
            .unwrap_or_else(|e| panic!("{n}-byte request line: no response: {e}"));
        assert_eq!(r.status, 414, "{n}-byte request line: {r:?}");
        assert!(!r.body.is_empty(), "414 should say why");
        assert_common_headers(&r);
    }
}

fn header_limits(driver: &str) {
    let node = Node::start(driver);
    // One 8000-byte header line: fine.
    let v = "v".repeat(8000 - "X-Big: ".len());
    let r = node.req("GET", "/healthcheck", &[("X-Big", &v)], b"");
    assert_eq!(r.status, 200, "8000-byte header: {r:?}");
    // Over 8192: 400, as Swift.
    for n in [8300, 65536] {
        let mut c = node.conn();
        let raw = format!(
            "GET /healthcheck HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "v".repeat(n)
        );
        let _ = c.try_send(raw.as_bytes());
        let r = c
            .read_response(false)
            .unwrap_or_else(|e| panic!("{n}-byte header: no response: {e}"));
        assert_eq!(r.status, 400, "{n}-byte header: {r:?}");
        assert!(!r.body.is_empty(), "400 should say why");
    }
    // Many moderately long headers whose sum exceeds one line limit are fine
    // individually (each < 8192), e.g. 10 × 4000 bytes.
    let hs: Vec<(String, String)> = (0..10)
        .map(|i| (format!("X-H{i}"), "w".repeat(4000)))
        .collect();
    let h: Vec<(&str, &str)> = hs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = node.req("GET", "/healthcheck", &h, b"");
    assert!(r.status == 200 || r.status == 400, "{r:?}");
    // Header count: 126 in total is the most Swift accepts (90 + 36).
    let mk = |n: usize| {
        let mut raw = String::from("GET /healthcheck HTTP/1.1\r\nHost: x\r\n");
        for i in 0..n - 1 {
            raw.push_str(&format!("X-H{i}: {i}\r\n"));
        }
        raw.push_str("\r\n");
        raw
    };
    let r = node.conn().raw(mk(126).as_bytes());
    assert_eq!(r.status, 200, "126 headers: {r:?}");
    let r = node.conn().raw(mk(127).as_bytes());
    assert_eq!(r.status, 400, "127 headers: {r:?}");
    assert!(!r.body.is_empty());
    let r = node.conn().raw(mk(500).as_bytes());
    assert_eq!(r.status, 400, "500 headers: {r:?}");
    // A PUT with the full 90 metadata items plus the usual headers is fine.
    let tok = node.setup();
    let hs: Vec<(String, String)> = (0..90)
        .map(|i| (format!("X-Object-Meta-K{i}"), "v".into()))
        .collect();
    let mut h: Vec<(&str, &str)> = vec![
        ("X-Auth-Token", &tok),
        ("Content-Type", "text/plain"),
        ("User-Agent", "it"),
        ("Accept", "*/*"),
    ];
    h.extend(hs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let r = node.req("PUT", &format!("{A}/c/meta90"), &h, b"x");
    assert_eq!(r.status, 201, "{r:?}");
}

fn malformed_requests(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"HELLO\r\n\r\n".to_vec()),
        ("binary", b"\x00\x01\x02\x03\xff\xfe\r\n\r\n".to_vec()),
        ("no version", b"GET /healthcheck\r\n\r\n".to_vec()),
        ("bad header line", b"GET /healthcheck HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n".to_vec()),
        ("space in header name", b"GET /healthcheck HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n".to_vec()),
        ("bad content-length", format!("PUT {A}/c/x HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: abc\r\n\r\n").into_bytes()),
        ("negative content-length", format!("PUT {A}/c/x HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: -5\r\n\r\n").into_bytes()),
    ];
    for (what, raw) in cases {
        let mut c = node.conn();
        let _ = c.try_send(&raw);
        let r = c
            .read_response(false)
            .unwrap_or_else(|e| panic!("{what}: no response: {e}"));
        assert_eq!(r.status, 400, "{what}: {r:?}");
        assert!(!r.body.is_empty(), "{what}: 400 should say why");
        assert_common_headers(&r);
    }
    assert_eq!(
        node.req("HEAD", &format!("{A}/c/x"), &[("X-Auth-Token", &tok)], b"")
            .status,
        404
    );
    // The node is still fine.
    assert_eq!(node.req("GET", "/healthcheck", &[], b"").status, 200);
}

/// RFC 9112 §6.3: differing Content-Length values are an unrecoverable
/// framing error (request smuggling otherwise); also Content-Length
/// together with chunked must not be trusted.
fn conflicting_content_lengths(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let mut c = node.conn();
    c.set_read_timeout(Duration::from_secs(5));
    let _ = c.try_send(format!("PUT {A}/c/x HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab").as_bytes());
    let r = c.read_response(false).expect("a response");
    assert_eq!(r.status, 400, "conflicting Content-Length headers: {r:?}");
    assert_eq!(
        node.req("HEAD", &format!("{A}/c/x"), &[("X-Auth-Token", &tok)], b"")
            .status,
        404
    );
}

const TIMEOUTS: &str = "idle_timeout_secs = 2\nclient_timeout_secs = 2\n";

fn idle_timeout(driver: &str) {
    let node = NodeOpts::new(driver).config(TIMEOUTS).start();
    let mut c = node.conn();
    let r = c.request("GET", "/healthcheck", &[], b"");
    assert_eq!(r.status, 200);
    // Still open well before the timeout.
    std::thread::sleep(Duration::from_millis(800));
    let r = c.request("GET", "/healthcheck", &[], b"");
    assert_eq!(r.status, 200, "connection closed before idle_timeout");
    let t = c
        .wait_closed(Duration::from_secs(6))
        .expect("idle keep-alive connection closed after idle_timeout");
    assert!(t >= Duration::from_millis(1500), "closed too early ({t:?})");
    // A connection that never sends anything is closed too.
    let mut c = node.conn();
    c.wait_closed(Duration::from_secs(6))
        .expect("silent connection closed");
    // A half-sent request head is not allowed to hold the connection.
    let mut c = node.conn();
    c.send(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    c.wait_closed(Duration::from_secs(6))
        .expect("stalled request head closed");
    assert_eq!(node.req("GET", "/healthcheck", &[], b"").status, 200);
}

fn slow_body_timeout(driver: &str) {
    let node = NodeOpts::new(driver).config(TIMEOUTS).start();
    let tok = node.setup();
    let mut c = node.conn();
    c.send(format!("PUT {A}/c/stalled HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: 100000\r\n\r\n").as_bytes());
    c.send(&pattern(50_000, 1));
    let start = Instant::now();
    let r = c.wait_closed(Duration::from_secs(8));
    assert!(
        r.is_ok(),
        "stalled PUT still open after 8s (client_timeout_secs = 2)"
    );
    assert!(
        start.elapsed() >= Duration::from_millis(1500),
        "closed before client_timeout"
    );
    // If anything was sent before closing, it must be an error status (Swift: 408).
    if !c.pending().is_empty() {
        let text = String::from_utf8_lossy(c.pending()).into_owned();
        assert!(
            text.starts_with("HTTP/1.1 408") || text.starts_with("HTTP/1.1 4"),
            "unexpected bytes: {text:?}"
        );
    }
    assert_eq!(
        node.req(
            "HEAD",
            &format!("{A}/c/stalled"),
            &[("X-Auth-Token", &tok)],
            b""
        )
        .status,
        404,
        "the object must not exist"
    );
    let tmp = walk_files(&node.data_dir.join("sda1/tmp"));
    assert!(
        tmp.iter().all(|p| !p.to_string_lossy().ends_with(".tmp")),
        "temp file left: {tmp:?}"
    );
    // A chunked body that stalls the same way.
    let mut c = node.conn();
    c.send(format!("PUT {A}/c/stalled2 HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123").as_bytes());
    assert!(
        c.wait_closed(Duration::from_secs(8)).is_ok(),
        "stalled chunked PUT still open"
    );
    assert_eq!(
        node.req(
            "HEAD",
            &format!("{A}/c/stalled2"),
            &[("X-Auth-Token", &tok)],
            b""
        )
        .status,
        404
    );
}

/// A response either sent unprompted by the server on accept, or to a request.
fn response_on_new_conn(node: &Node) -> io::Result<Response> {
    let mut c = Conn::try_connect(node.port)?;
    c.set_read_timeout(Duration::from_millis(500));
    match c.read_response(false) {
        Ok(r) => return Ok(r),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {}
        Err(e) => return Err(e),
    }
    c.set_read_timeout(Duration::from_secs(5));
    c.try_send(&build_request("GET", "/healthcheck", &[], b""))?;
    c.read_response(false)
}

fn connection_cap(driver: &str) {
    let node = NodeOpts::new(driver)
        .workers(1)
        .config("max_connections_per_worker = 2\n")
        .start();
    let mut c1 = node.conn();
    let mut c2 = node.conn();
    assert_eq!(c1.request("GET", "/healthcheck", &[], b"").status, 200);
    assert_eq!(c2.request("GET", "/healthcheck", &[], b"").status, 200);
    for i in 0..3 {
        let r = response_on_new_conn(&node)
            .unwrap_or_else(|e| panic!("extra connection {i}: no 503 response: {e}"));
        assert_eq!(r.status, 503, "extra connection {i}: {r:?}");
    }
    // The held connections still work.
    assert_eq!(c1.request("GET", "/healthcheck", &[], b"").status, 200);
    // Closing one frees a slot.
    drop(c1);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let r = response_on_new_conn(&node).unwrap_or_else(|e| {
            panic!(
                "no response on a new connection after a slot was freed: {e}; stderr:\n{}",
                node.log()
            )
        });
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "slot not freed after closing a connection: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(c2.request("GET", "/healthcheck", &[], b"").status, 200);
}

fn connection_cap_503_headers(driver: &str) {
    let node = NodeOpts::new(driver)
        .workers(1)
        .config("max_connections_per_worker = 1\n")
        .start();
    let mut c1 = node.conn();
    assert_eq!(c1.request("GET", "/healthcheck", &[], b"").status, 200);
    let r = response_on_new_conn(&node).expect("503 response");
    assert_eq!(r.status, 503, "{r:?}");
    assert_common_headers(&r);
}

/// Every accepted connection gets served. Connections are opened one by
/// one at intervals sweeping 95–105 ms (around any periodic wake-up an
/// accept loop might have), each must get its answer.
fn accept_never_loses_connections(driver: &str) {
    let node = NodeOpts::new(driver).workers(1).start();
    let mut last = Instant::now();
    for i in 0..100u32 {
        let gap = Duration::from_micros(95_000 + (i as u64 % 100) * 100);
        while last.elapsed() < gap {
            std::thread::sleep(Duration::from_micros(200));
        }
        let mut c = node.conn();
        c.set_read_timeout(Duration::from_millis(1500));
        c.send(&build_request(
            "GET",
            "/healthcheck",
            &[("Connection", "close")],
            b"",
        ));
        match c.read_response(false) {
            Ok(r) => assert_eq!(r.status, 200, "connection {i}: {r:?}"),
            Err(e) => panic!(
                "connection {i} (opened {gap:?} after the previous one) got no response within 1.5 s: {e}"
            ),
        }
        last = Instant::now();
    }
}

mod connection_cap {
    #[test]
    fn io_uring() {
        super::connection_cap("io_uring")
    }
    #[test]
    fn epoll() {
        super::connection_cap("epoll")
    }
}

mod accept_never_loses_connections {
    #[test]
    fn io_uring() {
        super::accept_never_loses_connections("io_uring")
    }
    #[test]
    fn epoll() {
        super::accept_never_loses_connections("epoll")
    }
}

driver_tests! {
    fn keep_alive;
    fn chunked_put;
    fn expect_100_continue;
    fn trans_id_and_date_everywhere;
    fn request_line_limit;
    fn header_limits;
    fn malformed_requests;
    fn idle_timeout;
    fn slow_body_timeout;
    fn connection_cap_503_headers;
    fn conflicting_content_lengths;
}
