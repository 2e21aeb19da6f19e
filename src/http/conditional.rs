//! Conditional requests (`If-Match`, `If-None-Match`, `If-Modified-Since`,
//! `If-Unmodified-Since`) evaluated the way Swift's object server does it
//! (swob's conditional responses), which differs from RFC 7232 in places:
//!
//! - the checks run in a fixed order and the first that fires wins:
//!   If-None-Match, If-Match, If-Modified-Since, If-Unmodified-Since; the
//!   date forms are still evaluated when an etag form is present and passed
//!   (RFC 7232 would skip them);
//! - etags compare as exact strings after removing one pair of surrounding
//!   quotes, so weak tags (`W/"…"`) never match anything (Swift never hands
//!   out weak etags, so a client can only have made one up);
//! - unparseable dates are ignored.

use crate::http::headers::Headers;

/// The result of evaluating a request's preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Serve the request normally.
    Proceed,
    /// Answer 304 Not Modified with no body.
    NotModified,
    /// Answer 412 Precondition Failed with no body.
    Failed,
}

/// Evaluates the conditional headers of a request on an existing object
/// with ETag `etag` (unquoted MD5 hex) and `Last-Modified` second
/// `last_modified_secs` (already the ceiling of the object's timestamp).
///
/// In order: an If-None-Match that matches gives 304 for GET/HEAD and 412
/// otherwise; an If-Match that does not match gives 412 (`*` matches any
/// existing object); for GET/HEAD, an If-Modified-Since at or after the
/// last modification gives 304; an If-Unmodified-Since before it gives 412.
pub fn evaluate(
    headers: &Headers,
    etag: &str,
    last_modified_secs: i64,
    is_get_or_head: bool,
) -> Precondition {
    if let Some(list) = headers.get("if-none-match") {
        if etag_matches(list, etag) {
            return if is_get_or_head {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    }
    if let Some(list) = headers.get("if-match") {
        if !etag_matches(list, etag) {
            return Precondition::Failed;
        }
    }
    if is_get_or_head {
        if let Some(since) = header_date(headers, "if-modified-since") {
            if last_modified_secs <= since {
                return Precondition::NotModified;
            }
        }
    }
    if let Some(since) = header_date(headers, "if-unmodified-since") {
        if last_modified_secs > since {
            return Precondition::Failed;
        }
    }
    Precondition::Proceed
}

/// Evaluates the conditional headers of a request whose object does not
/// exist: only an If-Match containing `*` fires (412 instead of 404), since
/// `*` asks for "any current representation" and there is none.
pub fn evaluate_missing(headers: &Headers) -> Precondition {
    match headers.get("if-match") {
        Some(list) if list_tags(list).any(|t| t == "*") => Precondition::Failed,
        _ => Precondition::Proceed,
    }
}

/// Whether an If-Match / If-None-Match list matches `etag`: the list is
/// comma-separated, each entry trimmed and stripped of one pair of
/// surrounding quotes; `*` matches everything; `etag` is compared the same
/// way, quoted or not.
pub fn etag_matches(list: &str, etag: &str) -> bool {
    let etag = normalize_etag(etag);
    list_tags(list).any(|t| t == "*" || t == etag)
}

/// An etag without one pair of surrounding double quotes (`"abc"` → `abc`;
/// a lone `"` is left alone). Weak tags keep their `W/` prefix and quotes.
pub fn normalize_etag(tag: &str) -> &str {
    if tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"') {
        &tag[1..tag.len() - 1]
    } else {
        tag
    }
}

/// The normalized non-empty entries of an etag list.
fn list_tags(list: &str) -> impl Iterator<Item = &str> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(normalize_etag)
}

