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
