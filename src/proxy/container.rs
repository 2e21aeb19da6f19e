//! The proxy's container controller: PUT/HEAD/GET/POST/DELETE of
//! containers, with listings, metadata, ACL headers and storage policy.

use crate::common::constraints::MetaTarget;
use crate::common::storage_policy::Policies;
use crate::common::timestamp::Timestamp;
use crate::db::{ContainerInfo, ContainerPolicy, CreateOutcome, DbPool, DeleteOutcome, ListItem};
use crate::http::{Body, Request, Response};

use super::listing::{render, split_hash_params, Format, Row};
use super::{listing_params, meta};

/// Everything a container request needs.
pub struct ContainerRequest<'a> {
    /// The request.
    pub req: &'a Request,
    /// API version from the path (`v1`), for paths listings publish.
    pub version: &'a str,
    /// Account.
    pub account: &'a str,
    /// Container.
    pub container: &'a str,
    /// The caller owns the container (may see and set owner-only headers).
    pub owner: bool,
    /// The storage policies a new container may choose.
    pub policies: &'a Policies,
}

/// Answers a container request. `info` is the container's state as the
/// router already looked it up for authorization.
pub async fn handle(
    db: &DbPool,
    constraints: &crate::common::constraints::Constraints,
    r: &ContainerRequest<'_>,
    info: Option<ContainerInfo>,
) -> Response {
    if matches!(r.req.method.as_str(), "PUT" | "POST") {
        if let Err(resp) = meta::check_utf8(r.req, MetaTarget::Container) {
            return resp;
        }
    }
    let mut resp = match r.req.method.as_str() {
        "PUT" => put(db, constraints, r).await,
        "HEAD" | "GET" => match info {
            Some(info) => read(db, constraints, r, &info).await,
            None => Response::status(404),
        },
        "POST" => match info {
            Some(info) => post(db, constraints, r, &info).await,
            None => Response::status(404),
        },
        "DELETE" => delete(db, r).await,
        _ => Response::status(405).with_header("Allow", "DELETE, GET, HEAD, OPTIONS, POST, PUT"),
    };
    if !r.owner {
        meta::strip_owner_headers(&mut resp);
    }
    resp
}

fn db_error(e: crate::db::DbError) -> Response {
    tracing::error!("container database: {e}");
    Response::status(503)
}

fn request_timestamp(r: &ContainerRequest<'_>) -> Result<Timestamp, Response> {
    match r.req.headers.get("x-timestamp") {
        Some(v) => Timestamp::parse(v)
            .map_err(|_| Response::text(400, "X-Timestamp should be a UNIX timestamp float value")),
        None => Ok(Timestamp::now()),
    }
}

/// Swift's `_convert_policy_to_index`: the policy `X-Storage-Policy`
/// names (400 when unknown or deprecated), or the default policy.
pub(crate) fn chosen_policy(r: &ContainerRequest<'_>) -> Result<ContainerPolicy, Response> {
    let Some(name) = r
        .req
        .headers
        .get("x-storage-policy")
        .filter(|p| !p.is_empty())
    else {
        return Ok(ContainerPolicy::Default(
            r.policies.default_policy().index.into(),
        ));
    };
    match r.policies.by_name(name) {
        None => Err(
            Response::text(400, &format!("Invalid X-Storage-Policy '{name}'"))
                .with_header("Content-Type", "text/plain"),
        ),
        Some(p) if p.deprecated => Err(Response::text(
            400,
            &format!("Storage Policy '{}' is deprecated", p.name),
        )),
        Some(p) => Ok(ContainerPolicy::Explicit(p.index.into())),
    }
}

