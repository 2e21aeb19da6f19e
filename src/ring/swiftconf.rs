//! The `[swift-hash]` section of Swift's `swift.conf`, so `paco ring get`
//! hashes names exactly as the Swift cluster that owns the ring.

use std::path::Path;

use super::RingError;
use crate::common::hash::HashConf;

/// Reads `swift_hash_path_prefix` and `swift_hash_path_suffix` from an
/// INI-style `swift.conf`. Missing keys are empty; both empty is refused,
/// as Swift refuses to start then.
pub fn load_hash_conf(path: &Path) -> Result<HashConf, RingError> {
    let bytes = std::fs::read(path).map_err(|e| RingError::io(path, e))?;
    // Swift reads the file as latin-1 and hashes those same bytes; mapping
    // each byte to the char of the same value round-trips them, but paco
    // hashes UTF-8, so non-ASCII values are only exact for UTF-8 files.
    let text = String::from_utf8_lossy(&bytes);
    let conf = parse_hash_conf(&text);
    conf.validate()
        .map_err(|e| RingError::Format(format!("{}: {e}", path.display())))?;
    Ok(conf)
}

/// The `[swift-hash]` values of an INI text.
pub fn parse_hash_conf(text: &str) -> HashConf {
    let mut conf = HashConf::default();
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = name.trim() == "swift-hash";
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            continue;
        };
        match key.trim() {
            "swift_hash_path_prefix" => conf.prefix = value.trim().to_string(),
            "swift_hash_path_suffix" => conf.suffix = value.trim().to_string(),
            _ => {}
        }
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_swift_hash_section_only() {
        let c = parse_hash_conf(
            "[swift-hash]\n# comment\nswift_hash_path_suffix = s3cr3t\nswift_hash_path_prefix=pre \n\
             [storage-policy:0]\nname = gold\nswift_hash_path_prefix = no\n",
        );
        assert_eq!(c.prefix, "pre");
        assert_eq!(c.suffix, "s3cr3t");
        assert_eq!(
            parse_hash_conf("[other]\nswift_hash_path_suffix=x\n"),
            HashConf::default()
        );
    }
}
