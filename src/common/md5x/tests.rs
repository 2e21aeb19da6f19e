//! Every path is held to the md-5 crate's digests: the scalar rounds, each
//! SIMD kernel the CPU has (forced explicitly, not just the best one), the
//! lane scheduler with unequal streams, and the batcher.

use md5::{Digest, Md5};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use super::*;

fn reference(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

/// The paths this CPU can run, always including the scalar fallback.
fn supported() -> Vec<Isa> {
    let isas: Vec<Isa> = Isa::ALL.into_iter().filter(|i| i.is_supported()).collect();
    assert_eq!(isas[0], Isa::Scalar);
    assert_eq!(*isas.last().unwrap_or(&Isa::Scalar), Isa::best());
    isas
}

/// Splits `data` into random pieces (empty ones included).
fn random_pieces<'a>(rng: &mut StdRng, data: &'a [u8]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = match rng.gen_range(0..4) {
            0 => 0,
            1 => rng.gen_range(1..64),
            2 => 64 * rng.gen_range(1..8),
            _ => rng.gen_range(1..3000),
        }
        .min(rest.len());
        pieces.push(&rest[..n]);
        rest = &rest[n..];
    }
    pieces
}

/// Hashes `streams` with `update_many` on `isa`, feeding each stream in
/// random pieces so that lanes get unequal, unaligned lengths every call.
fn hash_lanes(rng: &mut StdRng, isa: Isa, streams: &[Vec<u8>]) -> Vec<[u8; 16]> {
    let mut pieces: Vec<std::collections::VecDeque<&[u8]>> = streams
        .iter()
        .map(|s| random_pieces(rng, s).into())
        .collect();
    let mut states = vec![Md5State::new(); streams.len()];
    while pieces.iter().any(|p| !p.is_empty()) {
        let mut jobs: Vec<(&mut Md5State, &[u8])> = states
            .iter_mut()
            .zip(pieces.iter_mut())
            .map(|(s, p)| (s, p.pop_front().unwrap_or(&[])))
            .collect();
        update_many(isa, &mut jobs);
    }
    states.into_iter().map(Md5State::finalize).collect()
}

#[test]
fn scalar_matches_md5_on_every_length_around_padding() {
    let mut rng = StdRng::seed_from_u64(1);
    let data = random_bytes(&mut rng, 300);
    for len in 0..=data.len() {
        assert_eq!(digest(&data[..len]), reference(&data[..len]), "len {len}");
    }
    assert_eq!(
        hex::encode(digest(b"")),
        "d41d8cd98f00b204e9800998ecf8427e",
        "RFC 1321 test suite"
    );
    assert_eq!(
        hex::encode(digest(b"message digest")),
        "f96b697d7cb7938d525a2f31aaf161d0"
    );
}

#[test]
fn scalar_matches_md5_on_random_lengths_and_pieces() {
    let mut rng = StdRng::seed_from_u64(2);
    for _ in 0..200 {
        let len = rng.gen_range(0..10_000);
        let data = random_bytes(&mut rng, len);
        let mut s = Md5State::new();
        for piece in random_pieces(&mut rng, &data) {
            s.update(piece);
        }
        assert_eq!(s.len(), len as u64);
        assert_eq!(s.finalize(), reference(&data), "len {len}");
    }
}

#[test]
fn scalar_matches_md5_on_multi_mib() {
    let mut rng = StdRng::seed_from_u64(3);
    let data = random_bytes(&mut rng, 3 * 1024 * 1024 + 17);
    assert_eq!(digest(&data), reference(&data));
}

#[test]
fn every_path_and_lane_count_matches_md5_on_random_lengths() {
    let mut rng = StdRng::seed_from_u64(4);
    for isa in supported() {
        // 9..=17 lanes exercise more streams than the widest kernel has.
        for lanes in (1..=9).chain([16, 17]) {
            for _ in 0..4 {
                let streams: Vec<Vec<u8>> = (0..lanes)
                    .map(|_| {
                        let len = rng.gen_range(0..10_000);
                        random_bytes(&mut rng, len)
                    })
                    .collect();
                let got = hash_lanes(&mut rng, isa, &streams);
                for (i, (g, s)) in got.iter().zip(&streams).enumerate() {
                    assert_eq!(*g, reference(s), "{isa:?}, {lanes} lanes, lane {i}");
                }
            }
        }
    }
}

#[test]
fn every_path_matches_md5_on_multi_mib_lanes_of_unequal_length() {
    let mut rng = StdRng::seed_from_u64(5);
    // Unequal, aligned and not, one empty; the longest runs on alone. Kept
    // to a few MiB because the debug build's kernels are slow.
    let lens = [(2 << 20) + 1, 1 << 20, (1 << 20) - 63, 64 << 10, 0, 2 << 20];
    let streams: Vec<Vec<u8>> = lens.iter().map(|&n| random_bytes(&mut rng, n)).collect();
    let want: Vec<[u8; 16]> = streams.iter().map(|s| reference(s)).collect();
    for isa in supported() {
        let mut states = vec![Md5State::new(); streams.len()];
        let mut jobs: Vec<(&mut Md5State, &[u8])> = states
            .iter_mut()
            .zip(&streams)
            .map(|(st, s)| (st, s.as_slice()))
            .collect();
        update_many(isa, &mut jobs);
        let got: Vec<[u8; 16]> = states.into_iter().map(Md5State::finalize).collect();
        assert_eq!(got, want, "{isa:?}");
    }
}

