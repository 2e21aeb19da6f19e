//! Database files: where they live, how they are opened, and the tables in
//! them.
//!
//! Layout, as Swift's: `<root>/accounts/<part>/<suffix>/<hash>/<hash>.db`
//! (hash of `/account`) and `<root>/containers/<part>/<suffix>/<hash>/<hash>.db`
//! (hash of `/account/container`).
//!
//! Every connection runs in WAL mode with `synchronous=FULL`, so a commit
//! returns only after the WAL is fsynced. Directories created for a new
//! database are fsynced into their parents, and the hash directory is
//! fsynced after the file is created, so a database acknowledged as created
//! survives a crash.
//!
//! Schema (paco's own; modelled on Swift's, with one row per object name):
//! - `object`: `(deleted, name)` is the primary key of a `WITHOUT ROWID`
//!   table, so live rows are one contiguous, name-ordered range of the
//!   b-tree: listings are range scans (`deleted = 0 AND name > ? ORDER BY
//!   name LIMIT ?`) that never visit tombstones, and each row is read from
//!   the index itself. A name has at most one row (live or tombstone).
//! - `container_stat`: one row; `object_count`/`bytes_used` are maintained
//!   incrementally in the same transaction as the object rows.
//! - `container` (account DB): the same shape for container rows;
//!   `account_stat` and `policy_stat` hold incrementally maintained totals.
//!
//! `PRAGMA user_version` is set to [`SCHEMA_VERSION`] in the transaction that
//! creates the tables: a file left half-created by a crash reads as absent.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction};

use crate::common::hash::{hash_hex, hash_path, hash_suffix, partition, HashConf};
use crate::common::timestamp::Timestamp;

use super::{DbError, Result};

/// The schema version written in `user_version`.
pub const SCHEMA_VERSION: i64 = 1;

/// SQLite page cache per connection, in KiB (negative `cache_size`); with
/// `max_open_per_thread` connections per thread this bounds the memory.
const CACHE_KIB: i64 = 2048;

/// Which kind of database a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DbKind {
    /// `accounts/…`
    Account,
    /// `containers/…`
    Container,
}

/// Where a database lives and which names it holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DbLocation {
    /// Account or container.
    pub kind: DbKind,
    /// The `.db` file.
    pub path: PathBuf,
    /// The MD5 path hash (names the directory and the file).
    pub hash: [u8; 16],
    /// The ring partition.
    pub partition: u32,
    /// Account name.
    pub account: String,
    /// Container name (containers only).
    pub container: Option<String>,
}

impl DbLocation {
    /// The location of the database for `/account` (container `None`) or
    /// `/account/container`.
    pub fn new(
        root: &Path,
        conf: &HashConf,
        part_power: u8,
        account: &str,
        container: Option<&str>,
    ) -> Result<DbLocation> {
        check_name(account)?;
        if let Some(c) = container {
            check_name(c)?;
        }
        let hash = hash_path(conf, account, container, None)
            .map_err(|e| DbError::InvalidName(e.to_string()))?;
        let hex = hash_hex(&hash);
        let part = partition(&hash, part_power);
        let (kind, datadir) = match container {
            Some(_) => (DbKind::Container, "containers"),
            None => (DbKind::Account, "accounts"),
        };
        let path = root
            .join(datadir)
            .join(part.to_string())
            .join(hash_suffix(&hex))
            .join(&hex)
            .join(format!("{hex}.db"));
        Ok(DbLocation {
            kind,
            path,
            hash,
            partition: part,
            account: account.to_string(),
            container: container.map(str::to_string),
        })
    }

    /// A number spreading databases over pool threads (from the hash).
    pub fn spread(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.hash[8..16]);
        u64::from_be_bytes(b)
    }
}

/// Names must be non-empty and free of NUL (SQLite text and Swift agree).
/// The result of reading a single-row stat table: `None` when the row, or
/// the table itself, is missing (a file whose creation a crash interrupted).
pub fn stat_row<T>(row: rusqlite::Result<Option<T>>) -> Result<Option<T>> {
    match row {
        Ok(r) => Ok(r),
        Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.contains("no such table") => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(DbError::InvalidName("empty name".into()));
    }
    // A leading NUL marks Swift's reserved namespace (versioning's hidden
    // containers): only the proxy's own modules make such names, as
    // clients' paths may not contain NUL at all.
    if name.contains('\0') && !name.starts_with('\0') {
        return Err(DbError::InvalidName("name contains NUL".into()));
    }
    Ok(())
}

/// Opens the database at `path` if the file exists (`Ok(None)` otherwise),
/// or creates the file (and its directories, durably) when `create`.
pub fn open(path: &Path, create: bool) -> Result<Option<Connection>> {
    let exists = path.exists();
    if !exists && !create {
        return Ok(None);
    }
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if !exists {
        let dir = path
            .parent()
            .ok_or_else(|| io::Error::other("database path has no parent"))?;
        make_dirs_durable(dir)?;
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    configure(&conn)?;
    Ok(Some(conn))
}

/// Per-connection settings: WAL, fsync at every commit, a page cache.
fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(DbError::Other(format!("journal_mode is {mode}, not wal")));
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-{CACHE_KIB};"
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// The schema version in the file: 0 when the tables were never created
/// (new file, or creation interrupted by a crash).
pub fn version(conn: &Connection, path: &Path) -> Result<i64> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if v > SCHEMA_VERSION {
        return Err(DbError::Corrupt {
            path: path.display().to_string(),
            reason: format!("schema version {v} is newer than {SCHEMA_VERSION}"),
        });
    }
    Ok(v)
}

