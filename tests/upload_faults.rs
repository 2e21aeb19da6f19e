//! `paco upload` from a pipe through a proxy that injects faults: dropped
//! connections mid-segment, 408/503/500/401 answers, a stall that only the
//! client's timeout ends. The upload completes, each fault costs at most
//! one segment of re-sent bytes, the source is read once, the temp dir is
//! empty afterwards, and a zero budget falls back to unbuffered segments
//! and says so.

mod client_proxy;
mod client_support;
mod common;

use std::time::Duration;

use client_proxy::{Fault, FaultProxy, Rule};
use client_support::{command, entries, run};
use common::{md5_hex, pattern, Node};

const SEG: usize = 256 * 1024;
const LIMIT: Duration = Duration::from_secs(120);

/// The segments of `object` as the node stores them: (name, hash, bytes).
fn segments(node: &Node, tok: &str, object: &str) -> Vec<(String, String, u64)> {
    let r = node.req(
        "GET",
        &format!("/v1/AUTH_test/c_segments?format=json&prefix={object}/"),
        &[("X-Auth-Token", tok)],
        b"",
    );
    if r.status == 204 || r.status == 404 {
        return Vec::new();
    }
    assert_eq!(r.status, 200, "{r:?}");
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&r.body).expect("listing");
    rows.iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap_or("").to_string(),
                v["hash"].as_str().unwrap_or("").to_string(),
                v["bytes"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Checks the stored segments hold exactly `data`, cut every `SEG` bytes,
/// by reading each one back from the node.
fn assert_segments_hold(node: &Node, tok: &str, object: &str, data: &[u8]) {
    let segs = segments(node, tok, object);
    assert_eq!(segs.len(), data.len().div_ceil(SEG), "{segs:?}");
    let mut joined = Vec::new();
    for (i, (name, hash, bytes)) in segs.iter().enumerate() {
        let slice = &data[i * SEG..((i + 1) * SEG).min(data.len())];
        assert_eq!(*bytes, slice.len() as u64, "segment {i} size");
        assert_eq!(*hash, md5_hex(slice), "segment {i} ETag");
        let r = node.req(
            "GET",
            &format!("/v1/AUTH_test/c_segments/{name}"),
            &[("X-Auth-Token", tok)],
            b"",
        );
        assert_eq!(r.status, 200);
        joined.extend_from_slice(&r.body);
    }
    assert!(joined == data, "segments do not reassemble the source");
}

/// The manifest object itself (not the large object it describes).
fn manifest(node: &Node, tok: &str, object: &str) -> common::Response {
    let r = node.req(
        "GET",
        &format!("/v1/AUTH_test/c/{object}?multipart-manifest=get"),
        &[("X-Auth-Token", tok)],
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
    r
}

fn upload_args<'a>(buffer_dir: &'a str, limit: &'a str, name: &'a str) -> Vec<&'a str> {
    vec![
        "upload",
        "--json",
        "--segment-size",
        "262144",
        "--buffer-dir",
        buffer_dir,
        "--buffer-limit",
        limit,
        "--retry-delay",
        "0.05",
        "--timeout",
        "1",
        "c",
        name,
        "-",
    ]
}

/// Seven faults over six segments (the last segment two in a row).
fn every_fault_kind() -> Vec<Rule> {
    let p = |i: usize| format!("/{i:08}");
    vec![
        Rule::new("PUT", &p(0), 1, Fault::Drop { after: 100_000 }),
        Rule::new(
            "PUT",
            &p(1),
            1,
            Fault::Status {
                code: 503,
                after: None,
            },
        ),
        Rule::new(
            "PUT",
            &p(2),
            1,
            Fault::Status {
                code: 408,
                after: Some(50_000),
            },
        ),
        Rule::new(
            "PUT",
            &p(3),
            1,
            Fault::Status {
                code: 401,
                after: None,
            },
        ),
        Rule::new(
            "PUT",
            &p(4),
            1,
            Fault::Stall {
                after: 10_000,
                hold: Duration::from_secs(3),
            },
        ),
        Rule::new("PUT", &p(5), 1, Fault::Drop { after: 200_000 }),
        Rule::new(
            "PUT",
            &p(5),
            2,
            Fault::Status {
                code: 500,
                after: Some(1000),
            },
        ),
    ]
}

