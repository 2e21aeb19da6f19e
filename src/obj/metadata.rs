//! The metadata stored with every object file, and its on-disk encoding: a
//! trailer after the object bytes, so any amount of metadata fits on any
//! filesystem (ext4 keeps only ~4 KiB of xattrs per inode) and the object
//! bytes stay at offset 0, where `head -c` or a reader of the raw file finds
//! them. See `docs/on-disk-format.md`.

use std::collections::BTreeMap;

/// Metadata keys and values, as Swift keeps them (`X-Timestamp`,
/// `Content-Type`, `ETag`, `X-Object-Meta-*`, ...). Keys keep their case.
pub type Metadata = BTreeMap<String, String>;

/// Marks the end of a paco object file.
pub const MAGIC: &[u8; 8] = b"PACOMD01";
/// Bytes in the fixed footer: meta length (u32), meta CRC32 (u32), body
/// length (u64), magic (8), all little-endian.
pub const FOOTER_LEN: usize = 24;
/// Largest metadata block accepted when reading (Swift's limits keep real
/// metadata far below this; a larger value means a damaged file).
pub const MAX_META_LEN: usize = 1 << 20;

/// Why a file's metadata could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// The footer or the metadata block is damaged.
    #[error("corrupt object file: {0}")]
    Corrupt(&'static str),
}

/// Encodes the trailer that follows `body_len` object bytes.
pub fn encode_trailer(meta: &Metadata, body_len: u64) -> Vec<u8> {
    // A BTreeMap of strings always serializes.
    let json = serde_json::to_vec(meta).unwrap_or_else(|_| b"{}".to_vec());
    let mut out = Vec::with_capacity(json.len() + FOOTER_LEN);
    out.extend_from_slice(&json);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&json).to_le_bytes());
    out.extend_from_slice(&body_len.to_le_bytes());
    out.extend_from_slice(MAGIC);
    out
}

/// What a footer says: where the metadata block is and how long the body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// Length of the metadata block before the footer.
    pub meta_len: usize,
    /// CRC32 of the metadata block.
    pub meta_crc: u32,
    /// Object bytes at the start of the file.
    pub body_len: u64,
}

/// Parses the last [`FOOTER_LEN`] bytes of a file of `file_len` bytes.
pub fn parse_footer(tail: &[u8], file_len: u64) -> Result<Footer, MetadataError> {
    if tail.len() != FOOTER_LEN || &tail[16..24] != MAGIC {
        return Err(MetadataError::Corrupt("missing footer"));
    }
    let word = |r: std::ops::Range<usize>| {
        let mut b = [0u8; 8];
        b[..r.len()].copy_from_slice(&tail[r]);
        u64::from_le_bytes(b)
    };
    let footer = Footer {
        meta_len: word(0..4) as usize,
        meta_crc: word(4..8) as u32,
        body_len: word(8..16),
    };
    if footer.meta_len > MAX_META_LEN {
        return Err(MetadataError::Corrupt("metadata block too large"));
    }
    let expected = footer
        .body_len
        .checked_add((footer.meta_len + FOOTER_LEN) as u64)
        .ok_or(MetadataError::Corrupt("lengths overflow"))?;
    if expected != file_len {
        return Err(MetadataError::Corrupt("file length does not match footer"));
    }
    Ok(footer)
}

/// Decodes and checks a metadata block against its footer.
pub fn decode_meta(block: &[u8], footer: &Footer) -> Result<Metadata, MetadataError> {
    if block.len() != footer.meta_len || crc32fast::hash(block) != footer.meta_crc {
        return Err(MetadataError::Corrupt("metadata checksum mismatch"));
    }
    if let Some(meta) = decode_plain(block) {
        return Ok(meta);
    }
    serde_json::from_slice(block).map_err(|_| MetadataError::Corrupt("metadata is not valid JSON"))
}

/// The common block as [`encode_trailer`] writes it — a compact JSON object
/// of strings none of which holds an escape — decoded without serde_json's
/// generic machinery (a quarter of a 4 KiB GET's metadata cost). `None`
/// for anything else (whitespace, escapes, other value types, damage):
/// serde_json then decides, so the result never differs from its own.
fn decode_plain(block: &[u8]) -> Option<Metadata> {
    let text = std::str::from_utf8(block).ok()?;
    let mut rest = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut meta = Metadata::new();
    if rest.is_empty() {
        return Some(meta);
    }
    loop {
        let (key, after) = plain_string(rest)?;
        let (value, after) = plain_string(after.strip_prefix(':')?)?;
        meta.insert(key.to_string(), value.to_string());
        if after.is_empty() {
            return Some(meta);
        }
        rest = after.strip_prefix(',')?;
    }
}

