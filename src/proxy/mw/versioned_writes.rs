//! Legacy object versioning (Swift's `versioned_writes` middleware).
//!
//! A container with `X-Versions-Location: <archive>` (stack mode) or
//! `X-History-Location: <archive>` (history mode) keeps older versions of
//! its objects in the archive container, named
//! `<3-hex-digit name length><name>/<timestamp>`. Before an overwrite the
//! current object is copied there. On DELETE, stack mode restores the
//! newest archived version (the archived copy is then removed), while
//! history mode archives the current object, adds a delete marker and
//! deletes. The location and mode live in container sysmeta.

use std::collections::VecDeque;

use crate::common::timestamp::Timestamp;
use crate::http::stream::LocalBoxFuture;
use crate::http::{Body, BodySource, Response};

use super::util::{content_length, is_success, name_format};
use super::{Feature, Next, SwiftRequest};

/// Client header for stack mode.
pub const CLIENT_VERSIONS_LOC: &str = "X-Versions-Location";
/// Client header for history mode.
pub const CLIENT_HISTORY_LOC: &str = "X-History-Location";
/// Stored archive container.
pub const SYS_LOC: &str = "X-Container-Sysmeta-Versions-Location";
/// Stored mode (`stack` or `history`).
pub const SYS_MODE: &str = "X-Container-Sysmeta-Versions-Mode";
/// Content-Type of history mode's delete markers.
pub const DELETE_MARKER: &str = "application/x-deleted;swift_versions_deleted=1";

const REMOVE_VERSIONS: &str = "X-Remove-Versions-Location";
const REMOVE_HISTORY: &str = "X-Remove-History-Location";

/// The legacy versioning module.
pub struct VersionedWrites {
    /// Listing page size when walking an object's archived versions.
    pub listing_limit: usize,
}

/// Archived versions of `object` share this prefix.
pub fn version_prefix(object: &str) -> String {
    format!("{:03x}{object}/", object.len())
}

/// The archive name of `object` written at `ts`.
pub fn version_name(object: &str, ts: &Timestamp) -> String {
    format!("{}{}", version_prefix(object), ts.internal())
}

/// Swift's `_check_response_error`: a failed step is 412 when the client
/// could fix it, else 503.
fn check(status: u16) -> Result<(), Response> {
    if is_success(status) {
        Ok(())
    } else if (400..500).contains(&status) {
        Err(Response::status(412))
    } else {
        Err(Response::status(503))
    }
}

impl Feature for VersionedWrites {
    fn name(&self) -> &'static str {
        "versioned_writes"
    }

    fn claims(&self, req: &SwiftRequest) -> bool {
        if req.is_object() {
            return matches!(req.method(), "PUT" | "DELETE");
        }
        req.path.container.is_some()
            && matches!(req.method(), "PUT" | "POST")
            && [
                CLIENT_VERSIONS_LOC,
                CLIENT_HISTORY_LOC,
                REMOVE_VERSIONS,
                REMOVE_HISTORY,
            ]
            .iter()
            .any(|h| req.headers().contains(h))
    }

    fn handle<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        body: &'a mut BodySource<'_, '_>,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(async move {
            if !req.is_object() {
                return match container_headers(req) {
                    Ok(r) => {
                        let resp = next.call(&r, body).await;
                        show_location(resp)
                    }
                    Err(r) => r,
                };
            }
            let info = match next
                .proxy()
                .get_container_info(req, &req.path.account, req.container())
                .await
            {
                Ok(i) => i,
                Err(r) => return r,
            };
            let Some(info) = info else {
                return next.call(req, body).await;
            };
            let Some(loc) = info.metadata.get(SYS_LOC).filter(|l| !l.is_empty()) else {
                return next.call(req, body).await;
            };
            let archive = super::util::unquote(loc)
                .split('/')
                .next()
                .unwrap_or("")
                .to_string();
            let history = info.metadata.get(SYS_MODE).map(String::as_str) == Some("history");
            let step = match (req.method(), history) {
                ("PUT", _) => self
                    .archive_current(next, req, &archive)
                    .await
                    .map(|_| None),
                (_, true) => self.delete_push(next, req, &archive).await.map(|_| None),
                _ => self.delete_pop(next, req, &archive).await,
            };
            match step {
                Err(r) => r,
                Ok(Some(other)) => next.call_empty(&other).await,
                Ok(None) => next.call(req, body).await,
            }
        })
    }

    fn claims_response(&self, req: &SwiftRequest, resp: &Response) -> bool {
        !req.is_object()
            && req.path.container.is_some()
            && matches!(req.method(), "GET" | "HEAD")
            && resp.headers.contains(SYS_LOC)
    }

    fn transform<'a>(
        &'a self,
        _next: Next<'a>,
        _req: &'a SwiftRequest,
        resp: Response,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(std::future::ready(show_location(resp)))
    }
}

