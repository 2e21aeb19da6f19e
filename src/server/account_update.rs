//! A container server's account updates: after a container PUT or DELETE
//! the container server tells the account servers the proxy named
//! (`X-Account-Host/-Partition/-Device`) the container's new state, as
//! Swift's container server does. An update that cannot be delivered is
//! kept durably under `async_pending_accounts/` and retried by the
//! updater; resending is harmless because account rows merge by
//! timestamp.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::common::hash::hash_hex;
use crate::common::timestamp::Timestamp;
use crate::db::{ContainerReport, DbError, DbPool};
use crate::http::Headers;
use crate::obj::updates::{
    apply_pending, read_pending_dir, targets_named, write_durably, UpdateError, UpdateTarget,
};
use crate::proxy::backend::remote::{backend_path, Peers};

use super::updater::{parse_partition, send_update, ClusterUpdater};

/// What an account must learn about one of its containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountUpdate {
    /// Account.
    pub account: String,
    /// Container.
    pub container: String,
    /// The container's put timestamp (internal form).
    pub put_timestamp: String,
    /// Its delete timestamp (internal form, `0` when never deleted).
    pub delete_timestamp: String,
    /// Its live objects.
    pub object_count: u64,
    /// Its bytes.
    pub bytes_used: u64,
    /// Its storage policy.
    pub policy_index: i64,
    /// The account servers to tell.
    pub targets: Vec<UpdateTarget>,
}

impl AccountUpdate {
    /// The update for `report`, to `targets`.
    pub fn new(account: &str, report: &ContainerReport, targets: Vec<UpdateTarget>) -> Self {
        AccountUpdate {
            account: account.to_string(),
            container: report.name.clone(),
            put_timestamp: report.put_timestamp.internal(),
            delete_timestamp: report.delete_timestamp.internal(),
            object_count: report.object_count,
            bytes_used: report.bytes_used,
            policy_index: report.storage_policy_index,
            targets,
        }
    }

    fn report(&self) -> Result<ContainerReport, UpdateError> {
        let ts = |v: &str| {
            Timestamp::parse(v).map_err(|e| UpdateError::Failed(format!("bad timestamp: {e}")))
        };
        Ok(ContainerReport {
            name: self.container.clone(),
            put_timestamp: ts(&self.put_timestamp)?,
            delete_timestamp: ts(&self.delete_timestamp)?,
            object_count: self.object_count,
            bytes_used: self.bytes_used,
            storage_policy_index: self.policy_index,
        })
    }
}

/// The account servers a container request names (Swift's proxy sends
/// comma-separated `X-Account-Host` and `X-Account-Device` lists with one
/// `X-Account-Partition`).
pub fn account_targets(headers: &Headers) -> Vec<UpdateTarget> {
    targets_named(headers, "account")
}

/// Applies `u` to this node's account database `db`.
pub(super) async fn local_account_update(
    db: &DbPool,
    u: &AccountUpdate,
) -> Result<(), UpdateError> {
    match db.report_container(&u.account, u.report()?).await {
        Ok(()) => Ok(()),
        Err(DbError::AccountNotFound | DbError::NotFound) => Err(UpdateError::NoContainer),
        Err(e) => Err(UpdateError::Failed(e.to_string())),
    }
}

/// Sends `u` to the account server `t` at `addr`.
pub(super) async fn remote_account_update(
    peers: &Peers,
    addr: SocketAddr,
    t: &UpdateTarget,
    u: &AccountUpdate,
) -> Result<(), UpdateError> {
    let part = parse_partition(&t.partition, "account")?;
    let path = backend_path(&t.device, part, &u.account, Some(&u.container), None);
    let mut h = Headers::new();
    h.set("X-Put-Timestamp", u.put_timestamp.clone());
    h.set("X-Delete-Timestamp", u.delete_timestamp.clone());
    h.set("X-Object-Count", u.object_count.to_string());
    h.set("X-Bytes-Used", u.bytes_used.to_string());
    h.set("X-Backend-Storage-Policy-Index", u.policy_index.to_string());
    h.set("X-Timestamp", Timestamp::now().internal());
    h.set(
        "User-Agent",
        format!("container-server {}", std::process::id()),
    );
    send_update(peers, addr, "PUT", &path, &h, "account").await
}

/// The directory of a device's undelivered account updates.
pub fn pending_dir(device_root: &Path) -> PathBuf {
    device_root.join("async_pending_accounts")
}

/// Keeps `u` durably for the updater (blocking I/O: the failure path).
pub fn save_pending(device_root: &Path, u: &AccountUpdate) -> io::Result<PathBuf> {
    let hash = hash_hex(&Md5::digest(format!("/{}/{}", u.account, u.container)).into());
    let dir = pending_dir(device_root);
    std::fs::create_dir_all(&dir)?;
    let name = format!("{hash}-{}-{}", u.put_timestamp, u.delete_timestamp);
    let tmp = dir.join(format!(".{name}.tmp"));
    write_durably(&dir, &tmp, &name, u)
}

/// Delivers `u`; an account server that cannot be reached leaves it in
/// `device_root`'s queue. Returns the delivery's outcome either way.
pub async fn send_or_queue(
    updater: &ClusterUpdater,
    device_root: &Path,
    u: &AccountUpdate,
) -> Result<(), UpdateError> {
    let res = updater.update_account(u).await;
    if let Err(UpdateError::Failed(e)) = &res {
        tracing::info!(account = %u.account, container = %u.container, "account update queued: {e}");
        if let Err(io) = save_pending(device_root, u) {
            tracing::error!("saving an account async pending: {io}");
        }
    }
    res
}

/// Applies every queued account update once; returns (applied, left).
pub async fn run_pending(
    device_root: &Path,
    updater: &ClusterUpdater,
) -> io::Result<(usize, usize)> {
    let pending: Vec<(PathBuf, AccountUpdate)> = match read_pending_dir(&pending_dir(device_root)) {
        Ok(mut p) => {
            p.sort_by(|a, b| a.0.cmp(&b.0));
            p
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(e),
    };
    apply_pending(pending, async |u| updater.update_account(u).await).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_round_trips() {
        let dir = tempfile::tempdir().expect("tmp");
        let report = ContainerReport {
            name: "c".into(),
            put_timestamp: Timestamp::from_secs(5),
            delete_timestamp: Timestamp::from_secs(0),
            object_count: 3,
            bytes_used: 9,
            storage_policy_index: 1,
        };
        let u = AccountUpdate::new("AUTH_a", &report, Vec::new());
        let p = save_pending(dir.path(), &u).expect("save");
        let back: AccountUpdate =
            serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json");
        assert_eq!(back, u);
        assert_eq!(back.report().expect("report"), report);
    }
}
