//! Swift's quorum rules for replicated requests: how many answers make a
//! decision, which answer the client gets, and how container updates are
//! spread over the object writes.

/// Swift's `quorum_size` for replicated data: a majority of `n`, rounded
/// up (`(n + 1) // 2`, which is `n // 2 + 1` for odd replica counts).
pub fn quorum_size(n: usize) -> usize {
    n.div_ceil(2)
}

/// Swift's `best_response`: the first status class (2xx, then 3xx, then
/// 4xx) answered by at least `quorum` backends wins, and within it the
/// highest status; `None` (the caller answers 503) when no class has a
/// quorum. Returns the index of the chosen answer.
pub fn best_response(statuses: &[u16], quorum: usize) -> Option<usize> {
    for hundred in [200u16, 300, 400] {
        let class: Vec<(usize, u16)> = statuses
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, s)| (hundred..hundred + 100).contains(s))
            .collect();
        if class.len() >= quorum.max(1) {
            // max_by_key keeps the last of equal keys; Swift keeps the first.
            let best = class.iter().map(|(_, s)| *s).max()?;
            return class.iter().find(|(_, s)| *s == best).map(|(i, _)| *i);
        }
    }
    None
}

/// Swift's `num_container_updates`: enough object writes must carry a
/// container update that a write acknowledged by a quorum leaves updates
/// on a quorum of container replicas, and every container replica is
/// named at least once.
pub fn num_container_updates(
    container_replicas: usize,
    container_quorum: usize,
    object_replicas: usize,
    object_quorum: usize,
) -> usize {
    (container_quorum + object_replicas)
        .saturating_sub(object_quorum)
        .max(container_replicas)
}

/// Which container replicas each of `n_outgoing` object writes updates
/// (indexes into the container's primaries), as Swift's proxy spreads
/// them: round robin over the writes, cycling through the containers.
pub fn spread_container_updates(n_containers: usize, n_outgoing: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); n_outgoing];
    if n_containers == 0 || n_outgoing == 0 {
        return out;
    }
    let needed = num_container_updates(
        n_containers,
        quorum_size(n_containers),
        n_outgoing,
        quorum_size(n_outgoing),
    );
    for i in 0..needed {
        out[i % n_outgoing].push(i % n_containers);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_is_a_majority() {
        assert_eq!(
            [1, 2, 3, 4, 5].map(quorum_size),
            [1, 1, 2, 2, 3],
            "Swift's (n + 1) // 2"
        );
    }

    #[test]
    fn best_response_follows_swift() {
        assert_eq!(best_response(&[201, 201, 503], 2), Some(0));
        assert_eq!(best_response(&[201, 503, 503], 2), None);
        assert_eq!(best_response(&[404, 404, 201], 2), Some(0));
        // Within a class the highest status wins.
        assert_eq!(best_response(&[204, 201, 503], 2), Some(0));
        assert_eq!(best_response(&[201, 202, 202], 2), Some(1));
        // 2xx is preferred over a 4xx quorum only when it has one itself.
        assert_eq!(best_response(&[201, 201, 404, 404], 2), Some(0));
        assert_eq!(best_response(&[], 2), None);
    }

    #[test]
    fn container_updates_cover_every_replica() {
        assert_eq!(num_container_updates(3, 2, 3, 2), 3);
        assert_eq!(num_container_updates(3, 2, 5, 3), 4);
        assert_eq!(
            spread_container_updates(3, 3),
            vec![vec![0], vec![1], vec![2]]
        );
        // More container replicas than writes: some writes carry two.
        assert_eq!(spread_container_updates(3, 2), vec![vec![0, 2], vec![1]]);
        assert_eq!(
            spread_container_updates(1, 3),
            vec![vec![0], vec![0], vec![]]
        );
    }
}
