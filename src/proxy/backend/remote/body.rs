//! Object bodies read from a peer's connection as the client takes them,
//! and the pool their connections return to once a body is complete.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use crate::client::conn::ClientConn;
use crate::http::stream::{BodyStream, LocalBoxFuture};

/// Idle keep-alive connections by peer, shared with the bodies still
/// being read from a peer (they return their connection when done).
pub(super) type Idle = Rc<RefCell<HashMap<SocketAddr, Vec<ClientConn>>>>;

/// Pools `conn` for the next request to `addr`, unless the peer closed it.
pub(super) fn release(idle: &Idle, addr: SocketAddr, conn: ClientConn) {
    if conn.is_closed() {
        return;
    }
    let mut idle = idle.borrow_mut();
    let list = idle.entry(addr).or_default();
    // A few idle connections per peer are enough for one worker.
    if list.len() < 16 {
        list.push(conn);
    }
}

/// An object body read from a peer's connection as the client takes it:
/// each read waits at most the node timeout; a body that ends early is an
/// error (the client's response is cut short and its connection closed).
/// The connection goes back to the pool only once the whole body was read;
/// dropped earlier (the client went away), it is closed.
pub(super) struct RemoteBody {
    /// The connection, until the body is complete or failed.
    pub(super) conn: Option<ClientConn>,
    /// Body bytes still to come.
    pub(super) left: u64,
    /// The peer.
    pub(super) addr: SocketAddr,
    /// Where the connection goes back once the body is complete.
    pub(super) idle: Idle,
    /// The peer said `Connection: close`.
    pub(super) close_after: bool,
}

impl RemoteBody {
    async fn next(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let Some(conn) = self.conn.as_mut() else {
            return (Ok(0), buf);
        };
        if self.left == 0 {
            return (Ok(0), buf);
        }
        if buf.capacity() == buf.len() {
            buf.reserve(64 * 1024);
        }
        let max = usize::try_from(self.left).unwrap_or(usize::MAX);
        let (res, buf) = conn.read_some(buf, max).await;
        let err = match res {
            Ok(0) => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "backend closed the connection with {} bytes to go",
                    self.left
                ),
            ),
            Ok(n) => {
                self.left -= n as u64;
                if self.left == 0 {
                    if let Some(mut conn) = self.conn.take() {
                        if self.close_after {
                            conn.mark_closed();
                        }
                        release(&self.idle, self.addr, conn);
                    }
                }
                return (Ok(n), buf);
            }
            Err(e) => io::Error::other(e.to_string()),
        };
        tracing::warn!(addr = %self.addr, "object body from backend cut short: {err}");
        self.conn = None;
        (Err(err), buf)
    }
}

impl BodyStream for RemoteBody {
    fn read(&mut self, buf: Vec<u8>) -> LocalBoxFuture<'_, (io::Result<usize>, Vec<u8>)> {
        Box::pin(self.next(buf))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    use crate::http::{Body, Headers};
    use crate::proxy::backend::remote::Peers;

    /// A peer on a real socket that answers one GET with a 200 of `len`
    /// bytes, sending the head and the first `first` bytes, then (after a
    /// pause, so the proxy side streams) the rest, or closes early.
    fn peer(len: usize, first: usize, finish: bool) -> std::net::SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            let Ok((mut s, _)) = l.accept() else { return };
            let mut req = Vec::new();
            let mut b = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => req.extend_from_slice(&b[..n]),
                }
            }
            let body = vec![b'x'; len];
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nEtag: \"abc\"\r\n\r\n");
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body[..first]);
            std::thread::sleep(Duration::from_millis(100));
            if finish {
                let _ = s.write_all(&body[first..]);
                // Keep the connection open as a keep-alive server would.
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        addr
    }

    /// GETs from `addr`, reads `take` body bytes (all when `None`), then
    /// drops the body; returns the bytes read, whether the body failed, and
    /// how many connections the pool holds afterwards.
    fn get(addr: std::net::SocketAddr, take: Option<usize>) -> (usize, bool, usize) {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let peers = Peers::new(Duration::from_secs(1), Duration::from_secs(2));
            let r = peers
                .fetch(addr, "GET", "/d/0/a/c/o", &Headers::new())
                .await
                .expect("answer");
            assert_eq!(r.headers.get("etag"), Some("abc"), "ETag unquoted");
            let Body::Stream(sb) = r.body else {
                panic!("a body still on its way is streamed");
            };
            let mut stream = sb.stream;
            let (mut got, mut failed) = (0, false);
            loop {
                if take.is_some_and(|t| got >= t) {
                    break;
                }
                let (res, _) = stream.read(Vec::with_capacity(4096)).await;
                match res {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            drop(stream);
            let pooled = peers.idle.borrow().get(&addr).map_or(0, Vec::len);
            (got, failed, pooled)
        })
    }

    #[test]
    fn a_complete_body_returns_its_connection_to_the_pool() {
        let addr = peer(100_000, 10, true);
        assert_eq!(get(addr, None), (100_000, false, 1));
    }

    #[test]
    fn a_body_dropped_early_closes_its_connection() {
        let addr = peer(100_000, 10, true);
        let (got, failed, pooled) = get(addr, Some(1));
        assert!(got < 100_000 && !failed);
        assert_eq!(pooled, 0, "a half-read connection must not be reused");
    }

    #[test]
    fn a_peer_that_closes_mid_body_fails_the_body() {
        let addr = peer(100_000, 10, false);
        assert_eq!(get(addr, None), (10, true, 0));
    }
}
