//! The async API the servers call. Each method sends one job (two or three
//! for container PUT/DELETE, which also touch the account) to the owning
//! pool thread and awaits the reply; nothing here blocks the caller's
//! thread. Names are taken as given (callers validate them as Swift does);
//! empty names and NUL bytes are refused with [`DbError::InvalidName`].

use std::sync::Arc;

use crate::common::timestamp::Timestamp;

use super::listing::{ListItem, ListParams};
use super::pool::DbPool;
use super::schema::{self, DbLocation};
use super::worker::{Msg, Worker};
use super::{account, container};
use super::{
    AccountInfo, AccountState, ContainerEntry, ContainerInfo, ContainerPolicy, ContainerReport,
    CreateOutcome, DbError, DeleteOutcome, ObjectEntry, ObjectUpdate, Result, UpdateOutcome,
};

/// Account info from the owning thread, `None` when the file is missing.
fn account_info_on(w: &mut Worker, db: &DbLocation) -> Result<Option<AccountInfo>> {
    match w.conn(&db.path, false)? {
        Some(conn) => account::info(conn),
        None => Ok(None),
    }
}

/// Container info from the owning thread, `None` when the file is missing.
fn container_info_on(w: &mut Worker, db: &DbLocation) -> Result<Option<ContainerInfo>> {
    match w.conn(&db.path, false)? {
        Some(conn) => container::info(conn),
        None => Ok(None),
    }
}

/// Makes a just-created database file's directory entry durable.
fn sync_new_file(db: &DbLocation, fresh: bool) -> Result<()> {
    if fresh {
        if let Some(dir) = db.path.parent() {
            schema::fsync_dir(dir)?;
        }
    }
    Ok(())
}

impl DbPool {
    // ----- accounts -------------------------------------------------------

    /// The account's stat row; `None` when it was never created or is
    /// deleted (use [`DbPool::account_state`] to tell those apart).
    pub async fn account_info(&self, account: &str) -> Result<Option<AccountInfo>> {
        Ok(match self.account_state(account).await? {
            AccountState::Active(info) => Some(info),
            AccountState::Missing | AccountState::Deleted(_) => None,
        })
    }

    /// Whether the account is missing, deleted or live, with its stat row.
    pub async fn account_state(&self, account: &str) -> Result<AccountState> {
        let db = Arc::new(self.locate(account, None)?);
        let d = db.clone();
        let info = self.call(&db, move |w| account_info_on(w, &d)).await?;
        Ok(match info {
            None => AccountState::Missing,
            Some(i) if i.deleted => AccountState::Deleted(i),
            Some(i) => AccountState::Active(i),
        })
    }

    /// Account PUT with no metadata (also what autocreate does).
    pub async fn create_account(&self, account: &str, ts: Timestamp) -> Result<CreateOutcome> {
        self.create_account_with_metadata(account, ts, Vec::new())
            .await
    }

    /// Account PUT: `Created` (201) for a new account, `Accepted` (202) when
    /// it exists (metadata applied), `RecentlyDeleted` (403) after an
    /// account DELETE, `Conflict` (409) when `ts` is older than a delete.
    pub async fn create_account_with_metadata(
        &self,
        account: &str,
        ts: Timestamp,
        metadata: Vec<(String, String)>,
    ) -> Result<CreateOutcome> {
        let db = Arc::new(self.locate(account, None)?);
        let d = db.clone();
        self.call(&db, move |w| {
            let fresh = !d.path.exists();
            let conn = w.conn(&d.path, true)?.ok_or(DbError::NotFound)?;
            let (outcome, _) = account::create(conn, &d.account, ts, &metadata)?;
            sync_new_file(&d, fresh)?;
            Ok(outcome)
        })
        .await
    }

    /// Account POST: merges metadata set at `ts` (an empty value removes the
    /// key; per key, the newest timestamp wins). `NotFound` when the account
    /// is missing or deleted.
    pub async fn update_account_metadata(
        &self,
        account: &str,
        ts: Timestamp,
        updates: Vec<(String, String)>,
    ) -> Result<AccountInfo> {
        let db = Arc::new(self.locate(account, None)?);
        let d = db.clone();
        self.call(&db, move |w| {
            let conn = w.conn(&d.path, false)?.ok_or(DbError::NotFound)?;
            account::update_metadata(conn, ts, &updates)
        })
        .await
    }

