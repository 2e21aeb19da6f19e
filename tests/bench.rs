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
