//! SLO reads of one part (`?part-number=N`), several ranges as
//! `multipart/byteranges`, and heartbeating manifest PUTs, against a real
//! node.

mod common;

use common::{md5_hex, Node};

/// Segments `c1/a` (5 bytes), `c1/b` (7) and a manifest `c/slo` of
/// a, inline `XYZ`, b[1..=3]: 11 bytes in 3 parts.
fn make_slo(node: &Node, t: (&str, &str)) {
    for (name, data) in [("a", &b"aaaaa"[..]), ("b", &b"bbbbbbb"[..])] {
        let p = format!("/v1/AUTH_test/c1/{name}");
        assert_eq!(node.req("PUT", &p, &[t], data).status, 201);
    }
    let manifest = r#"[{"path": "c1/a"}, {"data": "WFla"}, {"path": "c1/b", "range": "1-3"}]"#;
    let put = node.req(
        "PUT",
        "/v1/AUTH_test/c/slo?multipart-manifest=put",
        &[t, ("Content-Type", "text/x-thing")],
        manifest.as_bytes(),
    );
    assert_eq!(put.status, 201, "{}", put.text());
}

fn part_number_reads(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    make_slo(&node, t);
    let whole = node.req("HEAD", "/v1/AUTH_test/c/slo", &[t], b"");
    let etag = whole.header("etag").expect("etag").to_string();
    for (n, body, range) in [
        (1, &b"aaaaa"[..], "bytes 0-4/11"),
        (2, b"XYZ", "bytes 5-7/11"),
        (3, b"bbb", "bytes 8-10/11"),
    ] {
        let p = format!("/v1/AUTH_test/c/slo?part-number={n}");
        let g = node.req("GET", &p, &[t], b"");
        assert_eq!((g.status, g.body.as_slice()), (206, body), "part {n}");
        assert_eq!(g.header("content-range"), Some(range));
        assert_eq!(g.header("x-parts-count"), Some("3"));
        assert_eq!(g.header("etag"), Some(etag.as_str()));
        assert_eq!(g.header("content-type"), Some("text/x-thing"));
        let h = node.req("HEAD", &p, &[t], b"");
        assert_eq!(h.status, 206, "HEAD part {n}");
        assert_eq!(
            h.header("content-length"),
            Some(body.len().to_string().as_str())
        );
        assert_eq!(h.header("content-range"), Some(range));
        assert_eq!(h.header("x-parts-count"), Some("3"));
    }

    // Past the last part: 416 with the count and the whole size.
    let g = node.req("GET", "/v1/AUTH_test/c/slo?part-number=4", &[t], b"");
    assert_eq!(g.status, 416);
    assert_eq!(g.text(), "The requested part number is not satisfiable");
    assert_eq!(g.header("content-range"), Some("bytes */11"));
    assert_eq!(g.header("x-parts-count"), Some("3"));
    assert_eq!(g.header("x-static-large-object"), Some("True"));
    let h = node.req(
        "HEAD",
        "/v1/AUTH_test/c/slo?part-number=99999999999999999999999",
        &[t],
        b"",
    );
    assert_eq!(h.status, 416);
    assert_eq!(h.header("content-length"), Some("0"));

    // Not a positive integer, or mixed with a Range: 400.
    for bad in ["0", "-1", "x", "1.5", ""] {
        let p = format!("/v1/AUTH_test/c/slo?part-number={bad}");
        let g = node.req("GET", &p, &[t], b"");
        assert_eq!(g.status, 400, "{bad:?}");
        assert_eq!(g.text(), "Part number must be an integer greater than 0");
        let h = node.req("HEAD", &p, &[t], b"");
        assert_eq!((h.status, h.body.len()), (400, 0), "{bad:?}");
    }
    let g = node.req(
        "GET",
        "/v1/AUTH_test/c/slo?part-number=1",
        &[t, ("Range", "bytes=0-1")],
        b"",
    );
    assert_eq!(g.status, 400);
    assert_eq!(
        g.text(),
        "Range requests are not supported with part number queries"
    );

    // An ordinary object ignores part-number, even an invalid one.
    for q in ["part-number=2", "part-number=0"] {
        let g = node.req("GET", &format!("/v1/AUTH_test/c1/a?{q}"), &[t], b"");
        assert_eq!((g.status, g.body.as_slice()), (200, &b"aaaaa"[..]), "{q}");
        assert!(!g.has("x-parts-count"));
    }

    // Copies take just the part.
    let c = node.req(
        "COPY",
        "/v1/AUTH_test/c/slo?part-number=3",
        &[t, ("Destination", "c/copied")],
        b"",
    );
    assert_eq!(c.status, 201, "{}", c.text());
    let g = node.req("GET", "/v1/AUTH_test/c/copied", &[t], b"");
    assert_eq!((g.status, g.body.as_slice()), (200, &b"bbb"[..]));
    assert_eq!(g.header("etag"), Some(md5_hex(b"bbb").as_str()));
    let c = node.req(
        "PUT",
        "/v1/AUTH_test/c/copied2?part-number=2",
        &[t, ("X-Copy-From", "c/slo")],
        b"",
    );
    assert_eq!(c.status, 201, "{}", c.text());
    let g = node.req("GET", "/v1/AUTH_test/c/copied2", &[t], b"");
    assert_eq!(g.body, b"XYZ");

    // multipart-manifest=delete ignores part-number: everything goes.
    let d = node.req(
        "DELETE",
        "/v1/AUTH_test/c/slo?multipart-manifest=delete&part-number=2",
        &[t],
        b"",
    );
    assert_eq!(d.status, 200);
    assert!(d.text().contains("Number Deleted: 3"), "{}", d.text());
    assert_eq!(
        node.req("HEAD", "/v1/AUTH_test/c1/a", &[t], b"").status,
        404
    );
}