    /// Account DELETE: `Deleted` (204) or `NotFound` (404, also when
    /// already deleted). Containers are left for a reaper, as in Swift.
    pub async fn delete_account(&self, account: &str, ts: Timestamp) -> Result<DeleteOutcome> {
        let db = Arc::new(self.locate(account, None)?);
        let d = db.clone();
        self.call(&db, move |w| match w.conn(&d.path, false)? {
            Some(conn) => account::delete(conn, ts),
            None => Ok(DeleteOutcome::NotFound),
        })
        .await
    }

    /// The account's containers (Swift's account GET). `NotFound` when the
    /// account is missing or deleted.
    pub async fn list_containers(
        &self,
        account: &str,
        params: &ListParams,
    ) -> Result<Vec<ListItem<ContainerEntry>>> {
        match self.account_listing(account, params).await? {
            Some((_, items)) => Ok(items),
            None => Err(DbError::NotFound),
        }
    }

    /// The account's stat row and containers in one trip; `None` when the
    /// account is missing or deleted.
    pub async fn account_listing(
        &self,
        account: &str,
        params: &ListParams,
    ) -> Result<Option<(AccountInfo, Vec<ListItem<ContainerEntry>>)>> {
        let db = Arc::new(self.locate(account, None)?);
        let d = db.clone();
        let params = params.clone();
        self.call(&db, move |w| {
            let Some(conn) = w.conn(&d.path, false)? else {
                return Ok(None);
            };
            match account::info(conn)? {
                Some(info) if !info.deleted => Ok(Some((info, account::list(conn, &params)?))),
                _ => Ok(None),
            }
        })
        .await
    }

    /// Records a container's state in its account (Swift's container →
    /// account `PUT /a/c`, for updates arriving from other nodes). Applied
    /// even to a deleted account (as with `X-Account-Override-Deleted`);
    /// `AccountNotFound` when the account database does not exist.
    pub async fn report_container(&self, account: &str, report: ContainerReport) -> Result<()> {
        let db = Arc::new(self.locate(account, None)?);
        let (tx, rx) = flume::bounded(1);
        self.send(
            &db,
            Msg::Report {
                db: db.clone(),
                report,
                reply: Some(tx),
            },
        )?;
        rx.recv_async().await.map_err(|_| DbError::Closed)?
    }

    // ----- containers -----------------------------------------------------

    /// Container PUT. `Created` (201) for a new or previously deleted
    /// container, `Accepted` (202) when it exists (its put timestamp and
    /// metadata are updated), `Conflict` (409) when `ts` is older than its
    /// delete, `PolicyConflict(existing)` (409) for an explicit policy that
    /// differs from a live container's. On Created/Accepted the container
    /// is recorded in the account before this returns.
    /// `AccountNotFound` when the account is missing or deleted (create it
    /// first when autocreating).
    pub async fn create_container(
        &self,
        account: &str,
        container: &str,
        ts: Timestamp,
        metadata: Vec<(String, String)>,
        policy: ContainerPolicy,
    ) -> Result<CreateOutcome> {
        self.create_container_in(account, container, ts, metadata, policy, true)
            .await
    }

