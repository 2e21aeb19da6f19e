//! Object bodies a proxy fetches from another node over HTTP are streamed
//! to the client as they arrive, not read into memory first. Two `paco`
//! processes: a proxy node whose object ring names only the other node's
//! device, and that storage node. Big objects come back byte for byte,
//! ranges too; a client that leaves early does not leave a half-read
//! backend connection in the pool; a storage node that stalls or dies
//! mid-body gives the client a truncated response (its connection closed
//! before Content-Length bytes), not a hang. Every test runs on both drivers.

mod common;

use common::*;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

fn ring_cmd(dir: &Path, args: &[&str]) {
    run_paco(dir, &[&["ring"], args].concat());
}

/// A proxy node (object ring: the storage node's device only) and the
/// storage node behind it. `node_timeout_ms` is the proxy's.
struct Pair {
    proxy: Node,
    storage: Node,
    _rings: tempfile::TempDir,
}

/// Writes `name` (a one-replica ring of the device at `port`) into `dir`.
fn one_device_ring(dir: &Path, name: &str, port: u16) {
    let build = tempfile::tempdir_in(dir).expect("builder dir");
    ring_cmd(build.path(), &["create", "6", "1", "1"]);
    let dev = format!("r1z1-127.0.0.1:{port}/sda1");
    ring_cmd(build.path(), &["add", &dev, "100"]);
    ring_cmd(build.path(), &["rebalance"]);
    let out = dir.join(name);
    let out = out.to_str().expect("utf-8 path");
    ring_cmd(build.path(), &["write_ring", "-o", out]);
}

fn start_pair(driver: &str, node_timeout_ms: u64) -> Pair {
    let rings = tempfile::tempdir().expect("ring dir");
    let (storage_port, proxy_port) = (free_port(), free_port());
    // Objects on the storage node; accounts and containers on the proxy
    // node itself.
    one_device_ring(rings.path(), "object.ring.gz", storage_port);
    one_device_ring(rings.path(), "container.ring.gz", proxy_port);
    one_device_ring(rings.path(), "account.ring.gz", proxy_port);
    let storage = NodeOpts::new(driver)
        .config(&format!("backend_bind = \"127.0.0.1:{storage_port}\"\n"))
        .start();
    let proxy = NodeOpts::new(driver)
        .config(&format!(
            "backend_bind = \"127.0.0.1:{}\"\n[cluster]\nswift_dir = \"{}\"\n\
             conn_timeout_ms = 1000\nnode_timeout_ms = {node_timeout_ms}\n",
            proxy_port,
            rings.path().display()
        ))
        .start();
    Pair {
        proxy,
        storage,
        _rings: rings,
    }
}

fn put(node: &Node, tok: &str, path: &str, body: &[u8]) {
    let r = node.req("PUT", path, &[("X-Auth-Token", tok)], body);
    assert_eq!(
        r.status,
        201,
        "PUT {path}: {}\n{}",
        r.text(),
        node.log_tail(30)
    );
    assert_eq!(r.header("etag"), Some(md5_hex(body).as_str()));
}

/// A client connection with a small receive buffer, so that a client that
/// stops reading holds back the proxy (and through it the storage node)
/// after a few hundred KiB instead of the kernel's autotuned megabytes.
fn slow_reader(port: u16) -> std::net::TcpStream {
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.set_recv_buffer_size(64 * 1024).expect("rcvbuf");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    sock.connect(&addr.into()).expect("connect");
    sock.into()
}

/// Sends a GET and reads up to the end of the response head; returns the
/// Content-Length and the raw stream (with body bytes already read).
fn open_get(port: u16, path: &str, tok: &str) -> (u64, std::net::TcpStream, Vec<u8>) {
    let mut s = slow_reader(port);
    let req = build_request("GET", path, &[("X-Auth-Token", tok)], b"");
    std::io::Write::write_all(&mut s, &req).expect("send");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let end = loop {
        let n = s.read(&mut buf).expect("read head");
        assert!(n > 0, "EOF before the response head");
        got.extend_from_slice(&buf[..n]);
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&got[..end]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<u64>().ok())
                .flatten()
        })
        .expect("content-length");
    (len, s, got[end..].to_vec())
}

/// Reads until EOF (or an error); returns the bytes read and how long it took.
fn drain(s: &mut std::net::TcpStream) -> (u64, Duration) {
    let t = Instant::now();
    let mut total = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return (total, t.elapsed()),
            Ok(n) => total += n as u64,
        }
    }
}