/// The kernels themselves, each lane count with the unused lanes filled by
/// repeats, against the scalar compression of each lane.
#[cfg(target_arch = "x86_64")]
#[test]
fn kernels_match_scalar_for_every_lane_count() {
    fn check<const N: usize>(rng: &mut StdRng, run: impl Fn(&mut [[u32; 4]; N], [&[[u8; 64]]; N])) {
        let data: Vec<Vec<u8>> = (0..N).map(|_| random_bytes(rng, 64 * 5)).collect();
        let blocks: Vec<&[[u8; 64]]> = data.iter().map(|d| d.as_chunks::<64>().0).collect();
        let mut states = [INIT; N];
        for (l, s) in states.iter_mut().enumerate() {
            s[0] ^= l as u32;
        }
        for used in 1..=N {
            let mut want = states;
            for l in 0..used {
                scalar::compress(&mut want[l], blocks[l]);
            }
            let mut got = states;
            let lanes: [&[[u8; 64]]; N] = std::array::from_fn(|l| blocks[l.min(used - 1)]);
            run(&mut got, lanes);
            assert_eq!(got[..used], want[..used], "{N} lanes, {used} used");
        }
    }
    let mut rng = StdRng::seed_from_u64(6);
    if Isa::Sse2.is_supported() {
        // SAFETY: SSE2 was detected just above.
        check::<4>(&mut rng, |s, b| unsafe { sse2::compress(s, b) });
    }
    if Isa::Avx2.is_supported() {
        // SAFETY: AVX2 was detected just above.
        check::<8>(&mut rng, |s, b| unsafe { avx2::compress(s, b) });
    }
}

#[test]
fn unsupported_paths_fall_back_to_supported_ones() {
    for isa in Isa::ALL {
        let usable = isa.usable();
        assert!(
            usable <= isa && usable.is_supported(),
            "{isa:?} -> {usable:?}"
        );
        if isa.is_supported() {
            assert_eq!(usable, isa);
        }
    }
}

#[test]
fn fixed_lanes_finalize_each_lane() {
    let mut rng = StdRng::seed_from_u64(7);
    for isa in supported() {
        let data: Vec<Vec<u8>> = (0..3)
            .map(|i| random_bytes(&mut rng, 5000 + i * 777))
            .collect();
        let mut lanes = Md5Lanes::<3>::with_isa(isa);
        assert_eq!(lanes.isa(), isa);
        lanes.update([&data[0][..100], &data[1][..], &[]]);
        lanes.update([&data[0][100..], &[], &data[2][..]]);
        assert_eq!(lanes.lane(1).map(Md5State::len), Some(data[1].len() as u64));
        let got = lanes.finalize();
        for (g, d) in got.iter().zip(&data) {
            assert_eq!(*g, reference(d), "{isa:?}");
        }
        let eight = Md5Lanes::<8>::with_isa(isa).finalize();
        assert!(eight.iter().all(|d| *d == reference(b"")));
    }
}

/// Randomized: any path, any number of streams, any pieces.
#[test]
fn randomized_streams_match_md5() {
    let isas = supported();
    for case in 0..150u64 {
        let seed = 0x6d35_0000 + case;
        let mut rng = StdRng::seed_from_u64(seed);
        let isa = isas[rng.gen_range(0..isas.len())];
        let lanes = rng.gen_range(1..13);
        let streams: Vec<Vec<u8>> = (0..lanes)
            .map(|_| {
                let len = match rng.gen_range(0..3) {
                    0 => rng.gen_range(0..130),
                    1 => 64 * rng.gen_range(0..200),
                    _ => rng.gen_range(0..40_000),
                };
                random_bytes(&mut rng, len)
            })
            .collect();
        let got = hash_lanes(&mut rng, isa, &streams);
        for (i, (g, s)) in got.iter().zip(&streams).enumerate() {
            assert_eq!(
                *g,
                reference(s),
                "seed {seed:#x}: {isa:?}, {lanes} lanes, lane {i}, {} bytes",
                s.len()
            );
        }
    }
}