    /// Container PUT, with `link_account` false as a container server of
    /// a cluster does it: the account lives on the account ring's nodes,
    /// not necessarily here, so nothing is checked or recorded in a local
    /// account (the caller sends the account update where the proxy said).
    /// With it true, [`DbPool::create_container`].
    pub async fn create_container_in(
        &self,
        account: &str,
        container: &str,
        ts: Timestamp,
        metadata: Vec<(String, String)>,
        policy: ContainerPolicy,
        link_account: bool,
    ) -> Result<CreateOutcome> {
        let db = Arc::new(self.locate(account, Some(container))?);
        if link_account {
            self.check_account_alive(account).await?;
        }
        let d = db.clone();
        let (outcome, account_reply) = self
            .call(&db, move |w| {
                let fresh = !d.path.exists();
                let conn = w.conn(&d.path, true)?.ok_or(DbError::NotFound)?;
                let (outcome, info) = container::create(conn, &d, ts, policy, &metadata)?;
                sync_new_file(&d, fresh)?;
                let reply = match outcome {
                    CreateOutcome::Created | CreateOutcome::Accepted if link_account => {
                        let (tx, rx) = flume::bounded(1);
                        w.report_now(&d, container::report(&info), Some(tx))?;
                        Some(rx)
                    }
                    _ => None,
                };
                Ok((outcome, reply))
            })
            .await?;
        if let Some(rx) = account_reply {
            self.await_account(rx, account).await?;
        }
        Ok(outcome)
    }

    /// A container's state as its account should record it, deleted or
    /// not; `None` when there is no database.
    pub async fn container_report(
        &self,
        account: &str,
        container: &str,
    ) -> Result<Option<ContainerReport>> {
        let info = self.container_row(account, container).await?;
        Ok(info.as_ref().map(container::report))
    }

    /// The container's stat row, deleted or not.
    async fn container_row(&self, account: &str, container: &str) -> Result<Option<ContainerInfo>> {
        let db = Arc::new(self.locate(account, Some(container))?);
        let d = db.clone();
        self.call(&db, move |w| container_info_on(w, &d)).await
    }

    /// Every container database of this device with the state its account
    /// should record: the container updater's sweep, which sends them to
    /// the account servers in a cluster. Walks the directory tree (blocking
    /// I/O; the sweep runs on its own thread).
    pub async fn container_reports(&self) -> Result<Vec<(String, ContainerReport)>> {
        let root = self.root().join("containers");
        let mut out = Vec::new();
        for path in db_files(&root)? {
            let Some(hash) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(parse_hash)
            else {
                continue;
            };
            let db = Arc::new(DbLocation {
                kind: schema::DbKind::Container,
                path,
                hash,
                partition: 0,
                account: String::new(),
                container: None,
            });
            let d = db.clone();
            if let Some(info) = self.call(&db, move |w| container_info_on(w, &d)).await? {
                out.push((info.account.clone(), container::report(&info)));
            }
        }
        Ok(out)
    }

    async fn check_account_alive(&self, account: &str) -> Result<()> {
        let account_db = Arc::new(self.locate(account, None)?);
        let a = account_db.clone();
        let alive = self
            .call(&account_db, move |w| {
                Ok(account_info_on(w, &a)?.is_some_and(|i| !i.deleted))
            })
            .await?;
        if !alive {
            return Err(DbError::AccountNotFound);
        }
        Ok(())
    }

