use super::*;
use crate::ring::describe::stats;
use crate::ring::devspec::parse_add;

fn add(b: &mut RingBuilder, spec: &str, weight: f64) -> u32 {
    b.add(&parse_add(spec).unwrap(), weight).unwrap()
}

/// 3 zones x 2 servers x 2 devices, equal weights.
fn three_zones(pp: u32, mph: u32) -> RingBuilder {
    let mut b = RingBuilder::new(pp, 3, mph).unwrap();
    for z in 1..=3 {
        for s in 1..=2 {
            for d in ["sda", "sdb"] {
                add(&mut b, &format!("r1z{z}-10.0.{z}.{s}:6200/{d}"), 100.0);
            }
        }
    }
    b
}

/// Every partition has `replicas` replicas on distinct, present devices.
fn assert_valid(b: &RingBuilder) {
    assert_eq!(b.replica2part2dev.len(), b.replicas as usize);
    for part in 0..b.parts() {
        let ids: Vec<u32> = b.replica2part2dev.iter().map(|row| row[part]).collect();
        for (i, id) in ids.iter().enumerate() {
            assert!(
                b.is_active(*id) || b.devs[*id as usize].is_some(),
                "part {part}"
            );
            assert!(!ids[..i].contains(id), "part {part} has device {id} twice");
        }
    }
}

fn zones_of(b: &RingBuilder, part: usize) -> Vec<(u32, u32)> {
    let mut z: Vec<(u32, u32)> = b
        .replica2part2dev
        .iter()
        .map(|row| {
            let d = b.devs[row[part] as usize].as_ref().unwrap();
            (d.region, d.zone)
        })
        .collect();
    z.sort();
    z.dedup();
    z
}

#[test]
fn first_rebalance_is_balanced_and_dispersed() {
    let mut b = three_zones(10, 1);
    let r = rebalance(&mut b, 1_000_000, 1).unwrap();
    assert_eq!(r.moved, 3 * 1024);
    assert_valid(&b);
    assert!(r.balance < 1.0, "balance {}", r.balance);
    assert_eq!(r.dispersion, 0.0);
    for part in 0..b.parts() {
        assert_eq!(zones_of(&b, part).len(), 3, "part {part}");
    }
}

#[test]
fn uneven_weights_are_honoured() {
    let mut b = RingBuilder::new(10, 3, 0).unwrap();
    let w = [100.0, 200.0, 50.0, 100.0, 300.0, 150.0, 100.0, 80.0];
    for (i, w) in w.iter().enumerate() {
        add(
            &mut b,
            &format!("r1z{}-10.0.0.{}:6200/sda", i % 4 + 1, i + 1),
            *w,
        );
    }
    let r = rebalance(&mut b, 0, 2).unwrap();
    assert_valid(&b);
    let want = targets(&b);
    for s in stats(&b).devs {
        let diff = s.parts as i64 - want[s.id as usize] as i64;
        assert!(
            diff.abs() <= 1,
            "device {} has {} wants {}",
            s.id,
            s.parts,
            want[s.id as usize]
        );
    }
    assert!(r.balance < 1.0, "balance {}", r.balance);
}

#[test]
#[allow(clippy::needless_range_loop)]
fn adding_a_device_moves_only_its_share_and_respects_min_part_hours() {
    let mut b = three_zones(10, 1);
    rebalance(&mut b, 0, 1).unwrap();
    let before = b.replica2part2dev.clone();
    add(&mut b, "r1z3-10.0.3.3:6200/sda", 100.0);
    let now = 10 * 3600;
    let r = rebalance(&mut b, now, 1).unwrap();
    assert_valid(&b);
    let want = targets(&b)[12];
    // The new device gets its share, and nothing else moves.
    assert_eq!(r.moved, want, "moved {} for a share of {want}", r.moved);
    for part in 0..b.parts() {
        let changed = (0..3)
            .filter(|&r| before[r][part] != b.replica2part2dev[r][part])
            .count();
        assert!(changed <= 1, "part {part} moved {changed} replicas");
    }
    assert!(r.balance < 1.0, "balance {}", r.balance);
    // Within min_part_hours nothing may move again.
    add(&mut b, "r1z2-10.0.2.3:6200/sda", 100.0);
    let r = rebalance(&mut b, now + 60, 1).unwrap();
    let moved_parts: Vec<usize> = (0..b.parts()).filter(|&p| b.last_moved[p] == now).collect();
    assert!(!moved_parts.is_empty());
    assert!(r.moved <= b.parts() - moved_parts.len());
}

#[test]
fn removed_device_is_emptied_at_once() {
    let mut b = three_zones(8, 24);
    rebalance(&mut b, 0, 1).unwrap();
    b.remove(3).unwrap();
    let had = stats(&b).devs.iter().find(|d| d.id == 3).unwrap().parts;
    let r = rebalance(&mut b, 60, 1).unwrap();
    assert!(r.moved >= had);
    assert_eq!(r.removed, vec![3]);
    assert!(b.devs[3].is_none());
    assert!(b.replica2part2dev.iter().flatten().all(|&id| id != 3));
    assert_valid(&b);
    // The freed id is reused.
    assert_eq!(add(&mut b, "r1z1-10.0.9.9:6200/sdz", 100.0), 3);
}

