//! Settings of the proxy's feature modules, one section per Swift
//! middleware (`[filter:tempurl]`, `[filter:formpost]`, `[filter:staticweb]`,
//! `[filter:bulk]` in Swift's proxy-server.conf), with Swift's defaults.
//! What Swift publishes in `/info` for them is built here too, from the
//! values in force.

use serde::{Deserialize, Serialize};

/// Digests Swift can check signatures with.
pub const SUPPORTED_DIGESTS: &[&str] = &["sha1", "sha256", "sha512"];
/// Digests Swift still accepts but reports as deprecated in `/info`.
pub const DEPRECATED_DIGESTS: &[&str] = &["sha1"];

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// `[tempurl]`: Swift's tempurl filter options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TempUrlConfig {
    /// Methods a temporary URL may be used with.
    pub methods: Vec<String>,
    /// Request headers removed before the request goes on (a trailing `*`
    /// matches a prefix).
    pub incoming_remove_headers: Vec<String>,
    /// Exceptions to `incoming_remove_headers`.
    pub incoming_allow_headers: Vec<String>,
    /// Response headers removed before the client sees them.
    pub outgoing_remove_headers: Vec<String>,
    /// Exceptions to `outgoing_remove_headers`.
    pub outgoing_allow_headers: Vec<String>,
    /// Signature digests accepted.
    pub allowed_digests: Vec<String>,
}

impl Default for TempUrlConfig {
    fn default() -> Self {
        TempUrlConfig {
            methods: strings(&["GET", "HEAD", "PUT", "POST", "DELETE"]),
            incoming_remove_headers: strings(&["x-timestamp", "x-open-expired"]),
            incoming_allow_headers: Vec::new(),
            outgoing_remove_headers: strings(&["x-object-meta-*"]),
            outgoing_allow_headers: strings(&["x-object-meta-public-*"]),
            allowed_digests: strings(SUPPORTED_DIGESTS),
        }
    }
}

impl TempUrlConfig {
    /// Whether tempurl removes request header `name`.
    pub fn removes_incoming(&self, name: &str) -> bool {
        matches_any(&self.incoming_remove_headers, name)
            && !matches_any(&self.incoming_allow_headers, name)
    }

    /// Whether tempurl removes response header `name`.
    pub fn removes_outgoing(&self, name: &str) -> bool {
        matches_any(&self.outgoing_remove_headers, name)
            && !matches_any(&self.outgoing_allow_headers, name)
    }

    /// Whether temporary URLs work with `method`.
    pub fn allows_method(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m == method)
    }

    /// The `/info` entry, as Swift registers it.
    pub fn info(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "methods": self.methods,
            "incoming_remove_headers": self.incoming_remove_headers,
            "incoming_allow_headers": self.incoming_allow_headers,
            "outgoing_remove_headers": self.outgoing_remove_headers,
            "outgoing_allow_headers": self.outgoing_allow_headers,
        });
        add_digests(&mut v, &self.allowed_digests);
        v
    }
}

/// Swift's header patterns: a name, or a prefix ending in `*`, compared
/// without regard to case.
fn matches_any(patterns: &[String], name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    patterns.iter().any(|p| {
        let p = p.to_ascii_lowercase();
        match p.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == p,
        }
    })
}

/// `allowed_digests` (sorted) and the deprecated ones among them, as
/// Swift's `get_allowed_digests` reports them.
fn add_digests(v: &mut serde_json::Value, allowed: &[String]) {
    let mut sorted = allowed.to_vec();
    sorted.sort();
    sorted.dedup();
    let deprecated: Vec<&String> = sorted
        .iter()
        .filter(|d| DEPRECATED_DIGESTS.contains(&d.as_str()))
        .collect();
    if !deprecated.is_empty() {
        v["deprecated_digests"] = serde_json::json!(deprecated);
    }
    v["allowed_digests"] = serde_json::json!(sorted);
}

/// `[formpost]`: Swift's formpost filter options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FormPostConfig {
    /// Signature digests accepted.
    pub allowed_digests: Vec<String>,
}

impl Default for FormPostConfig {
    fn default() -> Self {
        FormPostConfig {
            allowed_digests: strings(SUPPORTED_DIGESTS),
        }
    }
}

impl FormPostConfig {
    /// The `/info` entry, as Swift registers it.
    pub fn info(&self) -> serde_json::Value {
        let mut v = serde_json::json!({});
        add_digests(&mut v, &self.allowed_digests);
        v
    }
}

/// `[staticweb]`: Swift's staticweb filter options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaticWebConfig {
    /// `scheme://host[:port]` the redirects static web sites answer point
    /// at (for a node behind a TLS terminator or another host name); unset,
    /// they use `http` and the request's `Host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_base: Option<String>,
}

impl StaticWebConfig {
    /// The scheme and host of `url_base`, if set.
    pub fn scheme_and_host(&self) -> Option<(String, String)> {
        let base = self.url_base.as_deref()?;
        let (scheme, rest) = base.split_once("://")?;
        let host = rest.split('/').next().unwrap_or("");
        Some((scheme.to_string(), host.to_string()))
    }
}

/// `[bulk]`: Swift's bulk filter limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkConfig {
    /// Most containers one archive extraction may create.
    pub max_containers_per_extraction: usize,
    /// Failed members after which an extraction stops.
    pub max_failed_extractions: usize,
    /// Most names one bulk delete may carry.
    pub max_deletes_per_request: usize,
    /// Failures after which a bulk delete stops.
    pub max_failed_deletes: usize,
    /// Seconds between the keep-alive bytes of a long bulk operation.
    pub yield_frequency: u64,
}

