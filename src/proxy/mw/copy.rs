//! Server-side copy (Swift's `copy` middleware): `COPY` with `Destination`
//! and `PUT` with `X-Copy-From`, each turned into a GET of the source and a
//! PUT of the destination that streams the GET's body — the object is never
//! held in memory. The GET runs through the modules below copy, so large
//! objects are copied as their contents unless `?multipart-manifest=get`
//! asks for the manifest itself.

use crate::http::stream::LocalBoxFuture;
use crate::http::{BodySource, Headers, Response};

use super::util::{
    container_object, is_success, is_sysmeta, is_transient_sysmeta, is_user_meta, name_format,
    truthy, with_param,
};
use super::{quote, Feature, Next, SwiftRequest};

/// The copy module.
pub struct Copy {
    /// Largest object a copy may produce.
    pub max_file_size: u64,
}

/// Source headers never carried to the destination (unless fresh metadata
/// drops them all anyway): they describe the stored source, not the copy.
const NOT_COPIED: &[&str] = &[
    "x-static-large-object",
    "x-object-manifest",
    "etag",
    "content-type",
    "x-timestamp",
    "x-backend-timestamp",
    "content-length",
    "transfer-encoding",
    "content-range",
];

impl Feature for Copy {
    fn name(&self) -> &'static str {
        "copy"
    }

    fn claims(&self, req: &SwiftRequest) -> bool {
        req.is_object()
            && match req.method() {
                "COPY" => true,
                "PUT" => req
                    .headers()
                    .get("x-copy-from")
                    .is_some_and(|v| !v.is_empty()),
                _ => false,
            }
    }

    fn handle<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        _body: &'a mut BodySource<'_, '_>,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(async move {
            let put = if req.method() == "COPY" {
                match copy_to_put(req) {
                    Ok(p) => p,
                    Err(r) => return r,
                }
            } else {
                req.clone()
            };
            self.put(next, &put).await.unwrap_or_else(|r| r)
        })
    }
}

/// Rewrites `COPY /a/c/o` + `Destination: c2/o2` as
/// `PUT /a2/c2/o2` + `X-Copy-From: c/o` (+ `X-Copy-From-Account: a`).
fn copy_to_put(req: &SwiftRequest) -> Result<SwiftRequest, Response> {
    let h = req.headers();
    let Some(dest) = h.get("destination").filter(|d| !d.is_empty()) else {
        return Err(Response::text(412, "Destination header required"));
    };
    let mut put = req.clone();
    let mut dest_account = req.path.account.clone();
    if let Some(a) = h.get("destination-account") {
        dest_account = name_format(a, "Account")?;
        put.head
            .headers
            .set("X-Copy-From-Account", quote(&req.path.account));
        put.head.headers.remove("destination-account");
    }
    let (dc, dobj) = container_object(
        dest,
        "Destination header must be of the form <container name>/<object name>",
    )?;
    put.head.method = "PUT".into();
    put.retarget(&dest_account, &dc, &dobj);
    put.head.headers.set(
        "X-Copy-From",
        quote(&format!("/{}/{}", req.container(), req.object())),
    );
    put.head.headers.remove("destination");
    put.set_body_len(0);
    Ok(put)
}

