//! The expiry queue: one small file per (object, `X-Delete-At`) under the
//! device's `expiring/` directory, written durably before the PUT or POST
//! that set the expiry is acknowledged, and consumed by the expirer.
//!
//! Swift queues expiries as rows in containers of a hidden
//! `.expiring_objects` account; paco keeps them next to the objects on the
//! same device instead (no account/container round trip on the write path,
//! no hidden account to hide from listings), bucketed by hour so a pass
//! reads only the buckets that are due:
//!
//! `expiring/<hour>/<delete_at>-<hash>` holding
//! `{"account", "container", "object", "delete_at"}` as JSON.
//!
//! Entries are never updated in place: an object whose expiry changes or is
//! removed leaves its old entry behind, and the expirer's delete (guarded
//! by `X-If-Delete-At`, timestamped at the expiry) then finds nothing to do.

use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use monoio::fs::OpenOptions;

use super::hashed::fsync_dir;

use serde::{Deserialize, Serialize};

/// Seconds per bucket directory.
const BUCKET_SECS: i64 = 3600;

/// One queued expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiry {
    /// Account.
    pub account: String,
    /// Container.
    pub container: String,
    /// Object.
    pub object: String,
    /// When the object expires (seconds since the epoch).
    pub delete_at: i64,
    /// The storage policy holding the object (0 in entries written before
    /// policies existed).
    #[serde(default)]
    pub policy_index: u32,
}

/// The queue directory of a device.
pub fn queue_dir(device_root: &Path) -> PathBuf {
    device_root.join("expiring")
}

/// Records `e` for the object whose hash is `hash`, durably: the entry is
/// written to `tmp/`, synced, renamed into its bucket, and the bucket (and
/// the queue directory when the bucket is new) synced, all through the
/// runtime's file operations (io_uring), so the worker serves other
/// requests while the device flushes.
pub async fn record(device_root: &Path, hash: &str, e: &Expiry) -> io::Result<PathBuf> {
    let bucket = e.delete_at - e.delete_at.rem_euclid(BUCKET_SECS);
    let queue = queue_dir(device_root);
    let dir = queue.join(format!("{bucket:010}"));
    let name = format!("{:010}-{hash}", e.delete_at);
    let tmp_dir = device_root.join("tmp");
    ensure_dir(&tmp_dir).await?;
    let tmp = tmp_dir.join(format!("{name}.{}.expiring.tmp", rand::random::<u32>()));
    let body = serde_json::to_vec(e).map_err(io::Error::other)?;
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .await?;
    let (written, _) = f.write_all_at(body, 0).await;
    let synced = match written {
        Ok(()) => f.sync_all().await,
        Err(err) => Err(err),
    };
    let closed = f.close().await;
    if let Err(err) = synced.and(closed) {
        let _ = monoio::fs::remove_file(&tmp).await;
        return Err(err);
    }
    let queue_new = ensure_dir(&queue).await?;
    let bucket_new = ensure_dir(&dir).await?;
    let target = dir.join(name);
    if let Err(err) = monoio::fs::rename(&tmp, &target).await {
        let _ = monoio::fs::remove_file(&tmp).await;
        return Err(err);
    }
    fsync_dir(&dir).await?;
    if bucket_new {
        fsync_dir(&queue).await?;
    }
    if queue_new {
        fsync_dir(device_root).await?;
    }
    Ok(target)
}

/// Creates `dir` when missing (its parent must exist); whether it was new.
async fn ensure_dir(dir: &Path) -> io::Result<bool> {
    match monoio::fs::create_dir(dir).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Every entry due at `now`, oldest first, with its file.
pub fn due(device_root: &Path, now: i64) -> io::Result<Vec<(PathBuf, Expiry)>> {
    let root = queue_dir(device_root);
    let mut buckets: Vec<(i64, PathBuf)> = match std::fs::read_dir(&root) {
        Ok(d) => d
            .filter_map(Result::ok)
            .filter_map(|e| {
                let b = e.file_name().to_str()?.parse::<i64>().ok()?;
                Some((b, e.path()))
            })
            .filter(|(b, _)| *b <= now)
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    buckets.sort();
    let mut out = Vec::new();
    for (_, dir) in buckets {
        let mut names: Vec<(i64, PathBuf)> = std::fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name();
                let at = name.to_str()?.split('-').next()?.parse::<i64>().ok()?;
                Some((at, e.path()))
            })
            .filter(|(at, _)| *at <= now)
            .collect();
        names.sort();
        for (_, path) in names {
            match std::fs::read(&path).map(|b| serde_json::from_slice::<Expiry>(&b)) {
                Ok(Ok(e)) => out.push((path, e)),
                Ok(Err(err)) => {
                    tracing::warn!(path = %path.display(), "unreadable expiry entry, dropped: {err}");
                    let _ = std::fs::remove_file(&path);
                }
                Err(err) => tracing::warn!(path = %path.display(), "reading expiry entry: {err}"),
            }
        }
    }
    Ok(out)
}

/// Removes a handled entry, and its bucket when that is now empty.
pub fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        // Fails (harmlessly) while the bucket still has entries.
        let _ = std::fs::remove_dir(dir);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(obj: &str, at: i64) -> Expiry {
        Expiry {
            account: "AUTH_a".into(),
            container: "c".into(),
            object: obj.into(),
            delete_at: at,
            policy_index: 0,
        }
    }

    #[test]
    fn entries_come_due_in_order_and_go_away() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .build()
            .expect("rt");
        rt.block_on(async {
            // The last one twice (same object and expiry): one entry.
            for (hash, name, at) in [
                ("aaa", "late", 10_000),
                ("bbb", "early", 3_700),
                ("ccc", "now", 7_100),
                ("ccc", "now", 7_100),
            ] {
                record(dir.path(), hash, &e(name, at))
                    .await
                    .expect("record");
            }
        });
        // Nothing is left behind in tmp/.
        let tmp = std::fs::read_dir(dir.path().join("tmp")).expect("tmp");
        assert_eq!(tmp.count(), 0);
        let d = due(dir.path(), 7_200).expect("due");
        let names: Vec<&str> = d.iter().map(|(_, e)| e.object.as_str()).collect();
        assert_eq!(names, ["early", "now"]);
        for (p, _) in &d {
            remove(p).expect("remove");
        }
        assert!(due(dir.path(), 7_200).expect("due").is_empty());
        assert_eq!(due(dir.path(), 10_000).expect("due").len(), 1);
        assert!(due(tempfile::tempdir().expect("t").path(), 1)
            .expect("empty")
            .is_empty());
    }
}
