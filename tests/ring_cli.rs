//! `paco ring ...` end to end: build a ring with the CLI, write it in both
//! formats, look names up, and check the reported numbers.

mod common;

use std::path::Path;

fn paco(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = common::paco_output(dir, args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(dir: &Path, args: &[&str]) -> String {
    common::run_paco(dir, args)
}

fn build(dir: &Path) {
    ok(dir, &["ring", "create", "8", "3", "1"]);
    for (z, ip) in [
        (1, "10.0.0.1"),
        (2, "10.0.0.2"),
        (3, "10.0.0.3"),
        (4, "10.0.0.4"),
    ] {
        ok(
            dir,
            &[
                "ring",
                "add",
                &format!("r1z{z}-{ip}:6200/sda"),
                "100",
                &format!("r1z{z}-{ip}:6200/sdb"),
                "50",
            ],
        );
    }
}

#[test]
fn build_write_and_get() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(d);
    let out = ok(d, &["ring", "rebalance", "--seed", "3"]);
    assert!(
        out.starts_with("Reassigned 768 (300.00%) partitions."),
        "{out}"
    );
    let list = ok(d, &["ring", "list"]);
    assert!(
        list.contains("256 partitions, 3.000000 replicas, 1 regions, 4 zones, 8 devices"),
        "{list}"
    );
    assert!(list.contains("0.00 dispersion"), "{list}");
    for fv in ["1", "2"] {
        let ring = format!("v{fv}.ring.gz");
        ok(
            d,
            &["ring", "write_ring", "-o", &ring, "--format-version", fv],
        );
        let info = ok(d, &["ring", "info", &ring]);
        assert!(
            info.contains(&format!("format v{fv}, 2-byte device ids")),
            "{info}"
        );
        let conf = d.join("swift.conf");
        std::fs::write(&conf, "[swift-hash]\nswift_hash_path_suffix = abc\n").unwrap();
        let json = ok(
            d,
            &[
                "ring",
                "get",
                &ring,
                "AUTH_a",
                "c",
                "o/with/slash",
                "--json",
                "--swift-conf",
                conf.to_str().unwrap(),
            ],
        );
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(v["partition"].as_u64().unwrap() < 256);
        let prim = v["primaries"].as_array().unwrap();
        assert_eq!(prim.len(), 3);
        let zones: std::collections::HashSet<u64> =
            prim.iter().map(|d| d["zone"].as_u64().unwrap()).collect();
        assert_eq!(zones.len(), 3, "primaries in distinct zones: {json}");
        for key in ["id", "region", "zone", "ip", "port", "device"] {
            assert!(prim[0].get(key).is_some(), "{key} missing in {json}");
        }
        assert_eq!(v["handoffs"].as_array().unwrap().len(), 3);
        // The text form agrees with the JSON.
        let text = ok(
            d,
            &[
                "ring",
                "get",
                &ring,
                "AUTH_a",
                "c",
                "o/with/slash",
                "--swift-conf",
                conf.to_str().unwrap(),
            ],
        );
        assert!(
            text.contains(&format!("Partition\t{}", v["partition"])),
            "{text}"
        );
        // Another salt moves names.
        std::fs::write(&conf, "[swift-hash]\nswift_hash_path_suffix = other\n").unwrap();
        let parts: Vec<String> = (0..20)
            .map(|i| {
                let a = format!("AUTH_{i}");
                let j = ok(
                    d,
                    &[
                        "ring",
                        "get",
                        &ring,
                        &a,
                        "--json",
                        "--swift-conf",
                        conf.to_str().unwrap(),
                    ],
                );
                serde_json::from_str::<serde_json::Value>(&j).unwrap()["partition"].to_string()
            })
            .collect();
        let distinct: std::collections::HashSet<&String> = parts.iter().collect();
        assert!(distinct.len() > 10, "names spread over partitions");
    }
}

#[test]
fn add_remove_and_min_part_hours() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(d);
    ok(d, &["ring", "rebalance"]);
    // A device that already exists is refused.
    let (success, _, err) = paco(d, &["ring", "add", "r1z1-10.0.0.1:6200/sda", "100"]);
    assert!(!success && err.contains("already uses"), "{err}");
    ok(d, &["ring", "add", "r1z5-10.0.0.5:6200/sda", "100"]);
    // Every partition just moved: min_part_hours holds them all.
    let out = ok(d, &["ring", "rebalance"]);
    assert!(out.starts_with("Reassigned 0 "), "{out}");
    ok(d, &["ring", "pretend_min_part_hours_passed"]);
    let out = ok(d, &["ring", "rebalance"]);
    let moved: usize = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    // The new device's share of 768 replicas by weight (100 of 700).
    assert!((100..=115).contains(&moved), "{out}");
    ok(d, &["ring", "remove", "d0"]);
    let out = ok(d, &["ring", "rebalance"]);
    assert!(out.contains("Device d0 removed."), "{out}");
    let (success, _, err) = paco(d, &["ring", "set_weight", "r1", "10"]);
    assert!(!success && err.contains("--yes"), "{err}");
    ok(d, &["ring", "set_weight", "r1z2", "10", "--yes"]);
    ok(d, &["ring", "write_ring"]);
    assert!(d.join("object.ring.gz").exists());
    // Bad input gets a reason, not a panic.
    let (success, _, err) = paco(d, &["ring", "get", "object.builder", "a"]);
    assert!(!success && err.contains("gzip"), "{err}");
    let (success, _, err) = paco(d, &["ring", "create", "8", "3", "1"]);
    assert!(!success && err.contains("--force"), "{err}");
}
