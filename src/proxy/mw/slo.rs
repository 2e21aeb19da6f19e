//! Static large objects (Swift's `slo` middleware): a JSON manifest of
//! segments (objects, ranges of objects, inline data, other manifests)
//! validated when it is PUT, read as the segments' concatenation, and
//! deleted with its segments on `?multipart-manifest=delete`.

use base64::Engine;
use md5::{Digest, Md5};
use serde_json::{json, Value};

use crate::http::conditional::{self, Precondition};
use crate::http::request::Framing;
use crate::http::stream::{LocalBoxFuture, StreamBody};
use crate::http::{Body, BodySource, Response};

use super::dlo::ignore_range_for;
use super::segments::{requested_span, Segment, SegmentSource, SegmentStream};
use super::slo_manifest::{
    parse_input, python_json, resolve_range, stored_range, to_raw, InputSegment,
};
use super::util::{is_success, read_body, result_body, status_line, wants_json};
use super::{Feature, Next, SwiftRequest};

/// Sysmeta holding the large object's ETag.
pub const SLO_ETAG: &str = "X-Object-Sysmeta-Slo-Etag";
/// Sysmeta holding the large object's size.
pub const SLO_SIZE: &str = "X-Object-Sysmeta-Slo-Size";
/// How deep manifests may nest.
const MAX_DEPTH: usize = 10;

/// The SLO module and its limits (published in `/info`).
pub struct Slo {
    /// Most object-backed segments in one manifest.
    pub max_manifest_segments: usize,
    /// Largest manifest body in bytes.
    pub max_manifest_size: usize,
}

impl Default for Slo {
    fn default() -> Self {
        Slo {
            max_manifest_segments: 1000,
            max_manifest_size: 8 * 1024 * 1024,
        }
    }
}

fn mm(req: &SwiftRequest) -> Option<String> {
    req.param("multipart-manifest")
}

fn is_large_read(req: &SwiftRequest) -> bool {
    req.is_object() && matches!(req.method(), "GET" | "HEAD") && mm(req).as_deref() != Some("get")
}

/// One flattened piece of the large object.
#[derive(Debug, Clone)]
struct Piece {
    source: SegmentSource,
    first: u64,
    len: u64,
}

impl Feature for Slo {
    fn name(&self) -> &'static str {
        "slo"
    }

    fn claims(&self, req: &SwiftRequest) -> bool {
        if !req.is_object() {
            return false;
        }
        match req.method() {
            "PUT" => {
                mm(req).as_deref() == Some("put") || req.headers().contains("x-static-large-object")
            }
            "DELETE" => mm(req).as_deref() == Some("delete"),
            "POST" => req.headers().contains("x-static-large-object"),
            "GET" | "HEAD" => {
                is_large_read(req) && req.headers().contains("range")
                    || (mm(req).as_deref() == Some("get")
                        && req.param("format").as_deref() == Some("raw"))
            }
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
            match req.method() {
                "PUT" if mm(req).as_deref() == Some("put") => self.put(next, req, body).await,
                "PUT" | "POST" => Response::text(
                    400,
                    "X-Static-Large-Object is a reserved header. To create a static large object add query param multipart-manifest=put.",
                ),
                "DELETE" => self.delete(next, req).await,
                _ if mm(req).as_deref() == Some("get") => self.raw_manifest(next, req).await,
                _ => {
                    let mut down = req.clone();
                    ignore_range_for(&mut down, "X-Static-Large-Object");
                    let resp = next.call(&down, body).await;
                    if resp.headers.contains("x-static-large-object") {
                        self.expand(next, req, resp).await
                    } else {
                        resp
                    }
                }
            }
        })
    }

    fn claims_response(&self, req: &SwiftRequest, resp: &Response) -> bool {
        req.is_object()
            && matches!(req.method(), "GET" | "HEAD")
            && resp.headers.contains("x-static-large-object")
    }

    fn transform<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        mut resp: Response,
    ) -> LocalBoxFuture<'a, Response> {
        if is_large_read(req) {
            return Box::pin(self.expand(next, req, resp));
        }
        // The stored manifest itself is JSON.
        if is_success(resp.status) {
            resp.headers
                .set("Content-Type", "application/json; charset=utf-8");
        }
        Box::pin(std::future::ready(resp))
    }
}

