//! Multi-buffer MD5: several independent streams hashed at once, one stream
//! per SIMD lane, so one core can hash concurrent uploads faster than the
//! single-stream MD5 limit (one MD5 step depends on the previous one, so a
//! lone stream cannot use a wide core; independent streams can).
//!
//! - [`Md5State`] is one stream's context. It moves freely between the
//!   single-stream path ([`Md5State::update`]) and the lane kernels, and
//!   finalizes to the same digest as the md-5 crate.
//! - [`update_many`] feeds any number of streams, each its own slice of any
//!   length, through the widest kernel the CPU has ([`Isa`]); streams that
//!   run out of data drop out and the last one finishes alone.
//! - [`Md5Lanes`] is a fixed set of N contexts for callers that hash N
//!   streams side by side.
//! - [`Md5Batcher`] is the per-core meeting point for uploads running as
//!   tasks on one thread: each submits (state, buffer), goes on with its
//!   I/O, and takes the state back; whatever other uploads submitted in the
//!   meantime is hashed in the same pass.

#[macro_use]
mod rounds;
#[cfg(target_arch = "x86_64")]
mod avx2;
mod batcher;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod sse2;
#[cfg(test)]
mod tests;

pub use batcher::{BatchStats, Md5Batcher, Ticket, MIN_BATCH_BYTES};

use std::sync::OnceLock;

/// MD5's initial chaining value (RFC 1321, section 3.3).
const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// One stream's MD5 context: chaining value, bytes absorbed, and the
/// partial block not yet compressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Md5State {
    h: [u32; 4],
    /// Total bytes absorbed, modulo 2^64 as MD5 specifies.
    len: u64,
    /// The first `len % 64` bytes are the pending partial block.
    tail: [u8; 64],
}

impl Default for Md5State {
    fn default() -> Self {
        Self::new()
    }
}

impl Md5State {
    /// A fresh context (the digest of nothing, so far).
    pub const fn new() -> Self {
        Self {
            h: INIT,
            len: 0,
            tail: [0; 64],
        }
    }

    /// Bytes absorbed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been absorbed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Absorbs `data` on the single-stream path.
    pub fn update(&mut self, data: &[u8]) {
        let blocks = self.absorb_head(data);
        scalar::compress(&mut self.h, blocks.whole);
        self.keep_tail(blocks.tail);
    }

    /// The digest of everything absorbed; the context is consumed because
    /// MD5 padding cannot be undone.
    pub fn finalize(mut self) -> [u8; 16] {
        let bit_len = self.len.wrapping_mul(8);
        let used = (self.len % 64) as usize;
        let mut last = [[0u8; 64]; 2];
        last[0][..used].copy_from_slice(&self.tail[..used]);
        last[0][used] = 0x80;
        // The 8-byte length goes at the end of the last block; if the tail
        // leaves no room for it after the 0x80 marker, padding spills into a
        // second block.
        let n = if used < 56 { 1 } else { 2 };
        last[n - 1][56..].copy_from_slice(&bit_len.to_le_bytes());
        scalar::compress(&mut self.h, &last[..n]);
        let mut out = [0u8; 16];
        for (bytes, word) in out.chunks_exact_mut(4).zip(self.h) {
            bytes.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// Completes a pending partial block from the front of `data` and
    /// returns what is left, split into whole blocks and a short tail.
    fn absorb_head<'a>(&mut self, data: &'a [u8]) -> Split<'a> {
        let used = (self.len % 64) as usize;
        self.len = self.len.wrapping_add(data.len() as u64);
        let mut rest = data;
        if used > 0 {
            let take = rest.len().min(64 - used);
            self.tail[used..used + take].copy_from_slice(&rest[..take]);
            rest = &rest[take..];
            if used + take < 64 {
                // Still partial, and `data` is used up.
                return Split::default();
            }
            let block = self.tail;
            scalar::compress(&mut self.h, std::slice::from_ref(&block));
        }
        let (whole, tail) = rest.as_chunks::<64>();
        Split { whole, tail }
    }

