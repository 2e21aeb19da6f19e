//! Object storage: the DiskFile interface, Swift's hashed layout, the
//! metadata format, and the object server that answers backend requests.

pub mod direct;
pub mod dirents;
pub mod diskfile;
pub mod expiring;
pub mod hashed;
pub mod inflight;
pub mod metadata;
pub mod onfile;
pub mod policies;
pub mod receive;
pub mod server;
mod server_get;
pub mod tmpfile;
pub mod updates;
