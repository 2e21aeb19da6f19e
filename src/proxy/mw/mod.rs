//! Swift's proxy middlewares as paco feature modules, each named after the
//! Swift middleware whose behaviour it reproduces.

pub mod quotas;
pub mod tempurl;