fn part_number_with_versions(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c",
        &[t, ("X-Versions-Enabled", "true")],
        b"",
    );
    assert!(r.status == 201 || r.status == 202, "{r:?}");
    make_slo(&node, t);
    let v1 = node.req("HEAD", "/v1/AUTH_test/c/slo", &[t], b"");
    let v1 = v1
        .header("x-object-version-id")
        .expect("version")
        .to_string();
    let one = r#"[{"path": "c1/a"}]"#;
    let put = node.req(
        "PUT",
        "/v1/AUTH_test/c/slo?multipart-manifest=put",
        &[t],
        one.as_bytes(),
    );
    assert_eq!(put.status, 201);
    let p = format!("/v1/AUTH_test/c/slo?part-number=3&version-id={v1}");
    let g = node.req("GET", &p, &[t], b"");
    assert_eq!((g.status, g.body.as_slice()), (206, &b"bbb"[..]));
    assert_eq!(g.header("x-object-version-id"), Some(v1.as_str()));
    assert_eq!(g.header("x-parts-count"), Some("3"));
    let h = node.req("HEAD", "/v1/AUTH_test/c/slo?part-number=2", &[t], b"");
    assert_eq!(h.status, 416);
    assert_eq!(h.header("x-parts-count"), Some("1"));
    assert_eq!(h.header("content-range"), Some("bytes */5"));
}

/// Splits a multipart/byteranges body into (part headers, part bytes).
fn parts(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let boundary = content_type
        .split_once("boundary=")
        .expect("boundary")
        .1
        .to_string();
    let text = String::from_utf8_lossy(body).into_owned();
    let delim = format!("--{boundary}");
    assert!(text.ends_with(&format!("{delim}--")), "{text:?}");
    text.split(&delim)
        .filter(|p| !p.is_empty() && *p != "--")
        .map(|p| {
            let p = p.strip_prefix("\r\n").expect("crlf");
            let (head, data) = p.split_once("\r\n\r\n").expect("head");
            let data = data.strip_suffix("\r\n").expect("part end");
            (head.to_string(), data.as_bytes().to_vec())
        })
        .collect()
}