/// A random 128-bit id in hex (Swift's per-database `id`, used by
/// replication to recognise a database).
fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Creates a container database's tables and stat row.
pub fn init_container(
    tx: &Transaction<'_>,
    account: &str,
    container: &str,
    put_timestamp: Timestamp,
    policy_index: i64,
) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE object (
            deleted INTEGER NOT NULL,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            size INTEGER NOT NULL,
            content_type TEXT NOT NULL,
            etag TEXT NOT NULL,
            storage_policy_index INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (deleted, name)
        ) WITHOUT ROWID;
        CREATE TABLE container_stat (
            account TEXT NOT NULL,
            container TEXT NOT NULL,
            created_at TEXT NOT NULL,
            put_timestamp TEXT NOT NULL DEFAULT '0',
            delete_timestamp TEXT NOT NULL DEFAULT '0',
            status TEXT NOT NULL DEFAULT '',
            status_changed_at TEXT NOT NULL DEFAULT '0',
            object_count INTEGER NOT NULL DEFAULT 0,
            bytes_used INTEGER NOT NULL DEFAULT 0,
            metadata TEXT NOT NULL DEFAULT '',
            storage_policy_index INTEGER NOT NULL DEFAULT 0,
            id TEXT NOT NULL
        );",
    )?;
    let now = Timestamp::now().internal();
    tx.execute(
        "INSERT INTO container_stat (account, container, created_at, put_timestamp,
             status_changed_at, storage_policy_index, id)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
        rusqlite::params![
            account,
            container,
            now,
            put_timestamp.internal(),
            policy_index,
            new_id()
        ],
    )?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

/// Creates an account database's tables and stat row.
pub fn init_account(tx: &Transaction<'_>, account: &str, put_timestamp: Timestamp) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE container (
            deleted INTEGER NOT NULL,
            name TEXT NOT NULL,
            put_timestamp TEXT NOT NULL,
            delete_timestamp TEXT NOT NULL,
            object_count INTEGER NOT NULL,
            bytes_used INTEGER NOT NULL,
            storage_policy_index INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (deleted, name)
        ) WITHOUT ROWID;
        CREATE TABLE account_stat (
            account TEXT NOT NULL,
            created_at TEXT NOT NULL,
            put_timestamp TEXT NOT NULL DEFAULT '0',
            delete_timestamp TEXT NOT NULL DEFAULT '0',
            status TEXT NOT NULL DEFAULT '',
            status_changed_at TEXT NOT NULL DEFAULT '0',
            container_count INTEGER NOT NULL DEFAULT 0,
            object_count INTEGER NOT NULL DEFAULT 0,
            bytes_used INTEGER NOT NULL DEFAULT 0,
            metadata TEXT NOT NULL DEFAULT '',
            id TEXT NOT NULL
        );
        CREATE TABLE policy_stat (
            storage_policy_index INTEGER PRIMARY KEY,
            container_count INTEGER NOT NULL DEFAULT 0,
            object_count INTEGER NOT NULL DEFAULT 0,
            bytes_used INTEGER NOT NULL DEFAULT 0
        );",
    )?;
    let now = Timestamp::now().internal();
    tx.execute(
        "INSERT INTO account_stat (account, created_at, put_timestamp, status_changed_at, id)
         VALUES (?1, ?2, ?3, ?3, ?4)",
        rusqlite::params![account, now, put_timestamp.internal(), new_id()],
    )?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

/// Creates `dir` and any missing ancestors, fsyncing each parent whose
/// entries changed, so the new directories survive a crash.
pub fn make_dirs_durable(dir: &Path) -> io::Result<()> {
    let mut missing: Vec<PathBuf> = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || d.is_dir() {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    for d in missing.iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => {
                if let Some(parent) = d.parent() {
                    if !parent.as_os_str().is_empty() {
                        fsync_dir(parent)?;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Makes the entries of `dir` (creations, renames) durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf() -> HashConf {
        HashConf {
            prefix: String::new(),
            suffix: "changeme".into(),
        }
    }

    #[test]
    fn paths_follow_swift_layout() {
        let root = Path::new("/srv/node/sda");
        let a = DbLocation::new(root, &conf(), 10, "a", None).expect("location");
        // hash_path('a') with suffix 'changeme' = b8ea67c4…, partition 739.
        assert_eq!(
            a.path,
            Path::new(
                "/srv/node/sda/accounts/739/8a8/b8ea67c480b33ac40c79510c7df2b8a8/b8ea67c480b33ac40c79510c7df2b8a8.db"
            )
        );
        let c = DbLocation::new(root, &conf(), 10, "a", Some("c")).expect("location");
        assert_eq!(
            c.path,
            Path::new(
                "/srv/node/sda/containers/931/85f/e8fbcd486a77117e2cd3398aa1f9485f/e8fbcd486a77117e2cd3398aa1f9485f.db"
            )
        );
        assert_eq!(c.kind, DbKind::Container);
        assert!(matches!(
            DbLocation::new(root, &conf(), 10, "", None),
            Err(DbError::InvalidName(_))
        ));
        assert!(matches!(
            DbLocation::new(root, &conf(), 10, "a", Some("x\0y")),
            Err(DbError::InvalidName(_))
        ));
    }

    #[test]
    fn open_creates_dirs_and_uses_wal() {
        let tmp = tempfile::TempDir::new().expect("tempdir");
        let path = tmp.path().join("x/y/z/t.db");
        assert!(open(&path, false).expect("open").is_none());
        let conn = open(&path, true).expect("open").expect("created");
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(sync, 2, "synchronous=FULL");
        assert_eq!(version(&conn, &path).expect("version"), 0);
    }
}
