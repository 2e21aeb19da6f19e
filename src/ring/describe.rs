//! Balance, dispersion and the device table of a builder, as
//! `swift-ring-builder <builder>` reports them.

use std::collections::HashMap;
use std::fmt::Write;

use super::builder::{RingBuilder, NONE_DEV};

/// Per-device numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct DevStats {
    /// Device id.
    pub id: u32,
    /// Partition replicas assigned.
    pub parts: usize,
    /// Replicas the device's weight asks for (not rounded).
    pub wanted: f64,
    /// `100 * (parts / wanted - 1)`; 999.99 for a weightless device that
    /// still holds partitions, as Swift reports it.
    pub balance: f64,
}

/// The health of an assignment.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// The worst device balance, in percent (0 is perfect).
    pub balance: f64,
    /// Percentage of partition replicas placed in a failure domain that
    /// already holds more of that partition than the topology requires
    /// (Swift's dispersion; 0 is perfect).
    pub dispersion: f64,
    /// One entry per present device.
    pub devs: Vec<DevStats>,
}

/// Swift's cap on a device balance figure.
const MAX_BALANCE: f64 = 999.99;

/// The most replicas of one partition each failure domain should hold:
/// the replica count split evenly (rounded up) down the tree of weighted
/// regions, zones, servers and devices (Swift's `_build_max_replicas_by_tier`).
#[derive(Default)]
struct MaxReplicas {
    region: HashMap<u32, f64>,
    zone: HashMap<(u32, u32), f64>,
    ip: HashMap<(u32, u32, String), f64>,
    dev: HashMap<u32, f64>,
}

fn max_replicas(b: &RingBuilder) -> MaxReplicas {
    let mut tree: HashMap<u32, HashMap<u32, HashMap<String, Vec<u32>>>> = HashMap::new();
    for d in b.devices().filter(|d| d.weight > 0.0) {
        tree.entry(d.region)
            .or_default()
            .entry(d.zone)
            .or_default()
            .entry(d.ip.clone())
            .or_default()
            .push(d.id);
    }
    let mut m = MaxReplicas::default();
    let total = f64::from(b.replicas);
    let n_regions = tree.len() as f64;
    for (r, zones) in &tree {
        let rmax = (total / n_regions).ceil();
        m.region.insert(*r, rmax);
        for (z, ips) in zones {
            let zmax = (rmax / zones.len() as f64).ceil();
            m.zone.insert((*r, *z), zmax);
            for (ip, devs) in ips {
                let imax = (zmax / ips.len() as f64).ceil();
                m.ip.insert((*r, *z, ip.clone()), imax);
                for id in devs {
                    m.dev
                        .insert(*id, (imax / devs.len() as f64).ceil().min(1.0));
                }
            }
        }
    }
    m
}

/// Balance and dispersion of the builder's current assignment.
pub fn stats(b: &RingBuilder) -> Stats {
    let parts = b.parts();
    let mut count = vec![0usize; b.devs.len()];
    for &id in b.replica2part2dev.iter().flatten() {
        if id != NONE_DEV {
            count[id as usize] += 1;
        }
    }
    let total_weight: f64 = b
        .devices()
        .filter(|d| !b.removing.contains(&d.id))
        .map(|d| d.weight)
        .sum();
    let total = (parts * b.replicas as usize) as f64;
    let mut devs = Vec::new();
    let mut balance: f64 = 0.0;
    for d in b.devices() {
        let wanted = if total_weight > 0.0 && !b.removing.contains(&d.id) {
            total * d.weight / total_weight
        } else {
            0.0
        };
        let have = count[d.id as usize];
        let bal = if wanted > 0.0 {
            100.0 * (have as f64 / wanted - 1.0)
        } else if have > 0 {
            MAX_BALANCE
        } else {
            0.0
        };
        balance = balance.max(bal.abs());
        devs.push(DevStats {
            id: d.id,
            parts: have,
            wanted,
            balance: bal,
        });
    }
    Stats {
        balance: if b.replica2part2dev.is_empty() {
            0.0
        } else {
            balance
        },
        dispersion: dispersion(b),
        devs,
    }
}

