//! TempURL over real sockets: account and container keys, the three
//! digests in hex and base64, expiry forms, prefixes, IP ranges, method
//! rules, `filename`/`inline`, header hygiene, and key privacy.

mod common;

use base64::Engine;
use common::*;
use hmac::{Hmac, Mac};

const C: &str = "/v1/AUTH_test/c";
const O: &str = "/v1/AUTH_test/c/dir/o.txt";

fn sign(
    digest: &str,
    key: &str,
    method: &str,
    expires: i64,
    path: &str,
    ip: Option<&str>,
) -> Vec<u8> {
    let mut msg = String::new();
    if let Some(ip) = ip {
        msg.push_str(&format!("ip={ip}\n"));
    }
    msg.push_str(&format!("{method}\n{expires}\n{path}"));
    match digest {
        "sha1" => {
            let mut m = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("key");
            m.update(msg.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        "sha256" => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("key");
            m.update(msg.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        _ => {
            let mut m = Hmac::<sha2::Sha512>::new_from_slice(key.as_bytes()).expect("key");
            m.update(msg.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
    }
}

fn hexsig(digest: &str, key: &str, method: &str, expires: i64, path: &str) -> String {
    hex::encode(sign(digest, key, method, expires, path, None))
}

fn future() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
        + 3600
}

fn setup(driver: &str) -> (Node, String) {
    let node = Node::start(driver);
    let tok = node.token();
    let r = node.req(
        "POST",
        "/v1/AUTH_test",
        &[
            ("X-Auth-Token", &tok),
            ("X-Account-Meta-Temp-URL-Key", "acctkey"),
        ],
        b"",
    );
    assert_eq!(r.status, 204, "{r:?}");
    let r = node.req(
        "PUT",
        C,
        &[
            ("X-Auth-Token", &tok),
            ("X-Container-Meta-Temp-URL-Key-2", "contkey"),
        ],
        b"",
    );
    assert_eq!(r.status, 201, "{r:?}");
    let r = node.req(
        "PUT",
        O,
        &[
            ("X-Auth-Token", &tok),
            ("Content-Type", "text/plain"),
            ("X-Object-Meta-Secret", "s"),
            ("X-Object-Meta-Public-Color", "blue"),
        ],
        b"hello",
    );
    assert_eq!(r.status, 201, "{r:?}");
    (node, tok)
}

fn get_with_account_and_container_keys_in_every_digest(driver: &str) {
    let (node, _) = setup(driver);
    let exp = future();
    for (digest, key) in [
        ("sha1", "acctkey"),
        ("sha256", "contkey"),
        ("sha512", "acctkey"),
    ] {
        let sig = hexsig(digest, key, "GET", exp, O);
        let r = node.req(
            "GET",
            &format!("{O}?temp_url_sig={sig}&temp_url_expires={exp}"),
            &[],
            b"",
        );
        assert_eq!(r.status, 200, "{digest}: {r:?}");
        assert_eq!(r.body, b"hello");
        assert_eq!(
            r.header("content-disposition"),
            Some("attachment; filename=\"o.txt\"; filename*=UTF-8''o.txt")
        );
        assert!(r.has("expires"));
        assert!(!r.has("x-object-meta-secret"), "private metadata hidden");
        assert_eq!(r.header("x-object-meta-public-color"), Some("blue"));
    }
    // base64 form, URL-safe alphabet.
    let raw = sign("sha512", "contkey", "GET", exp, O, None);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let r = node.req(
        "GET",
        &format!("{O}?temp_url_sig=sha512:{b64}&temp_url_expires={exp}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
    // HEAD with a GET signature is allowed; a wrong key, a wrong path and
    // a past expiry are not.
    let sig = hexsig("sha256", "acctkey", "GET", exp, O);
    let r = node.req(
        "HEAD",
        &format!("{O}?temp_url_sig={sig}&temp_url_expires={exp}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let bad = hexsig("sha256", "nope", "GET", exp, O);
    let r = node.req(
        "GET",
        &format!("{O}?temp_url_sig={bad}&temp_url_expires={exp}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.text(), "401 Unauthorized: Temp URL invalid\n");
    let r = node.req(
        "GET",
        &format!("/v1/AUTH_test/c/other?temp_url_sig={sig}&temp_url_expires={exp}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 401);
    let past = 1_000_000_000;
    let old = hexsig("sha256", "acctkey", "GET", past, O);
    let r = node.req(
        "GET",
        &format!("{O}?temp_url_sig={old}&temp_url_expires={past}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 401);
    // PUT needs a PUT signature.
    let r = node.req(
        "PUT",
        &format!("{O}?temp_url_sig={sig}&temp_url_expires={exp}"),
        &[],
        b"x",
    );
    assert_eq!(r.status, 401);
    node.stop();
}

fn iso_expiry_filename_inline_and_prefix(driver: &str) {
    let (node, _) = setup(driver);
    // 2100-01-01T00:00:00Z
    let exp = 4_102_444_800i64;
    let sig = hexsig("sha256", "acctkey", "GET", exp, O);
    let r = node.req(
        "GET",
        &format!(
            "{O}?temp_url_sig={sig}&temp_url_expires=2100-01-01T00:00:00Z&filename=my%20file.txt"
        ),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"my file.txt\"; filename*=UTF-8''my%20file.txt")
    );
    let r = node.req(
        "GET",
        &format!("{O}?temp_url_sig={sig}&temp_url_expires={exp}&inline"),
        &[],
        b"",
    );
    assert_eq!(r.header("content-disposition"), Some("inline"));
    // A prefix signature covers every object under it.
    let psig = hexsig("sha1", "contkey", "GET", exp, "prefix:/v1/AUTH_test/c/dir/");
    let r = node.req(
        "GET",
        &format!("{O}?temp_url_sig={psig}&temp_url_expires={exp}&temp_url_prefix=dir/"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = node.req(
        "GET",
        &format!(
            "/v1/AUTH_test/c/o2?temp_url_sig={psig}&temp_url_expires={exp}&temp_url_prefix=dir/"
        ),
        &[],
        b"",
    );
    assert_eq!(r.status, 401, "outside the prefix");
    node.stop();
}

fn put_delete_ip_range_and_disallowed_headers(driver: &str) {
    let (node, tok) = setup(driver);
    let exp = future();
    let path = "/v1/AUTH_test/c/new";
    let sig = hexsig("sha256", "contkey", "PUT", exp, path);
    let url = format!("{path}?temp_url_sig={sig}&temp_url_expires={exp}");
    let r = node.req("PUT", &url, &[("X-Copy-From", "c/dir/o.txt")], b"");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("X-Copy-From"), "{}", r.text());
    let r = node.req("PUT", &url, &[], b"via tempurl");
    assert_eq!(r.status, 201, "{r:?}");
    let r = node.req("GET", path, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(r.body, b"via tempurl");
    let dsig = hexsig("sha256", "contkey", "DELETE", exp, path);
    let r = node.req(
        "DELETE",
        &format!("{path}?temp_url_sig={dsig}&temp_url_expires={exp}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 204);
    // IP ranges: the loopback client is inside 127.0.0.0/8, not 10.0.0.0/8.
    for (range, want) in [("127.0.0.0/8", 200), ("10.0.0.0/8", 401)] {
        let raw = sign("sha256", "acctkey", "GET", exp, O, Some(range));
        let url = format!(
            "{O}?temp_url_sig={}&temp_url_expires={exp}&temp_url_ip_range={}",
            hex::encode(raw),
            quote(range)
        );
        assert_eq!(node.req("GET", &url, &[], b"").status, want, "{range}");
    }
    node.stop();
}

fn keys_are_visible_to_owners_only(driver: &str) {
    let (node, tok) = setup(driver);
    let r = node.req(
        "POST",
        C,
        &[("X-Auth-Token", &tok), ("X-Container-Read", "test:tester3")],
        b"",
    );
    assert_eq!(r.status, 204);
    let tok3 = node.token_for("test:tester3", "testing3");
    let r = node.req("HEAD", C, &[("X-Auth-Token", &tok3)], b"");
    assert_eq!(r.status, 204, "{r:?}");
    assert!(!r.has("x-container-meta-temp-url-key-2"));
    let r = node.req("HEAD", C, &[("X-Auth-Token", &tok)], b"");
    assert_eq!(r.header("x-container-meta-temp-url-key-2"), Some("contkey"));
    let r = node.req("GET", "/info", &[], b"");
    let info: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(
        info["tempurl"]["allowed_digests"],
        serde_json::json!(["sha1", "sha256", "sha512"])
    );
    node.stop();
}

driver_tests! {
    fn get_with_account_and_container_keys_in_every_digest;
    fn iso_expiry_filename_inline_and_prefix;
    fn put_delete_ip_range_and_disallowed_headers;
    fn keys_are_visible_to_owners_only;
}
