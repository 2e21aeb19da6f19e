//! paco's ring builder: the devices, their weights and the partition
//! assignment of one ring, kept in a JSON builder file between commands
//! (`paco ring create/add/remove/set_weight/rebalance/write_ring`).
//!
//! The builder file is paco's own format (Swift's `.builder` files are
//! pickles); the ring it writes is Swift's `ring.gz`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::devspec::{AddSpec, Search};
use super::{Device, RingData, RingError};

/// Marks a replica slot that holds no device yet.
pub const NONE_DEV: u32 = u32::MAX;

/// Value of `format` in a builder file.
const FORMAT: &str = "paco-ring-builder";

/// The largest partition power the builder accepts (16 M partitions).
pub const MAX_PART_POWER: u32 = 24;

/// The most replicas the builder accepts.
pub const MAX_REPLICAS: u32 = 16;

/// One ring under construction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingBuilder {
    /// Always `paco-ring-builder`.
    pub format: String,
    /// Partition power: the ring has `2^part_power` partitions.
    pub part_power: u32,
    /// Whole replicas per partition.
    pub replicas: u32,
    /// Hours before another replica of a moved partition may move.
    pub min_part_hours: u32,
    /// Incremented by every change; written into the ring.
    pub version: u64,
    /// Devices by id; `None` is the slot of a removed device.
    pub devs: Vec<Option<Device>>,
    /// Ids of devices removed since the last rebalance; their partitions
    /// move at the next rebalance, then their slots become `None`.
    #[serde(default)]
    pub removing: Vec<u32>,
    /// Assignment rows (one per replica); empty before the first rebalance.
    #[serde(default)]
    pub replica2part2dev: Vec<Vec<u32>>,
    /// Unix time (seconds) each partition last had a replica moved.
    #[serde(default)]
    pub last_moved: Vec<u64>,
    /// Whether devices or weights changed since the last rebalance.
    #[serde(default)]
    pub devs_changed: bool,
}

impl RingBuilder {
    /// A builder with no devices.
    pub fn new(part_power: u32, replicas: u32, min_part_hours: u32) -> Result<Self, RingError> {
        if part_power > MAX_PART_POWER {
            return Err(RingError::Builder(format!(
                "part_power must be at most {MAX_PART_POWER}"
            )));
        }
        if replicas == 0 || replicas > MAX_REPLICAS {
            return Err(RingError::Builder(format!(
                "replicas must be 1 to {MAX_REPLICAS}"
            )));
        }
        Ok(RingBuilder {
            format: FORMAT.into(),
            part_power,
            replicas,
            min_part_hours,
            version: 0,
            devs: Vec::new(),
            removing: Vec::new(),
            replica2part2dev: Vec::new(),
            last_moved: Vec::new(),
            devs_changed: false,
        })
    }

    /// Number of partitions.
    pub fn parts(&self) -> usize {
        1usize << self.part_power
    }

    /// Reads a builder file and checks it is consistent.
    pub fn load(path: &Path) -> Result<Self, RingError> {
        let text = std::fs::read(path).map_err(|e| RingError::io(path, e))?;
        let b: RingBuilder = serde_json::from_slice(&text)
            .map_err(|e| RingError::Format(format!("{}: {e}", path.display())))?;
        b.check()
            .map_err(|e| RingError::Format(format!("{}: {e}", path.display())))?;
        Ok(b)
    }

