//! The container server of the backend protocol.

use crate::db::{ContainerInfo, ContainerPolicy, CreateOutcome, DbPool, ObjectUpdate};
use crate::http::{Request, Response};

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

/// Requests on `/d/p/a/c`.
pub async fn handle(db: &DbPool, req: &Request, account: &str, container: &str) -> Response {
    match req.method.as_str() {
        "PUT" => {
            let ts = match required_timestamp(&req.headers) {
                Ok(t) => t,
                Err(r) => return r,
            };
            let policy = match policy_index(&req.headers) {
                Ok(Some(i)) => ContainerPolicy::Explicit(i),
                Ok(None) => ContainerPolicy::Default(0),
                Err(_) => return Response::text(400, "Invalid X-Storage-Policy-Index"),
            };
            let meta = metadata_updates(&req.headers, "container");
            match db
                .create_container(account, container, ts, meta, policy)
                .await
            {
                Ok(CreateOutcome::Created) => Response::status(201),
                Ok(CreateOutcome::Accepted) => Response::status(202),
                Ok(CreateOutcome::PolicyConflict(i)) => Response::status(409)
                    .with_header("X-Backend-Storage-Policy-Index", i.to_string()),
                Ok(CreateOutcome::Conflict | CreateOutcome::RecentlyDeleted) => {
                    Response::status(409)
                }
                Err(e) => db_error(e),
            }
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
            delete_response(db.delete_container(account, container, ts).await)
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
