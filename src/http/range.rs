//! `Range` requests as Swift serves them: parsing the header, resolving it
//! against an object's length (including Swift's refusal of abusive range
//! sets), and the `multipart/byteranges` framing of multi-range answers.
//!
//! Ranges apply to successful GETs only; HEAD and conditional failures are
//! decided before ranges are looked at.

use std::cmp::Ordering;

/// More resolved ranges than this is abusive.
pub const MAX_RANGES: usize = 50;
/// More overlapping pairs than this is abusive.
pub const MAX_RANGE_OVERLAPS: usize = 2;
/// At least this many ranges, not in ascending order, is abusive.
pub const MAX_NONASCENDING_RANGES: usize = 8;

/// One requested range as written: `(Some(a), Some(b))` is `a-b`
/// (inclusive), `(Some(a), None)` is `a-`, `(None, Some(n))` is the suffix
/// `-n`. Numbers too large for u64 saturate, which resolves the same way.
pub type RangeSpec = (Option<u64>, Option<u64>);

/// Parses a `Range` header the way Swift does. `None` means the header is
/// syntactically invalid and must be ignored entirely (the whole object is
/// served with 200), as RFC 7233 requires.
///
/// Swift's syntax: spaces anywhere are dropped; the unit must be `bytes=`
/// (any case); items are comma-separated and each needs a `-`; an empty item
/// (`bytes=0-1,`), `-` alone, a non-number, or an end below its start makes
/// the whole header invalid. The start is read like Python's `int()` (so
/// `+5` or tabs are tolerated); the end must be plain digits.
pub fn parse_range(header: &str) -> Option<Vec<RangeSpec>> {
    let compact: String = header.chars().filter(|&c| c != ' ').collect();
    let unit = compact.get(..6)?;
    if !unit.eq_ignore_ascii_case("bytes=") {
        return None;
    }
    let mut specs = Vec::new();
    for item in compact[6..].split(',') {
        let (start_text, end_text) = item.split_once('-')?;
        let start = if start_text.is_empty() {
            None
        } else {
            Some(parse_start(start_text)?)
        };
        let end = if end_text.is_empty() {
            None
        } else {
            if !end_text.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(end_text)
        };
        match (&start, end) {
            (None, None) => return None,
            (Some((_, s_digits)), Some(e)) if cmp_decimal(e, s_digits) == Ordering::Less => {
                return None
            }
            _ => {}
        }
        specs.push((start.map(|(v, _)| v), end.map(saturating_decimal)));
    }
    Some(specs)
}

/// What to send for a parsed `Range` and an object length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Ignore the ranges: 200 with the whole object.
    Full,
    /// 206 with these half-open `[start, end)` byte ranges, in request
    /// order (one range: a plain body with `Content-Range`; several:
    /// multipart/byteranges).
    Ranges(Vec<(u64, u64)>),
    /// 416, with `Content-Range: bytes */<length>`.
    Unsatisfiable,
}