/// Upload side of a faulty stream upload: every segment arrives intact,
/// the manifest is written, re-sent bytes stay within one segment per fault.
#[test]
fn stream_upload_survives_every_fault_kind() {
    let node = Node::start("io_uring");
    let tok = node.setup();
    let proxy = FaultProxy::start(node.port, every_fault_kind());
    let tmp = tempfile::tempdir().expect("buffer dir");
    let dir = tmp.path().to_str().expect("utf-8");
    let data = pattern(6 * SEG + 12_345, 7);
    // A budget of exactly one segment: each segment is buffered in turn,
    // so the budget must be given back as segments are confirmed.
    let r = run(
        command(proxy.port, &upload_args(dir, "262144", "s")),
        Some(data.clone()),
        LIMIT,
    );
    let j = r.json();
    let faults = 7u64;
    assert_eq!(
        proxy
            .seen()
            .faults
            .load(std::sync::atomic::Ordering::SeqCst),
        faults,
        "{:?}",
        proxy.log()
    );
    assert_eq!(j["retries"], faults, "{j}\n{}", r.stderr);
    assert_eq!(j["reauths"], 1, "{j}");
    assert_eq!(j["fallback"], false, "{j}");
    assert_eq!(j["unbuffered_segments"], 0, "{j}");
    assert_eq!(j["size"], data.len() as u64, "{j}");
    let seen: Vec<String> = j["faults"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for status in ["HTTP 503", "HTTP 408", "HTTP 401", "HTTP 500", "timed out"] {
        assert!(
            seen.iter().any(|f| f.contains(status)),
            "no {status} in {seen:?}"
        );
    }
    // paco's /info advertises SLO, so the client writes an SLO manifest.
    assert_eq!(j["manifest"], "slo", "{j}");
    let sent = j["bytes_sent"].as_u64().unwrap_or(0);
    let resent = sent - data.len() as u64;
    assert!(
        resent <= faults * SEG as u64,
        "{resent} bytes re-sent for {faults} faults of at most {SEG}: {j}"
    );
    let segs = j["segments"].as_array().expect("segments");
    assert_eq!(segs.len(), 7);
    for (i, s) in segs.iter().enumerate() {
        let slice = &data[i * SEG..((i + 1) * SEG).min(data.len())];
        assert_eq!(s["etag"], md5_hex(slice), "segment {i}");
        assert_eq!(s["buffered"], true, "segment {i}");
    }
    assert_segments_hold(&node, &tok, "s", &data);
    let m = manifest(&node, &tok, "s");
    assert_eq!(m.header("x-static-large-object"), Some("True"), "{m:?}");
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&m.body).expect("SLO manifest");
    assert_eq!(listed.len(), 7);
    for (row, seg) in listed.iter().zip(segs) {
        assert_eq!(row["hash"], seg["etag"], "{row}");
        assert_eq!(row["bytes"], seg["size"], "{row}");
    }
    assert!(
        entries(tmp.path()).is_empty(),
        "temp files left: {:?}",
        entries(tmp.path())
    );
    // The node serves the large object: the client verified its size and
    // ETag, and it reads back byte for byte.
    assert!(r.status.success(), "{j}\n{}", r.stderr);
    assert!(j.get("error").is_none(), "{j}");
    let got = node.req("GET", "/v1/AUTH_test/c/s", &[("X-Auth-Token", &tok)], b"");
    assert_eq!(got.status, 200);
    assert!(got.body == data, "large object differs from the source");
}

