//! Swift's path hashing: the MD5 that names an object's directory on disk
//! and, through its first four bytes, picks the ring partition. It must match
//! Swift bit for bit, or paco and Swift nodes would look for the same object
//! in different places.

use md5::{Digest, Md5};

/// The cluster-wide salt around every hashed path, from `swift.conf`'s
/// `[swift-hash]` `swift_hash_path_prefix` / `swift_hash_path_suffix`.
///
/// Swift reads that file as latin-1 and re-encodes it as latin-1, i.e. it
/// uses the file's raw bytes; using the UTF-8 bytes of strings read from a
/// UTF-8 file gives the same bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashConf {
    /// Bytes hashed before the path.
    pub prefix: String,
    /// Bytes hashed after the path.
    pub suffix: String,
}

impl HashConf {
    /// Swift refuses to start when both prefix and suffix are empty, since
    /// then anyone could predict where objects land on disk.
    pub fn validate(&self) -> Result<(), HashError> {
        if self.prefix.is_empty() && self.suffix.is_empty() {
            Err(HashError::EmptyConf)
        } else {
            Ok(())
        }
    }
}

/// Why a path could not be hashed or a configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// An object name was given without a container name.
    #[error("container is required if object is provided")]
    ObjectWithoutContainer,
    /// Both prefix and suffix are empty.
    #[error("swift_hash_path_prefix and swift_hash_path_suffix are both empty")]
    EmptyConf,
}

/// MD5 of `prefix + "/" + "/".join([account, container, object]) + suffix`,
/// Swift's `hash_path` with a raw digest.
///
/// As in Swift, an empty container or object counts as absent (so
/// `("a", Some(""), None)` hashes `/a`), and an object without a container
/// is an error.
pub fn hash_path(
    conf: &HashConf,
    account: &str,
    container: Option<&str>,
    object: Option<&str>,
) -> Result<[u8; 16], HashError> {
    let container = container.filter(|c| !c.is_empty());
    let object = object.filter(|o| !o.is_empty());
    if object.is_some() && container.is_none() {
        return Err(HashError::ObjectWithoutContainer);
    }
    let mut md5 = Md5::new();
    md5.update(conf.prefix.as_bytes());
    md5.update(b"/");
    md5.update(account.as_bytes());
    for part in [container, object].into_iter().flatten() {
        md5.update(b"/");
        md5.update(part.as_bytes());
    }
    md5.update(conf.suffix.as_bytes());
    Ok(md5.finalize().into())
}

/// Lower-case hex of a digest: the name of the hash directory on disk.
pub fn hash_hex(digest: &[u8; 16]) -> String {
    hex::encode(digest)
}

/// The suffix directory of a hash directory: its last three hex digits.
/// Returns the whole string when it is shorter than three characters.
pub fn hash_suffix(hash_hex: &str) -> &str {
    let cut = hash_hex.char_indices().rev().nth(2).map_or(0, |(i, _)| i);
    &hash_hex[cut..]
}

/// The ring partition of a digest: its first four bytes as a big-endian
/// `u32`, shifted right by `32 - part_power` (Swift's `get_part`).
///
/// # Panics
/// If `part_power > 32`; ring loading must refuse such rings first.
pub fn partition(digest: &[u8; 16], part_power: u8) -> u32 {
    assert!(part_power <= 32, "part_power {part_power} exceeds 32");
    let top = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    // Shift in 64 bits: part_power 0 means a shift by 32, which u32 refuses.
    ((top as u64) >> (32 - part_power as u32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values were computed with:
    // python3 -c "import hashlib,struct,sys; p,s,*parts=sys.argv[1:];
    //   d=hashlib.md5(p.encode()+b'/'+b'/'.join(x.encode() for x in parts)+s.encode()).digest();
    //   print(d.hex(), struct.unpack('>I', d[:4])[0])" '' changeme a c o
    // (first two arguments: prefix, suffix; the rest: path components).

    fn conf(prefix: &str, suffix: &str) -> HashConf {
        HashConf {
            prefix: prefix.into(),
            suffix: suffix.into(),
        }
    }

    fn hx(c: &HashConf, a: &str, co: Option<&str>, o: Option<&str>) -> String {
        match hash_path(c, a, co, o) {
            Ok(d) => hash_hex(&d),
            Err(e) => panic!("hash failed: {e}"),
        }
    }

    #[test]
    fn matches_swift_with_suffix_only() {
        let c = conf("", "changeme");
        assert_eq!(hx(&c, "a", None, None), "b8ea67c480b33ac40c79510c7df2b8a8");
        assert_eq!(
            hx(&c, "a", Some("c"), None),
            "e8fbcd486a77117e2cd3398aa1f9485f"
        );
        assert_eq!(
            hx(&c, "a", Some("c"), Some("o")),
            "2f714cd91b0e5d803cde2012b01d7099"
        );
    }

    #[test]
    fn matches_swift_with_prefix() {
        let c = conf("startcap", "");
        assert_eq!(
            hx(&c, "AUTH_test", Some("cont"), Some("obj")),
            "2f06fea1915d4ef7e2ec817eec2440cf"
        );
    }

    #[test]
    fn matches_swift_with_unicode_names() {
        let c = conf("pre", "suf");
        assert_eq!(
            hx(
                &c,
                "AUTH_test",
                Some("c\u{e9}"),
                Some("\u{2603}/snow man.txt")
            ),
            "76890cb7ac652673cec21a57772f71df"
        );
        let c = conf("", "changeme");
        assert_eq!(
            hx(&c, "AUTH_test", Some("\u{1F600}"), Some("x")),
            "77f0d1105eb921213411264e89fddc5b"
        );
    }

    #[test]
    fn empty_parts_count_as_absent() {
        let c = conf("", "changeme");
        assert_eq!(hx(&c, "a", Some(""), None), hx(&c, "a", None, None));
        assert_eq!(
            hx(&c, "a", Some("c"), Some("")),
            hx(&c, "a", Some("c"), None)
        );
        assert_eq!(
            hash_path(&c, "a", None, Some("o")),
            Err(HashError::ObjectWithoutContainer)
        );
        assert_eq!(
            hash_path(&c, "a", Some(""), Some("o")),
            Err(HashError::ObjectWithoutContainer)
        );
    }

    #[test]
    fn partitions_match_swift() {
        let c = conf("", "changeme");
        let cases: [(Option<&str>, Option<&str>, [u32; 6]); 3] = [
            (None, None, [0, 1, 184, 739, 189353, 3102369732]),
            (Some("c"), None, [0, 1, 232, 931, 238575, 3908816200]),
            (Some("c"), Some("o"), [0, 0, 47, 189, 48581, 795954393]),
        ];
        for (co, o, parts) in cases {
            let d = match hash_path(&c, "a", co, o) {
                Ok(d) => d,
                Err(e) => panic!("{e}"),
            };
            for (power, want) in [0u8, 1, 8, 10, 18, 32].into_iter().zip(parts) {
                assert_eq!(partition(&d, power), want, "power {power}");
            }
        }
    }

    #[test]
    #[should_panic]
    fn partition_power_above_32_panics() {
        partition(&[0; 16], 33);
    }

    #[test]
    fn suffix_and_conf_validation() {
        assert_eq!(hash_suffix("2f714cd91b0e5d803cde2012b01d7099"), "099");
        assert_eq!(hash_suffix("ab"), "ab");
        assert_eq!(hash_suffix(""), "");
        assert_eq!(conf("", "").validate(), Err(HashError::EmptyConf));
        assert_eq!(conf("x", "").validate(), Ok(()));
        assert_eq!(conf("", "y").validate(), Ok(()));
    }
}