/// A leading `"..."` with no escape and no control character in it, and
/// what follows it.
fn plain_string(s: &str) -> Option<(&str, &str)> {
    let body = s.strip_prefix('"')?;
    let end = body
        .bytes()
        .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
    if body.as_bytes()[end] != b'"' {
        return None;
    }
    Some((&body[..end], &body[end + 1..]))
}

/// Decodes a whole file held in memory (tests, tools).
pub fn decode_file(file: &[u8]) -> Result<(Metadata, u64), MetadataError> {
    if file.len() < FOOTER_LEN {
        return Err(MetadataError::Corrupt("file shorter than a footer"));
    }
    let footer = parse_footer(&file[file.len() - FOOTER_LEN..], file.len() as u64)?;
    let start = footer.body_len as usize;
    let meta = decode_meta(&file[start..start + footer.meta_len], &footer)?;
    Ok((meta, footer.body_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Metadata {
        let mut m = Metadata::new();
        m.insert("X-Timestamp".into(), "0000000001.00000".into());
        m.insert("X-Object-Meta-Ünïcode".into(), "välue".into());
        m
    }

    #[test]
    fn round_trips_after_a_body() {
        let mut file = b"hello".to_vec();
        file.extend(encode_trailer(&sample(), 5));
        let (meta, body_len) = decode_file(&file).expect("decode");
        assert_eq!(meta, sample());
        assert_eq!(body_len, 5);
    }

    /// The fast path gives exactly what serde_json gives, and leaves
    /// everything it does not handle to serde_json.
    #[test]
    fn plain_blocks_decode_as_serde_json_does() {
        let mut tricky = sample();
        tricky.insert("Quote\"d".into(), "back\\slash\n".into());
        tricky.insert(String::new(), String::new());
        let blocks: Vec<Vec<u8>> = vec![
            serde_json::to_vec(&sample()).unwrap(),
            serde_json::to_vec(&tricky).unwrap(),
            serde_json::to_vec(&Metadata::new()).unwrap(),
            br#"{"a":"1","a":"2"}"#.to_vec(),
            br#"{ "a" : "1" }"#.to_vec(),
            br#"{"a":1}"#.to_vec(),
            br#"{"a":"1",}"#.to_vec(),
            br#"{"a":"1""b":"2"}"#.to_vec(),
            br#"{"a":"\u00e9"}"#.to_vec(),
            br#"{"a":"x"}}"#.to_vec(),
            br#"{"a"}"#.to_vec(),
            b"{\"a\":\"\x01\"}".to_vec(),
            b"{\"\xff\":\"1\"}".to_vec(),
            b"{".to_vec(),
            b"{}}".to_vec(),
        ];
        for block in blocks {
            let footer = Footer {
                meta_len: block.len(),
                meta_crc: crc32fast::hash(&block),
                body_len: 0,
            };
            let ours = decode_meta(&block, &footer).ok();
            let theirs: Option<Metadata> = serde_json::from_slice(&block).ok();
            assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(&block));
        }
        assert!(decode_plain(&serde_json::to_vec(&sample()).unwrap()).is_some());
    }

    #[test]
    fn holds_swifts_largest_metadata() {
        let mut m = Metadata::new();
        for i in 0..90 {
            m.insert(format!("X-Object-Meta-{i:0>114}"), "v".repeat(256));
        }
        let file = encode_trailer(&m, 0);
        assert!(file.len() > 4096 * 8);
        assert_eq!(decode_file(&file).expect("decode").0, m);
    }

    /// Random files (and random tails on valid ones) never panic the reader.
    #[test]
    fn random_files_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x7a11);
        let valid = encode_trailer(&sample(), 0);
        for _ in 0..20_000 {
            let mut f: Vec<u8> = if rng.gen_bool(0.5) {
                (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect()
            } else {
                valid.clone()
            };
            if !f.is_empty() {
                let at = rng.gen_range(0..f.len());
                f[at] = rng.gen();
            }
            let _ = decode_file(&f);
        }
    }

    #[test]
    fn every_truncation_and_bit_flip_is_detected() {
        let mut file = b"body bytes".to_vec();
        file.extend(encode_trailer(&sample(), 10));
        for cut in 0..file.len() {
            assert!(decode_file(&file[..cut]).is_err(), "truncated at {cut}");
        }
        for i in 10..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x40;
            assert!(decode_file(&bad).is_err(), "flip at {i} went unnoticed");
        }
    }
}
