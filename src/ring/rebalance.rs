//! Assigning partition replicas to devices.
//!
//! paco's own algorithm (it does not reproduce Swift's assignment, only its
//! goals): every device gets a share of partition replicas proportional to
//! its weight (weights win over dispersion, like Swift's default overload of
//! 0); within that, replicas of one partition are spread over as many
//! regions, then zones, then servers, then devices as possible; and a
//! rebalance moves only the replicas it must: those on removed devices,
//! duplicates, and the excess of devices holding more than their share. At
//! most one replica of a partition moves per `min_part_hours` (removed
//! devices excepted), so the other replicas stay readable during the move.

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::builder::{RingBuilder, NONE_DEV};
use super::describe;
use super::RingError;

/// How good a device is for a replica, smaller is better: duplicate,
/// full, replicas already in its region, zone, server; fill; tie-break.
type PlaceKey = (bool, bool, u32, u32, u32, f64, u64);

/// A replica's device id and its region, zone and server ids.
type Seen = (u32, u32, u32, u32);

/// Replicas examined per partition when measuring its dispersion.
const MAX_SEEN: usize = super::builder::MAX_REPLICAS as usize;

/// What a rebalance did.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Partition replicas whose device changed (new replicas included).
    pub moved: usize,
    /// Balance afterwards (see [`describe::Stats::balance`]).
    pub balance: f64,
    /// Dispersion afterwards (see [`describe::Stats::dispersion`]).
    pub dispersion: f64,
    /// Devices whose removal completed.
    pub removed: Vec<u32>,
}

/// How many replicas each device should hold: proportional to weight, no
/// device above one replica of every partition (unless there are fewer
/// devices than replicas), rounded so the total is exact.
pub fn targets(b: &RingBuilder) -> Vec<usize> {
    let parts = b.parts();
    let total = parts * b.replicas as usize;
    let active: Vec<u32> = b
        .devices()
        .map(|d| d.id)
        .filter(|&id| b.is_active(id))
        .collect();
    let mut want = vec![0usize; b.devs.len()];
    if active.is_empty() {
        return want;
    }
    let cap = if active.len() >= b.replicas as usize {
        parts as f64
    } else {
        f64::INFINITY
    };
    let weight = |id: u32| b.devs[id as usize].as_ref().map_or(0.0, |d| d.weight);
    // Water-filling: devices whose share exceeds the cap get the cap and the
    // rest is shared among the others by weight.
    let mut share: HashMap<u32, f64> = HashMap::new();
    let mut open = active.clone();
    let mut left = total as f64;
    loop {
        let sum: f64 = open.iter().map(|&id| weight(id)).sum();
        let (capped, free): (Vec<u32>, Vec<u32>) =
            open.iter().partition(|&&id| left * weight(id) / sum > cap);
        if capped.is_empty() {
            for &id in &open {
                share.insert(id, left * weight(id) / sum);
            }
            break;
        }
        for &id in &capped {
            share.insert(id, cap);
            left -= cap;
        }
        open = free;
        if open.is_empty() {
            break;
        }
    }
    let mut assigned = 0;
    let mut rema: Vec<(f64, u32)> = Vec::with_capacity(active.len());
    for &id in &active {
        let s = share.get(&id).copied().unwrap_or(0.0);
        let whole = s.floor() as usize;
        want[id as usize] = whole;
        assigned += whole;
        rema.push((s - s.floor(), id));
    }
    rema.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, id) in rema.iter().cycle().take(total.saturating_sub(assigned)) {
        want[*id as usize] += 1;
    }
    want
}

/// The failure-domain coordinates of a device, as small integers so the
/// inner loop compares numbers, not strings.
#[derive(Clone, Copy, Default)]
struct Tiers {
    region: u32,
    zone: u32,
    ip: u32,
}

fn tiers(b: &RingBuilder) -> Vec<Tiers> {
    let mut regions = HashMap::new();
    let mut zones = HashMap::new();
    let mut ips = HashMap::new();
    b.devs
        .iter()
        .map(|d| match d {
            None => Tiers::default(),
            Some(d) => {
                let n = regions.len() as u32;
                let region = *regions.entry(d.region).or_insert(n);
                let n = zones.len() as u32;
                let zone = *zones.entry((d.region, d.zone)).or_insert(n);
                let n = ips.len() as u32;
                let ip = *ips.entry((d.region, d.zone, d.ip.clone())).or_insert(n);
                Tiers { region, zone, ip }
            }
        })
        .collect()
}

/// Swift's per-tier maxima (see `describe`), indexed by the dense tier
/// ids; 0 for tiers without weighted devices.
#[derive(Default)]
struct Maxima {
    region: Vec<u32>,
    zone: Vec<u32>,
    ip: Vec<u32>,
}

