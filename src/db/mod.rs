//! Account and container databases: SQLite files in Swift's partition
//! layout, owned by a pool of blocking threads separate from the io_uring
//! workers.
//!
//! - [`DbPool`] is the only entry point. Workers call its async methods; each
//!   sends a job to the pool thread that owns the database (always the same
//!   thread for a given database, chosen by its path hash) and awaits the
//!   reply, so no worker ever blocks on SQLite.
//! - Object rows (`update_object`) that arrive together for one container
//!   are applied in one transaction and acknowledged only after its commit
//!   (WAL, `synchronous=FULL`: a reply means durable).
//! - Container totals flow to the account database asynchronously, coalesced
//!   per container (at most one report per [`PoolConfig::report_interval`]),
//!   except container PUT/DELETE, which wait for the account row.
//!
//! Module map: [`schema`] (files, pragmas, DDL), [`container`] and
//! [`account`] (synchronous operations on one open database), [`listing`]
//! (Swift's marker/prefix/delimiter algorithm), [`metadata`] (timestamped
//! metadata merge), `worker` (the pool threads: batching, connection cache,
//! report coalescing), [`pool`] (lifecycle) and `api` (the async methods).

pub mod account;
mod api;
pub mod container;
mod error;
pub mod listing;
pub mod metadata;
pub mod pool;
pub mod schema;
mod types;
mod worker;

pub use error::DbError;
pub use listing::{ListItem, ListParams};
pub use pool::{DbPool, PoolConfig, PoolStats};
pub use types::*;

/// Result of every database operation.
pub type Result<T> = std::result::Result<T, DbError>;

#[cfg(test)]
mod tests;
