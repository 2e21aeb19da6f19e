//! Swift's `Timestamp`: the last-writer-wins key carried in `X-Timestamp`,
//! used in on-disk file names and database rows.
//!
//! Swift keeps a float and prints it with `%016.05f`; everything that must
//! agree between nodes (file names, ordering, `Last-Modified`) is derived from
//! that printed form. We therefore store the printed value exactly, as an
//! integer count of 10 µs "ticks", so comparisons never meet float error.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Ticks (10 µs units) per second.
pub const TICKS_PER_SEC: i64 = 100_000;

/// Swift refuses timestamps at or beyond this many seconds (year 2286), so
/// that the normal form always has ten integer digits and sorts as text.
pub const MAX_SECS: i64 = 10_000_000_000;

/// The largest date httpdate can print (9999-12-31T23:59:59Z).
const MAX_HTTP_DATE_SECS: i64 = 253_402_300_799;

/// A Swift timestamp: a time with 10 µs resolution plus an "offset" that
/// orders several writes sharing one time (used by internal rewrites such as
/// reconciler moves; clients never send one).
///
/// Ordering is by time, then offset, which matches Swift's ordering of the
/// internal string form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    ticks: i64,
    offset: u64,
}

/// Why a timestamp string was refused. The object server answers all of
/// these with 400 "Invalid X-Timestamp header".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// The string was empty (or only whitespace).
    #[error("empty timestamp")]
    Empty,
    /// The time part is not a decimal number Swift would accept.
    #[error("invalid timestamp: {0:?}")]
    Invalid(String),
    /// The time is below zero.
    #[error("timestamp cannot be negative")]
    Negative,
    /// The time is at or beyond 10^10 seconds.
    #[error("timestamp too large")]
    TooLarge,
    /// The part after `_` is not a hexadecimal offset fitting 64 bits.
    #[error("invalid timestamp offset: {0:?}")]
    BadOffset(String),
}

impl Timestamp {
    /// The current wall-clock time, rounded to the nearest tick, offset 0.
    pub fn now() -> Timestamp {
        // A clock set before 1970 is a broken host; 0 keeps us running.
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let ticks = since.as_secs() as i64 * TICKS_PER_SEC
            + ((since.subsec_nanos() as i64 + 5_000) / 10_000);
        Timestamp { ticks, offset: 0 }
    }

    /// A timestamp of `ticks` 10 µs units since the epoch, offset 0. No
    /// bounds are checked: this is for values we computed ourselves.
    pub fn from_ticks(ticks: i64) -> Timestamp {
        Timestamp { ticks, offset: 0 }
    }

    /// Whole seconds since the epoch, offset 0.
    pub fn from_secs(secs: i64) -> Timestamp {
        Timestamp::from_ticks(secs.saturating_mul(TICKS_PER_SEC))
    }

    /// The time in 10 µs units since the epoch.
    pub fn ticks(&self) -> i64 {
        self.ticks
    }

    /// The offset that orders writes sharing one time.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The same time with `offset` replacing the current offset (Swift's
    /// constructor adds to an existing offset; callers wanting that add
    /// `self.offset()` themselves).
    pub fn with_offset(&self, offset: u64) -> Timestamp {
        Timestamp {
            ticks: self.ticks,
            offset,
        }
    }

    /// The timestamp moved by `delta` ticks, offset kept (Swift's `delta`
    /// argument, used to order a follow-up write just after another).
    pub fn plus_ticks(&self, delta: i64) -> Timestamp {
        Timestamp {
            ticks: self.ticks.saturating_add(delta),
            offset: self.offset,
        }
    }

    /// Parses an `X-Timestamp` value the way Swift's `Timestamp(str)` does:
    /// a float (`1234567890`, `1234567890.1`, `1234567890.12345`, more
    /// decimals, exponents) optionally followed by `_` and a hex offset.
    ///
    /// Swift formats the parsed float with five decimals, so extra digits are
    /// rounded to the nearest 10 µs exactly as C's `printf` rounds the binary
    /// double (ties, which need an exactly representable half, go to even).
    /// One difference from Swift: `-0` is taken as 0 (Swift prints it with a
    /// minus sign).
    pub fn parse(s: &str) -> Result<Timestamp, TimestampError> {
        let (base, offset_text) = match s.split_once('_') {
            Some((b, o)) => (b, Some(o)),
            None => (s, None),
        };
        let offset = match offset_text {
            None => 0,
            Some(o) => parse_offset(o)?,
        };
        let base = base.trim();
        if base.is_empty() {
            return Err(TimestampError::Empty);
        }
        let ticks = match parse_plain_decimal(base) {
            Some(t) => t,
            None => parse_via_float(base)?,
        };
        Ok(Timestamp { ticks, offset })
    }

