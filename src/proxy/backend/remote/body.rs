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
