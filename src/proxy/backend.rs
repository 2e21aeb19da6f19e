//! The backend seam: the one way the proxy reaches storage. With no rings
//! every device is local, so a backend request is a direct call into the
//! in-process object server with the client's body stream — no socket, no
//! copy. With rings, requests go to the devices the object ring names:
//! this node's own device in process, the others over HTTP
//! ([`remote`]), replicated writes decided by Swift's quorum rules
//! ([`quorum`], [`replicated`]).

pub mod delete_at;
pub mod quorum;
pub mod remote;
pub mod replicated;

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use crate::http::{BodySource, Headers, Response};
use crate::obj::server::{ObjRequest, ObjectServer};
use crate::ring::reload::ReloadingRing;
use crate::ring::Device;

use remote::Peers;

/// The rings of a cluster and which of their devices is this node's.
pub struct ClusterRings {
    /// `object.ring.gz`.
    pub object: ReloadingRing,
    /// `container.ring.gz`, when present.
    pub container: Option<ReloadingRing>,
    /// `account.ring.gz`, when present.
    pub account: Option<ReloadingRing>,
    /// This node's backend address (`backend_bind`).
    pub me: SocketAddr,
    /// This node's device name (`storage.device`).
    pub device: String,
    /// Send requests for this node's device over HTTP too.
    pub force_http: bool,
}

impl ClusterRings {
    /// Whether `dev` is this node's device (reached in process).
    pub fn is_local(&self, dev: &Device) -> bool {
        !self.force_http && dev.device == self.device && dev_addr(dev) == Some(self.me)
    }
}

/// A ring device's backend address.
pub fn dev_addr(dev: &Device) -> Option<SocketAddr> {
    dev.host_port().parse().ok()
}

/// Routes backend requests to the servers that hold the data.
pub struct Backend {
    objects: Rc<ObjectServer>,
    cluster: Option<(Arc<ClusterRings>, Rc<Peers>)>,
}

impl Backend {
    /// A backend whose every device is served by `objects` in this process.
    pub fn local(objects: Rc<ObjectServer>) -> Self {
        Backend {
            objects,
            cluster: None,
        }
    }

    /// A backend that follows `rings`: this node's device through
    /// `objects`, the others through `peers`.
    pub fn clustered(
        objects: Rc<ObjectServer>,
        rings: Arc<ClusterRings>,
        peers: Rc<Peers>,
    ) -> Self {
        Backend {
            objects,
            cluster: Some((rings, peers)),
        }
    }

    /// The rings and peer pool, when this node is part of a cluster.
    pub fn cluster(&self) -> Option<(&ClusterRings, &Peers)> {
        self.cluster.as_ref().map(|(r, p)| (&**r, &**p))
    }

    /// The in-process object server.
    pub(crate) async fn local_object(
        &self,
        method: &str,
        account: &str,
        container: &str,
        object: &str,
        headers: &Headers,
        body: &mut BodySource<'_, '_>,
    ) -> Response {
        let req = ObjRequest {
            method,
            account,
            container,
            object,
            headers,
        };
        self.objects.handle(&req, body).await
    }

    /// Sends an object request (`headers` already carry `X-Timestamp`).
    pub async fn object(
        &self,
        method: &str,
        account: &str,
        container: &str,
        object: &str,
        headers: &Headers,
        body: &mut BodySource<'_, '_>,
    ) -> Response {
        match &self.cluster {
            None => {
                self.local_object(method, account, container, object, headers, body)
                    .await
            }
            Some((rings, peers)) => {
                let t = replicated::Target {
                    account,
                    container,
                    object,
                };
                replicated::object(self, rings, peers, method, &t, headers, body).await
            }
        }
    }

    /// Repeats an account or container write (already applied to this
    /// node's database) on the other primaries of its ring, so every
    /// replica knows it. Returns the statuses of the remote replicas.
    pub async fn replicate_db(
        &self,
        method: &str,
        account: &str,
        container: Option<&str>,
        headers: &Headers,
    ) -> Vec<u16> {
        match &self.cluster {
            None => Vec::new(),
            Some((rings, peers)) => {
                replicated::db_write(rings, peers, method, account, container, headers).await
            }
        }
    }
}
