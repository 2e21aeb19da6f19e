//! Container and account quotas (Swift's `container_quotas` and
//! `account_quotas`): object PUTs that would take a container or account
//! past its byte or object-count limit get 413.
//!
//! Container quotas are ordinary metadata (`X-Container-Meta-Quota-Bytes`,
//! `-Quota-Count`) any writer of the container may set. Account quotas
//! (`X-Account-Quota-Bytes`, `-Quota-Count`, their per-policy forms and the
//! legacy `X-Account-Meta-Quota-Bytes`) only a reseller admin may set; they
//! are kept as account sysmeta, which clients cannot write directly.
//!
//! The object PUT checks are one pipeline module at Swift's place for
//! both middlewares (after copy, before large objects and versioning), so
//! they judge the client's upload (and copy's and bulk's subrequests), not
//! the pieces versioning writes. As in Swift, a container with object
//! versioning counts the bytes of its hidden versions container too.

use std::collections::BTreeMap;

use crate::common::storage_policy::Policies;
use crate::db::{AccountInfo, AccountState, ContainerInfo};
use crate::http::request::Framing;
use crate::http::stream::LocalBoxFuture;
use crate::http::{BodySource, Headers, Response};
use crate::proxy::auth::AuthResult;

use super::object_versioning::SYS_VERSIONS_CONT;
use super::util::unquote;
use super::{Feature, Next, SwiftRequest};

/// Swift's `container_quotas` and `account_quotas` for object PUTs.
pub struct Quotas;

impl Feature for Quotas {
    fn name(&self) -> &'static str {
        "quotas"
    }

    fn claims(&self, req: &SwiftRequest) -> bool {
        req.is_object() && req.method() == "PUT"
    }

    fn handle<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        body: &'a mut BodySource<'_, '_>,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(async move {
            if let Err(r) = check_put(next, req).await {
                return r;
            }
            next.call(req, body).await
        })
    }
}

/// The quota checks of one object PUT.
async fn check_put(next: Next<'_>, req: &SwiftRequest) -> Result<(), Response> {
    let proxy = next.proxy();
    let account = &req.path.account;
    let length = match req.head.framing {
        Framing::Length(n) => n,
        _ => 0,
    };
    let info = proxy
        .get_container_info(req, account, req.container())
        .await?;
    if let Some(info) = info.as_deref() {
        let mut bytes_used = info.bytes_used;
        let versions = info
            .metadata
            .get(SYS_VERSIONS_CONT)
            .filter(|v| !v.is_empty());
        if let (Some(vc), true) = (versions, has_bytes_quota(info)) {
            // Swift's object_versioning adds the versions container's bytes
            // to the container's own in the info the quota check reads.
            if let Some(v) = proxy.get_container_info(req, account, &unquote(vc)).await? {
                bytes_used = bytes_used.saturating_add(v.bytes_used);
            }
        }
        if let Err(r) = check_container_put(info, bytes_used, length) {
            return Err(refuse(next, req, r).await);
        }
    }
    if matches!(&*req.who, AuthResult::User(id) if id.reseller_admin) {
        return Ok(());
    }
    if let AccountState::Active(a) = &*proxy.get_account_info(req, account).await? {
        let policy = info.as_deref().map_or(0, |i| i.storage_policy_index);
        if let Err(r) = check_account_put(a, length, policy) {
            return Err(refuse(next, req, r).await);
        }
    }
    Ok(())
}

/// A 413, unless the caller could not have written here at all: then the
/// 401 or 403 it would have got (so quotas leak nothing to strangers).
async fn refuse(next: Next<'_>, req: &SwiftRequest, over: Response) -> Response {
    match next.proxy().authorize(req).await {
        Ok(()) => over,
        Err(denied) => denied,
    }
}

fn has_bytes_quota(info: &ContainerInfo) -> bool {
    meta_quota(&info.metadata, "X-Container-Meta-Quota-Bytes").is_some()
}

/// Text of the 413 for a quota overrun.
const EXCEEDS: &str = "Upload exceeds quota.";
/// Text of the 413 for a per-policy quota overrun.
const EXCEEDS_POLICY: &str = "Upload exceeds policy quota.";

fn digits(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
}

