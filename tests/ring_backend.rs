//! The Swift backend protocol listener (`backend_bind`): object, container
//! and account requests as a Swift proxy and Swift's servers send them,
//! against a real paco process. Every test runs on both drivers.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// The backend listener's port, from the node's log.
fn backend_port(node: &Node) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = node.log();
        if let Some(line) = log
            .lines()
            .find(|l| l.contains("backend protocol listening"))
        {
            let addr = line.split("bound=").nth(1).unwrap_or_default();
            let port = addr.trim().rsplit(':').next().unwrap_or_default();
            return port
                .parse()
                .unwrap_or_else(|_| panic!("no port in {line:?}"));
        }
        assert!(
            Instant::now() < deadline,
            "no backend listening line:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn breq(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut c = Conn::connect(port);
    c.try_send(&build_request(method, path, headers, body))
        .expect("send");
    c.read_response(method == "HEAD").expect("response")
}

fn start(driver: &str) -> (Node, u16) {
    let node = NodeOpts::new(driver)
        .workers(1)
        .config("backend_bind = \"127.0.0.1:0\"\n")
        .start();
    let port = backend_port(&node);
    (node, port)
}

/// Sends a bodiless request and checks its status, showing the body when it
/// differs.
fn expect(port: u16, method: &str, path: &str, headers: &[(&str, &str)], status: u16) -> Response {
    let r = breq(port, method, path, headers, b"");
    assert_eq!(r.status, status, "{method} {path}: {}", r.text());
    r
}