    /// Swift's normal form, `%016.05f`: `0001234567.12345`. This is what
    /// clients see in `X-Timestamp` and what names most files on disk.
    pub fn normal(&self) -> String {
        let abs = self.ticks.unsigned_abs();
        let (secs, frac) = (abs / TICKS_PER_SEC as u64, abs % TICKS_PER_SEC as u64);
        if self.ticks < 0 {
            // printf counts the sign inside the 16-character width.
            format!("-{secs:09}.{frac:05}")
        } else {
            // Digits by hand: this runs several times per request (file
            // names, X-Timestamp), and format!'s padding path costs more.
            let mut digits = [b'0'; 20];
            let mut i = digits.len();
            let mut n = secs;
            while n > 0 {
                i -= 1;
                digits[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
            let start = i.min(digits.len() - 10);
            let mut out = String::with_capacity(digits.len() - start + 6);
            // Only ASCII digits were written.
            out.push_str(std::str::from_utf8(&digits[start..]).unwrap_or("0"));
            out.push('.');
            let f = frac as u32;
            for d in [f / 10_000, f / 1000 % 10, f / 100 % 10, f / 10 % 10, f % 10] {
                out.push(char::from(b'0' + d as u8));
            }
            out
        }
    }

    /// Swift's internal form: the normal form, plus `_` and the offset as 16
    /// hex digits when the offset is non-zero. Used between servers and in
    /// file names so that offset writes sort after the plain one.
    pub fn internal(&self) -> String {
        if self.offset == 0 {
            self.normal()
        } else {
            format!("{}_{:016x}", self.normal(), self.offset)
        }
    }

    /// The time as float seconds (for logging and arithmetic, not ordering).
    pub fn as_secs_f64(&self) -> f64 {
        self.ticks as f64 / TICKS_PER_SEC as f64
    }

    /// Whole seconds, rounded down.
    pub fn secs(&self) -> i64 {
        self.ticks.div_euclid(TICKS_PER_SEC)
    }

    /// Whole seconds, rounded up: Swift's `Timestamp.ceil()`, the value its
    /// object server puts in `Last-Modified` and compares with conditional
    /// dates. Using the same rounding keeps our 304/412 answers identical to
    /// Swift's for the same dates.
    pub fn ceil_secs(&self) -> i64 {
        let secs = self.secs();
        if self.ticks.rem_euclid(TICKS_PER_SEC) > 0 {
            secs + 1
        } else {
            secs
        }
    }

    /// `Last-Modified` form, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, of the
    /// ceiling second (see [`Timestamp::ceil_secs`]).
    pub fn http_date(&self) -> String {
        http_date_from_secs(self.ceil_secs())
    }
}

/// Formats whole seconds since the epoch as an HTTP date. Values outside
/// the years 1970..=9999 are clamped, because httpdate cannot print them.
pub fn http_date_from_secs(secs: i64) -> String {
    let secs = secs.clamp(0, MAX_HTTP_DATE_SECS) as u64;
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

/// Displays a timestamp in its internal form. Swift deliberately gives
/// `Timestamp` no default string form (a caller must choose normal or
/// internal); this wrapper makes the choice explicit in format strings.
pub struct TimestampDisplay<'a>(pub &'a Timestamp);

impl fmt::Display for TimestampDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.internal())
    }
}

/// The hex offset after `_`. Python's `int(x, 16)` would also take a sign,
/// `0x` and underscores; Swift never writes those, so we refuse them.
fn parse_offset(text: &str) -> Result<u64, TimestampError> {
    let t = text.trim();
    if t.is_empty() {
        // Swift treats `123.45_` as offset 0.
        return Ok(0);
    }
    if !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TimestampError::BadOffset(text.to_string()));
    }
    u64::from_str_radix(t, 16).map_err(|_| TimestampError::BadOffset(text.to_string()))
}

