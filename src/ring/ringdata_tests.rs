use super::*;
use crate::ring::Device;

/// A device in region `r`, zone `z`, on server `ip`.
pub(crate) fn dev(id: u32, r: u32, z: u32, ip: &str, weight: f64) -> Device {
    Device {
        id,
        region: r,
        zone: z,
        ip: ip.into(),
        port: 6200 + (id % 1000) as u16,
        replication_ip: None,
        replication_port: None,
        device: format!("sd{id}"),
        weight,
        meta: String::new(),
        extra: Default::default(),
    }
}

/// A hand-made ring; the same formula is used in Python to get the
/// expected lookups (see lookup_tests.rs).
pub(crate) fn sample(part_power: u32, short_last: bool) -> RingData {
    let topo = [
        (1, 1, "10.0.0.1"),
        (1, 1, "10.0.0.1"),
        (1, 2, "10.0.0.2"),
        (1, 2, "10.0.0.3"),
        (1, 3, "10.0.0.4"),
        (1, 3, "10.0.0.4"),
        (2, 1, "10.1.0.1"),
        (2, 1, "10.1.0.2"),
        (2, 2, "10.1.0.3"),
        (2, 2, "10.1.0.3"),
        (2, 3, "10.1.0.4"),
        (2, 3, "10.1.0.5"),
    ];
    let devs: Vec<Option<Device>> = topo
        .iter()
        .enumerate()
        .map(|(i, (r, z, ip))| Some(dev(i as u32, *r, *z, ip, 100.0)))
        .collect();
    let parts = 1usize << part_power;
    let rows = (0..3)
        .map(|r| {
            let len = if short_last && r == 2 {
                parts / 2
            } else {
                parts
            };
            (0..len)
                .map(|p| ((p * 7 + r * 5 + p / 3) % 12) as u32)
                .collect()
        })
        .collect();
    let mut ring = RingData {
        devs,
        replica2part2dev: rows,
        part_shift: 32 - part_power,
        next_part_power: None,
        version: Some(7),
        dev_id_bytes: 2,
        format_version: 0,
    };
    ring.devs.iter_mut().flatten().for_each(Device::normalize);
    ring
}

#[test]
fn v1_and_v2_round_trip() {
    for short in [false, true] {
        let ring = sample(8, short);
        for fv in [1u8, 2] {
            let bytes = ring.to_bytes(fv, Some("object.ring")).unwrap();
            let back = RingData::from_bytes(&bytes).unwrap();
            assert_eq!(back.format_version, fv);
            let mut expect = ring.clone();
            expect.format_version = fv;
            assert_eq!(back, expect, "format {fv} short {short}");
        }
    }
}

#[test]
fn four_byte_ids_need_v2() {
    let mut ring = sample(4, false);
    ring.dev_id_bytes = 4;
    assert!(ring.to_bytes(1, None).is_err());
    let back = RingData::from_bytes(&ring.to_bytes(2, None).unwrap()).unwrap();
    assert_eq!(back.dev_id_bytes, 4);
    assert_eq!(back.replica2part2dev, ring.replica2part2dev);
    // A 2-byte ring cannot hold id 65535 (Swift's "no device" marker).
    let mut big = sample(4, false);
    big.devs.resize(65536, None);
    big.devs[65535] = Some(dev(65535, 1, 1, "10.9.9.9", 1.0));
    big.replica2part2dev[0][0] = 65535;
    assert!(big.to_bytes(2, None).is_err());
    big.dev_id_bytes = 4;
    let back = RingData::from_bytes(&big.to_bytes(2, None).unwrap()).unwrap();
    assert_eq!(back.replica2part2dev[0][0], 65535);
}

#[test]
fn v1_big_endian_rows_are_read() {
    let ring = sample(4, false);
    let header = format!(
        "{{\"byteorder\": \"big\", \"devs\": {}, \"part_shift\": 28, \"replica_count\": 3}}",
        serde_json::to_string(&ring.devs).unwrap()
    );
    let mut body = b"R1NG\x00\x01".to_vec();
    body.extend_from_slice(&(header.len() as u32).to_be_bytes());
    body.extend_from_slice(header.as_bytes());
    for &id in ring.replica2part2dev.iter().flatten() {
        body.extend_from_slice(&(id as u16).to_be_bytes());
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &body).unwrap();
    let back = RingData::from_bytes(&gz.finish().unwrap()).unwrap();
    assert_eq!(back.replica2part2dev, ring.replica2part2dev);
    assert_eq!(back.version, None);
}

#[test]
fn bad_files_are_refused_with_reasons() {
    let gz = |b: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, b).unwrap();
        e.finish().unwrap()
    };
    let err = |b: &[u8]| RingData::from_bytes(b).unwrap_err().to_string();
    assert!(err(&gz(b"\x80\x02}q\x00.")).contains("pickled"));
    assert!(err(&gz(b"R1NG\x00\x03")).contains("version 3"));
    assert!(err(&gz(b"XXXX\x00\x01")).contains("magic"));
    assert!(err(b"R1NG\x00\x01").contains("gzip"));
    // A device id past the device list.
    let mut ring = sample(4, false);
    ring.replica2part2dev[1][3] = 99;
    assert!(ring.to_bytes(2, None).is_err());
    // Checksum mismatch: flip a byte inside the devices JSON.
    let good = sample(4, false).to_bytes(2, None).unwrap();
    let mut raw = gunzip(&good, MAX_RING_BYTES).unwrap();
    let at = raw.windows(6).position(|w| w == b"10.0.0").unwrap();
    raw[at] = b'9';
    assert!(err(&gz(&raw)).contains("checksum"));
}

#[test]
fn corrupt_files_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let mut raws = Vec::new();
    for fv in [1u8, 2] {
        let good = sample(5, true).to_bytes(fv, None).unwrap();
        raws.push(gunzip(&good, MAX_RING_BYTES).unwrap());
        raws.push(good);
    }
    for _ in 0..3000 {
        let mut b = raws[rng.gen_range(0..raws.len())].clone();
        match rng.gen_range(0..3) {
            0 => {
                for _ in 0..rng.gen_range(1..8) {
                    let i = rng.gen_range(0..b.len());
                    b[i] = rng.gen();
                }
            }
            1 => b.truncate(rng.gen_range(0..b.len())),
            _ => {
                let i = rng.gen_range(0..b.len());
                let n = rng.gen_range(1..64);
                b.splice(i..i, (0..n).map(|_| rng.gen::<u8>()));
            }
        }
        // Raw (uncompressed) variants are re-gzipped so the parser sees them.
        let input = if b.starts_with(&[0x1f, 0x8b]) {
            b
        } else {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut e, &b).unwrap();
            e.finish().unwrap()
        };
        if let Ok(ring) = RingData::from_bytes(&input) {
            // Whatever loads must be safe to look up in.
            if let Ok(r) = crate::ring::Ring::new(ring, Default::default()) {
                for p in [0u32, 1, 31, 1000] {
                    let _ = r.get_part_nodes(p);
                    let _ = r.get_more_nodes(p).count();
                }
            }
        }
    }
}
