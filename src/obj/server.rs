//! The object server: Swift's object-server semantics for one device —
//! last-writer-wins by `X-Timestamp`, durable PUT with MD5 verification,
//! conditional and ranged reads (server_get.rs), POST metadata and
//! tombstones.

use std::rc::Rc;

use crate::common::timestamp::Timestamp;
use crate::http::headers::starts_with_ignore_case;
use crate::http::{BodySource, Headers, Response};

use super::diskfile::{DiskFile, DiskFileError, DiskFileWriter, ObjectState};
use super::expiring;
use super::hashed::HashedManager;
use super::metadata::Metadata;
use super::onfile::{self, OnfileManager};
use super::receive::{receive_body, ReceiveError};
use super::updates::{save_pending, ContainerUpdate, ContainerUpdater, UpdateError};

/// Headers besides `X-Object-Meta-*` that are stored with an object and
/// returned with it (Swift's object-server `allowed_headers`).
pub const ALLOWED_HEADERS: &[&str] = &[
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Cache-Control",
    "Expires",
    "X-Delete-At",
    "X-Object-Manifest",
    "X-Robots-Tag",
    "X-Static-Large-Object",
];

/// Metadata key of the body's CRC32, kept for the auditor; never returned.
pub const CRC_KEY: &str = "Paco-Crc32";

/// Metadata key listing the user-metadata keys whose values are raw bytes
/// held as Latin-1 text (one char per byte); they go back out byte for byte.
pub const RAW_KEY: &str = "Paco-Raw-Meta";

/// Backend header the proxy sets to name the raw-byte values of a request.
const RAW_HEADER: &str = "x-backend-raw-meta";

/// Records which of the stored keys hold raw bytes.
fn note_raw_values(headers: &Headers, meta: &mut Metadata) {
    let Some(list) = headers.get(RAW_HEADER) else {
        return;
    };
    let keys: Vec<String> = list
        .split(',')
        .map(crate::http::headers::title_case)
        .filter(|k| meta.contains_key(k))
        .collect();
    if !keys.is_empty() {
        meta.insert(RAW_KEY.into(), keys.join(","));
    }
}

/// The container update naming `req`'s object at `ts`: an empty, live row
/// that each write fills in (size, type and ETag, or `deleted`).
fn listing_row(req: &ObjRequest<'_>, ts: Timestamp, policy_index: u32) -> ContainerUpdate {
    ContainerUpdate {
        account: req.account.to_string(),
        container: req.container.to_string(),
        object: req.object.to_string(),
        timestamp: ts.internal(),
        size: 0,
        content_type: String::new(),
        etag: String::new(),
        deleted: false,
        policy_index,
        targets: super::updates::update_targets(req.headers),
    }
}

/// Applies Swift's container-update overrides (`X-Backend-` ones, then the
/// stored `X-Object-Sysmeta-` ones, which win) to a listing row update:
/// symlinks and versioning put their state in the row's etag this way.
pub fn apply_update_overrides<'a>(
    update: &mut ContainerUpdate,
    headers: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) {
    for prefix in [
        "x-backend-container-update-override-",
        "x-object-sysmeta-container-update-override-",
    ] {
        for (k, v) in headers.clone() {
            let l = k.to_ascii_lowercase();
            let Some(key) = l.strip_prefix(prefix) else {
                continue;
            };
            match key {
                "etag" => update.etag = v.to_string(),
                "content-type" => update.content_type = v.to_string(),
                "size" => {
                    if let Ok(n) = v.trim().parse() {
                        update.size = n;
                    }
                }
                _ => {}
            }
        }
    }
}

fn is_user_meta(k: &str) -> bool {
    starts_with_ignore_case(k, "x-object-meta-")
        || starts_with_ignore_case(k, "x-object-transient-sysmeta-")
}

fn is_allowed(k: &str) -> bool {
    ALLOWED_HEADERS.iter().any(|a| a.eq_ignore_ascii_case(k))
}

fn is_sysmeta(k: &str) -> bool {
    starts_with_ignore_case(k, "x-object-sysmeta-")
}

/// Whether a PUT's header `k` is stored with the object, and so returned
/// by its GET and HEAD.
pub(super) fn is_stored_header(k: &str) -> bool {
    is_user_meta(k) || is_allowed(k) || is_sysmeta(k)
}

