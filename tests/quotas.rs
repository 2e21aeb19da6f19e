//! Container and account quotas over real sockets: who may set them, the
//! 400s for bad values, and the 413s for uploads past them.

mod common;

use common::*;

fn container_quotas(driver: &str) {
    let node = Node::start(driver);
    let tok = node.token();
    let t = [("X-Auth-Token", tok.as_str())];
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/q",
        &[
            ("X-Auth-Token", &tok),
            ("X-Container-Meta-Quota-Bytes", "abc"),
        ],
        b"",
    );
    assert_eq!((r.status, r.text().as_str()), (400, "Invalid bytes quota."));
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/q",
        &[
            ("X-Auth-Token", &tok),
            ("X-Container-Meta-Quota-Bytes", "10"),
            ("X-Container-Meta-Quota-Count", "2"),
        ],
        b"",
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        node.req("PUT", "/v1/AUTH_test/q/a", &t, b"123456").status,
        201
    );
    let r = node.req("PUT", "/v1/AUTH_test/q/b", &t, b"12345");
    assert_eq!(
        (r.status, r.text().as_str()),
        (413, "Upload exceeds quota.")
    );
    assert_eq!(
        node.req("PUT", "/v1/AUTH_test/q/b", &t, b"1234").status,
        201
    );
    let r = node.req("PUT", "/v1/AUTH_test/q/c", &t, b"");
    assert_eq!(r.status, 413, "count quota");
    // Raising the quota lets uploads through again.
    let r = node.req(
        "POST",
        "/v1/AUTH_test/q",
        &[
            ("X-Auth-Token", &tok),
            ("X-Remove-Container-Meta-Quota-Count", "x"),
        ],
        b"",
    );
    assert_eq!(r.status, 204);
    assert_eq!(node.req("PUT", "/v1/AUTH_test/q/c", &t, b"").status, 201);
    let r = node.req(
        "POST",
        "/v1/AUTH_test/q",
        &[
            ("X-Auth-Token", &tok),
            ("X-Container-Meta-Quota-Count", "1.5"),
        ],
        b"",
    );
    assert_eq!((r.status, r.text().as_str()), (400, "Invalid count quota."));
    let info: serde_json::Value =
        serde_json::from_slice(&node.req("GET", "/info", &[], b"").body).expect("json");
    assert!(info.get("container_quotas").is_some());
    assert!(info.get("account_quotas").is_some());
    node.stop();
}

fn account_quotas(driver: &str) {
    let node = Node::start(driver);
    let tok = node.token();
    let admin = node.token_for("admin:admin", "admin");
    let t = [("X-Auth-Token", tok.as_str())];
    assert_eq!(node.req("PUT", "/v1/AUTH_test/c", &t, b"").status, 201);
    // The account owner may not set its own quota.
    let r = node.req(
        "POST",
        "/v1/AUTH_test",
        &[("X-Auth-Token", &tok), ("X-Account-Meta-Quota-Bytes", "10")],
        b"",
    );
    assert_eq!(r.status, 403);
    let r = node.req(
        "POST",
        "/v1/AUTH_test",
        &[("X-Auth-Token", &admin), ("X-Account-Quota-Bytes", "ten")],
        b"",
    );
    assert_eq!(r.status, 400);
    let r = node.req(
        "POST",
        "/v1/AUTH_test",
        &[("X-Auth-Token", &admin), ("X-Account-Quota-Bytes", "10")],
        b"",
    );
    assert_eq!(r.status, 204, "{r:?}");
    let r = node.req("HEAD", "/v1/AUTH_test", &t, b"");
    assert_eq!(r.header("x-account-quota-bytes"), Some("10"));
    assert!(!r.has("x-account-sysmeta-quota-bytes"));
    assert_eq!(
        node.req("PUT", "/v1/AUTH_test/c/a", &t, b"12345678").status,
        201
    );
    // Account totals follow container totals within the report interval
    // (eventually consistent, as in Swift).
    std::thread::sleep(std::time::Duration::from_millis(400));
    let r = node.req("PUT", "/v1/AUTH_test/c/b", &t, b"123");
    assert_eq!(
        (r.status, r.text().as_str()),
        (413, "Upload exceeds quota.")
    );
    // Resellers are not held to quotas.
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c/b",
        &[("X-Auth-Token", &admin)],
        b"123",
    );
    assert_eq!(r.status, 201);
    // Count and per-policy quotas.
    let r = node.req(
        "POST",
        "/v1/AUTH_test",
        &[
            ("X-Auth-Token", &admin),
            ("X-Remove-Account-Quota-Bytes", "1"),
            ("X-Account-Quota-Count-Policy-Policy-0", "2"),
        ],
        b"",
    );
    assert_eq!(r.status, 204);
    std::thread::sleep(std::time::Duration::from_millis(400));
    let r = node.req("PUT", "/v1/AUTH_test/c/d", &t, b"");
    assert_eq!(
        (r.status, r.text().as_str()),
        (413, "Upload exceeds policy quota.")
    );
    let r = node.req("HEAD", "/v1/AUTH_test", &t, b"");
    assert!(!r.has("x-account-quota-bytes"));
    assert_eq!(r.header("x-account-quota-count-policy-policy-0"), Some("2"));
    node.stop();
}

/// As Swift: a versioned container's quota counts the bytes of its older
/// versions too (they live in the hidden versions container), and a caller
/// who may not write there gets its 401/403 rather than the 413.
fn versioned_container_quota_counts_versions(driver: &str) {
    let node = Node::start(driver);
    let tok = node.token();
    let t = [("X-Auth-Token", tok.as_str())];
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/v",
        &[("X-Auth-Token", &tok), ("X-Versions-Enabled", "true")],
        b"",
    );
    assert_eq!(r.status, 201);
    for body in [b"aaaaa", b"bbbbb"] {
        assert_eq!(node.req("PUT", "/v1/AUTH_test/v/o", &t, body).status, 201);
    }
    let r = node.req(
        "POST",
        "/v1/AUTH_test/v",
        &[
            ("X-Auth-Token", &tok),
            ("X-Container-Meta-Quota-Bytes", "10"),
        ],
        b"",
    );
    assert_eq!(r.status, 204);
    let r = node.req("PUT", "/v1/AUTH_test/v/o", &t, b"ccccc");
    assert_eq!(
        (r.status, r.text().as_str()),
        (413, "Upload exceeds quota.")
    );
    // A stranger over the quota learns nothing about it.
    let other = node.token_for("test2:tester2", "testing2");
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/v/o",
        &[("X-Auth-Token", &other)],
        b"ccccc",
    );
    assert_eq!(r.status, 403);
    let r = node.req("PUT", "/v1/AUTH_test/v/o", &[], b"ccccc");
    assert_eq!(r.status, 401);
    // The same bytes fit once the quota is gone.
    let r = node.req(
        "POST",
        "/v1/AUTH_test/v",
        &[("X-Auth-Token", &tok), ("X-Container-Meta-Quota-Bytes", "")],
        b"",
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        node.req("PUT", "/v1/AUTH_test/v/o", &t, b"ccccc").status,
        201
    );
    node.stop();
}

driver_tests! {
    fn container_quotas;
    fn account_quotas;
    fn versioned_container_quota_counts_versions;
}
