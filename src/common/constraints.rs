//! Swift's request constraints (`swift/common/constraints.py`): the limits a
//! cluster publishes in `/info` and the checks that turn violations into
//! 400s. Error strings are the response bodies Swift sends.

use crate::common::timestamp::{Timestamp, MAX_SECS, TICKS_PER_SEC};
use crate::http::headers::Headers;

/// The limits of `[swift-constraints]` in `swift.conf`, with Swift's
/// defaults. Every field is published in `/info` under `swift`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Constraints {
    /// Largest object body in bytes (5 GiB + 2); larger PUTs get 413.
    pub max_file_size: u64,
    /// Longest metadata name, in bytes, after the `X-*-Meta-` prefix.
    pub max_meta_name_length: usize,
    /// Longest metadata value in bytes.
    pub max_meta_value_length: usize,
    /// Most metadata items in one request.
    pub max_meta_count: usize,
    /// Most bytes of metadata names plus values in one request.
    pub max_meta_overall_size: usize,
    /// Longest value of any request header.
    pub max_header_size: usize,
    /// Longest object name in bytes.
    pub max_object_name_length: usize,
    /// Largest `limit` of a container listing.
    pub container_listing_limit: usize,
    /// Largest `limit` of an account listing.
    pub account_listing_limit: usize,
    /// Longest account name in bytes.
    pub max_account_name_length: usize,
    /// Longest container name in bytes.
    pub max_container_name_length: usize,
    /// Headers allowed beyond the default count (see
    /// [`Constraints::max_header_count`]).
    pub extra_header_count: usize,
    /// The version segments accepted as the first path element.
    pub valid_api_versions: Vec<String>,
    /// Accounts whose names start with this are internal (e.g.
    /// `.expiring_objects`) and are created on demand.
    pub auto_create_account_prefix: String,
}

impl Default for Constraints {
    fn default() -> Self {
        Constraints {
            max_file_size: 5_368_709_122,
            max_meta_name_length: 128,
            max_meta_value_length: 256,
            max_meta_count: 90,
            max_meta_overall_size: 4096,
            max_header_size: 8192,
            max_object_name_length: 1024,
            container_listing_limit: 10_000,
            account_listing_limit: 10_000,
            max_account_name_length: 256,
            max_container_name_length: 256,
            extra_header_count: 0,
            valid_api_versions: vec!["v1".into(), "v1.0".into()],
            auto_create_account_prefix: ".".into(),
        }
    }
}

impl Constraints {
    /// Most headers a request may carry: room for every metadata item plus
    /// 36 for ordinary HTTP and Swift-internal headers, plus any extra.
    pub fn max_header_count(&self) -> usize {
        self.max_meta_count + 36 + self.extra_header_count
    }
}

/// Which kind of resource metadata is being set; picks the header prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaTarget {
    /// `X-Account-Meta-*`.
    Account,
    /// `X-Container-Meta-*`.
    Container,
    /// `X-Object-Meta-*`.
    Object,
}

impl MetaTarget {
    /// The lower-case user-metadata header prefix of this target.
    pub fn prefix(self) -> &'static str {
        match self {
            MetaTarget::Account => "x-account-meta-",
            MetaTarget::Container => "x-container-meta-",
            MetaTarget::Object => "x-object-meta-",
        }
    }
}

