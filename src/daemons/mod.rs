//! Background work that runs inside the node on its own threads, paced so
//! it never competes with requests for long.

pub mod expirer;
pub mod updater;