/// Whether a POST replaces this key (user metadata and the allowed headers
/// other than the SLO marker, which only a PUT sets).
pub fn is_post_replaced(k: &str) -> bool {
    is_user_meta(k)
        || k == RAW_KEY
        || (is_allowed(k) && !k.eq_ignore_ascii_case("X-Static-Large-Object"))
}

/// A request the object server answers: what Swift's backend protocol
/// carries (`/device/part/a/c/o` plus `X-Timestamp` and friends).
#[derive(Debug)]
pub struct ObjRequest<'a> {
    /// GET, HEAD, PUT, POST or DELETE.
    pub method: &'a str,
    /// Account name.
    pub account: &'a str,
    /// Container name.
    pub container: &'a str,
    /// Object name.
    pub object: &'a str,
    /// Headers, including `X-Timestamp` for writes.
    pub headers: &'a Headers,
}

/// The DiskFile manager of one storage policy.
#[derive(Debug, Clone)]
pub enum PolicyManager {
    /// Swift's hashed layout on the device.
    Hashed(Rc<HashedManager>),
    /// Swift-on-File's plain files under a mount.
    Onfile(Rc<OnfileManager>),
}

/// Serves objects on one device.
pub struct ObjectServer {
    /// Policy 0's manager; its device also holds the queues (container
    /// updates, expiries) of every policy.
    manager: Rc<HashedManager>,
    /// Managers of the other policies, by index.
    policies: Vec<(u32, PolicyManager)>,
    io_buffer_size: usize,
    max_file_size: u64,
    /// `[storage] direct_write_min_size`, `None` when direct writes are off.
    direct_write_from: Option<u64>,
    updater: Option<Rc<dyn ContainerUpdater>>,
}

pub(super) fn error_response(e: &DiskFileError) -> Response {
    match e {
        DiskFileError::NoSpace => Response::status(507),
        DiskFileError::BadName(m) | DiskFileError::MetadataTooLarge(m) => Response::text(400, m),
        DiskFileError::Conflict(m) => Response::text(409, m),
        other => {
            tracing::error!("object server: {other}");
            Response::status(500)
        }
    }
}

fn timestamp_header(headers: &Headers) -> Result<Timestamp, Response> {
    match headers.get("x-timestamp").map(Timestamp::parse) {
        Some(Ok(t)) => Ok(t),
        Some(Err(_)) => Err(Response::text(
            400,
            "X-Timestamp should be a UNIX timestamp float value",
        )),
        None => Err(Response::text(400, "Missing timestamp")),
    }
}

fn now_secs() -> i64 {
    Timestamp::now().secs()
}

/// Whether the object has passed its `X-Delete-At`.
pub(super) fn is_expired(meta: &Metadata) -> bool {
    meta.get("X-Delete-At")
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|at| at <= now_secs())
}

impl ObjectServer {
    /// A server over `manager`'s device.
    pub fn new(manager: Rc<HashedManager>, io_buffer_size: usize, max_file_size: u64) -> Self {
        ObjectServer {
            manager,
            policies: Vec::new(),
            io_buffer_size,
            max_file_size,
            direct_write_from: crate::config::StorageConfig::default().direct_write_from(),
            updater: None,
        }
    }

    /// Writes bodies of at least `from` bytes past the page cache (`None`:
    /// never); see `[storage] direct_write_min_size`.
    pub fn with_direct_write(mut self, from: Option<u64>) -> Self {
        self.direct_write_from = from;
        self
    }

    /// Where in this PUT's body direct writes start, if at all: at once
    /// when its declared length reaches the threshold, never when it is
    /// shorter, and once that much has arrived for a chunked body.
    fn direct_from(&self, headers: &Headers) -> Option<u64> {
        let min = self.direct_write_from?;
        match headers
            .get("content-length")
            .map(|v| v.trim().parse::<u64>())
        {
            Some(Ok(len)) if len >= min => Some(0),
            Some(Ok(_)) => None,
            _ => Some(min),
        }
    }

    /// Serves storage policy `index` with `manager` (policy 0 is served
    /// by the device's own manager unless given here).
    pub fn with_policy(mut self, index: u32, manager: PolicyManager) -> Self {
        self.policies.retain(|(i, _)| *i != index);
        self.policies.push((index, manager));
        self
    }

