//! Why a database operation failed.

use std::io;

/// Errors from the database pool. Swift status mapping for callers:
/// `NotFound`/`AccountNotFound` → 404, `InvalidName` → 400,
/// `Closed`/`Sqlite`/`Io`/`Corrupt`/`Other` → 5xx (507 for `is_disk_full`).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite refused or failed the operation.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Creating directories, fsyncing or stat-ing a file failed.
    #[error("io: {0}")]
    Io(#[from] io::Error),
    /// The database (account or container) does not exist, or (for reads
    /// and listings) is marked deleted.
    #[error("not found")]
    NotFound,
    /// A container operation needs its account, which does not exist or is
    /// deleted.
    #[error("account not found")]
    AccountNotFound,
    /// An empty account or container name, or one with a NUL byte.
    #[error("invalid name: {0}")]
    InvalidName(String),
    /// A database file holds something we cannot read (bad stat row, bad
    /// metadata JSON, unknown schema version).
    #[error("corrupt database {path}: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// The pool is shut down (or its thread died): nothing was done.
    #[error("database pool closed")]
    Closed,
    /// A copy of an error that hit a whole batch (see [`DbError::duplicate`]).
    #[error("{0}")]
    Other(String),
}

impl DbError {
    /// A copy of this error for each member of a failed batch. SQLite
    /// failures keep their code; other errors keep their message.
    pub fn duplicate(&self) -> DbError {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(code, msg)) => {
                DbError::Sqlite(rusqlite::Error::SqliteFailure(*code, msg.clone()))
            }
            DbError::Io(e) => DbError::Io(io::Error::new(e.kind(), e.to_string())),
            DbError::NotFound => DbError::NotFound,
            DbError::AccountNotFound => DbError::AccountNotFound,
            DbError::InvalidName(n) => DbError::InvalidName(n.clone()),
            DbError::Corrupt { path, reason } => DbError::Corrupt {
                path: path.clone(),
                reason: reason.clone(),
            },
            DbError::Closed => DbError::Closed,
            other => DbError::Other(other.to_string()),
        }
    }

    /// True when the disk (or SQLite's file size limit) is full: Swift
    /// answers 507 Insufficient Storage.
    pub fn is_disk_full(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(code, _)) => {
                code.code == rusqlite::ErrorCode::DiskFull
            }
            DbError::Io(e) => e.raw_os_error() == Some(libc::ENOSPC),
            _ => false,
        }
    }
}
