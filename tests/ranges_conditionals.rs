//! GET/HEAD with Range (single, suffix, multiple → multipart/byteranges,
//! unsatisfiable, Swift's abusive-range rules) and the conditional headers.
//! Every test runs on both I/O drivers.

mod common;

use common::*;

const PATH: &str = "/v1/AUTH_test/c/ranged";
const CT: &str = "application/x-ranged";
const LEN: usize = 100;

/// A node with a 100-byte object at PATH; returns (node, token, data, etag).
fn setup(driver: &str) -> (Node, String, Vec<u8>, String) {
    let node = Node::start(driver);
    let tok = node.setup();
    let data = pattern(LEN, 7);
    let r = node.req(
        "PUT",
        PATH,
        &[("X-Auth-Token", &tok), ("Content-Type", CT)],
        &data,
    );
    assert_eq!(r.status, 201, "{r:?}");
    let etag = md5_hex(&data);
    (node, tok, data, etag)
}

fn get_range(node: &Node, tok: &str, range: &str) -> Response {
    node.req("GET", PATH, &[("X-Auth-Token", tok), ("Range", range)], b"")
}

/// The exact multipart/byteranges body Swift produces
/// (swift.common.utils.document_iters_to_multipart_byteranges).
fn swift_multipart(
    boundary: &str,
    ct: &str,
    total: usize,
    data: &[u8],
    ranges: &[(usize, usize)],
) -> Vec<u8> {
    let mut out = Vec::new();
    for &(a, b) in ranges {
        out.extend_from_slice(format!("--{boundary}\r\nContent-Type: {ct}\r\nContent-Range: bytes {a}-{b}/{total}\r\n\r\n").as_bytes());
        out.extend_from_slice(&data[a..=b]);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--").as_bytes());
    out
}

struct Part {
    headers: Vec<(String, String)>,
    data: Vec<u8>,
}

/// Parse a multipart/byteranges body framed the way Swift frames it; each
/// part's data length comes from its Content-Range (so a missing CRLF
/// after the data is detected rather than absorbed).
fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delim = format!("--{boundary}");
    let mut pos = 0;
    let mut parts = Vec::new();
    loop {
        if !body[pos..].starts_with(delim.as_bytes()) {
            return Err(format!(
                "expected {delim:?} at byte {pos}, found {:?}",
                String::from_utf8_lossy(&body[pos..body.len().min(pos + 60)])
            ));
        }
        pos += delim.len();
        if body[pos..].starts_with(b"--") {
            pos += 2;
            if pos != body.len() {
                return Err(format!(
                    "{} trailing bytes after the close delimiter",
                    body.len() - pos
                ));
            }
            return Ok(parts);
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err(format!("no CRLF after delimiter at byte {pos}"));
        }
        pos += 2;
        let hend = body[pos..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("part headers not terminated")?
            + pos;
        let htext = String::from_utf8_lossy(&body[pos..hend]).into_owned();
        let headers: Vec<(String, String)> = htext
            .split("\r\n")
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap_or((l, ""));
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        pos = hend + 4;
        let cr = headers
            .iter()
            .find(|(k, _)| k == "content-range")
            .map(|(_, v)| v.clone())
            .ok_or("part without Content-Range")?;
        let spec = cr.strip_prefix("bytes ").ok_or("bad Content-Range")?;
        let (ab, _) = spec.split_once('/').ok_or("bad Content-Range")?;
        let (a, b) = ab.split_once('-').ok_or("bad Content-Range")?;
        let (a, b): (usize, usize) = (
            a.parse().map_err(|_| "bad start")?,
            b.parse().map_err(|_| "bad end")?,
        );
        let n = b - a + 1;
        if pos + n > body.len() {
            return Err("part data truncated".into());
        }
        let data = body[pos..pos + n].to_vec();
        pos += n;
        if !body[pos..].starts_with(b"\r\n") {
            return Err(format!(
                "part data ({cr}) not followed by CRLF before the next delimiter; found {:?}",
                String::from_utf8_lossy(&body[pos..body.len().min(pos + 40)])
            ));
        }
        pos += 2;
        parts.push(Part { headers, data });
    }
}

fn boundary_of(r: &Response) -> String {
    let ct = r
        .header("content-type")
        .unwrap_or_else(|| panic!("no Content-Type: {r:?}"));
    assert!(
        ct.starts_with("multipart/byteranges"),
        "not multipart/byteranges: {r:?}"
    );
    let b = ct
        .split("boundary=")
        .nth(1)
        .unwrap_or_else(|| panic!("no boundary in {ct:?}"));
    b.trim_matches('"').to_string()
}

fn single_range(driver: &str) {
    let (node, tok, data, etag) = setup(driver);
    let cases: &[(&str, usize, usize)] = &[
        ("bytes=10-19", 10, 19),
        ("bytes=0-0", 0, 0),
        ("bytes=90-", 90, 99),
        ("bytes=-5", 95, 99),
        ("bytes=-500", 0, 99),
        ("bytes=50-1000", 50, 99),
        ("bytes=99-99", 99, 99),
    ];
    for &(range, a, b) in cases {
        let r = get_range(&node, &tok, range);
        assert_eq!(r.status, 206, "{range}: {r:?}");
        assert_common_headers(&r);
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {a}-{b}/{LEN}").as_str()),
            "{range}"
        );
        assert_eq!(
            r.header("content-length"),
            Some((b - a + 1).to_string().as_str()),
            "{range}"
        );
        assert_eq!(r.header("content-type"), Some(CT), "{range}");
        assert_eq!(r.header("etag"), Some(etag.as_str()), "{range}");
        assert_eq!(r.header("accept-ranges"), Some("bytes"), "{range}");
        assert_eq!(r.body, &data[a..=b], "{range}");
    }
    // Keep-alive after ranged responses: several on one connection.
    let mut c = node.conn();
    for &(range, a, b) in cases {
        let r = c.request(
            "GET",
            PATH,
            &[("X-Auth-Token", &tok), ("Range", range)],
            b"",
        );
        assert_eq!(r.status, 206);
        assert_eq!(r.body, &data[a..=b], "{range} on a kept-alive connection");
    }
    // A syntactically invalid Range is ignored: 200, whole body.
    for range in ["bytes=abc", "bytes=5-1", "items=0-5", "bytes="] {
        let r = get_range(&node, &tok, range);
        assert_eq!(r.status, 200, "{range}: {r:?}");
        assert_eq!(r.body, data, "{range}");
    }
}

