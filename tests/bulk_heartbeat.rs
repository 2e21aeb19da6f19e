//! Bulk extract keeps a slow upload's connection alive as Swift does: once
//! the extraction has run for `yield_frequency` (10 s), the 200 answer
//! starts while the archive is still arriving, with whitespace between
//! members, and the outcome follows a blank line at the end.

mod common;

use std::io::Read;
use std::time::Duration;

use common::{tar_member, Node};

/// Reads from `s` into `got` until it holds `want`.
fn read_until(s: &mut std::net::TcpStream, got: &mut Vec<u8>, want: &[u8]) {
    let mut buf = [0u8; 4096];
    while !got.windows(want.len()).any(|w| w == want) {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "closed; got {:?}", String::from_utf8_lossy(got));
        got.extend_from_slice(&buf[..n]);
    }
}

/// The data of a chunked body (everything after the head).
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").expect("size line");
        let size = usize::from_str_radix(std::str::from_utf8(&b[..line_end]).expect("hex"), 16)
            .expect("size");
        b = &b[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[..size]);
        assert_eq!(&b[size..size + 2], b"\r\n");
        b = &b[size + 2..];
    }
}

fn extract_heartbeats_while_the_archive_arrives(driver: &str) {
    let node = Node::start(driver);
    let tok = node.token();
    node.container(&tok, "/v1/AUTH_test/hb");
    let (mut first, mut second) = (Vec::new(), Vec::new());
    tar_member(&mut first, "hb/one", b"1", b'0');
    tar_member(&mut second, "hb/two", b"22", b'0');
    let end = vec![0u8; 1024];
    let len = (first.len() + second.len() + end.len()).to_string();
    let mut c = node.conn();
    c.set_read_timeout(Duration::from_secs(30));
    let head = common::build_request(
        "PUT",
        "/v1/AUTH_test?extract-archive=tar",
        &[("X-Auth-Token", &tok), ("Content-Length", &len)],
        b"",
    );
    c.send(&head);
    c.send(&first);
    // Past yield_frequency, the next member makes the answer start.
    std::thread::sleep(Duration::from_millis(10_500));
    c.send(&second);
    let mut got = Vec::new();
    read_until(&mut c.stream, &mut got, b"\r\n\r\n1\r\n \r\n");
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
    assert!(text.contains("Content-Type: text/plain\r\n"), "{text}");
    // The archive ends only now; the outcome follows.
    c.send(&end);
    read_until(&mut c.stream, &mut got, b"\r\n0\r\n\r\n");
    let split = got.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    let body = String::from_utf8(dechunk(&got[split..])).expect("utf8");
    let (beats, outcome) = body.split_once("\r\n\r\n").expect("separator");
    assert_eq!(beats, " ");
    assert!(
        outcome.contains("Number Files Created: 2\n") && outcome.contains("201 Created"),
        "{outcome}"
    );
    // The connection stays usable.
    let r = c.request(
        "GET",
        "/v1/AUTH_test/hb/two",
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!((r.status, r.body.as_slice()), (200, &b"22"[..]));
}

driver_tests! {
    fn extract_heartbeats_while_the_archive_arrives;
}
