//! Object PUT/GET/HEAD/POST/DELETE semantics, metadata constraints,
//! expiring objects, object names and last-write-wins. Every test runs on
//! both I/O drivers.

mod common;

use common::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const A: &str = "/v1/AUTH_test";

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn put_get_head_basic(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let body = pattern(10_000, 1);
    let path = format!("{A}/c1/dir/obj.bin");
    let r = node.req(
        "PUT",
        &path,
        &[
            ("X-Auth-Token", &tok),
            ("Content-Type", "application/x-test"),
            ("X-Object-Meta-Color", "blue"),
            ("X-Object-Meta-Two-Words", "a b"),
        ],
        &body,
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_common_headers(&r);
    assert_eq!(r.header("etag"), Some(md5_hex(&body).as_str()), "{r:?}");
    let put_lm = r
        .header("last-modified")
        .unwrap_or_else(|| panic!("no Last-Modified on PUT: {r:?}"))
        .to_string();
    httpdate::parse_http_date(&put_lm).expect("PUT Last-Modified is an HTTP date");

    let g = node.req("GET", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(g.status, 200, "{g:?}");
    assert_common_headers(&g);
    assert!(g.body == body, "GET body differs");
    assert_eq!(g.header("etag"), Some(md5_hex(&body).as_str()));
    assert_eq!(g.header("content-length"), Some("10000"));
    assert_eq!(g.header("content-type"), Some("application/x-test"));
    assert_eq!(g.header("accept-ranges"), Some("bytes"));
    assert_eq!(g.header("x-object-meta-color"), Some("blue"));
    assert_eq!(g.header("x-object-meta-two-words"), Some("a b"));
    assert_eq!(
        g.header("last-modified"),
        Some(put_lm.as_str()),
        "GET Last-Modified differs from PUT's"
    );
    let ts = g.header("x-timestamp").expect("X-Timestamp");
    let tsf: f64 = ts
        .parse()
        .unwrap_or_else(|_| panic!("X-Timestamp {ts:?} not a number"));
    assert!(
        (tsf - now_secs()).abs() < 60.0,
        "X-Timestamp {ts} far from now"
    );
    // Swift's normal format: 10 digits, dot, 5 digits.
    assert_eq!(
        ts.len(),
        16,
        "X-Timestamp {ts:?} not in Swift's normal format"
    );
    // Last-Modified is the timestamp rounded up to the second (Swift).
    let lm = httpdate::parse_http_date(&put_lm)
        .unwrap()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(
        lm,
        tsf.ceil() as u64,
        "Last-Modified {put_lm} vs X-Timestamp {ts}"
    );

    let h = node.req("HEAD", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(h.status, 200, "{h:?}");
    assert_common_headers(&h);
    assert!(h.body.is_empty());
    for k in [
        "etag",
        "content-length",
        "content-type",
        "last-modified",
        "x-timestamp",
        "x-object-meta-color",
        "accept-ranges",
    ] {
        assert_eq!(h.header(k), g.header(k), "HEAD and GET differ on {k}");
    }
    node.stop();
}

fn query_strings_and_utf8_metadata(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let path = format!("{A}/c/q");
    let r = node.req(
        "PUT",
        &format!("{path}?unknown=param&x"),
        &[("X-Auth-Token", &tok), ("X-Object-Meta-Unicode", "héllo ☃")],
        b"query",
    );
    assert_eq!(r.status, 201, "{r:?}");
    // Unknown query parameters do not change the object addressed.
    let g = node.req(
        "GET",
        &format!("{path}?foo=bar"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(g.body, b"query");
    // Object metadata values are kept byte for byte (Swift does not
    // require UTF-8 there, and returns what was stored).
    assert_eq!(g.header("x-object-meta-unicode"), Some("héllo ☃"), "{g:?}");
    // Header names are case-insensitive; Swift title-cases them.
    let r = node.req(
        "POST",
        &path,
        &[("X-Auth-Token", &tok), ("x-object-meta-lower", "v")],
        b"",
    );
    assert_eq!(r.status, 202);
    let h = node.req("HEAD", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(h.header("X-Object-Meta-Lower"), Some("v"), "{h:?}");
}

/// A client that goes away mid-body leaves no object and no temp file.
fn aborted_upload_leaves_nothing(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    for (name, half_close) in [("halfclosed", true), ("dropped", false)] {
        let mut c = node.conn();
        c.send(
            format!(
                "PUT {A}/c/{name} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: 100000\r\n\r\n"
            )
            .as_bytes(),
        );
        c.send(&pattern(40_000, 3));
        std::thread::sleep(Duration::from_millis(200));
        if half_close {
            c.shutdown_write();
            // Whatever the server says, it must not be a success.
            if let Ok(r) = c.read_response(false) {
                assert!(r.status >= 400, "{name}: truncated body answered {r:?}");
            }
        } else {
            drop(c);
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let tmp: Vec<_> = walk_files(&node.data_dir.join("sda1/tmp"))
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".tmp"))
            .collect();
        if tmp.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "temp files left after aborted uploads: {tmp:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for name in ["halfclosed", "dropped"] {
        let h = node.req(
            "HEAD",
            &format!("{A}/c/{name}"),
            &[("X-Auth-Token", &tok)],
            b"",
        );
        assert_eq!(h.status, 404, "{name}: {h:?}");
    }
}

/// max_file_size also bounds chunked bodies, whose size is unknown up front.
fn chunked_over_max_file_size(driver: &str) {
    let node = NodeOpts::new(driver)
        .config("[constraints]\nmax_file_size = 1000\n")
        .start();
    let tok = node.setup();
    let mut c = node.conn();
    c.set_read_timeout(Duration::from_secs(5));
    let big = pattern(3000, 1);
    let mut raw = format!(
        "PUT {A}/c/chunkbig HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    raw.extend(chunked(&[&big[..600], &big[600..]]));
    let _ = c.try_send(&raw);
    let r = c.read_response(false).expect("a response");
    assert_eq!(r.status, 413, "{r:?}");
    let h = node.req(
        "HEAD",
        &format!("{A}/c/chunkbig"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(h.status, 404, "{h:?}");
    // Exactly max_file_size in chunks is fine.
    let mut raw = format!(
        "PUT {A}/c/chunkfits HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    raw.extend(chunked(&[&big[..500], &big[500..1000]]));
    let r = node.conn().raw(&raw);
    assert_eq!(r.status, 201, "{r:?}");
}

fn zero_byte_object(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let r = node.req(
        "PUT",
        &format!("{A}/c/empty"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("etag"), Some("d41d8cd98f00b204e9800998ecf8427e"));
    let g = node.req(
        "GET",
        &format!("{A}/c/empty"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(g.header("content-length"), Some("0"));
    assert!(g.body.is_empty());
}

/// A name, the headers its PUT sends, and the Content-Type expected back.
type TypeCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

fn content_type_guessing(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let cases: &[TypeCase] = &[
        ("a.txt", &[], "text/plain"),
        ("b.html", &[], "text/html"),
        ("c.unknownext", &[], "application/octet-stream"),
        ("noext", &[], "application/octet-stream"),
        (
            "d.txt",
            &[("Content-Type", "application/x-kept")],
            "application/x-kept",
        ),
        (
            "e.html",
            &[
                ("Content-Type", "application/x-ignored"),
                ("X-Detect-Content-Type", "true"),
            ],
            "text/html",
        ),
    ];
    for (name, extra, want) in cases {
        let path = format!("{A}/c/{name}");
        let mut h: Vec<(&str, &str)> = vec![("X-Auth-Token", &tok)];
        h.extend_from_slice(extra);
        let r = node.req("PUT", &path, &h, b"x");
        assert_eq!(r.status, 201, "{name}: {r:?}");
        let g = node.req("HEAD", &path, &[("X-Auth-Token", &tok)], b"");
        assert_eq!(g.header("content-type"), Some(*want), "{name}: {g:?}");
    }
}

fn put_requires_length(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let mut c = node.conn();
    let r = c.raw(
        format!("PUT {A}/c/nolen HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.status, 411, "{r:?}");
    assert_common_headers(&r);
    let g = node.req(
        "HEAD",
        &format!("{A}/c/nolen"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 404, "{g:?}");
}

fn put_too_large(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let mut c = node.conn();
    c.set_read_timeout(Duration::from_secs(5));
    // Head only: the server must answer before reading any body.
    c.send(format!("PUT {A}/c/huge HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: 5368709123\r\n\r\n").as_bytes());
    let r = c.read_response(false).expect("response to oversized PUT");
    assert_eq!(r.status, 413, "{r:?}");
    assert_common_headers(&r);
    assert!(!r.body.is_empty(), "413 should say why");
    let g = node.req(
        "HEAD",
        &format!("{A}/c/huge"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 404, "{g:?}");
}

fn etag_mismatch_keeps_old(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let path = format!("{A}/c/etag");
    let v1 = b"version one".to_vec();
    let r = node.req(
        "PUT",
        &path,
        &[("X-Auth-Token", &tok), ("ETag", &md5_hex(&v1))],
        &v1,
    );
    assert_eq!(r.status, 201, "{r:?}");
    let r = node.req(
        "PUT",
        &path,
        &[
            ("X-Auth-Token", &tok),
            ("ETag", "0123456789abcdef0123456789abcdef"),
        ],
        b"version two",
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert_common_headers(&r);
    let g = node.req("GET", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(g.status, 200);
    assert_eq!(g.body, v1, "old version must still be served after a 422");
    assert_eq!(g.header("etag"), Some(md5_hex(&v1).as_str()));
    // Upper-case hex is the same ETag (Swift lower()s it).
    let v3 = b"version three".to_vec();
    let r = node.req(
        "PUT",
        &path,
        &[
            ("X-Auth-Token", &tok),
            ("ETag", &md5_hex(&v3).to_uppercase()),
        ],
        &v3,
    );
    assert_eq!(r.status, 201, "{r:?}");
    // No temp files left behind by the failed PUT.
    let tmp: Vec<_> = walk_files(&node.data_dir.join("sda1/tmp"));
    assert!(tmp.is_empty(), "temp files left: {tmp:?}");
}

/// Names m00..m89 (3 bytes each) and values sized so name+value bytes sum
/// to exactly `total`.
fn meta_set(count: usize, total: usize) -> Vec<(String, String)> {
    let names: Vec<String> = (0..count).map(|i| format!("m{i:02}")).collect();
    let name_bytes: usize = names.iter().map(|n| n.len()).sum();
    let val_bytes = total - name_bytes;
    let base = val_bytes / count;
    let extra = val_bytes % count;
    names
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            let len = base + usize::from(i < extra);
            let v: String = (0..len)
                .map(|j| (b'a' + ((i + j) % 26) as u8) as char)
                .collect();
            (n, v)
        })
        .collect()
}

fn put_with_meta(node: &Node, tok: &str, path: &str, meta: &[(String, String)]) -> Response {
    let hdrs: Vec<(String, String)> = meta
        .iter()
        .map(|(k, v)| (format!("X-Object-Meta-{k}"), v.clone()))
        .collect();
    let mut h: Vec<(&str, &str)> = vec![("X-Auth-Token", tok)];
    h.extend(hdrs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    node.req("PUT", path, &h, b"meta")
}

fn metadata_limits(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let ok = |r: &Response, what: &str| assert_eq!(r.status, 201, "{what}: {r:?}");
    let bad = |r: &Response, what: &str| {
        assert_eq!(r.status, 400, "{what}: {r:?}");
        assert!(!r.body.is_empty(), "{what}: 400 without a reason");
        assert_common_headers(r);
    };
    // Name length 128 ok, 129 rejected.
    let n128 = "n".repeat(128);
    ok(
        &put_with_meta(
            &node,
            &tok,
            &format!("{A}/c/m1"),
            &[(n128.clone(), "v".into())],
        ),
        "name 128",
    );
    bad(
        &put_with_meta(
            &node,
            &tok,
            &format!("{A}/c/m2"),
            &[("n".repeat(129), "v".into())],
        ),
        "name 129",
    );
    // Value length 256 ok, 257 rejected.
    ok(
        &put_with_meta(
            &node,
            &tok,
            &format!("{A}/c/m3"),
            &[("k".into(), "v".repeat(256))],
        ),
        "value 256",
    );
    bad(
        &put_with_meta(
            &node,
            &tok,
            &format!("{A}/c/m4"),
            &[("k".into(), "v".repeat(257))],
        ),
        "value 257",
    );
    // 90 items ok, 91 rejected.
    let small90: Vec<_> = (0..90)
        .map(|i| (format!("k{i}"), "v".to_string()))
        .collect();
    ok(
        &put_with_meta(&node, &tok, &format!("{A}/c/m5"), &small90),
        "90 items",
    );
    let small91: Vec<_> = (0..91)
        .map(|i| (format!("k{i}"), "v".to_string()))
        .collect();
    bad(
        &put_with_meta(&node, &tok, &format!("{A}/c/m6"), &small91),
        "91 items",
    );
    // Biggest legal set: 90 items totalling exactly 4096 bytes; one more byte fails.
    let max = meta_set(90, 4096);
    assert!(max.iter().all(|(k, v)| k.len() <= 128 && v.len() <= 256));
    let path = format!("{A}/c/m7");
    ok(
        &put_with_meta(&node, &tok, &path, &max),
        "90 items, 4096 bytes",
    );
    let g = node.req("HEAD", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(g.status, 200);
    let got = g.with_prefix("x-object-meta-");
    assert_eq!(got.len(), 90, "{g:?}");
    for (k, v) in &max {
        assert_eq!(
            g.header(&format!("x-object-meta-{k}")),
            Some(v.as_str()),
            "meta {k}"
        );
    }
    let over = meta_set(90, 4097);
    bad(
        &put_with_meta(&node, &tok, &format!("{A}/c/m8"), &over),
        "90 items, 4097 bytes",
    );
    // The over-limit objects were not created.
    for o in ["m2", "m4", "m6", "m8"] {
        let h = node.req(
            "HEAD",
            &format!("{A}/c/{o}"),
            &[("X-Auth-Token", &tok)],
            b"",
        );
        assert_eq!(h.status, 404, "{o} should not exist: {h:?}");
    }
    // Same limits on POST.
    bad(
        &node.req(
            "POST",
            &format!("{A}/c/m1"),
            &[
                ("X-Auth-Token", &tok),
                ("X-Object-Meta-K", &"v".repeat(257)),
            ],
            b"",
        ),
        "POST value 257",
    );
    let h = node.req("HEAD", &format!("{A}/c/m1"), &[("X-Auth-Token", &tok)], b"");
    assert_eq!(
        h.header(&format!("x-object-meta-{n128}")),
        Some("v"),
        "failed POST must not change metadata"
    );
}

fn if_none_match_put(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let path = format!("{A}/c/inm");
    let r = node.req(
        "PUT",
        &path,
        &[("X-Auth-Token", &tok), ("If-None-Match", "*")],
        b"first",
    );
    assert_eq!(r.status, 201, "{r:?}");
    let r = node.req(
        "PUT",
        &path,
        &[("X-Auth-Token", &tok), ("If-None-Match", "*")],
        b"second",
    );
    assert_eq!(r.status, 412, "{r:?}");
    assert_common_headers(&r);
    let r = node.req(
        "PUT",
        &format!("{A}/c/inm2"),
        &[("X-Auth-Token", &tok), ("If-None-Match", "foo")],
        b"x",
    );
    assert_eq!(r.status, 400, "{r:?}");
    let g = node.req("GET", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(g.body, b"first");
    let g = node.req(
        "HEAD",
        &format!("{A}/c/inm2"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 404);
}

fn expiring_objects(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let now = now_secs() as u64;
    let past = (now - 10).to_string();
    let r = node.req(
        "PUT",
        &format!("{A}/c/past"),
        &[("X-Auth-Token", &tok), ("X-Delete-At", &past)],
        b"x",
    );
    assert_eq!(r.status, 400, "X-Delete-At in the past: {r:?}");
    let r = node.req(
        "PUT",
        &format!("{A}/c/nonint"),
        &[("X-Auth-Token", &tok), ("X-Delete-After", "soon")],
        b"x",
    );
    assert_eq!(r.status, 400, "non-integer X-Delete-After: {r:?}");
    let r = node.req(
        "PUT",
        &format!("{A}/c/nonint"),
        &[("X-Auth-Token", &tok), ("X-Delete-At", "tomorrow")],
        b"x",
    );
    assert_eq!(r.status, 400, "non-integer X-Delete-At: {r:?}");
    let r = node.req(
        "PUT",
        &format!("{A}/c/neg"),
        &[("X-Auth-Token", &tok), ("X-Delete-After", "-5")],
        b"x",
    );
    assert_eq!(r.status, 400, "negative X-Delete-After: {r:?}");
    for o in ["past", "nonint", "neg"] {
        assert_eq!(
            node.req(
                "HEAD",
                &format!("{A}/c/{o}"),
                &[("X-Auth-Token", &tok)],
                b""
            )
            .status,
            404,
            "{o}"
        );
    }

    let future = (now + 3600).to_string();
    let r = node.req(
        "PUT",
        &format!("{A}/c/later"),
        &[("X-Auth-Token", &tok), ("X-Delete-At", &future)],
        b"x",
    );
    assert_eq!(r.status, 201, "{r:?}");
    let g = node.req(
        "GET",
        &format!("{A}/c/later"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.header("x-delete-at"), Some(future.as_str()), "{g:?}");

    let path = format!("{A}/c/soon");
    let r = node.req(
        "PUT",
        &path,
        &[("X-Auth-Token", &tok), ("X-Delete-After", "1")],
        b"short-lived",
    );
    assert_eq!(r.status, 201, "{r:?}");
    // (Swift truncates now + 1 to whole seconds, so a 1-second object may
    // already be gone here; a longer-lived one shows its X-Delete-At.)
    let path5 = format!("{A}/c/soon5");
    let r = node.req(
        "PUT",
        &path5,
        &[("X-Auth-Token", &tok), ("X-Delete-After", "5")],
        b"longer-lived",
    );
    assert_eq!(r.status, 201, "{r:?}");
    let g = node.req("GET", &path5, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(g.status, 200, "{g:?}");
    let at: u64 = g
        .header("x-delete-at")
        .expect("X-Delete-At on an object PUT with X-Delete-After")
        .parse()
        .unwrap();
    assert!(
        at >= now + 4 && at <= now + 30,
        "X-Delete-At {at} vs now {now}"
    );
    std::thread::sleep(Duration::from_millis(2500));
    let g = node.req("GET", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(g.status, 404, "expired object must be 404: {g:?}");
    let h = node.req("HEAD", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(h.status, 404, "{h:?}");
    let p = node.req("POST", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(p.status, 404, "POST to an expired object: {p:?}");
}

fn post_replaces_metadata(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let path = format!("{A}/c/post");
    let r = node.req(
        "PUT",
        &path,
        &[
            ("X-Auth-Token", &tok),
            ("Content-Type", "text/x-orig"),
            ("X-Object-Meta-A", "1"),
            ("X-Object-Meta-B", "2"),
        ],
        b"body stays",
    );
    assert_eq!(r.status, 201);
    let before = node.req("HEAD", &path, &[("X-Auth-Token", &tok)], b"");
    let p = node.req(
        "POST",
        &path,
        &[("X-Auth-Token", &tok), ("X-Object-Meta-C", "3")],
        b"",
    );
    assert_eq!(p.status, 202, "{p:?}");
    assert_common_headers(&p);
    let g = node.req("GET", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(g.status, 200);
    assert_eq!(g.body, b"body stays");
    assert_eq!(
        g.with_prefix("x-object-meta-"),
        vec![("x-object-meta-c".to_string(), "3".to_string())],
        "{g:?}"
    );
    assert_eq!(g.header("etag"), before.header("etag"));
    assert_eq!(
        g.header("content-type"),
        Some("text/x-orig"),
        "POST without Content-Type keeps it"
    );
    // A second POST replaces again.
    let p = node.req(
        "POST",
        &path,
        &[("X-Auth-Token", &tok), ("X-Object-Meta-D", "4")],
        b"",
    );
    assert_eq!(p.status, 202);
    let h = node.req("HEAD", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(
        h.with_prefix("x-object-meta-"),
        vec![("x-object-meta-d".to_string(), "4".to_string())],
        "{h:?}"
    );
    // POST to a missing object.
    let p = node.req(
        "POST",
        &format!("{A}/c/missing"),
        &[("X-Auth-Token", &tok), ("X-Object-Meta-C", "3")],
        b"",
    );
    assert_eq!(p.status, 404, "{p:?}");
    assert_common_headers(&p);
}

fn delete_semantics(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let path = format!("{A}/c/del");
    assert_eq!(
        node.req("PUT", &path, &[("X-Auth-Token", &tok)], b"doomed")
            .status,
        201
    );
    let d = node.req("DELETE", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(d.status, 204, "{d:?}");
    assert_common_headers(&d);
    assert!(d.body.is_empty());
    let g = node.req("GET", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(g.status, 404, "{g:?}");
    assert_common_headers(&g);
    assert_eq!(
        node.req("HEAD", &path, &[("X-Auth-Token", &tok)], b"")
            .status,
        404
    );
    let d = node.req("DELETE", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(d.status, 404, "{d:?}");
    assert_eq!(
        node.req(
            "DELETE",
            &format!("{A}/c/never"),
            &[("X-Auth-Token", &tok)],
            b""
        )
        .status,
        404
    );
    // The tombstone is on disk.
    let dir = node.object_dir("AUTH_test", "c", "del");
    let files = walk_files(&dir);
    assert!(
        files
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "ts")),
        "no .ts tombstone in {dir:?}: {files:?}"
    );
    // Re-create after delete.
    assert_eq!(
        node.req("PUT", &path, &[("X-Auth-Token", &tok)], b"reborn")
            .status,
        201
    );
    let g = node.req("GET", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(g.status, 200);
    assert_eq!(g.body, b"reborn");
}

fn object_names(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let names = [
        "unicode/héllo/日本語 ☃.txt",
        "with spaces in it",
        "..",
        "a/../b",
        "./x/./y",
        "percent%20literal%25",
        "%",
        "many/slashes//in///the////name/",
        "trailing/",
        "tab\tand+plus&amp=eq?q#h",
    ];
    for (i, name) in names.iter().enumerate() {
        let path = format!("{A}/cont/{}", quote(name));
        let body = format!("object #{i}: {name}");
        let r = node.req("PUT", &path, &[("X-Auth-Token", &tok)], body.as_bytes());
        assert_eq!(r.status, 201, "PUT {name:?}: {r:?}");
        let g = node.req("GET", &path, &[("X-Auth-Token", &tok)], b"");
        assert_eq!(g.status, 200, "GET {name:?}: {g:?}");
        assert_eq!(g.text(), body, "GET {name:?}");
        let dir = node.object_dir("AUTH_test", "cont", name);
        assert!(
            walk_files(&dir)
                .iter()
                .any(|p| p.extension().is_some_and(|e| e == "data")),
            "{name:?}: no .data under {dir:?} (hash of the decoded name)"
        );
    }
    // Names that differ only by encoding of the same characters are the same object.
    let g = node.req(
        "GET",
        &format!("{A}/cont/with%20spaces%20in%20it"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 200);
    // Percent-decoding happens exactly once: "%2520" is the literal "%20".
    let g = node.req(
        "GET",
        &format!("{A}/cont/percent%2520literal%2525"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 200, "{g:?}");
    let g = node.req(
        "GET",
        &format!("{A}/cont/percent%20literal%25"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 404, "double-decoded name: {g:?}");
}

fn object_name_length(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let n1024 = "n".repeat(1024);
    let r = node.req(
        "PUT",
        &format!("{A}/c/{n1024}"),
        &[("X-Auth-Token", &tok)],
        b"x",
    );
    assert_eq!(r.status, 201, "1024-byte name: {r:?}");
    assert_eq!(
        node.req(
            "GET",
            &format!("{A}/c/{n1024}"),
            &[("X-Auth-Token", &tok)],
            b""
        )
        .status,
        200
    );
    let n1025 = "n".repeat(1025);
    let r = node.req(
        "PUT",
        &format!("{A}/c/{n1025}"),
        &[("X-Auth-Token", &tok)],
        b"x",
    );
    assert_eq!(r.status, 400, "1025-byte name: {r:?}");
    assert!(!r.body.is_empty());
    // The limit is in bytes: 1023 ASCII + a 2-byte character = 1025 bytes.
    let mixed = format!("{}é", "n".repeat(1023));
    let r = node.req(
        "PUT",
        &format!("{A}/c/{}", quote(&mixed)),
        &[("X-Auth-Token", &tok)],
        b"x",
    );
    assert_eq!(r.status, 400, "1025-byte (1024-char) name: {r:?}");
    // 1022 ASCII + é = 1024 bytes: fine.
    let mixed = format!("{}é", "n".repeat(1022));
    let r = node.req(
        "PUT",
        &format!("{A}/c/{}", quote(&mixed)),
        &[("X-Auth-Token", &tok)],
        b"x",
    );
    assert_eq!(r.status, 201, "1024-byte name with a 2-byte char: {r:?}");
}

fn invalid_utf8_name(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let r = node.req(
        "PUT",
        &format!("{A}/c/bad%FFname"),
        &[("X-Auth-Token", &tok)],
        b"x",
    );
    assert_eq!(r.status, 412, "{r:?}");
    assert_common_headers(&r);
    let r = node.req(
        "GET",
        &format!("{A}/c/bad%FFname"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(r.status, 412, "{r:?}");
    // NUL is rejected too (Swift's check_utf8).
    let r = node.req(
        "PUT",
        &format!("{A}/c/nul%00name"),
        &[("X-Auth-Token", &tok)],
        b"x",
    );
    assert_eq!(r.status, 412, "{r:?}");
    assert!(
        walk_files(&node.data_dir.join("sda1/objects")).is_empty(),
        "nothing may be written"
    );
}

fn names_stay_inside_data_dir(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    // A naive server would read /etc/passwd here.
    let g = node.req(
        "GET",
        &format!("{A}/c/../../../../etc/passwd"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 404, "{g:?}");
    let g = node.req(
        "GET",
        &format!("{A}/c/..%2F..%2F..%2F..%2Fetc%2Fpasswd"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 404, "{g:?}");

    // Writes that try to climb out land in the hashed layout instead.
    let marker = format!("paco-escape-{}-{}", std::process::id(), driver);
    let mut names = Vec::new();
    for depth in 1..=12 {
        names.push(format!("{}{marker}/passwd", "../".repeat(depth)));
    }
    names.push(format!("/../../../../{marker}"));
    for name in &names {
        let r = node.req(
            "PUT",
            &format!("{A}/c/{name}"),
            &[("X-Auth-Token", &tok)],
            b"escape?",
        );
        assert_eq!(r.status, 201, "{name}: {r:?}");
        let g = node.req(
            "GET",
            &format!("{A}/c/{name}"),
            &[("X-Auth-Token", &tok)],
            b"",
        );
        assert_eq!(g.status, 200, "{name}: {g:?}");
        assert!(
            node.object_dir("AUTH_test", "c", name).is_dir(),
            "{name}: not stored in the hashed layout"
        );
    }
    // Nothing named after the marker anywhere above the data dir.
    for anc in node.data_dir.ancestors() {
        let p = anc.join(&marker);
        assert!(!p.exists(), "object escaped to {p:?}");
    }
    // Everything under the data dir is either in objects/<part>/<sfx>/<hash>/ or in tmp/.
    let objects = node.data_dir.join("sda1").join("objects");
    for f in walk_files(&node.data_dir) {
        let rel = f.strip_prefix(&node.data_dir).unwrap();
        assert!(
            !rel.to_string_lossy().contains(&marker),
            "a file path contains the object name: {f:?}"
        );
        if let Ok(r) = f.strip_prefix(&objects) {
            let comps: Vec<_> = r.components().collect();
            assert!(
                comps.len() == 4
                    || (comps.len() == 2
                        && f.file_name()
                            .unwrap()
                            .to_string_lossy()
                            .starts_with("hashes.")),
                "unexpected file under objects/: {f:?}"
            );
        }
    }
}

fn last_write_wins(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let path = format!("{A}/c/lww");
    let t = now_secs();
    let ts_now = format!("{t:.5}");
    let ts_old = format!("{:.5}", t - 100.0);
    let ts_new = format!("{:.5}", t + 5.0);
    let r = node.req(
        "PUT",
        &path,
        &[("X-Auth-Token", &tok), ("X-Timestamp", &ts_now)],
        b"current",
    );
    assert_eq!(r.status, 201, "{r:?}");
    let r = node.req(
        "PUT",
        &path,
        &[("X-Auth-Token", &tok), ("X-Timestamp", &ts_old)],
        b"older",
    );
    assert_eq!(r.status, 409, "older X-Timestamp: {r:?}");
    assert_common_headers(&r);
    let g = node.req("GET", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(g.body, b"current");
    assert_eq!(g.header("x-timestamp"), Some(ts_now.as_str()));
    // Equal timestamp is not newer either.
    let r = node.req(
        "PUT",
        &path,
        &[("X-Auth-Token", &tok), ("X-Timestamp", &ts_now)],
        b"same",
    );
    assert_eq!(r.status, 409, "equal X-Timestamp: {r:?}");
    // An older DELETE does not remove the newer object.
    let d = node.req(
        "DELETE",
        &path,
        &[("X-Auth-Token", &tok), ("X-Timestamp", &ts_old)],
        b"",
    );
    assert_eq!(d.status, 409, "older DELETE: {d:?}");
    assert_eq!(
        node.req("GET", &path, &[("X-Auth-Token", &tok)], b"").body,
        b"current"
    );
    // A newer one wins.
    let r = node.req(
        "PUT",
        &path,
        &[("X-Auth-Token", &tok), ("X-Timestamp", &ts_new)],
        b"newest",
    );
    assert_eq!(r.status, 201, "{r:?}");
    let g = node.req("GET", &path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(g.body, b"newest");
    assert_eq!(g.header("x-timestamp"), Some(ts_new.as_str()));
}

driver_tests! {
    fn query_strings_and_utf8_metadata;
    fn aborted_upload_leaves_nothing;
    fn chunked_over_max_file_size;
    fn put_get_head_basic;
    fn zero_byte_object;
    fn content_type_guessing;
    fn put_requires_length;
    fn put_too_large;
    fn etag_mismatch_keeps_old;
    fn metadata_limits;
    fn if_none_match_put;
    fn expiring_objects;
    fn post_replaces_metadata;
    fn delete_semantics;
    fn object_names;
    fn object_name_length;
    fn invalid_utf8_name;
    fn names_stay_inside_data_dir;
    fn last_write_wins;
}