    /// Stores the bytes after the last whole block (the length was already
    /// counted by `absorb_head`).
    fn keep_tail(&mut self, tail: &[u8]) {
        self.tail[..tail.len()].copy_from_slice(tail);
    }
}

/// Digest of `data` in one call.
pub fn digest(data: &[u8]) -> [u8; 16] {
    let mut s = Md5State::new();
    s.update(data);
    s.finalize()
}

/// What is left of an update after topping up the partial block.
#[derive(Default)]
struct Split<'a> {
    whole: &'a [[u8; 64]],
    tail: &'a [u8],
}

/// A code path for the compression function; ordered from narrowest to
/// widest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// One stream at a time, on any CPU.
    Scalar,
    /// Four lanes of SSE2 (every x86-64 CPU).
    Sse2,
    /// Eight lanes of AVX2.
    Avx2,
}

impl Isa {
    /// Every path, narrowest first.
    pub const ALL: [Isa; 3] = [Isa::Scalar, Isa::Sse2, Isa::Avx2];

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => std::arch::is_x86_feature_detected!("sse2"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Sse2 | Isa::Avx2 => false,
        }
    }

    /// The widest path this CPU supports (detected once per process).
    pub fn best() -> Isa {
        static BEST: OnceLock<Isa> = OnceLock::new();
        *BEST.get_or_init(|| {
            Isa::ALL
                .into_iter()
                .rev()
                .find(|isa| isa.is_supported())
                .unwrap_or(Isa::Scalar)
        })
    }

    /// Streams hashed per kernel call.
    pub fn lanes(self) -> usize {
        match self {
            Isa::Scalar => 1,
            Isa::Sse2 => 4,
            Isa::Avx2 => 8,
        }
    }

    /// `self`, or the widest supported path below it, so that asking for a
    /// path the CPU lacks can never execute its instructions.
    fn usable(self) -> Isa {
        if self.is_supported() {
            self
        } else {
            Isa::ALL
                .into_iter()
                .rev()
                .find(|isa| *isa < self && isa.is_supported())
                .unwrap_or(Isa::Scalar)
        }
    }
}

/// Absorbs `jobs[i].1` into `jobs[i].0` for every job, hashing the streams
/// side by side on `isa` (or the widest supported path below it).
///
/// Lengths may differ and need not be multiples of 64: each stream first
/// completes its pending partial block alone, then whole blocks go through
/// the lanes in rounds of the shortest remaining stream, streams that run
/// out dropping out; a stream left alone finishes on the scalar path.
pub fn update_many(isa: Isa, jobs: &mut [(&mut Md5State, &[u8])]) {
    let isa = isa.usable();
    let mut work: Vec<Lane<'_>> = Vec::with_capacity(jobs.len());
    let mut tails: Vec<&[u8]> = Vec::with_capacity(jobs.len());
    for (state, data) in jobs.iter_mut() {
        let split = state.absorb_head(data);
        tails.push(split.tail);
        work.push(Lane {
            h: state.h,
            blocks: split.whole,
        });
    }
    compress_lanes(isa, &mut work);
    for (((state, _), lane), tail) in jobs.iter_mut().zip(&work).zip(tails) {
        state.h = lane.h;
        state.keep_tail(tail);
    }
}

/// One stream's chaining value and the whole blocks it has yet to absorb.
struct Lane<'a> {
    h: [u32; 4],
    blocks: &'a [[u8; 64]],
}