    /// Serves every store in `stores` (from [`super::policies::prepare`]).
    pub fn with_stores(self, stores: &[(u32, super::policies::PolicyStore)]) -> Self {
        stores
            .iter()
            .fold(self, |s, (i, store)| s.with_policy(*i, store.manager()))
    }

    /// Sends container updates for every PUT and DELETE through `updater`.
    pub fn with_updater(mut self, updater: Rc<dyn ContainerUpdater>) -> Self {
        self.updater = Some(updater);
        self
    }

    /// Tells the container listing about a write; when that fails the update
    /// is queued durably in `async_pending/` for the updater. An error means
    /// neither happened and the write must not be acknowledged.
    async fn update_container(&self, hash: &str, update: ContainerUpdate) -> Result<(), Response> {
        let Some(updater) = &self.updater else {
            return Ok(());
        };
        match updater.update(&update).await {
            Ok(()) | Err(UpdateError::NoContainer) => Ok(()),
            Err(UpdateError::Failed(e)) => {
                tracing::warn!(object = %update.object, "container update failed, queued: {e}");
                save_pending(self.manager.device_root(), hash, &update)
                    .map(|_| ())
                    .map_err(|e| {
                        tracing::error!("could not queue container update: {e}");
                        Response::status(500)
                    })
            }
        }
    }

    /// Queues the expiry a PUT or POST sets, durably, before the write that
    /// sets it is committed: a crash in between leaves an entry the expirer
    /// drops (its guarded delete finds no such expiry), never an expiring
    /// object nobody will delete.
    async fn queue_expiry(
        &self,
        hash: &str,
        req: &ObjRequest<'_>,
        policy_index: u32,
    ) -> Result<(), Response> {
        let Some(at) = req
            .headers
            .get("x-delete-at")
            .and_then(|v| v.trim().parse::<i64>().ok())
        else {
            return Ok(());
        };
        let e = expiring::Expiry {
            account: req.account.to_string(),
            container: req.container.to_string(),
            object: req.object.to_string(),
            delete_at: at,
            policy_index,
        };
        expiring::record(self.manager.device_root(), hash, &e)
            .await
            .map(|_| ())
            .map_err(|err| {
                tracing::error!(object = %req.object, "could not queue expiry: {err}");
                Response::status(500)
            })
    }

