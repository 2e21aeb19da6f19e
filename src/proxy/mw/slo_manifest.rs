//! SLO manifests: parsing and validating what a client PUTs
//! (`?multipart-manifest=put`), and the stored form (what `?multipart-
//! manifest=get` returns) with its conversion back to the PUT form
//! (`&format=raw`).

use base64::Engine;
use serde_json::{json, Value};

use crate::http::range::{self, RangeOutcome};

/// One entry of a client's manifest.
#[derive(Debug, Clone)]
pub enum InputSegment {
    /// An object-backed segment.
    Path {
        /// `container/object` (leading `/` optional).
        path: String,
        /// The ETag it must have.
        etag: Option<String>,
        /// The size it must have.
        size: Option<u64>,
        /// `M-N`, `M-` or `-N` within the object.
        range: Option<String>,
    },
    /// Inline bytes.
    Data(Vec<u8>),
}

/// Parses and checks a manifest body as Swift's
/// `parse_and_validate_input` does; `Err` is the 400 body.
pub fn parse_input(body: &[u8], self_path: &str) -> Result<Vec<InputSegment>, String> {
    let parsed: Value =
        serde_json::from_slice(body).map_err(|_| "Manifest must be valid JSON.\n".to_string())?;
    let Value::Array(items) = parsed else {
        return Err("Manifest must be a list.\n".into());
    };
    let n = items.len();
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(m) = item else {
            errors.push(format!("Index {i}: not a JSON object"));
            continue;
        };
        let kind = if m.contains_key("path") {
            "path"
        } else if m.contains_key("data") {
            "data"
        } else {
            errors.push(format!(
                "Index {i}: expected keys to include one of 'path' or 'data'"
            ));
            continue;
        };
        let allowed: &[&str] = if kind == "path" {
            &["path", "etag", "size_bytes", "range"]
        } else {
            &["data"]
        };
        let mut extra: Vec<&String> = m
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .collect();
        if !extra.is_empty() {
            extra.sort();
            let list: Vec<String> = extra.iter().map(|k| json!(k).to_string()).collect();
            errors.push(format!("Index {i}: extraneous keys {}", list.join(", ")));
            continue;
        }
        if kind == "data" {
            let data = m
                .get("data")
                .and_then(Value::as_str)
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
            match data {
                None => errors.push(format!("Index {i}: data must be valid base64")),
                Some(d) if d.is_empty() => errors.push(format!(
                    "Index {i}: too small; each segment must be at least 1 byte."
                )),
                Some(d) => out.push(InputSegment::Data(d)),
            }
            continue;
        }
        let Some(path) = m.get("path").and_then(Value::as_str) else {
            errors.push(format!("Index {i}: \"path\" must be a string"));
            continue;
        };
        let etag = match m.get("etag") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                errors.push(format!(
                    "Index {i}: \"etag\" must be a string or null (if provided)"
                ));
                continue;
            }
        };
        if !path.trim_matches('/').contains('/') {
            errors.push(format!(
                "Index {i}: path does not refer to an object. Path must be of the form /container/object."
            ));
            continue;
        }
        let size = match m.get("size_bytes") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let parsed = match v {
                    Value::Number(x) => x.as_i64(),
                    Value::String(s) => s.trim().parse::<i64>().ok(),
                    _ => None,
                };
                match parsed {
                    None => {
                        errors.push(format!("Index {i}: invalid size_bytes"));
                        continue;
                    }
                    Some(s) if s < 1 && i != n - 1 => {
                        errors.push(format!(
                            "Index {i}: too small; each segment must be at least 1 byte."
                        ));
                        continue;
                    }
                    Some(s) => Some(s.max(0) as u64),
                }
            }
        };
        if self_path.trim_start_matches('/') == path.trim_start_matches('/') {
            errors.push(format!(
                "Index {i}: manifest must not include itself as a segment"
            ));
            continue;
        }
        let range = match m
            .get("range")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
        {
            None => None,
            Some(r) => {
                let Some(spec) = range::parse_range(&format!("bytes={r}")) else {
                    errors.push(format!("Index {i}: invalid range"));
                    continue;
                };
                if spec.len() > 1 {
                    errors.push(format!("Index {i}: multiple ranges (only one allowed)"));
                    continue;
                }
                if let Some(s) = size {
                    if !matches!(range::ranges_for_length(&spec, s), RangeOutcome::Ranges(ref v) if v.len() == 1)
                    {
                        errors.push(format!("Index {i}: unsatisfiable range"));
                        continue;
                    }
                }
                Some(r.to_string())
            }
        };
        out.push(InputSegment::Path {
            path: path.to_string(),
            etag,
            size,
            range,
        });
    }
    if !out.is_empty()
        && errors.is_empty()
        && out.iter().all(|s| matches!(s, InputSegment::Data(_)))
    {
        errors.push("Inline data segments require at least one object-backed segment.".into());
    }
    if !errors.is_empty() {
        return Err(errors.iter().map(|e| format!("{e}\n")).collect());
    }
    Ok(out)
}