/// Fetches a stored manifest (`?multipart-manifest=get`) and parses it.
async fn fetch_manifest(
    next: Next<'_>,
    req: &SwiftRequest,
    account: &str,
    container: &str,
    object: &str,
) -> Result<(Response, Vec<Value>), Response> {
    // The client's own manifest is read at the version it asked for.
    let mut query = "multipart-manifest=get".to_string();
    if (container, object) == (req.container(), req.object()) {
        if let Some(v) = req.param("version-id") {
            query.push_str(&format!("&version-id={}", super::quote(&v)));
        }
    }
    let sub = req.sub("GET", account, Some(container), Some(object), &query, "SLO");
    let mut resp = next.call_empty(&sub).await;
    if !is_success(resp.status) {
        return Err(resp);
    }
    let body = std::mem::replace(&mut resp.body, Body::Empty);
    let bytes = read_body(body, 64 * 1024 * 1024).await.map_err(|e| {
        tracing::error!("SLO manifest read: {e}");
        Response::status(500)
    })?;
    let segs: Vec<Value> = serde_json::from_slice(&bytes).unwrap_or_default();
    Ok((resp, segs))
}

fn split_name(name: &str) -> Option<(String, String)> {
    let (c, o) = name.trim_start_matches('/').split_once('/')?;
    Some((c.to_string(), o.to_string()))
}

/// Keeps the bytes `start..end` of `pieces`.
fn clip(pieces: Vec<Piece>, start: u64, end: u64) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut off = 0u64;
    for p in pieces {
        let (ps, pe) = (off, off + p.len);
        off = pe;
        if pe <= start || ps >= end {
            continue;
        }
        let skip = start.saturating_sub(ps);
        let take = end.min(pe) - ps - skip;
        out.push(Piece {
            first: p.first + skip,
            len: take,
            source: p.source,
        });
    }
    out
}

