//! FormPost over real sockets: signed multipart uploads (streamed, several
//! files, with expiry), the 303 redirect and 201 answers, and the refusals
//! for bad signatures, expired forms, too many or too large files.

mod common;

use common::*;
use hmac::{Hmac, Mac};

const B: &str = "----paco-form-boundary";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn sign(key: &str, path: &str, redirect: &str, size: u64, count: u64, expires: i64) -> String {
    let body = format!("{path}\n{redirect}\n{size}\n{count}\n{expires}");
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("key");
    m.update(body.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

struct Form {
    body: Vec<u8>,
}

impl Form {
    fn new() -> Form {
        Form { body: Vec::new() }
    }
    fn field(mut self, name: &str, value: &str) -> Form {
        self.body.extend_from_slice(
            format!("--{B}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
        self
    }
    fn file(mut self, name: &str, filename: &str, data: &[u8]) -> Form {
        self.body.extend_from_slice(
            format!(
                "--{B}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n"
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(data);
        self.body.extend_from_slice(b"\r\n");
        self
    }
    fn done(mut self) -> Vec<u8> {
        self.body
            .extend_from_slice(format!("--{B}--\r\n").as_bytes());
        self.body
    }
}

fn signed(path: &str, redirect: &str, size: u64, count: u64, expires: i64) -> Form {
    Form::new()
        .field("redirect", redirect)
        .field("max_file_size", &size.to_string())
        .field("max_file_count", &count.to_string())
        .field("expires", &expires.to_string())
        .field(
            "signature",
            &sign("formkey", path, redirect, size, count, expires),
        )
}

fn post(node: &Node, path: &str, body: &[u8]) -> Response {
    let ctype = format!("multipart/form-data; boundary={B}");
    node.req("POST", path, &[("Content-Type", &ctype)], body)
}

fn uploads_and_redirects(driver: &str) {
    let node = Node::start(driver);
    let tok = node.token();
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/up",
        &[
            ("X-Auth-Token", &tok),
            ("X-Container-Meta-Temp-URL-Key", "formkey"),
        ],
        b"",
    );
    assert_eq!(r.status, 201);
    let exp = now() + 600;
    let big = pattern(300_000, 7);
    let path = "/v1/AUTH_test/up/pre_";
    let body = signed(path, "", 1_000_000, 3, exp)
        .field("x_delete_after", "3600")
        .file("f1", "one.txt", b"first")
        .file("f2", "two.bin", &big)
        .done();
    let r = post(&node, path, &body);
    assert_eq!((r.status, r.text().as_str()), (201, "201 Created"), "{r:?}");
    let t = [("X-Auth-Token", tok.as_str())];
    let r = node.req("GET", "/v1/AUTH_test/up/pre_one.txt", &t, b"");
    assert_eq!((r.status, r.body.as_slice()), (200, b"first".as_slice()));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert!(r.has("x-delete-at"));
    let r = node.req("GET", "/v1/AUTH_test/up/pre_two.bin", &t, b"");
    assert_eq!(r.body, big);
    // With a redirect: 303 to it with status and message.
    let body = signed("/v1/AUTH_test/up/", "http://example.com/done", 100, 1, exp)
        .file("f", "r.txt", b"x")
        .done();
    let r = post(&node, "/v1/AUTH_test/up/", &body);
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some("http://example.com/done?status=201&message=")
    );
    let info: serde_json::Value =
        serde_json::from_slice(&node.req("GET", "/info", &[], b"").body).expect("json");
    assert!(info["formpost"]["allowed_digests"].is_array());
    node.stop();
}

fn refusals(driver: &str) {
    let node = Node::start(driver);
    let tok = node.token();
    let r = node.req(
        "POST",
        "/v1/AUTH_test",
        &[
            ("X-Auth-Token", &tok),
            ("X-Account-Meta-Temp-URL-Key", "formkey"),
        ],
        b"",
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        node.req("PUT", "/v1/AUTH_test/up", &[("X-Auth-Token", &tok)], b"")
            .status,
        201
    );
    let path = "/v1/AUTH_test/up/";
    let exp = now() + 600;
    let r = post(
        &node,
        path,
        &signed(path, "", 10, 1, exp)
            .file("f", "big", &[b'x'; 11])
            .done(),
    );
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "FormPost: max_file_size exceeded")
    );
    let r = post(
        &node,
        path,
        &signed(path, "", 10, 1, exp)
            .file("f", "a", b"a")
            .file("g", "b", b"b")
            .done(),
    );
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "400 Bad Request\r\nFormPost: Max File Count Exceeded")
    );
    let r = post(
        &node,
        path,
        &signed(path, "", 10, 1, now() - 5)
            .file("f", "a", b"a")
            .done(),
    );
    assert_eq!(
        (r.status, r.text().as_str()),
        (401, "FormPost: Form Expired")
    );
    let r = post(
        &node,
        path,
        &signed("/v1/AUTH_test/other/", "", 10, 1, exp)
            .file("f", "a", b"a")
            .done(),
    );
    assert_eq!(
        (r.status, r.text().as_str()),
        (401, "FormPost: Invalid Signature")
    );
    let r = post(&node, path, &signed(path, "", 10, 1, exp).done());
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "400 Bad Request\r\nFormPost: No Files To Process")
    );
    let r = post(&node, path, b"not multipart at all");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "FormPost: invalid starting boundary")
    );
    // Nothing was stored by the refused forms.
    let r = node.req("GET", "/v1/AUTH_test/up", &[("X-Auth-Token", &tok)], b"");
    assert_eq!(r.text(), "a\n", "only the first file of the too-many form");
    node.stop();
}

driver_tests! {
    fn uploads_and_redirects;
    fn refusals;
}
