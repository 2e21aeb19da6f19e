//! Symlinks against a real node: following with Content-Location, the
//! link itself with `?symlink=get`, the loop limit, static links and their
//! ETag checks, POST redirects, listing fields, copying a link, /info.

mod common;

use common::{md5_hex, Node};

fn symlinks_follow_and_describe_their_target(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    assert_eq!(
        node.req("PUT", "/v1/AUTH_test/c/tgt", &[t], b"target body")
            .status,
        201
    );
    let put = node.req(
        "PUT",
        "/v1/AUTH_test/c1/link",
        &[t, ("X-Symlink-Target", "c/tgt")],
        b"",
    );
    assert_eq!(put.status, 201, "{put:?}");

    let g = node.req("GET", "/v1/AUTH_test/c1/link", &[t], b"");
    assert_eq!(g.status, 200);
    assert_eq!(g.body, b"target body");
    assert_eq!(g.header("content-location"), Some("/v1/AUTH_test/c/tgt"));
    let r = node.req(
        "GET",
        "/v1/AUTH_test/c1/link",
        &[t, ("Range", "bytes=0-5")],
        b"",
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, b"target");

    // The link itself.
    let l = node.req("GET", "/v1/AUTH_test/c1/link?symlink=get", &[t], b"");
    assert_eq!(l.status, 200);
    assert!(l.body.is_empty());
    assert_eq!(l.header("x-symlink-target"), Some("c/tgt"));
    assert_eq!(l.header("content-type"), Some("application/symlink"));
    assert!(!l.has("x-object-sysmeta-symlink-target"));

    // Listing fields.
    let ls = node.req("GET", "/v1/AUTH_test/c1?format=json", &[t], b"");
    let rows: serde_json::Value = serde_json::from_slice(&ls.body).expect("json");
    assert_eq!(rows[0]["symlink_path"], "/v1/AUTH_test/c/tgt");
    assert_eq!(rows[0]["hash"], md5_hex(b""));
    assert!(rows[0].get("symlink_etag").is_none());

    // POST applies to the link and points at the target.
    let p = node.req(
        "POST",
        "/v1/AUTH_test/c1/link",
        &[t, ("X-Object-Meta-A", "b")],
        b"",
    );
    assert_eq!(p.status, 307);
    assert_eq!(p.header("location"), Some("/v1/AUTH_test/c/tgt"));
    let p = node.req(
        "POST",
        "/v1/AUTH_test/c1/link",
        &[t, ("X-Symlink-Target", "c/x")],
        b"",
    );
    assert_eq!(p.status, 400);

    // Copying the link copies the target; with ?symlink=get, the link.
    let c = node.req(
        "PUT",
        "/v1/AUTH_test/c1/copy",
        &[t, ("X-Copy-From", "c1/link")],
        b"",
    );
    assert_eq!(c.status, 201);
    let g = node.req("GET", "/v1/AUTH_test/c1/copy", &[t], b"");
    assert_eq!(g.body, b"target body");
    assert!(!g.has("content-location"));
    let c = node.req(
        "PUT",
        "/v1/AUTH_test/c1/copy2?symlink=get",
        &[t, ("X-Copy-From", "c1/link")],
        b"",
    );
    assert_eq!(c.status, 201);
    let g = node.req("GET", "/v1/AUTH_test/c1/copy2?symlink=get", &[t], b"");
    assert_eq!(g.header("x-symlink-target"), Some("c/tgt"));

    // A dangling link: 404 that still names the target.
    node.req(
        "PUT",
        "/v1/AUTH_test/c1/dangling",
        &[t, ("X-Symlink-Target", "c/nope")],
        b"",
    );
    let g = node.req("GET", "/v1/AUTH_test/c1/dangling", &[t], b"");
    assert_eq!(g.status, 404);
    assert_eq!(g.header("content-location"), Some("/v1/AUTH_test/c/nope"));

    // Bad input.
    for (hdr, val, status) in [
        ("X-Symlink-Target", "nocontainer", 412),
        ("X-Symlink-Target", "/c/o", 412),
        ("X-Symlink-Target", "c1/self", 400),
    ] {
        let r = node.req("PUT", "/v1/AUTH_test/c1/self", &[t, (hdr, val)], b"");
        assert_eq!(r.status, status, "{val}");
    }
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c1/body",
        &[t, ("X-Symlink-Target", "c/tgt")],
        b"x",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), "Symlink requests require a zero byte body");

    let info = node.req("GET", "/info", &[], b"");
    let info: serde_json::Value = serde_json::from_slice(&info.body).expect("json");
    assert_eq!(info["symlink"]["symloop_max"], 2);
    assert_eq!(info["symlink"]["static_links"], true);
}