#[test]
fn zero_weight_drains_and_regions_share_replicas() {
    let mut b = RingBuilder::new(8, 3, 0).unwrap();
    for r in 1..=2 {
        for z in 1..=2 {
            add(&mut b, &format!("r{r}z{z}-10.{r}.{z}.1:6200/sda"), 100.0);
            add(&mut b, &format!("r{r}z{z}-10.{r}.{z}.2:6200/sda"), 100.0);
        }
    }
    rebalance(&mut b, 0, 3).unwrap();
    for part in 0..b.parts() {
        let regions: std::collections::HashSet<u32> =
            zones_of(&b, part).iter().map(|z| z.0).collect();
        assert_eq!(regions.len(), 2, "part {part} in one region");
        assert_eq!(zones_of(&b, part).len(), 3);
    }
    b.set_weight(0, 0.0).unwrap();
    rebalance(&mut b, 0, 3).unwrap();
    assert!(b.replica2part2dev.iter().flatten().all(|&id| id != 0));
    assert_valid(&b);
}

#[test]
fn fewer_devices_than_replicas_still_assigns_everything() {
    let mut b = RingBuilder::new(6, 3, 0).unwrap();
    add(&mut b, "r1z1-10.0.0.1:6200/sda", 1.0);
    add(&mut b, "r1z1-10.0.0.1:6200/sdb", 1.0);
    rebalance(&mut b, 0, 1).unwrap();
    assert!(b.replica2part2dev.iter().flatten().all(|&id| id < 2));
    assert!(b.to_ring_data().is_ok());
}

#[test]
fn random_topologies_stay_valid() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(66);
    for round in 0..12 {
        let replicas = rng.gen_range(1..=4);
        let mut b = RingBuilder::new(rng.gen_range(4..=9), replicas, rng.gen_range(0..=1)).unwrap();
        let n = rng.gen_range(replicas..=14);
        for i in 0..n {
            let spec = format!(
                "r{}z{}-10.0.{}.{}:6200/sd{i}",
                rng.gen_range(1..=2),
                rng.gen_range(1..=3),
                rng.gen_range(0..3),
                rng.gen_range(0..3)
            );
            add(&mut b, &spec, rng.gen_range(1..=300) as f64);
        }
        let mut now = 0;
        for _ in 0..4 {
            rebalance(&mut b, now, round).unwrap();
            assert_valid(&b);
            let data = b.to_ring_data().unwrap();
            crate::ring::Ring::new(data, Default::default()).unwrap();
            // Churn: a new device, a weight change, a removal.
            let ids: Vec<u32> = b.devices().map(|d| d.id).collect();
            match rng.gen_range(0..3) {
                0 => {
                    let spec = format!("r1z{}-10.9.{}.1:6200/sdx", rng.gen_range(1..=4), now);
                    add(&mut b, &spec, 100.0);
                }
                1 => b
                    .set_weight(
                        ids[rng.gen_range(0..ids.len())],
                        rng.gen_range(1..=300) as f64,
                    )
                    .unwrap(),
                _ if ids.len() > replicas as usize + 1 => {
                    b.remove(ids[rng.gen_range(0..ids.len())]).unwrap()
                }
                _ => {}
            }
            now += 7200;
        }
    }
}

#[test]
#[ignore]
fn timing_large() {
    let mut b = RingBuilder::new(16, 3, 1).unwrap();
    for r in 1..=2 {
        for z in 1..=3 {
            for s in 1..=5 {
                for d in 0..2 {
                    add(
                        &mut b,
                        &format!("r{r}z{z}-10.{r}.{z}.{s}:6200/sd{d}"),
                        (50 + 37 * (s + d + z) % 200) as f64,
                    );
                }
            }
        }
    }
    let t = std::time::Instant::now();
    let r = rebalance(&mut b, 0, 1).unwrap();
    eprintln!("initial {:?} {:?}", t.elapsed(), r);
    add(&mut b, "r2z3-10.2.3.9:6200/sda", 300.0);
    let t = std::time::Instant::now();
    let r = rebalance(&mut b, 7200, 1).unwrap();
    eprintln!(
        "add {:?} moved {} bal {} disp {}",
        t.elapsed(),
        r.moved,
        r.balance,
        r.dispersion
    );
}

#[test]
fn growth_keeps_dispersion_when_weights_allow() {
    // Two regions, six zones, uneven weights; then a heavy new device in a
    // zone that can still take it without doubling up partitions.
    let mut b = RingBuilder::new(10, 3, 1).unwrap();
    for r in 1..=2u32 {
        for z in 1..=3u32 {
            for s in 1..=2u32 {
                add(&mut b, &format!("r{r}z{z}-10.{r}.{z}.{s}:6200/sda"), 100.0);
                add(
                    &mut b,
                    &format!("r{r}z{z}-10.{r}.{z}.{s}:6200/sdb"),
                    f64::from(50 + 30 * (s + z + r)),
                );
            }
        }
    }
    let r = rebalance(&mut b, 0, 5).unwrap();
    assert_eq!(r.dispersion, 0.0);
    add(&mut b, "r2z2-10.2.2.9:6200/sda", 300.0);
    let r = rebalance(&mut b, 7200, 5).unwrap();
    let share = targets(&b)[24];
    assert_eq!(r.moved, share, "only the new device's share moves");
    assert!(r.balance < 1.0, "balance {}", r.balance);
    assert!(r.dispersion < 0.5, "dispersion {}", r.dispersion);
}

#[test]
fn replica_count_changes() {
    let mut b = three_zones(8, 1);
    rebalance(&mut b, 0, 1).unwrap();
    b.set_replicas(4).unwrap();
    let r = rebalance(&mut b, 60, 1).unwrap();
    // Only the new replicas are placed, even within min_part_hours.
    assert_eq!(r.moved, 256);
    assert_valid(&b);
    assert!(r.balance < 1.5, "balance {}", r.balance);
    b.set_replicas(2).unwrap();
    rebalance(&mut b, 120, 1).unwrap();
    assert_valid(&b);
    assert_eq!(b.to_ring_data().unwrap().replica_count(), 2.0);
}
