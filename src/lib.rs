//! paco: an OpenStack-Swift-compatible storage node — proxy, account,
//! container and object services in one process, one io_uring runtime per
//! core. See `docs/` and the README.

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
