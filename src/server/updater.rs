//! Container updates sent where the proxy said: to this node's databases
//! when the named container server is this node (or none was named), to
//! another node's backend listener over HTTP otherwise — as Swift's object
//! server does with `X-Container-Host`. Any failure leaves the whole update
//! to the async-pending queue; resending is harmless because container
//! rows merge by timestamp.

use std::net::SocketAddr;
use std::rc::Rc;

use crate::db::{DbError, DbPool, ObjectUpdate};
use crate::http::Headers;
use crate::obj::updates::{ContainerUpdate, ContainerUpdater, UpdateError, UpdateFuture};
use crate::proxy::backend::remote::{backend_path, Peers};

use super::account_update::{local_account_update, remote_account_update, AccountUpdate};

/// Delivers container updates (and container servers' account updates)
/// to local databases and peer nodes.
pub struct ClusterUpdater {
    db: DbPool,
    peers: Option<Rc<Peers>>,
    me: Option<SocketAddr>,
    devices: Vec<(String, DbPool)>,
}

impl ClusterUpdater {
    /// Updates for this node's databases only.
    pub fn local(db: DbPool) -> Self {
        ClusterUpdater {
            db,
            peers: None,
            me: None,
            devices: Vec::new(),
        }
    }

    /// Updates for any node: `me` is this node's backend address and
    /// `devices` the databases of its devices (the first is where updates
    /// naming no container server go).
    pub fn clustered(devices: Vec<(String, DbPool)>, peers: Rc<Peers>, me: SocketAddr) -> Self {
        let db = devices
            .first()
            .map(|(_, db)| db.clone())
            .expect("a node serves at least one device");
        ClusterUpdater {
            db,
            peers: Some(peers),
            me: Some(me),
            devices,
        }
    }

    /// The databases of `device` at `host`, when that is this node.
    fn local_db(&self, host: SocketAddr, device: &str) -> Option<&DbPool> {
        if Some(host) != self.me {
            return None;
        }
        self.devices
            .iter()
            .find(|(name, _)| name == device)
            .map(|(_, db)| db)
    }

    /// Tells the account servers `u` names about a container's new state
    /// (Swift's container server `account_update`). `NoContainer` stands
    /// for "the account server has no such account" (Swift answers the
    /// container request 404 then); `Failed` when one could not be
    /// reached, for the caller to keep as an async pending.
    pub async fn update_account(&self, u: &AccountUpdate) -> Result<(), UpdateError> {
        // A node on its own keeps its accounts itself, as with container
        // updates.
        if self.peers.is_none() {
            return local_account_update(&self.db, u).await;
        }
        let mut failed = None;
        let mut gone = false;
        for t in &u.targets {
            let res = match t.host.parse::<SocketAddr>() {
                Ok(addr) => match (self.local_db(addr, &t.device), &self.peers) {
                    (Some(db), _) => local_account_update(db, u).await,
                    (None, Some(peers)) => remote_account_update(peers, addr, t, u).await,
                    (None, None) => Err(UpdateError::Failed("no peers".into())),
                },
                Err(_) => Err(UpdateError::Failed(format!("bad account host {}", t.host))),
            };
            match res {
                Ok(()) => {}
                Err(UpdateError::NoContainer) => gone = true,
                Err(e) => failed = Some(e),
            }
        }
        match failed {
            Some(e) => Err(e),
            None if gone => Err(UpdateError::NoContainer),
            None => Ok(()),
        }
    }

    async fn local_update(&self, db: &DbPool, u: &ContainerUpdate) -> Result<(), UpdateError> {
        let timestamp = crate::common::timestamp::Timestamp::parse(&u.timestamp)
            .map_err(|e| UpdateError::Failed(format!("bad timestamp: {e}")))?;
        let update = ObjectUpdate {
            name: u.object.clone(),
            timestamp,
            size: u.size,
            content_type: u.content_type.clone(),
            etag: u.etag.clone(),
            deleted: u.deleted,
            storage_policy_index: u.policy_index.into(),
        };
        match db.update_object(&u.account, &u.container, update).await {
            Ok(_) => Ok(()),
            Err(DbError::NotFound) => Err(UpdateError::NoContainer),
            Err(e) => Err(UpdateError::Failed(e.to_string())),
        }
    }