    /// Waits for an account row update; as in Swift, only a missing
    /// account fails the container request, other failures are logged (a
    /// later report repairs the row).
    async fn await_account(&self, rx: flume::Receiver<Result<()>>, account: &str) -> Result<()> {
        match rx.recv_async().await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(DbError::AccountNotFound)) => Err(DbError::AccountNotFound),
            Ok(Err(e)) => {
                tracing::warn!(account, "account update failed: {e}");
                Ok(())
            }
            Err(_) => Err(DbError::Closed),
        }
    }

    /// The container's stat row; `None` when missing or deleted.
    pub async fn container_info(
        &self,
        account: &str,
        container: &str,
    ) -> Result<Option<ContainerInfo>> {
        let info = self.container_row(account, container).await?;
        Ok(info.filter(|i| !i.deleted))
    }

    /// Container POST: merges metadata set at `ts`. `NotFound` when the
    /// container is missing or deleted.
    pub async fn update_container_metadata(
        &self,
        account: &str,
        container: &str,
        ts: Timestamp,
        updates: Vec<(String, String)>,
    ) -> Result<ContainerInfo> {
        let db = Arc::new(self.locate(account, Some(container))?);
        let d = db.clone();
        self.call(&db, move |w| {
            let conn = w.conn(&d.path, false)?.ok_or(DbError::NotFound)?;
            container::update_metadata(conn, ts, &updates)
        })
        .await
    }

    /// Container DELETE: `Deleted` (204), `NotFound` (404: missing or
    /// already deleted), `NotEmpty` (409: objects remain), `Conflict` (409:
    /// `ts` older than its PUT). The account row is updated before this
    /// returns.
    pub async fn delete_container(
        &self,
        account: &str,
        container: &str,
        ts: Timestamp,
    ) -> Result<DeleteOutcome> {
        let db = Arc::new(self.locate(account, Some(container))?);
        let d = db.clone();
        let (outcome, account_reply) = self
            .call(&db, move |w| {
                let Some(conn) = w.conn(&d.path, false)? else {
                    return Ok((DeleteOutcome::NotFound, None));
                };
                if container::info(conn)?.is_none() {
                    return Ok((DeleteOutcome::NotFound, None));
                }
                let (outcome, info) = container::delete(conn, ts)?;
                let reply = match outcome {
                    DeleteOutcome::Deleted | DeleteOutcome::NotFound => {
                        let (tx, rx) = flume::bounded(1);
                        w.report_now(&d, container::report(&info), Some(tx))?;
                        Some(rx)
                    }
                    _ => None,
                };
                Ok((outcome, reply))
            })
            .await?;
        if let Some(rx) = account_reply {
            // The container is gone either way; an account that vanished
            // meanwhile changes nothing for the client.
            if let Err(e) = self.await_account(rx, account).await {
                tracing::debug!(account, "account update after container delete: {e}");
            }
        }
        Ok(outcome)
    }

    /// Records an object PUT/DELETE in the container listing (batched with
    /// other updates to the same container; returns after the durable
    /// commit). `Stale` when the row already has a timestamp at least as
    /// new. `NotFound` (Swift: 404) when the container database does not
    /// exist; like Swift, a deleted-but-present container accepts updates.
    pub async fn update_object(
        &self,
        account: &str,
        container: &str,
        update: ObjectUpdate,
    ) -> Result<UpdateOutcome> {
        let db = Arc::new(self.locate(account, Some(container))?);
        let (tx, rx) = flume::bounded(1);
        self.send(
            &db,
            Msg::Object {
                db: db.clone(),
                update,
                reply: tx,
            },
        )?;
        rx.recv_async().await.map_err(|_| DbError::Closed)?
    }

    /// The container's objects (Swift's container GET). `NotFound` when the
    /// container is missing or deleted.
    pub async fn list_objects(
        &self,
        account: &str,
        container: &str,
        params: &ListParams,
    ) -> Result<Vec<ListItem<ObjectEntry>>> {
        match self.container_listing(account, container, params).await? {
            Some((_, items)) => Ok(items),
            None => Err(DbError::NotFound),
        }
    }

    /// The container's stat row and objects in one trip; `None` when the
    /// container is missing or deleted.
    pub async fn container_listing(
        &self,
        account: &str,
        container: &str,
        params: &ListParams,
    ) -> Result<Option<(ContainerInfo, Vec<ListItem<ObjectEntry>>)>> {
        let db = Arc::new(self.locate(account, Some(container))?);
        let d = db.clone();
        let params = params.clone();
        self.call(&db, move |w| {
            let Some(conn) = w.conn(&d.path, false)? else {
                return Ok(None);
            };
            match container::info(conn)? {
                Some(info) if !info.deleted => Ok(Some((info, container::list(conn, &params)?))),
                _ => Ok(None),
            }
        })
        .await
    }
}

/// The `.db` files under `root` (`<part>/<suffix>/<hash>/<hash>.db`).
fn db_files(root: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(DbError::Other(format!("{}: {e}", dir.display()))),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if depth < 3 && path.is_dir() {
                stack.push((path, depth + 1));
            } else if depth == 3 && path.extension().is_some_and(|x| x == "db") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A 32-digit hex path hash.
fn parse_hash(hex: &str) -> Option<[u8; 16]> {
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