fn maxima(active: &[u32], tiers: &[Tiers], replicas: u32) -> Maxima {
    use std::collections::BTreeSet;
    let mut regions: BTreeSet<u32> = BTreeSet::new();
    let mut zones: HashMap<u32, BTreeSet<u32>> = HashMap::new();
    let mut ips: HashMap<u32, BTreeSet<u32>> = HashMap::new();
    for &id in active {
        let t = tiers[id as usize];
        regions.insert(t.region);
        zones.entry(t.region).or_default().insert(t.zone);
        ips.entry(t.zone).or_default().insert(t.ip);
    }
    let len = |f: fn(&Tiers) -> u32| tiers.iter().map(|t| f(t) as usize + 1).max().unwrap_or(0);
    let mut m = Maxima {
        region: vec![0; len(|t| t.region)],
        zone: vec![0; len(|t| t.zone)],
        ip: vec![0; len(|t| t.ip)],
    };
    let split = |n: u32, k: usize| n.div_ceil(k.max(1) as u32);
    let rmax = split(replicas, regions.len());
    for r in &regions {
        m.region[*r as usize] = rmax;
        let zs = &zones[r];
        let zmax = split(rmax, zs.len());
        for z in zs {
            m.zone[*z as usize] = zmax;
            let is = &ips[z];
            for i in is {
                m.ip[*i as usize] = split(zmax, is.len());
            }
        }
    }
    m
}

struct State<'a> {
    maxima: Maxima,
    b: &'a mut RingBuilder,
    want: Vec<usize>,
    count: Vec<usize>,
    tiers: Vec<Tiers>,
    active: Vec<u32>,
    now: u64,
    rng: rand::rngs::StdRng,
}