fn multiple_ranges(driver: &str) {
    let (node, tok, data, _etag) = setup(driver);
    let cases: &[(&str, &[(usize, usize)])] = &[
        ("bytes=0-1,4-5", &[(0, 1), (4, 5)]),
        ("bytes=10-19,30-39,-5", &[(10, 19), (30, 39), (95, 99)]),
        ("bytes=90-,0-0", &[(90, 99), (0, 0)]),
        ("bytes=0-0,1-1", &[(0, 0), (1, 1)]),
    ];
    for &(range, want) in cases {
        let r = get_range(&node, &tok, range);
        assert_eq!(r.status, 206, "{range}: {r:?}");
        assert_common_headers(&r);
        assert!(
            r.header("content-range").is_none(),
            "multipart response must not carry Content-Range: {r:?}"
        );
        let boundary = boundary_of(&r);
        assert_eq!(
            r.header("content-length")
                .map(|s| s.parse::<usize>().unwrap()),
            Some(r.body.len())
        );
        let parts = parse_multipart(&r.body, &boundary).unwrap_or_else(|e| {
            panic!(
                "{range}: multipart framing differs from Swift's: {e}\nbody: {:?}",
                String::from_utf8_lossy(&r.body)
            )
        });
        assert_eq!(parts.len(), want.len(), "{range}");
        for (p, &(a, b)) in parts.iter().zip(want) {
            assert_eq!(
                p.headers
                    .iter()
                    .find(|(k, _)| k == "content-type")
                    .map(|(_, v)| v.as_str()),
                Some(CT)
            );
            assert_eq!(
                p.headers
                    .iter()
                    .find(|(k, _)| k == "content-range")
                    .map(|(_, v)| v.clone()),
                Some(format!("bytes {a}-{b}/{LEN}"))
            );
            assert_eq!(p.data, &data[a..=b], "{range} part {a}-{b}");
        }
        // And byte for byte what Swift would send.
        let expect = swift_multipart(&boundary, CT, LEN, &data, want);
        assert!(
            r.body == expect,
            "{range}: body differs from Swift's framing\n got: {:?}\nwant: {:?}",
            String::from_utf8_lossy(&r.body),
            String::from_utf8_lossy(&expect)
        );
    }
    // Only one satisfiable range: swob drops the unsatisfiable one and
    // answers a plain (non-MIME) 206 for the remaining single range.
    let r = get_range(&node, &tok, "bytes=0-9,200-300");
    assert_eq!(r.status, 206, "{r:?}");
    assert_eq!(r.header("content-range"), Some("bytes 0-9/100"), "{r:?}");
    assert_eq!(r.header("content-type"), Some(CT));
    assert_eq!(r.body, &data[..10]);
}