impl Copy {
    async fn put(&self, next: Next<'_>, req: &SwiftRequest) -> Result<Response, Response> {
        if matches!(req.head.framing, crate::http::request::Framing::Length(n) if n > 0) {
            return Err(
                Response::text(400, "Copy requests require a zero byte body")
                    .with_header("Content-Type", "text/plain"),
            );
        }
        let h = req.headers();
        let src_account = match h.get("x-copy-from-account") {
            Some(a) => name_format(a, "Account")?,
            None => req.path.account.clone(),
        };
        let (sc, so) = container_object(
            h.get("x-copy-from").unwrap_or(""),
            "X-Copy-From header must be of the form <container name>/<object name>",
        )?;
        let manifest_get = req.param("multipart-manifest").as_deref() == Some("get");

        // The source GET carries the client's headers (ranges and
        // conditions apply to the source) and query.
        let mut get = req.clone();
        get.head.method = "GET".into();
        get.retarget(&src_account, &sc, &so);
        get.head.headers.remove("content-length");
        get.head.headers.remove("transfer-encoding");
        get.head.framing = crate::http::request::Framing::None;
        if manifest_get {
            get.head.query = with_param(&get.head.query, "format", Some("raw"));
        }
        get.source = Some("SSC");
        let src = next.call_empty(&get).await;
        if src.status >= 300 {
            return Err(src);
        }
        let len = src.body.len();
        if len > self.max_file_size {
            return Err(Response::status(413));
        }

        let mut sink = req.clone();
        sink.source = Some("SSC");
        let fresh = h.get("x-fresh-metadata").is_some_and(truthy);
        let mut headers = Headers::new();
        for (k, v) in src.headers.iter() {
            let keep = if fresh {
                is_sysmeta(k)
            } else {
                !NOT_COPIED.iter().any(|n| n.eq_ignore_ascii_case(k))
            };
            if keep {
                headers.set(k, v);
            }
        }
        // The client's own headers win over the source's.
        for (k, v) in h.iter() {
            headers.set(k, v);
        }
        for n in ["x-copy-from", "x-copy-from-account", "x-fresh-metadata"] {
            headers.remove(n);
        }
        let is_slo = src.headers.contains("x-static-large-object");
        let is_dlo = src.headers.contains("x-object-manifest");
        let mut query = sink.head.query.clone();
        if manifest_get {
            if is_slo {
                query = with_param(&query, "multipart-manifest", Some("put"));
            }
            if let Some(m) = src.headers.get("x-object-manifest") {
                query = with_param(&query, "multipart-manifest", None);
                headers.set("X-Object-Manifest", m);
            }
        }
        if req.param("version-id").is_some() {
            query = with_param(&query, "version-id", None);
        }
        sink.head.query = query;
        if src.status == 200 && !is_slo && (!is_dlo || manifest_get) {
            if let Some(etag) = src.headers.get("etag") {
                headers.set("Etag", etag.trim_matches('"'));
            }
        } else {
            headers.remove("etag");
            let prefix = "x-object-sysmeta-container-update-override-";
            let drop: Vec<String> = headers
                .iter()
                .filter(|(k, _)| k.to_ascii_lowercase().starts_with(prefix))
                .map(|(k, _)| k.to_string())
                .collect();
            for k in drop {
                headers.remove(&k);
            }
        }
        if h.get("content-type").is_none_or(str::is_empty) {
            if let Some(ct) = src.headers.get("content-type") {
                headers.set("Content-Type", ct);
            }
        }
        let mut extra = Headers::new();
        extra.set("X-Copied-From-Account", quote(&src_account));
        extra.set("X-Copied-From", quote(&format!("{sc}/{so}")));
        if let Some(lm) = src.headers.get("last-modified") {
            extra.set("X-Copied-From-Last-Modified", lm);
        }
        if let Some(v) = src.headers.get("x-object-version-id") {
            extra.set("X-Copied-From-Version-Id", v);
        }
        for (k, v) in headers.iter() {
            if is_user_meta(k)
                || is_sysmeta(k)
                || is_transient_sysmeta(k)
                || k.eq_ignore_ascii_case("x-delete-at")
            {
                extra.set(k, v);
            }
        }
        sink.head.headers = headers;
        sink.set_body_len(len);
        // Raw-byte metadata values stay raw bytes in the copy.
        sink.head
            .non_utf8
            .extend(src.latin1_headers.iter().cloned());
        let latin1 = src.latin1_headers.clone();
        let mut body = BodySource::Stream(src.body.into_stream());
        let mut resp = next.call(&sink, &mut body).await;
        if is_success(resp.status) {
            for (k, v) in extra.iter() {
                resp.headers.append(k, v);
            }
            resp.latin1_headers.extend(latin1);
        }
        Ok(resp)
    }
}