/// The stored location as the client header of its mode.
fn show_location(mut resp: Response) -> Response {
    let Some(loc) = resp.headers.get(SYS_LOC).filter(|l| !l.is_empty()) else {
        return resp;
    };
    let loc = loc.to_string();
    let name = if resp.headers.get(SYS_MODE) == Some("history") {
        CLIENT_HISTORY_LOC
    } else {
        CLIENT_VERSIONS_LOC
    };
    resp.headers.set(name, loc);
    resp
}

/// Turns the client's versioning headers on a container PUT/POST into
/// sysmeta, with Swift's checks.
fn container_headers(req: &SwiftRequest) -> Result<SwiftRequest, Response> {
    let mut r = req.clone();
    let h = &mut r.head.headers;
    if h.contains(CLIENT_VERSIONS_LOC) && h.contains(CLIENT_HISTORY_LOC) {
        if h.get(CLIENT_HISTORY_LOC).is_some_and(str::is_empty) {
            h.remove(CLIENT_HISTORY_LOC);
        } else if h.get(CLIENT_VERSIONS_LOC).is_some_and(|v| !v.is_empty()) {
            return Err(Response::text(
                400,
                "Only one of x-versions-location or x-history-location may be specified",
            )
            .with_header("Content-Type", "text/plain"));
        } else {
            h.remove(CLIENT_VERSIONS_LOC);
        }
    }
    let given = h
        .get(CLIENT_VERSIONS_LOC)
        .map(|v| (v.to_string(), "stack"))
        .or_else(|| {
            h.get(CLIENT_HISTORY_LOC)
                .map(|v| (v.to_string(), "history"))
        });
    if let Some((val, mode)) = given {
        if val.is_empty() {
            h.set(REMOVE_VERSIONS, "x");
        } else {
            // Checked decoded, stored as sent (clients read back what they
            // wrote, quoted or not).
            name_format(&val, "Container")?;
            h.set(SYS_LOC, val);
            h.set(SYS_MODE, mode);
            h.remove(REMOVE_VERSIONS);
            h.remove(REMOVE_HISTORY);
        }
    }
    if [REMOVE_VERSIONS, REMOVE_HISTORY]
        .iter()
        .any(|n| h.get(n).is_some_and(|v| !v.is_empty()))
    {
        h.set(SYS_LOC, "");
        h.set(SYS_MODE, "");
    }
    for n in [
        CLIENT_VERSIONS_LOC,
        CLIENT_HISTORY_LOC,
        REMOVE_VERSIONS,
        REMOVE_HISTORY,
    ] {
        h.remove(n);
    }
    Ok(r)
}

/// One archived version in a listing.
struct Listed {
    name: String,
    content_type: String,
}

/// Walks an object's archived versions, newest first, a page at a time.
struct Versions<'a> {
    next: Next<'a>,
    req: &'a SwiftRequest,
    archive: &'a str,
    prefix: String,
    marker: String,
    page: VecDeque<Listed>,
    done: bool,
    limit: usize,
}

impl Versions<'_> {
    async fn next_version(&mut self) -> Result<Option<Listed>, Response> {
        if self.page.is_empty() && !self.done {
            let mut query = format!(
                "format=json&reverse=on&prefix={}",
                super::quote(&self.prefix)
            );
            if !self.marker.is_empty() {
                query.push_str(&format!("&marker={}", super::quote(&self.marker)));
            }
            let mut sub = self.req.sub(
                "GET",
                &self.req.path.account,
                Some(self.archive),
                None,
                &query,
                "VW",
            );
            sub.preauthed = true;
            let resp = self.next.call_empty(&sub).await;
            if resp.status == 404 {
                self.done = true;
                return Ok(None);
            }
            check(resp.status)?;
            let rows: Vec<serde_json::Value> = match &resp.body {
                Body::Bytes(b) => serde_json::from_slice(b).unwrap_or_default(),
                _ => Vec::new(),
            };
            if rows.len() < self.limit {
                self.done = true;
            }
            for r in rows {
                let name = r["name"].as_str().unwrap_or("").to_string();
                self.page.push_back(Listed {
                    content_type: r["content_type"].as_str().unwrap_or("").to_string(),
                    name,
                });
            }
            if let Some(l) = self.page.back() {
                self.marker = l.name.clone();
            } else {
                self.done = true;
            }
        }
        Ok(self.page.pop_front())
    }
}

impl VersionedWrites {
    /// A pre-authorized request for an object of the same account.
    fn preauthed(
        req: &SwiftRequest,
        method: &str,
        container: &str,
        object: &str,
        query: &str,
    ) -> SwiftRequest {
        let mut r = req.sub(
            method,
            &req.path.account,
            Some(container),
            Some(object),
            query,
            "VW",
        );
        r.preauthed = true;
        r
    }

    /// Reads `container/object` as stored (links not followed). `None`
    /// when it does not exist.
    async fn source(
        next: Next<'_>,
        req: &SwiftRequest,
        container: &str,
        object: &str,
    ) -> Result<Option<Response>, Response> {
        let get = Self::preauthed(req, "GET", container, object, "symlink=get");
        let resp = next.call_empty(&get).await;
        if resp.status == 404 {
            return Ok(None);
        }
        check(resp.status)?;
        Ok(Some(resp))
    }