fn several_ranges(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    make_slo(&node, t);
    let g = node.req(
        "GET",
        "/v1/AUTH_test/c/slo",
        &[t, ("Range", "bytes=3-5,9-,-1")],
        b"",
    );
    assert_eq!(g.status, 206);
    let ct = g.header("content-type").expect("type").to_string();
    assert!(ct.starts_with("multipart/byteranges;boundary="), "{ct}");
    assert_eq!(
        g.header("content-length"),
        Some(g.body.len().to_string().as_str())
    );
    let ps = parts(&ct, &g.body);
    assert_eq!(ps.len(), 3);
    assert_eq!(ps[0].1, b"aaX");
    assert!(
        ps[0].0.contains("Content-Type: text/x-thing"),
        "{}",
        ps[0].0
    );
    assert!(
        ps[0].0.contains("Content-Range: bytes 3-5/11"),
        "{}",
        ps[0].0
    );
    assert_eq!(ps[1].1, b"bb");
    assert!(ps[1].0.contains("Content-Range: bytes 9-10/11"));
    assert_eq!(ps[2].1, b"b");

    // None satisfiable: 416; HEAD ignores ranges.
    let g = node.req(
        "GET",
        "/v1/AUTH_test/c/slo",
        &[t, ("Range", "bytes=20-30,40-")],
        b"",
    );
    assert_eq!(g.status, 416);
    assert_eq!(g.header("content-range"), Some("bytes */11"));
    let h = node.req(
        "HEAD",
        "/v1/AUTH_test/c/slo",
        &[t, ("Range", "bytes=0-1,3-4")],
        b"",
    );
    assert_eq!(h.status, 200);
    assert_eq!(h.header("content-length"), Some("11"));

    // A missing first segment is a 409 before anything is sent.
    assert_eq!(
        node.req("DELETE", "/v1/AUTH_test/c1/a", &[t], b"").status,
        204
    );
    let g = node.req(
        "GET",
        "/v1/AUTH_test/c/slo",
        &[t, ("Range", "bytes=0-1,6-7")],
        b"",
    );
    assert_eq!(g.status, 409);

    // DLO, as Swift's: several ranges get the whole object.
    node.container(&tok, "/v1/AUTH_test/d");
    for (name, data) in [("s1", b"01234"), ("s2", b"56789")] {
        let p = format!("/v1/AUTH_test/d/{name}");
        assert_eq!(node.req("PUT", &p, &[t], data).status, 201);
    }
    let m = node.req(
        "PUT",
        "/v1/AUTH_test/c/dlo",
        &[t, ("X-Object-Manifest", "d/s")],
        b"",
    );
    assert_eq!(m.status, 201);
    let g = node.req(
        "GET",
        "/v1/AUTH_test/c/dlo",
        &[t, ("Range", "bytes=0-1,5-6")],
        b"",
    );
    assert_eq!((g.status, g.body.as_slice()), (200, &b"0123456789"[..]));
}

/// The body of a heartbeating PUT: spaces, a blank line, the outcome.
fn heartbeat_outcome(body: &[u8]) -> String {
    let text = String::from_utf8(body.to_vec()).expect("utf8");
    let (beats, rest) = text.split_once("\r\n\r\n").expect("separator");
    assert!(!beats.is_empty() && beats.trim().is_empty(), "{beats:?}");
    rest.to_string()
}

