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
/// Whole aligned blocks of a large body are written with O_DIRECT
/// (`obj::direct`), several at a time, the last partial block through the
/// page cache.
const BLOCK: usize = 4096;

/// A node whose bodies of `direct_min` bytes and more are written past
/// the page cache.
fn node_with(driver: &str, buf: usize, direct_min: usize) -> Node {
    NodeOpts::new(driver)
        .workers(1)
        .config(&format!(
            "[storage]\nio_buffer_size = {buf}\ndirect_write_min_size = {direct_min}\n"
        ))
        .start()
}

/// Every body written directly where the driver allows.
fn node(driver: &str) -> Node {
    node_with(driver, BUF, 0)
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
    sizes_with_buffer(driver, BUF, 0);
}

/// A buffer size that is no whole number of blocks: each buffer carries
/// whole blocks to the disk and hands its partial block to the next.
fn sizes_with_odd_buffer(driver: &str) {
    sizes_with_buffer(driver, 10_000, 0);
}

/// The same sizes with direct writes from 3 buffers on: smaller bodies
/// stay buffered, longer ones are direct from the start, and chunked ones
/// switch once 3 buffers have arrived (mid-body).
fn sizes_around_the_direct_threshold(driver: &str) {
    sizes_with_buffer(driver, BUF, 3 * BUF);
}

fn sizes_with_buffer(driver: &str, buf: usize, direct_min: usize) {
    let node = node_with(driver, buf, direct_min);
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
        3 * BUF - 1,
        3 * BUF + 7,
        4 * BUF + 1,
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

/// One round of eight interleaved uploads (see below), each checked.
fn interleaved_round(node: &Node, tok: &str, round: usize) {
    let uploads = 8;
    let len = 40 * BUF + 123;
    let bodies: Vec<Vec<u8>> = (0..uploads).map(|i| pattern(len, 40 + i as u8)).collect();
    let mut conns: Vec<Conn> = (0..uploads)
        .map(|i| {
            let mut c = node.conn();
            let head = format!(
                "PUT {A}/c1/lane{round}-{i} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: {len}\r\n\r\n"
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
        check_stored(node, tok, &format!("{A}/c1/lane{round}-{i}"), body);
    }
}

/// Eight uploads send their bodies a slice at a time, round robin, so the
/// worker always has several with a buffer ready: their hashing meets in
/// lanes (the worker's log says how often) and must not mix streams up.
fn interleaved_uploads_hash_together(driver: &str) {
    let node = node(driver);
    let tok = node.setup();
    // Whether two uploads' buffers meet in one pass is up to timing; on a
    // loaded machine one round can miss by chance, so several rounds run
    // before the counters are read.
    for round in 0..3 {
        interleaved_round(&node, &tok, round);
    }
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

/// A write the disk refuses mid-body (the file size limit: `EFBIG` from
/// a block write while others are in flight) fails the PUT: an error
/// status, no object, nothing left in `tmp/`; smaller PUTs still work.
fn refused_write_fails_the_put_cleanly(driver: &str) {
    const LIMIT: usize = 1024 * 1024;
    let node = NodeOpts::new(driver)
        .workers(1)
        .config(&format!(
            "[storage]\nio_buffer_size = {BUF}\ndirect_write_min_size = 0\n"
        ))
        .file_size_limit(LIMIT as u64)
        .start();
    let tok = node.setup();
    for (name, len) in [("big", 4 * LIMIT), ("edge", LIMIT + 1)] {
        let body = pattern(len, 9);
        let path = format!("{A}/c1/{name}");
        // The node answers before the body is all sent and closes the
        // connection, which may reset it under the answer: the access log
        // has the status then.
        let mut c = node.conn();
        let _ = c.try_send(&build_request(
            "PUT",
            &path,
            &[("X-Auth-Token", &tok)],
            &body,
        ));
        match c.read_response(false) {
            Ok(r) => assert!(r.status >= 500, "{name}: {r:?}"),
            Err(_) => {
                let logged = format!("path=\"{path}\" status=5");
                let deadline = std::time::Instant::now() + Duration::from_secs(5);
                while !node.log().contains(&logged) {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "{name}: no error status logged:\n{}",
                        node.log()
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        let g = node.req("GET", &path, &[("X-Auth-Token", &tok)], b"");
        assert_eq!(g.status, 404, "{name}: {g:?}");
        let dir = node.object_dir("AUTH_test", "c1", name);
        assert!(
            walk_files(&dir).is_empty(),
            "{name}: {:?}",
            walk_files(&dir)
        );
        let tmp = node.data_dir.join("sda1").join("tmp");
        assert!(
            walk_files(&tmp).is_empty(),
            "{name}: {:?}",
            walk_files(&tmp)
        );
    }
    let body = pattern(LIMIT / 2, 3);
    let path = format!("{A}/c1/small");
    let r = node.req("PUT", &path, &[("X-Auth-Token", &tok)], &body);
    assert_eq!(r.status, 201, "{r:?}");
    check_stored(&node, &tok, &path, &body);
}

driver_tests! {
    fn refused_write_fails_the_put_cleanly;
    fn sizes_around_buffer_edges;
    fn sizes_with_odd_buffer;
    fn sizes_around_the_direct_threshold;
    fn interleaved_uploads_hash_together;
}
