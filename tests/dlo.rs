//! Dynamic large objects against a real node: concatenation in listing
//! order, the manifest ETag, ranges across segments, the manifest itself,
//! header validation and copying a DLO's contents.

mod common;

use common::{md5_hex, Node};

fn dlo_reads_as_its_segments(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    let parts: [&[u8]; 3] = [b"aaaaa", b"bbbbb", b"ccccc"];
    for (i, p) in parts.iter().enumerate() {
        let path = format!("/v1/AUTH_test/c1/seg/{i}");
        assert_eq!(node.req("PUT", &path, &[t], p).status, 201);
    }
    let put = node.req(
        "PUT",
        "/v1/AUTH_test/c/man",
        &[
            t,
            ("X-Object-Manifest", "c1/seg/"),
            ("Content-Type", "text/x-dlo"),
        ],
        b"",
    );
    assert_eq!(put.status, 201);
    let g = node.req("GET", "/v1/AUTH_test/c/man", &[t], b"");
    assert_eq!(g.status, 200);
    assert_eq!(g.body, b"aaaaabbbbbccccc");
    let etags: String = parts.iter().map(|p| md5_hex(p)).collect();
    let want = format!("\"{}\"", md5_hex(etags.as_bytes()));
    assert_eq!(g.header("etag"), Some(want.as_str()));
    assert_eq!(g.header("content-type"), Some("text/x-dlo"));
    assert_eq!(g.header("x-object-manifest"), Some("c1/seg/"));

    let h = node.req("HEAD", "/v1/AUTH_test/c/man", &[t], b"");
    assert_eq!(h.header("content-length"), Some("15"));

    let r = node.req(
        "GET",
        "/v1/AUTH_test/c/man",
        &[t, ("Range", "bytes=3-11")],
        b"",
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, b"aabbbbbcc");
    assert_eq!(r.header("content-range"), Some("bytes 3-11/15"));
    let r = node.req(
        "GET",
        "/v1/AUTH_test/c/man",
        &[t, ("Range", "bytes=-3")],
        b"",
    );
    assert_eq!(r.body, b"ccc");
    let r = node.req(
        "GET",
        "/v1/AUTH_test/c/man",
        &[t, ("Range", "bytes=99-")],
        b"",
    );
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */15"));

    let m = node.req(
        "GET",
        "/v1/AUTH_test/c/man?multipart-manifest=get",
        &[t],
        b"",
    );
    assert_eq!(m.status, 200);
    assert!(m.body.is_empty());

    let inm = node.req(
        "GET",
        "/v1/AUTH_test/c/man",
        &[t, ("If-None-Match", &want)],
        b"",
    );
    assert_eq!(inm.status, 304);
    let im = node.req("GET", "/v1/AUTH_test/c/man", &[t, ("If-Match", &want)], b"");
    assert_eq!(im.status, 200);
    assert_eq!(im.body, b"aaaaabbbbbccccc");

    // Copying a DLO copies its contents; with multipart-manifest=get, the
    // manifest.
    let c = node.req(
        "COPY",
        "/v1/AUTH_test/c/man",
        &[t, ("Destination", "c/flat")],
        b"",
    );
    assert_eq!(c.status, 201, "{c:?}");
    let f = node.req("GET", "/v1/AUTH_test/c/flat", &[t], b"");
    assert_eq!(f.body, b"aaaaabbbbbccccc");
    assert!(!f.has("x-object-manifest"));
    let c = node.req(
        "COPY",
        "/v1/AUTH_test/c/man?multipart-manifest=get",
        &[t, ("Destination", "c/man2")],
        b"",
    );
    assert_eq!(c.status, 201, "{c:?}");
    let f = node.req("GET", "/v1/AUTH_test/c/man2", &[t], b"");
    assert_eq!(f.body, b"aaaaabbbbbccccc");
    assert_eq!(f.header("x-object-manifest"), Some("c1/seg/"));

    for bad in ["c1", "c1/", "/seg", "c1/seg?x"] {
        let r = node.req(
            "PUT",
            "/v1/AUTH_test/c/bad",
            &[t, ("X-Object-Manifest", bad)],
            b"",
        );
        assert_eq!(r.status, 400, "{bad}: {r:?}");
    }
}

driver_tests! {
    fn dlo_reads_as_its_segments;
}
