//! `paco bench` against a real node: every op type runs, results are
//! verified, and the JSON report carries the figures scripts rely on.

mod common;

use std::process::Command;

use common::Node;

fn bench(node: &Node, args: &[&str]) -> serde_json::Value {
    let auth = format!("http://127.0.0.1:{}/auth/v1.0", node.port);
    let out = Command::new(env!("CARGO_BIN_EXE_paco"))
        .args([
            "bench",
            "-A",
            &auth,
            "--threads",
            "1",
            "--json",
            "--warmup",
            "0",
        ])
        .args(args)
        .output()
        .expect("run paco bench");
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

#[test]
fn every_op_runs_verified_without_errors() {
    let node = Node::start("io_uring");
    let r = bench(
        &node,
        &[
            "-c",
            "4",
            "--ops",
            "200",
            "--objects",
            "30",
            "--size",
            "1KiB:3,70000:1",
            "--mix",
            "put=1,get=2,head=1,delete=1,list=1",
        ],
    );
    assert_eq!(r["total"]["errors"], 0, "{r}");
    for op in ["PUT", "GET", "HEAD", "DELETE", "LIST"] {
        let o = &r["ops"][op];
        assert!(
            o["count"].as_u64().unwrap_or(0) > 0,
            "{op} did not run: {r}"
        );
        let lat = &o["latency_us"];
        let p50 = lat["p50"].as_u64().unwrap_or(0);
        let p99 = lat["p99"].as_u64().unwrap_or(0);
        let max = lat["max"].as_u64().unwrap_or(0);
        assert!(
            p50 > 0 && p50 <= p99 && p99 <= max,
            "{op} percentiles out of order: {lat}"
        );
    }
    assert!(r["total"]["count"].as_u64().unwrap_or(0) >= 200, "{r}");
}

#[test]
fn reads_of_damaged_objects_count_as_errors() {
    let node = Node::start("epoll");
    // Write the objects with bench, then overwrite one of them behind its
    // back with other bytes of the same length: bench must notice.
    let r = bench(
        &node,
        &[
            "-c",
            "1",
            "--ops",
            "1",
            "--objects",
            "1",
            "--mix",
            "get=1",
            "--container",
            "damaged",
            "--size",
            "100",
        ],
    );
    assert_eq!(r["total"]["errors"], 0, "{r}");
    let tok = node.token();
    let path = "/v1/AUTH_test/damaged/o0000000000";
    let put = node.req("PUT", path, &[("X-Auth-Token", &tok)], &[b'z'; 100]);
    assert_eq!(put.status, 201);
    let r = bench(
        &node,
        &[
            "-c",
            "1",
            "--ops",
            "5",
            "--objects",
            "1",
            "--mix",
            "get=1",
            "--container",
            "damaged",
            "--size",
            "100",
            "--no-prefill",
        ],
    );
    assert_eq!(
        r["ops"]["GET"]["errors"]["1"], 5,
        "verification failures expected: {r}"
    );
}

/// A plain HTTP/1.1 object server on a real socket: PUT stores the body
/// under its path (201 when new, 204 when replaced, like nginx's WebDAV),
/// GET returns it. Requests carrying an auth token are refused with 400, so
/// a bench that sends one fails.
fn plain_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let store: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let (store, seen) = (store.clone(), seen2.clone());
            std::thread::spawn(move || {
                let mut out = conn.try_clone().expect("clone");
                let mut rd = BufReader::new(conn);
                loop {
                    let mut line = String::new();
                    if rd.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let path = parts.next().unwrap_or("").to_string();
                    let (mut len, mut token) = (0usize, false);
                    loop {
                        let mut h = String::new();
                        if rd.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end().to_ascii_lowercase();
                        if h.is_empty() {
                            break;
                        }
                        if let Some(v) = h.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        token |= h.starts_with("x-auth-token:");
                    }
                    let mut body = vec![0; len];
                    if rd.read_exact(&mut body).is_err() {
                        return;
                    }
                    seen.lock().expect("lock").push(format!("{method} {path}"));
                    let mut map = store.lock().expect("lock");
                    let (status, reply) = match method.as_str() {
                        _ if token => (400, Vec::new()),
                        "PUT" => match map.insert(path, body) {
                            None => (201, Vec::new()),
                            Some(_) => (204, Vec::new()),
                        },
                        "GET" => match map.get(&path) {
                            Some(b) => (200, b.clone()),
                            None => (404, Vec::new()),
                        },
                        _ => (405, Vec::new()),
                    };
                    drop(map);
                    let head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nETag: \"not-md5\"\r\n\r\n",
                        reply.len()
                    );
                    if out.write_all(head.as_bytes()).is_err() || out.write_all(&reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

#[test]
fn drives_a_plain_http_server_without_auth() {
    let (port, seen) = plain_server();
    let url = format!("http://127.0.0.1:{port}/files/");
    let out = Command::new(env!("CARGO_BIN_EXE_paco"))
        .args([
            "bench",
            "-A",
            "none",
            "--url",
            &url,
            "--threads",
            "1",
            "--json",
            "--warmup",
            "0",
            "-c",
            "2",
            "--ops",
            "60",
            "--objects",
            "10",
            "--containers",
            "2",
            "--size",
            "5000",
            "--mix",
            "put=1,get=1",
        ])
        .output()
        .expect("run paco bench");
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(r["total"]["errors"], 0, "{r}");
    assert!(r["ops"]["GET"]["count"].as_u64().unwrap_or(0) > 0, "{r}");
    assert!(r["ops"]["PUT"]["count"].as_u64().unwrap_or(0) > 0, "{r}");
    let seen = seen.lock().expect("lock");
    // Prefill PUTs (some answered 201) then overwrites (204), all at
    // <url>/<container>/<name>, and no container was created.
    assert!(seen.len() >= 70, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.starts_with("PUT /files/bench-") || s.starts_with("GET /files/bench-")),
        "{seen:?}"
    );
    assert!(seen.iter().all(|s| s.matches('/').count() == 3), "{seen:?}");
}
