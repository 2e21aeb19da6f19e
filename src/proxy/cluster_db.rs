//! The account and container controllers of a cluster node: the same
//! client-facing answers as [`super::account`] and [`super::container`],
//! but every read and write goes through the account and container rings
//! ([`super::backend::dbring`]) instead of this node's databases, so a node
//! holding no copy still answers, and writes reach every replica. Container
//! PUT/DELETE name the account's replicas (`X-Account-Host`), whose
//! container servers update them.

use std::collections::BTreeMap;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;

use crate::common::constraints::{Constraints, MetaTarget};
use crate::common::storage_policy::Policies;
use crate::common::timestamp::Timestamp;
use crate::db::{
    AccountInfo, AccountState, ContainerInfo, ContainerPolicy, ListParams, PolicyStats,
};
use crate::http::{Headers, Response};

use super::account::AccountRequest;
use super::backend::dbring::{self, DbTarget};
use super::backend::Backend;
use super::container::{listing_response, ContainerRequest};
use super::listing::{split_hash_params, Row};
use super::{listing_params, meta};

fn header_time(r: &Response, name: &str) -> Timestamp {
    r.headers
        .get(name)
        .and_then(|v| Timestamp::parse(v).ok())
        .unwrap_or_else(|| Timestamp::from_secs(0))
}

fn header_num(r: &Response, name: &str) -> u64 {
    r.headers
        .get(name)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Metadata headers of a backend answer (`X-<kind>-Meta-*`, sysmeta and,
/// for containers, the ACL, sync and versioning headers).
fn metadata(r: &Response, kind: &str) -> BTreeMap<String, String> {
    crate::server::metadata_updates(&r.headers, kind)
        .into_iter()
        .collect()
}

/// A container's stat row from a container server's HEAD/GET answer.
pub fn container_info_from(account: &str, container: &str, r: &Response) -> ContainerInfo {
    ContainerInfo {
        account: account.to_string(),
        container: container.to_string(),
        created_at: header_time(r, "x-backend-timestamp"),
        put_timestamp: header_time(r, "x-backend-put-timestamp"),
        delete_timestamp: header_time(r, "x-backend-delete-timestamp"),
        status_changed_at: header_time(r, "x-backend-status-changed-at"),
        object_count: header_num(r, "x-container-object-count"),
        bytes_used: header_num(r, "x-container-bytes-used"),
        metadata: metadata(r, "container"),
        storage_policy_index: header_num(r, "x-backend-storage-policy-index") as i64,
        deleted: false,
    }
}

/// An account's stat row from an account server's HEAD/GET answer, with
/// the per-policy totals Swift's account servers send by policy name.
pub fn account_info_from(account: &str, r: &Response, policies: &Policies) -> AccountInfo {
    let policy_stats = policies
        .iter()
        .filter_map(|p| {
            let h = |what: &str| format!("x-account-storage-policy-{}-{what}", p.name);
            r.headers.get(&h("container-count"))?;
            Some(PolicyStats {
                storage_policy_index: i64::from(p.index),
                container_count: header_num(r, &h("container-count")),
                object_count: header_num(r, &h("object-count")),
                bytes_used: header_num(r, &h("bytes-used")),
            })
        })
        .collect();
    AccountInfo {
        account: account.to_string(),
        created_at: header_time(r, "x-backend-timestamp"),
        put_timestamp: header_time(r, "x-backend-put-timestamp"),
        delete_timestamp: header_time(r, "x-backend-delete-timestamp"),
        status_changed_at: header_time(r, "x-backend-status-changed-at"),
        container_count: header_num(r, "x-account-container-count"),
        object_count: header_num(r, "x-account-object-count"),
        bytes_used: header_num(r, "x-account-bytes-used"),
        metadata: metadata(r, "account"),
        deleted: false,
        status: String::new(),
        policy_stats,
    }
}

/// The container's state through the container ring; `None` when no
/// replica has it; the error is the answer (503) when none could say.
pub async fn container_info(
    be: &Backend,
    account: &str,
    container: &str,
) -> Result<Option<ContainerInfo>, Response> {
    let t = DbTarget {
        account,
        container: Some(container),
    };
    let r = dbring::read(be, "HEAD", t, &Headers::new(), "").await;
    match r.status {
        200..=299 => Ok(Some(container_info_from(account, container, &r))),
        404 => Ok(None),
        _ => Err(Response::status(503)),
    }
}

/// The account's state through the account ring.
pub async fn account_state(be: &Backend, account: &str) -> Result<AccountState, Response> {
    let t = DbTarget {
        account,
        container: None,
    };
    let r = dbring::read(be, "HEAD", t, &Headers::new(), "").await;
    match r.status {
        200..=299 => Ok(AccountState::Active(account_info_from(
            account,
            &r,
            be.policies(),
        ))),
        404 if r
            .headers
            .get("x-account-status")
            .is_some_and(|s| s.eq_ignore_ascii_case("deleted")) =>
        {
            let mut info = account_info_from(account, &r, be.policies());
            info.deleted = true;
            info.status = "DELETED".into();
            Ok(AccountState::Deleted(info))
        }
        404 => Ok(AccountState::Missing),
        _ => Err(Response::status(503)),
    }
}

/// Outgoing headers for `n` backend writes: a shared `X-Timestamp` and
/// the metadata `updates`.
fn write_headers(n: usize, updates: &[(String, String)]) -> Vec<Headers> {
    let mut h = Headers::new();
    h.set("X-Timestamp", Timestamp::now().internal());
    for (k, v) in updates {
        h.set(k.clone(), v.clone());
    }
    vec![h; n.max(1)]
}

fn replicas(be: &Backend, t: DbTarget<'_>) -> usize {
    dbring::nodes(be, t).map_or(1, |(_, p, _)| p.len())
}

/// Creates the account on its replicas if it has never existed
/// (`account_autocreate`); a deleted account stays deleted.
pub async fn autocreate(be: &Backend, account: &str) -> Result<(), Response> {
    match account_state(be, account).await? {
        AccountState::Active(_) => Ok(()),
        AccountState::Deleted(_) => Err(Response::text(403, "Recently deleted")),
        AccountState::Missing => {
            let t = DbTarget {
                account,
                container: None,
            };
            let r = dbring::write(be, "PUT", t, &write_headers(replicas(be, t), &[])).await;
            match r.status {
                200..=299 | 409 => Ok(()),
                _ => Err(Response::status(503)),
            }
        }
    }
}

/// The listing query sent to account and container servers: always JSON.
fn list_query(p: &ListParams) -> String {
    let mut q = vec!["format=json".to_string(), format!("limit={}", p.limit)];
    let mut add = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            q.push(format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)));
        }
    };
    add("prefix", &p.prefix);
    add("marker", &p.marker);
    add("end_marker", &p.end_marker);
    add("delimiter", &p.delimiter);
    add("path", &p.path);
    if p.reverse {
        q.push("reverse=true".into());
    }
    q.join("&")
}