fn big_object_ranges_and_early_disconnect(driver: &str) {
    let pair = start_pair(driver, 10_000);
    let p = &pair.proxy;
    let tok = p.token();
    p.container(&tok, "/v1/AUTH_test/c");
    let big = pattern(24 * 1024 * 1024 + 7, 3);
    put(p, &tok, "/v1/AUTH_test/c/big", &big);
    let small = b"a small object, all of it in the first read".to_vec();
    put(p, &tok, "/v1/AUTH_test/c/small", &small);
    // The data lives on the storage node only.
    assert!(walk_files(&pair.storage.data_dir)
        .iter()
        .any(|f| f.extension().is_some_and(|e| e == "data")));
    assert!(!walk_files(&p.data_dir)
        .iter()
        .any(|f| f.extension().is_some_and(|e| e == "data")));

    let r = p.req("GET", "/v1/AUTH_test/c/big", &[("X-Auth-Token", &tok)], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(big.len().to_string().as_str())
    );
    assert!(r.body == big, "big object differs");
    let r = p.req(
        "GET",
        "/v1/AUTH_test/c/big",
        &[("X-Auth-Token", &tok), ("Range", "bytes=1000-3000999")],
        b"",
    );
    assert_eq!(r.status, 206);
    assert!(r.body == big[1000..3_001_000], "range differs");
    let r = p.req(
        "GET",
        "/v1/AUTH_test/c/big",
        &[("X-Auth-Token", &tok), ("Range", "bytes=-5")],
        b"",
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &big[big.len() - 5..]);

    // Clients that leave after the head: their backend connections must be
    // closed, not pooled with the rest of a body in them.
    for _ in 0..3 {
        let (len, s, _) = open_get(p.port, "/v1/AUTH_test/c/big", &tok);
        assert_eq!(len, big.len() as u64);
        drop(s);
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut conn = p.conn();
    for _ in 0..5 {
        let r = conn.request(
            "GET",
            "/v1/AUTH_test/c/small",
            &[("X-Auth-Token", &tok)],
            b"",
        );
        assert_eq!(r.status, 200, "{}", p.log_tail(20));
        assert_eq!(r.body, small);
        let r = conn.request(
            "HEAD",
            "/v1/AUTH_test/c/big",
            &[("X-Auth-Token", &tok)],
            b"",
        );
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-length"),
            Some(big.len().to_string().as_str())
        );
    }
    let r = conn.request("GET", "/v1/AUTH_test/c/big", &[("X-Auth-Token", &tok)], b"");
    assert!(
        r.status == 200 && r.body == big,
        "big object after early disconnects"
    );
    pair.proxy.stop();
    pair.storage.stop();
}

fn storage_node_stalls_or_dies_mid_body(driver: &str) {
    let mut pair = start_pair(driver, 3_000);
    let tok = pair.proxy.token();
    pair.proxy.container(&tok, "/v1/AUTH_test/c");
    let big = pattern(64 * 1024 * 1024, 5);
    put(&pair.proxy, &tok, "/v1/AUTH_test/c/big", &big);

    // Stalled: the node timeout ends the wait between two reads.
    let (len, mut s, first) = open_get(pair.proxy.port, "/v1/AUTH_test/c/big", &tok);
    assert_eq!(len, big.len() as u64);
    pair.storage.signal(libc::SIGSTOP);
    let (rest, took) = drain(&mut s);
    pair.storage.signal(libc::SIGCONT);
    let got = first.len() as u64 + rest;
    assert!(got < len, "a stalled backend still gave the whole body");
    assert!(
        took < Duration::from_secs(20),
        "truncation took {took:?} with a 3 s node timeout"
    );
    assert!(
        pair.proxy.log().contains("cut short"),
        "{}",
        pair.proxy.log_tail(20)
    );

    // Killed: the client's response ends as soon as the buffered bytes
    // are through.
    let (len, mut s, first) = open_get(pair.proxy.port, "/v1/AUTH_test/c/big", &tok);
    assert_eq!(len, big.len() as u64);
    std::thread::sleep(Duration::from_millis(100));
    pair.storage.kill9();
    let (rest, took) = drain(&mut s);
    let got = first.len() as u64 + rest;
    assert!(got < len, "a killed backend still gave the whole body");
    assert!(took < Duration::from_secs(10), "truncation took {took:?}");
    // The proxy itself is fine.
    let r = pair
        .proxy
        .req("GET", "/v1/AUTH_test/c/big", &[("X-Auth-Token", &tok)], b"");
    assert_eq!(r.status, 503, "{}", r.text());
    pair.proxy.stop();
}

driver_tests! {
    fn big_object_ranges_and_early_disconnect;
    fn storage_node_stalls_or_dies_mid_body;
}