fn dispersion(b: &RingBuilder) -> f64 {
    if b.replica2part2dev.is_empty() {
        return 0.0;
    }
    let max = max_replicas(b);
    let mut at_risk = 0.0;
    let mut seen_r: HashMap<u32, f64> = HashMap::new();
    let mut seen_z: HashMap<(u32, u32), f64> = HashMap::new();
    let mut seen_i: HashMap<(u32, u32, &str), f64> = HashMap::new();
    let mut seen_d: HashMap<u32, f64> = HashMap::new();
    for part in 0..b.parts() {
        seen_r.clear();
        seen_z.clear();
        seen_i.clear();
        seen_d.clear();
        for row in &b.replica2part2dev {
            let Some(Some(d)) = row.get(part).and_then(|&id| b.devs.get(id as usize)) else {
                continue;
            };
            *seen_r.entry(d.region).or_default() += 1.0;
            *seen_z.entry((d.region, d.zone)).or_default() += 1.0;
            *seen_i.entry((d.region, d.zone, d.ip.as_str())).or_default() += 1.0;
            *seen_d.entry(d.id).or_default() += 1.0;
        }
        let excess = |n: f64, m: Option<&f64>| (n - m.copied().unwrap_or(0.0)).max(0.0);
        let depth = [
            seen_r
                .iter()
                .map(|(k, n)| excess(*n, max.region.get(k)))
                .sum::<f64>(),
            seen_z
                .iter()
                .map(|(k, n)| excess(*n, max.zone.get(k)))
                .sum(),
            seen_i
                .iter()
                .map(|((r, z, ip), n)| excess(*n, max.ip.get(&(*r, *z, ip.to_string()))))
                .sum(),
            seen_d.iter().map(|(k, n)| excess(*n, max.dev.get(k))).sum(),
        ];
        // Each part-replica counts once, at the tier where it is worst.
        at_risk += depth.into_iter().fold(0.0, f64::max);
    }
    100.0 * at_risk / (b.parts() as f64 * f64::from(b.replicas))
}

/// The report of `paco ring BUILDER` / `describe`: summary, then one line
/// per device.
pub fn render(b: &RingBuilder, name: &str) -> String {
    let s = stats(b);
    let devs: Vec<_> = b.devices().collect();
    let regions: std::collections::HashSet<_> = devs.iter().map(|d| d.region).collect();
    let zones: std::collections::HashSet<_> = devs.iter().map(|d| (d.region, d.zone)).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{name}, build version {}\n{} partitions, {:.6} replicas, {} regions, {} zones, {} devices, {:.2} balance, {:.2} dispersion",
        b.version,
        b.parts(),
        f64::from(b.replicas),
        regions.len(),
        zones.len(),
        devs.len(),
        s.balance,
        s.dispersion
    );
    let _ = writeln!(
        out,
        "The minimum number of hours before a partition can be reassigned is {}",
        b.min_part_hours
    );
    if b.replica2part2dev.is_empty() {
        let _ = writeln!(out, "Not yet rebalanced");
    } else if b.devs_changed {
        let _ = writeln!(out, "Devices or weights changed since the last rebalance");
    }
    let _ = writeln!(
        out,
        "Devices:   id region zone {:>20} port {:>20} replication port {:>10}   weight partitions balance meta",
        "ip address", "replication ip", "name"
    );
    for (d, st) in devs.iter().zip(&s.devs) {
        let removing = if b.removing.contains(&d.id) {
            " (removing)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "         {:>4} {:>6} {:>4} {:>20} {:>4} {:>20} {:>16} {:>10} {:>8.2} {:>10} {:>7.2} {}{}",
            d.id,
            d.region,
            d.zone,
            d.ip,
            d.port,
            d.replication_ip.as_deref().unwrap_or(&d.ip),
            d.replication_port.unwrap_or(d.port),
            d.device,
            d.weight,
            st.parts,
            st.balance,
            d.meta,
            removing
        );
    }
    out
}