fn json_rows(r: &Response) -> Vec<Value> {
    match &r.body {
        crate::http::Body::Bytes(b) => serde_json::from_slice(b).unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn str_field(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `2024-05-01T12:00:00.123456` (a listing's `last_modified`) as a time.
fn parse_iso(s: &str) -> Option<Timestamp> {
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    // Days since 1970-01-01 of a proleptic Gregorian date.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    Timestamp::parse(&format!("{secs}.{frac}")).ok()
}

fn time_field(v: &Value) -> Timestamp {
    v.get("last_modified")
        .and_then(Value::as_str)
        .and_then(parse_iso)
        .unwrap_or_else(|| Timestamp::from_secs(0))
}

/// A container request in a cluster.
pub async fn container(
    be: &Backend,
    c: &Constraints,
    r: &ContainerRequest<'_>,
    info: Option<&ContainerInfo>,
) -> Response {
    let t = DbTarget {
        account: r.account,
        container: Some(r.container),
    };
    if matches!(r.req.method.as_str(), "PUT" | "POST") {
        if let Err(resp) = meta::check_utf8(r.req, MetaTarget::Container) {
            return resp;
        }
    }
    let mut resp = match r.req.method.as_str() {
        "HEAD" | "GET" => container_read(be, c, r, t).await,
        "PUT" => {
            let policy = match super::container::chosen_policy(r) {
                Ok(p) => p,
                Err(resp) => return resp,
            };
            let updates = match meta::container_updates(c, &r.req.headers, r.owner) {
                Ok(u) => u,
                Err(resp) => return resp,
            };
            if let Err(resp) = autocreate(be, r.account).await {
                return resp;
            }
            let mut headers = write_headers(replicas(be, t), &updates);
            for h in &mut headers {
                match policy {
                    ContainerPolicy::Explicit(i) => {
                        h.set("X-Backend-Storage-Policy-Index", i.to_string())
                    }
                    ContainerPolicy::Default(i) => {
                        h.set("X-Backend-Storage-Policy-Default", i.to_string())
                    }
                }
            }
            dbring::account_headers(be, r.account, &mut headers);
            status_only(dbring::write(be, "PUT", t, &headers).await)
        }
        "POST" => {
            let Some(info) = info else {
                return Response::status(404);
            };
            let updates = match meta::container_updates(c, &r.req.headers, r.owner) {
                Ok(u) => u,
                Err(resp) => return resp,
            };
            if let Err(resp) =
                meta::check_stored_totals(c, &info.metadata, &updates, MetaTarget::Container)
            {
                return resp;
            }
            let headers = write_headers(replicas(be, t), &updates);
            status_only(dbring::write(be, "POST", t, &headers).await)
        }
        "DELETE" => {
            let mut headers = write_headers(replicas(be, t), &[]);
            dbring::account_headers(be, r.account, &mut headers);
            match dbring::write(be, "DELETE", t, &headers).await.status {
                // No server had the container.
                202 => Response::status(404),
                s => Response::status(s),
            }
        }
        _ => Response::status(405).with_header("Allow", "DELETE, GET, HEAD, OPTIONS, POST, PUT"),
    };
    if !r.owner {
        meta::strip_owner_headers(&mut resp);
    }
    resp
}

fn status_only(r: Response) -> Response {
    if r.status < 300 {
        Response::status(r.status)
    } else {
        r
    }
}

async fn container_read(
    be: &Backend,
    c: &Constraints,
    r: &ContainerRequest<'_>,
    t: DbTarget<'_>,
) -> Response {
    let (format, params) = match listing_params::format_and_params(r.req, c.container_listing_limit)
    {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let got = dbring::read(be, &r.req.method, t, &r.req.headers, &list_query(&params)).await;
    if !(200..300).contains(&got.status) {
        return got;
    }
    let info = container_info_from(r.account, r.container, &got);
    let rows: Vec<Row> = json_rows(&got)
        .iter()
        .map(|v| match v.get("subdir").and_then(Value::as_str) {
            Some(s) => Row::Subdir(s.to_string()),
            None => {
                let (hash, extra) = split_hash_params(&str_field(v, "hash"), r.version, r.account);
                Row::Object {
                    name: str_field(v, "name"),
                    hash,
                    bytes: v.get("bytes").and_then(Value::as_u64).unwrap_or(0),
                    content_type: str_field(v, "content_type"),
                    last_modified: time_field(v),
                    extra,
                }
            }
        })
        .collect();
    listing_response(r.req, format, "container", r.container, &rows, |resp| {
        super::container::info_headers(resp, &info, r.policies)
    })
}

/// An account request in a cluster.
pub async fn account(be: &Backend, c: &Constraints, r: &AccountRequest<'_>) -> Response {
    let t = DbTarget {
        account: r.account,
        container: None,
    };
    if matches!(r.req.method.as_str(), "PUT" | "POST") {
        if let Err(resp) = meta::check_utf8(r.req, MetaTarget::Account) {
            return resp;
        }
    }
    let mut resp = match r.req.method.as_str() {
        "HEAD" | "GET" => account_read(be, c, r, t).await,
        "POST" => {
            let mut updates = match meta::account_updates(c, &r.req.headers, r.owner) {
                Ok(u) => u,
                Err(resp) => return resp,
            };
            updates.extend(r.extra_updates.iter().cloned());
            if let Err(resp) = autocreate(be, r.account).await {
                return resp;
            }
            match account_state(be, r.account).await {
                Ok(AccountState::Active(info)) => {
                    if let Err(resp) =
                        meta::check_stored_totals(c, &info.metadata, &updates, MetaTarget::Account)
                    {
                        return resp;
                    }
                }
                Ok(_) => return Response::status(404),
                Err(resp) => return resp,
            }
            let headers = write_headers(replicas(be, t), &updates);
            status_only(dbring::write(be, "POST", t, &headers).await)
        }
        "PUT" if r.reseller => {
            let mut updates = match meta::account_updates(c, &r.req.headers, true) {
                Ok(u) => u,
                Err(resp) => return resp,
            };
            updates.extend(r.extra_updates.iter().cloned());
            let headers = write_headers(replicas(be, t), &updates);
            status_only(dbring::write(be, "PUT", t, &headers).await)
        }
        "DELETE" if r.reseller => {
            if !r.req.query.is_empty() {
                return Response::text(400, "Account DELETE with a query string is not allowed");
            }
            let headers = write_headers(replicas(be, t), &[]);
            status_only(dbring::write(be, "DELETE", t, &headers).await)
        }
        "PUT" | "DELETE" => Response::status(403),
        _ => Response::status(405).with_header("Allow", "DELETE, GET, HEAD, OPTIONS, POST, PUT"),
    };
    if !r.owner {
        meta::strip_owner_headers(&mut resp);
    }
    resp
}

async fn account_read(
    be: &Backend,
    c: &Constraints,
    r: &AccountRequest<'_>,
    t: DbTarget<'_>,
) -> Response {
    let (format, params) = match listing_params::format_and_params(r.req, c.account_listing_limit) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let got = dbring::read(be, &r.req.method, t, &r.req.headers, &list_query(&params)).await;
    let info = match got.status {
        200..=299 => Some(account_info_from(r.account, &got, r.policies)),
        404 if got
            .headers
            .get("x-account-status")
            .is_some_and(|s| s.eq_ignore_ascii_case("deleted")) =>
        {
            return Response::status(410)
        }
        // Swift's account_autocreate: an account never created lists empty.
        404 => None,
        _ => return got,
    };
    let default_policy = r.policies.default_policy().name.clone();
    let rows: Vec<Row> = json_rows(&got)
        .iter()
        .filter(|v| !str_field(v, "name").starts_with('\0'))
        .map(|v| match v.get("subdir").and_then(Value::as_str) {
            Some(s) => Row::Subdir(s.to_string()),
            None => Row::Container {
                name: str_field(v, "name"),
                count: v.get("count").and_then(Value::as_u64).unwrap_or(0),
                bytes: v.get("bytes").and_then(Value::as_u64).unwrap_or(0),
                last_modified: time_field(v),
                policy: v
                    .get("storage_policy")
                    .and_then(Value::as_str)
                    .map_or_else(|| default_policy.clone(), str::to_string),
            },
        })
        .collect();
    listing_response(r.req, format, "account", r.account, &rows, |resp| {
        super::account::info_headers(resp, info.as_ref(), r.policies)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_round_trip() {
        for secs in [0i64, 951_782_400, 1_700_000_000] {
            let ts = Timestamp::from_secs(secs);
            let iso = crate::server::listing_iso8601(&ts);
            assert_eq!(parse_iso(&iso), Some(ts), "{iso}");
        }
    }

    #[test]
    fn listing_query_is_json_and_encoded() {
        let p = ListParams {
            prefix: Some("a b/".into()),
            marker: Some("m&n".into()),
            limit: 5,
            reverse: true,
            ..ListParams::default()
        };
        assert_eq!(
            list_query(&p),
            "format=json&limit=5&prefix=a%20b%2F&marker=m%26n&reverse=true"
        );
    }

    #[test]
    fn stat_rows_from_backend_headers() {
        let mut r = Response::status(204);
        r.headers.set("X-Container-Object-Count", "4");
        r.headers.set("X-Container-Bytes-Used", "40");
        r.headers.set("X-Backend-Storage-Policy-Index", "1");
        r.headers.set("X-Backend-Put-Timestamp", "0000000005.00000");
        r.headers.set("X-Container-Meta-Color", "blue");
        r.headers.set("X-Container-Read", ".r:*");
        r.headers.set("Content-Type", "text/plain");
        let i = container_info_from("a", "c", &r);
        assert_eq!(
            (i.object_count, i.bytes_used, i.storage_policy_index),
            (4, 40, 1)
        );
        assert_eq!(i.put_timestamp, Timestamp::from_secs(5));
        assert_eq!(i.metadata.len(), 2, "{:?}", i.metadata);
    }
}
