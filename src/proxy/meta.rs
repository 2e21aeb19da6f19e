//! Account and container metadata from request headers: `X-<T>-Meta-*`
//! values, `X-Remove-<T>-Meta-*`, and the system headers a container or
//! account stores (ACLs), validated as Swift validates them.

use crate::common::constraints::{check_metadata, Constraints, MetaTarget};
use crate::http::{Headers, Response};

use super::acl::{clean_acl, parse_account_acl};

/// Container headers stored verbatim besides `X-Container-Meta-*`.
const CONTAINER_SYSTEM: &[&str] = &[
    "X-Container-Read",
    "X-Container-Write",
    "X-Container-Sync-Key",
    "X-Container-Sync-To",
];

/// Headers only an account or container owner may see or set.
pub const OWNER_ONLY: &[&str] = &[
    "x-container-read",
    "x-container-write",
    "x-container-sync-key",
    "x-container-sync-to",
    "x-account-meta-temp-url-key",
    "x-account-meta-temp-url-key-2",
    "x-container-meta-temp-url-key",
    "x-container-meta-temp-url-key-2",
    "x-account-access-control",
];

/// The metadata updates a container PUT or POST carries: (header, value)
/// pairs where an empty value removes the key. Owner-only headers (ACLs,
/// TempURL keys) from anyone but the owner are dropped, as Swift does.
pub fn container_updates(
    c: &Constraints,
    headers: &Headers,
    owner: bool,
) -> Result<Vec<(String, String)>, Response> {
    check_metadata(c, headers, MetaTarget::Container).map_err(|m| Response::text(400, &m))?;
    let mut out = Vec::new();
    for (k, v) in headers.iter() {
        let l = k.to_ascii_lowercase();
        if l.starts_with("x-container-meta-") || l.starts_with("x-container-sysmeta-") {
            // Sysmeta only arrives from the proxy's own modules (the
            // gatekeeper drops clients'); an empty value removes it.
            out.push((crate::http::headers::title_case(k), v.to_string()));
        } else if let Some(rest) = l.strip_prefix("x-remove-container-meta-") {
            out.push((
                crate::http::headers::title_case(&format!("x-container-meta-{rest}")),
                String::new(),
            ));
        } else if let Some(sys) = CONTAINER_SYSTEM.iter().find(|s| s.eq_ignore_ascii_case(k)) {
            let value = if sys.ends_with("-Read") || sys.ends_with("-Write") {
                clean_acl(sys, v).map_err(|m| Response::text(400, &m))?
            } else {
                v.to_string()
            };
            out.push((sys.to_string(), value));
        } else if let Some(rest) = l.strip_prefix("x-remove-") {
            if let Some(sys) = CONTAINER_SYSTEM
                .iter()
                .find(|s| s[2..].eq_ignore_ascii_case(rest))
            {
                out.push((sys.to_string(), String::new()));
            }
        }
    }
    if !owner {
        out.retain(|(k, _)| !OWNER_ONLY.iter().any(|o| o.eq_ignore_ascii_case(k)));
    }
    Ok(out)
}

/// The metadata updates an account PUT or POST carries. `owner` decides
/// whether `X-Account-Access-Control` may be set.
pub fn account_updates(
    c: &Constraints,
    headers: &Headers,
    owner: bool,
) -> Result<Vec<(String, String)>, Response> {
    check_metadata(c, headers, MetaTarget::Account).map_err(|m| Response::text(400, &m))?;
    let mut out = Vec::new();
    for (k, v) in headers.iter() {
        let l = k.to_ascii_lowercase();
        if l.starts_with("x-account-meta-") {
            out.push((crate::http::headers::title_case(k), v.to_string()));
        } else if let Some(rest) = l.strip_prefix("x-remove-account-meta-") {
            out.push((
                crate::http::headers::title_case(&format!("x-account-meta-{rest}")),
                String::new(),
            ));
        } else if l == "x-account-access-control" {
            if !owner {
                return Err(Response::status(403));
            }
            let acl = parse_account_acl(v).map_err(|m| Response::text(400, &m))?;
            let value = if acl.is_empty() {
                String::new()
            } else {
                serde_json::to_string(&acl).unwrap_or_default()
            };
            out.push(("X-Account-Access-Control".to_string(), value));
        }
    }
    Ok(out)
}

