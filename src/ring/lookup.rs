//! Lookups on a loaded ring, bit for bit as Swift's `Ring`: the partition of
//! a name, its primary devices, and its handoff devices in Swift's order, so
//! a paco node and a Swift node sharing a ring agree on where data lives.

use std::collections::HashSet;

use md5::{Digest, Md5};

use super::{Device, RingData, RingError};
use crate::common::hash::{hash_path, HashConf, HashError};

/// A ring ready for lookups (Swift's `Ring`).
#[derive(Debug, Clone)]
pub struct Ring {
    data: RingData,
    hash: HashConf,
    parts: usize,
    num_regions: usize,
    num_zones: usize,
    num_ips: usize,
    num_assigned_devs: usize,
}

impl Ring {
    /// Prepares `data` for lookups with the cluster's hash prefix/suffix.
    /// Refuses rings without assignments (not yet rebalanced).
    pub fn new(data: RingData, hash: HashConf) -> Result<Ring, RingError> {
        data.validate()?;
        let Some(first) = data.replica2part2dev.first() else {
            return Err(RingError::Unusable("no partitions are assigned".into()));
        };
        let parts = first.len();
        // Like Swift, only devices holding partitions count toward the totals
        // that let the handoff walk stop early.
        let mut assigned = vec![false; data.devs.len()];
        for &id in data.replica2part2dev.iter().flatten() {
            assigned[id as usize] = true;
        }
        let mut regions = HashSet::new();
        let mut zones = HashSet::new();
        let mut ips = HashSet::new();
        let mut num_assigned_devs = 0;
        for dev in data.devs.iter().flatten() {
            if assigned[dev.id as usize] {
                regions.insert(dev.region);
                zones.insert((dev.region, dev.zone));
                ips.insert((dev.region, dev.zone, dev.ip.as_str()));
                num_assigned_devs += 1;
            }
        }
        let (num_regions, num_zones, num_ips) = (regions.len(), zones.len(), ips.len());
        Ok(Ring {
            data,
            hash,
            parts,
            num_regions,
            num_zones,
            num_ips,
            num_assigned_devs,
        })
    }

    /// Loads a ring file (see [`RingData::load`]) for lookups.
    pub fn load(path: &std::path::Path, hash: HashConf) -> Result<Ring, RingError> {
        Ring::new(RingData::load(path)?, hash)
    }

    /// The ring's serialized content.
    pub fn data(&self) -> &RingData {
        &self.data
    }

    /// Number of partitions.
    pub fn partition_count(&self) -> usize {
        self.parts
    }

    /// Replicas (fractional when the last row is short).
    pub fn replica_count(&self) -> f64 {
        self.data.replica_count()
    }

    /// The device with id `id`, if present.
    pub fn device(&self, id: u32) -> Option<&Device> {
        self.data.devs.get(id as usize).and_then(Option::as_ref)
    }

    /// The path hash of `account[/container[/object]]` with this ring's
    /// prefix and suffix (Swift's `hash_path`).
    pub fn hash_path(
        &self,
        account: &str,
        container: Option<&str>,
        object: Option<&str>,
    ) -> Result<[u8; 16], HashError> {
        hash_path(&self.hash, account, container, object)
    }

    /// Swift's `get_part`: the top `part_power` bits of the path's MD5.
    pub fn get_part(
        &self,
        account: &str,
        container: Option<&str>,
        object: Option<&str>,
    ) -> Result<u32, HashError> {
        let digest = hash_path(&self.hash, account, container, object)?;
        Ok(self.part_of_digest(&digest))
    }

    /// The partition of an already computed path hash.
    pub fn part_of_digest(&self, digest: &[u8; 16]) -> u32 {
        let top = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        (u64::from(top) >> self.data.part_shift) as u32
    }

    /// Swift's `get_part_nodes`: one device per replica row that covers the
    /// partition, each device once, in replica order. Empty for a partition
    /// outside the ring.
    pub fn get_part_nodes(&self, part: u32) -> Vec<&Device> {
        let part = part as usize;
        let mut nodes: Vec<&Device> = Vec::with_capacity(self.data.replica2part2dev.len());
        for row in &self.data.replica2part2dev {
            if let Some(&id) = row.get(part) {
                if !nodes.iter().any(|d| d.id == id) {
                    if let Some(dev) = self.device(id) {
                        nodes.push(dev);
                    }
                }
            }
        }
        nodes
    }

    /// Swift's `get_nodes`: the partition and its primary devices.
    pub fn get_nodes(
        &self,
        account: &str,
        container: Option<&str>,
        object: Option<&str>,
    ) -> Result<(u32, Vec<&Device>), HashError> {
        let part = self.get_part(account, container, object)?;
        Ok((part, self.get_part_nodes(part)))
    }

