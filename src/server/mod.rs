//! Swift's backend protocol: what a Swift proxy (or another paco node)
//! sends to object, container and account servers,
//! `/{device}/{partition}/{account}[/{container}[/{object}]]` with
//! `X-Timestamp`, `X-Backend-Storage-Policy-Index` and the container-update
//! headers. Served on its own listener (`backend_bind`), answered by the
//! same in-process object server and database pool the proxy uses, so a
//! paco node can sit behind a Swift proxy whose rings point at it.
//!
//! Container updates of object writes go where `X-Container-Host` and
//! `X-Container-Device` say ([`updater::ClusterUpdater`]): this node's
//! databases, or another node over HTTP when this node has rings
//! (`[cluster] swift_dir`). Container servers likewise update the account
//! servers `X-Account-Host` and `X-Account-Device` name
//! ([`account_update`]), queueing what they cannot deliver. A node may
//! serve several devices; each request goes to the one its path names.

mod account;
pub(crate) use account::policy_and_metadata_headers;
pub mod account_update;
mod container;
pub mod container_updater;
mod listing;
pub mod updater;

use std::rc::Rc;

use crate::common::storage_policy::Policies;
use crate::proxy::backend::LocalDevice;
use updater::ClusterUpdater;

use percent_encoding::percent_decode_str;

use crate::common::timestamp::Timestamp;
use crate::db::{DbError, DeleteOutcome};
use crate::http::conn::{log_access, Handler, LogEntry};
use crate::http::{BodyReader, Headers, Request, Response};
use crate::obj::server::ObjRequest;

/// A backend request's target, from its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendPath {
    /// Device name.
    pub device: String,
    /// Partition (Swift only checks it is a plain path segment).
    pub partition: String,
    /// Account.
    pub account: String,
    /// Container, if any.
    pub container: Option<String>,
    /// Object (may contain `/`), if any.
    pub object: Option<String>,
}

/// Splits and checks a backend path as Swift's `split_and_validate_path`
/// with `validate_device_partition` does; the error is the 400 body.
pub fn parse_path(raw: &str) -> Result<BackendPath, String> {
    let path = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| "Invalid UTF8 or contains NULL".to_string())?;
    if path.contains('\0') {
        return Err("Invalid UTF8 or contains NULL".into());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("Invalid path: {path}"));
    };
    let mut it = rest.splitn(5, '/');
    let device = it.next().unwrap_or_default();
    let partition = it.next().unwrap_or_default();
    let account = it.next().unwrap_or_default();
    let container = it.next();
    let object = it.next();
    let bad_seg = |s: &str| s.is_empty() || s == "." || s == "..";
    if bad_seg(device) {
        return Err(format!("Invalid device: {device}"));
    }
    if bad_seg(partition) {
        return Err(format!("Invalid partition: {partition}"));
    }
    if account.is_empty() || container == Some("") || object == Some("") {
        return Err(format!("Invalid path: {path}"));
    }
    Ok(BackendPath {
        device: device.to_string(),
        partition: partition.to_string(),
        account: account.to_string(),
        container: container.map(str::to_string),
        object: object.map(str::to_string),
    })
}

/// Swift's `valid_timestamp`: a write needs `X-Timestamp`.
fn required_timestamp(headers: &Headers) -> Result<Timestamp, Response> {
    match headers.get("x-timestamp") {
        None => Err(Response::text(400, "Missing timestamp")),
        Some(v) => Timestamp::parse(v)
            .map_err(|_| Response::text(400, "X-Timestamp should be a UNIX timestamp float value")),
    }
}

/// The metadata headers a PUT or POST carries for an account or container
/// (`X-<kind>-Meta-*`, `X-<kind>-Sysmeta-*` and the ACL and sync headers);
/// the proxy reads a backend answer's metadata with it too.
pub(crate) fn metadata_updates(headers: &Headers, kind: &str) -> Vec<(String, String)> {
    let meta = format!("x-{kind}-meta-");
    let sysmeta = format!("x-{kind}-sysmeta-");
    let extra: &[&str] = if kind == "container" {
        &[
            "x-container-read",
            "x-container-write",
            "x-container-sync-key",
            "x-container-sync-to",
            "x-versions-location",
            "x-history-location",
        ]
    } else {
        &[]
    };
    headers
        .iter()
        .filter(|(k, _)| {
            let l = k.to_ascii_lowercase();
            l.starts_with(&meta) || l.starts_with(&sysmeta) || extra.contains(&l.as_str())
        })
        .map(|(k, v)| (crate::http::headers::title_case(k), v.to_string()))
        .collect()
}

/// The storage policy index a request names (`None` when absent). Any
/// index parses here: the object server answers 503 for a policy it has no
/// store for, as Swift refuses unknown policies, and the proxy only sends
/// the indexes of configured policies to container servers.
fn policy_index(headers: &Headers) -> Result<Option<i64>, Response> {
    match headers.get("x-backend-storage-policy-index") {
        None => Ok(None),
        Some(v) => match v.trim().parse::<u32>() {
            Ok(i) => Ok(Some(i.into())),
            _ => Err(Response::text(503, &format!("No policy with index {v}"))),
        },
    }
}

/// Sets the timestamp headers Swift's account and container servers send on
/// HEAD/GET (created and put time twice: for clients, and internal for the
/// proxy) from an `AccountInfo` or `ContainerInfo`. A macro because the two
/// rows share these field names but no type.
macro_rules! set_db_times {
    ($h:expr, $info:expr) => {{
        let (h, info) = ($h, $info);
        h.set("X-Timestamp", info.created_at.normal());
        h.set("X-Put-Timestamp", info.put_timestamp.normal());
        h.set("X-Backend-Timestamp", info.created_at.internal());
        h.set("X-Backend-Put-Timestamp", info.put_timestamp.internal());
        h.set(
            "X-Backend-Delete-Timestamp",
            info.delete_timestamp.internal(),
        );
        h.set(
            "X-Backend-Status-Changed-At",
            info.status_changed_at.internal(),
        );
    }};
}
use set_db_times;

