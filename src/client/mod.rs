//! Client side of the Swift API: an HTTP/1.1 connection on monoio, a Swift
//! client with tempauth and retries, the buffered segment reader that makes
//! uploads from pipes resumable, and the `paco upload/download/list/delete/
//! stat` commands built on them. `paco bench` uses the connection.

pub mod body;
pub mod cli;
pub mod conn;
pub mod download;
pub mod listing;
pub mod progress;
pub mod segment;
pub mod swift;
pub mod upload;

/// Runs `f` to completion on a fresh single-threaded monoio runtime
/// (io_uring where the kernel has it, epoll otherwise).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    match monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build()
    {
        Ok(mut rt) => rt.block_on(f),
        // Without a runtime nothing can run; this is not a request error.
        Err(e) => panic!("cannot build a monoio runtime: {e}"),
    }
}