impl Default for BulkConfig {
    fn default() -> Self {
        BulkConfig {
            max_containers_per_extraction: 10_000,
            max_failed_extractions: 1_000,
            max_deletes_per_request: 10_000,
            max_failed_deletes: 1_000,
            yield_frequency: 10,
        }
    }
}

impl BulkConfig {
    /// The `/info` entry for bulk extraction.
    pub fn upload_info(&self) -> serde_json::Value {
        serde_json::json!({
            "max_containers_per_extraction": self.max_containers_per_extraction,
            "max_failed_extractions": self.max_failed_extractions,
        })
    }

    /// The `/info` entry for bulk delete.
    pub fn delete_info(&self) -> serde_json::Value {
        serde_json::json!({
            "max_deletes_per_request": self.max_deletes_per_request,
            "max_failed_deletes": self.max_failed_deletes,
        })
    }
}

/// Why a feature setting cannot be used, or `None`.
pub fn invalid(
    tempurl: &TempUrlConfig,
    formpost: &FormPostConfig,
    staticweb: &StaticWebConfig,
    bulk: &BulkConfig,
) -> Option<String> {
    for (section, digests) in [
        ("tempurl", &tempurl.allowed_digests),
        ("formpost", &formpost.allowed_digests),
    ] {
        if digests.is_empty() {
            return Some(format!("{section}.allowed_digests cannot be empty"));
        }
        if let Some(d) = digests
            .iter()
            .find(|d| !SUPPORTED_DIGESTS.contains(&d.as_str()))
        {
            return Some(format!(
                "{section}.allowed_digests: {d:?} is not one of {SUPPORTED_DIGESTS:?}"
            ));
        }
    }
    if let Some(m) = tempurl
        .methods
        .iter()
        .find(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Some(format!(
            "tempurl.methods: {m:?} is not an upper-case method name"
        ));
    }
    if staticweb.url_base.is_some() && staticweb.scheme_and_host().is_none() {
        return Some("staticweb.url_base must look like scheme://host".into());
    }
    let limits = [
        (
            "max_containers_per_extraction",
            bulk.max_containers_per_extraction as u64,
        ),
        ("max_failed_extractions", bulk.max_failed_extractions as u64),
        (
            "max_deletes_per_request",
            bulk.max_deletes_per_request as u64,
        ),
        ("max_failed_deletes", bulk.max_failed_deletes as u64),
        ("yield_frequency", bulk.yield_frequency),
    ];
    if let Some((name, _)) = limits.iter().find(|(_, v)| *v == 0) {
        return Some(format!("bulk.{name} must be at least 1"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_patterns_match_like_swifts() {
        let c = TempUrlConfig::default();
        assert!(c.removes_incoming("X-Timestamp"));
        assert!(!c.removes_incoming("X-Object-Meta-Color"));
        assert!(c.removes_outgoing("X-Object-Meta-Color"));
        assert!(!c.removes_outgoing("x-object-meta-public-color"));
        assert!(!c.removes_outgoing("Content-Type"));
        let c = TempUrlConfig {
            incoming_remove_headers: vec!["x-object-meta-*".into()],
            incoming_allow_headers: vec!["X-Object-Meta-Keep".into()],
            ..TempUrlConfig::default()
        };
        assert!(c.removes_incoming("x-object-meta-drop"));
        assert!(!c.removes_incoming("x-object-meta-keep"));
    }

    #[test]
    fn info_reports_deprecated_digests_only_when_allowed() {
        let v = TempUrlConfig::default().info();
        assert_eq!(v["allowed_digests"], serde_json::json!(SUPPORTED_DIGESTS));
        assert_eq!(v["deprecated_digests"], serde_json::json!(["sha1"]));
        let f = FormPostConfig {
            allowed_digests: vec!["sha512".into(), "sha256".into()],
        };
        let v = f.info();
        assert_eq!(
            v["allowed_digests"],
            serde_json::json!(["sha256", "sha512"])
        );
        assert!(v.get("deprecated_digests").is_none());
    }

    #[test]
    fn bad_values_are_named() {
        let ok = invalid(
            &TempUrlConfig::default(),
            &FormPostConfig::default(),
            &StaticWebConfig::default(),
            &BulkConfig::default(),
        );
        assert_eq!(ok, None);
        let t = TempUrlConfig {
            allowed_digests: vec!["md5".into()],
            ..TempUrlConfig::default()
        };
        let why = invalid(
            &t,
            &FormPostConfig::default(),
            &StaticWebConfig::default(),
            &BulkConfig::default(),
        );
        assert!(why.is_some_and(|w| w.contains("md5")));
        let b = BulkConfig {
            yield_frequency: 0,
            ..BulkConfig::default()
        };
        let why = invalid(
            &TempUrlConfig::default(),
            &FormPostConfig::default(),
            &StaticWebConfig::default(),
            &b,
        );
        assert_eq!(
            why.as_deref(),
            Some("bulk.yield_frequency must be at least 1")
        );
        let s = StaticWebConfig {
            url_base: Some("https://example.com/x".into()),
        };
        assert_eq!(
            s.scheme_and_host(),
            Some(("https".into(), "example.com".into()))
        );
    }
}
