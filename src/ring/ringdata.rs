//! Swift's `*.ring.gz` files: the serialized ring (devices, partition
//! assignments, part shift), in format v1 or v2.
//!
//! v1: `R1NG`, version 1, a length-prefixed JSON header, then one row of
//! 2-byte device ids per replica in the byte order the header names.
//! v2: `R1NG`, version 2, then named, checksummed sections (metadata,
//! devices, assignments in network order with 2- or 4-byte ids) and an
//! index at the end. Pickled v0 rings are refused. A ring file is untrusted
//! input: every length, offset and device id is checked before use.

use std::collections::BTreeMap;
use std::path::Path;

use md5::Md5;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};

use super::gzio::{gunzip, RingGzWriter};
use super::{format_err, Device, RingError};

/// The largest uncompressed ring paco will inflate (1 GiB): a part power 24
/// ring with 6 replicas of 4-byte ids fits; a gzip bomb does not.
pub const MAX_RING_BYTES: u64 = 1 << 30;

/// The section names of a v2 ring.
const SEC_METADATA: &str = "swift/ring/metadata";
const SEC_DEVICES: &str = "swift/ring/devices";
const SEC_ASSIGNMENTS: &str = "swift/ring/assignments";

/// The serialized content of a ring (Swift's `RingData`).
#[derive(Debug, Clone, PartialEq)]
pub struct RingData {
    /// Devices indexed by id; `None` marks a removed device's slot.
    pub devs: Vec<Option<Device>>,
    /// One row per replica: for each partition, the id of the device holding
    /// that replica. The last row may be shorter (fractional replicas).
    pub replica2part2dev: Vec<Vec<u32>>,
    /// `32 - part_power`: how far the hash's first four bytes are shifted.
    pub part_shift: u32,
    /// Set while a partition power increase is under way.
    pub next_part_power: Option<u32>,
    /// The builder's version counter, if recorded.
    pub version: Option<u64>,
    /// Bytes per device id in the assignment rows (2 or 4; v1 allows only 2).
    pub dev_id_bytes: u8,
    /// The format the ring was read from (1 or 2); 0 for a ring made in memory.
    pub format_version: u8,
}

#[derive(Deserialize)]
struct V1Header {
    devs: Vec<Option<Device>>,
    part_shift: u32,
    replica_count: u64,
    #[serde(default)]
    byteorder: Option<String>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    next_part_power: Option<u32>,
}

#[derive(Deserialize)]
struct V2Metadata {
    part_shift: u32,
    dev_id_bytes: u8,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    next_part_power: Option<u32>,
}

impl RingData {
    /// The partition power (`2^part_power` partitions).
    pub fn part_power(&self) -> u32 {
        32 - self.part_shift
    }

    /// Number of partitions, `2^part_power`.
    pub fn partition_count(&self) -> usize {
        1usize << self.part_power()
    }

    /// Replicas, counting a short last row as a fraction (Swift's
    /// `calc_replica_count`).
    pub fn replica_count(&self) -> f64 {
        match (self.replica2part2dev.first(), self.replica2part2dev.last()) {
            (Some(first), Some(last)) if !first.is_empty() => {
                (self.replica2part2dev.len() - 1) as f64 + last.len() as f64 / first.len() as f64
            }
            _ => 0.0,
        }
    }

    /// Reads and validates a ring file.
    pub fn load(path: &Path) -> Result<RingData, RingError> {
        let bytes = std::fs::read(path).map_err(|e| RingError::io(path, e))?;
        RingData::from_bytes(&bytes)
    }

    /// Parses and validates the bytes of a ring file.
    pub fn from_bytes(bytes: &[u8]) -> Result<RingData, RingError> {
        let data = gunzip(bytes, MAX_RING_BYTES)?;
        if data.first() == Some(&0x80) {
            return format_err(
                "pickled (v0) rings are not supported; rewrite it with \
                 `swift-ring-builder <builder> write_ring` (Swift >= 2.36)",
            );
        }
        if data.len() < 6 || &data[..4] != b"R1NG" {
            return format_err("bad magic (expected R1NG)");
        }
        let version = u16::from_be_bytes([data[4], data[5]]);
        let ring = match version {
            1 => parse_v1(&data[6..])?,
            2 => parse_v2(&data)?,
            v => return format_err(format!("unsupported ring format version {v}")),
        };
        ring.validate()?;
        Ok(ring)
    }

