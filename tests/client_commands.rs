//! `paco list`, `stat`, `download -o -` and `delete` against a real node,
//! with credentials from `ST_AUTH`/`ST_USER`/`ST_KEY` and from `-A/-U/-K`.

mod client_support;
mod common;

use std::time::Duration;

use client_support::{command, run};
use common::{md5_hex, pattern, Node};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn list_stat_download_delete_round_trip() {
    let node = Node::start("io_uring");
    let tok = node.setup();
    let tmp = tempfile::tempdir().expect("dir");
    let small = pattern(10_000, 1);
    let big = pattern(700_000, 2);
    let f_small = tmp.path().join("small");
    let f_big = tmp.path().join("big");
    std::fs::write(&f_small, &small).expect("write");
    std::fs::write(&f_big, &big).expect("write");

    // Credentials as options instead of the environment.
    let auth = format!("http://127.0.0.1:{}/auth/v1.0", node.port);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_paco"));
    cmd.args([
        "upload",
        "-q",
        "-A",
        &auth,
        "-U",
        "test:tester",
        "-K",
        "testing",
    ])
    .args(["docs", "a/small.bin"])
    .arg(&f_small)
    .env_remove("ST_AUTH")
    .env_remove("ST_USER")
    .env_remove("ST_KEY");
    let r = run(cmd, None, LIMIT);
    assert!(r.status.success(), "{}", r.stderr);
    let r = run(
        command(
            node.port,
            &[
                "upload",
                "--json",
                "-S",
                "300000",
                "docs",
                "big.bin",
                f_big.to_str().unwrap_or(""),
            ],
        ),
        None,
        LIMIT,
    );
    assert!(r.status.success(), "{}", r.stderr);
    assert_eq!(r.json()["segments"].as_array().map(Vec::len), Some(3));

    let r = run(command(node.port, &["list"]), None, LIMIT);
    let names = String::from_utf8_lossy(&r.stdout).into_owned();
    assert!(
        names.lines().any(|l| l == "docs") && names.lines().any(|l| l == "docs_segments"),
        "{names}"
    );
    let r = run(command(node.port, &["list", "docs", "--json"]), None, LIMIT);
    let rows: serde_json::Value = serde_json::from_slice(&r.stdout).expect("json");
    let listed: Vec<&str> = rows
        .as_array()
        .map(|a| a.iter().filter_map(|v| v["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(listed, ["a/small.bin", "big.bin"]);
    let r = run(
        command(node.port, &["list", "docs", "-d", "/"]),
        None,
        LIMIT,
    );
    assert_eq!(String::from_utf8_lossy(&r.stdout), "a/\nbig.bin\n");

    let r = run(
        command(node.port, &["stat", "docs", "a/small.bin", "--json"]),
        None,
        LIMIT,
    );
    let h = r.json();
    assert_eq!(h["content-length"], "10000");
    assert_eq!(h["etag"], md5_hex(&small));
    let r = run(command(node.port, &["stat", "--json"]), None, LIMIT);
    // setup() made four, the uploads two.
    assert_eq!(r.json()["x-account-container-count"], "6");

    // To stdout, plain and large.
    let r = run(
        command(
            node.port,
            &["download", "-q", "docs", "a/small.bin", "-o", "-"],
        ),
        None,
        LIMIT,
    );
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stdout == small);
    let r = run(
        command(node.port, &["download", "-q", "docs", "big.bin", "-o", "-"]),
        None,
        LIMIT,
    );
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stdout == big);
    // A missing object fails and leaves no partial file.
    let out = tmp.path().join("missing.out");
    let r = run(
        command(
            node.port,
            &["download", "docs", "nope", "-o", out.to_str().unwrap_or("")],
        ),
        None,
        LIMIT,
    );
    assert!(!r.status.success());
    assert!(r.stderr.contains("404"), "{}", r.stderr);
    assert_eq!(
        client_support::entries(tmp.path()).len(),
        2,
        "{:?}",
        client_support::entries(tmp.path())
    );

    // Deleting the large object deletes its segments.
    let r = run(
        command(node.port, &["delete", "docs", "big.bin"]),
        None,
        LIMIT,
    );
    assert!(r.status.success(), "{}", r.stderr);
    let seg = node.req(
        "GET",
        "/v1/AUTH_test/docs_segments?format=json",
        &[("X-Auth-Token", tok.as_str())],
        b"",
    );
    assert!(seg.status == 204 || seg.body == b"[]", "{seg:?}");
    // A container with everything in it.
    let r = run(
        command(node.port, &["delete", "docs", "--json"]),
        None,
        LIMIT,
    );
    assert!(r.status.success(), "{}", r.stderr);
    assert_eq!(r.json()["deleted"], serde_json::json!(["a/small.bin"]));
    let gone = node.req(
        "HEAD",
        "/v1/AUTH_test/docs",
        &[("X-Auth-Token", tok.as_str())],
        b"",
    );
    assert_eq!(gone.status, 404);
}

#[test]
fn bad_credentials_fail_without_retrying_forever() {
    let node = Node::start("io_uring");
    let mut cmd = command(node.port, &["list", "--retry-delay", "0.01"]);
    cmd.env("ST_KEY", "wrong");
    let r = run(cmd, None, LIMIT);
    assert!(!r.status.success());
    assert!(
        r.stderr.contains("auth") && r.stderr.contains("401"),
        "{}",
        r.stderr
    );
}
