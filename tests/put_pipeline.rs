//! The object PUT data path: bodies of every size around the buffer edges,
//! chunked and not, and many uploads interleaved on one worker so their
//! buffers are hashed together in SIMD lanes. Every stored object must have
//! the right ETag and read back byte for byte. Both I/O drivers.

mod common;

use common::*;
use std::io::Write;
use std::time::Duration;

const A: &str = "/v1/AUTH_test";
/// `[storage] io_buffer_size` for these nodes: small, so a few hundred KiB
/// already cross many buffers.
const BUF: usize = 16 * 1024;
/// The writer starts writeback every 8 MiB (`obj::diskfile`); one body
/// crosses that step.
const WRITEBACK_STEP: usize = 8 * 1024 * 1024;
/// Whole aligned blocks of a body are written with O_DIRECT (`obj::direct`),
/// the last partial block through the page cache.
const BLOCK: usize = 4096;

fn node(driver: &str) -> Node {
    NodeOpts::new(driver)
        .workers(1)
        .config(&format!("[storage]\nio_buffer_size = {BUF}\n"))
        .start()
}

fn check_stored(node: &Node, tok: &str, path: &str, body: &[u8]) {
    let g = node.req("GET", path, &[("X-Auth-Token", tok)], b"");
    assert_eq!(g.status, 200, "{path}: {g:?}");
    assert_eq!(g.header("etag"), Some(md5_hex(body).as_str()), "{path}");
    assert!(
        g.body == body,
        "{path}: body differs ({} bytes back)",
        g.body.len()
    );
}

/// The `.data` file holds the body, then the metadata trailer: the same
/// layout whichever way (direct or buffered) the body went to disk.
fn check_data_file(node: &Node, path: &str, body: &[u8]) {
    let obj = path.rsplit('/').next().expect("object name");
    let dir = node.object_dir("AUTH_test", "c1", obj);
    let files = walk_files(&dir);
    let data = files
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "data"))
        .unwrap_or_else(|| panic!("{path}: no .data file in {files:?}"));
    let stored = std::fs::read(data).expect("read .data");
    assert!(stored.len() > body.len(), "{path}: no trailer");
    assert!(
        stored[..body.len()] == *body,
        "{path}: body on disk differs"
    );
    let trailer = String::from_utf8_lossy(&stored[body.len()..]);
    assert!(
        trailer.contains(&md5_hex(body)),
        "{path}: trailer lacks the ETag"
    );
}

fn sizes_around_buffer_edges(driver: &str) {
    sizes_with_buffer(driver, BUF);
}

/// A buffer size that is no whole number of blocks: each buffer carries
/// whole blocks to the disk and hands its partial block to the next.
fn sizes_with_odd_buffer(driver: &str) {
    sizes_with_buffer(driver, 10_000);
}

fn sizes_with_buffer(driver: &str, buf: usize) {
    let node = NodeOpts::new(driver)
        .workers(1)
        .config(&format!("[storage]\nio_buffer_size = {buf}\n"))
        .start();
    let tok = node.setup();
    for (i, len) in [
        0,
        1,
        63,
        64,
        65,
        BUF - 1,
        BUF,
        BUF + 1,
        3 * BUF,
        3 * BUF + 7,
        BLOCK - 1,
        BLOCK,
        BLOCK + 1,
        2 * BLOCK - 1,
        BUF + BLOCK - 1,
        BUF + BLOCK,
        2 * BUF + BLOCK + 1,
        5 * BUF,
        WRITEBACK_STEP + 5,
    ]
    .into_iter()
    .enumerate()
    {
        let body = pattern(len, i as u8);
        let path = format!("{A}/c1/o{len}");
        let r = node.req("PUT", &path, &[("X-Auth-Token", &tok)], &body);
        assert_eq!(r.status, 201, "{len}: {r:?}");
        assert_eq!(r.header("etag"), Some(md5_hex(&body).as_str()), "{len}");
        check_stored(&node, &tok, &path, &body);
        check_data_file(&node, &path, &body);
        // The same bytes in odd-sized chunks.
        let parts: Vec<&[u8]> = body.chunks(777).collect();
        let path = format!("{A}/c1/chunked{len}");
        let r = node.req(
            "PUT",
            &path,
            &[("X-Auth-Token", &tok), ("Transfer-Encoding", "chunked")],
            &chunked(&parts),
        );
        assert_eq!(r.status, 201, "chunked {len}: {r:?}");
        assert_eq!(r.header("etag"), Some(md5_hex(&body).as_str()));
        check_stored(&node, &tok, &path, &body);
    }
}

/// Eight uploads send their bodies a slice at a time, round robin, so the
/// worker always has several with a buffer ready: their hashing meets in
/// lanes (the worker's log says how often) and must not mix streams up.
fn interleaved_uploads_hash_together(driver: &str) {
    let node = node(driver);
    let tok = node.setup();
    let uploads = 8;
    let len = 40 * BUF + 123;
    let bodies: Vec<Vec<u8>> = (0..uploads).map(|i| pattern(len, 40 + i as u8)).collect();
    let mut conns: Vec<Conn> = (0..uploads)
        .map(|i| {
            let mut c = node.conn();
            let head = format!(
                "PUT {A}/c1/lane{i} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: {len}\r\n\r\n"
            );
            c.send(head.as_bytes());
            c
        })
        .collect();
    let slice = 2 * BUF;
    let mut sent = 0;
    while sent < len {
        let end = (sent + slice).min(len);
        for (c, body) in conns.iter_mut().zip(&bodies) {
            c.stream
                .write_all(&body[sent..end])
                .expect("send body slice");
        }
        sent = end;
        std::thread::sleep(Duration::from_millis(2));
    }
    for (i, (c, body)) in conns.iter_mut().zip(&bodies).enumerate() {
        let r = c.read_response(false).expect("PUT response");
        assert_eq!(r.status, 201, "upload {i}: {r:?}");
        assert_eq!(r.header("etag"), Some(md5_hex(body).as_str()), "upload {i}");
    }
    for (i, body) in bodies.iter().enumerate() {
        check_stored(&node, &tok, &format!("{A}/c1/lane{i}"), body);
    }
    drop(conns);
    // The worker logs its hashing counters when it stops.
    let mut node = node;
    node.signal(libc::SIGTERM);
    assert!(
        node.wait_exit(Duration::from_secs(15)).is_some(),
        "paco did not stop"
    );
    let log = node.log();
    let batched: u64 = log
        .lines()
        .find_map(|l| l.split("md5_batched=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no md5 counters in the log:\n{log}"));
    assert!(batched > 0, "no buffers were hashed together:\n{log}");
}

driver_tests! {
    fn sizes_around_buffer_edges;
    fn sizes_with_odd_buffer;
    fn interleaved_uploads_hash_together;
}
