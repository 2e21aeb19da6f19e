//! The container side of object versioning: enabling and suspending it,
//! deleting a versioned container (with its hidden versions container),
//! listing rows of links shown as the versions they point at, and
//! `?versions` listings merging the container's own objects (version
//! `null`) with every stored version.

use serde_json::{Map, Value};

use crate::http::{Body, BodySource, Response};

use super::object_versioning::{
    parse_version_object, reserved_name, versions_container, ObjectVersioning, DELETE_MARKER,
    SYS_ENABLED, SYS_VERSIONS_CONT,
};
use super::util::{is_success, truthy, unquote, with_param};
use super::{quote, Next, SwiftRequest};

fn bad(status: u16, msg: &str) -> Response {
    Response::text(status, msg).with_header("Content-Type", "text/plain")
}

/// `?versions` listings are JSON only: another `format` or an Accept
/// without JSON is refused, as Swift refuses it.
fn accepts_json(req: &SwiftRequest) -> bool {
    if let Some(f) = req.param("format") {
        return f.eq_ignore_ascii_case("json");
    }
    let Some(accept) = req.headers().get("accept") else {
        return true;
    };
    accept.split(',').any(|item| {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q_zero = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !q_zero && matches!(media.as_str(), "application/json" | "application/*" | "*/*")
    })
}

fn json_rows(resp: &Response) -> Option<Vec<Value>> {
    match &resp.body {
        Body::Bytes(b) => serde_json::from_slice(b).ok(),
        _ => None,
    }
}

fn json_response(mut resp: Response, rows: &[Value]) -> Response {
    let body = Value::Array(rows.to_vec()).to_string().into_bytes();
    resp.headers.set("Content-Length", body.len().to_string());
    resp.body = Body::Bytes(body);
    resp
}

impl ObjectVersioning {
    /// Container requests this module claimed.
    pub(super) async fn container(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        body: &mut BodySource<'_, '_>,
    ) -> Result<Response, Response> {
        match req.method() {
            "PUT" | "POST" => self.enable(next, req, body).await,
            "DELETE" => self.delete_container(next, req, body).await,
            _ if req.param("versions").is_some() => self.list_versions(next, req).await,
            _ => {
                let resp = next.call(req, body).await;
                if resp.headers.contains(SYS_ENABLED) {
                    return Ok(self.container_response(next, req, resp).await);
                }
                Ok(resp)
            }
        }
    }

    async fn enable(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        body: &mut BodySource<'_, '_>,
    ) -> Result<Response, Response> {
        let state = Self::state(next, req, &req.path.account, req.container()).await?;
        if state.as_ref().is_some_and(|s| s.legacy) {
            return Err(bad(
                400,
                "Cannot enable object versioning on a container that is already using the legacy versioned writes feature.",
            ));
        }
        let on = truthy(
            req.headers()
                .get(super::object_versioning::CLIENT_VERSIONS_ENABLED)
                .unwrap_or(""),
        );
        let mut down = req.clone();
        down.head
            .headers
            .remove(super::object_versioning::CLIENT_VERSIONS_ENABLED);
        down.head
            .headers
            .set(SYS_ENABLED, if on { "True" } else { "False" });
        let mut created = None;
        if on {
            let vc = versions_container(req.container());
            let mut put = Self::internal(req, "PUT", &vc, None, "");
            if let Some(p) = req.headers().get("x-storage-policy") {
                put.head.headers.set("X-Storage-Policy", p);
            }
            let r = next.call_empty(&put).await;
            if !(is_success(r.status) || r.status == 409) {
                return Err(bad(500, "Error enabling object versioning"));
            }
            down.head.headers.set(SYS_VERSIONS_CONT, quote(&vc));
            created = Some(vc);
        }
        let mut resp = next.call(&down, body).await;
        if !is_success(resp.status) {
            if let (Some(vc), true) = (created, state.is_none()) {
                let del = Self::internal(req, "DELETE", &vc, None, "");
                next.call_empty(&del).await;
            }
            return Ok(resp);
        }
        resp.headers.set(
            super::object_versioning::CLIENT_VERSIONS_ENABLED,
            if on { "True" } else { "False" },
        );
        Ok(resp)
    }

    async fn delete_container(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        body: &mut BodySource<'_, '_>,
    ) -> Result<Response, Response> {
        let state = Self::state(next, req, &req.path.account, req.container()).await?;
        if let Some(vc) = state.and_then(|s| s.versions) {
            next.proxy().authorize(req).await?;
            let head = Self::internal(req, "HEAD", &vc, None, "");
            let h = next.call_empty(&head).await;
            let count: u64 = h
                .headers
                .get("x-container-object-count")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if is_success(h.status) && count > 0 {
                return Err(bad(409, "Delete all versions before deleting container."));
            }
            if !is_success(h.status) && h.status != 404 {
                return Err(bad(500, "Error deleting versioned container"));
            }
            let del = Self::internal(req, "DELETE", &vc, None, "");
            let d = next.call_empty(&del).await;
            if !is_success(d.status) && d.status != 404 {
                return Err(bad(500, "Error deleting versioned container"));
            }
        }
        Ok(next.call(req, body).await)
    }

