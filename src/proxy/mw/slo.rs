//! Static large objects (Swift's `slo` middleware): a JSON manifest of
//! segments (objects, ranges of objects, inline data, other manifests)
//! validated when it is PUT, read as the segments' concatenation, and
//! deleted with its segments on `?multipart-manifest=delete`.
//!
//! Storing lives in `slo_put`, reading in `slo_read`.

use serde_json::{json, Value};

use crate::http::stream::LocalBoxFuture;
use crate::http::{Body, BodySource, Response};

use super::dlo::ignore_range_for;
use super::util::{is_success, read_body, result_body, status_line, wants_json};
use super::{Feature, Next, SwiftRequest};

/// Sysmeta holding the large object's ETag.
pub const SLO_ETAG: &str = "X-Object-Sysmeta-Slo-Etag";
/// Sysmeta holding the large object's size.
pub const SLO_SIZE: &str = "X-Object-Sysmeta-Slo-Size";
/// How deep manifests may nest.
pub(super) const MAX_DEPTH: usize = 10;

/// The SLO module and its limits (published in `/info`).
pub struct Slo {
    /// Most object-backed segments in one manifest.
    pub max_manifest_segments: usize,
    /// Largest manifest body in bytes.
    pub max_manifest_size: usize,
    /// How often a `heartbeat=on` PUT sends a space while it works.
    pub yield_frequency: std::time::Duration,
}

impl Default for Slo {
    fn default() -> Self {
        Slo {
            max_manifest_segments: 1000,
            max_manifest_size: 8 * 1024 * 1024,
            yield_frequency: std::time::Duration::from_secs(10),
        }
    }
}

fn mm(req: &SwiftRequest) -> Option<String> {
    req.param("multipart-manifest")
}

fn is_large_read(req: &SwiftRequest) -> bool {
    req.is_object() && matches!(req.method(), "GET" | "HEAD") && mm(req).as_deref() != Some("get")
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
pub(super) async fn fetch_manifest(
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

pub(super) fn split_name(name: &str) -> Option<(String, String)> {
    let (c, o) = name.trim_start_matches('/').split_once('/')?;
    Some((c.to_string(), o.to_string()))
}

impl Slo {
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
pub(super) fn iso_time(t: std::time::SystemTime) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_match_python() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(iso_time(t), "2023-11-14T22:13:20.000000");
    }
}