/// Resolves a segment range against the object's size: `None` when it is
/// unsatisfiable, `Some(None)` when it covers the whole object.
pub fn resolve_range(r: &str, size: u64) -> Option<Option<(u64, u64)>> {
    let spec = range::parse_range(&format!("bytes={r}"))?;
    match range::ranges_for_length(&spec, size) {
        RangeOutcome::Ranges(v) if v.len() == 1 => {
            if v[0] == (0, size) {
                Some(None)
            } else {
                Some(Some((v[0].0, v[0].1 - 1)))
            }
        }
        _ => None,
    }
}

/// Parses a stored `a-b` range (inclusive).
pub fn stored_range(r: &str) -> Option<(u64, u64)> {
    let (a, b) = r.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The stored manifest in the form a client PUTs (`format=raw`), keys
/// sorted as Swift's `json.dumps(sort_keys=True)`.
pub fn to_raw(stored: &[Value]) -> Vec<u8> {
    let items: Vec<Value> = stored
        .iter()
        .map(|s| {
            if s.get("data").is_some() {
                return s.clone();
            }
            let mut m = serde_json::Map::new();
            m.insert("etag".into(), s.get("hash").cloned().unwrap_or(Value::Null));
            m.insert("path".into(), s.get("name").cloned().unwrap_or(Value::Null));
            if let Some(r) = s.get("range") {
                m.insert("range".into(), r.clone());
            }
            m.insert(
                "size_bytes".into(),
                s.get("bytes").cloned().unwrap_or(Value::Null),
            );
            Value::Object(m)
        })
        .collect();
    // serde_json's Map is ordered by key (no preserve_order feature), so
    // this matches Swift's sorted dump apart from whitespace.
    python_json(&Value::Array(items)).into_bytes()
}

/// JSON as Python's `json.dumps` writes it (`", "` and `": "` separators,
/// non-ASCII escaped), so ETags of converted manifests match Swift's.
pub fn python_json(v: &Value) -> String {
    let mut out = String::new();
    write_py(v, &mut out);
    out
}

fn write_py(v: &Value, out: &mut String) {
    match v {
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_str(k, out);
                out.push_str(": ");
                write_py(x, out);
            }
            out.push('}');
        }
        Value::String(s) => write_py_str(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_py_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", u));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_name_each_bad_index() {
        let e = parse_input(
            br#"[{"path": "c"}, {"path": "c/o", "x": 1}, {"data": "!!"}]"#,
            "/c/m",
        )
        .unwrap_err();
        assert!(
            e.contains("Index 0: path does not refer to an object"),
            "{e}"
        );
        assert!(e.contains("Index 1: extraneous keys \"x\""), "{e}");
        assert!(e.contains("Index 2: data must be valid base64"), "{e}");
        assert_eq!(
            parse_input(b"{}", "/c/m").unwrap_err(),
            "Manifest must be a list.\n"
        );
        assert!(parse_input(br#"[{"data": "YQ=="}]"#, "/c/m")
            .unwrap_err()
            .contains("at least one object-backed"));
        let ok = parse_input(
            br#"[{"path": "/c/o", "etag": null, "size_bytes": "3", "range": "1-"}]"#,
            "/c/m",
        )
        .expect("valid");
        assert!(matches!(&ok[0], InputSegment::Path { size: Some(3), .. }));
    }

    #[test]
    fn ranges_resolve_against_sizes() {
        assert_eq!(resolve_range("0-", 5), Some(None));
        assert_eq!(resolve_range("1-2", 5), Some(Some((1, 2))));
        assert_eq!(resolve_range("-2", 5), Some(Some((3, 4))));
        assert_eq!(resolve_range("9-", 5), None);
    }

    #[test]
    fn python_json_matches_dumps() {
        let v = json!([{"a": "é", "b": 1}]);
        assert_eq!(python_json(&v), r#"[{"a": "\u00e9", "b": 1}]"#);
    }
}
