//! Splitting and validating client paths: `/v1/<account>[/<container>[/<object>]]`.

use crate::common::constraints::{check_utf8_name, valid_api_version, Constraints};
use crate::http::Response;

/// What a `/v1/...` path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwiftPath {
    /// The API version segment (`v1` or `v1.0`).
    pub version: String,
    /// The account.
    pub account: String,
    /// The container, if any.
    pub container: Option<String>,
    /// The object (may contain `/`), if any.
    pub object: Option<String>,
}

/// Percent-decodes a raw path; Swift refuses invalid UTF-8 and NUL with 412.
pub fn decode(raw: &str) -> Result<String, Response> {
    // Decoding never lengthens: one allocation, sized once.
    let mut bytes = Vec::with_capacity(raw.len());
    bytes.extend(percent_encoding::percent_decode_str(raw));
    match String::from_utf8(bytes) {
        Ok(s) if check_utf8_name(&s) => Ok(s),
        _ => Err(Response::text(412, "Invalid UTF8 or contains NULL")),
    }
}

/// Splits a decoded `/v1/...` path. `None` when it is not a path at all
/// (Swift's `split_path` refuses it: 404).
///
/// As Swift's proxy `get_controller`: a first segment that is not an API
/// version is a bad version (400) when an account follows it, and a bad URL
/// (412) when nothing does (`/info asdf`, `/foo/`); `/info` itself is
/// routed before this.
pub fn split(path: &str, c: &Constraints) -> Result<Option<SwiftPath>, Response> {
    let Some(rest) = path.strip_prefix('/') else {
        return Ok(None);
    };
    let mut it = rest.splitn(4, '/');
    let version = it.next().unwrap_or("");
    if version.is_empty() {
        return Ok(None);
    }
    if !valid_api_version(c, version) {
        let mut parts = rest.splitn(3, '/').skip(1);
        return match (parts.next(), parts.next()) {
            (None, _) | (Some(""), None) => Err(Response::text(412, "Bad URL")),
            (Some(""), Some(_)) => Ok(None),
            (Some(_), _) => Err(Response::status(400)),
        };
    }
    let account = it.next().unwrap_or("");
    let container = it.next();
    let object = it.next();
    if account.is_empty() {
        // `/v1` alone is a bad URL; `/v1//c` names no account at all.
        return Err(if container.is_none() {
            Response::text(412, "Bad URL")
        } else {
            Response::status(404)
        });
    }
    // `/v1/a/` addresses the account, `/v1/a/c/` the container; an object
    // name may be anything, even empty-looking segments inside it.
    let container = container.filter(|c| !c.is_empty() || object.is_some());
    let object = object.filter(|o| !o.is_empty());
    if container == Some("") {
        return Err(Response::status(404));
    }
    if account.len() > c.max_account_name_length {
        return Err(Response::text(
            400,
            &format!(
                "Account name length of {} longer than {}",
                account.len(),
                c.max_account_name_length
            ),
        ));
    }
    if let Some(cn) = container {
        if cn.len() > c.max_container_name_length {
            return Err(Response::text(
                400,
                &format!(
                    "Container name length of {} longer than {}",
                    cn.len(),
                    c.max_container_name_length
                ),
            ));
        }
    }
    Ok(Some(SwiftPath {
        version: version.to_string(),
        account: account.to_string(),
        container: container.map(str::to_string),
        object: object.map(str::to_string),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c() -> Constraints {
        Constraints::default()
    }

    #[test]
    fn splits_objects_with_slashes_and_dots() {
        let p = split("/v1/AUTH_test/c/a/../b c/%", &c())
            .expect("ok")
            .expect("api");
        assert_eq!(p.account, "AUTH_test");
        assert_eq!(p.container.as_deref(), Some("c"));
        assert_eq!(p.object.as_deref(), Some("a/../b c/%"));
        let p = split("/v1/AUTH_test/c//lead", &c())
            .expect("ok")
            .expect("api");
        assert_eq!(p.object.as_deref(), Some("/lead"));
    }

    #[test]
    fn account_and_container_paths() {
        let p = split("/v1/AUTH_test/", &c()).expect("ok").expect("api");
        assert_eq!((p.container, p.object), (None, None));
        let p = split("/v1.0/AUTH_test/c/", &c()).expect("ok").expect("api");
        assert_eq!((p.container.as_deref(), p.object), (Some("c"), None));
        assert_eq!(split("/v2/AUTH_test", &c()).unwrap_err().status, 400);
        assert_eq!(split("/info asdf", &c()).unwrap_err().status, 412);
        assert_eq!(split("/foo/", &c()).unwrap_err().status, 412);
        assert!(split("/foo//c", &c()).expect("ok").is_none());
        assert!(split("/", &c()).expect("ok").is_none());
        assert_eq!(split("/v1//c/o", &c()).unwrap_err().status, 404);
        assert_eq!(split("/v1", &c()).unwrap_err().status, 412);
        assert!(split("/v1/a//o", &c()).is_err());
    }

    #[test]
    fn decoding_refuses_bad_utf8_and_nul() {
        assert_eq!(decode("/v1/a/c/%E2%98%83").expect("ok"), "/v1/a/c/\u{2603}");
        assert_eq!(decode("/v1/a/c/%FF").unwrap_err().status, 412);
        assert_eq!(decode("/v1/a/c/%00").unwrap_err().status, 412);
    }
}
