//! Bulk delete over real sockets: objects then containers, not-found and
//! failed entries, the three answer formats, and the request limits.

mod common;

use common::*;

fn setup(node: &Node) -> String {
    let tok = node.token();
    let t = [("X-Auth-Token", tok.as_str())];
    for c in [
        "/v1/AUTH_test/c",
        "/v1/AUTH_test/full",
        "/v1/AUTH_test/empty",
    ] {
        assert_eq!(node.req("PUT", c, &t, b"").status, 201);
    }
    for o in [
        "/v1/AUTH_test/c/a",
        "/v1/AUTH_test/c/b%20c",
        "/v1/AUTH_test/full/x",
    ] {
        assert_eq!(node.req("PUT", o, &t, b"data").status, 201);
    }
    tok
}

fn deletes_objects_then_containers(driver: &str) {
    let node = Node::start(driver);
    let tok = setup(&node);
    let list = b"/empty\nc/a\n/c/b%20c\nc/missing\n\n/full\n";
    let r = node.req(
        "POST",
        "/v1/AUTH_test?bulk-delete",
        &[
            ("X-Auth-Token", &tok),
            ("Accept", "application/json"),
            ("Content-Type", "text/plain"),
        ],
        list,
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    let v: serde_json::Value = serde_json::from_slice(r.body.trim_ascii()).expect("json");
    assert_eq!(v["Number Deleted"], 3, "{v}");
    assert_eq!(v["Number Not Found"], 1, "{v}");
    assert_eq!(v["Response Status"], "400 Bad Request", "{v}");
    assert_eq!(v["Errors"], serde_json::json!([["/full", "409 Conflict"]]));
    let t = [("X-Auth-Token", tok.as_str())];
    assert_eq!(node.req("GET", "/v1/AUTH_test/c", &t, b"").status, 204);
    assert_eq!(node.req("HEAD", "/v1/AUTH_test/empty", &t, b"").status, 404);
    // Text answer, all fine.
    let r = node.req(
        "DELETE",
        "/v1/AUTH_test?bulk-delete",
        &[("X-Auth-Token", &tok)],
        b"full/x\nfull\n",
    );
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(
        r.text().trim_start(),
        "Number Deleted: 2\nNumber Not Found: 0\nResponse Body: \nResponse Status: 200 OK\nErrors:\n"
    );
    // XML, and nothing to delete.
    let r = node.req(
        "POST",
        "/v1/AUTH_test?bulk-delete",
        &[("X-Auth-Token", &tok), ("Accept", "application/xml")],
        b"\n",
    );
    let text = r.text();
    assert!(
        text.contains("<response_status>400 Bad Request</response_status>"),
        "{text}"
    );
    assert!(
        text.contains("<response_body>Invalid bulk delete.</response_body>"),
        "{text}"
    );
    let info: serde_json::Value =
        serde_json::from_slice(&node.req("GET", "/info", &[], b"").body).expect("json");
    assert_eq!(info["bulk_delete"]["max_deletes_per_request"], 10000);
    node.stop();
}

fn limits_and_authorization(driver: &str) {
    let node = Node::start(driver);
    let tok = setup(&node);
    let many: String = (0..10_001).map(|i| format!("c/o{i}\n")).collect();
    let r = node.req(
        "POST",
        "/v1/AUTH_test?bulk-delete",
        &[("X-Auth-Token", &tok), ("Accept", "application/json")],
        many.as_bytes(),
    );
    let v: serde_json::Value = serde_json::from_slice(r.body.trim_ascii()).expect("json");
    assert_eq!(v["Response Status"], "413 Request Entity Too Large");
    assert_eq!(
        v["Response Body"],
        "Maximum Bulk Deletes: 10000 per request"
    );
    let r = node.req(
        "POST",
        "/v1/AUTH_test?bulk-delete",
        &[
            ("X-Auth-Token", &tok),
            ("Accept", "application/json"),
            ("Content-Type", "application/json"),
        ],
        b"c/a\n",
    );
    let v: serde_json::Value = serde_json::from_slice(r.body.trim_ascii()).expect("json");
    assert_eq!(v["Response Status"], "406 Not Acceptable");
    let r = node.req(
        "POST",
        "/v1/AUTH_test?bulk-delete",
        &[("X-Auth-Token", &tok), ("Accept", "application/json")],
        format!("c/{}\n", "x".repeat(3000)).as_bytes(),
    );
    let v: serde_json::Value = serde_json::from_slice(r.body.trim_ascii()).expect("json");
    assert_eq!(v["Response Status"], "400 Bad Request");
    assert_eq!(v["Response Body"], "Invalid File Name", "{v}");
    // Another account's user may not delete here: each delete is authorized.
    let tok2 = node.token_for("test2:tester2", "testing2");
    let r = node.req(
        "POST",
        "/v1/AUTH_test?bulk-delete",
        &[("X-Auth-Token", &tok2), ("Accept", "application/json")],
        b"c/a\n",
    );
    let v: serde_json::Value = serde_json::from_slice(r.body.trim_ascii()).expect("json");
    assert_eq!(
        v["Errors"],
        serde_json::json!([["c/a", "403 Forbidden"]]),
        "{v}"
    );
    let r = node.req("HEAD", "/v1/AUTH_test/c/a", &[("X-Auth-Token", &tok)], b"");
    assert_eq!(r.status, 200);
    node.stop();
}

driver_tests! {
    fn deletes_objects_then_containers;
    fn limits_and_authorization;
}
