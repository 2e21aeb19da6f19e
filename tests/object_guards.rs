//! Guards on object writes: the expirer's `X-If-Delete-At` condition, and a POST's new Content-Type reaching the
//! container listing.

mod common;

use common::Node;

const O: &str = "/v1/AUTH_test/c/guarded";

#[test]
fn if_delete_at_must_match() {
    let node = Node::start("epoll");
    let tok = node.setup();
    let at = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 3600)
        .to_string();
    let put = node.req(
        "PUT",
        O,
        &[("X-Auth-Token", &tok), ("X-Delete-At", &at)],
        b"x",
    );
    assert_eq!(put.status, 201);
    let bad = node.req(
        "DELETE",
        O,
        &[("X-Auth-Token", &tok), ("X-If-Delete-At", "soon")],
        b"",
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    let other = node.req(
        "DELETE",
        O,
        &[("X-Auth-Token", &tok), ("X-If-Delete-At", "12345")],
        b"",
    );
    assert_eq!(other.status, 412, "{other:?}");
    assert_eq!(
        node.req("HEAD", O, &[("X-Auth-Token", &tok)], b"").status,
        200
    );
    let ok = node.req(
        "DELETE",
        O,
        &[("X-Auth-Token", &tok), ("X-If-Delete-At", &at)],
        b"",
    );
    assert_eq!(ok.status, 204, "{ok:?}");
}

#[test]
fn post_content_type_reaches_the_listing() {
    let node = Node::start("io_uring");
    let tok = node.setup();
    let put = node.req(
        "PUT",
        O,
        &[("X-Auth-Token", &tok), ("Content-Type", "text/plain")],
        b"x",
    );
    assert_eq!(put.status, 201);
    let post = node.req(
        "POST",
        O,
        &[("X-Auth-Token", &tok), ("Content-Type", "image/png")],
        b"",
    );
    assert_eq!(post.status, 202);
    let l = node.req(
        "GET",
        "/v1/AUTH_test/c?format=json&prefix=guarded",
        &[("X-Auth-Token", &tok)],
        b"",
    );
    let rows: serde_json::Value = serde_json::from_slice(&l.body).expect("json");
    assert_eq!(rows[0]["content_type"], "image/png", "{rows}");
    assert_eq!(rows[0]["bytes"], 1);
}
