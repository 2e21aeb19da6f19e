//! Client side of the Swift API: an HTTP/1.1 connection on monoio, a Swift
//! client with tempauth and retries, the buffered segment reader that makes
//! uploads from pipes resumable, and the `paco upload/download/list/delete/
//! stat` commands built on them. `paco bench` uses the connection.

pub mod body;
pub mod conn;
pub mod segment;
pub mod swift;