impl State<'_> {
    fn movable(&self, part: usize) -> bool {
        let mph = u64::from(self.b.min_part_hours) * 3600;
        mph == 0 || self.now.saturating_sub(self.b.last_moved[part]) >= mph
    }

    fn unassign(&mut self, part: usize, replica: usize, out: &mut Vec<(usize, usize)>) {
        let id = self.b.replica2part2dev[replica][part];
        if id != NONE_DEV {
            self.count[id as usize] -= 1;
        }
        self.b.replica2part2dev[replica][part] = NONE_DEV;
        out.push((part, replica));
    }

    /// Replicas that must move: unassigned, on removed devices, or a second
    /// replica on one device while enough devices exist.
    fn gather_forced(&mut self, moved: &mut [bool]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let rows = self.b.replica2part2dev.len();
        let dedupe = self.active.len() >= rows;
        for (part, moved_part) in moved.iter_mut().enumerate() {
            for r in 0..rows {
                let id = self.b.replica2part2dev[r][part];
                let gone = id == NONE_DEV
                    || self.b.removing.contains(&id)
                    || !matches!(self.b.devs.get(id as usize), Some(Some(_)));
                let dup = dedupe
                    && id != NONE_DEV
                    && (0..r).any(|o| self.b.replica2part2dev[o][part] == id);
                if gone || dup {
                    if id != NONE_DEV {
                        *moved_part = true;
                    }
                    self.unassign(part, r, &mut out);
                }
            }
        }
        out
    }

    /// How crowded a replica is: other replicas of its partition sharing its
    /// server, zone or region. Crowded replicas are moved first.
    fn crowding(&self, part: usize, replica: usize) -> u32 {
        let rows = &self.b.replica2part2dev;
        let me = self.tiers[rows[replica][part] as usize];
        let mut score = 0;
        for (r, row) in rows.iter().enumerate() {
            let id = row[part];
            if r == replica || id == NONE_DEV {
                continue;
            }
            let t = self.tiers[id as usize];
            score += u32::from(t.region == me.region)
                + 2 * u32::from(t.zone == me.zone)
                + 4 * u32::from(t.ip == me.ip);
        }
        score
    }

    /// How crowded replica `replica` of `part` would be on device `dev`
    /// (as [`State::crowding`]); `None` when `dev` already holds the part.
    fn conflict(&self, part: usize, replica: usize, dev: u32) -> Option<u32> {
        let me = self.tiers[dev as usize];
        let mut score = 0;
        for (r, row) in self.b.replica2part2dev.iter().enumerate() {
            let id = row[part];
            if r == replica || id == NONE_DEV {
                continue;
            }
            if id == dev {
                return None;
            }
            let t = self.tiers[id as usize];
            score += u32::from(t.region == me.region)
                + 2 * u32::from(t.zone == me.zone)
                + 4 * u32::from(t.ip == me.ip);
        }
        Some(score)
    }

    /// The excess of every device above its share, taking movable
    /// partitions, the most crowded replicas first.
    fn gather_balance(&mut self, moved: &mut [bool]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let limit_one = self.b.min_part_hours > 0;
        let under: Vec<u32> = self
            .active
            .iter()
            .copied()
            .filter(|&i| self.count[i as usize] < self.want[i as usize])
            .collect();
        let mut by_dev: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.b.devs.len()];
        for (r, row) in self.b.replica2part2dev.iter().enumerate() {
            for (part, &id) in row.iter().enumerate() {
                if id != NONE_DEV && self.count[id as usize] > self.want[id as usize] {
                    by_dev[id as usize].push((part, r));
                }
            }
        }
        for (id, mut cands) in by_dev.into_iter().enumerate() {
            if cands.is_empty() {
                continue;
            }
            cands.shuffle(&mut self.rng);
            let mut scored: Vec<(bool, i64, usize, usize)> = cands
                .into_iter()
                .filter(|&(p, _)| self.movable(p) && !(limit_one && moved[p]))
                .map(|(p, r)| {
                    // Prefer replicas that some device with room can take
                    // with fewer shared failure domains than they have now:
                    // moving them improves dispersion as well as balance.
                    let landing = under.iter().filter_map(|&u| self.conflict(p, r, u)).min();
                    let gain = landing.map_or(0, |l| i64::from(self.crowding(p, r)) - i64::from(l));
                    (landing.is_none(), -gain, p, r)
                })
                .collect();
            scored.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
            for (_, _, p, r) in scored {
                if self.count[id] <= self.want[id] {
                    break;
                }
                if limit_one && moved[p] {
                    continue;
                }
                moved[p] = true;
                self.unassign(p, r, &mut out);
            }
        }
        out
    }

    /// Places each gathered replica on the best device: one that does not
    /// hold the partition yet, has room, and shares the fewest regions,
    /// zones and servers with the partition's other replicas.
    fn reassign(&mut self, mut gathered: Vec<(usize, usize)>) {
        self.place(&mut gathered);
        self.repair(&gathered);
    }

    fn place(&mut self, gathered: &mut [(usize, usize)]) {
        gathered.shuffle(&mut self.rng);
        // Keep a partition's replicas together so each is placed knowing
        // where the others went.
        gathered.sort_by_key(|&(p, _)| p.wrapping_mul(0x9E37_79B9) % 1_000_003);
        let rows = self.b.replica2part2dev.len();
        let mut others: Vec<(u32, Tiers)> = Vec::with_capacity(rows);
        for &mut (part, replica) in gathered {
            others.clear();
            for r in 0..rows {
                let id = self.b.replica2part2dev[r][part];
                if r != replica && id != NONE_DEV {
                    others.push((id, self.tiers[id as usize]));
                }
            }
            let mut best: Option<(PlaceKey, u32)> = None;
            for &id in &self.active {
                let t = self.tiers[id as usize];
                let (mut dup, mut rc, mut zc, mut ic) = (false, 0, 0, 0);
                for &(oid, ot) in &others {
                    dup |= oid == id;
                    rc += u32::from(ot.region == t.region);
                    zc += u32::from(ot.zone == t.zone);
                    ic += u32::from(ot.ip == t.ip);
                }
                let (have, want) = (self.count[id as usize], self.want[id as usize]);
                let fill = if want == 0 {
                    f64::INFINITY
                } else {
                    have as f64 / want as f64
                };
                let tie = (part as u64 ^ u64::from(id).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                    .wrapping_mul(0xff51_afd7_ed55_8ccd);
                let key = (dup, have >= want, rc, zc, ic, fill, tie);
                if best
                    .as_ref()
                    .is_none_or(|(k, _)| key.partial_cmp(k) == Some(std::cmp::Ordering::Less))
                {
                    best = Some((key, id));
                }
            }
            if let Some((_, id)) = best {
                self.b.replica2part2dev[replica][part] = id;
                self.count[id as usize] += 1;
                self.b.last_moved[part] = self.now;
            }
        }
    }

    /// How far a partition exceeds the per-tier maxima (0 = as dispersed
    /// as the topology allows), with a duplicate device counting most.
    fn excess(&self, part: usize) -> u32 {
        let mut seen: [Seen; MAX_SEEN] = [(0, 0, 0, 0); MAX_SEEN];
        let mut n = 0;
        for row in &self.b.replica2part2dev {
            let id = row[part];
            if id != NONE_DEV && n < MAX_SEEN {
                let t = self.tiers[id as usize];
                seen[n] = (id, t.region, t.zone, t.ip);
                n += 1;
            }
        }
        let seen = &seen[..n];
        let mut total = 0;
        for (i, &(id, r, z, ip)) in seen.iter().enumerate() {
            // Count each domain once, at its first replica.
            let first = |f: &dyn Fn(&Seen) -> bool| !seen[..i].iter().any(f);
            if first(&|s| s.1 == r) {
                let c = seen.iter().filter(|s| s.1 == r).count() as u32;
                total += c.saturating_sub(self.maxima.region[r as usize]);
            }
            if first(&|s| s.2 == z) {
                let c = seen.iter().filter(|s| s.2 == z).count() as u32;
                total += c.saturating_sub(self.maxima.zone[z as usize]);
            }
            if first(&|s| s.3 == ip) {
                let c = seen.iter().filter(|s| s.3 == ip).count() as u32;
                total += c.saturating_sub(self.maxima.ip[ip as usize]);
            }
            if seen[..i].iter().any(|s| s.0 == id) {
                total += 8;
            }
        }
        total
    }

    /// Improves dispersion without touching balance: swaps the devices of
    /// two replicas placed in this rebalance (so no extra partition moves)
    /// when that lowers the two partitions' excess.
    fn repair(&mut self, placed: &[(usize, usize)]) {
        const TRIES: usize = 128;
        if placed.len() < 2 {
            return;
        }
        let mut offset = 0usize;
        for &(p, r) in placed {
            if self.excess(p) == 0 {
                continue;
            }
            for k in 0..TRIES.min(placed.len()) {
                offset = (offset + 7919) % placed.len();
                let (q, s) = placed[(offset + k) % placed.len()];
                if q == p {
                    continue;
                }
                let rows = &self.b.replica2part2dev;
                let (a, b) = (rows[r][p], rows[s][q]);
                if a == b || rows.iter().any(|row| row[p] == b || row[q] == a) {
                    continue;
                }
                let before = self.excess(p) + self.excess(q);
                self.b.replica2part2dev[r][p] = b;
                self.b.replica2part2dev[s][q] = a;
                if self.excess(p) + self.excess(q) < before {
                    if self.excess(p) == 0 {
                        break;
                    }
                } else {
                    self.b.replica2part2dev[r][p] = a;
                    self.b.replica2part2dev[s][q] = b;
                }
            }
        }
    }

    fn unbalanced(&self) -> bool {
        let over = self
            .active
            .iter()
            .any(|&i| self.count[i as usize] > self.want[i as usize]);
        let under = self
            .active
            .iter()
            .any(|&i| self.count[i as usize] < self.want[i as usize]);
        let drained = self
            .count
            .iter()
            .enumerate()
            .any(|(i, &c)| c > 0 && !self.active.contains(&(i as u32)));
        (over && under) || drained
    }
}

