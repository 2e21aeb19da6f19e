//! The feature modules' settings (`[tempurl]`, `[formpost]`, `[staticweb]`,
//! `[bulk]`) over real sockets: what a node configured away from Swift's
//! defaults publishes in `/info` and enforces.

mod common;

use common::*;
use hmac::{Hmac, Mac};

const CONFIG: &str = r#"
[tempurl]
methods = ["GET", "HEAD", "POST"]
allowed_digests = ["sha256", "sha512"]
outgoing_allow_headers = ["x-object-meta-public-*", "X-Object-Meta-Color"]
incoming_remove_headers = ["x-timestamp", "x-object-meta-*"]
incoming_allow_headers = ["x-object-meta-keep"]

[formpost]
allowed_digests = ["sha512"]

[staticweb]
url_base = "https://cdn.example.com"

[bulk]
max_deletes_per_request = 2
max_containers_per_extraction = 1
yield_frequency = 5
"#;

fn hmac_hex(digest: &str, key: &str, msg: &str) -> String {
    match digest {
        "sha1" => {
            let mut m = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("key");
            m.update(msg.as_bytes());
            hex::encode(m.finalize().into_bytes())
        }
        "sha256" => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("key");
            m.update(msg.as_bytes());
            hex::encode(m.finalize().into_bytes())
        }
        _ => {
            let mut m = Hmac::<sha2::Sha512>::new_from_slice(key.as_bytes()).expect("key");
            m.update(msg.as_bytes());
            hex::encode(m.finalize().into_bytes())
        }
    }
}

fn expires() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
        + 600
}

fn temp_url(digest: &str, method: &str, path: &str) -> String {
    let exp = expires();
    let sig = hmac_hex(digest, "key", &format!("{method}\n{exp}\n{path}"));
    format!("{path}?temp_url_sig={sig}&temp_url_expires={exp}")
}

fn published_in_info(node: &Node) {
    let r = node.req("GET", "/info", &[], b"");
    let info: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(
        info["tempurl"]["methods"],
        serde_json::json!(["GET", "HEAD", "POST"])
    );
    assert_eq!(
        info["tempurl"]["incoming_allow_headers"],
        serde_json::json!(["x-object-meta-keep"])
    );
    assert_eq!(
        info["tempurl"]["allowed_digests"],
        serde_json::json!(["sha256", "sha512"])
    );
    assert!(info["tempurl"].get("deprecated_digests").is_none());
    assert_eq!(
        info["tempurl"]["outgoing_allow_headers"],
        serde_json::json!(["x-object-meta-public-*", "X-Object-Meta-Color"])
    );
    assert_eq!(
        info["formpost"]["allowed_digests"],
        serde_json::json!(["sha512"])
    );
    assert_eq!(info["bulk_delete"]["max_deletes_per_request"], 2);
    assert_eq!(info["bulk_delete"]["max_failed_deletes"], 1000);
    assert_eq!(info["bulk_upload"]["max_containers_per_extraction"], 1);
    assert_eq!(info["bulk_upload"]["max_failed_extractions"], 1000);
    assert!(info.get("staticweb").is_some());
}

fn tempurl_limits(node: &Node, tok: &str) {
    let t = [("X-Auth-Token", tok)];
    let r = node.req(
        "POST",
        "/v1/AUTH_test",
        &[
            ("X-Auth-Token", tok),
            ("X-Account-Meta-Temp-URL-Key", "key"),
        ],
        b"",
    );
    assert_eq!(r.status, 204);
    assert_eq!(node.req("PUT", "/v1/AUTH_test/c", &t, b"").status, 201);
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c/o",
        &[
            ("X-Auth-Token", tok),
            ("X-Object-Meta-Color", "red"),
            ("X-Object-Meta-Secret", "s"),
        ],
        b"hello",
    );
    assert_eq!(r.status, 201);
    // GET is allowed, with an allowed digest; the configured header
    // exception lets Color through, Secret stays hidden.
    let r = node.req(
        "GET",
        &temp_url("sha256", "GET", "/v1/AUTH_test/c/o"),
        &[],
        b"",
    );
    assert_eq!((r.status, r.body.as_slice()), (200, b"hello".as_slice()));
    assert_eq!(r.header("x-object-meta-color"), Some("red"));
    assert_eq!(r.header("x-object-meta-secret"), None);
    // sha1 is no longer allowed, PUT and DELETE are not methods here.
    let r = node.req(
        "GET",
        &temp_url("sha1", "GET", "/v1/AUTH_test/c/o"),
        &[],
        b"",
    );
    assert_eq!(r.status, 401);
    for method in ["PUT", "DELETE"] {
        let r = node.req(
            method,
            &temp_url("sha512", method, "/v1/AUTH_test/c/o"),
            &[],
            b"x",
        );
        assert_eq!(r.status, 401, "{method}");
    }
    // A POST through the URL loses the metadata the incoming rules
    // remove, and keeps their exception.
    let r = node.req(
        "POST",
        &temp_url("sha256", "POST", "/v1/AUTH_test/c/o"),
        &[("X-Object-Meta-Drop", "d"), ("X-Object-Meta-Keep", "k")],
        b"",
    );
    assert_eq!(r.status, 202, "{r:?}");
    let r = node.req("GET", "/v1/AUTH_test/c/o", &t, b"");
    assert_eq!(r.body, b"hello");
    assert_eq!(r.header("x-object-meta-keep"), Some("k"));
    assert_eq!(r.header("x-object-meta-drop"), None);
}