/// Schedules the streams' blocks onto the kernels of `isa` (already known
/// to be supported).
fn compress_lanes(isa: Isa, work: &mut [Lane<'_>]) {
    let width = isa.lanes();
    // Indices of streams with blocks left, longest first, so a kernel call
    // groups the streams that stay busy longest.
    let mut active: Vec<usize> = (0..work.len()).collect();
    loop {
        active.retain(|&i| !work[i].blocks.is_empty());
        if active.len() <= 1 || width == 1 {
            for &i in &active {
                let lane = &mut work[i];
                scalar::compress(&mut lane.h, lane.blocks);
                lane.blocks = &[];
            }
            return;
        }
        active.sort_by_key(|&i| std::cmp::Reverse(work[i].blocks.len()));
        let group = &active[..active.len().min(width)];
        let rounds = group.iter().map(|&i| work[i].blocks.len()).min();
        let rounds = rounds.unwrap_or(0);
        run_kernel(isa, work, group, rounds);
        for &i in group {
            work[i].blocks = &work[i].blocks[rounds..];
        }
    }
}

/// Runs `rounds` blocks of each stream in `group` through one call of the
/// kernel for `isa`. Unused lanes repeat the first stream's blocks into a
/// scratch state.
#[cfg(target_arch = "x86_64")]
fn run_kernel(isa: Isa, work: &mut [Lane<'_>], group: &[usize], rounds: usize) {
    match isa {
        Isa::Sse2 => {
            let (mut states, blocks) = lanes_of::<{ sse2::LANES }>(work, group, rounds);
            // SAFETY: `isa` passed `Isa::usable`, so SSE2 was detected.
            unsafe { sse2::compress(&mut states, blocks) };
            for (k, &i) in group.iter().enumerate() {
                work[i].h = states[k];
            }
        }
        Isa::Avx2 => {
            let (mut states, blocks) = lanes_of::<{ avx2::LANES }>(work, group, rounds);
            // SAFETY: `isa` passed `Isa::usable`, so AVX2 was detected.
            unsafe { avx2::compress(&mut states, blocks) };
            for (k, &i) in group.iter().enumerate() {
                work[i].h = states[k];
            }
        }
        Isa::Scalar => {
            for &i in group {
                let lane = &mut work[i];
                scalar::compress(&mut lane.h, &lane.blocks[..rounds]);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn run_kernel(_isa: Isa, work: &mut [Lane<'_>], group: &[usize], rounds: usize) {
    for &i in group {
        let lane = &mut work[i];
        scalar::compress(&mut lane.h, &lane.blocks[..rounds]);
    }
}

/// The chaining values and first `rounds` blocks of the streams in `group`
/// laid out as an N-lane kernel wants them.
#[cfg(target_arch = "x86_64")]
fn lanes_of<'a, const N: usize>(
    work: &[Lane<'a>],
    group: &[usize],
    rounds: usize,
) -> ([[u32; 4]; N], [&'a [[u8; 64]]; N]) {
    let filler = &work[group[0]].blocks[..rounds];
    let mut states = [INIT; N];
    let mut blocks = [filler; N];
    for (k, &i) in group.iter().enumerate().take(N) {
        states[k] = work[i].h;
        blocks[k] = &work[i].blocks[..rounds];
    }
    (states, blocks)
}

/// N streams hashed side by side, for callers that hold all N at once.
#[derive(Clone, Debug)]
pub struct Md5Lanes<const N: usize> {
    isa: Isa,
    states: [Md5State; N],
}

impl<const N: usize> Default for Md5Lanes<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Md5Lanes<N> {
    /// N fresh contexts on the widest path this CPU has.
    pub fn new() -> Self {
        Self::with_isa(Isa::best())
    }

    /// N fresh contexts on `isa` (or the widest supported path below it).
    pub fn with_isa(isa: Isa) -> Self {
        Self {
            isa: isa.usable(),
            states: std::array::from_fn(|_| Md5State::new()),
        }
    }

    /// The path in use.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Absorbs `inputs[i]` into lane i; an empty input leaves its lane as is.
    pub fn update(&mut self, inputs: [&[u8]; N]) {
        let mut jobs: Vec<(&mut Md5State, &[u8])> = self.states.iter_mut().zip(inputs).collect();
        update_many(self.isa, &mut jobs);
    }

    /// Lane i's context.
    pub fn lane(&self, i: usize) -> Option<&Md5State> {
        self.states.get(i)
    }

    /// Every lane's digest.
    pub fn finalize(self) -> [[u8; 16]; N] {
        self.states.map(Md5State::finalize)
    }
}