    async fn remote_update(
        &self,
        peers: &Peers,
        addr: SocketAddr,
        device: &str,
        partition: &str,
        u: &ContainerUpdate,
    ) -> Result<(), UpdateError> {
        let part = parse_partition(partition, "container")?;
        let path = backend_path(
            device,
            part,
            &u.account,
            Some(&u.container),
            Some(&u.object),
        );
        let mut h = Headers::new();
        h.set("X-Timestamp", u.timestamp.clone());
        h.set("X-Backend-Storage-Policy-Index", u.policy_index.to_string());
        h.set(
            "User-Agent",
            format!("object-server {}", std::process::id()),
        );
        let method = if u.deleted {
            "DELETE"
        } else {
            h.set("X-Size", u.size.to_string());
            h.set("X-Content-Type", u.content_type.clone());
            h.set("X-Etag", u.etag.clone());
            "PUT"
        };
        send_update(peers, addr, method, &path, &h, "container").await
    }

    async fn update_all(&self, u: &ContainerUpdate) -> Result<(), UpdateError> {
        let Some(peers) = &self.peers else {
            return self.local_update(&self.db, u).await;
        };
        if u.targets.is_empty() {
            return self.local_update(&self.db, u).await;
        }
        let mut failed = None;
        let mut gone = 0;
        for t in &u.targets {
            let addr: Option<SocketAddr> = t.host.parse().ok();
            let res = match addr {
                Some(a) if self.local_db(a, &t.device).is_some() => {
                    match self.local_db(a, &t.device) {
                        Some(db) => self.local_update(db, u).await,
                        None => Err(UpdateError::Failed("device vanished".into())),
                    }
                }
                Some(a) => {
                    self.remote_update(peers, a, &t.device, &t.partition, u)
                        .await
                }
                None => Err(UpdateError::Failed(format!(
                    "bad container host {}",
                    t.host
                ))),
            };
            match res {
                Ok(()) => {}
                Err(UpdateError::NoContainer) => gone += 1,
                Err(e) => failed = Some(e),
            }
        }
        match failed {
            Some(e) => Err(e),
            None if gone == u.targets.len() => Err(UpdateError::NoContainer),
            None => Ok(()),
        }
    }
}

/// The partition of an update target naming a `server` (`container` or
/// `account`) server.
pub(super) fn parse_partition(partition: &str, server: &str) -> Result<u32, UpdateError> {
    partition
        .parse()
        .map_err(|_| UpdateError::Failed(format!("bad {server} partition {partition}")))
}

/// Sends one update to the `server` (`container` or `account`) server at
/// `addr`: a 2xx is done, a 404 means there is nothing to update (no such
/// container or account), anything else is kept for a retry.
pub(super) async fn send_update(
    peers: &Peers,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &Headers,
    server: &str,
) -> Result<(), UpdateError> {
    match peers.request(addr, method, path, headers, &[]).await {
        Ok((head, _)) if (200..300).contains(&head.status) => Ok(()),
        Ok((head, _)) if head.status == 404 => Err(UpdateError::NoContainer),
        Ok((head, _)) => Err(UpdateError::Failed(format!(
            "{server} server {addr} answered {}",
            head.status
        ))),
        Err(e) => Err(UpdateError::Failed(format!("{server} server {addr}: {e}"))),
    }
}

impl ContainerUpdater for ClusterUpdater {
    fn update<'a>(&'a self, u: &'a ContainerUpdate) -> UpdateFuture<'a> {
        Box::pin(self.update_all(u))
    }
}

/// Starts the thread that retries container servers' undelivered account
/// updates under `device_root` every `interval`, until `flag` is set.
pub fn spawn_account_updater<F>(
    device_root: std::path::PathBuf,
    interval: std::time::Duration,
    flag: crate::runtime::shutdown::ShutdownFlag,
    make_updater: F,
) -> std::io::Result<std::thread::JoinHandle<()>>
where
    F: FnOnce() -> Rc<ClusterUpdater> + Send + 'static,
{
    let tick = std::time::Duration::from_millis(100);
    crate::daemons::spawn_paced("account-updater", interval, tick, flag, move || {
        let updater = make_updater();
        move || {
            let (device_root, updater) = (device_root.clone(), updater.clone());
            async move {
                match super::account_update::run_pending(&device_root, &updater).await {
                    Ok((0, 0)) => {}
                    Ok((applied, left)) => tracing::info!(applied, left, "account updater pass"),
                    Err(e) => tracing::warn!("account updater: {e}"),
                }
            }
        }
    })
}
