//! Multi-buffer MD5 against single-stream MD5 on 1 MiB buffers: md-5's
//! one stream, md5x's own scalar path, and md5x's lane kernels hashing 2, 4
//! and 8 independent 1 MiB streams per iteration (throughput counts every
//! stream's bytes, so it is the aggregate a core achieves).
//!
//! Run: `nice cargo bench --bench md5x`. On a shared machine compare ratios
//! within one run, not absolute figures.

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use md5::{Digest, Md5};

use paco::common::md5x::{update_many, Isa, Md5Batcher, Md5State};

const MIB: usize = 1 << 20;

fn streams(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| (0..MIB).map(|j| (j * 31 + i * 7) as u8).collect())
        .collect()
}

fn single_stream(c: &mut Criterion) {
    let data = streams(1).remove(0);
    let mut group = c.benchmark_group("md5 1MiB single stream");
    group.throughput(Throughput::Bytes(MIB as u64));
    group.bench_function("md-5", |b| b.iter(|| Md5::digest(black_box(&data))));
    group.bench_function("md5x scalar", |b| {
        b.iter(|| {
            let mut s = Md5State::new();
            s.update(black_box(&data));
            s.finalize()
        })
    });
    group.finish();
}

fn lanes(c: &mut Criterion) {
    let data = streams(8);
    let mut group = c.benchmark_group("md5x 1MiB per lane, aggregate");
    for isa in [Isa::Sse2, Isa::Avx2] {
        if !isa.is_supported() {
            continue;
        }
        for n in [2usize, 4, 8] {
            group.throughput(Throughput::Bytes((n * MIB) as u64));
            group.bench_with_input(BenchmarkId::new(format!("{isa:?}"), n), &n, |b, &n| {
                b.iter(|| {
                    let mut states = vec![Md5State::new(); n];
                    let mut jobs: Vec<(&mut Md5State, &[u8])> = states
                        .iter_mut()
                        .zip(&data)
                        .map(|(s, d)| (s, black_box(d.as_slice())))
                        .collect();
                    update_many(isa, &mut jobs);
                    states
                        .into_iter()
                        .map(Md5State::finalize)
                        .collect::<Vec<_>>()
                })
            });
        }
    }
    group.finish();
}

/// The batcher's bookkeeping on top of the kernels: eight 64 KiB buffers
/// submitted and redeemed, as eight uploads' reads would be.
fn batcher(c: &mut Criterion) {
    let bufs: Vec<Vec<u8>> = streams(8)
        .into_iter()
        .map(|mut v| {
            v.truncate(64 << 10);
            v
        })
        .collect();
    let mut group = c.benchmark_group("md5x batcher 8 x 64KiB");
    group.throughput(Throughput::Bytes((8 * (64 << 10)) as u64));
    group.bench_function("submit+wait", |b| {
        let batcher = Md5Batcher::<&[u8]>::new();
        b.iter(|| {
            let tickets: Vec<_> = bufs
                .iter()
                .map(|d| batcher.submit(Md5State::new(), black_box(d.as_slice())))
                .collect();
            tickets
                .into_iter()
                .map(|t| t.wait().0.finalize())
                .collect::<Vec<_>>()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = single_stream, lanes, batcher
}
criterion_main!(benches);
