//! Object versioning (Swift's `object_versioning` middleware), the design
//! Swift 2.24+ uses. `X-Versions-Enabled: true` on a container creates a
//! hidden container `\0versions\0<container>` (a reserved name clients
//! cannot address or list). Every PUT then stores the data there as
//! `\0<object>\0<inverted timestamp>` and leaves in the container a static
//! symlink to it; the version id is the write's timestamp. DELETE writes a
//! delete marker version and removes the link. `?version-id=` reads or
//! deletes one version; `?versions` lists them all (see
//! [`super::object_versioning_listing`]). Links to versions are followed
//! by the symlink module below this one (pre-authorized, not counted
//! against the loop limit).

use crate::common::timestamp::Timestamp;
use crate::http::stream::LocalBoxFuture;
use crate::http::{BodySource, Response};

use super::symlink::{ALLOW_RESERVED, SYMLOOP_EXTEND, SYS_BYTES, SYS_ETAG, TGT_OBJ};
use super::util::{content_length, is_success, truthy, unquote};
use super::{quote, Feature, Next, SwiftRequest};

/// Client header enabling or suspending versioning on a container.
pub const CLIENT_VERSIONS_ENABLED: &str = "X-Versions-Enabled";
/// Stored flag.
pub const SYS_ENABLED: &str = "X-Container-Sysmeta-Versions-Enabled";
/// Stored (quoted) name of the hidden versions container.
pub const SYS_VERSIONS_CONT: &str = "X-Container-Sysmeta-Versions-Container";
/// Marks the links this module writes.
pub const SYS_VERSIONS_SYMLINK: &str = "X-Object-Sysmeta-Versions-Symlink";
/// Content-Type of delete markers.
pub const DELETE_MARKER: &str = "application/x-deleted;swift_versions_deleted=1";
/// Backend header allowing reserved names.
pub const ALLOW_RESERVED_HEADER: &str = crate::proxy::object::ALLOW_RESERVED_HEADER;

/// The object versioning module.
pub struct ObjectVersioning {
    /// Container listing limit (for `?versions` pages).
    pub listing_limit: usize,
}

/// Swift's `get_reserved_name`: parts joined by NUL, NUL first.
pub fn reserved_name(parts: &[&str]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push('\0');
        s.push_str(p);
    }
    s
}

/// The hidden container keeping `container`'s versions.
pub fn versions_container(container: &str) -> String {
    reserved_name(&["versions", container])
}

/// Swift's inverted timestamp (newest sorts first).
pub fn invert(ts: &Timestamp) -> Timestamp {
    Timestamp::from_ticks(999_999_999_999_999 - ts.ticks())
}

/// The version object for `object` at version `vid`.
pub fn version_object(object: &str, vid: &Timestamp) -> String {
    reserved_name(&[object, &invert(vid).internal()])
}

/// Splits a version object name into the object and its version id.
pub fn parse_version_object(name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix('\0')?;
    let (obj, inv) = rest.rsplit_once('\0')?;
    let inv = Timestamp::parse(inv).ok()?;
    Some((obj.to_string(), invert(&inv).internal()))
}

/// A version id from a timestamp (its offset dropped).
pub fn version_id(ts: &Timestamp) -> String {
    Timestamp::from_ticks(ts.ticks()).internal()
}

/// Swift's `_check_response_error`.
pub(super) fn check(resp: Response) -> Result<Response, Response> {
    if is_success(resp.status) {
        return Ok(resp);
    }
    if resp.status == 404 {
        return Err(Response::status(412));
    }
    if (400..500).contains(&resp.status) {
        return Err(resp);
    }
    Err(Response::status(503))
}

pub(super) fn no_versions_container() -> Response {
    Response::text(
        500,
        "The versions container does not exist. You may want to re-enable object versioning.",
    )
    .with_header("Content-Type", "text/plain")
}

/// A container's versioning state.
pub struct State {
    /// The hidden container's name, when versioning was ever enabled.
    pub versions: Option<String>,
    /// Versioning is on now.
    pub enabled: bool,
    /// Legacy versioning is configured.
    pub legacy: bool,
}

