//! The account server of the backend protocol.

use crate::common::storage_policy::Policies;
use crate::common::timestamp::Timestamp;
use crate::db::{AccountInfo, AccountState, ContainerReport, CreateOutcome, DbPool};
use crate::http::{Headers, Request, Response};

use super::{
    db_error, delete_response, listing, metadata_updates, required_timestamp, set_db_times,
};

/// The stat headers of an account HEAD/GET (Swift's account server),
/// with the totals of each configured policy by name.
fn info_headers(mut r: Response, info: &AccountInfo, policies: &Policies) -> Response {
    let h = &mut r.headers;
    h.set(
        "X-Account-Container-Count",
        info.container_count.to_string(),
    );
    h.set("X-Account-Object-Count", info.object_count.to_string());
    h.set("X-Account-Bytes-Used", info.bytes_used.to_string());
    set_db_times!(&mut *h, info);
    policy_and_metadata_headers(h, info, policies);
    r
}

/// Sets an account's per-policy totals (`X-Account-Storage-Policy-<name>-*`)
/// and its metadata on `h`, as both the account server and the proxy
/// serving a local account report them. As Swift's account server, the
/// totals of a policy no longer configured are not reported.
pub(crate) fn policy_and_metadata_headers(
    h: &mut Headers,
    info: &AccountInfo,
    policies: &Policies,
) {
    for p in &info.policy_stats {
        let Some(policy) = u32::try_from(p.storage_policy_index)
            .ok()
            .and_then(|i| policies.get(i))
        else {
            continue;
        };
        let name = &policy.name;
        h.set(
            format!("X-Account-Storage-Policy-{name}-Container-Count"),
            p.container_count.to_string(),
        );
        h.set(
            format!("X-Account-Storage-Policy-{name}-Object-Count"),
            p.object_count.to_string(),
        );
        h.set(
            format!("X-Account-Storage-Policy-{name}-Bytes-Used"),
            p.bytes_used.to_string(),
        );
    }
    for (k, v) in &info.metadata {
        h.set(k.clone(), v.clone());
    }
}

/// Requests on `/d/p/a`.
pub async fn handle(db: &DbPool, req: &Request, account: &str, policies: &Policies) -> Response {
    match req.method.as_str() {
        "PUT" => {
            let ts = match required_timestamp(&req.headers) {
                Ok(t) => t,
                Err(r) => return r,
            };
            let meta = metadata_updates(&req.headers, "account");
            match db.create_account_with_metadata(account, ts, meta).await {
                Ok(CreateOutcome::Created) => Response::status(201),
                Ok(CreateOutcome::Accepted) => Response::status(202),
                Ok(CreateOutcome::RecentlyDeleted) => Response::text(403, "Recently deleted"),
                Ok(CreateOutcome::Conflict | CreateOutcome::PolicyConflict(_)) => {
                    Response::status(409)
                }
                Err(e) => db_error(e),
            }
        }
        "HEAD" => match db.account_state(account).await {
            Ok(AccountState::Active(info)) => info_headers(Response::empty(204), &info, policies),
            Ok(AccountState::Deleted(_)) => {
                Response::status(404).with_header("X-Account-Status", "Deleted")
            }
            Ok(AccountState::Missing) => Response::status(404),
            Err(e) => db_error(e),
        },
        "GET" => {
            let params = match listing::params(req) {
                Ok(p) => p,
                Err(r) => return r,
            };
            match db.account_listing(account, &params).await {
                Ok(Some((info, items))) => {
                    info_headers(listing::containers(items, policies), &info, policies)
                }
                Ok(None) => Response::status(404),
                Err(e) => db_error(e),
            }
        }
        "POST" => {
            let ts = match required_timestamp(&req.headers) {
                Ok(t) => t,
                Err(r) => return r,
            };
            let meta = metadata_updates(&req.headers, "account");
            match db.update_account_metadata(account, ts, meta).await {
                Ok(_) => Response::status(204),
                Err(e) => db_error(e),
            }
        }
        "DELETE" => {
            let ts = match required_timestamp(&req.headers) {
                Ok(t) => t,
                Err(r) => return r,
            };
            delete_response(db.delete_account(account, ts).await)
        }
        _ => Response::status(405),
    }
}

/// A container's report from a container server: `PUT /d/p/a/c` with
/// `X-Put-Timestamp`, `X-Delete-Timestamp`, `X-Object-Count`,
/// `X-Bytes-Used`, `X-Backend-Storage-Policy-Index`.
pub async fn container_row(db: &DbPool, req: &Request, account: &str, container: &str) -> Response {
    let h = &req.headers;
    let ts = |name: &str| match h.get(name) {
        None => Ok(Timestamp::from_secs(0)),
        Some(v) => Timestamp::parse(v).map_err(|_| Response::text(400, &format!("Invalid {name}"))),
    };
    let num = |name: &str| match h.get(name) {
        None => Ok(0),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|_| Response::text(400, &format!("Invalid {name}"))),
    };
    let report = (|| {
        Ok::<_, Response>(ContainerReport {
            name: container.to_string(),
            put_timestamp: ts("x-put-timestamp")?,
            delete_timestamp: ts("x-delete-timestamp")?,
            object_count: num("x-object-count")?,
            bytes_used: num("x-bytes-used")?,
            storage_policy_index: num("x-backend-storage-policy-index")? as i64,
        })
    })();
    let report = match report {
        Ok(r) => r,
        Err(r) => return r,
    };
    let deleted = report.delete_timestamp > report.put_timestamp;
    match db.report_container(account, report).await {
        Ok(()) if deleted => Response::status(204),
        Ok(()) => Response::status(201),
        Err(e) => db_error(e),
    }
}