/// Checks the user metadata of one request as Swift's `check_metadata`
/// does, returning the 400 body on failure.
///
/// Rules, per header in request order: any header value longer than
/// `max_header_size` fails; then for `X-{target}-Meta-*` headers (matched
/// ignoring case; sysmeta is not counted): an empty name fails; account and
/// container metadata may not contain NUL (Swift's UTF-8 check; our headers
/// are already valid UTF-8); then name length, value length, item count and
/// running total (name-without-prefix bytes plus value bytes) are checked in
/// that order. Empty values count like any other: on objects Swift drops them
/// later when storing, on accounts and containers they delete the key.
/// Totals across stored metadata are the backend servers' job, not this one.
pub fn check_metadata(
    c: &Constraints,
    headers: &Headers,
    target: MetaTarget,
) -> Result<(), String> {
    let prefix = target.prefix();
    let mut count = 0usize;
    let mut size = 0usize;
    for (name, value) in headers.iter() {
        if value.len() > c.max_header_size {
            return Err(format!(
                "Header value too long: {}",
                truncate_chars(name, c.max_meta_name_length)
            ));
        }
        let Some(key) = strip_prefix_ignore_case(name, prefix) else {
            continue;
        };
        if key.is_empty() {
            return Err("Metadata name cannot be empty".into());
        }
        if target != MetaTarget::Object && (key.contains('\0') || value.contains('\0')) {
            return Err("Metadata must be valid UTF-8".into());
        }
        count += 1;
        size += key.len() + value.len();
        if key.len() > c.max_meta_name_length {
            return Err(format!("Metadata name too long: {prefix}{key}"));
        }
        if value.len() > c.max_meta_value_length {
            return Err(format!(
                "Metadata value longer than {}: {prefix}{key}",
                c.max_meta_value_length
            ));
        }
        if count > c.max_meta_count {
            return Err(format!("Too many metadata items; max {}", c.max_meta_count));
        }
        if size > c.max_meta_overall_size {
            return Err(format!(
                "Total metadata too large; max {}",
                c.max_meta_overall_size
            ));
        }
    }
    Ok(())
}

/// Whether a name is acceptable to Swift's `check_utf8`: non-empty and free
/// of NUL (NUL also marks Swift's reserved internal namespace). Surrogates,
/// which Swift also refuses, cannot occur in a Rust `str`.
pub fn check_utf8_name(s: &str) -> bool {
    !s.is_empty() && !s.contains('\0')
}

/// Checks an object name for creation, returning the 400 body on failure.
///
/// Swift checks NUL on the whole request path before routing and answers
/// that with 412 "Invalid UTF8 or contains NULL"; callers wanting that exact
/// status should run [`check_utf8_name`] on the path first. The same text is
/// returned here so a direct caller still refuses such names.
pub fn check_object_name(c: &Constraints, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Object name cannot be empty".into());
    }
    if name.len() > c.max_object_name_length {
        return Err(format!(
            "Object name length of {} longer than {}",
            name.len(),
            c.max_object_name_length
        ));
    }
    if !check_utf8_name(name) {
        return Err("Invalid UTF8 or contains NULL".into());
    }
    Ok(())
}

/// Validates `X-Delete-After` / `X-Delete-At` against the request time `now`
/// and returns the resulting expiry in unix seconds, if any (Swift's
/// `check_delete_headers`).
///
/// `X-Delete-After` wins when both are present: it is turned into an
/// absolute time (`now + after`, clamped to 0..=9999999999 and truncated to
/// whole seconds) that replaces any `X-Delete-At`. An expiry at or before
/// `now` is "in past", so `X-Delete-After: 0` is refused. Integers are read
/// as Python's `int()` reads them (surrounding whitespace, a sign, `_`
/// between digits). Swift skips the "in past" check for replication
/// requests; callers handling those should not call this.
pub fn check_delete_headers(now: Timestamp, headers: &Headers) -> Result<Option<i64>, String> {
    let max = MAX_SECS - 1;
    let delete_at = if let Some(v) = headers.get("x-delete-after") {
        let after = parse_py_int(v).ok_or("Non-integer X-Delete-After")?;
        // Swift clamps the sum to its expirer's range and truncates it to
        // whole seconds; i128 keeps the sum exact for any inputs.
        let t = TICKS_PER_SEC as i128;
        let at = (now.ticks() as i128 + after as i128 * t)
            .div_euclid(t)
            .clamp(0, max as i128) as i64;
        if at.saturating_mul(TICKS_PER_SEC) <= now.ticks() {
            return Err("X-Delete-After in past".into());
        }
        at
    } else if let Some(v) = headers.get("x-delete-at") {
        let at = parse_py_int(v)
            .ok_or("Non-integer X-Delete-At")?
            .clamp(0, max);
        if at.saturating_mul(TICKS_PER_SEC) <= now.ticks() {
            return Err("X-Delete-At in past".into());
        }
        at
    } else {
        return Ok(None);
    };
    Ok(Some(delete_at))
}