    /// Checks every invariant lookups rely on: device ids match their slots,
    /// rows have the partition count (the last may be shorter), and every
    /// assigned id names a present device.
    pub fn validate(&self) -> Result<(), RingError> {
        if self.part_shift > 32 {
            return format_err(format!("part_shift {} is over 32", self.part_shift));
        }
        if self.dev_id_bytes != 2 && self.dev_id_bytes != 4 {
            return format_err(format!("dev_id_bytes {} is not 2 or 4", self.dev_id_bytes));
        }
        for (i, dev) in self.devs.iter().enumerate() {
            if let Some(d) = dev {
                if d.id as usize != i {
                    return format_err(format!("device at index {i} has id {}", d.id));
                }
            }
        }
        let parts = self.partition_count();
        let rows = self.replica2part2dev.len();
        for (r, row) in self.replica2part2dev.iter().enumerate() {
            let ok = if r + 1 == rows {
                !row.is_empty() && row.len() <= parts
            } else {
                row.len() == parts
            };
            if !ok {
                return format_err(format!(
                    "replica row {r} has {} entries for {parts} partitions",
                    row.len()
                ));
            }
            for (part, &id) in row.iter().enumerate() {
                if !matches!(self.devs.get(id as usize), Some(Some(_))) {
                    return format_err(format!(
                        "partition {part} replica {r} is assigned to unknown device {id}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Serializes the ring in format `format_version` (1 or 2). `name` is the
    /// file name recorded in the gzip header.
    pub fn to_bytes(&self, format_version: u8, name: Option<&str>) -> Result<Vec<u8>, RingError> {
        self.validate()?;
        let max_id = self
            .replica2part2dev
            .iter()
            .flatten()
            .copied()
            .max()
            .unwrap_or(0);
        if self.dev_id_bytes == 2 && max_id >= u16::MAX as u32 {
            return Err(RingError::Builder(format!(
                "device id {max_id} needs 4-byte ids; set dev_id_bytes to 4 and use format 2"
            )));
        }
        let devs: Vec<Value> = self
            .devs
            .iter()
            .map(device_json)
            .collect::<Result<_, _>>()?;
        match format_version {
            1 => self.to_v1(devs, name),
            2 => self.to_v2(devs, name),
            v => Err(RingError::Builder(format!(
                "format version must be 1 or 2, not {v}"
            ))),
        }
    }

    fn to_v1(&self, devs: Vec<Value>, name: Option<&str>) -> Result<Vec<u8>, RingError> {
        if self.dev_id_bytes != 2 {
            return Err(RingError::Builder(
                "ring format v1 only supports 2-byte device ids; use --format-version 2".into(),
            ));
        }
        let mut header = json!({
            "devs": devs,
            "part_shift": self.part_shift,
            "replica_count": self.replica2part2dev.len(),
            "byteorder": "little",
        });
        if let Some(v) = self.version {
            header["version"] = json!(v);
        }
        if let Some(n) = self.next_part_power {
            header["next_part_power"] = json!(n);
        }
        let text = ascii_json(&header)?;
        let text_len = u32::try_from(text.len())
            .map_err(|_| RingError::Builder("v1 ring header over 4 GiB".into()))?;
        let mut body = Vec::with_capacity(4 + text.len() + self.assignment_len(2));
        body.extend_from_slice(&text_len.to_be_bytes());
        body.extend_from_slice(text.as_bytes());
        for row in &self.replica2part2dev {
            for &id in row {
                body.extend_from_slice(&(id as u16).to_le_bytes());
            }
        }
        let mut w = RingGzWriter::new(name);
        w.write_stored(b"R1NG\x00\x01");
        w.write_deflated(&body)?;
        Ok(w.finish())
    }

    fn assignment_len(&self, width: usize) -> usize {
        self.replica2part2dev.iter().map(Vec::len).sum::<usize>() * width
    }

    fn to_v2(&self, devs: Vec<Value>, name: Option<&str>) -> Result<Vec<u8>, RingError> {
        let mut meta = json!({
            "part_shift": self.part_shift,
            "dev_id_bytes": self.dev_id_bytes,
            "replica_count": self.replica_count(),
            "version": self.version,
        });
        if let Some(n) = self.next_part_power {
            meta["next_part_power"] = json!(n);
        }
        let width = self.dev_id_bytes as usize;
        let mut table = Vec::with_capacity(self.assignment_len(width));
        for &id in self.replica2part2dev.iter().flatten() {
            if width == 2 {
                table.extend_from_slice(&(id as u16).to_be_bytes());
            } else {
                table.extend_from_slice(&id.to_be_bytes());
            }
        }
        let sections = [
            (SEC_METADATA, ascii_json(&meta)?.into_bytes()),
            (SEC_DEVICES, ascii_json(&Value::Array(devs))?.into_bytes()),
            (SEC_ASSIGNMENTS, table),
        ];
        let mut w = RingGzWriter::new(name);
        w.write_stored(b"R1NG\x00\x02");
        let mut index = serde_json::Map::new();
        for (section, content) in sections {
            let blob = blob(&content);
            let (cs, us) = (w.compressed_pos(), w.uncompressed_pos());
            w.write_deflated(&blob)?;
            let digest = hex::encode(Sha256::digest(&blob));
            index.insert(
                section.to_string(),
                json!([
                    cs,
                    us,
                    w.compressed_pos(),
                    w.uncompressed_pos(),
                    "sha256",
                    digest
                ]),
            );
        }
        let (index_cs, index_us) = (w.compressed_pos(), w.uncompressed_pos());
        w.write_deflated(&blob(ascii_json(&Value::Object(index))?.as_bytes()))?;
        // Swift's reader finds the index through these two stored blocks,
        // 31 bytes before the end of the file.
        w.write_stored(&index_us.to_be_bytes());
        w.write_stored(&index_cs.to_be_bytes());
        Ok(w.finish())
    }

    /// Writes the ring to `path` atomically (temporary file, fsync, rename),
    /// mode 0644 as Swift does.
    pub fn save(&self, path: &Path, format_version: u8) -> Result<(), RingError> {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.strip_suffix(".gz").unwrap_or(n).to_string());
        let bytes = self.to_bytes(format_version, name.as_deref())?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            name.as_deref().unwrap_or("ring"),
            std::process::id()
        ));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
            std::fs::rename(&tmp, path)?;
            std::fs::File::open(&dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            RingError::io(path, e)
        })
    }
}

/// A device slot as Swift writes it: `null`, or the dict with replication
/// address and port filled in.
fn device_json(dev: &Option<Device>) -> Result<Value, RingError> {
    match dev {
        None => Ok(Value::Null),
        Some(d) => {
            let mut d = d.clone();
            d.normalize();
            serde_json::to_value(&d).map_err(|e| RingError::Builder(format!("device json: {e}")))
        }
    }
}

/// `json.dumps(value, sort_keys=True, ensure_ascii=True)`: serde_json's map
/// is ordered by key; non-ASCII characters become `\uXXXX` escapes.
fn ascii_json(value: &Value) -> Result<String, RingError> {
    let text =
        serde_json::to_string(value).map_err(|e| RingError::Builder(format!("json: {e}")))?;
    // Python separates items with ", " and keys from values with ": ".
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            if c.is_ascii() {
                out.push(c);
            } else {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            ',' => out.push_str(", "),
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// A length-value BLOB: `u64` big-endian length, then the bytes.
fn blob(content: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + content.len());
    b.extend_from_slice(&(content.len() as u64).to_be_bytes());
    b.extend_from_slice(content);
    b
}

fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, RingError> {
    serde_json::from_slice(bytes).map_err(|e| RingError::Format(format!("{what}: {e}")))
}

fn normalized(mut devs: Vec<Option<Device>>) -> Vec<Option<Device>> {
    devs.iter_mut().flatten().for_each(Device::normalize);
    devs
}

fn parse_v1(body: &[u8]) -> Result<RingData, RingError> {
    if body.len() < 4 {
        return format_err("v1 header length missing");
    }
    let json_len = u32::from_be_bytes([body[0], body[1], body[2], body[3]]) as usize;
    let rest = &body[4..];
    if json_len > rest.len() {
        return format_err(format!(
            "v1 header claims {json_len} bytes; {} remain",
            rest.len()
        ));
    }
    let header: V1Header = parse_json(&rest[..json_len], "v1 header")?;
    if header.part_shift > 32 {
        return format_err(format!("part_shift {} is over 32", header.part_shift));
    }
    let big = match header.byteorder.as_deref() {
        None | Some("little") => false,
        Some("big") => true,
        Some(o) => return format_err(format!("unknown byteorder {o:?}")),
    };
    let row_bytes = 2usize << (32 - header.part_shift);
    let mut table = &rest[json_len..];
    let mut rows = Vec::new();
    // Like Swift, read up to replica_count rows and let the last be short;
    // stop at the end of the data whatever the header claims.
    for _ in 0..header.replica_count {
        if table.is_empty() {
            break;
        }
        let take = row_bytes.min(table.len());
        let (row, more) = table.split_at(take);
        if row.len() % 2 != 0 {
            return format_err("v1 assignment row has an odd number of bytes");
        }
        rows.push(
            row.chunks_exact(2)
                .map(|b| {
                    let v = if big {
                        u16::from_be_bytes([b[0], b[1]])
                    } else {
                        u16::from_le_bytes([b[0], b[1]])
                    };
                    u32::from(v)
                })
                .collect(),
        );
        table = more;
    }
    Ok(RingData {
        devs: normalized(header.devs),
        replica2part2dev: rows,
        part_shift: header.part_shift,
        next_part_power: header.next_part_power,
        version: header.version,
        dev_id_bytes: 2,
        format_version: 1,
    })
}

/// Returns the content of a v2 section, checking its length prefix and
/// checksum against the index.
fn section<'a>(
    data: &'a [u8],
    index: &BTreeMap<String, Vec<Value>>,
    name: &str,
) -> Result<&'a [u8], RingError> {
    let Some(entry) = index.get(name) else {
        return format_err(format!("v2 index has no {name} section"));
    };
    let num = |i: usize| entry.get(i).and_then(Value::as_u64);
    let text = |i: usize| entry.get(i).and_then(Value::as_str);
    let (Some(start), Some(end), Some(method), Some(digest)) = (num(1), num(3), text(4), text(5))
    else {
        return format_err(format!("v2 index entry for {name} is malformed"));
    };
    let (start, end) = (start as usize, end as usize);
    if start > end || end > data.len() || end - start < 8 {
        return format_err(format!("v2 section {name} lies outside the file"));
    }
    let bytes = &data[start..end];
    let len = u64::from_be_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
    if len != (end - start - 8) as u64 {
        return format_err(format!("v2 section {name}: inconsistent section size"));
    }
    let actual = match method {
        "md5" => hex::encode(Md5::digest(bytes)),
        "sha256" => hex::encode(Sha256::digest(bytes)),
        "sha512" => hex::encode(Sha512::digest(bytes)),
        m => return format_err(format!("v2 section {name}: unsupported checksum {m}")),
    };
    if actual != digest {
        return format_err(format!("v2 section {name}: checksum mismatch"));
    }
    Ok(&bytes[8..])
}

fn parse_v2(data: &[u8]) -> Result<RingData, RingError> {
    if data.len() < 6 + 16 {
        return format_err("v2 ring too short for its index offsets");
    }
    let tail = &data[data.len() - 16..];
    let index_start = u64::from_be_bytes(tail[..8].try_into().unwrap_or([0; 8]));
    let index_start = usize::try_from(index_start).unwrap_or(usize::MAX);
    if index_start > data.len() - 16 || data.len() - 16 - index_start < 8 {
        return format_err("v2 index offset lies outside the file");
    }
    let len_bytes: [u8; 8] = data[index_start..index_start + 8]
        .try_into()
        .unwrap_or([0; 8]);
    let index_len = usize::try_from(u64::from_be_bytes(len_bytes)).unwrap_or(usize::MAX);
    let index_body = &data[index_start + 8..];
    if index_len > index_body.len() {
        return format_err("v2 index runs past the end of the file");
    }
    let index: BTreeMap<String, Vec<Value>> = parse_json(&index_body[..index_len], "v2 index")?;
    let meta: V2Metadata = parse_json(section(data, &index, SEC_METADATA)?, "v2 metadata")?;
    let devs: Vec<Option<Device>> = parse_json(section(data, &index, SEC_DEVICES)?, "v2 devices")?;
    let table = section(data, &index, SEC_ASSIGNMENTS)?;
    if meta.part_shift > 32 {
        return format_err(format!("part_shift {} is over 32", meta.part_shift));
    }
    let width = match meta.dev_id_bytes {
        2 => 2usize,
        4 => 4usize,
        n => return format_err(format!("dev_id_bytes {n} is not 2 or 4")),
    };
    if table.len() % width != 0 {
        return format_err("v2 assignments are not a whole number of device ids");
    }
    let row_bytes = width << (32 - meta.part_shift);
    let rows = table
        .chunks(row_bytes)
        .map(|row| {
            row.chunks_exact(width)
                .map(|b| match b {
                    [a, b] => u32::from(u16::from_be_bytes([*a, *b])),
                    [a, b, c, d] => u32::from_be_bytes([*a, *b, *c, *d]),
                    _ => u32::MAX,
                })
                .collect()
        })
        .collect();
    Ok(RingData {
        devs: normalized(devs),
        replica2part2dev: rows,
        part_shift: meta.part_shift,
        next_part_power: meta.next_part_power,
        version: meta.version,
        dev_id_bytes: meta.dev_id_bytes,
        format_version: 2,
    })
}

#[cfg(test)]
#[path = "ringdata_tests.rs"]
pub(crate) mod tests;