    /// Writes `src` (a GET response) as `container/object`, streaming.
    async fn put_copy(
        next: Next<'_>,
        req: &SwiftRequest,
        container: &str,
        object: &str,
        src: Response,
    ) -> Result<(), Response> {
        let mut put = Self::preauthed(req, "PUT", container, object, "");
        for (k, v) in src.headers.iter() {
            let l = k.to_ascii_lowercase();
            let skip = l.starts_with("x-backend-")
                || matches!(
                    l.as_str(),
                    "x-timestamp"
                        | "content-length"
                        | "transfer-encoding"
                        | "content-range"
                        | "accept-ranges"
                        | "last-modified"
                        | "date"
                        | "x-trans-id"
                        | "x-openstack-request-id"
                        | "content-location"
                );
            if !skip {
                put.head.headers.set(k, v);
            }
        }
        put.set_body_len(content_length(&src));
        put.head.non_utf8.extend(src.latin1_headers.iter().cloned());
        let mut body = BodySource::Stream(src.body.into_stream());
        let resp = next.call(&put, &mut body).await;
        check(resp.status)
    }

    /// Copies the current object (if any) into the archive.
    async fn archive_current(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        archive: &str,
    ) -> Result<(), Response> {
        next.proxy().authorize(req).await?;
        let Some(src) = Self::source(next, req, req.container(), req.object()).await? else {
            return Ok(());
        };
        let ts = src
            .headers
            .get("x-timestamp")
            .and_then(|v| Timestamp::parse(v).ok())
            .or_else(|| {
                let lm = src.headers.get("last-modified")?;
                let t = httpdate::parse_http_date(lm).ok()?;
                let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
                Timestamp::parse(&secs.to_string()).ok()
            })
            .unwrap_or_else(Timestamp::now);
        let name = version_name(req.object(), &ts);
        Self::put_copy(next, req, archive, &name, src).await
    }

    /// History mode: archive, then leave a delete marker.
    async fn delete_push(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        archive: &str,
    ) -> Result<(), Response> {
        self.archive_current(next, req, archive).await?;
        let name = version_name(req.object(), &Timestamp::now());
        let mut put = Self::preauthed(req, "PUT", archive, &name, "");
        put.head.headers.set("Content-Type", DELETE_MARKER);
        put.set_body_len(0);
        let resp = next.call_empty(&put).await;
        check(resp.status)
    }

    /// Copies archived `version` back over the object; false if it is gone.
    async fn restore(
        next: Next<'_>,
        req: &SwiftRequest,
        archive: &str,
        version: &str,
    ) -> Result<bool, Response> {
        let Some(src) = Self::source(next, req, archive, version).await? else {
            return Ok(false);
        };
        Self::put_copy(next, req, req.container(), req.object(), src).await?;
        Ok(true)
    }

    /// Stack mode DELETE: restores the newest archived version. Returns the
    /// request to send instead of the client's (deleting the restored
    /// archive copy or a delete marker), or `None` to send the client's.
    async fn delete_pop(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        archive: &str,
    ) -> Result<Option<SwiftRequest>, Response> {
        let mut versions = Versions {
            next,
            req,
            archive,
            prefix: version_prefix(req.object()),
            marker: String::new(),
            page: VecDeque::new(),
            done: false,
            limit: self.listing_limit,
        };
        let mut authed = false;
        while let Some(prev) = versions.next_version().await? {
            if !authed {
                next.proxy().authorize(req).await?;
                authed = true;
            }
            if prev.content_type == DELETE_MARKER {
                let head = Self::preauthed(req, "HEAD", req.container(), req.object(), "");
                let h = next.call_empty(&head).await;
                if h.status != 404 {
                    check(h.status)?;
                    return Ok(None);
                }
                while let Some(v) = versions.next_version().await? {
                    if v.content_type == DELETE_MARKER {
                        break;
                    }
                    if !Self::restore(next, req, archive, &v.name).await? {
                        continue;
                    }
                    let del = Self::preauthed(req, "DELETE", archive, &v.name, "");
                    let d = next.call_empty(&del).await;
                    if d.status != 404 {
                        check(d.status)?;
                    }
                    break;
                }
                return Ok(Some(Self::preauthed(
                    req, "DELETE", archive, &prev.name, "",
                )));
            }
            if !Self::restore(next, req, archive, &prev.name).await? {
                continue;
            }
            return Ok(Some(Self::preauthed(
                req, "DELETE", archive, &prev.name, "",
            )));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_are_swifts() {
        let ts = Timestamp::parse("1700000000.5").expect("ts");
        assert_eq!(version_prefix("obj"), "003obj/");
        assert_eq!(version_name("obj", &ts), "003obj/1700000000.50000");
        // Lengths count UTF-8 bytes, as Swift's WSGI strings do.
        assert_eq!(version_prefix("é"), "002é/");
    }

    #[test]
    fn failed_steps_map_to_swifts_statuses() {
        assert_eq!(check(201).ok(), Some(()));
        assert_eq!(check(404).err().map(|r| r.status), Some(412));
        assert_eq!(check(500).err().map(|r| r.status), Some(503));
    }
}