/// The Content-Type Swift's proxy assigns when a PUT has none (or asks for
/// detection): Python's `mimetypes.guess_type` on the name, else
/// `application/octet-stream`.
///
/// Python's handling of compression suffixes is reproduced: `.tgz`/`.tar.gz`
/// give `application/x-tar` (the `.gz` is an encoding, not a type), and a
/// bare `.gz`, `.bz2`, `.xz`, `.br` or `.Z` gives the fallback. Python merges
/// the host's `/etc/mime.types` into its built-in table, so Swift's answers
/// vary by host; we use mime_guess's table, corrected by `PYTHON_TYPES`
/// where Python's own table and Debian's agree. Common types (.txt .html
/// .json .jpg .png .gif .pdf .zip .csv .mp4 .tar .svg .wav .js .css .md) then
/// match Python on Debian; known differences remain for `.xml` (`text/xml`
/// here and in Python's table, `application/xml` in Debian's), `.exe`, `.sh`,
/// `.c`, `.rar`, `.iso`, `.deb`, `.rpm` and `.yaml` (none in Python).
pub fn guess_content_type(object_name: &str) -> String {
    const OCTET: &str = "application/octet-stream";
    let base = object_name.rsplit('/').next().unwrap_or(object_name);
    let (mut stem, mut ext) = split_ext(base);
    // Python expands these shorthand suffixes (matched ignoring case).
    loop {
        let full = match ext.to_ascii_lowercase().as_str() {
            ".svgz" => ".svg.gz",
            ".tgz" | ".taz" | ".tz" => ".tar.gz",
            ".tbz2" => ".tar.bz2",
            ".txz" => ".tar.xz",
            _ => break,
        };
        (stem, ext) = split_ext(&format!("{stem}{full}"));
    }
    // Encodings are matched case-sensitively, as in Python.
    if matches!(ext.as_str(), ".gz" | ".Z" | ".bz2" | ".xz" | ".br") {
        let (_, e) = split_ext(&stem);
        ext = e;
    }
    let Some(e) = ext.strip_prefix('.').filter(|e| !e.is_empty()) else {
        return OCTET.to_string();
    };
    let e = e.to_ascii_lowercase();
    let mut fixed = PYTHON_TYPES
        .split_whitespace()
        .filter_map(|p| p.split_once('='));
    if let Some((_, t)) = fixed.find(|(x, _)| *x == e) {
        return t.to_string();
    }
    mime_guess::from_ext(&e)
        .first()
        .map_or_else(|| OCTET.to_string(), |m| m.essence_str().to_string())
}

/// `ext=type` pairs where Python's built-in table and Debian's
/// `/etc/mime.types` agree with each other but not with mime_guess. Swift's
/// functional tests expect `.wav` to be `audio/x-wav`, for one.
const PYTHON_TYPES: &str = "3g2=audio/3gpp2 3gp=audio/3gpp 3gpp=audio/3gpp 3gpp2=audio/3gpp2
    aif=audio/x-aiff aifc=audio/x-aiff aiff=audio/x-aiff ass=audio/aac h5=application/x-hdf5
    ico=image/vnd.microsoft.icon ksh=text/plain m3u8=application/vnd.apple.mpegurl
    py=text/x-python pyc=application/x-python-code pyo=application/x-python-code
    srt=text/plain wav=audio/x-wav xlb=application/vnd.ms-excel xpdl=application/xml";

/// Whether `v` (the first path segment) is an API version this cluster
/// serves.
pub fn valid_api_version(c: &Constraints, v: &str) -> bool {
    c.valid_api_versions.iter().any(|x| x == v)
}

/// Python's `os.path.splitext` on a file name without `/`: the extension
/// starts at the last dot, unless only dots precede it (`.bashrc` has none).
fn split_ext(name: &str) -> (String, String) {
    if let Some(dot) = name.rfind('.') {
        if name[..dot].bytes().any(|b| b != b'.') {
            return (name[..dot].to_string(), name[dot..].to_string());
        }
    }
    (name.to_string(), String::new())
}

/// `name` without `prefix`, comparing the prefix ignoring ASCII case.
fn strip_prefix_ignore_case<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let head = name.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        name.get(prefix.len()..)
    } else {
        None
    }
}