/// Container PUT/POST: quota values must be whole numbers.
pub fn check_container_headers(headers: &Headers) -> Result<(), Response> {
    if let Some(v) = headers.get("x-container-meta-quota-bytes") {
        if !v.is_empty() && !digits(v) {
            return Err(Response::text(400, "Invalid bytes quota."));
        }
    }
    if let Some(v) = headers.get("x-container-meta-quota-count") {
        if !v.is_empty() && !digits(v) {
            return Err(Response::text(400, "Invalid count quota."));
        }
    }
    Ok(())
}

fn meta_quota(meta: &BTreeMap<String, String>, name: &str) -> Option<u64> {
    meta.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| if digits(v) { v.parse().ok() } else { None })
}

/// Object PUT of `length` bytes into a container with quotas, which holds
/// `bytes_used` bytes (its versions included).
pub fn check_container_put(
    info: &ContainerInfo,
    bytes_used: u64,
    length: u64,
) -> Result<(), Response> {
    if let Some(q) = meta_quota(&info.metadata, "X-Container-Meta-Quota-Bytes") {
        if bytes_used.saturating_add(length) > q {
            return Err(Response::text(413, EXCEEDS));
        }
    }
    if let Some(q) = meta_quota(&info.metadata, "X-Container-Meta-Quota-Count") {
        if info.object_count + 1 > q {
            return Err(Response::text(413, EXCEEDS));
        }
    }
    Ok(())
}

/// A quota as Swift reads it: an integer, anything else meaning none.
fn int_quota(meta: &BTreeMap<String, String>, name: &str) -> Option<i64> {
    meta.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.trim().parse::<i64>().ok())
        .filter(|q| *q >= 0)
}

/// Object PUT of `length` bytes into an account with quotas, in a
/// container of storage policy `policy_index` (resellers are exempt; the
/// caller checks that).
pub fn check_account_put(
    info: &AccountInfo,
    length: u64,
    policy_index: i64,
) -> Result<(), Response> {
    let m = &info.metadata;
    let bytes_quota = int_quota(m, "X-Account-Sysmeta-Quota-Bytes")
        .or_else(|| int_quota(m, "X-Account-Meta-Quota-Bytes"));
    if let Some(q) = bytes_quota {
        if (q as u64) < info.bytes_used.saturating_add(length) {
            return Err(Response::text(413, EXCEEDS));
        }
    }
    if let Some(q) = int_quota(m, "X-Account-Sysmeta-Quota-Count") {
        if (q as u64) < info.object_count + 1 {
            return Err(Response::text(413, EXCEEDS));
        }
    }
    let policy = info
        .policy_stats
        .iter()
        .find(|p| p.storage_policy_index == policy_index);
    let (p_bytes, p_count) = policy.map_or((0, 0), |p| (p.bytes_used, p.object_count));
    let key = |kind: &str| format!("X-Account-Sysmeta-{kind}-Policy-{policy_index}");
    if let Some(q) = int_quota(m, &key("Quota-Bytes")) {
        if (q as u64) < p_bytes.saturating_add(length) {
            return Err(Response::text(413, EXCEEDS_POLICY));
        }
    }
    if let Some(q) = int_quota(m, &key("Quota-Count")) {
        if (q as u64) < p_count + 1 {
            return Err(Response::text(413, EXCEEDS_POLICY));
        }
    }
    Ok(())
}

