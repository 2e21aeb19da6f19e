//! MD5 for object ETags, scheduled for the CPU's critical path.
//!
//! MD5 is the PUT bottleneck (`../shared/DESIGN.md`), and it is a chain:
//! each step needs the previous step's result. What limits a core is the
//! length of that chain, not the number of instructions. The md-5 crate
//! writes each step as `rotl(F(b, c, d) + a + m + k, s) + b`, which leaves
//! the whole boolean function on the chain. Here every term that does not
//! depend on the newest word `b` (`a + m + k`, `c ^ d`, `c & !d`, `!d`) is
//! computed off the chain, and round 2 uses `+` instead of `|` so its one
//! `b`-dependent term joins last (the two halves never share set bits).
//! This is the same digest; `tests` compare it with md-5 on random input.

/// Per-step additive constants (RFC 1321, `floor(abs(sin(i + 1)) * 2^32)`).
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

const INITIAL: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

// One step each of rounds 1–4. `b` is the word the previous step produced;
// `a + m + k` and the terms in `c`, `d` are ready before it.
#[inline(always)]
fn ff(a: u32, b: u32, c: u32, d: u32, mk: u32, s: u32) -> u32 {
    a.wrapping_add(mk)
        .wrapping_add(d ^ (b & (c ^ d)))
        .rotate_left(s)
        .wrapping_add(b)
}

#[inline(always)]
fn gg(a: u32, b: u32, c: u32, d: u32, mk: u32, s: u32) -> u32 {
    a.wrapping_add(mk)
        .wrapping_add(c & !d)
        .wrapping_add(b & d)
        .rotate_left(s)
        .wrapping_add(b)
}

#[inline(always)]
fn hh(a: u32, b: u32, c: u32, d: u32, mk: u32, s: u32) -> u32 {
    a.wrapping_add(mk)
        .wrapping_add(b ^ (c ^ d))
        .rotate_left(s)
        .wrapping_add(b)
}

#[inline(always)]
fn ii(a: u32, b: u32, c: u32, d: u32, mk: u32, s: u32) -> u32 {
    a.wrapping_add(mk)
        .wrapping_add(c ^ (b | !d))
        .rotate_left(s)
        .wrapping_add(b)
}

/// Runs the MD5 compression function over one 64-byte block.
#[inline]
fn compress(state: &mut [u32; 4], block: &[u8; 64]) {
    let mut m = [0u32; 16];
    for (w, bytes) in m.iter_mut().zip(block.chunks_exact(4)) {
        *w = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    let [mut a, mut b, mut c, mut d] = *state;
    macro_rules! round {
        ($f:ident, $base:expr, $idx:expr, $s:expr) => {
            for q in 0..4 {
                let i = $base + 4 * q;
                let x = |j: usize| m[$idx(i + j)].wrapping_add(K[i + j]);
                a = $f(a, b, c, d, x(0), $s[0]);
                d = $f(d, a, b, c, x(1), $s[1]);
                c = $f(c, d, a, b, x(2), $s[2]);
                b = $f(b, c, d, a, x(3), $s[3]);
            }
        };
    }
    round!(ff, 0, |i: usize| i, [7, 12, 17, 22]);
    round!(gg, 16, |i: usize| (5 * i + 1) % 16, [5, 9, 14, 20]);
    round!(hh, 32, |i: usize| (3 * i + 5) % 16, [4, 11, 16, 23]);
    round!(ii, 48, |i: usize| (7 * i) % 16, [6, 10, 15, 21]);
    state[0] = state[0].wrapping_add(a);
    state[1] = state[1].wrapping_add(b);
    state[2] = state[2].wrapping_add(c);
    state[3] = state[3].wrapping_add(d);
}

/// An incremental MD5 hasher: feed bytes with [`Md5::update`], read the
/// digest with [`Md5::finalize`].
#[derive(Clone)]
pub struct Md5 {
    state: [u32; 4],
    pending: [u8; 64],
    pending_len: usize,
    total: u64,
}

impl Default for Md5 {
    fn default() -> Self {
        Self::new()
    }
}

impl Md5 {
    /// A hasher that has seen no bytes.
    pub fn new() -> Self {
        Md5 {
            state: INITIAL,
            pending: [0; 64],
            pending_len: 0,
            total: 0,
        }
    }

    /// Hashes `data` after everything given before.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.pending_len > 0 {
            let take = (64 - self.pending_len).min(data.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&data[..take]);
            self.pending_len += take;
            data = &data[take..];
            if self.pending_len < 64 {
                return;
            }
            let block = self.pending;
            compress(&mut self.state, &block);
            self.pending_len = 0;
        }
        let mut blocks = data.chunks_exact(64);
        for block in &mut blocks {
            let block: &[u8; 64] = block.try_into().expect("chunks_exact yields 64 bytes");
            compress(&mut self.state, block);
        }
        let rest = blocks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    /// The 16-byte digest of everything hashed.
    pub fn finalize(mut self) -> [u8; 16] {
        let bits = self.total.wrapping_mul(8);
        let mut tail = [0u8; 128];
        tail[..self.pending_len].copy_from_slice(&self.pending[..self.pending_len]);
        tail[self.pending_len] = 0x80;
        let len = if self.pending_len < 56 { 64 } else { 128 };
        tail[len - 8..len].copy_from_slice(&bits.to_le_bytes());
        for block in tail[..len].chunks_exact(64) {
            let block: &[u8; 64] = block.try_into().expect("chunks_exact yields 64 bytes");
            compress(&mut self.state, block);
        }
        let mut out = [0u8; 16];
        for (o, w) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// The digest as 32 lowercase hex digits, the form of a Swift ETag.
    pub fn finalize_hex(self) -> String {
        hex::encode(self.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::Digest;

    fn reference(data: &[u8]) -> [u8; 16] {
        md5::Md5::digest(data).into()
    }

    #[test]
    fn rfc1321_vectors() {
        let cases = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in cases {
            let mut h = Md5::new();
            h.update(input.as_bytes());
            assert_eq!(h.finalize_hex(), want, "{input:?}");
        }
    }

    #[test]
    fn matches_md5_crate_on_every_length_and_split() {
        let data: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for len in 0..300 {
            let mut h = Md5::new();
            h.update(&data[..len]);
            assert_eq!(h.finalize(), reference(&data[..len]), "len {len}");
        }
        let mut seed = 0x9e3779b97f4a7c15u64;
        for _ in 0..200 {
            let mut h = Md5::new();
            let mut pos = 0;
            while pos < data.len() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let step = (seed % 200) as usize;
                let end = (pos + step).min(data.len());
                h.update(&data[pos..end]);
                pos = end;
            }
            assert_eq!(h.finalize(), reference(&data));
        }
    }
}
