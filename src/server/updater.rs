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

/// Delivers container updates to local databases and peer nodes.
pub struct ClusterUpdater {
    db: DbPool,
    peers: Option<Rc<Peers>>,
    me: Option<(SocketAddr, String)>,
}

impl ClusterUpdater {
    /// Updates for this node's databases only.
    pub fn local(db: DbPool) -> Self {
        ClusterUpdater {
            db,
            peers: None,
            me: None,
        }
    }

    /// Updates for any node: `me` is this node's backend address and device.
    pub fn clustered(db: DbPool, peers: Rc<Peers>, me: SocketAddr, device: String) -> Self {
        ClusterUpdater {
            db,
            peers: Some(peers),
            me: Some((me, device)),
        }
    }

    async fn local_update(&self, u: &ContainerUpdate) -> Result<(), UpdateError> {
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
        match self
            .db
            .update_object(&u.account, &u.container, update)
            .await
        {
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
        let part: u32 = partition
            .parse()
            .map_err(|_| UpdateError::Failed(format!("bad container partition {partition}")))?;
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
        match peers.request(addr, method, &path, &h, &[]).await {
            Ok((head, _)) if (200..300).contains(&head.status) => Ok(()),
            Ok((head, _)) if head.status == 404 => Err(UpdateError::NoContainer),
            Ok((head, _)) => Err(UpdateError::Failed(format!(
                "container server {addr} answered {}",
                head.status
            ))),
            Err(e) => Err(UpdateError::Failed(format!("container server {addr}: {e}"))),
        }
    }

    async fn update_all(&self, u: &ContainerUpdate) -> Result<(), UpdateError> {
        let (Some(peers), Some((me, my_dev))) = (&self.peers, &self.me) else {
            return self.local_update(u).await;
        };
        if u.targets.is_empty() {
            return self.local_update(u).await;
        }
        let mut failed = None;
        let mut gone = 0;
        for t in &u.targets {
            let addr: Option<SocketAddr> = t.host.parse().ok();
            let res = match addr {
                Some(a) if a == *me && t.device == *my_dev => self.local_update(u).await,
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

impl ContainerUpdater for ClusterUpdater {
    fn update<'a>(&'a self, u: &'a ContainerUpdate) -> UpdateFuture<'a> {
        Box::pin(self.update_all(u))
    }
}
