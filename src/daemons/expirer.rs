//! The object expirer (Swift's `object-expirer`): deletes objects whose
//! `X-Delete-At` has passed, which also takes them out of their container
//! listing, from the device's expiry queue ([`crate::obj::expiring`]).
//!
//! Each delete is timestamped at the expiry and guarded by
//! `X-If-Delete-At`, as Swift's are: an object rewritten after it expired
//! (newer timestamp: 409) or given another expiry (412) survives.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::common::timestamp::Timestamp;
use crate::http::{BodySource, Headers};
use crate::obj::expiring;
use crate::obj::server::{ObjRequest, ObjectServer};
use crate::runtime::shutdown::ShutdownFlag;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassStats {
    /// Objects deleted (or found already gone).
    pub deleted: usize,
    /// Entries dropped because the object changed since (rewritten, or
    /// given another expiry).
    pub skipped: usize,
    /// Entries kept for the next pass (the delete failed).
    pub failed: usize,
}

/// Deletes everything due at `now` under `device_root` through `objects`.
pub async fn run_pass(
    device_root: &Path,
    objects: &ObjectServer,
    now: i64,
) -> std::io::Result<PassStats> {
    let mut stats = PassStats::default();
    for (path, e) in expiring::due(device_root, now)? {
        let at = Timestamp::from_secs(e.delete_at);
        let mut headers = Headers::new();
        headers.set("X-Timestamp", at.internal());
        headers.set("X-If-Delete-At", e.delete_at.to_string());
        headers.set("X-Backend-Storage-Policy-Index", e.policy_index.to_string());
        let req = ObjRequest {
            method: "DELETE",
            account: &e.account,
            container: &e.container,
            object: &e.object,
            headers: &headers,
        };
        let resp = objects.handle(&req, &mut BodySource::Empty).await;
        match resp.status {
            // 404 also for a delete that removed an object already hidden
            // as expired, as in Swift.
            200..=299 | 404 => stats.deleted += 1,
            // Rewritten since (409), or its expiry changed (412).
            409 | 412 => stats.skipped += 1,
            s => {
                tracing::warn!(status = s, object = %e.object, "expirer delete failed, will retry");
                stats.failed += 1;
                continue;
            }
        }
        expiring::remove(&path)?;
    }
    Ok(stats)
}

/// Starts the expirer thread: a pass every `interval` until `flag` is set.
/// `make_server` runs on that thread (object servers are `!Send`).
pub fn spawn<F>(
    device_root: PathBuf,
    interval: Duration,
    flag: ShutdownFlag,
    make_server: F,
) -> std::io::Result<JoinHandle<()>>
where
    F: FnOnce() -> Rc<ObjectServer> + Send + 'static,
{
    let tick = Duration::from_millis(100).min(interval);
    super::spawn_paced("expirer", interval, tick, flag, move || {
        let objects = make_server();
        move || {
            let (device_root, objects) = (device_root.clone(), objects.clone());
            async move {
                let now = Timestamp::now().secs();
                match run_pass(&device_root, &objects, now).await {
                    Ok(s) if s == PassStats::default() => {}
                    Ok(s) => tracing::info!(
                        deleted = s.deleted,
                        skipped = s.skipped,
                        failed = s.failed,
                        "object expirer pass"
                    ),
                    Err(e) => tracing::warn!("object expirer: {e}"),
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::hash::HashConf;
    use crate::obj::hashed::HashedManager;

    fn server(root: &Path) -> ObjectServer {
        let conf = HashConf {
            prefix: String::new(),
            suffix: "s".into(),
        };
        let m = HashedManager::new(root.to_path_buf(), conf, 4).expect("manager");
        ObjectServer::new(Rc::new(m), 64 * 1024, 1 << 30)
    }

    async fn send(
        s: &ObjectServer,
        method: &str,
        obj: &str,
        h: &[(&str, String)],
        body: &[u8],
    ) -> u16 {
        let headers: Headers = h.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let req = ObjRequest {
            method,
            account: "AUTH_a",
            container: "c",
            object: obj,
            headers: &headers,
        };
        s.handle(&req, &mut BodySource::bytes(body.to_vec()))
            .await
            .status
    }

    #[test]
    fn expired_objects_go_and_newer_writes_survive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = server(dir.path());
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .expect("rt");
        // Times ahead of the clock, so nothing is expired for the object
        // server's own checks until the pass says so.
        let base = Timestamp::now().secs() + 10_000;
        let ts = |secs: i64| Timestamp::from_secs(base + secs).internal();
        rt.block_on(async {
            let put = |obj: &'static str, at: i64, delete_at: Option<i64>| {
                let mut h = vec![
                    ("X-Timestamp", ts(at)),
                    ("Content-Type", "text/plain".to_string()),
                    ("Content-Length", "2".to_string()),
                ];
                if let Some(d) = delete_at {
                    h.push(("X-Delete-At", (base + d).to_string()));
                }
                let s = &s;
                async move { send(s, "PUT", obj, &h, b"hi").await }
            };
            // expires at 1000 and nobody touches it: deleted.
            assert_eq!(put("gone", 900, Some(1000)).await, 201);
            // rewritten after its expiry, before the pass: the newer one stays.
            assert_eq!(put("rewritten", 900, Some(1000)).await, 201);
            assert_eq!(put("rewritten", 1001, None).await, 201);
            // expiry moved later by a POST: the old entry finds no match.
            assert_eq!(put("moved", 900, Some(1000)).await, 201);
            let h = [
                ("X-Timestamp", ts(950)),
                ("X-Delete-At", (base + 5000).to_string()),
            ];
            assert_eq!(send(&s, "POST", "moved", &h, b"").await, 202);
            let stats = run_pass(dir.path(), &s, base + 1500).await.expect("pass");
            assert_eq!(
                stats,
                PassStats {
                    deleted: 1,
                    skipped: 2,
                    failed: 0
                }
            );
            let head = [("X-Timestamp", ts(1500))];
            assert_eq!(send(&s, "HEAD", "gone", &head, b"").await, 404);
            assert_eq!(send(&s, "HEAD", "rewritten", &head, b"").await, 200);
            assert_eq!(send(&s, "HEAD", "moved", &head, b"").await, 200);
            // Handled entries are gone; the moved expiry waits for its time.
            assert_eq!(
                run_pass(dir.path(), &s, base + 1500).await.expect("pass"),
                PassStats::default()
            );
            assert_eq!(
                expiring::due(dir.path(), base + 5000).expect("due").len(),
                1
            );
        });
    }
}
