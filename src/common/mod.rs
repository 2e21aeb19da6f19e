//! Swift's shared rules: constraints, timestamps, path hashing, and the
//! per-thread buffer pool every data path streams through.

pub mod buffers;
pub mod constraints;
pub mod hash;
pub mod md5fast;
pub mod storage_policy;
pub mod timestamp;
