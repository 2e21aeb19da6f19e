//! Swift's container-updater for a cluster node: each pass reads every
//! container database of a device and sends those whose state changed
//! since last reported (object count, bytes, put or delete time) to the
//! replicas of their account in the account ring. Object writes update
//! only container databases; this is how their totals reach account
//! listings. What was reported is remembered in memory, so a restart
//! re-sends every container once (harmless: account rows merge by time),
//! and a container whose replicas did not all accept it is sent again
//! next pass. Only databases on one of the container's primaries speak
//! for it: a handoff copy (made while a primary was down) never received
//! the object updates meant for that primary, and with no replicator to
//! fold it in, its totals would overwrite the primaries' in the account.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::db::{ContainerReport, DbPool};
use crate::obj::updates::{UpdateError, UpdateTarget};
use crate::proxy::backend::ClusterRings;
use crate::runtime::shutdown::ShutdownFlag;

use super::account_update::AccountUpdate;
use super::updater::ClusterUpdater;

/// One device's sweep state.
struct Sweep {
    device: String,
    db: DbPool,
    rings: Arc<ClusterRings>,
    updater: Rc<ClusterUpdater>,
    reported: RefCell<HashMap<(String, String), ContainerReport>>,
}

impl Sweep {
    /// The account's replicas in the account ring.
    fn targets(&self, account: &str) -> Vec<UpdateTarget> {
        let Some(ring) = &self.rings.account else {
            return Vec::new();
        };
        let ring = ring.get();
        let Ok((part, devs)) = ring.get_nodes(account, None, None) else {
            return Vec::new();
        };
        devs.iter()
            .map(|d| UpdateTarget {
                host: d.host_port(),
                partition: part.to_string(),
                device: d.device.clone(),
            })
            .collect()
    }

    /// Whether this device is one of the container's primaries.
    fn is_primary(&self, account: &str, container: &str) -> bool {
        let Some(ring) = &self.rings.container else {
            return false;
        };
        let ring = ring.get();
        let Ok((_, devs)) = ring.get_nodes(account, Some(container), None) else {
            return false;
        };
        devs.iter()
            .any(|d| d.device == self.device && self.rings.is_mine(d))
    }

    /// One pass; returns (sent, still failing).
    async fn pass(&self) -> (usize, usize) {
        let reports = match self.db.container_reports().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("container updater: {e}");
                return (0, 0);
            }
        };
        let (mut sent, mut failing) = (0, 0);
        for (account, report) in reports {
            let key = (account.clone(), report.name.clone());
            let unchanged = self.reported.borrow().get(&key) == Some(&report);
            if unchanged || !self.is_primary(&account, &report.name) {
                continue;
            }
            let targets = self.targets(&account);
            if targets.is_empty() {
                continue;
            }
            let u = AccountUpdate::new(&account, &report, targets);
            match self.updater.update_account(&u).await {
                // An account no replica has is not retried (as Swift).
                Ok(()) | Err(UpdateError::NoContainer) => {
                    self.reported.borrow_mut().insert(key, report);
                    sent += 1;
                }
                Err(UpdateError::Failed(e)) => {
                    tracing::debug!(%account, container = %report.name, "container updater: {e}");
                    failing += 1;
                }
            }
        }
        (sent, failing)
    }
}

/// Starts the container updater of one device: a pass every `interval`
/// until `flag` is set. `make_updater` runs on the new thread.
pub fn spawn<F>(
    device: String,
    db: DbPool,
    device_root: PathBuf,
    rings: Arc<ClusterRings>,
    interval: Duration,
    flag: ShutdownFlag,
    make_updater: F,
) -> std::io::Result<std::thread::JoinHandle<()>>
where
    F: FnOnce() -> Rc<ClusterUpdater> + Send + 'static,
{
    let tick = Duration::from_millis(100);
    crate::daemons::spawn_paced("container-updater", interval, tick, flag, move || {
        let sweep = Rc::new(Sweep {
            device,
            db,
            rings,
            updater: make_updater(),
            reported: RefCell::new(HashMap::new()),
        });
        move || {
            let (sweep, root) = (sweep.clone(), device_root.clone());
            async move {
                let (sent, failing) = sweep.pass().await;
                if sent + failing > 0 {
                    tracing::info!(device = %root.display(), sent, failing, "container updater pass");
                }
            }
        }
    })
}
