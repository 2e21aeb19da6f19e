//! The backend seam: the one way the proxy reaches storage. With no rings
//! every device is local, so a backend request is a direct call into the
//! in-process object server with the client's body stream — no socket, no
//! copy. With rings, requests go to the devices the object ring names:
//! this node's own device in process, the others over HTTP
//! ([`remote`]), replicated writes decided by Swift's quorum rules
//! ([`quorum`], [`replicated`]).

pub mod dbring;
pub mod delete_at;
pub mod quorum;
pub mod remote;
pub mod replicated;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use crate::common::storage_policy::Policies;
use crate::db::DbPool;
use crate::http::{BodySource, Headers, Response};
use crate::obj::server::{ObjRequest, ObjectServer};
use crate::ring::reload::ReloadingRing;
use crate::ring::Device;
use crate::server::updater::ClusterUpdater;

use remote::Peers;

/// The rings of a cluster and which of their devices are this node's.
pub struct ClusterRings {
    /// The object ring of each storage policy: `object.ring.gz` for
    /// policy 0, `object-N.ring.gz` for policy N.
    pub objects: BTreeMap<u32, ReloadingRing>,
    /// `container.ring.gz`, when present.
    pub container: Option<ReloadingRing>,
    /// `account.ring.gz`, when present.
    pub account: Option<ReloadingRing>,
    /// This node's backend address (`backend_bind`).
    pub me: SocketAddr,
    /// This node's device names (`storage.device` and `extra_devices`).
    pub devices: Vec<String>,
    /// Send requests for this node's devices over HTTP too.
    pub force_http: bool,
}

impl ClusterRings {
    /// Whether `dev` is served by this node (whatever the transport).
    pub fn is_mine(&self, dev: &Device) -> bool {
        self.devices.contains(&dev.device) && dev_addr(dev) == Some(self.me)
    }

    /// Whether `dev` is this node's and reached in process.
    pub fn is_local(&self, dev: &Device) -> bool {
        !self.force_http && self.is_mine(dev)
    }

    /// The object ring of storage policy `index`.
    pub fn object_ring(&self, index: u32) -> Option<&ReloadingRing> {
        self.objects.get(&index)
    }
}

/// One device this node serves: its object server and its databases.
pub struct LocalDevice {
    /// Device name (a directory under `data_dir`).
    pub name: String,
    /// The object server of this device.
    pub objects: Rc<ObjectServer>,
    /// The account and container databases of this device.
    pub db: DbPool,
    /// The device's directory (`<data_dir>/<name>`).
    pub root: std::path::PathBuf,
}

/// A ring device's backend address.
pub fn dev_addr(dev: &Device) -> Option<SocketAddr> {
    dev.host_port().parse().ok()
}

/// Routes backend requests to the servers that hold the data.
pub struct Backend {
    objects: Rc<ObjectServer>,
    cluster: Option<(Arc<ClusterRings>, Rc<Peers>)>,
    devices: Rc<Vec<LocalDevice>>,
    updater: Option<Rc<ClusterUpdater>>,
    policies: Rc<Policies>,
}

impl Backend {
    /// A backend whose every device is served by `objects` in this process.
    pub fn local(objects: Rc<ObjectServer>) -> Self {
        Backend {
            objects,
            cluster: None,
            devices: Rc::new(Vec::new()),
            updater: None,
            policies: Rc::new(Policies::default()),
        }
    }

    /// A backend that follows `rings`: this node's devices (`devices`, the
    /// first also the default) in process, the others through `peers`.
    pub fn clustered(
        devices: Rc<Vec<LocalDevice>>,
        rings: Arc<ClusterRings>,
        peers: Rc<Peers>,
        updater: Rc<ClusterUpdater>,
        policies: Rc<Policies>,
    ) -> Option<Self> {
        Some(Backend {
            objects: devices.first()?.objects.clone(),
            cluster: Some((rings, peers)),
            devices,
            updater: Some(updater),
            policies,
        })
    }

    /// The storage policies this node's servers name.
    pub(crate) fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Where this node's container servers send account updates.
    pub(crate) fn updater(&self) -> Option<&ClusterUpdater> {
        self.updater.as_deref()
    }

    /// This node's device `name`, when it serves it.
    pub fn device(&self, name: &str) -> Option<&LocalDevice> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// The rings and peer pool, when this node is part of a cluster.
    pub fn cluster(&self) -> Option<(&ClusterRings, &Peers)> {
        self.cluster.as_ref().map(|(r, p)| (&**r, &**p))
    }

    /// The in-process object server of `device` (the default one when
    /// this node does not serve it by that name).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn local_object(
        &self,
        device: &str,
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
        let objects = self.device(device).map_or(&self.objects, |d| &d.objects);
        objects.handle(&req, body).await
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
                self.local_object("", method, account, container, object, headers, body)
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
}
