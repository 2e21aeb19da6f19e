use super::*;
use crate::ring::ringdata::tests::sample;

type Name = Option<(&'static str, Option<&'static str>, Option<&'static str>)>;

/// Computed by Swift 2.38.3's `Ring` on the same hand-made rings (prefix
/// `pre`, suffix `suf`): (name or bare partition, partition, primaries,
/// all handoffs).
const VECTORS_PP8: &[(Name, u32, &[u32], &[u32])] = &[
    (
        Some(("a", None, None)),
        171,
        &[6, 11, 4],
        &[2, 0, 8, 7, 10, 3, 5, 1, 9],
    ),
    (
        Some(("a", Some("c"), None)),
        13,
        &[11, 4, 9],
        &[2, 0, 7, 10, 3, 6, 5, 8, 1],
    ),
    (
        Some(("a", Some("c"), Some("o"))),
        60,
        &[8, 1, 6],
        &[3, 10, 4, 11, 2, 7, 9, 0, 5],
    ),
    (
        Some(("AUTH_test", Some("photos"), Some("cat.jpg"))),
        122,
        &[6, 11, 4],
        &[9, 2, 0, 7, 10, 3, 5, 8, 1],
    ),
    (
        Some(("acct", Some("cont"), Some("obj/with/slashes"))),
        107,
        &[4, 9, 2],
        &[1, 10, 6, 3, 11, 7, 8, 0, 5],
    ),
    (None, 0, &[0, 5, 10], &[6, 8, 2, 11, 7, 3, 4, 1, 9]),
    (None, 5, &[0, 5, 10], &[9, 2, 6, 11, 7, 3, 4, 8, 1]),
    (None, 255, &[10, 3, 8], &[7, 0, 5, 2, 6, 11, 1, 4, 9]),
];

/// Part power 18 (the handoff walk steps by 4) with a half-length third
/// replica row.
const VECTORS_PP18: &[(Name, u32, &[u32], &[u32])] = &[
    (
        Some(("a", None, None)),
        175314,
        &[4, 9],
        &[2, 7, 0, 11, 6, 10, 3, 8, 1, 5],
    ),
    (
        Some(("a", Some("c"), None)),
        13462,
        &[9, 2, 7],
        &[11, 4, 1, 10, 3, 6, 8, 0, 5],
    ),
    (
        Some(("a", Some("c"), Some("o"))),
        61717,
        &[11, 4, 9],
        &[2, 7, 1, 6, 10, 3, 8, 0, 5],
    ),
    (
        Some(("AUTH_test", Some("photos"), Some("cat.jpg"))),
        125683,
        &[3, 8, 1],
        &[7, 5, 10, 2, 6, 11, 0, 4, 9],
    ),
    (
        Some(("acct", Some("cont"), Some("obj/with/slashes"))),
        109844,
        &[10, 3, 8],
        &[1, 7, 5, 2, 6, 11, 0, 4, 9],
    ),
    (None, 0, &[0, 5, 10], &[6, 3, 9, 11, 2, 7, 1, 4, 8]),
    (None, 5, &[0, 5, 10], &[2, 7, 8, 6, 11, 3, 1, 4, 9]),
    (None, 255, &[10, 3, 8], &[0, 5, 7, 2, 6, 11, 4, 9, 1]),
];

fn conf() -> HashConf {
    HashConf {
        prefix: "pre".into(),
        suffix: "suf".into(),
    }
}

fn check(ring: &Ring, vectors: &[(Name, u32, &[u32], &[u32])]) {
    for (name, part, primaries, handoffs) in vectors {
        if let Some((a, c, o)) = name {
            assert_eq!(ring.get_part(a, *c, *o).unwrap(), *part, "{name:?}");
        }
        let ids: Vec<u32> = ring.get_part_nodes(*part).iter().map(|d| d.id).collect();
        assert_eq!(&ids, primaries, "primaries of {part}");
        let ids: Vec<u32> = ring.get_more_nodes(*part).map(|d| d.id).collect();
        assert_eq!(&ids, handoffs, "handoffs of {part}");
    }
}

#[test]
fn lookups_match_swift() {
    check(&Ring::new(sample(8, false), conf()).unwrap(), VECTORS_PP8);
    check(&Ring::new(sample(18, true), conf()).unwrap(), VECTORS_PP18);
}

#[test]
fn lookups_survive_both_formats() {
    for fv in [1, 2] {
        let bytes = sample(18, true).to_bytes(fv, None).unwrap();
        let ring = Ring::new(RingData::from_bytes(&bytes).unwrap(), conf()).unwrap();
        check(&ring, VECTORS_PP18);
    }
}

#[test]
fn handoffs_are_lazy_and_never_repeat_primaries() {
    let ring = Ring::new(sample(8, false), conf()).unwrap();
    for part in 0..256 {
        let prim: Vec<u32> = ring.get_part_nodes(part).iter().map(|d| d.id).collect();
        let hand: Vec<u32> = ring.get_more_nodes(part).map(|d| d.id).collect();
        assert_eq!(prim.len() + hand.len(), 12);
        assert!(hand.iter().all(|h| !prim.contains(h)));
        assert_eq!(ring.get_more_nodes(part).take(2).count(), 2);
    }
    // A partition outside the ring has no primaries but still a walk.
    assert!(ring.get_part_nodes(1 << 20).is_empty());
    assert_eq!(ring.get_more_nodes(1 << 20).count(), 12);
}

#[test]
fn empty_ring_is_unusable() {
    let mut data = sample(4, false);
    data.replica2part2dev.clear();
    assert!(matches!(
        Ring::new(data, conf()),
        Err(RingError::Unusable(_))
    ));
}

#[test]
fn less_than_one_replica_walks_like_swift() {
    // One half-length row: partitions past its end have no primaries and
    // the handoff walk starts past the end, as in Swift (checked against
    // Swift 2.38.3 for 300 names while writing this).
    let mut data = sample(8, false);
    data.replica2part2dev = vec![data.replica2part2dev[0][..128].to_vec()];
    let ring = Ring::new(data, conf()).unwrap();
    assert_eq!(ring.partition_count(), 128);
    for part in [0u32, 127, 128, 255, 1 << 20] {
        let prim = ring.get_part_nodes(part);
        assert_eq!(prim.len(), usize::from(part < 128));
        let hand: Vec<u32> = ring.get_more_nodes(part).map(|d| d.id).collect();
        let mut dedup = hand.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), hand.len());
    }
}
