//! Static large objects against a real node: manifest PUT with segment
//! validation, GET as the concatenation (ranges, inline data, nested
//! manifests), the stored and raw manifests, and delete with segments.

mod common;

use common::{md5_hex, Node};

fn slo_round_trip(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    for (name, data) in [("a", b"aaaaa"), ("b", b"bbbbb")] {
        let p = format!("/v1/AUTH_test/c1/{name}");
        assert_eq!(node.req("PUT", &p, &[t], data).status, 201);
    }
    let ea = md5_hex(b"aaaaa");
    let manifest = format!(
        r#"[{{"path": "/c1/a", "etag": "{ea}", "size_bytes": 5}}, {{"data": "WFla"}}, {{"path": "c1/b", "range": "1-3"}}]"#
    );
    let put = node.req(
        "PUT",
        "/v1/AUTH_test/c/slo?multipart-manifest=put",
        &[t],
        manifest.as_bytes(),
    );
    assert_eq!(put.status, 201, "{put:?} {}", put.text());
    let g = node.req("GET", "/v1/AUTH_test/c/slo", &[t], b"");
    assert_eq!(g.status, 200);
    assert_eq!(g.body, b"aaaaaXYZbbb");
    assert_eq!(g.header("x-static-large-object"), Some("True"));
    let eb = md5_hex(b"bbbbb");
    let want = md5_hex(format!("{ea}{}{eb}:1-3;", md5_hex(b"XYZ")).as_bytes());
    assert_eq!(g.header("etag"), Some(format!("\"{want}\"").as_str()));
    assert_eq!(put.header("etag"), Some(format!("\"{want}\"").as_str()));
    let h = node.req("HEAD", "/v1/AUTH_test/c/slo", &[t], b"");
    assert_eq!(h.header("content-length"), Some("11"));
    let r = node.req(
        "GET",
        "/v1/AUTH_test/c/slo",
        &[t, ("Range", "bytes=4-8")],
        b"",
    );
    assert_eq!((r.status, r.body.as_slice()), (206, &b"aXYZb"[..]));

    let m = node.req(
        "GET",
        "/v1/AUTH_test/c/slo?multipart-manifest=get",
        &[t],
        b"",
    );
    let stored: serde_json::Value = serde_json::from_slice(&m.body).expect("json");
    assert_eq!(stored[0]["name"], "/c1/a");
    assert_eq!(stored[2]["range"], "1-3");
    let raw = node.req(
        "GET",
        "/v1/AUTH_test/c/slo?multipart-manifest=get&format=raw",
        &[t],
        b"",
    );
    let raw: serde_json::Value = serde_json::from_slice(&raw.body).expect("json");
    assert_eq!(raw[0]["path"], "/c1/a");
    assert_eq!(raw[0]["size_bytes"], 5);

    // Nested: a manifest whose segment is the first manifest.
    let outer = r#"[{"path": "c/slo"}, {"path": "c1/a", "range": "-1"}]"#;
    let p = node.req(
        "PUT",
        "/v1/AUTH_test/c/outer?multipart-manifest=put",
        &[t],
        outer.as_bytes(),
    );
    assert_eq!(p.status, 201, "{p:?}");
    assert_eq!(
        node.req("GET", "/v1/AUTH_test/c/outer", &[t], b"").body,
        b"aaaaaXYZbbba"
    );

    // Validation problems are listed per segment.
    let bad = r#"[{"path": "c1/a", "etag": "nope"}, {"path": "c1/missing"}]"#;
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c/bad?multipart-manifest=put",
        &[t],
        bad.as_bytes(),
    );
    assert_eq!(r.status, 400);
    let text = r.text();
    assert!(text.contains("c1/a, Etag Mismatch"), "{text}");
    assert!(text.contains("c1/missing, 404 Not Found"), "{text}");
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c/bad?multipart-manifest=put",
        &[t],
        b"{}",
    );
    assert_eq!(r.status, 400);
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c/x",
        &[t, ("X-Static-Large-Object", "true")],
        b"",
    );
    assert_eq!(r.status, 400);
    let too_many: Vec<String> = (0..1001)
        .map(|_| r#"{"path": "c1/a"}"#.to_string())
        .collect();
    let body = format!("[{}]", too_many.join(","));
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c/big?multipart-manifest=put",
        &[t],
        body.as_bytes(),
    );
    assert_eq!(r.status, 413);

    // A changed segment fails the read.
    assert_eq!(
        node.req("PUT", "/v1/AUTH_test/c1/a", &[t], b"AAAAA").status,
        201
    );
    assert_eq!(
        node.req("GET", "/v1/AUTH_test/c/slo", &[t], b"").status,
        409
    );

    let d = node.req(
        "DELETE",
        "/v1/AUTH_test/c/slo?multipart-manifest=delete",
        &[t],
        b"",
    );
    assert_eq!(d.status, 200);
    assert!(d.text().contains("Number Deleted: 3"), "{}", d.text());
    for p in [
        "/v1/AUTH_test/c/slo",
        "/v1/AUTH_test/c1/a",
        "/v1/AUTH_test/c1/b",
    ] {
        assert_eq!(node.req("HEAD", p, &[t], b"").status, 404, "{p}");
    }
}

driver_tests! {
    fn slo_round_trip;
}