fn formpost_digests(node: &Node) {
    const B: &str = "----cfg-boundary";
    let path = "/v1/AUTH_test/c/";
    let exp = expires();
    for (digest, status) in [("sha256", 401), ("sha512", 201)] {
        let sig = hmac_hex(digest, "key", &format!("{path}\n\n100\n1\n{exp}"));
        let mut body = String::new();
        for (name, value) in [
            ("redirect", ""),
            ("max_file_size", "100"),
            ("max_file_count", "1"),
            ("expires", &exp.to_string()),
            ("signature", &sig),
        ] {
            body.push_str(&format!(
                "--{B}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!(
            "--{B}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"{digest}.txt\"\r\n\r\ndata\r\n--{B}--\r\n"
        ));
        let ctype = format!("multipart/form-data; boundary={B}");
        let r = node.req("POST", path, &[("Content-Type", &ctype)], body.as_bytes());
        assert_eq!(r.status, status, "{digest}: {}", r.text());
    }
}

fn staticweb_url_base(node: &Node, tok: &str) {
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/site",
        &[
            ("X-Auth-Token", tok),
            ("X-Container-Read", ".r:*,.rlistings"),
            ("X-Container-Meta-Web-Index", "index.html"),
        ],
        b"",
    );
    assert_eq!(r.status, 201);
    let r = node.req("GET", "/v1/AUTH_test/site", &[], b"");
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some("https://cdn.example.com/v1/AUTH_test/site/")
    );
}

fn bulk_limits(node: &Node, tok: &str) {
    let names = "/c/a\n/c/b\n/c/d\n";
    let r = node.req(
        "POST",
        "/v1/AUTH_test?bulk-delete",
        &[
            ("X-Auth-Token", tok),
            ("Content-Type", "text/plain"),
            ("Accept", "application/json"),
        ],
        names.as_bytes(),
    );
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(r.body.trim_ascii()).expect("json");
    assert_eq!(v["Response Status"], "413 Request Entity Too Large");
    assert_eq!(v["Response Body"], "Maximum Bulk Deletes: 2 per request");
    let mut tar = Vec::new();
    tar_member(&mut tar, "new1/a.txt", b"a", b'0');
    tar_member(&mut tar, "new2/b.txt", b"b", b'0');
    tar.extend(vec![0u8; 1024]);
    let r = node.req(
        "PUT",
        "/v1/AUTH_test?extract-archive=tar",
        &[("X-Auth-Token", tok), ("Accept", "application/json")],
        &tar,
    );
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(r.body.trim_ascii()).expect("json");
    assert_eq!(v["Response Status"], "400 Bad Request", "{v}");
    assert_eq!(
        v["Response Body"],
        "More than 1 containers to create from tar."
    );
}

fn configured_limits_are_published_and_enforced(driver: &str) {
    let node = NodeOpts::new(driver).config(CONFIG).start();
    let tok = node.token();
    published_in_info(&node);
    tempurl_limits(&node, &tok);
    formpost_digests(&node);
    staticweb_url_base(&node, &tok);
    bulk_limits(&node, &tok);
    node.stop();
}

driver_tests! {
    fn configured_limits_are_published_and_enforced;
}
