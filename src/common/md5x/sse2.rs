//! Four streams at once in the 128-bit lanes every x86-64 CPU has (SSE2).
//!
//! Each `__m128i` holds the same MD5 word for four streams, so one
//! instruction advances all four; the message words are transposed from
//! "one stream per register" into "one word per register" per block.

use std::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_and_si128, _mm_loadu_si128, _mm_or_si128, _mm_set1_epi32,
    _mm_setr_epi32, _mm_slli_epi32, _mm_srli_epi32, _mm_storeu_si128, _mm_unpackhi_epi32,
    _mm_unpackhi_epi64, _mm_unpacklo_epi32, _mm_unpacklo_epi64, _mm_xor_si128,
};

/// Streams per call.
pub(super) const LANES: usize = 4;

#[target_feature(enable = "sse2")]
#[inline]
fn add(a: __m128i, b: __m128i) -> __m128i {
    _mm_add_epi32(a, b)
}

#[target_feature(enable = "sse2")]
#[inline]
fn splat(k: u32) -> __m128i {
    _mm_set1_epi32(k as i32)
}

/// SSE2 has no vector rotate: two shifts and an OR.
#[target_feature(enable = "sse2")]
#[inline]
fn rotl<const L: i32, const R: i32>(x: __m128i) -> __m128i {
    _mm_or_si128(_mm_slli_epi32::<L>(x), _mm_srli_epi32::<R>(x))
}

#[target_feature(enable = "sse2")]
#[inline]
fn ff(b: __m128i, c: __m128i, d: __m128i) -> __m128i {
    _mm_xor_si128(d, _mm_and_si128(b, _mm_xor_si128(c, d)))
}

#[target_feature(enable = "sse2")]
#[inline]
fn gg(b: __m128i, c: __m128i, d: __m128i) -> __m128i {
    _mm_xor_si128(c, _mm_and_si128(d, _mm_xor_si128(b, c)))
}

#[target_feature(enable = "sse2")]
#[inline]
fn hh(b: __m128i, c: __m128i, d: __m128i) -> __m128i {
    _mm_xor_si128(_mm_xor_si128(b, c), d)
}

#[target_feature(enable = "sse2")]
#[inline]
fn ii(b: __m128i, c: __m128i, d: __m128i) -> __m128i {
    let not_d = _mm_xor_si128(d, _mm_set1_epi32(-1));
    _mm_xor_si128(c, _mm_or_si128(b, not_d))
}

#[target_feature(enable = "sse2")]
#[inline]
fn load(bytes: &[u8; 16]) -> __m128i {
    // SAFETY: `bytes` is 16 readable bytes and loadu has no alignment
    // requirement.
    unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
}

#[target_feature(enable = "sse2")]
#[inline]
fn store(v: __m128i) -> [u32; 4] {
    let mut out = [0u32; 4];
    // SAFETY: `out` is 16 writable bytes and storeu has no alignment
    // requirement.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), v) };
    out
}

#[target_feature(enable = "sse2")]
#[inline]
fn state_word(states: &[[u32; 4]; LANES], i: usize) -> __m128i {
    _mm_setr_epi32(
        states[0][i] as i32,
        states[1][i] as i32,
        states[2][i] as i32,
        states[3][i] as i32,
    )
}

/// Rows (one stream's four words each) to columns (one word of each stream).
#[target_feature(enable = "sse2")]
#[inline]
fn transpose(r: [__m128i; 4]) -> [__m128i; 4] {
    let t0 = _mm_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm_unpacklo_epi32(r[2], r[3]);
    let t2 = _mm_unpackhi_epi32(r[0], r[1]);
    let t3 = _mm_unpackhi_epi32(r[2], r[3]);
    [
        _mm_unpacklo_epi64(t0, t1),
        _mm_unpackhi_epi64(t0, t1),
        _mm_unpacklo_epi64(t2, t3),
        _mm_unpackhi_epi64(t2, t3),
    ]
}

/// Runs the compression function over `blocks[l]` on `states[l]` for each
/// of the four lanes. Every lane must have the same number of blocks; the
/// caller fills unused lanes with any blocks and discards their states.
// Block i of every lane is read by index: the lanes are separate slices.
#[allow(clippy::needless_range_loop)]
#[target_feature(enable = "sse2")]
pub(super) fn compress(states: &mut [[u32; 4]; LANES], blocks: [&[[u8; 64]]; LANES]) {
    let n = blocks[0].len();
    debug_assert!(blocks.iter().all(|b| b.len() == n));
    let mut sa = state_word(states, 0);
    let mut sb = state_word(states, 1);
    let mut sc = state_word(states, 2);
    let mut sd = state_word(states, 3);
    for i in 0..n {
        let mut m = [_mm_set1_epi32(0); 16];
        for quarter in 0..4 {
            let mut rows = [_mm_set1_epi32(0); LANES];
            for l in 0..LANES {
                rows[l] = load(&blocks[l][i].as_chunks::<16>().0[quarter]);
            }
            let cols = transpose(rows);
            m[quarter * 4..quarter * 4 + 4].copy_from_slice(&cols);
        }
        let (mut a, mut b, mut c, mut d) = (sa, sb, sc, sd);
        md5_rounds!(a, b, c, d, m);
        sa = add(sa, a);
        sb = add(sb, b);
        sc = add(sc, c);
        sd = add(sd, d);
    }
    let words = [store(sa), store(sb), store(sc), store(sd)];
    for (l, state) in states.iter_mut().enumerate() {
        *state = [words[0][l], words[1][l], words[2][l], words[3][l]];
    }
}