fn symlink_chains_stop_at_the_loop_limit(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    node.req("PUT", "/v1/AUTH_test/c/o", &[t], b"data");
    let mut prev = "c/o".to_string();
    for i in 0..3 {
        let name = format!("l{i}");
        let r = node.req(
            "PUT",
            &format!("/v1/AUTH_test/c/{name}"),
            &[t, ("X-Symlink-Target", prev.as_str())],
            b"",
        );
        assert_eq!(r.status, 201);
        prev = format!("c/{name}");
    }
    // l1 -> l0 -> o: two hops.
    let g = node.req("GET", "/v1/AUTH_test/c/l1", &[t], b"");
    assert_eq!(g.status, 200);
    assert_eq!(g.body, b"data");
    // l2 -> l1 -> l0 -> o: three.
    let g = node.req("GET", "/v1/AUTH_test/c/l2", &[t], b"");
    assert_eq!(g.status, 409);
    assert_eq!(
        g.text(),
        "Too many levels of symbolic links, maximum allowed is 2"
    );
}

fn static_links_check_the_target_etag(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    node.req(
        "PUT",
        "/v1/AUTH_test/c/o",
        &[t, ("Content-Type", "application/target")],
        b"12345",
    );
    let etag = md5_hex(b"12345");
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c1/s",
        &[
            t,
            ("X-Symlink-Target", "c/o"),
            ("X-Symlink-Target-Etag", "wrong"),
        ],
        b"",
    );
    assert_eq!(r.status, 409);
    assert_eq!(
        r.text(),
        format!("Object Etag '{etag}' does not match X-Symlink-Target-Etag header 'wrong'")
    );
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c1/s",
        &[
            t,
            ("X-Symlink-Target", "c/missing"),
            ("X-Symlink-Target-Etag", etag.as_str()),
        ],
        b"",
    );
    assert_eq!(r.status, 409);
    assert_eq!(r.text(), "X-Symlink-Target does not exist");
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c1/s",
        &[
            t,
            ("X-Symlink-Target", "c/o"),
            ("X-Symlink-Target-Etag", etag.as_str()),
        ],
        b"",
    );
    assert_eq!(r.status, 201);
    let ls = node.req("GET", "/v1/AUTH_test/c1?format=json", &[t], b"");
    let rows: serde_json::Value = serde_json::from_slice(&ls.body).expect("json");
    assert_eq!(rows[0]["symlink_etag"], etag.as_str());
    assert_eq!(rows[0]["symlink_bytes"], 5);
    assert_eq!(rows[0]["content_type"], "application/target");
    let g = node.req("GET", "/v1/AUTH_test/c1/s", &[t], b"");
    assert_eq!(g.body, b"12345");
    let h = node.req("HEAD", "/v1/AUTH_test/c1/s?symlink=get", &[t], b"");
    assert_eq!(h.header("x-symlink-target-etag"), Some(etag.as_str()));
    assert_eq!(h.header("x-symlink-target-bytes"), Some("5"));

    // The target changes: the static link breaks but still says where.
    node.req("PUT", "/v1/AUTH_test/c/o", &[t], b"other");
    let g = node.req("GET", "/v1/AUTH_test/c1/s", &[t], b"");
    assert_eq!(g.status, 409);
    assert_eq!(g.header("content-location"), Some("/v1/AUTH_test/c/o"));
}

driver_tests! {
    fn symlinks_follow_and_describe_their_target;
    fn symlink_chains_stop_at_the_loop_limit;
    fn static_links_check_the_target_etag;
}
