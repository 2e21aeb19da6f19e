//! Swift's ring: consistent hashing of account, container and object names
//! onto partitions, and of partitions onto devices spread over regions,
//! zones and servers.
//!
//! - [`ringdata`] reads and writes Swift's `*.ring.gz` files (format v1 and
//!   v2, 2- and 4-byte device ids), so paco and Python Swift can share rings.
//! - [`lookup`] answers `get_part`, `get_nodes` and `get_more_nodes` exactly
//!   as Swift's `Ring` does (same partition, same primaries, same handoffs in
//!   the same order).
//! - [`builder`], [`rebalance`] and [`describe`] are paco's ring builder (the
//!   `paco ring ...` commands), with its own JSON builder file.
//! - [`reload`] re-reads a ring file when it changes on disk.
//!
//! docs/rings.md is the operator's guide.

pub mod builder;
pub mod cli;
pub mod describe;
pub mod device;
pub mod devspec;
mod gzio;
pub mod lookup;
pub mod rebalance;
pub mod reload;
pub mod ringdata;
pub mod swiftconf;

pub use device::Device;
pub use lookup::Ring;
pub use ringdata::RingData;

/// Why a ring file or builder file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a ring this code can read; the text says why.
    #[error("invalid ring: {0}")]
    Format(String),
    /// The ring is well-formed but cannot be used for lookups.
    #[error("unusable ring: {0}")]
    Unusable(String),
    /// A builder operation was refused; the text says why.
    #[error("{0}")]
    Builder(String),
}

impl RingError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        RingError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Shorthand for a [`RingError::Format`].
pub(crate) fn format_err<T>(msg: impl Into<String>) -> Result<T, RingError> {
    Err(RingError::Format(msg.into()))
}
