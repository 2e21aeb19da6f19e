//! GET of bodies large enough for the `sendfile` path: whole, one range and
//! several ranges, with the file cached, evicted from the page cache (the
//! io_uring read path takes over mid-body), and with `sendfile` off. Every
//! test runs on both I/O drivers.

mod common;

use std::os::fd::AsRawFd;

use common::*;

const PATH: &str = "/v1/AUTH_test/c/large";
const LEN: usize = 3 * 1024 * 1024 + 12_345;

fn put_large(node: &Node) -> (String, Vec<u8>) {
    let tok = node.setup();
    let data = pattern(LEN, 11);
    let r = node.req("PUT", PATH, &[("X-Auth-Token", &tok)], &data);
    assert_eq!(r.status, 201, "{r:?}");
    (tok, data)
}

/// Drops the object's pages from the page cache, so `cachestat` reports
/// them missing and the read path serves them.
fn evict(node: &Node) {
    for f in walk_files(&node.object_dir("AUTH_test", "c", "large")) {
        let file = std::fs::File::open(&f).expect("open data file");
        // SAFETY: advisory call on an open descriptor.
        let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        assert_eq!(rc, 0, "fadvise");
    }
}

fn check_reads(node: &Node, tok: &str, data: &[u8]) {
    let r = node.req("GET", PATH, &[("X-Auth-Token", tok)], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), data.len());
    assert!(r.body == data, "whole body differs");

    let (a, b) = (300_001usize, 2_900_000usize);
    let range = format!("bytes={a}-{b}");
    let r = node.req(
        "GET",
        PATH,
        &[("X-Auth-Token", tok), ("Range", &range)],
        b"",
    );
    assert_eq!(r.status, 206);
    assert!(r.body == data[a..=b], "range body differs");

    let r = node.req(
        "GET",
        PATH,
        &[
            ("X-Auth-Token", tok),
            ("Range", "bytes=0-9,1000000-2999999"),
        ],
        b"",
    );
    assert_eq!(r.status, 206);
    let body = &r.body;
    let second = &data[1_000_000..3_000_000];
    assert!(
        body.windows(10).any(|w| w == &data[..10]),
        "first part missing"
    );
    let at = body
        .windows(64)
        .position(|w| w == &second[..64])
        .expect("second part present");
    assert!(
        body[at..at + second.len()] == *second,
        "second part differs"
    );
}

fn cached(driver: &str) {
    let node = Node::start(driver);
    let (tok, data) = put_large(&node);
    check_reads(&node, &tok, &data);
}

fn evicted(driver: &str) {
    let node = Node::start(driver);
    let (tok, data) = put_large(&node);
    evict(&node);
    check_reads(&node, &tok, &data);
    // Half cached: the first GET warmed some of it; evict again and read
    // a range so the path switches between sendfile and reads mid-body.
    evict(&node);
    let r = node.req(
        "GET",
        PATH,
        &[("X-Auth-Token", &tok), ("Range", "bytes=0-1048575")],
        b"",
    );
    assert_eq!(r.status, 206);
    check_reads(&node, &tok, &data);
}

fn sendfile_off(driver: &str) {
    let node = Node::start_opts(NodeOpts::new(driver).config("[storage]\nsendfile = false\n"));
    let (tok, data) = put_large(&node);
    check_reads(&node, &tok, &data);
}

driver_tests! {
    fn cached;
    fn evicted;
    fn sendfile_off;
}