/// Account PUT/POST: the sysmeta updates the quota headers ask for. Only a
/// reseller may set quotas (403 otherwise); values must be whole numbers.
pub fn account_updates(
    headers: &Headers,
    reseller: bool,
    policies: &Policies,
) -> Result<Vec<(String, String)>, Response> {
    let mut wanted: Vec<(String, Option<String>)> = Vec::new();
    for kind in ["Quota-Bytes", "Quota-Count"] {
        let header = |h: &str| headers.get(h).map(str::to_string);
        let mut value = header(&format!("x-account-{kind}"));
        if kind == "Quota-Bytes" && value.as_deref().is_none_or(str::is_empty) {
            // The legacy metadata form still sets the quota.
            if let Some(legacy) = header("x-account-meta-quota-bytes") {
                value = Some(legacy);
            }
            if headers.contains("x-remove-account-meta-quota-bytes") {
                value = Some(String::new());
            }
        }
        if headers
            .get(&format!("x-remove-account-{kind}"))
            .is_some_and(|v| !v.is_empty())
        {
            value = Some(String::new());
        }
        wanted.push((format!("X-Account-Sysmeta-{kind}"), value));
        // Per policy, by the policy's name (Swift's account_quotas).
        for policy in policies.iter() {
            let tail = format!("account-{kind}-policy-{}", policy.name);
            let pv = if headers
                .get(&format!("x-remove-{tail}"))
                .is_some_and(|v| !v.is_empty())
            {
                Some(String::new())
            } else {
                header(&format!("x-{tail}"))
            };
            wanted.push((
                format!("X-Account-Sysmeta-{kind}-Policy-{}", policy.index),
                pv,
            ));
        }
    }
    if !reseller {
        if wanted.iter().any(|(_, v)| v.is_some()) {
            return Err(Response::status(403));
        }
        return Ok(Vec::new());
    }
    if wanted
        .iter()
        .any(|(_, v)| v.as_deref().is_some_and(|v| !v.is_empty() && !digits(v)))
    {
        return Err(Response::status(400));
    }
    Ok(wanted
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

/// Account HEAD/GET: quotas are shown to everyone who may read the
/// account, under their client names; sysmeta itself never leaves.
pub fn show_account_quotas(resp: &mut Response, policies: &Policies) {
    let mut shown = Vec::new();
    let mut sysmeta = Vec::new();
    for (k, v) in resp.headers.iter() {
        let l = k.to_ascii_lowercase();
        let Some(rest) = l.strip_prefix("x-account-sysmeta-") else {
            continue;
        };
        sysmeta.push(k.to_string());
        if v.is_empty() {
            continue;
        }
        let name = match rest {
            "quota-bytes" => "X-Account-Quota-Bytes".to_string(),
            "quota-count" => "X-Account-Quota-Count".to_string(),
            r => {
                let Some((kind, index)) = r.rsplit_once("-policy-") else {
                    continue;
                };
                // Quotas of a policy no longer configured stay hidden.
                let Some(policy) = index.parse::<u32>().ok().and_then(|i| policies.get(i)) else {
                    continue;
                };
                match kind {
                    "quota-bytes" => format!("X-Account-Quota-Bytes-Policy-{}", policy.name),
                    "quota-count" => format!("X-Account-Quota-Count-Policy-{}", policy.name),
                    _ => continue,
                }
            }
        };
        shown.push((name, v.to_string()));
    }
    for k in sysmeta {
        resp.headers.remove(&k);
    }
    for (k, v) in shown {
        resp.headers.set(k, v);
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
    fn container_quota_values_must_be_numbers() {
        assert!(check_container_headers(&h(&[("X-Container-Meta-Quota-Bytes", "10")])).is_ok());
        assert!(check_container_headers(&h(&[("X-Container-Meta-Quota-Bytes", "")])).is_ok());
        let r = check_container_headers(&h(&[("X-Container-Meta-Quota-Count", "-1")]));
        assert_eq!(r.unwrap_err().status, 400);
    }

    #[test]
    fn only_resellers_set_account_quotas() {
        let set = h(&[("X-Account-Meta-Quota-Bytes", "100")]);
        assert_eq!(
            account_updates(&set, false, &Policies::default())
                .unwrap_err()
                .status,
            403
        );
        let u = account_updates(&set, true, &Policies::default()).expect("reseller");
        assert!(u.contains(&("X-Account-Sysmeta-Quota-Bytes".into(), "100".into())));
        let bad = h(&[("X-Account-Quota-Count", "x")]);
        assert_eq!(
            account_updates(&bad, true, &Policies::default())
                .unwrap_err()
                .status,
            400
        );
        let rm = h(&[("X-Remove-Account-Quota-Bytes", "1")]);
        assert_eq!(
            account_updates(&rm, true, &Policies::default()).expect("remove"),
            vec![("X-Account-Sysmeta-Quota-Bytes".to_string(), String::new())]
        );
        assert!(account_updates(
            &h(&[("X-Account-Meta-Color", "red")]),
            false,
            &Policies::default()
        )
        .expect("no quota")
        .is_empty());
    }

    #[test]
    fn sysmeta_is_shown_under_client_names() {
        let mut r = Response::empty(204);
        r.headers.set("X-Account-Sysmeta-Quota-Bytes", "5");
        r.headers.set("X-Account-Sysmeta-Quota-Count-Policy-0", "7");
        r.headers.set("X-Account-Sysmeta-Other", "secret");
        show_account_quotas(&mut r, &Policies::default());
        assert_eq!(r.headers.get("x-account-quota-bytes"), Some("5"));
        assert_eq!(
            r.headers.get("x-account-quota-count-policy-policy-0"),
            Some("7")
        );
        assert!(r.headers.get("x-account-sysmeta-other").is_none());
    }
}