impl ObjectVersioning {
    /// The container's versioning state (`None`: no container).
    pub async fn state(
        next: Next<'_>,
        req: &SwiftRequest,
        account: &str,
        container: &str,
    ) -> Result<Option<State>, Response> {
        let info = next
            .proxy()
            .get_container_info(req, account, container)
            .await?;
        Ok(info.map(|i| {
            let m = &i.metadata;
            State {
                versions: m
                    .get(SYS_VERSIONS_CONT)
                    .filter(|v| !v.is_empty())
                    .map(|v| unquote(v)),
                enabled: m.get(SYS_ENABLED).is_some_and(|v| truthy(v)),
                legacy: m
                    .get(super::versioned_writes::SYS_LOC)
                    .is_some_and(|v| !v.is_empty()),
            }
        }))
    }

    /// A pre-authorized request with reserved names allowed.
    pub fn internal(
        req: &SwiftRequest,
        method: &str,
        container: &str,
        object: Option<&str>,
        query: &str,
    ) -> SwiftRequest {
        let mut r = req.sub(
            method,
            &req.path.account,
            Some(container),
            object,
            query,
            "OV",
        );
        r.preauthed = true;
        r.head.headers.set(ALLOW_RESERVED_HEADER, "true");
        r
    }
}

impl Feature for ObjectVersioning {
    fn name(&self) -> &'static str {
        "object_versioning"
    }

    fn claims(&self, req: &SwiftRequest) -> bool {
        if req.is_object() {
            return matches!(req.method(), "PUT" | "DELETE" | "POST")
                || req.head.query.contains("version-id");
        }
        if req.path.container.is_none() {
            return false;
        }
        match req.method() {
            "PUT" | "POST" => req.headers().contains(CLIENT_VERSIONS_ENABLED),
            "DELETE" => true,
            "GET" => req.head.query.contains("versions"),
            _ => false,
        }
    }

    fn handle<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        body: &'a mut BodySource<'_, '_>,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(async move {
            let r = if req.is_object() {
                self.object(next, req, body).await
            } else {
                self.container(next, req, body).await
            };
            r.unwrap_or_else(|e| e)
        })
    }

    /// Reads of links to versions, container GET/HEAD of versioned
    /// containers.
    fn claims_response(&self, req: &SwiftRequest, resp: &Response) -> bool {
        if req.is_object() {
            return matches!(req.method(), "GET" | "HEAD")
                && (resp
                    .headers
                    .get("content-location")
                    .is_some_and(|l| l.contains("%00versions%00"))
                    || resp
                        .headers
                        .get(TGT_OBJ)
                        .is_some_and(|l| l.starts_with("%00versions%00")));
        }
        req.path.container.is_some()
            && matches!(req.method(), "GET" | "HEAD")
            && resp.headers.contains(SYS_ENABLED)
    }

    fn transform<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        resp: Response,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(async move {
            if req.is_object() {
                return current_version_headers(req, resp);
            }
            self.container_response(next, req, resp).await
        })
    }
}

/// A read that reached a version through the link: the version id, and
/// the link's own path with it as Content-Location.
fn current_version_headers(req: &SwiftRequest, mut resp: Response) -> Response {
    let account = &req.path.account;
    let here = format!(
        "/{}/{}",
        req.path.version,
        quote(&format!("{account}/{}/{}", req.container(), req.object()))
    );
    if let Some(loc) = resp.headers.get("content-location").map(unquote) {
        let obj = loc.splitn(5, '/').nth(4).unwrap_or("");
        if let Some((_, vid)) = parse_version_object(obj) {
            resp.headers.set("X-Object-Version-Id", vid.as_str());
            resp.headers
                .set("Content-Location", format!("{here}?version-id={vid}"));
        }
    }
    if let Some(t) = resp.headers.get(TGT_OBJ).map(unquote) {
        let obj = t.split_once('/').map(|(_, o)| o).unwrap_or("");
        if let Some((_, vid)) = parse_version_object(obj) {
            resp.headers.set("X-Object-Version-Id", vid.as_str());
            resp.headers.set(
                TGT_OBJ,
                format!(
                    "{}?version-id={vid}",
                    quote(&format!("{}/{}", req.container(), req.object()))
                ),
            );
        }
    }
    resp
}