fn unsatisfiable_and_abusive_ranges(driver: &str) {
    let (node, tok, data, etag) = setup(driver);
    // Unsatisfiable: 416 with Content-Range: bytes */len (Swift functional tests).
    for range in [
        "bytes=100-200",
        "bytes=1000-",
        "bytes=-0",
        "bytes=100-102,200-202",
    ] {
        let r = get_range(&node, &tok, range);
        assert_eq!(r.status, 416, "{range}: {r:?}");
        assert_common_headers(&r);
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes */{LEN}").as_str()),
            "{range}: {r:?}"
        );
        assert!(r.body != data);
    }
    let _ = etag;
    // Swift's limits (swob.Range.ranges_for_length): 50 ranges are fine ...
    let fifty: Vec<String> = (0..50).map(|i| format!("{}-{}", i * 2, i * 2)).collect();
    let r = get_range(&node, &tok, &format!("bytes={}", fifty.join(",")));
    assert_eq!(r.status, 206, "50 ranges: {r:?}");
    let parts = parse_multipart(&r.body, &boundary_of(&r)).expect("multipart");
    assert_eq!(parts.len(), 50);
    // ... two overlaps are fine ...
    let r = get_range(&node, &tok, "bytes=10-19,15-24,20-29");
    assert_eq!(r.status, 206, "two overlaps: {r:?}");
    // ... 7 non-ascending ranges are fine.
    let r = get_range(&node, &tok, "bytes=1-1,3-3,5-5,9-9,7-7,11-11,13-13");
    assert_eq!(r.status, 206, "7 non-ascending: {r:?}");
    // Egregious sets are refused like Swift does (ranges_for_length
    // returns [] → 416 with Content-Range */len): >50 ranges, >2
    // overlaps, >=8 non-ascending ranges.
    let fiftyone: Vec<String> = (0..51).map(|i| format!("{}-{}", i, i)).collect();
    for (what, range) in [
        ("51 ranges", format!("bytes={}", fiftyone.join(","))),
        (
            "three overlaps",
            "bytes=10-20,20-30,30-40,40-50".to_string(),
        ),
        (
            "8 non-ascending",
            "bytes=1-1,3-3,5-5,9-9,7-7,11-11,13-13,15-15".to_string(),
        ),
    ] {
        let r = get_range(&node, &tok, &range);
        assert_eq!(r.status, 416, "{what}: {r:?}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes */{LEN}").as_str()),
            "{what}"
        );
    }
}

