//! paco: an OpenStack-Swift-compatible storage node — proxy, account,
//! container and object services in one process, one io_uring runtime per
//! core. See `docs/` and the README.

// Handlers return `Result<_, Response>` so that any check can answer the
// client with `?`; the error is the HTTP answer itself, built once on a
// path that ends the request, so its size (176 bytes) costs nothing a
// box would save.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod bench;
pub mod client;
pub mod common;
pub mod config;
pub mod daemons;
pub mod db;
pub mod http;
pub mod obj;
pub mod proxy;
pub mod ring;
pub mod runtime;
pub mod serve;
pub mod server;