async fn put(
    db: &DbPool,
    c: &crate::common::constraints::Constraints,
    r: &ContainerRequest<'_>,
) -> Response {
    let policy = match chosen_policy(r) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let updates = match meta::container_updates(c, &r.req.headers, r.owner) {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let ts = match request_timestamp(r) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    if let Err(resp) = super::account::autocreate(db, r.account).await {
        return resp;
    }
    match db
        .create_container(r.account, r.container, ts, updates, policy)
        .await
    {
        Ok(CreateOutcome::Created) => Response::status(201),
        Ok(CreateOutcome::Accepted) => Response::status(202),
        Ok(CreateOutcome::PolicyConflict(_))
        | Ok(CreateOutcome::Conflict)
        | Ok(CreateOutcome::RecentlyDeleted) => Response::status(409),
        Err(e) => db_error(e),
    }
}

/// Headers describing a container (HEAD and GET).
pub(crate) fn info_headers(resp: &mut Response, info: &ContainerInfo, policies: &Policies) {
    let h = &mut resp.headers;
    h.set("X-Container-Object-Count", info.object_count.to_string());
    h.set("X-Container-Bytes-Used", info.bytes_used.to_string());
    h.set("X-Timestamp", info.created_at.normal());
    h.set("X-Put-Timestamp", info.put_timestamp.normal());
    h.set("Last-Modified", info.put_timestamp.http_date());
    h.set(
        "X-Storage-Policy",
        policies.name_of(info.storage_policy_index),
    );
    h.set("Accept-Ranges", "bytes");
    for (k, v) in &info.metadata {
        h.set(k.clone(), v.clone());
    }
}

async fn read(
    db: &DbPool,
    c: &crate::common::constraints::Constraints,
    r: &ContainerRequest<'_>,
    info: &ContainerInfo,
) -> Response {
    let (format, params) = match listing_params::format_and_params(r.req, c.container_listing_limit)
    {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let rows: Vec<Row> = if r.req.method == "GET" {
        match db.list_objects(r.account, r.container, &params).await {
            Ok(items) => items
                .into_iter()
                .map(|i| match i {
                    ListItem::Entry(o) => {
                        let (hash, extra) = split_hash_params(&o.hash, r.version, r.account);
                        Row::Object {
                            name: o.name,
                            hash,
                            bytes: o.bytes,
                            content_type: o.content_type,
                            last_modified: o.last_modified,
                            extra,
                        }
                    }
                    ListItem::Subdir(s) => Row::Subdir(s),
                })
                .collect(),
            Err(e) => return db_error(e),
        }
    } else {
        Vec::new()
    };
    listing_response(r.req, format, "container", r.container, &rows, |resp| {
        info_headers(resp, info, r.policies)
    })
}

/// A listing response with Swift's status rules: 204 for an empty plain
/// listing (and every HEAD), 200 otherwise.
pub fn listing_response(
    req: &Request,
    format: Format,
    root: &str,
    root_name: &str,
    rows: &[Row],
    add_headers: impl FnOnce(&mut Response),
) -> Response {
    let is_head = req.method == "HEAD";
    let empty_plain = rows.is_empty() && format == Format::Plain;
    let mut resp = if is_head || empty_plain {
        Response::empty(204)
    } else {
        let mut r = Response::empty(200);
        r.body = Body::Bytes(render(format, root, root_name, rows));
        r
    };
    add_headers(&mut resp);
    resp.headers.set("Content-Type", format.content_type());
    if req.query_param("format").is_none() {
        resp.headers.set("Vary", "Accept");
    }
    if is_head || empty_plain {
        resp.headers.set("Content-Length", "0");
    }
    resp
}

async fn post(
    db: &DbPool,
    c: &crate::common::constraints::Constraints,
    r: &ContainerRequest<'_>,
    info: &ContainerInfo,
) -> Response {
    let updates = match meta::container_updates(c, &r.req.headers, r.owner) {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    if let Err(resp) = meta::check_stored_totals(c, &info.metadata, &updates, MetaTarget::Container)
    {
        return resp;
    }
    let ts = match request_timestamp(r) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    match db
        .update_container_metadata(r.account, r.container, ts, updates)
        .await
    {
        Ok(_) => Response::empty(204),
        Err(crate::db::DbError::NotFound) => Response::status(404),
        Err(e) => db_error(e),
    }
}

async fn delete(db: &DbPool, r: &ContainerRequest<'_>) -> Response {
    let ts = match request_timestamp(r) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    match db.delete_container(r.account, r.container, ts).await {
        Ok(DeleteOutcome::Deleted) => Response::empty(204),
        Ok(DeleteOutcome::NotFound) => Response::status(404),
        Ok(DeleteOutcome::NotEmpty) | Ok(DeleteOutcome::Conflict) => Response::status(409),
        Err(e) => db_error(e),
    }
}