/// The answer to an account or container DELETE, as Swift's servers give
/// it: 409 for one not empty or newer than the request.
fn delete_response(r: Result<DeleteOutcome, DbError>) -> Response {
    match r {
        Ok(DeleteOutcome::Deleted) => Response::status(204),
        Ok(DeleteOutcome::NotFound) => Response::status(404),
        Ok(DeleteOutcome::NotEmpty | DeleteOutcome::Conflict) => Response::status(409),
        Err(e) => db_error(e),
    }
}

fn db_error(e: DbError) -> Response {
    match e {
        DbError::NotFound | DbError::AccountNotFound => Response::status(404),
        DbError::InvalidName(m) => Response::text(400, &m),
        other => {
            tracing::error!("backend: database error: {other}");
            Response::status(500)
        }
    }
}

/// An account or container request on `/d/p/a[/c]` (or an object-row
/// update on `/d/p/a/c/o`) for this node's device `dev`: what the backend
/// listener answers, and what the proxy calls in process for its own
/// devices.
pub async fn db_request(
    dev: &LocalDevice,
    updater: &ClusterUpdater,
    policies: &Policies,
    req: &Request,
    p: &BackendPath,
) -> Response {
    match (&p.container, &p.object) {
        (Some(c), Some(o)) => container::object_row(&dev.db, req, &p.account, c, o).await,
        (Some(c), None) if is_account_update(req) => {
            account::container_row(&dev.db, req, &p.account, c).await
        }
        (Some(c), None) => container::handle(dev, updater, req, &p.account, c).await,
        _ => account::handle(&dev.db, req, &p.account, policies).await,
    }
}

/// A listing's `last_modified` as the backend servers write it.
pub fn listing_iso8601(ts: &Timestamp) -> String {
    listing::iso8601(ts)
}

/// One worker's backend-protocol server.
pub struct BackendServer {
    devices: Rc<Vec<LocalDevice>>,
    updater: Rc<ClusterUpdater>,
    policies: Rc<Policies>,
    log_requests: bool,
}

impl BackendServer {
    /// A server for the node's devices.
    pub fn new(
        devices: Rc<Vec<LocalDevice>>,
        updater: Rc<ClusterUpdater>,
        policies: Rc<Policies>,
        log_requests: bool,
    ) -> Self {
        BackendServer {
            devices,
            updater,
            policies,
            log_requests,
        }
    }

    async fn route(&self, req: &Request, body: &mut BodyReader<'_>) -> Response {
        let p = match parse_path(&req.raw_path) {
            Ok(p) => p,
            Err(msg) => return Response::text(400, &msg),
        };
        // Swift answers 507 for a device that is not mounted here.
        let Some(dev) = self.devices.iter().find(|d| d.name == p.device) else {
            return Response::status(507);
        };
        match (&p.container, &p.object) {
            (Some(_), Some(_)) if is_container_update(req) => {
                db_request(dev, &self.updater, &self.policies, req, &p).await
            }
            (Some(c), Some(o)) => {
                if let Err(r) = policy_index(&req.headers) {
                    return r;
                }
                let r = ObjRequest {
                    method: &req.method,
                    account: &p.account,
                    container: c,
                    object: o,
                    headers: &req.headers,
                };
                dev.objects
                    .handle(&r, &mut crate::http::stream::BodySource::Client(body))
                    .await
            }
            _ => db_request(dev, &self.updater, &self.policies, req, &p).await,
        }
    }
}

/// Whether a request on `/d/p/a/c/o` is an object-row update for the
/// container server rather than an object request. One port serves all
/// three roles, so this is told from the headers Swift's object server and
/// updater send: a PUT carries `X-Size`; a DELETE comes from an
/// `object-server`/`object-updater` user agent (or carries `X-Size`).
fn is_container_update(req: &Request) -> bool {
    let h = &req.headers;
    let from_object_server = h
        .get("user-agent")
        .is_some_and(|ua| ua.starts_with("object-server") || ua.starts_with("object-updater"));
    match req.method.as_str() {
        "PUT" => h.contains("x-size"),
        "DELETE" => h.contains("x-size") || from_object_server,
        _ => false,
    }
}

/// An account server's container-row update (container server → account
/// server) carries `X-Put-Timestamp` and the counts.
fn is_account_update(req: &Request) -> bool {
    req.method == "PUT"
        && req.headers.contains("x-put-timestamp")
        && req.headers.contains("x-object-count")
}

impl Handler for BackendServer {
    async fn handle(&self, req: &Request, body: &mut BodyReader<'_>) -> Response {
        self.route(req, body).await
    }

    fn log(&self, e: &LogEntry<'_>) {
        if !self.log_requests {
            return;
        }
        log_access!("paco::backend_access", e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let p = parse_path("/sda1/312/AUTH_a/c/o/with/slash").unwrap();
        assert_eq!(p.device, "sda1");
        assert_eq!(p.partition, "312");
        assert_eq!(p.object.as_deref(), Some("o/with/slash"));
        let p = parse_path("/sda1/0/a%20b").unwrap();
        assert_eq!((p.account.as_str(), p.container), ("a b", None));
        for bad in [
            "",
            "/",
            "/sda1",
            "/sda1/1",
            "/sda1/1/",
            "/../1/a",
            "/d/./a",
            "/d/1/a//o",
            "/d/1/a%00",
        ] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }
}