/// Resolves parsed ranges against an object of `length` bytes, as Swift's
/// `ranges_for_length` and its response code do.
///
/// Each spec becomes a half-open range: `a-b` is `[a, min(b+1, len))`, `a-`
/// is `[a, len)`, `-n` is the last `n` bytes (the whole object when `n`
/// exceeds it); a range starting at or past the end, and `-0`, are dropped.
///
/// RFC 7233 §6.1 lets servers refuse range sets built to make them do much
/// work for little request. Swift refuses (416, not 200) any set that after
/// resolving has more than [`MAX_RANGES`] ranges, or more than
/// [`MAX_RANGE_OVERLAPS`] pairs that overlap (pairs that only touch, or are
/// identical, do not count: Swift compares ends strictly), or at least
/// [`MAX_NONASCENDING_RANGES`] ranges not sorted by (start, end).
///
/// A set with nothing left is unsatisfiable. An empty object is special:
/// a surviving range (only a suffix like `-5` can survive) gets a 200 with
/// the empty body, since no byte positions exist to put in Content-Range;
/// so `bytes=0-` on an empty object is 416 but `bytes=-5` is 200.
pub fn ranges_for_length(spec: &[RangeSpec], length: u64) -> RangeOutcome {
    if spec.is_empty() {
        return RangeOutcome::Full;
    }
    let mut ranges = Vec::with_capacity(spec.len());
    for &(start, end) in spec {
        match (start, end) {
            (None, Some(0)) | (None, None) => {}
            (None, Some(n)) => ranges.push((length.saturating_sub(n), length)),
            (Some(s), None) if s < length => ranges.push((s, length)),
            (Some(s), Some(e)) if s < length => ranges.push((s, e.saturating_add(1).min(length))),
            _ => {}
        }
    }
    if ranges.is_empty() || is_abusive(&ranges) {
        return RangeOutcome::Unsatisfiable;
    }
    if length == 0 {
        return RangeOutcome::Full;
    }
    RangeOutcome::Ranges(ranges)
}

/// Swift's abuse test (see [`ranges_for_length`]).
fn is_abusive(ranges: &[(u64, u64)]) -> bool {
    if ranges.len() > MAX_RANGES {
        return true;
    }
    let mut overlaps = 0;
    for (i, &(s1, e1)) in ranges.iter().enumerate() {
        for &(s2, e2) in &ranges[i + 1..] {
            let inside = |x: u64, lo: u64, hi: u64| lo < x && x < hi;
            if inside(s2, s1, e1) || inside(e2, s1, e1) || inside(s1, s2, e2) || inside(e1, s2, e2)
            {
                overlaps += 1;
                if overlaps > MAX_RANGE_OVERLAPS {
                    return true;
                }
            }
        }
    }
    let ascending = ranges.windows(2).all(|w| w[0] <= w[1]);
    !ascending && ranges.len() >= MAX_NONASCENDING_RANGES
}

/// The `Content-Range` value of one range: `bytes 0-9/100`.
pub fn content_range(start: u64, end_exclusive: u64, length: u64) -> String {
    format!(
        "bytes {}-{}/{}",
        start,
        end_exclusive.saturating_sub(1),
        length
    )
}

/// The `Content-Range` value sent with a 416: `bytes */100`.
pub fn unsatisfied_content_range(length: u64) -> String {
    format!("bytes */{length}")
}

/// A fresh multipart boundary: 32 random lower-case hex digits, like
/// Swift's.
pub fn multipart_boundary() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The response `Content-Type` of a multi-range answer (no space before
/// `boundary`, as Swift writes it).
pub fn multipart_content_type(boundary: &str) -> String {
    format!("multipart/byteranges;boundary={boundary}")
}

/// What precedes each part's bytes: `--boundary`, the part's Content-Type
/// (the object's full Content-Type, parameters included) and Content-Range,
/// and the blank line.
pub fn multipart_part_header(
    boundary: &str,
    content_type: &str,
    start: u64,
    end_exclusive: u64,
    length: u64,
) -> String {
    format!(
        "--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
        content_range(start, end_exclusive, length)
    )
}

/// What follows each part's bytes.
pub const MULTIPART_PART_END: &str = "\r\n";

/// What ends the body after the last part: `--boundary--` (no final CRLF,
/// as Swift sends it).
pub fn multipart_trailer(boundary: &str) -> String {
    format!("--{boundary}--")
}

/// The exact Content-Length of a multipart/byteranges body built from
/// [`multipart_part_header`], the range's bytes and [`MULTIPART_PART_END`]
/// per range, then [`multipart_trailer`].
pub fn multipart_length(
    boundary: &str,
    content_type: &str,
    ranges: &[(u64, u64)],
    length: u64,
) -> u64 {
    let mut total = multipart_trailer(boundary).len() as u64;
    for &(start, end) in ranges {
        total += multipart_part_header(boundary, content_type, start, end, length).len() as u64;
        total += end.saturating_sub(start) + MULTIPART_PART_END.len() as u64;
    }
    total
}

/// A range start as Python's `int()` reads it: surrounding whitespace, an
/// optional `+`, digits with single `_` between them. Returns the saturated
/// value and the bare digits (for exact comparison with the end).
fn parse_start(text: &str) -> Option<(u64, String)> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return None;
    }
    let digits: String = t.chars().filter(|&c| c != '_').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((saturating_decimal(&digits), digits))
}

