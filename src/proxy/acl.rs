//! Swift's container ACLs (V1 syntax: `.r:*`, `.r:-host`, `.rlistings`,
//! `account:user`, `account`) and tempauth's account ACLs
//! (`X-Account-Access-Control`, JSON with `admin`, `read-write`, `read-only`).

use std::collections::BTreeMap;

/// Normalises and checks a container ACL header value as Swift's
/// `clean_acl` does; the error text is the 400 body.
pub fn clean_acl(header: &str, value: &str) -> Result<String, String> {
    let is_write = header.eq_ignore_ascii_case("x-container-write");
    let mut out: Vec<String> = Vec::new();
    for raw in value.split(',') {
        let item = raw.trim();
        if item.is_empty() {
            continue;
        }
        let Some((kind, rest)) = item.split_once(':').filter(|(k, _)| k.starts_with('.')) else {
            if item.starts_with('.') && item != ".rlistings" {
                return Err(format!("Unknown designator {item:?} in ACL {value:?}"));
            }
            out.push(item.to_string());
            continue;
        };
        let kind = kind.trim();
        let rest = rest.trim();
        if !matches!(kind, ".r" | ".ref" | ".referer" | ".referrer") {
            return Err(format!("Unknown designator {kind:?} in ACL {value:?}"));
        }
        if is_write {
            return Err(format!("Referrers not allowed in write ACL: {value:?}"));
        }
        if rest.is_empty() || rest == "-" {
            return Err(format!(
                "No host/domain value after referrer designation in ACL: {value:?}"
            ));
        }
        let (neg, host) = match rest.strip_prefix('-') {
            Some(h) => ("-", h.trim()),
            None => ("", rest),
        };
        let host = host
            .strip_prefix("*.")
            .map(|h| format!(".{h}"))
            .unwrap_or_else(|| host.to_string());
        if host.is_empty() {
            return Err(format!(
                "No host/domain value after referrer designation in ACL: {value:?}"
            ));
        }
        out.push(format!(".r:{neg}{host}"));
    }
    Ok(out.join(","))
}

/// A parsed container ACL: referrer rules and the groups/users granted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Acl {
    /// Referrer rules in order (`*`, `.example.com`, `-bad.com`, ...).
    pub referrers: Vec<String>,
    /// Groups and users (`account:user`, `account`, `.rlistings`).
    pub groups: Vec<String>,
}

/// Splits a stored (cleaned) ACL.
pub fn parse_acl(value: &str) -> Acl {
    let mut acl = Acl::default();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.strip_prefix(".r:") {
            Some(r) => acl.referrers.push(r.to_string()),
            None => acl.groups.push(item.to_string()),
        }
    }
    acl
}

/// Whether a request with this `Referer` passes the referrer rules; the
/// last matching rule decides, as in Swift.
pub fn referrer_allowed(referer: Option<&str>, rules: &[String]) -> bool {
    let host = referer.map(referer_host).unwrap_or_default();
    let mut allow = false;
    for rule in rules {
        let (deny, pat) = match rule.strip_prefix('-') {
            Some(p) => (true, p),
            None => (false, rule.as_str()),
        };
        let matches = pat == "*"
            || (!host.is_empty()
                && if let Some(domain) = pat.strip_prefix('.') {
                    host == domain || host.ends_with(&format!(".{domain}"))
                } else {
                    host == pat
                });
        if matches {
            allow = !deny;
        }
    }
    allow
}

fn referer_host(referer: &str) -> String {
    let after_scheme = referer.split_once("//").map(|(_, r)| r).unwrap_or(referer);
    let authority = after_scheme.split('/').next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    host.split(':').next().unwrap_or("").to_ascii_lowercase()
}

/// Access an account ACL grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AccountAccess {
    /// GET and HEAD of anything in the account.
    ReadOnly,
    /// Also writes to containers and objects.
    ReadWrite,
    /// Everything the owner may do.
    Admin,
}

/// Parses and validates `X-Account-Access-Control` (Swift's V2 JSON form);
/// the error text is the 400 body.
pub fn parse_account_acl(value: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    if value.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let parsed: serde_json::Value = serde_json::from_str(value)
        .map_err(|_| "Syntax error in input (invalid JSON)".to_string())?;
    let obj = parsed
        .as_object()
        .ok_or_else(|| "Syntax error in input (not a JSON object)".to_string())?;
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        if !matches!(k.as_str(), "admin" | "read-write" | "read-only") {
            return Err(format!("Key {k:?} not recognized"));
        }
        let list = v
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|s| s.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| format!("Value for key {k:?} must be a list of strings"))?;
        out.insert(k.clone(), list);
    }
    Ok(out)
}

/// The highest access the account ACL gives to any of `groups`.
pub fn account_access(
    acl: &BTreeMap<String, Vec<String>>,
    groups: &[String],
) -> Option<AccountAccess> {
    let has = |key: &str| {
        acl.get(key).is_some_and(|members| {
            members
                .iter()
                .any(|m| m == "*" || groups.iter().any(|g| g == m))
        })
    };
    if has("admin") {
        Some(AccountAccess::Admin)
    } else if has("read-write") {
        Some(AccountAccess::ReadWrite)
    } else if has("read-only") {
        Some(AccountAccess::ReadOnly)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_acl_normalises_like_swift() {
        assert_eq!(
            clean_acl(
                "X-Container-Read",
                ".referrer:*, .r:-bad.com,.rlistings, test:tester"
            )
            .expect("ok"),
            ".r:*,.r:-bad.com,.rlistings,test:tester"
        );
        assert_eq!(
            clean_acl("X-Container-Read", ".r:*.example.com").expect("ok"),
            ".r:.example.com"
        );
        assert!(clean_acl("X-Container-Write", ".r:*").is_err());
        assert!(clean_acl("X-Container-Read", ".r:").is_err());
        assert!(clean_acl("X-Container-Read", ".x:y").is_err());
        assert_eq!(clean_acl("X-Container-Read", " , ").expect("ok"), "");
    }

    #[test]
    fn referrer_rules_last_match_wins() {
        let rules = parse_acl(".r:*,.r:-.bad.com").referrers;
        assert!(referrer_allowed(Some("http://good.com/page"), &rules));
        assert!(referrer_allowed(None, &rules));
        assert!(!referrer_allowed(Some("http://www.bad.com/x"), &rules));
        let rules = parse_acl(".r:.example.com").referrers;
        assert!(referrer_allowed(
            Some("https://a.example.com:8080/"),
            &rules
        ));
        assert!(!referrer_allowed(Some("https://example.org/"), &rules));
        assert!(!referrer_allowed(None, &rules));
    }

    #[test]
    fn account_acls_pick_the_highest_grant() {
        let acl =
            parse_account_acl(r#"{"read-only":["test2"],"admin":["test:tester3"]}"#).expect("ok");
        let g = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            account_access(&acl, &g(&["test2:tester2", "test2"])),
            Some(AccountAccess::ReadOnly)
        );
        assert_eq!(
            account_access(&acl, &g(&["test:tester3", "test"])),
            Some(AccountAccess::Admin)
        );
        assert_eq!(account_access(&acl, &g(&["other"])), None);
        assert!(parse_account_acl(r#"{"bogus":[]}"#).is_err());
        assert!(parse_account_acl("not json").is_err());
        assert!(parse_account_acl(r#"{"admin":"x"}"#).is_err());
    }
}
