//! Server-side copy against a real node: `PUT` + `X-Copy-From` and `COPY` +
//! `Destination`, metadata rules, ranges on the source, error statuses, and
//! a large copy streamed byte for byte.

mod common;

use common::{md5_hex, pattern, Node};

fn copy_from_copies_data_and_metadata(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    let put = node.req(
        "PUT",
        "/v1/AUTH_test/c/src",
        &[
            t,
            ("X-Object-Meta-Color", "blue"),
            ("Content-Type", "text/x-src"),
        ],
        b"source data",
    );
    assert_eq!(put.status, 201);
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c1/dst",
        &[
            t,
            ("X-Copy-From", "c/src"),
            ("X-Object-Meta-Size", "big"),
            ("Content-Length", "0"),
        ],
        b"",
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("x-copied-from"), Some("c/src"));
    assert_eq!(r.header("x-copied-from-account"), Some("AUTH_test"));
    assert!(r.has("x-copied-from-last-modified"));
    assert_eq!(r.header("x-object-meta-color"), Some("blue"));
    assert_eq!(r.header("etag"), Some(md5_hex(b"source data").as_str()));
    let g = node.req("GET", "/v1/AUTH_test/c1/dst", &[t], b"");
    assert_eq!(g.body, b"source data");
    assert_eq!(g.header("x-object-meta-color"), Some("blue"));
    assert_eq!(g.header("x-object-meta-size"), Some("big"));
    assert_eq!(g.header("content-type"), Some("text/x-src"));

    // Fresh metadata: only what the copy request says.
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c1/fresh",
        &[
            t,
            ("X-Copy-From", "/c/src"),
            ("X-Fresh-Metadata", "true"),
            ("X-Object-Meta-New", "1"),
        ],
        b"",
    );
    assert_eq!(r.status, 201, "{r:?}");
    let g = node.req("HEAD", "/v1/AUTH_test/c1/fresh", &[t], b"");
    assert!(!g.has("x-object-meta-color"), "{g:?}");
    assert_eq!(g.header("x-object-meta-new"), Some("1"));
}

fn copy_verb_and_errors(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    assert_eq!(
        node.req("PUT", "/v1/AUTH_test/c/a%20b", &[t], b"0123456789")
            .status,
        201
    );
    let r = node.req(
        "COPY",
        "/v1/AUTH_test/c/a%20b",
        &[t, ("Destination", "c1/x%20y")],
        b"",
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("x-copied-from"), Some("c/a%20b"));
    assert_eq!(
        node.req("GET", "/v1/AUTH_test/c1/x%20y", &[t], b"").body,
        b"0123456789"
    );
    // A range applies to the source.
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c1/part",
        &[t, ("X-Copy-From", "c/a%20b"), ("Range", "bytes=2-4")],
        b"",
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        node.req("GET", "/v1/AUTH_test/c1/part", &[t], b"").body,
        b"234"
    );

    let status = |m: &str, p: &str, h: &[(&str, &str)], b: &[u8]| {
        let mut hs = vec![t];
        hs.extend_from_slice(h);
        node.req(m, p, &hs, b).status
    };
    assert_eq!(status("COPY", "/v1/AUTH_test/c/a%20b", &[], b""), 412);
    assert_eq!(
        status(
            "COPY",
            "/v1/AUTH_test/c/a%20b",
            &[("Destination", "nocontainer")],
            b""
        ),
        412
    );
    assert_eq!(
        status("PUT", "/v1/AUTH_test/c/z", &[("X-Copy-From", "c")], b""),
        412
    );
    assert_eq!(
        status(
            "PUT",
            "/v1/AUTH_test/c/z",
            &[("X-Copy-From", "c/missing")],
            b""
        ),
        404
    );
    assert_eq!(
        status(
            "PUT",
            "/v1/AUTH_test/c/z",
            &[("X-Copy-From", "c/a%20b")],
            b"body"
        ),
        400
    );
    assert_eq!(
        status(
            "PUT",
            "/v1/AUTH_test/c/z",
            &[("X-Copy-From", "c/a%20b"), ("X-Copy-From-Account", "a/b")],
            b""
        ),
        412
    );
    assert_eq!(
        status(
            "COPY",
            "/v1/AUTH_test/c/a%20b",
            &[("Destination", "nope/o")],
            b""
        ),
        404
    );
    assert_eq!(
        status("HEAD", "/v1/AUTH_test/c/z", &[], b""),
        404,
        "nothing stored"
    );
    // Without a token the source read is refused.
    let r = node.req(
        "COPY",
        "/v1/AUTH_test/c/a%20b",
        &[("Destination", "c1/q")],
        b"",
    );
    assert_eq!(r.status, 401);
}

fn large_copy_streams_byte_for_byte(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    let data = pattern(9 * 1024 * 1024 + 17, 3);
    assert_eq!(
        node.req("PUT", "/v1/AUTH_test/c/big", &[t], &data).status,
        201
    );
    let r = node.req(
        "COPY",
        "/v1/AUTH_test/c/big",
        &[t, ("Destination", "c/big2")],
        b"",
    );
    assert_eq!(r.status, 201, "{r:?}");
    let g = node.req("GET", "/v1/AUTH_test/c/big2", &[t], b"");
    assert_eq!(g.body.len(), data.len());
    assert_eq!(md5_hex(&g.body), md5_hex(&data));
    let l = node.req("GET", "/v1/AUTH_test/c?format=json&prefix=big2", &[t], b"");
    let rows: serde_json::Value = serde_json::from_slice(&l.body).expect("json");
    assert_eq!(rows[0]["bytes"], data.len());
}

driver_tests! {
    fn copy_from_copies_data_and_metadata;
    fn copy_verb_and_errors;
    fn large_copy_streams_byte_for_byte;
}
