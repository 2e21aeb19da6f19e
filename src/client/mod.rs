//! Client side of the Swift API: an HTTP/1.1 connection on monoio and
//! tempauth, used by `paco bench` (and later by the upload/download tools).

pub mod conn;