fn account_container_object(driver: &str) {
    let (node, port) = start(driver);
    let ts = |n: u64| format!("{}.00000", 1_700_000_000 + n);
    let account = "/sda1/17/AUTH_b";
    let container = &format!("{account}/photos");
    let object = &format!("{container}/cat/1.jpg");
    // Account and container servers.
    let color = ("X-Account-Meta-Color", "red");
    expect(port, "PUT", account, &[("X-Timestamp", &ts(1)), color], 201);
    expect(port, "PUT", container, &[("X-Timestamp", &ts(2))], 201);
    expect(port, "PUT", container, &[("X-Timestamp", &ts(3))], 202);
    let r = expect(port, "PUT", container, &[], 400);
    assert!(r.text().contains("Missing timestamp"));
    // Object server: PUT, GET, HEAD with the proxy's headers.
    let body = b"hello backend";
    let etag = md5_hex(body);
    let len = body.len().to_string();
    let r = breq(
        port,
        "PUT",
        object,
        &[
            ("X-Timestamp", &ts(4)),
            ("Content-Type", "image/jpeg"),
            ("Content-Length", &len),
            ("ETag", &etag),
            ("X-Backend-Storage-Policy-Index", "0"),
            ("X-Container-Host", "127.0.0.1:1"),
            ("X-Container-Partition", "5"),
            ("X-Container-Device", "sda1"),
            ("X-Object-Meta-Kind", "cat"),
        ],
        body,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = expect(port, "GET", object, &[], 200);
    assert_eq!(r.body, body);
    assert_eq!(r.header("X-Object-Meta-Kind"), Some("cat"));
    // The write reached the container listing (in-process container update)
    // and the client API sees the same object.
    let r = expect(port, "GET", &format!("{container}?format=json"), &[], 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v[0]["name"], "cat/1.jpg");
    assert_eq!(v[0]["hash"], etag.as_str());
    assert_eq!(v[0]["bytes"], 13);
    assert_eq!(r.header("X-Container-Object-Count"), Some("1"));
    assert_eq!(r.header("X-Backend-Storage-Policy-Index"), Some("0"));
    // A container update as Swift's object server sends it.
    let dog = &format!("{container}/dog.jpg");
    let from_object_server = ("User-Agent", "object-server 77");
    let ts5 = ts(5);
    let update = [
        ("X-Timestamp", ts5.as_str()),
        ("X-Size", "42"),
        ("X-Content-Type", "image/jpeg"),
        ("X-Etag", "abc"),
        from_object_server,
    ];
    expect(port, "PUT", dog, &update, 201);
    let r = breq(port, "HEAD", container, &[], b"");
    assert_eq!(r.header("X-Container-Object-Count"), Some("2"));
    assert_eq!(r.header("X-Container-Bytes-Used"), Some("55"));
    let ts6 = ts(6);
    let delete = [("X-Timestamp", ts6.as_str()), from_object_server];
    expect(port, "DELETE", dog, &delete, 204);
    // Object DELETE through the object server, then the container is empty.
    expect(port, "DELETE", object, &[("X-Timestamp", &ts(7))], 204);
    expect(port, "GET", object, &[], 404);
    let r = breq(port, "HEAD", container, &[], b"");
    assert_eq!(r.header("X-Container-Object-Count"), Some("0"));
    // Account server.
    let r = expect(port, "GET", &format!("{account}?format=json"), &[], 200);
    assert_eq!(r.header("X-Account-Meta-Color"), Some("red"));
    assert_eq!(r.header("X-Account-Container-Count"), Some("1"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v[0]["name"], "photos");
    // A container report as Swift's container server sends it.
    let ts8 = ts(8);
    let report = [
        ("X-Put-Timestamp", ts8.as_str()),
        ("X-Delete-Timestamp", "0"),
        ("X-Object-Count", "3"),
        ("X-Bytes-Used", "300"),
        ("X-Backend-Storage-Policy-Index", "0"),
    ];
    expect(port, "PUT", &format!("{account}/remote"), &report, 201);
    // The local container's own totals reach the account within the
    // report interval (100 ms), later on a busy machine: wait for them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let r = loop {
        let r = breq(port, "HEAD", account, &[], b"");
        if r.header("X-Account-Object-Count") == Some("3") || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(r.header("X-Account-Container-Count"), Some("2"));
    assert_eq!(r.header("X-Account-Object-Count"), Some("3"));
    // Container DELETE, then account DELETE.
    expect(port, "DELETE", container, &[("X-Timestamp", &ts(9))], 204);
    expect(port, "DELETE", account, &[("X-Timestamp", &ts(10))], 204);
    let r = expect(port, "HEAD", account, &[], 404);
    assert_eq!(r.header("X-Account-Status"), Some("Deleted"));
    node.stop();
}

fn refusals(driver: &str) {
    let (node, port) = start(driver);
    // Another device is not mounted here.
    expect(port, "HEAD", "/sdz/1/AUTH_a", &[], 507);
    for bad in ["/sda1", "/sda1/1", "/sda1/../a", "/sda1/1/a//o"] {
        expect(port, "HEAD", bad, &[], 400);
    }
    let unknown_policy = [
        ("X-Timestamp", "1.0"),
        ("Content-Length", "0"),
        ("X-Backend-Storage-Policy-Index", "9"),
    ];
    expect(port, "PUT", "/sda1/1/a/c/o", &unknown_policy, 503);
    expect(
        port,
        "PUT",
        "/sda1/1/a/c/o",
        &[("Content-Length", "0")],
        400,
    );
    // The client API still works alongside.
    let tok = node.token();
    assert_eq!(
        node.req("HEAD", "/v1/AUTH_test", &[("X-Auth-Token", &tok)], b"")
            .status
            / 100,
        2
    );
    node.stop();
}

/// What a PUT stores with an object (user metadata, the allowed headers,
/// sysmeta, in any case) comes back on GET, and nothing else; a POST
/// answers with the stored sysmeta, as Swift's object server does, so proxy
/// modules learn what they posted to.
fn stored_headers(driver: &str) {
    let (node, port) = start(driver);
    let object = "/sda1/3/AUTH_s/c/o";
    let r = breq(
        port,
        "PUT",
        object,
        &[
            ("X-Timestamp", "1700000001.00000"),
            ("Content-Length", "2"),
            ("x-object-sysmeta-shape", "round"),
            ("X-Object-Meta-Kind", "cat"),
            ("Content-Disposition", "inline"),
            ("X-Unstored-Thing", "no"),
        ],
        b"ok",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = expect(port, "GET", object, &[], 200);
    assert_eq!(r.header("X-Object-Sysmeta-Shape"), Some("round"));
    assert_eq!(r.header("X-Object-Meta-Kind"), Some("cat"));
    assert_eq!(r.header("Content-Disposition"), Some("inline"));
    assert_eq!(r.header("X-Unstored-Thing"), None);
    let post = [
        ("X-Timestamp", "1700000002.00000"),
        ("X-Object-Meta-Kind", "dog"),
    ];
    let r = expect(port, "POST", object, &post, 202);
    assert_eq!(r.header("X-Object-Sysmeta-Shape"), Some("round"));
    assert_eq!(r.header("X-Object-Meta-Kind"), None);
    let r = expect(port, "HEAD", object, &[], 200);
    assert_eq!(r.header("X-Object-Meta-Kind"), Some("dog"));
    assert_eq!(r.header("X-Object-Sysmeta-Shape"), Some("round"));
    node.stop();
}

driver_tests! {
    fn account_container_object;
    fn refusals;
    fn stored_headers;
}