    fn check(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!(
                "not a paco ring builder file (format {:?})",
                self.format
            ));
        }
        if self.part_power > MAX_PART_POWER || self.replicas == 0 || self.replicas > MAX_REPLICAS {
            return Err("part_power or replicas out of range".into());
        }
        for (i, d) in self.devs.iter().enumerate() {
            if d.as_ref().is_some_and(|d| d.id as usize != i) {
                return Err(format!("device slot {i} holds another id"));
            }
        }
        if !self.replica2part2dev.is_empty() {
            if self.last_moved.len() != self.parts() {
                return Err("last_moved does not cover every partition".into());
            }
            for row in &self.replica2part2dev {
                if row.len() != self.parts() {
                    return Err("an assignment row does not cover every partition".into());
                }
                for &id in row {
                    if id != NONE_DEV && !matches!(self.devs.get(id as usize), Some(Some(_))) {
                        return Err(format!("assignment names unknown device {id}"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the builder file atomically.
    pub fn save(&self, path: &Path) -> Result<(), RingError> {
        use std::io::Write;
        let text = serde_json::to_vec(self)
            .map_err(|e| RingError::Builder(format!("serializing the builder: {e}")))?;
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            RingError::io(path, e)
        })
    }

    /// Devices that are present (including those being removed).
    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.devs.iter().flatten()
    }

    /// Whether `id` is a device partitions may be assigned to.
    pub fn is_active(&self, id: u32) -> bool {
        matches!(self.devs.get(id as usize), Some(Some(d)) if d.weight > 0.0)
            && !self.removing.contains(&id)
    }

    /// Adds a device, reusing the lowest free id as Swift does. Refuses a
    /// second device with the same address, port and name.
    pub fn add(&mut self, spec: &AddSpec, weight: f64) -> Result<u32, RingError> {
        if !weight.is_finite() || weight < 0.0 {
            return Err(RingError::Builder(format!("invalid weight {weight}")));
        }
        if let Some(d) = self
            .devices()
            .find(|d| d.ip == spec.ip && d.port == spec.port && d.device == spec.device)
        {
            return Err(RingError::Builder(format!(
                "device {} already uses {}/{}",
                d.id,
                d.host_port(),
                d.device
            )));
        }
        let id = match self.devs.iter().position(Option::is_none) {
            Some(i) => i as u32,
            None => self.devs.len() as u32,
        };
        let (rip, rport) = spec
            .replication
            .clone()
            .unwrap_or_else(|| (spec.ip.clone(), spec.port));
        let dev = Device {
            id,
            region: spec.region,
            zone: spec.zone,
            ip: spec.ip.clone(),
            port: spec.port,
            replication_ip: Some(rip),
            replication_port: Some(rport),
            device: spec.device.clone(),
            weight,
            meta: spec.meta.clone(),
            extra: Default::default(),
        };
        if (id as usize) < self.devs.len() {
            self.devs[id as usize] = Some(dev);
        } else {
            self.devs.push(Some(dev));
        }
        self.changed();
        Ok(id)
    }

    /// Ids of the devices a search value matches (devices being removed
    /// excluded).
    pub fn search(&self, search: &Search) -> Vec<u32> {
        self.devices()
            .filter(|d| !self.removing.contains(&d.id) && search.matches(d))
            .map(|d| d.id)
            .collect()
    }

    /// Marks a device for removal: its partitions move at the next
    /// rebalance, whatever `min_part_hours` says.
    pub fn remove(&mut self, id: u32) -> Result<(), RingError> {
        if !matches!(self.devs.get(id as usize), Some(Some(_))) || self.removing.contains(&id) {
            return Err(RingError::Builder(format!("no device d{id}")));
        }
        if self.replica2part2dev.is_empty() {
            self.devs[id as usize] = None;
        } else {
            self.removing.push(id);
        }
        self.changed();
        Ok(())
    }

    /// Changes a device's weight (0 drains it).
    pub fn set_weight(&mut self, id: u32, weight: f64) -> Result<(), RingError> {
        if !weight.is_finite() || weight < 0.0 {
            return Err(RingError::Builder(format!("invalid weight {weight}")));
        }
        match self.devs.get_mut(id as usize) {
            Some(Some(d)) => d.weight = weight,
            _ => return Err(RingError::Builder(format!("no device d{id}"))),
        }
        self.changed();
        Ok(())
    }

    /// Changes the replica count; new replicas are placed and surplus ones
    /// dropped at the next rebalance.
    pub fn set_replicas(&mut self, replicas: u32) -> Result<(), RingError> {
        if replicas == 0 || replicas > MAX_REPLICAS {
            return Err(RingError::Builder(format!(
                "replicas must be 1 to {MAX_REPLICAS}"
            )));
        }
        self.replicas = replicas;
        self.changed();
        Ok(())
    }

    /// Forgets when partitions last moved, so the next rebalance may move
    /// any of them (Swift's `pretend_min_part_hours_passed`).
    pub fn pretend_min_part_hours_passed(&mut self) {
        self.last_moved.iter_mut().for_each(|t| *t = 0);
    }

    fn changed(&mut self) {
        self.version += 1;
        self.devs_changed = true;
    }

    /// The ring to write: devices (removed ones as holes) and assignments.
    pub fn to_ring_data(&self) -> Result<RingData, RingError> {
        if self.replica2part2dev.is_empty() {
            return Err(RingError::Builder(
                "the builder has no assignment yet: run rebalance first".into(),
            ));
        }
        if self
            .replica2part2dev
            .iter()
            .flatten()
            .any(|&id| id == NONE_DEV || self.removing.contains(&id))
        {
            return Err(RingError::Builder(
                "some partitions are unassigned or on removed devices: run rebalance first".into(),
            ));
        }
        let max_id = self.devs.len().saturating_sub(1);
        let data = RingData {
            devs: self
                .devs
                .iter()
                .map(|d| {
                    d.as_ref()
                        .filter(|d| !self.removing.contains(&d.id))
                        .cloned()
                })
                .collect(),
            replica2part2dev: self.replica2part2dev.clone(),
            part_shift: 32 - self.part_power,
            next_part_power: None,
            version: Some(self.version),
            dev_id_bytes: if max_id >= u16::MAX as usize { 4 } else { 2 },
            format_version: 0,
        };
        data.validate()?;
        Ok(data)
    }
}
