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

fn account_container_object(driver: &str) {
    let (node, port) = start(driver);
    let ts = |n: u64| format!("{}.00000", 1_700_000_000 + n);
    let d = "/sda1/17";
    // Account and container servers.
    let r = breq(
        port,
        "PUT",
        &format!("{d}/AUTH_b"),
        &[("X-Timestamp", &ts(1)), ("X-Account-Meta-Color", "red")],
        b"",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = breq(
        port,
        "PUT",
        &format!("{d}/AUTH_b/photos"),
        &[("X-Timestamp", &ts(2))],
        b"",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = breq(
        port,
        "PUT",
        &format!("{d}/AUTH_b/photos"),
        &[("X-Timestamp", &ts(3))],
        b"",
    );
    assert_eq!(r.status, 202);
    let r = breq(port, "PUT", &format!("{d}/AUTH_b/photos"), &[], b"");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Missing timestamp"));
    // Object server: PUT, GET, HEAD with the proxy's headers.
    let body = b"hello backend";
    let etag = md5_hex(body);
    let len = body.len().to_string();
    let r = breq(
        port,
        "PUT",
        &format!("{d}/AUTH_b/photos/cat/1.jpg"),
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
    let r = breq(
        port,
        "GET",
        &format!("{d}/AUTH_b/photos/cat/1.jpg"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body);
    assert_eq!(r.header("X-Object-Meta-Kind"), Some("cat"));
    // The write reached the container listing (in-process container update)
    // and the client API sees the same object.
    let r = breq(
        port,
        "GET",
        &format!("{d}/AUTH_b/photos?format=json"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v[0]["name"], "cat/1.jpg");
    assert_eq!(v[0]["hash"], etag.as_str());
    assert_eq!(v[0]["bytes"], 13);
    assert_eq!(r.header("X-Container-Object-Count"), Some("1"));
    assert_eq!(r.header("X-Backend-Storage-Policy-Index"), Some("0"));
    // A container update as Swift's object server sends it.
    let r = breq(
        port,
        "PUT",
        &format!("{d}/AUTH_b/photos/dog.jpg"),
        &[
            ("X-Timestamp", &ts(5)),
            ("X-Size", "42"),
            ("X-Content-Type", "image/jpeg"),
            ("X-Etag", "abc"),
            ("User-Agent", "object-server 77"),
        ],
        b"",
    );
    assert_eq!(r.status, 201);
    let r = breq(port, "HEAD", &format!("{d}/AUTH_b/photos"), &[], b"");
    assert_eq!(r.header("X-Container-Object-Count"), Some("2"));
    assert_eq!(r.header("X-Container-Bytes-Used"), Some("55"));
    let r = breq(
        port,
        "DELETE",
        &format!("{d}/AUTH_b/photos/dog.jpg"),
        &[("X-Timestamp", &ts(6)), ("User-Agent", "object-server 77")],
        b"",
    );
    assert_eq!(r.status, 204);
    // Object DELETE through the object server, then the container is empty.
    let r = breq(
        port,
        "DELETE",
        &format!("{d}/AUTH_b/photos/cat/1.jpg"),
        &[("X-Timestamp", &ts(7))],
        b"",
    );
    assert_eq!(r.status, 204);
    let r = breq(
        port,
        "GET",
        &format!("{d}/AUTH_b/photos/cat/1.jpg"),
        &[],
        b"",
    );
    assert_eq!(r.status, 404);
    let r = breq(port, "HEAD", &format!("{d}/AUTH_b/photos"), &[], b"");
    assert_eq!(r.header("X-Container-Object-Count"), Some("0"));
    // Account server.
    let r = breq(port, "GET", &format!("{d}/AUTH_b?format=json"), &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Account-Meta-Color"), Some("red"));
    assert_eq!(r.header("X-Account-Container-Count"), Some("1"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v[0]["name"], "photos");
    // A container report as Swift's container server sends it.
    let r = breq(
        port,
        "PUT",
        &format!("{d}/AUTH_b/remote"),
        &[
            ("X-Put-Timestamp", &ts(8)),
            ("X-Delete-Timestamp", "0"),
            ("X-Object-Count", "3"),
            ("X-Bytes-Used", "300"),
            ("X-Backend-Storage-Policy-Index", "0"),
        ],
        b"",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // The local container's own totals reach the account within the
    // report interval (100 ms), later on a busy machine: wait for them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let r = loop {
        let r = breq(port, "HEAD", &format!("{d}/AUTH_b"), &[], b"");
        if r.header("X-Account-Object-Count") == Some("3") || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(r.header("X-Account-Container-Count"), Some("2"));
    assert_eq!(r.header("X-Account-Object-Count"), Some("3"));
    // Container DELETE, then account DELETE.
    let r = breq(
        port,
        "DELETE",
        &format!("{d}/AUTH_b/photos"),
        &[("X-Timestamp", &ts(9))],
        b"",
    );
    assert_eq!(r.status, 204);
    let r = breq(
        port,
        "DELETE",
        &format!("{d}/AUTH_b"),
        &[("X-Timestamp", &ts(10))],
        b"",
    );
    assert_eq!(r.status, 204);
    let r = breq(port, "HEAD", &format!("{d}/AUTH_b"), &[], b"");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("X-Account-Status"), Some("Deleted"));
    node.stop();
}

fn refusals(driver: &str) {
    let (node, port) = start(driver);
    // Another device is not mounted here.
    let r = breq(port, "HEAD", "/sdz/1/AUTH_a", &[], b"");
    assert_eq!(r.status, 507);
    for bad in ["/sda1", "/sda1/1", "/sda1/../a", "/sda1/1/a//o"] {
        assert_eq!(breq(port, "HEAD", bad, &[], b"").status, 400, "{bad}");
    }
    let r = breq(
        port,
        "PUT",
        "/sda1/1/a/c/o",
        &[
            ("X-Timestamp", "1.0"),
            ("Content-Length", "0"),
            ("X-Backend-Storage-Policy-Index", "9"),
        ],
        b"",
    );
    assert_eq!(r.status, 503);
    let r = breq(
        port,
        "PUT",
        "/sda1/1/a/c/o",
        &[("Content-Length", "0")],
        b"",
    );
    assert_eq!(r.status, 400);
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

driver_tests! {
    fn account_container_object;
    fn refusals;
}
