//! Graceful shutdown on SIGTERM/SIGINT: stop accepting, finish requests in
//! flight (bounded by shutdown_grace_secs), exit 0.

mod common;

use common::*;
use std::io;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const A: &str = "/v1/AUTH_test";

/// After shutdown began, a new connection must be refused (or at least
/// closed at once without being served) — never left hanging.
fn assert_new_connection_refused(port: u16) {
    match TcpStream::connect(("127.0.0.1", port)) {
        Err(e) => assert_eq!(
            e.kind(),
            io::ErrorKind::ConnectionRefused,
            "unexpected connect error {e}"
        ),
        Ok(s) => {
            let mut c = Conn::from_stream(s, port);
            let _ = c.try_send(&build_request("GET", "/healthcheck", &[], b""));
            c.set_read_timeout(Duration::from_secs(1));
            match c.read_response(false) {
                Ok(r) => panic!("a connection made after SIGTERM was served: {r:?}"),
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    panic!("a connection made after SIGTERM was accepted by the kernel and left hanging (listener still open)")
                }
                Err(_) => {} // EOF / reset: refused
            }
        }
    }
}

fn stop_idle(driver: &str) {
    let node = Node::start(driver);
    assert_eq!(node.req("GET", "/healthcheck", &[], b"").status, 200);
    node.stop();
    // SIGINT behaves the same.
    let mut node = Node::start(driver);
    assert_eq!(node.req("GET", "/healthcheck", &[], b"").status, 200);
    std::thread::sleep(Duration::from_millis(300)); // see Node::stop
    node.signal(libc::SIGINT);
    let st = node
        .wait_exit(Duration::from_secs(10))
        .expect("exit after SIGINT");
    assert_eq!(st.code(), Some(0), "{st:?}");
}

/// The listening line means "ready": a supervisor may send SIGTERM right
/// after reading it, and the node must still stop cleanly (exit 0), so the
/// signal handlers must be in place before the line is printed.
fn sigterm_right_after_ready(driver: &str) {
    for i in 0..20 {
        let mut node = Node::start(driver);
        node.signal(libc::SIGTERM);
        let st = node
            .wait_exit(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("round {i}: no exit after SIGTERM"));
        assert_eq!(
            st.code(),
            Some(0),
            "round {i}: SIGTERM sent right after the listening line: {st:?}"
        );
    }
}

fn idle_keepalive_does_not_block_shutdown(driver: &str) {
    let mut node = NodeOpts::new(driver).workers(2).start();
    let mut c = node.conn();
    assert_eq!(c.request("GET", "/healthcheck", &[], b"").status, 200);
    let _silent = node.conn(); // connected, never sent anything
    std::thread::sleep(Duration::from_millis(300)); // see Node::stop
    let start = Instant::now();
    node.signal(libc::SIGTERM);
    let st = node.wait_exit(Duration::from_secs(5));
    let log = node.log();
    let st = st.unwrap_or_else(|| {
        panic!("idle keep-alive connections held the node for 5s after SIGTERM; stderr:\n{log}")
    });
    assert_eq!(st.code(), Some(0), "{st:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    c.wait_closed(Duration::from_secs(2))
        .expect("idle connection closed at shutdown");
}

fn put_in_flight_completes(driver: &str) {
    let data_dir = tempfile::tempdir().unwrap();
    let mut node = NodeOpts::new(driver).data_dir(data_dir.path()).start();
    let tok = node.setup();
    let body = pattern(2 * 1024 * 1024, 8);
    let half = body.len() / 2;
    let mut c = node.conn();
    c.send(format!("PUT {A}/c/inflight HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
    c.send(&body[..half]);
    std::thread::sleep(Duration::from_millis(300));
    node.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        node.wait_exit(Duration::from_millis(10)).is_none(),
        "node exited with a PUT in flight"
    );
    assert_new_connection_refused(node.port);
    c.send(&body[half..]);
    let r = c
        .read_response(false)
        .expect("response to the in-flight PUT");
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("etag"), Some(md5_hex(&body).as_str()));
    let st = node.wait_exit(Duration::from_secs(10));
    let log = node.log();
    let st =
        st.unwrap_or_else(|| panic!("no exit after the in-flight PUT finished; stderr:\n{log}"));
    assert_eq!(st.code(), Some(0), "{st:?}\n{log}");
    drop(node);
    // The object is durable.
    let node = NodeOpts::new(driver).data_dir(data_dir.path()).start();
    let tok = node.setup();
    let g = node.req(
        "GET",
        &format!("{A}/c/inflight"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 200);
    assert!(g.body == body);
    node.stop();
}

fn get_in_flight_completes(driver: &str) {
    let mut node = Node::start(driver);
    let tok = node.setup();
    let body = pattern(16 * 1024 * 1024, 12);
    assert_eq!(
        node.req(
            "PUT",
            &format!("{A}/c/big"),
            &[("X-Auth-Token", &tok)],
            &body
        )
        .status,
        201
    );
    let mut c = node.conn();
    c.send(&build_request(
        "GET",
        &format!("{A}/c/big"),
        &[("X-Auth-Token", &tok)],
        b"",
    ));
    // Read only a little, so the rest is still being sent when SIGTERM arrives.
    std::thread::sleep(Duration::from_millis(200));
    node.signal(libc::SIGTERM);
    let r = c.read_response(false).expect("GET in flight finishes");
    assert_eq!(r.status, 200);
    assert!(r.body == body, "body cut short by shutdown");
    let st = node.wait_exit(Duration::from_secs(10)).expect("exit");
    assert_eq!(st.code(), Some(0));
}

fn grace_is_bounded(driver: &str) {
    let cfg = "shutdown_grace_secs = 1\nclient_timeout_secs = 60\nidle_timeout_secs = 60\n";
    let mut node = NodeOpts::new(driver).config(cfg).start();
    let tok = node.setup();
    let mut c = node.conn();
    c.send(format!("PUT {A}/c/never HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: 1000\r\n\r\n").as_bytes());
    c.send(&[b'x'; 100]);
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    node.signal(libc::SIGTERM);
    let st = node.wait_exit(Duration::from_secs(6));
    let log = node.log();
    let st = st.unwrap_or_else(|| {
        panic!("a stalled request kept the node alive past shutdown_grace_secs=1; stderr:\n{log}")
    });
    assert_eq!(st.code(), Some(0), "{st:?}\n{log}");
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "did not wait for the request in flight at all"
    );
    assert!(c.wait_closed(Duration::from_secs(2)).is_ok());
}

driver_tests! {
    fn stop_idle;
    fn sigterm_right_after_ready;
    fn idle_keepalive_does_not_block_shutdown;
    fn put_in_flight_completes;
    fn get_in_flight_completes;
    fn grace_is_bounded;
}
