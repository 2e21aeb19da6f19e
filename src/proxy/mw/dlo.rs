//! Dynamic large objects (Swift's `dlo` middleware): an object with
//! `X-Object-Manifest: <container>/<prefix>` reads as the concatenation of
//! the objects listed under that prefix, in listing order. Its ETag is the
//! quoted MD5 of the segments' ETags; a single Range is served across
//! segments; `?multipart-manifest=get` returns the manifest object itself.

use md5::{Digest, Md5};

use crate::http::stream::LocalBoxFuture;
use crate::http::{Body, BodySource, Response};

use super::segments::{precondition_answer, requested_span, Segment, SegmentSource, SegmentStream};
use super::util::{is_success, unquote};
use super::{quote, Feature, Next, SwiftRequest};

/// Backend header asking the object server to ignore a client's Range when
/// the stored object carries one of the named metadata keys.
pub const IGNORE_RANGE_HEADER: &str = "X-Backend-Ignore-Range-If-Metadata-Present";

/// Adds `name` to the request's ignore-range list.
pub fn ignore_range_for(req: &mut SwiftRequest, name: &str) {
    let h = &mut req.head.headers;
    let v = match h.get(IGNORE_RANGE_HEADER) {
        Some(old) if !old.is_empty() => format!("{old},{name}"),
        _ => name.to_string(),
    };
    h.set(IGNORE_RANGE_HEADER, v);
}

/// The DLO module.
pub struct Dlo {
    /// Listing page size (the container listing limit).
    pub listing_limit: u64,
}

fn is_read(req: &SwiftRequest) -> bool {
    req.is_object()
        && matches!(req.method(), "GET" | "HEAD")
        && req.param("multipart-manifest").as_deref() != Some("get")
}

impl Feature for Dlo {
    fn name(&self) -> &'static str {
        "dlo"
    }

    /// Reads with a Range must reach storage with the range ignored for
    /// manifests; PUTs of manifests are validated.
    fn claims(&self, req: &SwiftRequest) -> bool {
        (is_read(req) && req.headers().contains("range"))
            || (req.is_object()
                && req.method() == "PUT"
                && req.headers().contains("x-object-manifest"))
    }

    fn handle<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        body: &'a mut BodySource<'_, '_>,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(async move {
            if req.method() == "PUT" {
                if let Some(v) = req.headers().get("x-object-manifest") {
                    if !valid_manifest_value(v) {
                        return Response::text(
                            400,
                            "X-Object-Manifest must be in the format container/prefix",
                        );
                    }
                }
                return next.call(req, body).await;
            }
            let mut down = req.clone();
            ignore_range_for(&mut down, "X-Object-Manifest");
            let resp = next.call(&down, body).await;
            if resp.headers.contains("x-object-manifest") {
                self.expand(next, req, resp).await
            } else {
                resp
            }
        })
    }

    fn claims_response(&self, req: &SwiftRequest, resp: &Response) -> bool {
        is_read(req) && resp.headers.contains("x-object-manifest")
    }

    fn transform<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        resp: Response,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(self.expand(next, req, resp))
    }
}

fn valid_manifest_value(v: &str) -> bool {
    match v.split_once('/') {
        Some((c, p)) => {
            !c.is_empty() && !p.is_empty() && !v.contains(['?', '&']) && !p.starts_with('/')
        }
        None => false,
    }
}

/// One listed segment.
struct Listed {
    name: String,
    bytes: u64,
    hash: String,
}

impl Dlo {
    /// Lists every segment under `prefix`, page by page. `Err` carries the
    /// listing's failed response.
    async fn list(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        container: &str,
        prefix: &str,
    ) -> Result<Vec<Listed>, Response> {
        let mut out: Vec<Listed> = Vec::new();
        loop {
            let mut query = format!("format=json&prefix={}", quote(prefix));
            if let Some(last) = out.last() {
                query.push_str(&format!("&marker={}", quote(&last.name)));
            }
            let sub = req.sub(
                "GET",
                &req.path.account,
                Some(container),
                None,
                &query,
                "DLO",
            );
            let resp = next.call_empty(&sub).await;
            if !is_success(resp.status) {
                return Err(resp);
            }
            let rows: Vec<serde_json::Value> = match &resp.body {
                Body::Bytes(b) => serde_json::from_slice(b).unwrap_or_default(),
                _ => Vec::new(),
            };
            let page = rows.len() as u64;
            for r in rows {
                if let Some(name) = r.get("name").and_then(|n| n.as_str()) {
                    out.push(Listed {
                        name: name.to_string(),
                        bytes: r.get("bytes").and_then(|b| b.as_u64()).unwrap_or(0),
                        hash: r
                            .get("hash")
                            .and_then(|h| h.as_str())
                            .unwrap_or("")
                            .to_string(),
                    });
                }
            }
            if page < self.listing_limit {
                return Ok(out);
            }
        }
    }

    /// Turns a manifest's response into the large object's.
    async fn expand(&self, next: Next<'_>, req: &SwiftRequest, manifest: Response) -> Response {
        let value = unquote(manifest.headers.get("x-object-manifest").unwrap_or(""));
        let Some((container, prefix)) = value.split_once('/') else {
            return manifest;
        };
        let segs = match self.list(next, req, container, prefix).await {
            Ok(s) => s,
            Err(mut r) => {
                if req.method() == "HEAD" {
                    r.body = Body::Empty;
                }
                return r;
            }
        };
        let total: u64 = segs.iter().map(|s| s.bytes).sum();
        let mut md5 = Md5::new();
        for s in &segs {
            md5.update(s.hash.trim_matches('"').as_bytes());
        }
        let etag = hex::encode(md5.finalize());

        let mut headers = manifest.headers.clone();
        for h in ["content-length", "content-range", "etag"] {
            headers.remove(h);
        }
        headers.set("Etag", format!("\"{etag}\""));
        let last_modified = headers
            .get("last-modified")
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64);
        if let Some(r) = precondition_answer(req.headers(), &mut headers, &etag, last_modified) {
            return r;
        }
        // One range is served across segments; several are ignored (the
        // whole object comes back), as Swift's DLO does.
        let (span, status, content_range) = match requested_span(req.headers().get("range"), total)
        {
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
        if req.method() == "HEAD" {
            resp.headers.set("Content-Length", len.to_string());
            return resp;
        }
        let mut pieces = Vec::new();
        let mut offset = 0u64;
        for s in segs {
            let (start, end) = (offset, offset + s.bytes);
            offset = end;
            if end <= span.0 || start >= span.1 || s.bytes == 0 {
                continue;
            }
            let first = span.0.saturating_sub(start);
            let last = (span.1.min(end) - start) - 1;
            pieces.push(Segment {
                source: SegmentSource::Object {
                    account: req.path.account.clone(),
                    container: container.to_string(),
                    object: s.name,
                    etag: None,
                    size: None,
                },
                first,
                last: (last + 1 < s.bytes).then_some(last),
            });
        }
        SegmentStream::new(next.entry(), req, "DLO", pieces)
            .into_response(resp, len)
            .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn manifest_values_are_checked_like_swift() {
        use super::valid_manifest_value as ok;
        assert!(ok("c/p"));
        assert!(ok("c/p/q"));
        assert!(!ok("c"));
        assert!(!ok("c/"));
        assert!(!ok("/p"));
        assert!(!ok("c//p"));
        assert!(!ok("c/p?x"));
        assert!(!ok("c/p&x"));
    }
}