/// The first `n` characters of `s`.
fn truncate_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Python's `int(s)` for decimal strings, saturating at the i64 range
/// (callers clamp far tighter anyway).
fn parse_py_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return None;
    }
    let mut value: i64 = 0;
    let mut prev_underscore = false;
    for b in digits.bytes() {
        if b == b'_' {
            if prev_underscore {
                return None;
            }
            prev_underscore = true;
            continue;
        }
        prev_underscore = false;
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.saturating_mul(10).saturating_add((b - b'0') as i64);
    }
    Some(if neg { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use MetaTarget::*;

    fn hdrs(pairs: &[(&str, &str)]) -> Headers {
        let owned = pairs.iter().map(|(n, v)| (n.to_string(), v.to_string()));
        owned.collect()
    }

    fn meta(pairs: &[(&str, &str)], target: MetaTarget) -> Result<(), String> {
        check_metadata(&Constraints::default(), &hdrs(pairs), target)
    }

    fn err(s: &str) -> Result<(), String> {
        Err(s.to_string())
    }

    #[test]
    fn defaults_serde_and_versions() {
        let c = Constraints::default();
        assert_eq!(c.max_file_size, 5_368_709_122);
        assert_eq!(c.max_header_count(), 126);
        let c2: Constraints =
            serde_json::from_str(r#"{"max_meta_count": 10}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c2.max_meta_count, c2.max_meta_value_length), (10, 256));
        assert_eq!(c2.valid_api_versions, vec!["v1", "v1.0"]);
        assert!(valid_api_version(&c, "v1") && valid_api_version(&c, "v1.0"));
        assert!(!valid_api_version(&c, "v2") && !valid_api_version(&c, "V1"));
    }

    #[test]
    fn metadata_accepts_normal_requests() {
        let h = [
            ("X-Object-Meta-Color", "blue"),
            ("X-Container-Meta-Other", "ignored for objects"),
            ("X-Object-Sysmeta-Foo", "not user metadata"),
            ("x-object-meta-empty", ""),
        ];
        assert_eq!(meta(&h, Object), Ok(()));
        assert_eq!(meta(&[("X-Account-Meta-A", "b")], Account), Ok(()));
    }

    #[test]
    fn metadata_name_value_and_nul_rules() {
        let empty = err("Metadata name cannot be empty");
        assert_eq!(meta(&[("X-Object-Meta-", "v")], Object), empty);
        let n128 = format!("X-Container-Meta-{}", "n".repeat(128));
        assert_eq!(meta(&[(&n128, "v")], Container), Ok(()));
        let n129 = format!("x-container-meta-{}", "n".repeat(129));
        let too_long = Err(format!("Metadata name too long: {n129}"));
        assert_eq!(meta(&[(&n129, "v")], Container), too_long);
        let v256 = "v".repeat(256);
        assert_eq!(meta(&[("X-Object-Meta-K", &v256)], Object), Ok(()));
        let v257 = "v".repeat(257);
        let longer = err("Metadata value longer than 256: x-object-meta-K");
        assert_eq!(meta(&[("X-Object-Meta-K", &v257)], Object), longer);
        // Multi-byte characters count in bytes, as Swift sees them.
        let wide = "\u{e9}".repeat(129);
        assert!(meta(&[("X-Object-Meta-K", &wide)], Object).is_err());
        let big = "x".repeat(8193);
        let too_long = err("Header value too long: User-Agent");
        assert_eq!(meta(&[("User-Agent", &big)], Object), too_long);
        assert_eq!(meta(&[("User-Agent", &big[1..])], Object), Ok(()));
        let nul = err("Metadata must be valid UTF-8");
        assert_eq!(meta(&[("X-Account-Meta-K", "a\0b")], Account), nul);
        assert_eq!(meta(&[("X-Object-Meta-K", "a\0b")], Object), Ok(()));
    }

    #[test]
    fn metadata_count_and_total() {
        let names: Vec<String> = (0..91).map(|i| format!("X-Object-Meta-K{i}")).collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        assert_eq!(meta(&pairs[..90], Object), Ok(()));
        assert_eq!(meta(&pairs, Object), err("Too many metadata items; max 90"));
        // 16 items of a 3-byte name and a 255-byte value: 4128 > 4096.
        let value = "v".repeat(255);
        let pairs: Vec<(&str, &str)> = names[10..26]
            .iter()
            .map(|n| (n.as_str(), value.as_str()))
            .collect();
        assert_eq!(meta(&pairs[..15], Object), Ok(()));
        let total = err("Total metadata too large; max 4096");
        assert_eq!(meta(&pairs, Object), total);
    }

    #[test]
    fn object_names() {
        let c = Constraints::default();
        assert!(check_object_name(&c, "a/b/c.txt").is_ok());
        assert!(check_object_name(&c, &"o".repeat(1024)).is_ok());
        let long = err("Object name length of 1025 longer than 1024");
        assert_eq!(check_object_name(&c, &"o".repeat(1025)), long);
        let wide = err("Object name length of 1026 longer than 1024");
        assert_eq!(check_object_name(&c, &"\u{2603}".repeat(342)), wide);
        assert!(check_object_name(&c, "").is_err());
        assert!(check_object_name(&c, "a\0b").is_err());
        assert!(check_utf8_name("caf\u{e9}"));
        assert!(!check_utf8_name("") && !check_utf8_name("\0"));
    }

    /// Header name, value, and the expected outcome.
    type DeleteCase<'a> = (&'a str, &'a str, Result<Option<i64>, &'a str>);

    /// Runs check_delete_headers at `now` with one header per case.
    fn delete_cases(now: &str, cases: &[DeleteCase]) {
        let now = Timestamp::parse(now).unwrap_or_else(|e| panic!("{e}"));
        for (name, value, want) in cases {
            let got = check_delete_headers(now, &hdrs(&[(name, value)]));
            assert_eq!(got, want.map_err(String::from), "{name}: {value:?}");
        }
    }

    #[test]
    fn delete_after() {
        let past = Err("X-Delete-After in past");
        let bad = Err("Non-integer X-Delete-After");
        let h = "X-Delete-After";
        delete_cases(
            "1700000000.50000",
            &[
                ("Other", "1", Ok(None)),
                (h, "60", Ok(Some(1_700_000_060))),
                (h, " +1_0 ", Ok(Some(1_700_000_010))),
                // Truncating 1700000001.5 still leaves a time after now.
                (h, "1", Ok(Some(1_700_000_001))),
                (h, "0", past),
                (h, "-5", past),
                (h, "1.5", bad),
                (h, "", bad),
                (h, "abc", bad),
                (h, "99999999999999999999999", Ok(Some(9_999_999_999))),
            ],
        );
        delete_cases("1700000000", &[(h, "0", past)]);
        // After wins over At, whose value is then never looked at.
        let now = Timestamp::from_secs(1_700_000_000);
        let both = hdrs(&[("X-Delete-At", "junk"), (h, "5")]);
        assert_eq!(check_delete_headers(now, &both), Ok(Some(1_700_000_005)));
    }

    #[test]
    fn delete_at() {
        let past = Err("X-Delete-At in past");
        let bad = Err("Non-integer X-Delete-At");
        let h = "X-Delete-At";
        delete_cases(
            "1700000000.50000",
            &[
                (h, "1700000001", Ok(Some(1_700_000_001))),
                (h, "1700000000", past),
                (h, "-1", past),
                (h, "1700000001.5", bad),
                (h, "1__0", bad),
                (h, "123456789012345678901234567890", Ok(Some(9_999_999_999))),
            ],
        );
        delete_cases("1700000000", &[(h, "1700000000", past)]);
    }

    #[test]
    fn content_type_guessing() {
        for (name, want) in [
            ("a.txt", "text/plain"),
            ("dir/page.HTML", "text/html"),
            ("x.json", "application/json"),
            ("photo.jpg", "image/jpeg"),
            ("icon.png", "image/png"),
            ("sound.wav", "audio/x-wav"),
            ("a.zip", "application/zip"),
            ("backup.tar.gz", "application/x-tar"),
            ("backup.TGZ", "application/x-tar"),
            ("backup.tar.bz2", "application/x-tar"),
            ("drawing.svgz", "image/svg+xml"),
            ("blob.gz", "application/octet-stream"),
            ("noext", "application/octet-stream"),
            (".bashrc", "application/octet-stream"),
            ("dir.d/file", "application/octet-stream"),
            ("trailing.", "application/octet-stream"),
            ("weird.unknownext", "application/octet-stream"),
            ("", "application/octet-stream"),
        ] {
            assert_eq!(guess_content_type(name), want, "{name}");
        }
    }
}
