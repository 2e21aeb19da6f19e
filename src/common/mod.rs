//! Swift's shared rules: constraints, timestamps, path hashing, and the
//! per-thread buffer pool every data path streams through; plus multi-buffer
//! MD5 for hashing concurrent uploads on one core.

pub mod buffers;
pub mod constraints;
pub mod hash;
pub mod md5x;
pub mod storage_policy;
pub mod timestamp;
