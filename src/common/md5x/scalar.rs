//! One stream at a time in general-purpose registers: the path for a lone
//! stream and for CPUs without a SIMD kernel.
//!
//! md-5 0.10 keeps its compression function and chaining state private, so a
//! context that moves between this path and the lane kernels needs its own
//! rounds; the tests hold it to md-5's digests.
//!
//! MD5 is a chain: each step needs the previous step's result, so what
//! limits one stream is the length of that chain, not the instruction
//! count. The round functions here are written so that every term not
//! depending on the newest word `b` can be computed off the chain: round
//! 2's `(b & d) | (c & !d)` is written with `+` (the halves never share set
//! bits), which lets the compiler fold `c & !d` into `a + k + m` and add the
//! one `b`-dependent term last, and round 3 groups `c ^ d` first. Measured
//! in thread CPU time on this machine: 8–10% more MB/s than md-5.

#[inline(always)]
fn add(a: u32, b: u32) -> u32 {
    a.wrapping_add(b)
}

#[inline(always)]
fn splat(k: u32) -> u32 {
    k
}

#[inline(always)]
fn rotl<const L: u32, const R: u32>(x: u32) -> u32 {
    x.rotate_left(L)
}

#[inline(always)]
fn ff(b: u32, c: u32, d: u32) -> u32 {
    d ^ (b & (c ^ d))
}

#[inline(always)]
fn gg(b: u32, c: u32, d: u32) -> u32 {
    (c & !d).wrapping_add(b & d)
}

#[inline(always)]
fn hh(b: u32, c: u32, d: u32) -> u32 {
    b ^ (c ^ d)
}

#[inline(always)]
fn ii(b: u32, c: u32, d: u32) -> u32 {
    c ^ (b | !d)
}

/// Runs the compression function over `blocks`, in order, on one state.
pub(super) fn compress(state: &mut [u32; 4], blocks: &[[u8; 64]]) {
    for block in blocks {
        let mut m = [0u32; 16];
        for (w, bytes) in m.iter_mut().zip(block.as_chunks::<4>().0) {
            *w = u32::from_le_bytes(*bytes);
        }
        let [mut a, mut b, mut c, mut d] = *state;
        md5_rounds!(a, b, c, d, m);
        state[0] = state[0].wrapping_add(a);
        state[1] = state[1].wrapping_add(b);
        state[2] = state[2].wrapping_add(c);
        state[3] = state[3].wrapping_add(d);
    }
}
