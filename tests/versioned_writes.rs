//! Legacy versioning against a real node: `X-Versions-Location` (stack)
//! archives on overwrite and restores on DELETE; `X-History-Location`
//! archives and leaves delete markers; the headers read back; /info.

mod common;

use common::Node;

fn names(node: &Node, t: (&str, &str), container: &str) -> Vec<String> {
    let r = node.req("GET", &format!("/v1/AUTH_test/{container}"), &[t], b"");
    r.text().lines().map(str::to_string).collect()
}

fn stack_mode_archives_and_restores(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    node.container(&tok, "/v1/AUTH_test/arch");
    let r = node.req(
        "POST",
        "/v1/AUTH_test/c",
        &[t, ("X-Versions-Location", "arch")],
        b"",
    );
    assert_eq!(r.status, 204);
    let h = node.req("HEAD", "/v1/AUTH_test/c", &[t], b"");
    assert_eq!(h.header("x-versions-location"), Some("arch"));
    assert!(!h.has("x-container-sysmeta-versions-location"));

    for body in [&b"v1"[..], b"v2", b"v3"] {
        let r = node.req(
            "PUT",
            "/v1/AUTH_test/c/obj",
            &[t, ("Content-Type", "text/x-v")],
            body,
        );
        assert_eq!(r.status, 201);
    }
    let archived = names(&node, t, "arch");
    assert_eq!(archived.len(), 2, "{archived:?}");
    assert!(archived.iter().all(|n| n.starts_with("003obj/")));
    let first = node.req(
        "GET",
        &format!("/v1/AUTH_test/arch/{}", archived[0]),
        &[t],
        b"",
    );
    assert_eq!(first.body, b"v1");
    assert_eq!(first.header("content-type"), Some("text/x-v"));

    // DELETE pops the stack.
    assert_eq!(
        node.req("DELETE", "/v1/AUTH_test/c/obj", &[t], b"").status,
        204
    );
    assert_eq!(
        node.req("GET", "/v1/AUTH_test/c/obj", &[t], b"").body,
        b"v2"
    );
    assert_eq!(names(&node, t, "arch").len(), 1);
    assert_eq!(
        node.req("DELETE", "/v1/AUTH_test/c/obj", &[t], b"").status,
        204
    );
    assert_eq!(
        node.req("GET", "/v1/AUTH_test/c/obj", &[t], b"").body,
        b"v1"
    );
    assert!(names(&node, t, "arch").is_empty());
    assert_eq!(
        node.req("DELETE", "/v1/AUTH_test/c/obj", &[t], b"").status,
        204
    );
    assert_eq!(
        node.req("GET", "/v1/AUTH_test/c/obj", &[t], b"").status,
        404
    );

    // Bad and conflicting headers; removal.
    let r = node.req(
        "POST",
        "/v1/AUTH_test/c",
        &[t, ("X-Versions-Location", "a/b")],
        b"",
    );
    assert_eq!(r.status, 412);
    let r = node.req(
        "POST",
        "/v1/AUTH_test/c",
        &[t, ("X-Versions-Location", "a"), ("X-History-Location", "b")],
        b"",
    );
    assert_eq!(r.status, 400);
    let r = node.req(
        "POST",
        "/v1/AUTH_test/c",
        &[t, ("X-Remove-Versions-Location", "x")],
        b"",
    );
    assert_eq!(r.status, 204);
    let h = node.req("HEAD", "/v1/AUTH_test/c", &[t], b"");
    assert!(!h.has("x-versions-location"));

    let info = node.req("GET", "/info", &[], b"");
    let info: serde_json::Value = serde_json::from_slice(&info.body).expect("json");
    assert_eq!(
        info["versioned_writes"]["allowed_flags"][0],
        "x-versions-location"
    );
}

fn history_mode_keeps_delete_markers(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let t = ("X-Auth-Token", tok.as_str());
    node.container(&tok, "/v1/AUTH_test/hist");
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/h",
        &[t, ("X-History-Location", "hist")],
        b"",
    );
    assert_eq!(r.status, 201);
    let h = node.req("HEAD", "/v1/AUTH_test/h", &[t], b"");
    assert_eq!(h.header("x-history-location"), Some("hist"));
    node.req("PUT", "/v1/AUTH_test/h/o", &[t], b"one");
    node.req("PUT", "/v1/AUTH_test/h/o", &[t], b"two");
    assert_eq!(
        node.req("DELETE", "/v1/AUTH_test/h/o", &[t], b"").status,
        204
    );
    assert_eq!(node.req("GET", "/v1/AUTH_test/h/o", &[t], b"").status, 404);
    let r = node.req("GET", "/v1/AUTH_test/hist?format=json", &[t], b"");
    let rows: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[2]["content_type"],
        "application/x-deleted;swift_versions_deleted=1"
    );
}

driver_tests! {
    fn stack_mode_archives_and_restores;
    fn history_mode_keeps_delete_markers;
}