/// A date header as whole unix seconds; `None` when absent, unparseable or
/// before 1970, all of which mean "ignore the condition".
fn header_date(headers: &Headers, name: &str) -> Option<i64> {
    let value = headers.get(name)?;
    let t = httpdate::parse_http_date(value.trim()).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Precondition::*;

    const ETAG: &str = "d41d8cd98f00b204e9800998ecf8427e";
    // Sun, 06 Nov 1994 08:49:37 GMT
    const LM: i64 = 784_111_777;

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn get(pairs: &[(&str, &str)]) -> Precondition {
        evaluate(&h(pairs), ETAG, LM, true)
    }

    fn put(pairs: &[(&str, &str)]) -> Precondition {
        evaluate(&h(pairs), ETAG, LM, false)
    }

    #[test]
    fn etag_lists() {
        assert!(etag_matches("\"a\", \"b\"", "a"));
        assert!(etag_matches("\"a\", \"b\"", "\"a\""));
        assert!(!etag_matches("\"a\", \"b\"", "\"\"a\"\""));
        assert!(!etag_matches("\"a\", \"b\"", "c"));
        assert!(etag_matches("a, b", "b"));
        assert!(etag_matches("\"a\",\"b\"", "b"));
        assert!(etag_matches("\"a\"   ,  ,   \"b\"   ", "b"));
        assert!(etag_matches("\"a\", \"*\"", "anything"));
        assert!(etag_matches("*", "x"));
        assert!(!etag_matches("", "x"));
        assert!(!etag_matches("W/\"a\"", "a"));
        assert_eq!(normalize_etag("\""), "\"");
        assert_eq!(normalize_etag("\"\""), "");
        assert_eq!(normalize_etag("\"fuz\"\""), "fuz\"");
        assert_eq!(normalize_etag("\"baz"), "\"baz");
        assert_eq!(normalize_etag("\"\u{2661}\""), "\u{2661}");
    }

    #[test]
    fn no_conditions() {
        assert_eq!(get(&[]), Proceed);
        assert_eq!(put(&[]), Proceed);
    }

    #[test]
    fn if_none_match() {
        let quoted = format!("\"{ETAG}\"");
        assert_eq!(get(&[("If-None-Match", &quoted)]), NotModified);
        assert_eq!(get(&[("If-None-Match", ETAG)]), NotModified);
        assert_eq!(get(&[("If-None-Match", "*")]), NotModified);
        assert_eq!(get(&[("If-None-Match", "\"other\", *")]), NotModified);
        assert_eq!(get(&[("If-None-Match", "\"other\"")]), Proceed);
        assert_eq!(put(&[("If-None-Match", "*")]), Failed);
        assert_eq!(put(&[("If-None-Match", &quoted)]), Failed);
        // Weak tags never match in Swift.
        assert_eq!(get(&[("If-None-Match", &format!("W/{quoted}"))]), Proceed);
    }

    #[test]
    fn if_match() {
        let quoted = format!("\"{ETAG}\"");
        assert_eq!(get(&[("If-Match", &quoted)]), Proceed);
        assert_eq!(get(&[("If-Match", &format!("\"x\", {quoted}"))]), Proceed);
        assert_eq!(get(&[("If-Match", "*")]), Proceed);
        assert_eq!(get(&[("If-Match", "\"other\"")]), Failed);
        assert_eq!(get(&[("If-Match", "")]), Failed);
        assert_eq!(get(&[("If-Match", &format!("W/{quoted}"))]), Failed);
        assert_eq!(put(&[("If-Match", "\"other\"")]), Failed);
    }

    #[test]
    fn none_match_is_checked_before_match() {
        let quoted = format!("\"{ETAG}\"");
        assert_eq!(
            get(&[("If-Match", "\"other\""), ("If-None-Match", &quoted)]),
            NotModified
        );
        assert_eq!(
            get(&[("If-Match", "\"other\""), ("If-None-Match", "\"x\"")]),
            Failed
        );
    }

    #[test]
    fn if_modified_since() {
        let at = "Sun, 06 Nov 1994 08:49:37 GMT";
        let before = "Sun, 06 Nov 1994 08:49:36 GMT";
        let after = "Sun, 06 Nov 1994 08:49:38 GMT";
        assert_eq!(get(&[("If-Modified-Since", at)]), NotModified);
        assert_eq!(get(&[("If-Modified-Since", after)]), NotModified);
        assert_eq!(get(&[("If-Modified-Since", before)]), Proceed);
        // Other HTTP date forms.
        assert_eq!(
            get(&[("If-Modified-Since", "Sunday, 06-Nov-94 08:49:37 GMT")]),
            NotModified
        );
        assert_eq!(
            get(&[("If-Modified-Since", "Sun Nov  6 08:49:37 1994")]),
            NotModified
        );
        // Ignored when unparseable, and for methods other than GET/HEAD.
        assert_eq!(get(&[("If-Modified-Since", "yesterday")]), Proceed);
        assert_eq!(put(&[("If-Modified-Since", at)]), Proceed);
    }

    #[test]
    fn if_unmodified_since() {
        let at = "Sun, 06 Nov 1994 08:49:37 GMT";
        let before = "Sun, 06 Nov 1994 08:49:36 GMT";
        assert_eq!(get(&[("If-Unmodified-Since", at)]), Proceed);
        assert_eq!(get(&[("If-Unmodified-Since", before)]), Failed);
        assert_eq!(put(&[("If-Unmodified-Since", before)]), Failed);
        assert_eq!(get(&[("If-Unmodified-Since", "garbage")]), Proceed);
    }

    #[test]
    fn etag_forms_take_precedence_over_dates() {
        let quoted = format!("\"{ETAG}\"");
        let before = "Sun, 06 Nov 1994 08:49:36 GMT";
        let at = "Sun, 06 Nov 1994 08:49:37 GMT";
        // A matching If-None-Match answers 304 before any date is read.
        assert_eq!(
            get(&[("If-None-Match", &quoted), ("If-Unmodified-Since", before)]),
            NotModified
        );
        // A failing If-Match answers 412 even if the date says 304.
        assert_eq!(
            get(&[("If-Match", "\"x\""), ("If-Modified-Since", at)]),
            Failed
        );
        // Passing etag checks still let the date checks run, as in swob.
        assert_eq!(
            get(&[("If-None-Match", "\"x\""), ("If-Modified-Since", at)]),
            NotModified
        );
        assert_eq!(
            get(&[("If-Match", &quoted), ("If-Unmodified-Since", before)]),
            Failed
        );
        // If-Modified-Since is checked before If-Unmodified-Since.
        assert_eq!(
            get(&[("If-Modified-Since", at), ("If-Unmodified-Since", before)]),
            NotModified
        );
    }

    #[test]
    fn missing_objects() {
        assert_eq!(evaluate_missing(&h(&[("If-Match", "*")])), Failed);
        assert_eq!(
            evaluate_missing(&h(&[("If-Match", "\"a\", \"*\"")])),
            Failed
        );
        assert_eq!(evaluate_missing(&h(&[("If-Match", "\"a\"")])), Proceed);
        assert_eq!(evaluate_missing(&h(&[("If-None-Match", "*")])), Proceed);
        assert_eq!(evaluate_missing(&h(&[])), Proceed);
    }
}
