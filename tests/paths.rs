//! Paths that are not API paths, answered as Swift's proxy answers them
//! (`get_controller`): a bad URL is 412, a bad API version 400, and a path
//! `split_path` refuses 404.

mod common;

use common::*;

fn non_api_paths(driver: &str) {
    let node = Node::start(driver);
    let tok = node.token();
    let t = [("X-Auth-Token", tok.as_str())];
    for (path, status, body) in [
        // Swift's test_protocol: python's client sends the space encoded.
        ("/info%20asdf", 412, "Bad URL"),
        ("/info/", 412, "Bad URL"),
        ("/v1", 412, "Bad URL"),
        ("/v1/", 412, "Bad URL"),
        ("/v2/AUTH_test", 400, ""),
        ("/x/AUTH_test/c/o", 400, ""),
        ("/x//c", 404, ""),
        ("//AUTH_test", 404, ""),
        ("/v1//c/o", 404, ""),
    ] {
        let r = node.req("GET", path, &t, b"");
        assert_eq!(r.status, status, "{path}");
        if !body.is_empty() {
            assert_eq!(r.text(), body, "{path}");
        }
    }
    // The real ones still answer.
    assert_eq!(node.req("GET", "/info", &[], b"").status, 200);
    assert_eq!(node.req("GET", "/healthcheck", &[], b"").status, 200);
    assert_eq!(node.req("GET", "/v1/AUTH_test", &t, b"").status, 204);
    node.stop();
}

driver_tests! {
    fn non_api_paths;
}