impl Slo {
    /// The stored manifest's segments as pieces, nested manifests
    /// expanded.
    fn flatten<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        segs: Vec<Value>,
        depth: usize,
    ) -> LocalBoxFuture<'a, Result<Vec<Piece>, Response>> {
        Box::pin(async move {
            // The top manifest is depth 0: the tenth nested one is the
            // last Swift reads (its error body is the plain 409 page).
            if depth >= MAX_DEPTH {
                tracing::info!(path = %req.head.raw_path, "SLO: max recursion depth exceeded");
                return Err(Response::status(409));
            }
            let mut out = Vec::new();
            for s in segs {
                if let Some(d) = s.get("data").and_then(Value::as_str) {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(d)
                        .unwrap_or_default();
                    out.push(Piece {
                        first: 0,
                        len: bytes.len() as u64,
                        source: SegmentSource::Data(bytes),
                    });
                    continue;
                }
                let name = s.get("name").and_then(Value::as_str).unwrap_or("");
                let Some((c, o)) = split_name(name) else {
                    continue;
                };
                let bytes = s.get("bytes").and_then(Value::as_u64).unwrap_or(0);
                let range = s
                    .get("range")
                    .and_then(Value::as_str)
                    .and_then(stored_range);
                if s.get("sub_slo").and_then(Value::as_bool) == Some(true) {
                    let (_, sub) = fetch_manifest(next, req, &req.path.account, &c, &o)
                        .await
                        .map_err(|r| {
                            Response::text(409, &format!("sub-manifest {name}: {}", r.status))
                        })?;
                    let inner = self.flatten(next, req, sub, depth + 1).await?;
                    let inner = match range {
                        Some((a, b)) => clip(inner, a, b + 1),
                        None => inner,
                    };
                    out.extend(inner);
                    continue;
                }
                let (first, len) = match range {
                    Some((a, b)) => (a, b + 1 - a),
                    None => (0, bytes),
                };
                out.push(Piece {
                    first,
                    len,
                    source: SegmentSource::Object {
                        account: req.path.account.clone(),
                        container: c,
                        object: o,
                        etag: s.get("hash").and_then(Value::as_str).map(str::to_string),
                        size: Some(bytes),
                    },
                });
            }
            Ok(out)
        })
    }

    /// Turns a manifest's response into the large object's.
    async fn expand(&self, next: Next<'_>, req: &SwiftRequest, manifest: Response) -> Response {
        let mut headers = manifest.headers.clone();
        let sys_etag = headers.get(SLO_ETAG).map(str::to_string);
        let sys_size = headers.get(SLO_SIZE).and_then(|v| v.parse::<u64>().ok());
        // As Swift: the manifest's own ETag, for static links to the SLO.
        let manifest_etag = headers
            .get("etag")
            .map(|e| e.trim().trim_matches('"').to_string());
        if let Some(m) = manifest_etag {
            headers.set("X-Manifest-Etag", m);
        }
        for h in [
            "content-length",
            "content-range",
            "etag",
            SLO_ETAG,
            SLO_SIZE,
        ] {
            headers.remove(h);
        }
        if let Some(ct) = headers.get("content-type") {
            let clean = strip_swift_bytes(ct);
            headers.set("Content-Type", clean);
        }
        let last_modified = headers
            .get("last-modified")
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64);
        let pieces = if req.method() == "HEAD" && sys_etag.is_some() && sys_size.is_some() {
            None
        } else {
            let segs =
                match fetch_manifest(next, req, &req.path.account, req.container(), req.object())
                    .await
                {
                    Ok((_, s)) => s,
                    Err(r) => return r,
                };
            match self.flatten(next, req, segs, 0).await {
                Ok(p) => Some(p),
                Err(r) => return r,
            }
        };
        let total = match (&pieces, sys_size) {
            (Some(p), _) => p.iter().map(|p| p.len).sum(),
            (None, Some(s)) => s,
            _ => 0,
        };
        let etag = sys_etag.unwrap_or_default();
        headers.set("Etag", format!("\"{etag}\""));
        match conditional::evaluate(req.headers(), &etag, last_modified, true) {
            Precondition::Proceed => {}
            Precondition::NotModified => {
                let mut r = Response::empty(304);
                r.headers = headers;
                r.headers.set("Content-Length", "0");
                return r;
            }
            Precondition::Failed => {
                return Response::status(412).with_header("Etag", format!("\"{etag}\""));
            }
        }
        let (span, status, content_range) =
            match requested_span(req.headers().get("range"), total, false) {
                Ok(s) => s,
                Err(r) => return r,
            };
        if let Some(cr) = content_range {
            headers.set("Content-Range", cr);
        }
        let len = span.1 - span.0;
        let mut resp = Response::empty(status);
        resp.latin1_headers = manifest.latin1_headers;
        resp.headers = headers;
        let Some(pieces) = pieces.filter(|_| req.method() == "GET") else {
            resp.headers.set("Content-Length", len.to_string());
            return resp;
        };
        let segments: Vec<Segment> = clip(pieces, span.0, span.1)
            .into_iter()
            .filter(|p| p.len > 0)
            .map(|p| Segment {
                first: p.first,
                last: Some(p.first + p.len - 1),
                source: p.source,
            })
            .collect();
        let mut stream = SegmentStream::new(next.entry(), req, "SLO", segments);
        if let Err(e) = stream.prime().await {
            tracing::warn!(path = %req.head.raw_path, "SLO: {e}");
            return Response::status(e.status());
        }
        resp.body = Body::Stream(StreamBody {
            len,
            stream: Box::new(stream),
        });
        resp
    }

    /// `?multipart-manifest=get&format=raw`: the manifest as it was PUT.
    async fn raw_manifest(&self, next: Next<'_>, req: &SwiftRequest) -> Response {
        let mut down = req.clone();
        down.head.headers.remove("range");
        let mut resp = next.call_empty(&down).await;
        if !is_success(resp.status) || !resp.headers.contains("x-static-large-object") {
            return resp;
        }
        let body = std::mem::replace(&mut resp.body, Body::Empty);
        let Ok(bytes) = read_body(body, 64 * 1024 * 1024).await else {
            return Response::status(500);
        };
        let segs: Vec<Value> = serde_json::from_slice(&bytes).unwrap_or_default();
        let raw = to_raw(&segs);
        resp.headers.set("Etag", hex::encode(Md5::digest(&raw)));
        resp.headers.remove("content-length");
        resp.body = Body::Bytes(raw);
        resp
    }

    /// `?multipart-manifest=put`: checks every segment and stores the
    /// manifest.
    async fn put(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        body: &mut BodySource<'_, '_>,
    ) -> Response {
        if req
            .headers()
            .get("x-copy-from")
            .is_some_and(|v| !v.is_empty())
        {
            return Response::text(405, "Multipart Manifest PUTs cannot be COPY requests");
        }
        match req.head.framing {
            Framing::None => return Response::status(411),
            Framing::Length(n) if n > self.max_manifest_size as u64 => {
                return Response::text(
                    413,
                    &format!("Manifest File > {} bytes", self.max_manifest_size),
                );
            }
            _ => {}
        }
        let bytes = match body.read_to_end(self.max_manifest_size).await {
            Ok(b) if b.len() <= self.max_manifest_size => b,
            Ok(_) | Err(crate::http::BodyError::TooLarge) => {
                return Response::text(
                    413,
                    &format!("Manifest File > {} bytes", self.max_manifest_size),
                );
            }
            Err(e) => return Response::status(e.status()),
        };
        let self_path = format!("/{}/{}", req.container(), req.object());
        let input = match parse_input(&bytes, &self_path) {
            Ok(i) => i,
            Err(msg) => return Response::text(400, &msg).with_header("Content-Type", "text/plain"),
        };
        let objects = input
            .iter()
            .filter(|s| matches!(s, InputSegment::Path { .. }))
            .count();
        if objects > self.max_manifest_segments {
            return Response::text(
                413,
                &format!(
                    "Number of object-backed segments must be <= {}",
                    self.max_manifest_segments
                ),
            );
        }
        let json_out = wants_json(req.headers().get("accept"));
        let mut problems: Vec<(String, String)> = Vec::new();
        let mut stored: Vec<Value> = Vec::with_capacity(input.len());
        let mut total = 0u64;
        let mut heads: std::collections::HashMap<String, Response> =
            std::collections::HashMap::new();
        let last_index = input.len().saturating_sub(1);
        for (i, seg) in input.iter().enumerate() {
            let (path, etag, size, range) = match seg {
                InputSegment::Data(d) => {
                    total += d.len() as u64;
                    stored
                        .push(json!({"data": base64::engine::general_purpose::STANDARD.encode(d)}));
                    continue;
                }
                InputSegment::Path {
                    path,
                    etag,
                    size,
                    range,
                } => (path, etag, size, range),
            };
            let quoted = super::quote(path);
            if !heads.contains_key(path) {
                let Some((c, o)) = split_name(path) else {
                    continue;
                };
                let head = req.sub("HEAD", &req.path.account, Some(&c), Some(&o), "", "SLO");
                let r = next.including_self().call_empty(&head).await;
                heads.insert(path.clone(), r);
            }
            let head = &heads[path];
            if !is_success(head.status) {
                problems.push((quoted, status_line(head.status)));
                continue;
            }
            let seg_size = super::util::content_length(head);
            let seg_etag = head
                .headers
                .get("etag")
                .unwrap_or("")
                .trim_matches('"')
                .to_string();
            let mut length = seg_size;
            let mut stored_range = None;
            if let Some(r) = range {
                match resolve_range(r, seg_size) {
                    None => problems.push((quoted.clone(), "Unsatisfiable Range".into())),
                    Some(None) => {}
                    Some(Some((a, b))) => {
                        length = b + 1 - a;
                        stored_range = Some(format!("{a}-{b}"));
                    }
                }
            }
            if length < 1 && i != last_index {
                problems.push((
                    quoted.clone(),
                    "Too small; each segment must be at least 1 byte.".into(),
                ));
            }
            if size.is_some_and(|s| s != seg_size) {
                problems.push((quoted.clone(), "Size Mismatch".into()));
            }
            if etag
                .as_ref()
                .is_some_and(|e| e.trim_matches('"') != seg_etag)
            {
                problems.push((quoted.clone(), "Etag Mismatch".into()));
            }
            total += length;
            let lm = head
                .headers
                .get("last-modified")
                .and_then(|v| httpdate::parse_http_date(v).ok())
                .map(iso_time)
                .unwrap_or_default();
            let mut entry = json!({
                "name": format!("/{}", path.trim_start_matches('/')),
                "bytes": seg_size,
                "hash": seg_etag,
                "content_type": head.headers.get("content-type").unwrap_or(""),
                "last_modified": lm,
            });
            if let Some(r) = stored_range {
                entry["range"] = json!(r);
            }
            if head
                .headers
                .get("x-static-large-object")
                .is_some_and(super::util::truthy)
            {
                entry["sub_slo"] = json!(true);
            }
            stored.push(entry);
        }
        if !problems.is_empty() {
            let body = result_body(json_out, &[], &problems);
            let mut r = Response::empty(400);
            r.headers.set(
                "Content-Type",
                if json_out {
                    "application/json"
                } else {
                    "text/plain"
                },
            );
            r.body = Body::Bytes(body);
            return r;
        }
        let mut slo_md5 = Md5::new();
        for s in &stored {
            let piece = if let Some(d) = s.get("data").and_then(Value::as_str) {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(d)
                    .unwrap_or_default();
                hex::encode(Md5::digest(&raw))
            } else {
                let hash = s.get("hash").and_then(Value::as_str).unwrap_or("");
                match s.get("range").and_then(Value::as_str) {
                    Some(r) => format!("{hash}:{r};"),
                    None => hash.to_string(),
                }
            };
            slo_md5.update(piece.as_bytes());
        }
        let slo_etag = hex::encode(slo_md5.finalize());
        if let Some(client) = req.headers().get("etag") {
            if client.trim().trim_matches('"') != slo_etag {
                return Response::status(422);
            }
        }
        let manifest = python_json(&Value::Array(stored)).into_bytes();
        let mut put = req.clone();
        put.source = Some("SLO");
        put.head.query = super::util::with_param(&put.head.query, "multipart-manifest", None);
        let h = &mut put.head.headers;
        h.set(SLO_ETAG, slo_etag.clone());
        h.set(SLO_SIZE, total.to_string());
        h.set("X-Static-Large-Object", "True");
        let manifest_etag = hex::encode(Md5::digest(&manifest));
        // The listing row shows the large object's size, and its ETag next
        // to the manifest's (published as `slo_etag`).
        h.set(
            "X-Object-Sysmeta-Container-Update-Override-Etag",
            format!("{manifest_etag}; slo_etag={slo_etag}"),
        );
        h.set(
            "X-Object-Sysmeta-Container-Update-Override-Size",
            total.to_string(),
        );
        h.set("Etag", manifest_etag);
        h.remove("transfer-encoding");
        put.set_body_len(manifest.len() as u64);
        let mut resp = next.call(&put, &mut BodySource::bytes(manifest)).await;
        if is_success(resp.status) {
            resp.headers.set("Etag", format!("\"{slo_etag}\""));
        }
        resp
    }

    /// `?multipart-manifest=delete`: deletes the segments (and nested
    /// manifests' segments), then the manifest.
    async fn delete(&self, next: Next<'_>, req: &SwiftRequest) -> Response {
        let json_out = wants_json(req.headers().get("accept"));
        let mut deleted = 0u64;
        let mut not_found = 0u64;
        let mut errors: Vec<(String, String)> = Vec::new();
        let mut todo: Vec<(String, String, usize)> =
            vec![(req.container().to_string(), req.object().to_string(), 0)];
        let mut order: Vec<(String, String)> = Vec::new();
        while let Some((c, o, depth)) = todo.pop() {
            let is_top = depth == 0;
            match fetch_manifest(next, req, &req.path.account, &c, &o).await {
                Ok((resp, segs)) if resp.headers.contains("x-static-large-object") => {
                    for s in segs.iter().rev() {
                        let Some((sc, so)) =
                            s.get("name").and_then(Value::as_str).and_then(split_name)
                        else {
                            continue;
                        };
                        if s.get("sub_slo").and_then(Value::as_bool) == Some(true)
                            && depth < MAX_DEPTH
                        {
                            todo.push((sc, so, depth + 1));
                        } else {
                            order.push((sc, so));
                        }
                    }
                    order.push((c, o));
                }
                Ok(_) if is_top => {
                    return Response::text(400, "Not an SLO manifest");
                }
                Ok(_) => order.push((c, o)),
                Err(r) if r.status == 404 => {
                    if is_top {
                        not_found += 1;
                    } else {
                        order.push((c, o));
                    }
                }
                Err(r) if is_top => return r,
                Err(r) => errors.push((super::quote(&format!("/{c}/{o}")), status_line(r.status))),
            }
        }
        // Segments first, the manifest (pushed last at depth 0) at the end.
        order.sort_by_key(|(c, o)| (c == req.container() && o == req.object()) as u8);
        for (c, o) in order {
            // The manifest goes at the version the client named.
            let query = match req.param("version-id") {
                Some(v) if c == req.container() && o == req.object() => {
                    format!("version-id={}", super::quote(&v))
                }
                _ => String::new(),
            };
            let mut d = req.sub(
                "DELETE",
                &req.path.account,
                Some(&c),
                Some(&o),
                &query,
                "SLO",
            );
            d.head.headers.set(
                "X-Timestamp",
                crate::common::timestamp::Timestamp::now().internal(),
            );
            let r = next.call_empty(&d).await;
            match r.status {
                s if is_success(s) => deleted += 1,
                404 => not_found += 1,
                s => errors.push((super::quote(&format!("/{c}/{o}")), status_line(s))),
            }
        }
        let status = if errors.is_empty() { 200 } else { 400 };
        let fields = [
            ("Number Deleted", json!(deleted)),
            ("Number Not Found", json!(not_found)),
            ("Response Body", json!("")),
            ("Response Status", json!(status_line(status))),
        ];
        let mut r = Response::empty(200);
        r.headers.set(
            "Content-Type",
            if json_out {
                "application/json"
            } else {
                "text/plain"
            },
        );
        r.body = Body::Bytes(result_body(json_out, &fields, &errors));
        r
    }
}

/// `2024-01-02T03:04:05.000000`, as Swift records segment times.
fn iso_time(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Content-Type without a `swift_bytes` parameter.
fn strip_swift_bytes(ct: &str) -> String {
    ct.split(';')
        .filter(|p| !p.trim().starts_with("swift_bytes="))
        .collect::<Vec<_>>()
        .join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_match_python() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(iso_time(t), "2023-11-14T22:13:20.000000");
    }

    #[test]
    fn clipping_keeps_the_asked_bytes() {
        let p = |len| Piece {
            source: SegmentSource::Data(vec![0; len as usize]),
            first: 0,
            len,
        };
        let c = clip(vec![p(5), p(5), p(5)], 3, 12);
        let v: Vec<(u64, u64)> = c.iter().map(|p| (p.first, p.len)).collect();
        assert_eq!(v, vec![(3, 2), (0, 5), (0, 2)]);
    }
}