/// Fast, exact path for `digits[.digits]` with at most five decimals: any
/// such value below 10^10 has at most 15 significant digits, which a double
/// round-trips, so Swift's printed form is exactly the digits given.
fn parse_plain_decimal(s: &str) -> Option<i64> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let (int_part, frac_part) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if frac_part.len() > 5
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int_digits = int_part.trim_start_matches('0');
    if int_digits.len() > 10 {
        return None;
    }
    let secs: i64 = if int_digits.is_empty() {
        0
    } else {
        int_digits.parse().ok()?
    };
    if secs >= MAX_SECS {
        return None;
    }
    let mut frac: i64 = 0;
    for i in 0..5 {
        let d = frac_part.as_bytes().get(i).map_or(0, |b| (b - b'0') as i64);
        frac = frac * 10 + d;
    }
    Some(secs * TICKS_PER_SEC + frac)
}

/// General path: parse as a double (Rust's parser, like Python's, rounds
/// correctly), check Swift's bounds, then print with five decimals and read
/// the digits back, reproducing `%016.05f` exactly.
fn parse_via_float(s: &str) -> Result<i64, TimestampError> {
    let value: f64 = s
        .parse()
        .map_err(|_| TimestampError::Invalid(s.to_string()))?;
    if value.is_nan() {
        return Err(TimestampError::Invalid(s.to_string()));
    }
    if value < 0.0 {
        return Err(TimestampError::Negative);
    }
    if value >= MAX_SECS as f64 {
        return Err(TimestampError::TooLarge);
    }
    let printed = format!("{:.5}", value.abs());
    let (int_part, frac_part) = printed
        .split_once('.')
        .ok_or_else(|| TimestampError::Invalid(s.to_string()))?;
    let secs: i64 = int_part
        .parse()
        .map_err(|_| TimestampError::Invalid(s.to_string()))?;
    let frac: i64 = frac_part
        .parse()
        .map_err(|_| TimestampError::Invalid(s.to_string()))?;
    Ok(secs * TICKS_PER_SEC + frac)
}

#[cfg(test)]
mod tests {
    #[test]
    fn normal_form_matches_printf_padding() {
        for ticks in [
            0i64,
            1,
            99_999,
            100_000,
            123_456_789_012,
            999_999_999_999_999,
            1_000_000_000_000_000,
            i64::MAX,
            -1,
            -123_456_789,
            i64::MIN + 1,
        ] {
            let t = Timestamp::from_ticks(ticks);
            let abs = ticks.unsigned_abs();
            let (secs, frac) = (abs / TICKS_PER_SEC as u64, abs % TICKS_PER_SEC as u64);
            let want = if ticks < 0 {
                format!("-{secs:09}.{frac:05}")
            } else {
                format!("{secs:010}.{frac:05}")
            };
            assert_eq!(t.normal(), want, "{ticks}");
        }
    }

    use super::*;

