//! Eight streams at once in 256-bit AVX2 registers.
//!
//! Same shape as the SSE2 kernel with twice the lanes; every function here
//! is compiled for AVX2 and [`compress`] may only be called once the CPU is
//! known to have it (see `Isa::is_supported`).

use std::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_loadu_si256, _mm256_or_si256,
    _mm256_permute2x128_si256, _mm256_set1_epi32, _mm256_setr_epi32, _mm256_slli_epi32,
    _mm256_srli_epi32, _mm256_storeu_si256, _mm256_unpackhi_epi32, _mm256_unpackhi_epi64,
    _mm256_unpacklo_epi32, _mm256_unpacklo_epi64, _mm256_xor_si256,
};

/// Streams per call.
pub(super) const LANES: usize = 8;

#[target_feature(enable = "avx2")]
#[inline]
fn add(a: __m256i, b: __m256i) -> __m256i {
    _mm256_add_epi32(a, b)
}

#[target_feature(enable = "avx2")]
#[inline]
fn splat(k: u32) -> __m256i {
    _mm256_set1_epi32(k as i32)
}

/// AVX2 has no vector rotate (that is AVX-512's `vprold`): shifts and an OR.
#[target_feature(enable = "avx2")]
#[inline]
fn rotl<const L: i32, const R: i32>(x: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_slli_epi32::<L>(x), _mm256_srli_epi32::<R>(x))
}

#[target_feature(enable = "avx2")]
#[inline]
fn ff(b: __m256i, c: __m256i, d: __m256i) -> __m256i {
    _mm256_xor_si256(d, _mm256_and_si256(b, _mm256_xor_si256(c, d)))
}

#[target_feature(enable = "avx2")]
#[inline]
fn gg(b: __m256i, c: __m256i, d: __m256i) -> __m256i {
    _mm256_xor_si256(c, _mm256_and_si256(d, _mm256_xor_si256(b, c)))
}

#[target_feature(enable = "avx2")]
#[inline]
fn hh(b: __m256i, c: __m256i, d: __m256i) -> __m256i {
    _mm256_xor_si256(_mm256_xor_si256(b, c), d)
}

#[target_feature(enable = "avx2")]
#[inline]
fn ii(b: __m256i, c: __m256i, d: __m256i) -> __m256i {
    let not_d = _mm256_xor_si256(d, _mm256_set1_epi32(-1));
    _mm256_xor_si256(c, _mm256_or_si256(b, not_d))
}

#[target_feature(enable = "avx2")]
#[inline]
fn load(bytes: &[u8; 32]) -> __m256i {
    // SAFETY: `bytes` is 32 readable bytes and loadu has no alignment
    // requirement; the enclosing function is only entered with AVX present.
    unsafe { _mm256_loadu_si256(bytes.as_ptr().cast()) }
}

#[target_feature(enable = "avx2")]
#[inline]
fn store(v: __m256i) -> [u32; 8] {
    let mut out = [0u32; 8];
    // SAFETY: `out` is 32 writable bytes and storeu has no alignment
    // requirement; the enclosing function is only entered with AVX present.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), v) };
    out
}

#[target_feature(enable = "avx2")]
#[inline]
fn state_word(states: &[[u32; 4]; LANES], i: usize) -> __m256i {
    _mm256_setr_epi32(
        states[0][i] as i32,
        states[1][i] as i32,
        states[2][i] as i32,
        states[3][i] as i32,
        states[4][i] as i32,
        states[5][i] as i32,
        states[6][i] as i32,
        states[7][i] as i32,
    )
}

/// Rows (eight words of one stream each) to columns (one word of each
/// stream): 4x4 transposes within each 128-bit half, then the halves swap.
#[target_feature(enable = "avx2")]
#[inline]
fn transpose(r: [__m256i; 8]) -> [__m256i; 8] {
    let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
    let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
    let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    // u0 holds word 0 of streams 0-3 in its low half and word 4 in its high half.
    let u0 = _mm256_unpacklo_epi64(t0, t2);
    let u1 = _mm256_unpackhi_epi64(t0, t2);
    let u2 = _mm256_unpacklo_epi64(t1, t3);
    let u3 = _mm256_unpackhi_epi64(t1, t3);
    let u4 = _mm256_unpacklo_epi64(t4, t6);
    let u5 = _mm256_unpackhi_epi64(t4, t6);
    let u6 = _mm256_unpacklo_epi64(t5, t7);
    let u7 = _mm256_unpackhi_epi64(t5, t7);
    [
        _mm256_permute2x128_si256::<0x20>(u0, u4),
        _mm256_permute2x128_si256::<0x20>(u1, u5),
        _mm256_permute2x128_si256::<0x20>(u2, u6),
        _mm256_permute2x128_si256::<0x20>(u3, u7),
        _mm256_permute2x128_si256::<0x31>(u0, u4),
        _mm256_permute2x128_si256::<0x31>(u1, u5),
        _mm256_permute2x128_si256::<0x31>(u2, u6),
        _mm256_permute2x128_si256::<0x31>(u3, u7),
    ]
}

/// Runs the compression function over `blocks[l]` on `states[l]` for each
/// of the eight lanes. Every lane must have the same number of blocks; the
/// caller fills unused lanes with any blocks and discards their states.
// Block i of every lane is read by index: the lanes are separate slices.
#[allow(clippy::needless_range_loop)]
#[target_feature(enable = "avx2")]
pub(super) fn compress(states: &mut [[u32; 4]; LANES], blocks: [&[[u8; 64]]; LANES]) {
    let n = blocks[0].len();
    debug_assert!(blocks.iter().all(|b| b.len() == n));
    let mut sa = state_word(states, 0);
    let mut sb = state_word(states, 1);
    let mut sc = state_word(states, 2);
    let mut sd = state_word(states, 3);
    for i in 0..n {
        let mut m = [_mm256_set1_epi32(0); 16];
        for half in 0..2 {
            let mut rows = [_mm256_set1_epi32(0); LANES];
            for l in 0..LANES {
                rows[l] = load(&blocks[l][i].as_chunks::<32>().0[half]);
            }
            let cols = transpose(rows);
            m[half * 8..half * 8 + 8].copy_from_slice(&cols);
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
