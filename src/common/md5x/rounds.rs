//! The 64 steps of one MD5 block (RFC 1321, section 3.4), written once for
//! every word type: a scalar `u32` or a SIMD vector holding one `u32` per lane.
//!
//! The macro expands to straight-line code that calls `add`, `splat`, `rotl`
//! and the four round functions `ff`, `gg`, `hh`, `ii` by name, so each
//! kernel module defines those for its word type and invokes `md5_rounds!`
//! inside a function compiled for the same CPU features; the helpers then
//! inline into one loop body with no calls or branches.

/// One MD5 step: `a = b + rotl(a + f(b, c, d) + k + m, s)`.
///
/// `k + m` is added first because it does not depend on the previous step,
/// which keeps it off the serial dependency chain through `a`.
macro_rules! md5_step {
    ($f:ident, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:literal, $s:literal) => {
        $a = add(
            $b,
            rotl::<$s, { 32 - $s }>(add(add($a, $f($b, $c, $d)), add(splat($k), $m))),
        );
    };
}

/// All 64 steps over the message words `$m[0..16]` (already in the word
/// type), updating the working variables `$a..$d` in place.
macro_rules! md5_rounds {
    ($a:ident, $b:ident, $c:ident, $d:ident, $m:ident) => {
        // Round 1: F, message words in order, shifts 7/12/17/22.
        md5_step!(ff, $a, $b, $c, $d, $m[0], 0xd76a_a478, 7);
        md5_step!(ff, $d, $a, $b, $c, $m[1], 0xe8c7_b756, 12);
        md5_step!(ff, $c, $d, $a, $b, $m[2], 0x2420_70db, 17);
        md5_step!(ff, $b, $c, $d, $a, $m[3], 0xc1bd_ceee, 22);
        md5_step!(ff, $a, $b, $c, $d, $m[4], 0xf57c_0faf, 7);
        md5_step!(ff, $d, $a, $b, $c, $m[5], 0x4787_c62a, 12);
        md5_step!(ff, $c, $d, $a, $b, $m[6], 0xa830_4613, 17);
        md5_step!(ff, $b, $c, $d, $a, $m[7], 0xfd46_9501, 22);
        md5_step!(ff, $a, $b, $c, $d, $m[8], 0x6980_98d8, 7);
        md5_step!(ff, $d, $a, $b, $c, $m[9], 0x8b44_f7af, 12);
        md5_step!(ff, $c, $d, $a, $b, $m[10], 0xffff_5bb1, 17);
        md5_step!(ff, $b, $c, $d, $a, $m[11], 0x895c_d7be, 22);
        md5_step!(ff, $a, $b, $c, $d, $m[12], 0x6b90_1122, 7);
        md5_step!(ff, $d, $a, $b, $c, $m[13], 0xfd98_7193, 12);
        md5_step!(ff, $c, $d, $a, $b, $m[14], 0xa679_438e, 17);
        md5_step!(ff, $b, $c, $d, $a, $m[15], 0x49b4_0821, 22);
        // Round 2: G, word (5i + 1) mod 16, shifts 5/9/14/20.
        md5_step!(gg, $a, $b, $c, $d, $m[1], 0xf61e_2562, 5);
        md5_step!(gg, $d, $a, $b, $c, $m[6], 0xc040_b340, 9);
        md5_step!(gg, $c, $d, $a, $b, $m[11], 0x265e_5a51, 14);
        md5_step!(gg, $b, $c, $d, $a, $m[0], 0xe9b6_c7aa, 20);
        md5_step!(gg, $a, $b, $c, $d, $m[5], 0xd62f_105d, 5);
        md5_step!(gg, $d, $a, $b, $c, $m[10], 0x0244_1453, 9);
        md5_step!(gg, $c, $d, $a, $b, $m[15], 0xd8a1_e681, 14);
        md5_step!(gg, $b, $c, $d, $a, $m[4], 0xe7d3_fbc8, 20);
        md5_step!(gg, $a, $b, $c, $d, $m[9], 0x21e1_cde6, 5);
        md5_step!(gg, $d, $a, $b, $c, $m[14], 0xc337_07d6, 9);
        md5_step!(gg, $c, $d, $a, $b, $m[3], 0xf4d5_0d87, 14);
        md5_step!(gg, $b, $c, $d, $a, $m[8], 0x455a_14ed, 20);
        md5_step!(gg, $a, $b, $c, $d, $m[13], 0xa9e3_e905, 5);
        md5_step!(gg, $d, $a, $b, $c, $m[2], 0xfcef_a3f8, 9);
        md5_step!(gg, $c, $d, $a, $b, $m[7], 0x676f_02d9, 14);
        md5_step!(gg, $b, $c, $d, $a, $m[12], 0x8d2a_4c8a, 20);
        // Round 3: H, word (3i + 5) mod 16, shifts 4/11/16/23.
        md5_step!(hh, $a, $b, $c, $d, $m[5], 0xfffa_3942, 4);
        md5_step!(hh, $d, $a, $b, $c, $m[8], 0x8771_f681, 11);
        md5_step!(hh, $c, $d, $a, $b, $m[11], 0x6d9d_6122, 16);
        md5_step!(hh, $b, $c, $d, $a, $m[14], 0xfde5_380c, 23);
        md5_step!(hh, $a, $b, $c, $d, $m[1], 0xa4be_ea44, 4);
        md5_step!(hh, $d, $a, $b, $c, $m[4], 0x4bde_cfa9, 11);
        md5_step!(hh, $c, $d, $a, $b, $m[7], 0xf6bb_4b60, 16);
        md5_step!(hh, $b, $c, $d, $a, $m[10], 0xbebf_bc70, 23);
        md5_step!(hh, $a, $b, $c, $d, $m[13], 0x289b_7ec6, 4);
        md5_step!(hh, $d, $a, $b, $c, $m[0], 0xeaa1_27fa, 11);
        md5_step!(hh, $c, $d, $a, $b, $m[3], 0xd4ef_3085, 16);
        md5_step!(hh, $b, $c, $d, $a, $m[6], 0x0488_1d05, 23);
        md5_step!(hh, $a, $b, $c, $d, $m[9], 0xd9d4_d039, 4);
        md5_step!(hh, $d, $a, $b, $c, $m[12], 0xe6db_99e5, 11);
        md5_step!(hh, $c, $d, $a, $b, $m[15], 0x1fa2_7cf8, 16);
        md5_step!(hh, $b, $c, $d, $a, $m[2], 0xc4ac_5665, 23);
        // Round 4: I, word 7i mod 16, shifts 6/10/15/21.
        md5_step!(ii, $a, $b, $c, $d, $m[0], 0xf429_2244, 6);
        md5_step!(ii, $d, $a, $b, $c, $m[7], 0x432a_ff97, 10);
        md5_step!(ii, $c, $d, $a, $b, $m[14], 0xab94_23a7, 15);
        md5_step!(ii, $b, $c, $d, $a, $m[5], 0xfc93_a039, 21);
        md5_step!(ii, $a, $b, $c, $d, $m[12], 0x655b_59c3, 6);
        md5_step!(ii, $d, $a, $b, $c, $m[3], 0x8f0c_cc92, 10);
        md5_step!(ii, $c, $d, $a, $b, $m[10], 0xffef_f47d, 15);
        md5_step!(ii, $b, $c, $d, $a, $m[1], 0x8584_5dd1, 21);
        md5_step!(ii, $a, $b, $c, $d, $m[8], 0x6fa8_7e4f, 6);
        md5_step!(ii, $d, $a, $b, $c, $m[15], 0xfe2c_e6e0, 10);
        md5_step!(ii, $c, $d, $a, $b, $m[6], 0xa301_4314, 15);
        md5_step!(ii, $b, $c, $d, $a, $m[13], 0x4e08_11a1, 21);
        md5_step!(ii, $a, $b, $c, $d, $m[4], 0xf753_7e82, 6);
        md5_step!(ii, $d, $a, $b, $c, $m[11], 0xbd3a_f235, 10);
        md5_step!(ii, $c, $d, $a, $b, $m[2], 0x2ad7_d2bb, 15);
        md5_step!(ii, $b, $c, $d, $a, $m[9], 0xeb86_d391, 21);
    };
}