/// Rebalances the builder at time `now` (unix seconds); `seed` makes the
/// tie-breaking reproducible.
pub fn rebalance(b: &mut RingBuilder, now: u64, seed: u64) -> Result<Report, RingError> {
    let active: Vec<u32> = b
        .devices()
        .map(|d| d.id)
        .filter(|&id| b.is_active(id))
        .collect();
    if active.is_empty() {
        return Err(RingError::Builder(
            "no devices with weight: add devices before rebalancing".into(),
        ));
    }
    let parts = b.parts();
    let old = b.replica2part2dev.clone();
    if b.last_moved.len() != parts {
        b.last_moved = vec![0; parts];
    }
    b.replica2part2dev
        .resize(b.replicas as usize, vec![NONE_DEV; parts]);
    let mut count = vec![0usize; b.devs.len()];
    for &id in b.replica2part2dev.iter().flatten() {
        if id != NONE_DEV {
            count[id as usize] += 1;
        }
    }
    let tiers = tiers(b);
    let mut st = State {
        maxima: maxima(&active, &tiers, b.replicas),
        want: targets(b),
        count,
        tiers,
        active,
        now,
        rng: rand::rngs::StdRng::seed_from_u64(seed),
        b,
    };
    let mut moved = vec![false; parts];
    let forced = st.gather_forced(&mut moved);
    st.reassign(forced);
    // A few rounds: a round can leave a device over its share when the only
    // devices with room already hold the partition.
    for _ in 0..4 {
        if !st.unbalanced() {
            break;
        }
        let gathered = st.gather_balance(&mut moved);
        if gathered.is_empty() {
            break;
        }
        st.reassign(gathered);
    }
    let b = st.b;
    let mut changed = 0;
    for (r, row) in b.replica2part2dev.iter().enumerate() {
        for (part, &id) in row.iter().enumerate() {
            if old.get(r).and_then(|o| o.get(part)) != Some(&id) {
                changed += 1;
            }
        }
    }
    let removed = std::mem::take(&mut b.removing);
    for &id in &removed {
        if let Some(slot) = b.devs.get_mut(id as usize) {
            *slot = None;
        }
    }
    b.devs_changed = false;
    b.version += 1;
    let stats = describe::stats(b);
    Ok(Report {
        moved: changed,
        balance: stats.balance,
        dispersion: stats.dispersion,
        removed,
    })
}

#[cfg(test)]
#[path = "rebalance_tests.rs"]
mod tests;
