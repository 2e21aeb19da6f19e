//! The container server of the backend protocol.

use crate::db::{ContainerInfo, ContainerPolicy, CreateOutcome, DbPool, ObjectUpdate};
use crate::http::{Request, Response};
use crate::obj::updates::UpdateError;
use crate::proxy::backend::LocalDevice;

use super::account_update::{account_targets, send_or_queue, AccountUpdate};
use super::updater::ClusterUpdater;

use super::{
    db_error, delete_response, listing, metadata_updates, policy_index, required_timestamp,
    set_db_times,
};

/// The stat headers of a container HEAD/GET (Swift's container server).
fn info_headers(mut r: Response, info: &ContainerInfo) -> Response {
    let h = &mut r.headers;
    h.set("X-Container-Object-Count", info.object_count.to_string());
    h.set("X-Container-Bytes-Used", info.bytes_used.to_string());
    set_db_times!(&mut *h, info);
    h.set(
        "X-Backend-Storage-Policy-Index",
        info.storage_policy_index.to_string(),
    );
    for (k, v) in &info.metadata {
        h.set(k.clone(), v.clone());
    }
    r
}

/// After a container PUT or DELETE: the account servers the proxy named
/// learn the container's state (queued when unreachable). Like Swift's
/// `account_update`, only an account server answering 404 changes the
/// answer (to 404).
async fn update_accounts(
    dev: &LocalDevice,
    updater: &ClusterUpdater,
    req: &Request,
    account: &str,
    container: &str,
    resp: Response,
) -> Response {
    let targets = account_targets(&req.headers);
    if targets.is_empty() || resp.status >= 300 {
        return resp;
    }
    let report = match dev.db.container_report(account, container).await {
        Ok(Some(r)) => r,
        Ok(None) => return resp,
        Err(e) => return db_error(e),
    };
    let u = AccountUpdate::new(account, &report, targets);
    match send_or_queue(updater, &dev.root, &u).await {
        Err(UpdateError::NoContainer) => Response::status(404),
        _ => resp,
    }
}

/// The policy a container PUT asks for: `X-Backend-Storage-Policy-Index`
/// when the client named one, else `X-Backend-Storage-Policy-Default` for
/// a new container (Swift's proxy sends one or the other).
fn requested_policy(req: &Request) -> Result<ContainerPolicy, Response> {
    let bad = || Response::text(400, "Invalid X-Storage-Policy-Index");
    match policy_index(&req.headers) {
        Ok(Some(i)) => Ok(ContainerPolicy::Explicit(i)),
        Ok(None) => match req.headers.get("x-backend-storage-policy-default") {
            None => Ok(ContainerPolicy::Default(0)),
            Some(v) => v
                .trim()
                .parse::<u32>()
                .map(|i| ContainerPolicy::Default(i.into()))
                .map_err(|_| bad()),
        },
        Err(_) => Err(bad()),
    }
}

/// Requests on `/d/p/a/c`.
pub async fn handle(
    dev: &LocalDevice,
    updater: &ClusterUpdater,
    req: &Request,
    account: &str,
    container: &str,
) -> Response {
    let db = &dev.db;
    match req.method.as_str() {
        "PUT" => {
            let ts = match required_timestamp(&req.headers) {
                Ok(t) => t,
                Err(r) => return r,
            };
            let policy = match requested_policy(req) {
                Ok(p) => p,
                Err(r) => return r,
            };
            let meta = metadata_updates(&req.headers, "container");
            // Told where the account lives, this is a cluster's container
            // server: the account is updated there, not in a local copy.
            let link_account = !req.headers.contains("x-account-host");
            let created = db
                .create_container_in(account, container, ts, meta, policy, link_account)
                .await;
            let resp = match created {
                Ok(CreateOutcome::Created) => Response::status(201),
                Ok(CreateOutcome::Accepted) => Response::status(202),
                Ok(CreateOutcome::PolicyConflict(i)) => Response::status(409)
                    .with_header("X-Backend-Storage-Policy-Index", i.to_string()),
                Ok(CreateOutcome::Conflict | CreateOutcome::RecentlyDeleted) => {
                    Response::status(409)
                }
                Err(e) => db_error(e),
            };
            update_accounts(dev, updater, req, account, container, resp).await
        }
        "HEAD" | "GET" => {
            if req.method == "HEAD" {
                return match db.container_info(account, container).await {
                    Ok(Some(info)) => info_headers(Response::empty(204), &info),
                    Ok(None) => Response::status(404),
                    Err(e) => db_error(e),
                };
            }
            let params = match listing::params(req) {
                Ok(p) => p,
                Err(r) => return r,
            };
            match db.container_listing(account, container, &params).await {
                Ok(Some((info, items))) => info_headers(listing::objects(items), &info),
                Ok(None) => Response::status(404),
                Err(e) => db_error(e),
            }
        }
        "POST" => {
            let ts = match required_timestamp(&req.headers) {
                Ok(t) => t,
                Err(r) => return r,
            };
            let meta = metadata_updates(&req.headers, "container");
            match db
                .update_container_metadata(account, container, ts, meta)
                .await
            {
                Ok(_) => Response::status(204),
                Err(e) => db_error(e),
            }
        }
        "DELETE" => {
            let ts = match required_timestamp(&req.headers) {
                Ok(t) => t,
                Err(r) => return r,
            };
            let resp = delete_response(db.delete_container(account, container, ts).await);
            update_accounts(dev, updater, req, account, container, resp).await
        }
        _ => Response::status(405),
    }
}

/// An object row update from an object server or updater:
/// `PUT|DELETE /d/p/a/c/o` with `X-Timestamp`, `X-Size`, `X-Content-Type`
/// and `X-Etag`.
pub async fn object_row(
    db: &DbPool,
    req: &Request,
    account: &str,
    container: &str,
    object: &str,
) -> Response {
    let ts = match required_timestamp(&req.headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let h = &req.headers;
    let deleted = req.method == "DELETE";
    let size = match h.get("x-size").map(|v| v.trim().parse::<u64>()) {
        Some(Ok(n)) => n,
        None if deleted => 0,
        _ => return Response::text(400, "Invalid X-Size"),
    };
    let policy = match policy_index(h) {
        Ok(p) => p.unwrap_or(0),
        Err(r) => return r,
    };
    let update = ObjectUpdate {
        name: object.to_string(),
        timestamp: ts,
        size,
        content_type: h
            .get("x-content-type")
            .unwrap_or("application/deleted")
            .to_string(),
        etag: h.get("x-etag").unwrap_or("noetag").to_string(),
        deleted,
        storage_policy_index: policy,
    };
    match db.update_object(account, container, update).await {
        Ok(_) if deleted => Response::status(204),
        Ok(_) => Response::status(201),
        Err(e) => db_error(e),
    }
}