fn heartbeat_put(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    make_slo(&node, t);
    let manifest = r#"[{"path": "c1/a"}, {"path": "c1/b", "size_bytes": 7}]"#;
    let put = node.req(
        "PUT",
        "/v1/AUTH_test/c/hb?multipart-manifest=put&heartbeat=on",
        &[t],
        manifest.as_bytes(),
    );
    assert_eq!(put.status, 202);
    assert!(put
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked")));
    assert_eq!(put.header("content-type"), Some("text/plain"));
    let out = heartbeat_outcome(&put.body);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"Response Status: 201 Created"), "{out}");
    let want = md5_hex(format!("{}{}", md5_hex(b"aaaaa"), md5_hex(b"bbbbbbb")).as_bytes());
    assert!(
        lines.contains(&format!("Etag: \"{want}\"").as_str()),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("Last Modified: ")),
        "{out}"
    );
    let g = node.req("GET", "/v1/AUTH_test/c/hb", &[t], b"");
    assert_eq!(g.body, b"aaaaabbbbbbb");

    // Failures come in the body, in the format Accept asks for.
    let bad = r#"[{"path": "c1/a"}, {"path": "nope/seg"}]"#;
    let put = node.req(
        "PUT",
        "/v1/AUTH_test/c/hb2?multipart-manifest=put&heartbeat=on",
        &[t, ("Accept", "application/json")],
        bad.as_bytes(),
    );
    assert_eq!(put.status, 202);
    assert_eq!(put.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_str(&heartbeat_outcome(&put.body)).expect("json");
    assert_eq!(v["Response Status"], "400 Bad Request");
    assert_eq!(
        v["Errors"],
        serde_json::json!([["nope/seg", "404 Not Found"]])
    );
    assert!(v.get("Etag").is_none());
    let put = node.req(
        "PUT",
        "/v1/AUTH_test/c/hb2?multipart-manifest=put&heartbeat=on",
        &[t, ("Accept", "application/json"), ("Etag", "bad")],
        manifest.as_bytes(),
    );
    let v: serde_json::Value = serde_json::from_str(&heartbeat_outcome(&put.body)).expect("json");
    assert_eq!(v["Response Status"], "422 Unprocessable Entity");
    assert_eq!(
        node.req("HEAD", "/v1/AUTH_test/c/hb2", &[t], b"").status,
        404
    );
    // A manifest that does not parse is refused at once, without a 202.
    let put = node.req(
        "PUT",
        "/v1/AUTH_test/c/hb3?multipart-manifest=put&heartbeat=on",
        &[t],
        b"{",
    );
    assert_eq!(put.status, 400);
}

fn unneeded_submanifests_are_not_read(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    make_slo(&node, t);
    let outer = r#"[{"path": "c1/a"}, {"path": "c/slo"}]"#;
    let put = node.req(
        "PUT",
        "/v1/AUTH_test/c/outer?multipart-manifest=put",
        &[t],
        outer.as_bytes(),
    );
    assert_eq!(put.status, 201, "{}", put.text());
    let g = node.req("GET", "/v1/AUTH_test/c/outer?part-number=2", &[t], b"");
    assert_eq!((g.status, g.body.as_slice()), (206, &b"aaaaaXYZbbb"[..]));
    assert_eq!(g.header("content-range"), Some("bytes 5-15/16"));
    // With the nested manifest gone, what does not reach it still reads.
    assert_eq!(
        node.req("DELETE", "/v1/AUTH_test/c/slo", &[t], b"").status,
        204
    );
    let g = node.req("GET", "/v1/AUTH_test/c/outer?part-number=1", &[t], b"");
    assert_eq!((g.status, g.body.as_slice()), (206, &b"aaaaa"[..]));
    let g = node.req(
        "GET",
        "/v1/AUTH_test/c/outer",
        &[t, ("Range", "bytes=1-2,3-4")],
        b"",
    );
    assert_eq!(g.status, 206);
    let g = node.req("GET", "/v1/AUTH_test/c/outer", &[t], b"");
    assert_eq!(g.status, 409);
}

driver_tests! {
    fn part_number_reads;
    fn unneeded_submanifests_are_not_read;
    fn part_number_with_versions;
    fn several_ranges;
    fn heartbeat_put;
}
