//! Helpers the feature modules share: Swift's path-header checks and
//! metadata-name predicates.

use crate::http::Response;

/// Percent-decodes a header value the way `wsgi_unquote` does.
pub fn unquote(v: &str) -> String {
    percent_encoding::percent_decode_str(v)
        .decode_utf8_lossy()
        .into_owned()
}

/// Swift's `check_path_header(req, name, 2, msg)`: `[/]container/object`
/// (percent-encoded) split in two non-empty parts, else 412 with `msg`.
pub fn container_object(value: &str, msg: &str) -> Result<(String, String), Response> {
    let v = unquote(value);
    let v = v.strip_prefix('/').unwrap_or(&v);
    match v.split_once('/') {
        Some((c, o)) if !c.is_empty() && !o.is_empty() => Ok((c.to_string(), o.to_string())),
        _ => Err(Response::text(412, msg)),
    }
}

/// Swift's `check_name_format`: a non-empty name without slashes.
pub fn name_format(value: &str, target: &str) -> Result<String, Response> {
    let name = unquote(value);
    if name.is_empty() {
        return Err(Response::text(
            412,
            &format!("{target} name cannot be empty"),
        ));
    }
    if name.contains('/') {
        return Err(Response::text(
            412,
            &format!("{target} name cannot contain slashes"),
        ));
    }
    Ok(name)
}

/// `X-Object-Meta-*` with a name after the prefix.
pub fn is_user_meta(k: &str) -> bool {
    has_prefix(k, "x-object-meta-")
}

/// `X-Object-Sysmeta-*` with a name after the prefix.
pub fn is_sysmeta(k: &str) -> bool {
    has_prefix(k, "x-object-sysmeta-")
}

/// `X-Object-Transient-Sysmeta-*`.
pub fn is_transient_sysmeta(k: &str) -> bool {
    has_prefix(k, "x-object-transient-sysmeta-")
}

fn has_prefix(k: &str, prefix: &str) -> bool {
    k.len() > prefix.len()
        && k.is_char_boundary(prefix.len())
        && k[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Swift's `config_true_value`.
pub fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on" | "t" | "y"
    )
}

/// Whether a status is 2xx.
pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_headers_split_like_swift() {
        let m = "bad";
        assert_eq!(
            container_object("c/o%20x/y", m).ok(),
            Some(("c".into(), "o x/y".into()))
        );
        assert!(container_object("/c/o", m).is_ok());
        assert_eq!(container_object("c", m).err().map(|r| r.status), Some(412));
        assert!(container_object("c/", m).is_err());
        assert!(container_object("/", m).is_err());
        assert!(name_format("a/b", "Account").is_err());
        assert!(name_format("", "Account").is_err());
        assert_eq!(
            name_format("AUTH_%74", "Account").ok(),
            Some("AUTH_t".into())
        );
    }
}

/// `query` with parameter `name` removed, then set to `value` when given
/// (other parameters keep their encoding and order).
pub fn with_param(query: &str, name: &str, value: Option<&str>) -> String {
    let mut out: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let k = p.split_once('=').map_or(*p, |(k, _)| k);
            crate::http::request::query_pairs(k)
                .next()
                .is_none_or(|(k, _)| k != name)
        })
        .map(str::to_string)
        .collect();
    if let Some(v) = value {
        out.push(format!("{}={}", super::quote(name), super::quote(v)));
    }
    out.join("&")
}

#[cfg(test)]
mod query_tests {
    #[test]
    fn params_are_replaced_and_removed() {
        use super::with_param;
        assert_eq!(
            with_param(
                "multipart-manifest=get&a=1",
                "multipart-manifest",
                Some("put")
            ),
            "a=1&multipart-manifest=put"
        );
        assert_eq!(with_param("version-id=1", "version-id", None), "");
    }
}

/// Reads a (small) response body into memory, refusing more than `limit`.
pub async fn read_body(body: crate::http::Body, limit: usize) -> std::io::Result<Vec<u8>> {
    if let crate::http::Body::Bytes(b) = body {
        return Ok(b);
    }
    let mut src = crate::http::BodySource::Stream(body.into_stream());
    src.read_to_end(limit)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// The status line text Swift puts in bulk-style bodies (`404 Not Found`).
pub fn status_line(status: u16) -> String {
    format!("{status} {}", crate::http::response::reason(status))
}

/// Swift's bulk-style result body (`get_response_body`): JSON with an
/// `Errors` list, or `Key: value` lines sorted by key then `Errors:` and
/// one `name, status` line per error.
pub fn result_body(
    json: bool,
    fields: &[(&str, serde_json::Value)],
    errors: &[(String, String)],
) -> Vec<u8> {
    if json {
        let mut m = serde_json::Map::new();
        for (k, v) in fields {
            m.insert(k.to_string(), v.clone());
        }
        m.insert(
            "Errors".into(),
            serde_json::Value::Array(
                errors
                    .iter()
                    .map(|(n, s)| serde_json::json!([n, s]))
                    .collect(),
            ),
        );
        return serde_json::Value::Object(m).to_string().into_bytes();
    }
    let mut sorted: Vec<&(&str, serde_json::Value)> = fields.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (k, v) in sorted {
        let v = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push_str(&format!("{k}: {v}\n"));
    }
    out.push_str("Errors:\n");
    for (n, s) in errors {
        out.push_str(&format!("{n}, {s}\n"));
    }
    out.into_bytes()
}

/// Whether the client prefers JSON among text/plain and application/json
/// (Swift's `req.accept.best_match`, simplified to the first listed).
pub fn wants_json(accept: Option<&str>) -> bool {
    let Some(a) = accept else { return false };
    for part in a.split(',') {
        let t = part.split(';').next().unwrap_or("").trim();
        match t {
            "application/json" => return true,
            "text/plain" | "*/*" | "text/*" => return false,
            _ => {}
        }
    }
    false
}

/// A response's length: its `Content-Length` header when a module set one
/// (HEAD of a large object), else its body's length.
pub fn content_length(resp: &crate::http::Response) -> u64 {
    resp.headers
        .get("content-length")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| resp.body.len())
}
