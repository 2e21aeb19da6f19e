//! Container updates: after an object write, the object server tells the
//! container listing about it through [`ContainerUpdater`], an interface it
//! defines and the wiring fills (an in-process database call, or HTTP to a
//! remote container server). When the update cannot be made, it is written
//! durably to `async_pending/` and retried by the updater.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// What a container listing must learn about one object write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerUpdate {
    /// Account.
    pub account: String,
    /// Container.
    pub container: String,
    /// Object name.
    pub object: String,
    /// The write's timestamp (internal form).
    pub timestamp: String,
    /// Body size (0 for deletes).
    pub size: u64,
    /// Content type.
    pub content_type: String,
    /// ETag.
    pub etag: String,
    /// A delete rather than a put.
    pub deleted: bool,
    /// The storage policy holding the object (0 in updates queued before
    /// policies existed).
    #[serde(default)]
    pub policy_index: u32,
    /// The container servers to tell (from the proxy's
    /// `X-Container-Host/Partition/Device`); empty: this node's own
    /// container databases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<UpdateTarget>,
}

/// One container server an update goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateTarget {
    /// `ip:port` of its backend listener.
    pub host: String,
    /// The container's partition.
    pub partition: String,
    /// The device holding the container.
    pub device: String,
}

/// The container servers an object request names: Swift's proxy sends
/// comma-separated `X-Container-Host` and `X-Container-Device` lists with
/// one `X-Container-Partition`.
pub fn update_targets(headers: &crate::http::Headers) -> Vec<UpdateTarget> {
    targets_named(headers, "container")
}

/// The `server` (`container` or `account`) servers a backend request
/// names in its `X-<Server>-Host/-Device` lists and `X-<Server>-Partition`.
pub fn targets_named(headers: &crate::http::Headers, server: &str) -> Vec<UpdateTarget> {
    let (Some(hosts), Some(devices), Some(part)) = (
        headers.get(&format!("x-{server}-host")),
        headers.get(&format!("x-{server}-device")),
        headers.get(&format!("x-{server}-partition")),
    ) else {
        return Vec::new();
    };
    hosts
        .split(',')
        .zip(devices.split(','))
        .map(|(h, d)| UpdateTarget {
            host: h.trim().to_string(),
            partition: part.trim().to_string(),
            device: d.trim().to_string(),
        })
        .filter(|t| !t.host.is_empty() && !t.device.is_empty())
        .collect()
}

/// Why an update was not applied.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The container no longer exists: nothing to update, nothing to retry.
    #[error("container not found")]
    NoContainer,
    /// Anything else; the update is kept and retried.
    #[error("container update failed: {0}")]
    Failed(String),
}

/// A boxed future, so the updater can be a trait object.
pub type UpdateFuture<'a> = Pin<Box<dyn Future<Output = Result<(), UpdateError>> + 'a>>;

/// Delivers container updates.
pub trait ContainerUpdater {
    /// Applies `update`, resolving once it is durable in the listing.
    fn update<'a>(&'a self, update: &'a ContainerUpdate) -> UpdateFuture<'a>;
}

/// The async-pending directory of a device.
pub fn pending_dir(device_root: &Path) -> PathBuf {
    device_root.join("async_pending")
}

/// Writes `update` durably under `async_pending/<suffix>/<hash>-<timestamp>`
/// (blocking I/O: this is the rare failure path, not the data path).
pub fn save_pending(
    device_root: &Path,
    hash: &str,
    update: &ContainerUpdate,
) -> io::Result<PathBuf> {
    let suffix = &hash[hash.len().saturating_sub(3)..];
    let dir = pending_dir(device_root).join(suffix);
    std::fs::create_dir_all(&dir)?;
    let name = format!("{hash}-{}", update.timestamp);
    let tmp = device_root.join("tmp").join(format!("{name}.pending.tmp"));
    write_durably(&dir, &tmp, &name, update)
}

