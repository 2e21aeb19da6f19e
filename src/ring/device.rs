//! One storage device of a ring, as Swift's device dicts describe it.

use serde::{Deserialize, Serialize};

/// A device: the unit partitions are assigned to.
///
/// Field names and types are those of Swift's device dicts, so the JSON in a
/// ring file round-trips; keys paco does not know are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// Unique id; also the device's index in the ring's device list.
    pub id: u32,
    /// Region (a failure domain of zones, e.g. a data centre).
    pub region: u32,
    /// Zone within the region (e.g. a rack or power domain).
    pub zone: u32,
    /// Address of the server holding the device.
    pub ip: String,
    /// Port of the storage server.
    pub port: u16,
    /// Address used for replication traffic (defaults to `ip`).
    #[serde(default)]
    pub replication_ip: Option<String>,
    /// Port used for replication traffic (defaults to `port`).
    #[serde(default)]
    pub replication_port: Option<u16>,
    /// Device (mount point) name under the server's devices directory.
    pub device: String,
    /// Relative share of partitions the device should hold.
    #[serde(default)]
    pub weight: f64,
    /// Free-form operator notes.
    #[serde(default)]
    pub meta: String,
    /// Keys of the device dict paco does not interpret, kept as they were.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Device {
    /// Swift's `normalize_devices`: replication address and port default to
    /// the client-facing ones.
    pub fn normalize(&mut self) {
        if self.replication_ip.is_none() {
            self.replication_ip = Some(self.ip.clone());
        }
        if self.replication_port.is_none() {
            self.replication_port = Some(self.port);
        }
    }

    /// `ip:port` as Swift prints it (IPv6 addresses in brackets).
    pub fn host_port(&self) -> String {
        if self.ip.contains(':') {
            format!("[{}]:{}", self.ip, self.port)
        } else {
            format!("{}:{}", self.ip, self.port)
        }
    }

    /// `r1z2-10.0.0.1:6200/sdb`, the form `swift-ring-builder` uses.
    pub fn describe(&self) -> String {
        format!(
            "r{}z{}-{}/{}",
            self.region,
            self.zone,
            self.host_port(),
            self.device
        )
    }
}
