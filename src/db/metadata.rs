//! Account and container metadata as Swift stores it: one JSON object in
//! the stat row, `{"X-Container-Meta-Color": ["blue", "1700000000.12345"]}`,
//! each value carrying the timestamp of the request that set it. Merging
//! keeps, per key, the value with the newest timestamp; an empty value is a
//! deletion that still remembers its timestamp (so an older set cannot bring
//! the key back) and is hidden from readers.

use std::collections::BTreeMap;

use crate::common::timestamp::Timestamp;

/// Stored metadata: header name → (value, timestamp in internal form).
pub type RawMetadata = BTreeMap<String, (String, String)>;

/// Parses the stored JSON; an empty column (Swift's default) is no metadata.
pub fn parse(json: &str) -> Result<RawMetadata, String> {
    if json.trim().is_empty() {
        return Ok(RawMetadata::new());
    }
    serde_json::from_str(json).map_err(|e| format!("metadata JSON: {e}"))
}

/// The JSON to store.
pub fn to_json(raw: &RawMetadata) -> String {
    // A map of strings to pairs of strings always serializes.
    serde_json::to_string(raw).unwrap_or_else(|_| "{}".to_string())
}

/// True when `new` is newer than the stored timestamp text (an unreadable
/// stored timestamp loses).
fn newer(new: &Timestamp, stored: &str) -> bool {
    match Timestamp::parse(stored) {
        Ok(old) => *new > old,
        Err(_) => true,
    }
}

/// Applies `updates` made at `ts`: each key takes the new value unless the
/// stored one is at least as new. An empty value deletes the key. Returns
/// whether anything changed.
pub fn merge(raw: &mut RawMetadata, ts: Timestamp, updates: &[(String, String)]) -> bool {
    let stamp = ts.internal();
    let mut changed = false;
    for (key, value) in updates {
        let take = match raw.get(key) {
            Some((_, stored)) => newer(&ts, stored),
            None => true,
        };
        if take {
            raw.insert(key.clone(), (value.clone(), stamp.clone()));
            changed = true;
        }
    }
    changed
}

/// Deletes every key at `ts` (what Swift does when an account or container
/// is deleted), keeping keys set after `ts`.
pub fn clear_all(raw: &mut RawMetadata, ts: Timestamp) -> bool {
    let keys: Vec<(String, String)> = raw.keys().map(|k| (k.clone(), String::new())).collect();
    merge(raw, ts, &keys)
}

/// The metadata readers see: keys with a non-empty value.
pub fn visible(raw: &RawMetadata) -> BTreeMap<String, String> {
    raw.iter()
        .filter(|(_, (v, _))| !v.is_empty())
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn newer_wins_per_key_and_empty_deletes() {
        let mut raw = RawMetadata::new();
        assert!(merge(&mut raw, ts(10), &[kv("A", "1"), kv("B", "2")]));
        // Older write to A is ignored, newer write to B applies.
        assert!(!merge(&mut raw, ts(5), &[kv("A", "old")]));
        assert!(merge(&mut raw, ts(20), &[kv("B", "3")]));
        let v = visible(&raw);
        assert_eq!(v.get("A").map(String::as_str), Some("1"));
        assert_eq!(v.get("B").map(String::as_str), Some("3"));
        // Equal timestamps do not overwrite (Swift compares with `>`).
        assert!(!merge(&mut raw, ts(20), &[kv("B", "same-time")]));
        // Delete B at 30; a set at 25 cannot resurrect it.
        assert!(merge(&mut raw, ts(30), &[kv("B", "")]));
        assert!(!merge(&mut raw, ts(25), &[kv("B", "zombie")]));
        assert!(!visible(&raw).contains_key("B"));
        assert!(raw.contains_key("B"), "the deletion keeps its timestamp");
    }

    #[test]
    fn json_round_trip_matches_swift_shape() {
        let mut raw = RawMetadata::new();
        merge(&mut raw, ts(1), &[kv("X-Container-Meta-Color", "blue")]);
        let json = to_json(&raw);
        assert_eq!(
            json,
            r#"{"X-Container-Meta-Color":["blue","0000000001.00000"]}"#
        );
        assert_eq!(parse(&json), Ok(raw));
        assert_eq!(parse(""), Ok(RawMetadata::new()));
        assert!(parse("{not json").is_err());
    }

    #[test]
    fn clear_all_keeps_later_keys() {
        let mut raw = RawMetadata::new();
        merge(&mut raw, ts(1), &[kv("A", "1")]);
        merge(&mut raw, ts(9), &[kv("B", "2")]);
        clear_all(&mut raw, ts(5));
        let v = visible(&raw);
        assert!(!v.contains_key("A"));
        assert_eq!(v.get("B").map(String::as_str), Some("2"));
    }
}