    /// Answers one object request, in the storage policy its
    /// `X-Backend-Storage-Policy-Index` names (0 when absent).
    pub async fn handle(&self, req: &ObjRequest<'_>, body: &mut BodySource<'_, '_>) -> Response {
        let index = match req.headers.get("x-backend-storage-policy-index") {
            None => 0,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(i) => i,
                Err(_) => return Response::text(503, &format!("No policy with index {v}")),
            },
        };
        match self.policies.iter().find(|(i, _)| *i == index) {
            None if index == 0 => {
                let df = self.manager.get(req.account, req.container, req.object);
                self.dispatch(&df, req, body, 0).await
            }
            Some((_, PolicyManager::Hashed(m))) => {
                let df = m.get(req.account, req.container, req.object);
                self.dispatch(&df, req, body, index).await
            }
            Some((_, PolicyManager::Onfile(m))) => {
                let directory = req.method == "PUT"
                    && req
                        .headers
                        .get("content-type")
                        .is_some_and(onfile::is_directory_type);
                match m.get(req.account, req.container, req.object, directory) {
                    Ok(df) => self.dispatch(&df, req, body, index).await,
                    Err(e) => error_response(&e),
                }
            }
            None => Response::text(503, &format!("No policy with index {index}")),
        }
    }

    async fn dispatch<D: DiskFile>(
        &self,
        df: &D,
        req: &ObjRequest<'_>,
        body: &mut BodySource<'_, '_>,
        policy_index: u32,
    ) -> Response {
        match req.method {
            "GET" | "HEAD" => self.get(df, req).await,
            "PUT" => self.put(df, req, body, policy_index).await,
            "POST" => self.post(df, req, policy_index).await,
            "DELETE" => self.delete(df, req, policy_index).await,
            _ => Response::status(405),
        }
    }

    async fn put<D: DiskFile>(
        &self,
        df: &D,
        req: &ObjRequest<'_>,
        body: &mut BodySource<'_, '_>,
        policy_index: u32,
    ) -> Response {
        let ts = match timestamp_header(req.headers) {
            Ok(t) => t,
            Err(r) => return r,
        };
        match df.open().await {
            Ok(ObjectState::Present(o)) => {
                let (newest, expired) = (o.newest_timestamp(), is_expired(&o.metadata));
                o.close().await;
                if newest >= ts {
                    return conflict(newest);
                }
                if req
                    .headers
                    .get("if-none-match")
                    .is_some_and(|v| v.trim() == "*")
                    && !expired
                {
                    return Response::status(412);
                }
            }
            Ok(ObjectState::Deleted(t)) if t >= ts => return conflict(t),
            Ok(_) => {}
            Err(e) => return error_response(&e),
        }
        let mut writer = match df.create().await {
            Ok(w) => w,
            Err(e) => return error_response(&e),
        };
        let direct_from = self.direct_from(req.headers);
        let received = match receive_body(
            &mut writer,
            body,
            self.io_buffer_size,
            self.max_file_size,
            direct_from,
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                writer.abort().await;
                return match e {
                    ReceiveError::Body(e) => Response::status(e.status()),
                    ReceiveError::TooLarge(_) => Response::status(413),
                    ReceiveError::Disk(e) => error_response(&e),
                };
            }
        };
        let etag = received.etag;
        if let Some(sent) = req.headers.get("etag") {
            if !sent.trim().trim_matches('"').eq_ignore_ascii_case(&etag) {
                writer.abort().await;
                return Response::status(422);
            }
        }
        let mut meta = Metadata::new();
        meta.insert(
            "name".into(),
            format!("/{}/{}/{}", req.account, req.container, req.object),
        );
        meta.insert("X-Timestamp".into(), ts.internal());
        meta.insert(
            "Content-Type".into(),
            req.headers
                .get("content-type")
                .unwrap_or("application/octet-stream")
                .to_string(),
        );
        meta.insert("Content-Length".into(), received.size.to_string());
        meta.insert("ETag".into(), etag.clone());
        meta.insert(CRC_KEY.into(), format!("{:08x}", received.crc32));
        for (k, v) in req.headers.iter() {
            if is_stored_header(k) {
                meta.insert(crate::http::headers::title_case(k), v.to_string());
            }
        }
        note_raw_values(req.headers, &mut meta);
        let size = received.size;
        if let Err(r) = self.queue_expiry(df.name_hash(), req, policy_index).await {
            writer.abort().await;
            return r;
        }
        let mut update = ContainerUpdate {
            size,
            content_type: meta.get("Content-Type").cloned().unwrap_or_default(),
            etag: etag.clone(),
            ..listing_row(req, ts, policy_index)
        };
        let pairs: Vec<(&str, &str)> = req.headers.iter().collect();
        apply_update_overrides(&mut update, pairs.into_iter());
        let hash = df.name_hash();
        match writer
            .commit_with(ts, &meta, self.update_container(hash, update))
            .await
        {
            (Err(e), _) => return error_response(&e),
            (Ok(()), Some(Err(r))) => return r,
            (Ok(()), _) => {}
        }
        let mut r = Response::empty(201);
        r.headers.set("Etag", etag);
        r.headers.set("Last-Modified", ts.http_date());
        r
    }

    async fn post<D: DiskFile>(&self, df: &D, req: &ObjRequest<'_>, policy_index: u32) -> Response {
        let ts = match timestamp_header(req.headers) {
            Ok(t) => t,
            Err(r) => return r,
        };
        let mut obj = match df.open().await {
            Ok(ObjectState::Present(o)) => o,
            Ok(_) => return Response::status(404),
            Err(e) => return error_response(&e),
        };
        // Only what was read from the file is needed from here on.
        let newest = obj.newest_timestamp();
        let size = obj.content_length;
        let stored = std::mem::take(&mut obj.metadata);
        obj.close().await;
        if is_expired(&stored) {
            return Response::status(404);
        }
        if newest >= ts {
            return conflict(newest);
        }
        let mut meta = Metadata::new();
        meta.insert("X-Timestamp".into(), ts.internal());
        for (k, v) in req.headers.iter() {
            if is_post_replaced(k) || k.eq_ignore_ascii_case("content-type") {
                meta.insert(crate::http::headers::title_case(k), v.to_string());
            }
        }
        note_raw_values(req.headers, &mut meta);
        if let Err(r) = self.queue_expiry(df.name_hash(), req, policy_index).await {
            return r;
        }
        // A POST without Content-Type keeps the one an earlier POST set
        // (the new .meta replaces the old one), as Swift's object server.
        if !req.headers.contains("content-type") {
            if let Some(ct) = stored.get("Content-Type") {
                meta.insert("Content-Type".into(), ct.clone());
            }
        }
        if let Err(e) = df.write_metadata(ts, &meta).await {
            return error_response(&e);
        }
        // A new Content-Type shows in the container listing (with the
        // POST's time as the row's last-modified).
        if let Some(ctype) = req.headers.get("content-type") {
            let mut update = ContainerUpdate {
                size,
                content_type: ctype.to_string(),
                etag: stored.get("ETag").cloned().unwrap_or_default(),
                ..listing_row(req, ts, policy_index)
            };
            // Overrides stored with the data (symlinks, versions) keep
            // shaping the listing row; the new Content-Type still wins.
            let pairs: Vec<(&str, &str)> = stored
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .filter(|(k, _)| !k.to_ascii_lowercase().ends_with("-content-type"))
                .collect();
            apply_update_overrides(&mut update, pairs.into_iter());
            if let Err(r) = self.update_container(df.name_hash(), update).await {
                return r;
            }
        }
        // As Swift's object server: the stored sysmeta comes back with a
        // POST, so proxy modules (symlinks) learn what they posted to.
        let mut r = Response::status(202);
        for (k, v) in stored.iter() {
            if is_sysmeta(k) {
                r.headers.set(k.as_str(), v.as_str());
            }
        }
        r
    }

    async fn delete<D: DiskFile>(
        &self,
        df: &D,
        req: &ObjRequest<'_>,
        policy_index: u32,
    ) -> Response {
        let ts = match timestamp_header(req.headers) {
            Ok(t) => t,
            Err(r) => return r,
        };
        // The expirer's guard: delete only if X-Delete-At still matches.
        let if_delete_at = match req.headers.get("x-if-delete-at") {
            None => None,
            Some(v) => match v.trim().parse::<i64>() {
                Ok(at) => Some(at),
                Err(_) => return Response::text(400, "Bad X-If-Delete-At header value"),
            },
        };
        let existed = match df.open().await {
            Ok(ObjectState::Present(o)) => {
                let newest = o.newest_timestamp();
                let stored_at = o
                    .metadata
                    .get("X-Delete-At")
                    .and_then(|v| v.parse::<i64>().ok());
                let expired = is_expired(&o.metadata);
                o.close().await;
                if newest >= ts {
                    return conflict(newest);
                }
                if if_delete_at.is_some_and(|at| stored_at != Some(at)) {
                    return Response::status(412);
                }
                !expired
            }
            Ok(_) if if_delete_at.is_some() => return Response::status(412),
            Ok(ObjectState::Deleted(t)) if t >= ts => return conflict(t),
            Ok(_) => false,
            Err(e) => return error_response(&e),
        };
        let mut meta = Metadata::new();
        meta.insert("X-Timestamp".into(), ts.internal());
        meta.insert(
            "name".into(),
            format!("/{}/{}/{}", req.account, req.container, req.object),
        );
        let update = ContainerUpdate {
            deleted: true,
            ..listing_row(req, ts, policy_index)
        };
        let hash = df.name_hash();
        match df
            .delete_with(ts, &meta, self.update_container(hash, update))
            .await
        {
            (Err(e), _) => return error_response(&e),
            (Ok(()), Some(Err(r))) => return r,
            (Ok(()), _) => {}
        }
        if existed {
            Response::empty(204)
        } else {
            Response::status(404)
        }
    }
}

/// 409 with the timestamp that won, as Swift's object server answers.
fn conflict(existing: Timestamp) -> Response {
    Response::status(409).with_header("X-Backend-Timestamp", existing.internal())
}
