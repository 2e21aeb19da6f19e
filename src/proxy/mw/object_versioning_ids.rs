//! Object versioning's `?version-id=` requests: reading one version
//! (owners only, as the hidden container has no ACLs), deleting one
//! (removing the link too when it is the current one), and making an old
//! version current again with an empty PUT.

use crate::common::timestamp::Timestamp;
use crate::http::{BodySource, Response};

use super::object_versioning::{
    check, parse_version_object, version_id, version_object, ObjectVersioning,
    ALLOW_RESERVED_HEADER, DELETE_MARKER, SYS_VERSIONS_SYMLINK,
};
use super::symlink::TGT_OBJ;
use super::util::{content_length, is_success, unquote};
use super::{Next, SwiftRequest};

impl ObjectVersioning {
    /// Requests with `?version-id=`.
    pub(super) async fn with_version(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        body: &mut BodySource<'_, '_>,
        versions: Option<String>,
        vid: &str,
    ) -> Result<Response, Response> {
        let bad = |m: &str| Err(Response::text(400, m).with_header("Content-Type", "text/plain"));
        if req.method() == "POST" {
            return bad("POST to a specific version is not allowed");
        }
        if versions.is_none() && vid != "null" {
            return bad("version-aware operations require that the container is versioned");
        }
        let ts = if vid == "null" {
            None
        } else {
            match Timestamp::parse(vid) {
                Ok(t) => Some(Timestamp::from_ticks(t.ticks())),
                Err(_) => return bad("Invalid version parameter"),
            }
        };
        let mut plain = req.clone();
        plain.head.query = super::util::with_param(&req.head.query, "version-id", None);
        let (Some(vc), Some(ts)) = (versions, ts) else {
            // `null`: the object as written without versioning.
            if req.method() == "PUT" {
                return bad("Invalid version parameter");
            }
            let mut resp = next.call(&plain, body).await;
            if matches!(req.method(), "GET" | "HEAD") && is_success(resp.status) {
                if resp
                    .headers
                    .get("content-location")
                    .is_some_and(|l| l.contains("%00versions%00"))
                {
                    return Ok(Response::status(404));
                }
                resp.headers.set("X-Object-Version-Id", "null");
            }
            return Ok(resp);
        };
        let name = version_object(req.object(), &ts);
        match req.method() {
            "GET" | "HEAD" => {
                // Authorized on the hidden container, as Swift does: it has
                // no ACLs, so reading a given version takes an owner.
                let mut get = plain.clone();
                get.retarget(&req.path.account, &vc, &name);
                get.head.headers.set(ALLOW_RESERVED_HEADER, "true");
                let mut resp = next.call_empty(&get).await;
                if resp
                    .headers
                    .get("content-type")
                    .is_some_and(|c| c == DELETE_MARKER)
                {
                    return Ok(Response::status(404)
                        .with_header("X-Object-Version-Id", vid)
                        .with_header("Content-Type", DELETE_MARKER));
                }
                if is_success(resp.status) {
                    resp.headers.set("X-Object-Version-Id", vid);
                }
                Ok(resp)
            }
            "DELETE" => {
                self.delete_version(next, req, &plain, &vc, &name, vid)
                    .await
            }
            "PUT" => self.restore_version(next, req, body, &vc, &name, &ts).await,
            _ => Ok(Response::status(405)),
        }
    }

    /// DELETE of one version; deleting the current one removes the link.
    async fn delete_version(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        plain: &SwiftRequest,
        vc: &str,
        name: &str,
        vid: &str,
    ) -> Result<Response, Response> {
        // Authorized on the hidden container (owners only), as Swift does.
        let mut as_version = plain.clone();
        as_version.retarget(&req.path.account, vc, name);
        next.proxy().authorize(&as_version).await?;
        let head = Self::internal(
            req,
            "HEAD",
            req.container(),
            Some(req.object()),
            "symlink=get",
        );
        let h = next.call_empty(&head).await;
        let mut current_target = None;
        if h.status != 404 {
            let h = check(h)?;
            if h.headers.get(SYS_VERSIONS_SYMLINK) == Some("true") {
                current_target = h.headers.get(TGT_OBJ).map(unquote);
            }
        }
        let this = format!("{vc}/{name}");
        let current_vid = match &current_target {
            Some(t) if *t == this => {
                check(next.call_empty(plain).await)?;
                "null".to_string()
            }
            Some(t) => t
                .split_once('/')
                .and_then(|(_, o)| parse_version_object(o))
                .map_or_else(|| "null".to_string(), |(_, v)| v),
            None => "null".to_string(),
        };
        let mut del = Self::internal(req, "DELETE", vc, Some(name), "");
        if let Some(ts) = req.headers().get("x-timestamp") {
            del.head.headers.set("X-Timestamp", ts);
        }
        let mut resp = next.call_empty(&del).await;
        resp.headers.set("X-Object-Version-Id", vid);
        resp.headers.set("X-Object-Current-Version-Id", current_vid);
        Ok(resp)
    }

    /// PUT with a version id: makes that version the current one.
    async fn restore_version(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        body: &mut BodySource<'_, '_>,
        vc: &str,
        name: &str,
        ts: &Timestamp,
    ) -> Result<Response, Response> {
        let has_body = match req.head.framing {
            crate::http::request::Framing::Length(n) => n > 0,
            crate::http::request::Framing::Chunked => !body
                .read_to_end(0)
                .await
                .map(|b| b.is_empty())
                .unwrap_or(false),
            crate::http::request::Framing::None => {
                return Err(Response::status(411));
            }
        };
        if has_body {
            return Err(
                Response::text(400, "PUT version-id requests require a zero byte body")
                    .with_header("Content-Type", "text/plain"),
            );
        }
        next.proxy().authorize(req).await?;
        let head = next
            .call_empty(&Self::internal(req, "HEAD", vc, Some(name), "symlink=get"))
            .await;
        if head.status == 404 {
            return Err(Response::text(404, "The specified version does not exist")
                .with_header("Content-Type", "text/plain"));
        }
        let head = check(head)?;
        let etag =
            super::symlink::normalize_etag(head.headers.get("etag").unwrap_or("")).to_string();
        let bytes = content_length(&head).to_string();
        let ctype = head.headers.get("content-type").unwrap_or("").to_string();
        let now = Timestamp::now();
        let mut link = req.clone();
        link.head.headers.set("X-Timestamp", now.internal());
        let mut resp = self
            .put_link(next, &link, vc, name, &etag, &bytes, &ctype, &now)
            .await?;
        resp.headers.set("X-Object-Version-Id", version_id(ts));
        Ok(resp)
    }
}
