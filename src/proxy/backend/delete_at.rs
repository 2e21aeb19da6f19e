//! The expirer-queue headers Swift's proxy adds to object writes that carry
//! `X-Delete-At`: which `.expiring_objects` task container the expiry goes
//! in, and the container servers that hold it
//! (`X-Delete-At-Container/Partition/Host/Device`). A Swift object server
//! queues the expiry there only when they are present; paco's own object
//! server keeps its queue next to the objects and ignores them. Also
//! `X-Backend-Clean-Expiring-Object-Queue`, which limits how many object
//! servers remove an old queue entry.

use crate::http::Headers;
use crate::ring::Ring;

/// The hidden account of Swift's expirer queue.
pub const ACCOUNT: &str = ".expiring_objects";
/// Seconds per day of task containers (Swift's `expirer_divisor`).
const DIVISOR: i64 = 86400;
/// Task containers per day (Swift's `EXPIRER_CONTAINER_PER_DIVISOR`).
const PER_DIVISOR: u128 = 100;
/// Object servers asked to clean the old queue entry of an overwrite.
const CLEANERS: usize = 2;

/// Swift's normalized delete-at time: ten digits, zero padded, clamped.
pub fn normalize(at: i64) -> String {
    format!("{:010}", at.clamp(0, 9_999_999_999))
}

/// The task container of an object expiring at `at`: the start of its day,
/// moved back by a hash of the object's path so one day's expiries spread
/// over a hundred containers (Swift's `get_expirer_container`).
pub fn task_container(
    ring: &Ring,
    at: i64,
    account: &str,
    container: &str,
    object: &str,
) -> String {
    let shard = ring
        .hash_path(account, Some(container), Some(object))
        .map(|d| (u128::from_be_bytes(d) % PER_DIVISOR) as i64)
        .unwrap_or(0);
    normalize(at.div_euclid(DIVISOR) * DIVISOR - shard)
}

/// Adds the expirer-queue headers to the outgoing copies of one object
/// write. `n_updates` is how many container updates the write carries;
/// the task container's servers are spread the same way, from the last
/// request backwards, as Swift's `_backend_requests` does.
pub fn add_headers(
    cring: Option<&Ring>,
    account: &str,
    container: &str,
    object: &str,
    n_updates: usize,
    outgoing: &mut [Headers],
) {
    for (i, h) in outgoing.iter_mut().enumerate() {
        if !h.contains("x-backend-clean-expiring-object-queue") {
            let clean = if i < CLEANERS { "t" } else { "f" };
            h.set("X-Backend-Clean-Expiring-Object-Queue", clean);
        }
    }
    let n = outgoing.len();
    let Some(ring) = cring else { return };
    let at = outgoing
        .first()
        .and_then(|h| h.get("x-delete-at"))
        .and_then(|v| v.trim().parse::<i64>().ok());
    let Some(at) = at else { return };
    if n == 0 {
        return;
    }
    let task = task_container(ring, at, account, container, object);
    let Ok((part, nodes)) = ring.get_nodes(ACCOUNT, Some(&task), None) else {
        return;
    };
    if nodes.is_empty() {
        return;
    }
    let mut hosts: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut devices: Vec<Vec<String>> = vec![Vec::new(); n];
    for k in 0..n_updates.max(1) {
        let idx = n - 1 - (k % n);
        let node = nodes[k % nodes.len()];
        hosts[idx].push(node.host_port());
        devices[idx].push(node.device.clone());
    }
    for ((h, hs), ds) in outgoing.iter_mut().zip(hosts).zip(devices) {
        if hs.is_empty() {
            continue;
        }
        h.set("X-Delete-At-Container", task.clone());
        h.set("X-Delete-At-Partition", part.to_string());
        h.set("X-Delete-At-Host", hs.join(","));
        h.set("X-Delete-At-Device", ds.join(","));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::hash::HashConf;
    use crate::ring::ringdata::tests::sample;

    fn ring() -> Ring {
        let conf = HashConf {
            prefix: "pre".into(),
            suffix: "suf".into(),
        };
        Ring::new(sample(8, false), conf).expect("ring")
    }

    #[test]
    fn task_containers_match_swift() {
        // Swift 2.38.3's ExpirerConfig().get_expirer_container with hash
        // prefix "pre" and suffix "suf".
        let r = ring();
        let at = 1_700_000_000;
        assert_eq!(
            task_container(&r, at, "AUTH_test", "photos", "cat.jpg"),
            "1699919984"
        );
        assert_eq!(
            task_container(&r, at, "AUTH_test", "photos", "obj/with/slashes"),
            "1699919967"
        );
        assert_eq!(
            task_container(&r, 86400 * 3 + 5, "a", "c", "cat.jpg"),
            "0000259143"
        );
    }

    #[test]
    fn queue_hosts_spread_from_the_last_request_backwards() {
        let r = ring();
        let mut out: Vec<Headers> = (0..3)
            .map(|_| {
                let mut h = Headers::new();
                h.set("X-Delete-At", "1700000000");
                h
            })
            .collect();
        add_headers(Some(&r), "AUTH_test", "photos", "cat.jpg", 3, &mut out);
        let task = task_container(&r, 1_700_000_000, "AUTH_test", "photos", "cat.jpg");
        let (part, nodes) = r.get_nodes(ACCOUNT, Some(&task), None).expect("nodes");
        for (i, h) in out.iter().enumerate() {
            let node = nodes[2 - i];
            assert_eq!(h.get("x-delete-at-host"), Some(node.host_port().as_str()));
            assert_eq!(h.get("x-delete-at-device"), Some(node.device.as_str()));
            assert_eq!(h.get("x-delete-at-container"), Some(task.as_str()));
            assert_eq!(
                h.get("x-delete-at-partition"),
                Some(part.to_string().as_str())
            );
        }
        let clean: Vec<_> = out
            .iter()
            .map(|h| h.get("x-backend-clean-expiring-object-queue"))
            .collect();
        assert_eq!(clean, [Some("t"), Some("t"), Some("f")]);
        // Without X-Delete-At only the cleaning hint is added.
        let mut plain = vec![Headers::new()];
        add_headers(Some(&r), "a", "c", "o", 1, &mut plain);
        assert!(!plain[0].contains("x-delete-at-host"));
    }

    #[test]
    fn delete_at_is_ten_digits() {
        assert_eq!(normalize(1_700_000_000), "1700000000");
        assert_eq!(normalize(5), "0000000005");
        assert_eq!(normalize(-3), "0000000000");
        assert_eq!(normalize(99_999_999_999), "9999999999");
    }
}
