//! Criterion benchmarks of the per-request CPU work outside I/O: path
//! hashing, ETag hashing, metadata encoding and range parsing.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use md5::{Digest, Md5};

use paco::common::hash::{hash_path, partition, HashConf};
use paco::http::range::{parse_range, ranges_for_length};
use paco::obj::metadata::{decode_file, encode_trailer, Metadata};

fn hashing(c: &mut Criterion) {
    let conf = HashConf {
        prefix: String::new(),
        suffix: "changeme".into(),
    };
    c.bench_function("hash_path+partition", |b| {
        b.iter(|| {
            let d = hash_path(
                &conf,
                black_box("AUTH_test"),
                Some("photos"),
                Some("2024/01/img_0001.jpg"),
            )
            .expect("hash");
            partition(&d, 10)
        })
    });
    let mut group = c.benchmark_group("md5+crc32");
    for size in [4096usize, 1 << 20] {
        let data = vec![0xa5u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &data, |b, data| {
            b.iter(|| {
                let mut m = Md5::new();
                m.update(data);
                let mut crc = crc32fast::Hasher::new();
                crc.update(data);
                (m.finalize(), crc.finalize())
            })
        });
    }
    group.finish();
    // The ETag hash alone: the md-5 crate against paco's own scheduling.
    let mut group = c.benchmark_group("md5");
    let data = vec![0x5au8; 1 << 20];
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("md-5 crate 1MiB", |b| {
        b.iter(|| Md5::digest(black_box(&data)))
    });
    group.bench_function("md5x scalar 1MiB", |b| {
        b.iter(|| {
            let mut m = paco::common::md5x::Md5State::new();
            m.update(black_box(&data));
            m.finalize()
        })
    });
    group.finish();
}

fn metadata(c: &mut Criterion) {
    let mut meta = Metadata::new();
    meta.insert(
        "name".into(),
        "/AUTH_test/photos/2024/01/img_0001.jpg".into(),
    );
    meta.insert("X-Timestamp".into(), "1700000000.12345".into());
    meta.insert("Content-Type".into(), "image/jpeg".into());
    meta.insert("Content-Length".into(), "4096".into());
    meta.insert("ETag".into(), "d41d8cd98f00b204e9800998ecf8427e".into());
    meta.insert("X-Object-Meta-Camera".into(), "x100".into());
    c.bench_function("metadata encode+decode", |b| {
        b.iter(|| {
            let t = encode_trailer(black_box(&meta), 0);
            decode_file(&t).expect("decode")
        })
    });
}

fn ranges(c: &mut Criterion) {
    c.bench_function("range parse+resolve", |b| {
        b.iter(|| {
            let spec = parse_range(black_box("bytes=0-99,200-299,-50")).expect("valid");
            ranges_for_length(&spec, 1 << 20)
        })
    });
}

criterion_group!(benches, hashing, metadata, ranges);
criterion_main!(benches);