    fn p(s: &str) -> Timestamp {
        match Timestamp::parse(s) {
            Ok(t) => t,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    #[test]
    fn parses_the_usual_forms() {
        assert_eq!(p("1234567890.12345").ticks(), 123_456_789_012_345);
        assert_eq!(p("1234567890").ticks(), 123_456_789_000_000);
        assert_eq!(p("1234567890.1").normal(), "1234567890.10000");
        assert_eq!(p("0000001234.12345").normal(), "0000001234.12345");
        assert_eq!(p(" 12.5 ").normal(), "0000000012.50000");
        assert_eq!(p(".5").normal(), "0000000000.50000");
        assert_eq!(p("5.").normal(), "0000000005.00000");
        assert_eq!(p("+7").normal(), "0000000007.00000");
        assert_eq!(p("0").normal(), "0000000000.00000");
        assert_eq!(p("1e3").normal(), "0000001000.00000");
        assert_eq!(p("-0").normal(), "0000000000.00000");
    }

    #[test]
    fn rounds_extra_decimals_like_printf() {
        // Computed with: python3 -c "print('%016.05f' % float('…'))"
        assert_eq!(p("1234567890.123456").normal(), "1234567890.12346");
        assert_eq!(p("1234567890.123454").normal(), "1234567890.12345");
        assert_eq!(p("1.000005").normal(), "0000000001.00001");
        assert_eq!(p("0.000004999").normal(), "0000000000.00000");
        assert_eq!(p("9999999999.999996").normal(), "10000000000.00000");
        // 1/64 is exactly representable: a true tie, printf goes to even.
        assert_eq!(p("0.015625").normal(), "0000000000.01562");
    }

    #[test]
    fn parses_offsets() {
        let t = p("0000001234.12345_000000000000000a");
        assert_eq!(t.ticks(), 123_412_345);
        assert_eq!(t.offset(), 10);
        assert_eq!(t.internal(), "0000001234.12345_000000000000000a");
        assert_eq!(t.normal(), "0000001234.12345");
        assert_eq!(p("1.5_ff").offset(), 255);
        assert_eq!(p("1.5_FFFFFFFFFFFFFFFF").offset(), u64::MAX);
        assert_eq!(p("1.5_").offset(), 0);
        assert_eq!(p("1.5_0000000000000000").internal(), "0000000001.50000");
        // As in Swift, the first `_` always starts the offset.
        assert_eq!(p("1_000"), Timestamp::from_secs(1));
    }

    #[test]
    fn rejects_bad_values() {
        use TimestampError::*;
        let e = |s: &str| Timestamp::parse(s).err();
        assert_eq!(e(""), Some(Empty));
        assert_eq!(e("   "), Some(Empty));
        assert_eq!(e("_5"), Some(Empty));
        assert_eq!(e("-1"), Some(Negative));
        assert_eq!(e("-0.00001"), Some(Negative));
        assert_eq!(e("10000000000"), Some(TooLarge));
        assert_eq!(e("1e10"), Some(TooLarge));
        assert_eq!(e("inf"), Some(TooLarge));
        assert!(matches!(e("nan"), Some(Invalid(_))));
        assert!(matches!(e("abc"), Some(Invalid(_))));
        assert!(matches!(e("1.2.3"), Some(Invalid(_))));
        assert!(matches!(e("."), Some(Invalid(_))));
        assert!(matches!(e("1.5_xyz"), Some(BadOffset(_))));
        assert!(matches!(e("1.5_1_2"), Some(BadOffset(_))));
        assert!(matches!(e("1.5_-1"), Some(BadOffset(_))));
        assert!(matches!(e("1.5_10000000000000000"), Some(BadOffset(_))));
    }

    #[test]
    fn largest_accepted_value() {
        assert_eq!(p("9999999999.99999").normal(), "9999999999.99999");
    }

    #[test]
    fn orders_by_time_then_offset() {
        let a = p("1.00001");
        let b = p("1.00001_1");
        let c = p("1.00002");
        assert!(a < b && b < c);
        assert!(p("2") > p("1.99999_ffffffffffffffff"));
        // The internal strings sort the same way.
        assert!(a.internal() < b.internal() && b.internal() < c.internal());
        assert_eq!(p("1.0"), p("1"));
        assert_eq!(a.with_offset(1), b);
        assert_eq!(b.with_offset(0), a);
    }

    #[test]
    fn seconds_and_dates() {
        let t = p("784111777.00001");
        assert_eq!(t.secs(), 784_111_777);
        assert_eq!(t.ceil_secs(), 784_111_778);
        assert_eq!(p("784111777").ceil_secs(), 784_111_777);
        assert_eq!(p("784111777").http_date(), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(t.http_date(), "Sun, 06 Nov 1994 08:49:38 GMT");
        assert!((t.as_secs_f64() - 784_111_777.000_01).abs() < 1e-6);
        assert_eq!(Timestamp::from_ticks(-1).secs(), -1);
        assert_eq!(Timestamp::from_ticks(-1).ceil_secs(), 0);
        assert_eq!(http_date_from_secs(-5), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date_from_secs(i64::MAX),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }

    #[test]
    fn negative_ticks_print_like_printf() {
        // python3 -c "print('%016.05f' % -1.5)" → -000000001.50000
        assert_eq!(Timestamp::from_ticks(-150_000).normal(), "-000000001.50000");
    }

    #[test]
    fn now_is_sane_and_round_trips() {
        let n = Timestamp::now();
        assert!(n.secs() > 1_600_000_000 && n.secs() < MAX_SECS);
        assert_eq!(p(&n.internal()), n);
        assert_eq!(n.plus_ticks(1).ticks(), n.ticks() + 1);
        assert_eq!(Timestamp::from_secs(3).normal(), "0000000003.00000");
        assert_eq!(
            TimestampDisplay(&n.with_offset(2)).to_string(),
            format!("{}_0000000000000002", n.normal())
        );
        let via_fromstr: Timestamp = "12.5".parse().unwrap_or_default();
        assert_eq!(via_fromstr.ticks(), 1_250_000);
    }
}
