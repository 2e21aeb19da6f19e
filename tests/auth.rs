//! tempauth (`/auth/v1.0`), token checks on object requests, and the
//! service endpoints `/healthcheck` and `/info`.

mod common;

use common::*;
use std::time::Duration;

fn auth_ok(driver: &str) {
    let node = Node::start(driver);
    let host = format!("127.0.0.1:{}", node.port);
    let r = node.req(
        "GET",
        "/auth/v1.0",
        &[
            ("Host", &host),
            ("X-Auth-User", "test:tester"),
            ("X-Auth-Key", "testing"),
        ],
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_common_headers(&r);
    let tok = r.header("x-auth-token").expect("X-Auth-Token");
    assert!(
        tok.starts_with("AUTH_tk"),
        "token {tok:?} should carry the reseller prefix like tempauth's"
    );
    assert_eq!(r.header("x-storage-token"), Some(tok));
    let url = r.header("x-storage-url").expect("X-Storage-Url");
    assert_eq!(url, format!("http://{host}/v1/AUTH_test"));
    let exp: u64 = r
        .header("x-auth-token-expires")
        .expect("X-Auth-Token-Expires")
        .parse()
        .unwrap();
    assert!(exp > 0 && exp <= 86400);
    // The X-Storage-* form.
    let r = node.req(
        "GET",
        "/auth/v1.0",
        &[
            ("X-Storage-User", "test:tester"),
            ("X-Storage-Pass", "testing"),
        ],
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r
        .header("x-auth-token")
        .is_some_and(|t| t.starts_with("AUTH_tk")));
    assert!(r
        .header("x-storage-url")
        .is_some_and(|u| u.ends_with("/v1/AUTH_test")));
    // The token works for the account's objects.
    let tok = r.header("x-auth-token").unwrap().to_string();
    node.container(&tok, "/v1/AUTH_test/c");
    let p = node.req("PUT", "/v1/AUTH_test/c/o", &[("X-Auth-Token", &tok)], b"hi");
    assert_eq!(p.status, 201, "{p:?}");
    // X-Storage-Token is accepted as well as X-Auth-Token.
    let g = node.req(
        "GET",
        "/v1/AUTH_test/c/o",
        &[("X-Storage-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 200, "{g:?}");
    node.stop();
}

fn auth_rejects(driver: &str) {
    let node = Node::start(driver);
    for (u, k) in [
        ("test:tester", "wrong"),
        ("test:nobody", "testing"),
        ("nope:tester", "testing"),
        ("test:tester", ""),
    ] {
        let r = node.req(
            "GET",
            "/auth/v1.0",
            &[("X-Auth-User", u), ("X-Auth-Key", k)],
            b"",
        );
        assert_eq!(r.status, 401, "{u}/{k}: {r:?}");
        assert_common_headers(&r);
        assert!(r.header("x-auth-token").is_none());
    }
    let r = node.req("GET", "/auth/v1.0", &[], b"");
    assert_eq!(r.status, 401, "no credentials: {r:?}");
}

fn object_access_control(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let obj = "/v1/AUTH_test/c/secret";
    assert_eq!(
        node.req("PUT", obj, &[("X-Auth-Token", &tok)], b"s3cr3t")
            .status,
        201
    );

    for m in ["GET", "HEAD", "PUT", "POST", "DELETE"] {
        let r = node.req(m, obj, &[], b"");
        assert_eq!(r.status, 401, "{m} without token: {r:?}");
        assert_common_headers(&r);
        assert!(!r.body.windows(6).any(|w| w == b"s3cr3t"));
        let r = node.req(
            m,
            obj,
            &[("X-Auth-Token", "AUTH_tkbogus0000000000000000000000")],
            b"",
        );
        assert_eq!(r.status, 401, "{m} with a bad token: {r:?}");
    }
    // Another account's admin: 403.
    let tok2 = node.token_for("test2:tester2", "testing2");
    node.container(&tok2, "/v1/AUTH_test2/c");
    for m in ["GET", "HEAD", "PUT", "POST", "DELETE"] {
        let r = node.req(m, obj, &[("X-Auth-Token", &tok2)], b"");
        assert_eq!(r.status, 403, "{m} by test2 on AUTH_test: {r:?}");
        assert_common_headers(&r);
    }
    // test2 owns AUTH_test2.
    assert_eq!(
        node.req(
            "PUT",
            "/v1/AUTH_test2/c/o",
            &[("X-Auth-Token", &tok2)],
            b"x"
        )
        .status,
        201
    );
    // A non-admin user of the same account: 403.
    let tok3 = node.token_for("test:tester3", "testing3");
    for m in ["GET", "PUT", "DELETE"] {
        let r = node.req(m, obj, &[("X-Auth-Token", &tok3)], b"");
        assert_eq!(r.status, 403, "{m} by non-admin tester3: {r:?}");
    }
    // The reseller admin may do anything anywhere.
    let atok = node.token_for("admin:admin", "admin");
    let g = node.req("GET", obj, &[("X-Auth-Token", &atok)], b"");
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(g.body, b"s3cr3t");
    assert_eq!(
        node.req(
            "PUT",
            "/v1/AUTH_test2/c/by-admin",
            &[("X-Auth-Token", &atok)],
            b"a"
        )
        .status,
        201
    );
    assert_eq!(
        node.req(
            "GET",
            "/v1/AUTH_test2/c/by-admin",
            &[("X-Auth-Token", &tok2)],
            b""
        )
        .status,
        200
    );
    assert_eq!(
        node.req(
            "DELETE",
            "/v1/AUTH_test2/c/o",
            &[("X-Auth-Token", &atok)],
            b""
        )
        .status,
        204
    );
    // The object was never changed by the refused requests.
    let g = node.req("GET", obj, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(g.status, 200);
    assert_eq!(g.body, b"s3cr3t");
}

fn token_expiry(driver: &str) {
    let node = NodeOpts::new(driver)
        .config("[tempauth]\ntoken_life_secs = 3\n")
        .start();
    let r = node.req(
        "GET",
        "/auth/v1.0",
        &[("X-Auth-User", "test:tester"), ("X-Auth-Key", "testing")],
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let tok = r.header("x-auth-token").unwrap().to_string();
    node.container(&tok, "/v1/AUTH_test/c");
    assert_eq!(
        node.req("PUT", "/v1/AUTH_test/c/o", &[("X-Auth-Token", &tok)], b"x")
            .status,
        201
    );
    std::thread::sleep(Duration::from_millis(4200));
    let g = node.req("GET", "/v1/AUTH_test/c/o", &[("X-Auth-Token", &tok)], b"");
    assert_eq!(g.status, 401, "expired token: {g:?}");
    // A new token is issued (not the expired one).
    let tok2 = node.token();
    assert_ne!(tok2, tok);
    assert_eq!(
        node.req("GET", "/v1/AUTH_test/c/o", &[("X-Auth-Token", &tok2)], b"")
            .status,
        200
    );
}

/// A token lives token_life_secs from when it was issued (tempauth keeps
/// `expires = time() + token_life` as a float): a 1-second token issued
/// just before a second boundary is still good 150 ms later.
fn token_lives_its_full_life(driver: &str) {
    let node = NodeOpts::new(driver)
        .config("[tempauth]\ntoken_life_secs = 1\n")
        .start();
    let admin = node.token();
    node.container(&admin, "/v1/AUTH_test/c");
    assert_eq!(
        node.req(
            "PUT",
            "/v1/AUTH_test/c/o",
            &[("X-Auth-Token", &admin)],
            b"x"
        )
        .status,
        201
    );
    // Wait until ~0.85 s past a whole second, then get a token.
    let frac = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_millis()
    };
    while !(850..900).contains(&frac()) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let tok = node.token();
    std::thread::sleep(Duration::from_millis(150));
    let g = node.req("GET", "/v1/AUTH_test/c/o", &[("X-Auth-Token", &tok)], b"");
    assert_eq!(
        g.status, 200,
        "a 1-second token refused ~150 ms after it was issued: {g:?}"
    );
}

fn healthcheck(driver: &str) {
    let node = Node::start(driver);
    let r = node.req("GET", "/healthcheck", &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, b"OK");
    assert_common_headers(&r);
    let h = node.req("HEAD", "/healthcheck", &[], b"");
    assert_eq!(h.status, 200, "{h:?}");
    assert!(h.body.is_empty());
}

fn info(driver: &str) {
    let node = Node::start(driver);
    let r = node.req("GET", "/info", &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert_common_headers(&r);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{r:?}"
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("/info is JSON");
    let s = &v["swift"];
    assert!(s.is_object(), "no swift section: {v}");
    let want: &[(&str, u64)] = &[
        ("max_file_size", 5368709122),
        ("max_meta_name_length", 128),
        ("max_meta_value_length", 256),
        ("max_meta_count", 90),
        ("max_meta_overall_size", 4096),
        ("max_header_size", 8192),
        ("max_object_name_length", 1024),
        ("container_listing_limit", 10000),
        ("account_listing_limit", 10000),
        ("max_account_name_length", 256),
        ("max_container_name_length", 256),
        ("extra_header_count", 0),
    ];
    for (k, n) in want {
        assert_eq!(s[*k].as_u64(), Some(*n), "swift.{k} in {s}");
    }
    assert!(s["version"].is_string(), "swift.version: {s}");
    assert_eq!(s["valid_api_versions"], serde_json::json!(["v1", "v1.0"]));
    let pol = s["policies"].as_array().expect("swift.policies");
    assert!(
        pol.iter()
            .any(|p| p["default"] == serde_json::json!(true) && p["name"].is_string()),
        "{pol:?}"
    );
    assert!(v["tempauth"].is_object(), "tempauth section: {v}");
}

fn info_reflects_config(driver: &str) {
    let node = NodeOpts::new(driver)
        .config("[constraints]\nmax_file_size = 1000\nmax_meta_count = 5\n")
        .start();
    let r = node.req("GET", "/info", &[], b"");
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("/info is JSON");
    assert_eq!(v["swift"]["max_file_size"].as_u64(), Some(1000));
    assert_eq!(v["swift"]["max_meta_count"].as_u64(), Some(5));
    // And the configured limits are enforced.
    let tok = node.setup();
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c/big",
        &[("X-Auth-Token", &tok)],
        &[b'x'; 1001],
    );
    assert_eq!(r.status, 413, "{r:?}");
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c/fits",
        &[("X-Auth-Token", &tok)],
        &[b'x'; 1000],
    );
    assert_eq!(r.status, 201, "{r:?}");
}

driver_tests! {
    fn auth_ok;
    fn auth_rejects;
    fn object_access_control;
    fn token_expiry;
    fn token_lives_its_full_life;
    fn healthcheck;
    fn info;
    fn info_reflects_config;
}
