//! Object metadata is bytes, not text: values that are not UTF-8 come back
//! byte for byte and count toward the limits by their byte length.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::Node;

fn raw_request(node: &Node, req: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", node.port)).expect("connect");
    s.write_all(req).expect("send");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    out
}

#[test]
fn non_utf8_object_metadata_round_trips() {
    let node = Node::start("io_uring");
    let tok = node.setup();
    let mut put = format!(
        "PUT /v1/AUTH_test/c/raw HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: 1\r\nConnection: close\r\nX-Object-Meta-Bin: "
    )
    .into_bytes();
    put.extend_from_slice(b"ab\xe2\x98\xff");
    put.extend_from_slice(b"\r\n\r\nx");
    let resp = raw_request(&node, &put);
    assert!(
        resp.starts_with(b"HTTP/1.1 201"),
        "{}",
        String::from_utf8_lossy(&resp)
    );

    let head = format!("HEAD /v1/AUTH_test/c/raw HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nConnection: close\r\n\r\n");
    let resp = raw_request(&node, head.as_bytes());
    let needle = b"X-Object-Meta-Bin: ab\xe2\x98\xff\r\n";
    assert!(
        resp.windows(needle.len()).any(|w| w == needle),
        "raw bytes not returned as sent: {:?}",
        String::from_utf8_lossy(&resp)
    );
}

#[test]
fn raw_values_count_their_bytes_against_the_limits() {
    let node = Node::start("epoll");
    let tok = node.setup();
    // 16 items of a 2-byte name and 254 raw bytes = 4096 bytes: legal,
    // although each value would be 508 bytes if re-encoded as UTF-8.
    let mut put = format!(
        "PUT /v1/AUTH_test/c/big HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: 0\r\nConnection: close\r\n"
    )
    .into_bytes();
    for i in 0..16 {
        put.extend_from_slice(format!("X-Object-Meta-{i:02}: ").as_bytes());
        put.extend_from_slice(&[0xe9; 254]);
        put.extend_from_slice(b"\r\n");
    }
    put.extend_from_slice(b"\r\n");
    let resp = raw_request(&node, &put);
    assert!(
        resp.starts_with(b"HTTP/1.1 201"),
        "{}",
        String::from_utf8_lossy(&resp)
    );
}