    /// GET/HEAD of a container that has (had) versioning: the flag, bytes
    /// including the versions, and JSON rows of links shown as versions.
    pub(super) async fn container_response(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        mut resp: Response,
    ) -> Response {
        if let Some(v) = resp.headers.get(SYS_ENABLED).map(str::to_string) {
            resp.headers
                .set(super::object_versioning::CLIENT_VERSIONS_ENABLED, v);
        }
        let Some(vc) = resp.headers.get(SYS_VERSIONS_CONT).map(unquote) else {
            return resp;
        };
        let head = Self::internal(req, "HEAD", &vc, None, "");
        let h = next.call_empty(&head).await;
        if is_success(h.status) {
            let add: u64 = h
                .headers
                .get("x-container-bytes-used")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let have: u64 = resp
                .headers
                .get("x-container-bytes-used")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            resp.headers
                .set("X-Container-Bytes-Used", (have + add).to_string());
        }
        let is_json = resp
            .headers
            .get("content-type")
            .is_some_and(|c| c.starts_with("application/json"));
        if req.method() == "GET" && is_success(resp.status) && is_json {
            if let Some(mut rows) = json_rows(&resp) {
                self.show_links_as_versions(req, &vc, &mut rows, false);
                return json_response(resp, &rows);
            }
        }
        resp
    }

    /// Rows of links to versions get the version's size and ETag; outside
    /// `?versions`, their symlink_path names the object and version.
    fn show_links_as_versions(
        &self,
        req: &SwiftRequest,
        vc: &str,
        rows: &mut [Value],
        versions_listing: bool,
    ) {
        for row in rows.iter_mut() {
            let Some(m) = row.as_object_mut() else {
                continue;
            };
            if !(m.contains_key("symlink_path")
                && m.contains_key("symlink_etag")
                && m.contains_key("symlink_bytes"))
            {
                continue;
            }
            let path = unquote(m["symlink_path"].as_str().unwrap_or(""));
            let mut parts = path.splitn(5, '/').skip(2);
            let (acct, cont, obj) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            if cont != vc {
                continue;
            }
            let bytes = m.remove("symlink_bytes").unwrap_or(Value::from(0));
            m.insert("bytes".into(), bytes);
            m.insert("version_symlink".into(), Value::Bool(true));
            let etag = m.remove("symlink_etag").unwrap_or(Value::from(""));
            let params = m["hash"]
                .as_str()
                .and_then(|h| h.split_once(';'))
                .map(|(_, p)| format!(";{p}"))
                .unwrap_or_default();
            m.insert(
                "hash".into(),
                Value::from(format!("{}{params}", etag.as_str().unwrap_or(""))),
            );
            if let (Some((name, vid)), false) = (parse_version_object(obj), versions_listing) {
                m.insert(
                    "symlink_path".into(),
                    Value::from(format!(
                        "/{}/{}?version-id={vid}",
                        req.path.version,
                        quote(&format!("{acct}/{}/{name}", req.container()))
                    )),
                );
            }
        }
    }