/// Swift refuses account and container metadata that is not UTF-8.
pub fn check_utf8(req: &crate::http::Request, target: MetaTarget) -> Result<(), Response> {
    let prefix = target.prefix();
    let bad = req
        .non_utf8
        .iter()
        .any(|n| n.len() >= prefix.len() && n[..prefix.len()].eq_ignore_ascii_case(prefix));
    if bad {
        Err(Response::text(400, "Metadata must be valid UTF-8"))
    } else {
        Ok(())
    }
}

/// Checks the metadata a POST would leave stored (what is there merged
/// with `updates`) against the count and size limits, as Swift's backend
/// servers re-check them.
pub fn check_stored_totals(
    c: &Constraints,
    stored: &std::collections::BTreeMap<String, String>,
    updates: &[(String, String)],
    target: MetaTarget,
) -> Result<(), Response> {
    let mut merged: std::collections::BTreeMap<String, String> = stored
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    for (k, v) in updates {
        if v.is_empty() {
            merged.remove(&k.to_ascii_lowercase());
        } else {
            merged.insert(k.to_ascii_lowercase(), v.clone());
        }
    }
    let headers: Headers = merged.into_iter().collect();
    check_metadata(c, &headers, target).map_err(|m| Response::text(400, &m))
}

/// Removes owner-only headers from a response to someone else.
pub fn strip_owner_headers(resp: &mut Response) {
    for h in OWNER_ONLY {
        resp.headers.remove(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn container_updates_cover_meta_removal_and_acls() {
        let c = Constraints::default();
        let u = container_updates(
            &c,
            &h(&[
                ("x-container-meta-color", "red"),
                ("X-Remove-Container-Meta-Size", "x"),
                ("X-Container-Read", ".r:*, .rlistings"),
                ("X-Remove-Container-Write", "1"),
                ("Content-Type", "text/plain"),
            ]),
            true,
        )
        .expect("valid");
        assert_eq!(
            u,
            vec![
                ("X-Container-Meta-Color".to_string(), "red".to_string()),
                ("X-Container-Meta-Size".to_string(), String::new()),
                (
                    "X-Container-Read".to_string(),
                    ".r:*,.rlistings".to_string()
                ),
                ("X-Container-Write".to_string(), String::new()),
            ]
        );
        assert_eq!(
            container_updates(&c, &h(&[("X-Container-Write", ".r:*")]), true)
                .unwrap_err()
                .status,
            400
        );
        let long = "v".repeat(257);
        assert_eq!(
            container_updates(&c, &h(&[("X-Container-Meta-A", &long)]), true)
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn non_owners_cannot_set_acls() {
        let c = Constraints::default();
        let u = container_updates(
            &c,
            &h(&[("X-Container-Read", ".r:*"), ("X-Container-Meta-A", "1")]),
            false,
        )
        .expect("valid");
        assert_eq!(u, vec![("X-Container-Meta-A".to_string(), "1".to_string())]);
    }

    #[test]
    fn account_acl_needs_owner_and_valid_json() {
        let c = Constraints::default();
        let acl = r#"{"read-only":["test2"]}"#;
        assert_eq!(
            account_updates(&c, &h(&[("X-Account-Access-Control", acl)]), false)
                .unwrap_err()
                .status,
            403
        );
        let u = account_updates(&c, &h(&[("X-Account-Access-Control", acl)]), true).expect("ok");
        assert_eq!(u[0].1, r#"{"read-only":["test2"]}"#);
        assert_eq!(
            account_updates(&c, &h(&[("X-Account-Access-Control", "{")]), true)
                .unwrap_err()
                .status,
            400
        );
    }
}
