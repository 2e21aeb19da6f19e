//! The object expirer against a real node: expired objects leave their
//! container listing and get a tombstone within the configured interval,
//! the queue entry is on disk before the PUT's 201 (so a node killed right
//! after still expires the object after a restart), and an object
//! rewritten without an expiry is left alone.

mod common;

use std::time::{Duration, Instant};

use common::*;

const CONFIG: &str = "expirer_interval_secs = 1\n";

fn listing(node: &Node, tok: &str) -> String {
    let r = node.req("GET", "/v1/AUTH_test/c", &[("X-Auth-Token", tok)], b"");
    assert!(matches!(r.status, 200 | 204), "{r:?}");
    r.text()
}

fn queue_files(node: &Node) -> Vec<std::path::PathBuf> {
    walk_files(&node.data_dir.join("sda1").join("expiring"))
}

/// Waits until `cond` holds, up to `secs`.
fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    cond()
}

fn expired_objects_leave_listings(driver: &str) {
    let node = NodeOpts::new(driver).config(CONFIG).start();
    let tok = node.token();
    let t = [("X-Auth-Token", tok.as_str())];
    assert_eq!(node.req("PUT", "/v1/AUTH_test/c", &t, b"").status, 201);
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c/short",
        &[("X-Auth-Token", &tok), ("X-Delete-After", "2")],
        b"bye",
    );
    assert_eq!(r.status, 201);
    assert_eq!(queue_files(&node).len(), 1, "queued before the 201");
    // Rewritten without an expiry: must survive its old entry.
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c/kept",
        &[("X-Auth-Token", &tok), ("X-Delete-After", "2")],
        b"v1",
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        node.req("PUT", "/v1/AUTH_test/c/kept", &t, b"v2").status,
        201
    );
    assert_eq!(listing(&node, &tok), "kept\nshort\n");
    assert!(
        wait_for(8, || listing(&node, &tok) == "kept\n"),
        "still listed: {}",
        listing(&node, &tok)
    );
    let r = node.req("GET", "/v1/AUTH_test/c/kept", &t, b"");
    assert_eq!((r.status, r.body.as_slice()), (200, b"v2".as_slice()));
    let dir = node.object_dir("AUTH_test", "c", "short");
    let files: Vec<String> = walk_files(&dir)
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert!(files.iter().any(|f| f.ends_with(".ts")), "{files:?}");
    assert!(
        wait_for(3, || queue_files(&node).is_empty()),
        "{:?}",
        queue_files(&node)
    );
    let r = node.req("HEAD", "/v1/AUTH_test/c", &t, b"");
    assert_eq!(r.header("x-container-object-count"), Some("1"));
    node.stop();
}

fn queued_expiries_survive_a_kill(driver: &str) {
    let data = tempfile::tempdir().expect("tempdir");
    // A long interval: the first node must not get to run a pass.
    let mut node = NodeOpts::new(driver)
        .config("expirer_interval_secs = 3600\n")
        .data_dir(data.path())
        .start();
    let tok = node.token();
    assert_eq!(
        node.req("PUT", "/v1/AUTH_test/c", &[("X-Auth-Token", &tok)], b"")
            .status,
        201
    );
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c/o",
        &[("X-Auth-Token", &tok), ("X-Delete-After", "1")],
        b"x",
    );
    assert_eq!(r.status, 201);
    node.kill9();
    drop(node);
    let node = NodeOpts::new(driver)
        .config(CONFIG)
        .data_dir(data.path())
        .start();
    let tok = node.token();
    assert!(
        wait_for(8, || listing(&node, &tok).is_empty()),
        "still listed: {}",
        listing(&node, &tok)
    );
    node.stop();
}

driver_tests! {
    fn expired_objects_leave_listings;
    fn queued_expiries_survive_a_kill;
}