    /// `GET ?versions`: every version of every object, newest first per
    /// object, with `version_id` and `is_latest`; always JSON.
    async fn list_versions(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
    ) -> Result<Response, Response> {
        if !accepts_json(req) {
            return Err(Response::status(406));
        }
        let marker = req.param("marker");
        let vmarker = req.param("version_marker");
        let mut vmark = None;
        if let Some(m) = &marker {
            vmark = Some(match vmarker.as_deref() {
                None => format!("{}:", reserved_name(&[m, ""])),
                Some("null") => reserved_name(&[m, ""]),
                Some(v) => match crate::common::timestamp::Timestamp::parse(v) {
                    Ok(t) => super::object_versioning::version_object(m, &t),
                    Err(_) => return Err(bad(400, "invalid version_marker param")),
                },
            });
        } else if vmarker.is_some() {
            return Err(bad(400, "version_marker param requires marker"));
        }
        let delim = req.param("delimiter").unwrap_or_default();
        if delim.chars().any(|c| "0123456789.\0".contains(c)) {
            return Err(bad(400, "invalid delimiter param"));
        }
        let mut primary_req = req.clone();
        primary_req.head.query = with_param(&req.head.query, "format", Some("json"));
        let primary = next.call_empty(&primary_req).await;
        if !is_success(primary.status) {
            return Ok(primary);
        }
        let vc = primary
            .headers
            .get(SYS_VERSIONS_CONT)
            .map(unquote)
            .unwrap_or_else(|| versions_container(req.container()));
        let mut rows = json_rows(&primary).unwrap_or_default();
        self.show_links_as_versions(req, &vc, &mut rows, true);
        let account = &req.path.account;
        let mut nulls = Vec::new();
        let mut subdirs = std::collections::BTreeSet::new();
        let mut current: Vec<(String, Map<String, Value>)> = Vec::new();
        let mut latest = std::collections::HashSet::new();
        for row in rows {
            let Value::Object(mut m) = row else { continue };
            if let Some(s) = m.get("subdir").and_then(Value::as_str) {
                subdirs.insert(s.to_string());
                continue;
            }
            if m.get("version_symlink") == Some(&Value::Bool(true)) {
                let p = unquote(m["symlink_path"].as_str().unwrap_or(""));
                current.push((p, m));
                continue;
            }
            m.insert("version_id".into(), Value::from("null"));
            m.insert("is_latest".into(), Value::Bool(true));
            if let Some(n) = m.get("name").and_then(Value::as_str) {
                latest.insert(n.to_string());
            }
            nulls.push(Value::Object(m));
        }
        let mut q = String::from("format=json");
        if let Some(p) = req.param("prefix") {
            q.push_str(&format!("&prefix={}", quote(&reserved_name(&[&p]))));
        }
        if let Some(m) = &vmark {
            q.push_str(&format!("&marker={}", quote(m)));
        }
        for k in ["limit", "delimiter", "reverse"] {
            if let Some(v) = req.param(k) {
                q.push_str(&format!("&{k}={}", quote(&v)));
            }
        }
        let vresp = next
            .call_empty(&Self::internal(req, "GET", &vc, None, &q))
            .await;
        let mut versions = Vec::new();
        if is_success(vresp.status) {
            for row in json_rows(&vresp).unwrap_or_default() {
                let Value::Object(mut m) = row else { continue };
                if let Some(s) = m.get("subdir").and_then(Value::as_str) {
                    let name = s.trim_start_matches('\0');
                    let name = name.split('\0').next().unwrap_or(name);
                    subdirs.insert(name.to_string());
                    continue;
                }
                let stored = m
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let Some((name, vid)) = parse_version_object(&stored) else {
                    continue;
                };
                let path = format!("/v1/{account}/{vc}/{stored}");
                let is_latest = if let Some(i) = current.iter().position(|(p, _)| *p == path) {
                    current.remove(i);
                    latest.insert(name.clone());
                    true
                } else if m.get("content_type").and_then(Value::as_str) == Some(DELETE_MARKER)
                    && !latest.contains(&name)
                {
                    latest.insert(name.clone());
                    true
                } else {
                    false
                };
                m.insert("is_latest".into(), Value::Bool(is_latest));
                m.insert("name".into(), Value::from(name));
                m.insert("version_id".into(), Value::from(vid));
                versions.push(Value::Object(m));
            }
        } else if vresp.status != 404 {
            return Ok(vresp);
        }
        // Links whose version was not in this page still show, as latest.
        let mut broken = Vec::new();
        for (path, m) in current {
            let obj = path.splitn(5, '/').nth(4).unwrap_or("");
            let Some((name, vid)) = parse_version_object(obj) else {
                continue;
            };
            let mut row = Map::new();
            row.insert("name".into(), Value::from(name));
            row.insert("is_latest".into(), Value::Bool(true));
            row.insert("version_id".into(), Value::from(vid));
            for k in ["content_type", "bytes", "hash", "last_modified"] {
                if let Some(v) = m.get(k) {
                    row.insert(k.into(), v.clone());
                }
            }
            broken.push(Value::Object(row));
        }
        let mut all: Vec<Value> = nulls;
        all.extend(versions);
        all.extend(
            subdirs
                .into_iter()
                .map(|s| serde_json::json!({ "subdir": s })),
        );
        all.extend(broken);
        let key = |v: &Value| -> String {
            v.get("subdir")
                .or_else(|| v.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let reverse = req.param("reverse").is_some_and(|r| truthy(&r));
        if reverse {
            all.sort_by_key(|v| std::cmp::Reverse(key(v)));
        } else {
            all.sort_by_key(key);
        }
        let limit = req
            .param("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(self.listing_limit)
            .min(self.listing_limit);
        all.truncate(limit);
        let mut resp = Response::empty(200);
        for (k, v) in primary.headers.iter() {
            let l = k.to_ascii_lowercase();
            if l.starts_with("x-container-")
                || l == "x-timestamp"
                || l == "x-put-timestamp"
                || l == "last-modified"
                || l == "x-storage-policy"
            {
                resp.headers.set(k, v);
            }
        }
        resp.headers
            .set("Content-Type", "application/json; charset=utf-8");
        let resp = json_response(resp, &all);
        Ok(self.container_response_headers(resp))
    }

    fn container_response_headers(&self, mut resp: Response) -> Response {
        if let Some(v) = resp.headers.get(SYS_ENABLED).map(str::to_string) {
            resp.headers
                .set(super::object_versioning::CLIENT_VERSIONS_ENABLED, v);
        }
        resp
    }
}