fn conditionals(driver: &str) {
    let (node, tok, data, etag) = setup(driver);
    let h = node.req("HEAD", PATH, &[("X-Auth-Token", &tok)], b"");
    let lm = h
        .header("last-modified")
        .expect("Last-Modified")
        .to_string();
    let quoted = format!("\"{etag}\"");
    let epoch = "Thu, 01 Jan 1970 00:00:00 GMT";
    let future = httpdate::fmt_http_date(
        std::time::SystemTime::now() + std::time::Duration::from_secs(86400),
    );

    // (header, value, expected status)
    let cases: Vec<(&str, String, u16)> = vec![
        ("If-Match", etag.clone(), 200),
        ("If-Match", quoted.clone(), 200),
        ("If-Match", "*".into(), 200),
        ("If-Match", format!("\"nope\", {quoted}"), 200),
        ("If-Match", "\"nope\"".into(), 412),
        ("If-None-Match", quoted.clone(), 304),
        ("If-None-Match", etag.clone(), 304),
        ("If-None-Match", "*".into(), 304),
        ("If-None-Match", "\"nope\"".into(), 200),
        ("If-Modified-Since", lm.clone(), 304),
        ("If-Modified-Since", future.clone(), 304),
        ("If-Modified-Since", epoch.into(), 200),
        ("If-Modified-Since", "not a date".into(), 200),
        ("If-Unmodified-Since", epoch.into(), 412),
        ("If-Unmodified-Since", lm.clone(), 200),
        ("If-Unmodified-Since", future.clone(), 200),
    ];
    for (k, v, want) in &cases {
        for method in ["GET", "HEAD"] {
            let r = node.req(method, PATH, &[("X-Auth-Token", &tok), (k, v)], b"");
            assert_eq!(r.status, *want, "{method} {k}: {v}: {r:?}");
            assert_common_headers(&r);
            match want {
                200 => {
                    if method == "GET" {
                        assert_eq!(r.body, data);
                    }
                }
                304 => {
                    assert!(r.body.is_empty());
                    assert_eq!(
                        r.header("etag"),
                        Some(etag.as_str()),
                        "304 carries the ETag: {r:?}"
                    );
                }
                412 => {
                    assert!(r.body != data);
                }
                _ => unreachable!(),
            }
        }
    }
    // A 304 on a keep-alive connection must not leave body bytes behind.
    let mut c = node.conn();
    let r = c.request(
        "GET",
        PATH,
        &[("X-Auth-Token", &tok), ("If-None-Match", &quoted)],
        b"",
    );
    assert_eq!(r.status, 304);
    let r = c.request("GET", PATH, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(
        r.status, 200,
        "request after a 304 on the same connection: {r:?}"
    );
    assert_eq!(r.body, data);
    // Conditionals combined with Range.
    let r = node.req(
        "GET",
        PATH,
        &[
            ("X-Auth-Token", &tok),
            ("If-Match", &quoted),
            ("Range", "bytes=0-9"),
        ],
        b"",
    );
    assert_eq!(r.status, 206, "{r:?}");
    assert_eq!(r.body, &data[..10]);
    let r = node.req(
        "GET",
        PATH,
        &[
            ("X-Auth-Token", &tok),
            ("If-Match", "\"nope\""),
            ("Range", "bytes=0-9"),
        ],
        b"",
    );
    assert_eq!(r.status, 412, "{r:?}");
    // If-Match on a missing object.
    let r = node.req(
        "GET",
        "/v1/AUTH_test/c/missing",
        &[("X-Auth-Token", &tok), ("If-Match", "*")],
        b"",
    );
    assert!(r.status == 412 || r.status == 404, "{r:?}");
}

fn head_matches_get(driver: &str) {
    let (node, tok, _data, _etag) = setup(driver);
    let mut c = node.conn();
    let h = c.request("HEAD", PATH, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(h.status, 200);
    assert_eq!(h.header("content-length"), Some("100"));
    // No body bytes may follow a HEAD response.
    let g = c.request(
        "GET",
        PATH,
        &[("X-Auth-Token", &tok), ("Range", "bytes=0-3")],
        b"",
    );
    assert_eq!(g.status, 206, "GET after HEAD on one connection: {g:?}");
    // HEAD with a Range: whatever the status, no body bytes.
    let h2 = c.request(
        "HEAD",
        PATH,
        &[("X-Auth-Token", &tok), ("Range", "bytes=0-3")],
        b"",
    );
    assert!(h2.status == 200 || h2.status == 206, "{h2:?}");
    let r = c.request("GET", "/healthcheck", &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, b"OK");
}

driver_tests! {
    fn single_range;
    fn multiple_ranges;
    fn unsatisfiable_and_abusive_ranges;
    fn conditionals;
    fn head_matches_get;
}
