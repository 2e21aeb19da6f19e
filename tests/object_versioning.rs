//! Object versioning against a real node: enabling it, versions on
//! overwrite, `?versions` listings with `version_id`/`is_latest`,
//! `?version-id=` reads and deletes, delete markers, the hidden container
//! kept out of account listings, and deleting a versioned container.

mod common;

use common::{md5_hex, Node};

fn json(r: &common::Response) -> serde_json::Value {
    serde_json::from_slice(&r.body).expect("json")
}

fn versions_are_kept_and_addressable(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/v",
        &[t, ("X-Versions-Enabled", "true")],
        b"",
    );
    assert_eq!(r.status, 201);
    let h = node.req("HEAD", "/v1/AUTH_test/v", &[t], b"");
    assert_eq!(h.header("x-versions-enabled"), Some("True"));

    let p1 = node.req("PUT", "/v1/AUTH_test/v/o", &[t], b"first");
    assert_eq!(p1.status, 201);
    let v1 = p1
        .header("x-object-version-id")
        .expect("version id")
        .to_string();
    assert_eq!(p1.header("etag"), Some(md5_hex(b"first").as_str()));
    let p2 = node.req("PUT", "/v1/AUTH_test/v/o", &[t], b"second!");
    let v2 = p2
        .header("x-object-version-id")
        .expect("version id")
        .to_string();
    assert_ne!(v1, v2);

    let g = node.req("GET", "/v1/AUTH_test/v/o", &[t], b"");
    assert_eq!(g.body, b"second!");
    assert_eq!(g.header("x-object-version-id"), Some(v2.as_str()));
    let old = node.req(
        "GET",
        &format!("/v1/AUTH_test/v/o?version-id={v1}"),
        &[t],
        b"",
    );
    assert_eq!(old.status, 200);
    assert_eq!(old.body, b"first");
    let bad = node.req("GET", "/v1/AUTH_test/v/o?version-id=nope", &[t], b"");
    assert_eq!(bad.status, 400);

    // The listing shows the current version's size and ETag.
    let ls = json(&node.req("GET", "/v1/AUTH_test/v?format=json", &[t], b""));
    assert_eq!(ls[0]["bytes"], 7);
    assert_eq!(ls[0]["hash"], md5_hex(b"second!"));
    let vs = json(&node.req("GET", "/v1/AUTH_test/v?versions", &[t], b""));
    let vs = vs.as_array().expect("array");
    assert_eq!(vs.len(), 2);
    assert_eq!(vs[0]["version_id"], v2.as_str());
    assert_eq!(vs[0]["is_latest"], true);
    assert_eq!(vs[1]["version_id"], v1.as_str());
    assert_eq!(vs[1]["is_latest"], false);
    let r = node.req("GET", "/v1/AUTH_test/v?versions&format=xml", &[t], b"");
    assert_eq!(r.status, 406);

    // DELETE leaves a delete marker; old versions stay readable.
    let d = node.req("DELETE", "/v1/AUTH_test/v/o", &[t], b"");
    assert_eq!(d.status, 204);
    assert!(d.has("x-object-version-id"));
    assert_eq!(node.req("GET", "/v1/AUTH_test/v/o", &[t], b"").status, 404);
    let vs = json(&node.req("GET", "/v1/AUTH_test/v?versions", &[t], b""));
    assert_eq!(vs.as_array().map(Vec::len), Some(3));
    assert_eq!(
        vs[0]["content_type"],
        "application/x-deleted;swift_versions_deleted=1"
    );
    let g = node.req(
        "GET",
        &format!("/v1/AUTH_test/v/o?version-id={v2}"),
        &[t],
        b"",
    );
    assert_eq!(g.body, b"second!");

    // The hidden container is not listed; a container with versions
    // cannot be deleted until they are.
    let acct = node.req("GET", "/v1/AUTH_test", &[t], b"").text();
    assert!(acct
        .lines()
        .all(|l| !l.contains('\0') && !l.contains("versions")));
    assert_eq!(node.req("DELETE", "/v1/AUTH_test/v", &[t], b"").status, 409);
    for v in [v1.as_str(), v2.as_str()] {
        let r = node.req(
            "DELETE",
            &format!("/v1/AUTH_test/v/o?version-id={v}"),
            &[t],
            b"",
        );
        assert_eq!(r.status, 204, "{v}");
    }
    let vs = json(&node.req("GET", "/v1/AUTH_test/v?versions", &[t], b""));
    let marker = vs[0]["version_id"].as_str().expect("marker").to_string();
    node.req(
        "DELETE",
        &format!("/v1/AUTH_test/v/o?version-id={marker}"),
        &[t],
        b"",
    );
    node.req(
        "POST",
        "/v1/AUTH_test/v",
        &[t, ("X-Versions-Enabled", "false")],
        b"",
    );
    assert_eq!(node.req("DELETE", "/v1/AUTH_test/v", &[t], b"").status, 204);

    // Legacy and new versioning exclude each other.
    node.container(&tok, "/v1/AUTH_test/leg");
    node.req(
        "POST",
        "/v1/AUTH_test/leg",
        &[t, ("X-Versions-Location", "c")],
        b"",
    );
    let r = node.req(
        "POST",
        "/v1/AUTH_test/leg",
        &[t, ("X-Versions-Enabled", "true")],
        b"",
    );
    assert_eq!(r.status, 400);

    let info = json(&node.req("GET", "/info", &[], b""));
    assert!(info.get("object_versioning").is_some());
}

driver_tests! {
    fn versions_are_kept_and_addressable;
}