/// A digit string's value, saturating at u64::MAX (the caller has checked
/// that it is all ASCII digits).
fn saturating_decimal(digits: &str) -> u64 {
    digits.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    })
}

/// Compares two ASCII digit strings numerically, whatever their length.
fn cmp_decimal(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    /// Random Range headers never panic, and every range handed back lies
    /// inside the object and is non-empty.
    #[test]
    fn random_range_headers_stay_in_bounds() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x4a4e);
        let alphabet = b"bytes=0123456789-, ";
        for _ in 0..20_000 {
            let n = rng.gen_range(0..24);
            let mut h = String::from("bytes=");
            for _ in 0..n {
                h.push(alphabet[rng.gen_range(0..alphabet.len())] as char);
            }
            let length = rng.gen_range(0..50u64);
            if let Some(spec) = super::parse_range(&h) {
                if let super::RangeOutcome::Ranges(rs) = super::ranges_for_length(&spec, length) {
                    for (a, b) in rs {
                        assert!(a < b && b <= length, "{h} on {length}: {a}..{b}");
                    }
                }
            }
        }
    }

    use super::*;
    use RangeOutcome::*;

    fn spec(h: &str) -> Vec<RangeSpec> {
        match parse_range(h) {
            Some(s) => s,
            None => panic!("{h:?} should parse"),
        }
    }

    fn resolve(h: &str, len: u64) -> RangeOutcome {
        ranges_for_length(&spec(h), len)
    }

    #[test]
    fn parses_valid_headers() {
        assert_eq!(spec("bytes=1-7"), vec![(Some(1), Some(7))]);
        assert_eq!(
            spec("bytes=0-1,5-,-3"),
            vec![(Some(0), Some(1)), (Some(5), None), (None, Some(3))]
        );
        assert_eq!(spec("BYTES=1-2"), vec![(Some(1), Some(2))]);
        assert_eq!(
            spec(" bytes = 0 - 1 , -7 "),
            vec![(Some(0), Some(1)), (None, Some(7))]
        );
        assert_eq!(spec("bytes=+5-6"), vec![(Some(5), Some(6))]);
        assert_eq!(spec("bytes=1_0-20"), vec![(Some(10), Some(20))]);
        assert_eq!(spec("bytes=-0"), vec![(None, Some(0))]);
        assert_eq!(spec("bytes=5-5"), vec![(Some(5), Some(5))]);
        assert_eq!(
            spec("bytes=0-100000000000000000000000"),
            vec![(Some(0), Some(u64::MAX))]
        );
        assert_eq!(spec("bytes=007-10"), vec![(Some(7), Some(10))]);
    }

    #[test]
    fn rejects_invalid_headers() {
        for h in [
            "",
            "bytes",
            "bytes=",
            "nonbytes=0-",
            "bits=0-1",
            "bytes=5-3",
            "bytes=-",
            "bytes=45",
            "bytes=foo-bar,3-5",
            "bytes=4-10,45",
            "bytes=nonumber-5",
            "bytes=--1",
            "bytes=--0",
            "bytes=0-1,",
            "bytes=,0-1",
            "bytes=1-+2",
            "bytes=1-2_0",
            "bytes=1__0-20",
            "bytes=20000000000000000000001-20000000000000000000000",
            "bytes=\u{e9}-1",
        ] {
            assert_eq!(parse_range(h), None, "{h:?}");
        }
    }

    #[test]
    fn resolves_like_swift() {
        assert_eq!(resolve("bytes=1-7", 10), Ranges(vec![(1, 8)]));
        assert_eq!(resolve("bytes=1-7", 5), Ranges(vec![(1, 5)]));
        assert_eq!(resolve("bytes=1-", 10), Ranges(vec![(1, 10)]));
        assert_eq!(resolve("bytes=100-", 5), Unsatisfiable);
        assert_eq!(resolve("bytes=5-10", 2), Unsatisfiable);
        assert_eq!(resolve("bytes=4-6,100-", 5), Ranges(vec![(4, 5)]));
        assert_eq!(resolve("bytes=-7", 10), Ranges(vec![(3, 10)]));
        assert_eq!(resolve("bytes=-7", 7), Ranges(vec![(0, 7)]));
        assert_eq!(resolve("bytes=-7", 5), Ranges(vec![(0, 5)]));
        assert_eq!(
            resolve("bytes=-100000000000000000000000", 100),
            Ranges(vec![(0, 100)])
        );
        assert_eq!(resolve("bytes=4-6,-100", 5), Ranges(vec![(4, 5), (0, 5)]));
        assert_eq!(
            resolve("bytes=30-150,-10", 90),
            Ranges(vec![(30, 90), (80, 90)])
        );
        assert_eq!(
            resolve("bytes=30-150,-10", 200),
            Ranges(vec![(30, 151), (190, 200)])
        );
        assert_eq!(resolve("bytes=-7,0-1", 10), Ranges(vec![(3, 10), (0, 2)]));
        assert_eq!(resolve("bytes=-0", 10), Unsatisfiable);
        assert_eq!(resolve("bytes=-0,1-2", 10), Ranges(vec![(1, 3)]));
        assert_eq!(resolve("bytes=9-9", 10), Ranges(vec![(9, 10)]));
        assert_eq!(resolve("bytes=10-10", 10), Unsatisfiable);
        assert_eq!(ranges_for_length(&[], 10), Full);
    }

    #[test]
    fn empty_objects() {
        assert_eq!(resolve("bytes=0-", 0), Unsatisfiable);
        assert_eq!(resolve("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(resolve("bytes=-0", 0), Unsatisfiable);
        assert_eq!(resolve("bytes=-5", 0), Full);
        assert_eq!(resolve("bytes=0-,-5", 0), Full);
    }

    #[test]
    fn overlap_abuse() {
        assert_eq!(
            resolve("bytes=10-19,15-24", 100),
            Ranges(vec![(10, 20), (15, 25)])
        );
        assert_eq!(
            resolve("bytes=10-19,15-24,20-29", 100),
            Ranges(vec![(10, 20), (15, 25), (20, 30)])
        );
        // Touching ranges do not overlap.
        assert_eq!(
            resolve("bytes=10-19,20-29,30-39", 100),
            Ranges(vec![(10, 20), (20, 30), (30, 40)])
        );
        // Sharing a byte does: three overlapping pairs.
        assert_eq!(resolve("bytes=10-20,20-30,30-40,40-50", 100), Unsatisfiable);
        // Suffix ranges overlap or not depending on the length.
        assert_eq!(
            resolve("bytes=10-15,15-20,30-39,-9", 100),
            Ranges(vec![(10, 16), (15, 21), (30, 40), (91, 100)])
        );
        assert_eq!(resolve("bytes=10-15,15-20,30-39,-9", 20), Unsatisfiable);
        // Identical ranges escape Swift's strict comparison.
        assert_eq!(
            resolve("bytes=0-9,0-9,0-9,0-9", 100),
            Ranges(vec![(0, 10); 4])
        );
        // One range containing three others: three overlapping pairs.
        assert_eq!(resolve("bytes=0-99,10-19,30-39,50-59", 100), Unsatisfiable);
    }

    #[test]
    fn order_and_count_abuse() {
        let seven = "bytes=100-109,200-209,300-309,500-509,400-409,600-609,700-709";
        match resolve(seven, 100_000) {
            Ranges(r) => assert_eq!(r.len(), 7),
            other => panic!("{other:?}"),
        }
        assert_eq!(resolve(&format!("{seven},800-809"), 100_000), Unsatisfiable);
        // Eight ascending ranges are fine.
        let eight: Vec<String> = (0..8)
            .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
            .collect();
        assert!(matches!(
            resolve(&format!("bytes={}", eight.join(",")), 1000),
            Ranges(_)
        ));

        let fifty: Vec<String> = (0..50)
            .map(|x| format!("{}-{}", x * 1000, x * 1000 + 10))
            .collect();
        let fifty = format!("bytes={}", fifty.join(","));
        match resolve(&fifty, 1_000_000_000) {
            Ranges(r) => assert_eq!(r.len(), 50),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            resolve(&format!("{fifty},10000000-10000009"), 1_000_000_000),
            Unsatisfiable
        );
        // Dropped ranges do not count towards the limit.
        assert!(matches!(
            resolve(&format!("{fifty},2000000000-"), 1_000_000_000),
            Ranges(_)
        ));
    }

    #[test]
    fn content_range_values() {
        assert_eq!(content_range(0, 10, 100), "bytes 0-9/100");
        assert_eq!(content_range(99, 100, 100), "bytes 99-99/100");
        assert_eq!(unsatisfied_content_range(5), "bytes */5");
    }

    #[test]
    fn multipart_layout_and_length() {
        let b = multipart_boundary();
        assert_eq!(b.len(), 32);
        assert!(b
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(b, multipart_boundary());
        assert_eq!(
            multipart_content_type("abc"),
            "multipart/byteranges;boundary=abc"
        );

        let data: Vec<u8> = (0..100u8).collect();
        let ct = "text/plain; charset=utf8";
        let ranges = [(0u64, 10u64), (10, 20), (95, 100)];
        let mut body = Vec::new();
        for &(s, e) in &ranges {
            body.extend_from_slice(multipart_part_header(&b, ct, s, e, 100).as_bytes());
            body.extend_from_slice(&data[s as usize..e as usize]);
            body.extend_from_slice(MULTIPART_PART_END.as_bytes());
        }
        body.extend_from_slice(multipart_trailer(&b).as_bytes());
        assert_eq!(multipart_length(&b, ct, &ranges, 100), body.len() as u64);

        let text = String::from_utf8_lossy(&body);
        let expected_start = format!(
            "--{b}\r\nContent-Type: text/plain; charset=utf8\r\nContent-Range: bytes 0-9/100\r\n\r\n"
        );
        assert!(text.starts_with(&expected_start));
        assert!(text.contains(&format!("\r\n--{b}\r\nContent-Type: text/plain; charset=utf8\r\nContent-Range: bytes 10-19/100\r\n\r\n")));
        assert!(text.ends_with(&format!("\r\n--{b}--")));
    }

    #[test]
    fn multipart_length_matches_swift_formula() {
        // Swift's own sum: per part 2+len(b)+2 + 14+len(ct)+2 + 15+2 + 2
        // + len(content_range_value) + bytes + 2; then len(b)+4.
        let b = "0123456789abcdef0123456789abcdef";
        let ct = "application/octet-stream";
        let ranges = [(1u64, 8u64), (1000, 1500)];
        let mut want = (b.len() + 4) as u64;
        for &(s, e) in &ranges {
            let fixed = 2 + b.len() + 2 + 14 + ct.len() + 2 + 15 + 2 + 2;
            want += (fixed + content_range(s, e, 5000).len() + 2) as u64 + (e - s);
        }
        assert_eq!(multipart_length(b, ct, &ranges, 5000), want);
    }
}