/// Writes `value` as JSON to `tmp`, renames it to `dir/name` and syncs
/// file and directory, so a pending update is either whole or absent.
pub fn write_durably(
    dir: &Path,
    tmp: &Path,
    name: &str,
    value: &impl Serialize,
) -> io::Result<PathBuf> {
    use std::io::Write;
    let body = serde_json::to_vec(value).map_err(io::Error::other)?;
    {
        let mut f = std::fs::File::create(tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
    }
    let target = dir.join(name);
    std::fs::rename(tmp, &target)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(target)
}

/// Every pending update under a device, oldest name first.
pub fn list_pending(device_root: &Path) -> io::Result<Vec<(PathBuf, ContainerUpdate)>> {
    let root = pending_dir(device_root);
    let mut out = Vec::new();
    let suffixes = match std::fs::read_dir(&root) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for suffix in suffixes {
        let suffix = suffix?;
        if !suffix.file_type()?.is_dir() {
            continue;
        }
        out.extend(read_pending_dir(&suffix.path())?);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The pending updates in one directory (names starting with `.` are
/// writes in progress); an unreadable one is logged and skipped so it
/// does not hold up the rest.
pub fn read_pending_dir<T: DeserializeOwned>(dir: &Path) -> io::Result<Vec<(PathBuf, T)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| n.starts_with('.'))
        {
            continue;
        }
        match std::fs::read(&path).map(|b| serde_json::from_slice::<T>(&b)) {
            Ok(Ok(u)) => out.push((path, u)),
            Ok(Err(e)) => tracing::warn!(path = %path.display(), "unreadable async pending: {e}"),
            Err(e) => tracing::warn!(path = %path.display(), "reading async pending: {e}"),
        }
    }
    Ok(out)
}

/// Applies every pending update once; returns (applied, still pending).
pub async fn run_pending(
    device_root: &Path,
    updater: &dyn ContainerUpdater,
) -> io::Result<(usize, usize)> {
    apply_pending(list_pending(device_root)?, async |u| {
        updater.update(u).await
    })
    .await
}

/// Tries each pending update with `apply`: removes those applied (or
/// moot: their container or account is gone) and keeps the rest for the
/// next pass; returns (applied, still pending).
pub async fn apply_pending<T>(
    pending: Vec<(PathBuf, T)>,
    mut apply: impl AsyncFnMut(&T) -> Result<(), UpdateError>,
) -> io::Result<(usize, usize)> {
    let (mut applied, mut left) = (0, 0);
    for (path, update) in pending {
        match apply(&update).await {
            Ok(()) | Err(UpdateError::NoContainer) => {
                std::fs::remove_file(&path)?;
                applied += 1;
            }
            Err(UpdateError::Failed(e)) => {
                tracing::debug!(path = %path.display(), "async pending still failing: {e}");
                left += 1;
            }
        }
    }
    Ok((applied, left))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    struct Flaky {
        fail: Cell<bool>,
        seen: Cell<usize>,
    }

    impl ContainerUpdater for Flaky {
        fn update<'a>(&'a self, _u: &'a ContainerUpdate) -> UpdateFuture<'a> {
            Box::pin(async move {
                self.seen.set(self.seen.get() + 1);
                if self.fail.get() {
                    Err(UpdateError::Failed("down".into()))
                } else {
                    Ok(())
                }
            })
        }
    }

    fn sample(ts: &str) -> ContainerUpdate {
        ContainerUpdate {
            account: "AUTH_test".into(),
            container: "c".into(),
            object: "o/ü".into(),
            timestamp: ts.into(),
            size: 5,
            content_type: "text/plain".into(),
            etag: "e".into(),
            deleted: false,
            policy_index: 0,
            targets: Vec::new(),
        }
    }

    #[test]
    fn targets_come_from_the_proxy_headers() {
        for server in ["container", "account"] {
            let mut h = crate::http::Headers::new();
            assert!(targets_named(&h, server).is_empty());
            h.set(format!("X-{server}-Host"), "10.0.0.1:6201,10.0.0.2:6201");
            h.set(format!("X-{server}-Device"), "sda,sdb");
            h.set(format!("X-{server}-Partition"), "7");
            let t = targets_named(&h, server);
            assert_eq!(t.len(), 2);
            assert_eq!(
                (
                    t[1].host.as_str(),
                    t[1].device.as_str(),
                    t[1].partition.as_str()
                ),
                ("10.0.0.2:6201", "sdb", "7")
            );
            assert_eq!(update_targets(&h).is_empty(), server != "container");
        }
    }

    #[test]
    fn pending_updates_survive_until_applied() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp");
        save_pending(dir.path(), "abcdef0123", &sample("0000000001.00000")).expect("save");
        save_pending(dir.path(), "abcdef0123", &sample("0000000002.00000")).expect("save");
        let listed = list_pending(dir.path()).expect("list");
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].1, sample("0000000001.00000"));
        let up = Flaky {
            fail: Cell::new(true),
            seen: Cell::new(0),
        };
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .expect("rt");
        let r = rt.block_on(run_pending(dir.path(), &up)).expect("run");
        assert_eq!(r, (0, 2));
        up.fail.set(false);
        let r = rt.block_on(run_pending(dir.path(), &up)).expect("run");
        assert_eq!(r, (2, 0));
        assert!(list_pending(dir.path()).expect("list").is_empty());
        assert_eq!(up.seen.get(), 4);
    }
}