    /// Swift's `get_more_nodes`: handoff devices for `part`, lazily, in
    /// exactly Swift's order (new regions first, then new zones, new
    /// servers, then any unused device).
    pub fn get_more_nodes(&self, part: u32) -> Handoffs<'_> {
        let primaries = if (part as usize) < self.parts {
            self.get_part_nodes(part)
        } else {
            Vec::new()
        };
        let mut h = Handoffs {
            ring: self,
            used: HashSet::new(),
            regions: HashSet::new(),
            zones: HashSet::new(),
            ips: HashSet::new(),
            start: 0,
            inc: 1,
            s2: 0,
            len1: 0,
            len2: 0,
            pass: 0,
            started: false,
            step: 0,
            row: 0,
        };
        for d in primaries {
            h.used.insert(d.id);
            h.regions.insert(d.region);
            h.zones.insert((d.region, d.zone));
            h.ips.insert((d.region, d.zone, d.ip.as_str()));
        }
        let parts = self.parts;
        let digest: [u8; 16] = Md5::digest(part.to_string().as_bytes()).into();
        let start = self.part_of_digest(&digest) as usize;
        let inc = (parts / 65536).max(1);
        // Python: chain(range(start, parts, inc),
        //               range(inc - ((parts - start) % inc), start, inc))
        // with Python's non-negative modulo; `start` is past the end only
        // when the first replica row is short (fewer than one replica).
        h.start = start;
        h.inc = inc;
        h.len1 = if start < parts {
            (parts - start).div_ceil(inc)
        } else {
            0
        };
        let rem = (parts as i64 - start as i64).rem_euclid(inc as i64) as usize;
        h.s2 = inc - rem;
        h.len2 = if h.s2 < start {
            (start - h.s2).div_ceil(inc)
        } else {
            0
        };
        h
    }
}

/// The handoff walk of [`Ring::get_more_nodes`], resumable between devices.
pub struct Handoffs<'a> {
    ring: &'a Ring,
    used: HashSet<u32>,
    regions: HashSet<u32>,
    zones: HashSet<(u32, u32)>,
    ips: HashSet<(u32, u32, &'a str)>,
    start: usize,
    inc: usize,
    s2: usize,
    len1: usize,
    len2: usize,
    /// 0: unused regions, 1: unused zones, 2: unused servers, 3: any device.
    pass: u8,
    started: bool,
    step: usize,
    row: usize,
}

impl Handoffs<'_> {
    fn handoff_part(&self, step: usize) -> usize {
        if step < self.len1 {
            self.start + step * self.inc
        } else {
            self.s2 + (step - self.len1) * self.inc
        }
    }

    fn pass_exhausted(&self) -> bool {
        let r = self.ring;
        match self.pass {
            0 => self.regions.len() == r.num_regions,
            1 => self.zones.len() == r.num_zones,
            2 => self.ips.len() == r.num_ips,
            _ => self.used.len() == r.num_assigned_devs,
        }
    }
}

impl<'a> Iterator for Handoffs<'a> {
    type Item = &'a Device;

    fn next(&mut self) -> Option<&'a Device> {
        let ring = self.ring;
        let rows = &ring.data.replica2part2dev;
        loop {
            if self.pass > 3 {
                return None;
            }
            if !self.started {
                if self.pass_exhausted() {
                    self.pass += 1;
                    continue;
                }
                self.started = true;
                self.step = 0;
                self.row = 0;
            }
            if self.step >= self.len1 + self.len2 {
                self.pass += 1;
                self.started = false;
                continue;
            }
            let hp = self.handoff_part(self.step);
            while self.row < rows.len() {
                let r = self.row;
                self.row += 1;
                let Some(&id) = rows[r].get(hp) else {
                    continue;
                };
                let Some(dev) = ring.device(id) else {
                    continue;
                };
                if self.used.contains(&id) {
                    continue;
                }
                let zone = (dev.region, dev.zone);
                let ip = (dev.region, dev.zone, dev.ip.as_str());
                let fresh = match self.pass {
                    0 => !self.regions.contains(&dev.region),
                    1 => !self.zones.contains(&zone),
                    2 => !self.ips.contains(&ip),
                    _ => true,
                };
                if !fresh {
                    continue;
                }
                self.used.insert(id);
                // Each pass records what later passes (and its own stop
                // test) look at, exactly as Swift's bookkeeping does.
                if self.pass == 0 {
                    self.regions.insert(dev.region);
                }
                if self.pass <= 1 {
                    self.zones.insert(zone);
                }
                if self.pass <= 2 {
                    self.ips.insert(ip);
                }
                if self.pass_exhausted() {
                    self.pass += 1;
                    self.started = false;
                }
                return Some(dev);
            }
            self.row = 0;
            self.step += 1;
        }
    }
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