#[test]
fn batcher_hashes_queued_jobs_together() {
    let mut rng = StdRng::seed_from_u64(8);
    let data: Vec<Vec<u8>> = (0..3).map(|i| random_bytes(&mut rng, 70_000 + i)).collect();
    for isa in supported() {
        let batcher = Md5Batcher::<Vec<u8>>::with_isa(isa);
        let tickets: Vec<_> = data
            .iter()
            .map(|d| batcher.submit(Md5State::new(), d.clone()))
            .collect();
        if isa == Isa::Scalar {
            // One lane: nothing to wait for, each job runs in submit.
            assert!(tickets.iter().all(Ticket::is_done));
            for (t, d) in tickets.into_iter().zip(&data) {
                assert_eq!(t.wait().0.finalize(), reference(d));
            }
            assert_eq!(batcher.stats().passes, 3);
            continue;
        }
        assert_eq!(batcher.queued(), 3);
        assert!(tickets.iter().all(|t| !t.is_done()));
        // The first ticket redeemed hashes all three.
        let mut tickets = tickets.into_iter().rev();
        let last = tickets.next().map(Ticket::wait);
        assert_eq!(batcher.queued(), 0);
        let results: Vec<_> = last.into_iter().chain(tickets.map(Ticket::wait)).collect();
        for ((state, buf), d) in results.into_iter().zip(data.iter().rev()) {
            assert_eq!(buf, *d, "the buffer comes back untouched");
            assert_eq!(state.finalize(), reference(d), "{isa:?}");
        }
        let stats = batcher.stats();
        assert_eq!(
            (stats.jobs, stats.batched, stats.passes),
            (3, 3, 1),
            "{stats:?}"
        );
        assert_eq!(
            stats.bytes,
            data.iter().map(|d| d.len() as u64).sum::<u64>()
        );
    }
}

#[test]
fn batcher_flushes_when_the_lanes_are_full() {
    let batcher = Md5Batcher::<Vec<u8>>::new();
    let lanes = batcher.isa().lanes();
    let tickets: Vec<_> = (0..lanes)
        .map(|i| batcher.submit(Md5State::new(), vec![i as u8; MIN_BATCH_BYTES]))
        .collect();
    assert_eq!(batcher.queued(), 0);
    assert!(tickets.iter().all(Ticket::is_done));
    for (i, t) in tickets.into_iter().enumerate() {
        let (state, buf) = t.wait();
        assert_eq!(state.finalize(), reference(&buf), "job {i}");
    }
    assert_eq!(batcher.stats().passes, 1);
}

#[test]
fn batcher_lone_and_small_jobs_do_not_wait_for_company() {
    let batcher = Md5Batcher::<Vec<u8>>::new();
    let small = vec![7u8; MIN_BATCH_BYTES - 1];
    let t = batcher.submit(Md5State::new(), small.clone());
    assert!(t.is_done(), "small jobs are hashed in submit");
    assert_eq!(t.wait().0.finalize(), reference(&small));
    let big = vec![9u8; 100_000];
    let t = batcher.submit(Md5State::new(), big.clone());
    assert!(!t.is_done());
    assert_eq!(t.wait().0.finalize(), reference(&big));
    let stats = batcher.stats();
    assert_eq!(
        (stats.jobs, stats.batched, stats.passes),
        (2, 0, 2),
        "{stats:?}"
    );
}

#[test]
fn dropped_ticket_is_withdrawn() {
    let batcher = Md5Batcher::<Vec<u8>>::new();
    let data = vec![1u8; 10_000];
    let a = batcher.submit(Md5State::new(), data.clone());
    drop(batcher.submit(Md5State::new(), vec![2u8; 10_000]));
    assert_eq!(batcher.queued(), 1);
    assert_eq!(a.wait().0.finalize(), reference(&data));
    let stats = batcher.stats();
    assert_eq!((stats.jobs, stats.batched), (1, 0), "{stats:?}");
}

/// Concurrent uploads as tasks on a real single-threaded runtime: each
/// streams its body through the batcher in 64 KiB buffers, awaiting a timer
/// where an upload would await its write; every digest must match and
/// buffers from different tasks must meet in lanes.
#[test]
fn batcher_on_monoio_hashes_concurrent_streams() {
    let mut rng = StdRng::seed_from_u64(9);
    let bodies: Vec<Vec<u8>> = (0..6)
        .map(|i| random_bytes(&mut rng, 300_000 + i * 10_001))
        .collect();
    let want: Vec<[u8; 16]> = bodies.iter().map(|b| reference(b)).collect();
    let batcher = Md5Batcher::<Vec<u8>>::new();
    let got = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("runtime")
        .block_on(async {
            let tasks: Vec<_> = bodies
                .into_iter()
                .map(|body| {
                    let batcher = batcher.clone();
                    monoio::spawn(async move {
                        let mut state = Md5State::new();
                        for chunk in body.chunks(64 << 10) {
                            let ticket = batcher.submit(state, chunk.to_vec());
                            monoio::time::sleep(std::time::Duration::from_millis(1)).await;
                            state = ticket.wait().0;
                        }
                        state.finalize()
                    })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await);
            }
            out
        });
    assert_eq!(got, want);
    let stats = batcher.stats();
    assert!(stats.batched > 0, "no buffers met: {stats:?}");
    assert!(stats.passes < stats.jobs, "{stats:?}");
}