impl ObjectVersioning {
    async fn object(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        body: &mut BodySource<'_, '_>,
    ) -> Result<Response, Response> {
        let state = Self::state(next, req, &req.path.account, req.container()).await?;
        let versions = state.as_ref().and_then(|s| s.versions.clone());
        let enabled = state.as_ref().is_some_and(|s| s.enabled);
        if let Some(vid) = req.param("version-id").filter(|v| !v.is_empty()) {
            return self.with_version(next, req, body, versions, &vid).await;
        }
        let Some(vc) = versions else {
            return Ok(next.call(req, body).await);
        };
        match req.method() {
            "PUT" if enabled => self.put(next, req, body, &vc).await,
            "DELETE" if enabled => self.delete(next, req, &vc).await,
            "POST" => Ok(self.post(next, req, body, &vc).await),
            _ => Ok(next.call(req, body).await),
        }
    }

    /// Copies an object written before versioning was on into the versions
    /// container, so an overwrite or delete keeps it.
    async fn copy_current(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        vc: &str,
    ) -> Result<(), Response> {
        next.proxy().authorize(req).await?;
        let mut get = Self::internal(
            req,
            "GET",
            req.container(),
            Some(req.object()),
            "symlink=get",
        );
        get.head.headers.remove(ALLOW_RESERVED_HEADER);
        let src = next.call_empty(&get).await;
        if src.status == 404 {
            return Ok(());
        }
        let src = check(src)?;
        if src.headers.get(SYS_VERSIONS_SYMLINK) == Some("true") {
            return Ok(());
        }
        let ts = src
            .headers
            .get("x-backend-timestamp")
            .or_else(|| src.headers.get("x-timestamp"))
            .and_then(|v| Timestamp::parse(v).ok())
            .unwrap_or_else(Timestamp::now);
        let name = version_object(req.object(), &Timestamp::from_ticks(ts.ticks()));
        let mut put = Self::internal(req, "PUT", vc, Some(&name), "");
        for (k, v) in src.headers.iter() {
            let l = k.to_ascii_lowercase();
            if l.starts_with("x-backend-")
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
                )
            {
                continue;
            }
            put.head.headers.set(k, v);
        }
        put.head.headers.set(ALLOW_RESERVED_HEADER, "true");
        put.set_body_len(content_length(&src));
        put.head.non_utf8.extend(src.latin1_headers.iter().cloned());
        let mut b = BodySource::Stream(src.body.into_stream());
        let resp = next.call(&put, &mut b).await;
        if resp.status == 404 {
            return Err(no_versions_container());
        }
        check(resp).map(|_| ())
    }

    /// PUT: the data goes to a new version, the object becomes a link.
    async fn put(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        body: &mut BodySource<'_, '_>,
        vc: &str,
    ) -> Result<Response, Response> {
        self.copy_current(next, req, vc).await?;
        let ts = req
            .headers()
            .get("x-timestamp")
            .and_then(|v| Timestamp::parse(v).ok())
            .unwrap_or_else(Timestamp::now);
        let vid = Timestamp::from_ticks(ts.ticks());
        let name = version_object(req.object(), &vid);
        let mut data = req.clone();
        data.retarget(&req.path.account, vc, &name);
        data.preauthed = true;
        data.source = Some("OV");
        data.head.query = String::new();
        let h = &mut data.head.headers;
        h.remove("x-delete-at");
        h.remove("x-delete-after");
        h.set("X-Timestamp", vid.internal());
        h.set(ALLOW_RESERVED_HEADER, "true");
        let resp = next.call(&data, body).await;
        if resp.status == 404 {
            return Err(no_versions_container());
        }
        let resp = check(resp)?;
        let etag = resp
            .headers
            .get("etag")
            .map(|e| super::symlink::normalize_etag(e).to_string())
            .unwrap_or_default();
        // What was stored: its size and type, as a HEAD sees them.
        let head = next
            .call_empty(&Self::internal(req, "HEAD", vc, Some(&name), "symlink=get"))
            .await;
        let head = check(head)?;
        let bytes = head
            .headers
            .get("x-object-sysmeta-slo-size")
            .map(str::to_string)
            .unwrap_or_else(|| content_length(&head).to_string());
        let ctype = head
            .headers
            .get("content-type")
            .unwrap_or("application/octet-stream")
            .to_string();
        // A static link stored as a version: the link to it carries the
        // etag the static link promises, so following both agrees.
        let etag = head
            .headers
            .get(super::symlink::TGT_ETAG)
            .map(str::to_string)
            .unwrap_or(etag);
        self.put_link(next, req, vc, &name, &etag, &bytes, &ctype, &vid)
            .await
    }

    /// Points the object at version `name`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn put_link(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        vc: &str,
        name: &str,
        etag: &str,
        bytes: &str,
        ctype: &str,
        vid: &Timestamp,
    ) -> Result<Response, Response> {
        let mut link = req.clone();
        link.head.method = "PUT".into();
        link.head.query = String::new();
        link.source = Some("OV");
        link.preauthed = true;
        link.set_body_len(0);
        let h = &mut link.head.headers;
        for k in [
            "etag",
            "x-if-delete-at",
            "x-symlink-target-account",
            "x-symlink-target-etag",
            "x-object-manifest",
            "x-static-large-object",
            "x-object-sysmeta-slo-etag",
            "x-object-sysmeta-slo-size",
            "x-copy-from",
        ] {
            h.remove(k);
        }
        h.set("X-Timestamp", vid.with_offset(1).internal());
        h.set(SYS_ETAG, etag);
        h.set(SYS_BYTES, bytes);
        h.set("Content-Type", ctype);
        h.set(TGT_OBJ, quote(&format!("{vc}/{name}")));
        h.set(SYS_VERSIONS_SYMLINK, "true");
        h.set(SYMLOOP_EXTEND, "true");
        h.set(ALLOW_RESERVED, "true");
        let mut resp = next.call(&link, &mut BodySource::Empty).await;
        resp.headers.set("Etag", etag);
        resp.headers.set("X-Object-Version-Id", version_id(vid));
        Ok(resp)
    }

    /// DELETE: a delete marker version, then the link goes.
    async fn delete(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        vc: &str,
    ) -> Result<Response, Response> {
        self.copy_current(next, req, vc).await?;
        let ts = Timestamp::now();
        let vid = Timestamp::from_ticks(ts.ticks());
        let name = version_object(req.object(), &vid);
        let mut marker = Self::internal(req, "PUT", vc, Some(&name), "");
        marker.head.headers.set("Content-Type", DELETE_MARKER);
        marker.head.headers.set("X-Timestamp", vid.internal());
        marker.set_body_len(0);
        check(next.call_empty(&marker).await)?;
        let mut del = req.clone();
        del.head.headers.set("X-Timestamp", vid.internal());
        let mut resp = next.call_empty(&del).await;
        if is_success(resp.status) || resp.status == 404 {
            resp.headers.set("X-Object-Version-Id", version_id(&vid));
        }
        Ok(resp)
    }

    /// POST: to a link, the metadata goes to the version it points at.
    async fn post(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        body: &mut BodySource<'_, '_>,
        vc: &str,
    ) -> Response {
        let resp = next.call(req, body).await;
        if resp.status != 307 || resp.headers.get(SYS_VERSIONS_SYMLINK) != Some("true") {
            return resp;
        }
        let loc = unquote(resp.headers.get("location").unwrap_or(""));
        let mut parts = loc.splitn(5, '/').skip(2);
        let (acct, cont, obj) = (parts.next(), parts.next(), parts.next());
        if acct != Some(req.path.account.as_str()) || cont != Some(vc) {
            return resp;
        }
        let Some(obj) = obj else { return resp };
        let mut post = req.clone();
        post.retarget(&req.path.account, vc, obj);
        post.preauthed = true;
        post.source = Some("OV");
        post.head.headers.remove("x-delete-at");
        post.head.headers.remove("x-delete-after");
        post.head.headers.set(ALLOW_RESERVED_HEADER, "true");
        next.call_empty(&post).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_swifts_reserved_names() {
        assert_eq!(versions_container("c"), "\0versions\0c");
        let ts = Timestamp::parse("1600000000.12345").expect("ts");
        let name = version_object("o", &ts);
        assert_eq!(name, "\0o\08399999999.87654");
        assert_eq!(
            parse_version_object(&name),
            Some(("o".to_string(), "1600000000.12345".to_string()))
        );
        assert_eq!(parse_version_object("plain"), None);
    }
}