/// With `--buffer-limit 0` nothing is buffered: every segment is streamed
/// as it is read, the summary and stderr say so, and nothing is written to
/// the buffer dir. A fault in such a segment cannot be retried: the upload
/// fails, naming why, and removes the segments it had stored.
#[test]
fn zero_budget_falls_back_to_unbuffered_and_reports_it() {
    let node = Node::start("io_uring");
    let tok = node.setup();
    let tmp = tempfile::tempdir().expect("buffer dir");
    let dir = tmp.path().to_str().expect("utf-8");
    let data = pattern(2 * SEG + 999, 3);
    let proxy = FaultProxy::start(node.port, vec![]);
    let r = run(
        command(proxy.port, &upload_args(dir, "0", "z")),
        Some(data.clone()),
        LIMIT,
    );
    let j = r.json();
    assert_eq!(j["fallback"], true, "{j}");
    assert_eq!(j["unbuffered_segments"], 3, "{j}");
    // Every data byte once, plus the SLO manifest's own body.
    let sent = j["bytes_sent"].as_u64().unwrap_or(0);
    assert!(
        (data.len() as u64..data.len() as u64 + 4096).contains(&sent),
        "{j}"
    );
    assert!(r.stderr.contains("sending it unbuffered"), "{}", r.stderr);
    assert_segments_hold(&node, &tok, "z", &data);
    assert!(entries(tmp.path()).is_empty());

    let proxy = FaultProxy::start(
        node.port,
        vec![Rule::new(
            "PUT",
            "00000001",
            1,
            Fault::Drop { after: 50_000 },
        )],
    );
    let r = run(
        command(proxy.port, &upload_args(dir, "0", "z2")),
        Some(data.clone()),
        LIMIT,
    );
    assert!(!r.status.success(), "{}", r.stderr);
    let j = r.json();
    let e = j["error"].as_str().unwrap_or("");
    assert!(
        e.contains("not retried") && e.contains("not buffered"),
        "{j}"
    );
    assert!(
        segments(&node, &tok, "z2").is_empty(),
        "abandoned segments left behind"
    );
    assert!(entries(tmp.path()).is_empty());
}

/// A regular file is read in place by several connections: no temp file,
/// faults retried by reading the file again.
#[test]
fn file_segments_upload_in_parallel_without_temp_files() {
    let node = Node::start("io_uring");
    let tok = node.setup();
    let tmp = tempfile::tempdir().expect("dir");
    let buf = tmp.path().join("buf");
    std::fs::create_dir(&buf).expect("mkdir");
    let data = pattern(4 * SEG + 1, 11);
    let file = tmp.path().join("src.bin");
    std::fs::write(&file, &data).expect("write");
    let proxy = FaultProxy::start(
        node.port,
        vec![
            Rule::new(
                "PUT",
                "00000000",
                1,
                Fault::Status {
                    code: 503,
                    after: None,
                },
            ),
            Rule::new("PUT", "00000002", 1, Fault::Drop { after: 70_000 }),
        ],
    );
    let mut args = upload_args(buf.to_str().expect("utf-8"), "0", "f");
    args.pop();
    let f = file.to_str().expect("utf-8").to_string();
    args.push(&f);
    args.extend(["--concurrency", "3"]);
    let r = run(command(proxy.port, &args), None, LIMIT);
    let j = r.json();
    assert_eq!(j["stream"], false, "{j}");
    assert_eq!(j["retries"], 2, "{j}");
    assert_eq!(j["fallback"], false, "a file never needs the buffer: {j}");
    assert!(j["bytes_sent"].as_u64().unwrap_or(0) <= data.len() as u64 + 2 * SEG as u64);
    assert_segments_hold(&node, &tok, "f", &data);
    assert!(entries(&buf).is_empty());
}

/// Ctrl-C while a segment is being buffered removes its temp file.
#[test]
fn ctrl_c_removes_temp_files() {
    let node = Node::start("io_uring");
    node.setup();
    let tmp = tempfile::tempdir().expect("buffer dir");
    let dir = tmp.path().to_str().expect("utf-8");
    let mut cmd = command(node.port, &upload_args(dir, "1GiB", "int"));
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    // Part of a segment, then the producer goes quiet (pipe left open).
    std::io::Write::write_all(&mut stdin, &pattern(100_000, 1)).expect("write");
    let start = std::time::Instant::now();
    while entries(tmp.path()).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no temp file appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("client ignored SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    assert_eq!(status.code(), Some(130));
    assert!(
        entries(tmp.path()).is_empty(),
        "left: {:?}",
        entries(tmp.path())
    );
}
