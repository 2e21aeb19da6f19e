//! The proxy's object controller: client-facing checks (Swift's
//! `check_object_creation`, metadata and expiry constraints, content-type
//! detection), timestamping, and the backend request.

use crate::common::constraints::{
    check_delete_headers, check_metadata, check_object_name, guess_content_type, Constraints,
    MetaTarget,
};
use crate::common::timestamp::Timestamp;
use crate::http::request::Framing;
use crate::http::{BodySource, Headers, Request, Response};

use super::backend::Backend;

/// The object named by a client request.
pub struct ObjectTarget<'a> {
    /// Account.
    pub account: &'a str,
    /// Container.
    pub container: &'a str,
    /// Object.
    pub object: &'a str,
    /// The container's storage policy index.
    pub policy_index: i64,
}

/// Answers object requests for one worker.
pub struct ObjectController<'a> {
    /// Swift's constraints.
    pub constraints: &'a Constraints,
    /// Where storage requests go.
    pub backend: &'a Backend,
}

/// The request's headers as storage should see them, with a timestamp.
fn backend_headers(req: &Request, t: &ObjectTarget<'_>) -> Headers {
    // Client requests lost their internal headers at the gatekeeper; what
    // is left here came from the proxy's own feature modules.
    let mut h = req.headers.clone();
    // A valid client X-Timestamp is kept (container sync and replays rely
    // on it); one Swift could not parse is ignored, as Swift's proxy does,
    // and the write gets the proxy's own time.
    let ts = req
        .headers
        .get("x-timestamp")
        .and_then(|v| Timestamp::parse(v).ok())
        .unwrap_or_else(Timestamp::now);
    h.set("X-Timestamp", ts.internal());
    h.set("X-Backend-Storage-Policy-Index", t.policy_index.to_string());
    h
}

impl ObjectController<'_> {
    /// Handles GET, HEAD, PUT, POST and DELETE of one object.
    pub async fn handle(
        &self,
        req: &Request,
        t: &ObjectTarget<'_>,
        body: &mut BodySource<'_, '_>,
    ) -> Response {
        match req.method.as_str() {
            "GET" | "HEAD" => self.read(req, t, body).await,
            "PUT" => self.put(req, t, body).await,
            "POST" => self.post(req, t, body).await,
            "DELETE" => self.delete(req, t, body).await,
            _ => Response::status(405).with_header("Allow", "DELETE, GET, HEAD, POST, PUT"),
        }
    }

    async fn read(
        &self,
        req: &Request,
        t: &ObjectTarget<'_>,
        body: &mut BodySource<'_, '_>,
    ) -> Response {
        let headers = backend_headers(req, t);
        self.backend
            .object(
                &req.method,
                t.account,
                t.container,
                t.object,
                &headers,
                body,
            )
            .await
    }

    async fn put(
        &self,
        req: &Request,
        t: &ObjectTarget<'_>,
        body: &mut BodySource<'_, '_>,
    ) -> Response {
        let c = self.constraints;
        match req.framing {
            Framing::None if !req.headers.contains("content-length") => {
                return Response::text(411, "Missing Content-Length header.");
            }
            Framing::Length(n) if n > c.max_file_size => {
                return Response::text(413, "Your request is too large.");
            }
            _ => {}
        }
        // Reserved (NUL-bearing) names are only for the proxy's own
        // modules (versioning); clients cannot send backend headers.
        let reserved = req
            .headers
            .get(ALLOW_RESERVED_HEADER)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let name = if reserved {
            std::borrow::Cow::Owned(t.object.replace('\0', "-"))
        } else {
            std::borrow::Cow::Borrowed(t.object)
        };
        if let Err(msg) = check_object_name(c, &name) {
            return Response::text(400, &msg);
        }
        let mut headers = backend_headers(req, t);
        let detect = req.headers.get("x-detect-content-type").is_some_and(|v| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "true" | "yes" | "on" | "1" | "t" | "y"
            )
        });
        if detect || req.headers.get("content-type").is_none_or(|v| v.is_empty()) {
            headers.set("Content-Type", guess_content_type(t.object));
        }
        if let Some(inm) = req.headers.get("if-none-match") {
            if inm.trim() != "*" {
                return Response::text(400, "If-None-Match only supports *");
            }
        }
        if let Err(msg) = check_object_metadata(c, req, &headers) {
            return Response::text(400, &msg);
        }
        if let Err(r) = apply_delete_headers(&mut headers) {
            return r;
        }
        headers.remove("x-detect-content-type");
        mark_raw_values(req, &mut headers);
        self.backend
            .object("PUT", t.account, t.container, t.object, &headers, body)
            .await
    }

    async fn post(
        &self,
        req: &Request,
        t: &ObjectTarget<'_>,
        body: &mut BodySource<'_, '_>,
    ) -> Response {
        let mut headers = backend_headers(req, t);
        if let Err(msg) = check_object_metadata(self.constraints, req, &headers) {
            return Response::text(400, &msg);
        }
        if let Err(r) = apply_delete_headers(&mut headers) {
            return r;
        }
        mark_raw_values(req, &mut headers);
        self.backend
            .object("POST", t.account, t.container, t.object, &headers, body)
            .await
    }

    async fn delete(
        &self,
        req: &Request,
        t: &ObjectTarget<'_>,
        body: &mut BodySource<'_, '_>,
    ) -> Response {
        let headers = backend_headers(req, t);
        self.backend
            .object("DELETE", t.account, t.container, t.object, &headers, body)
            .await
    }
}

/// Object metadata may be any bytes (Swift does not check them for UTF-8).
/// Values that were not UTF-8 travel as Latin-1 text, one char per byte, so
/// their limits are checked on that byte count.
fn check_object_metadata(c: &Constraints, req: &Request, headers: &Headers) -> Result<(), String> {
    if req.non_utf8.is_empty() {
        return check_metadata(c, headers, MetaTarget::Object);
    }
    let as_sent: Headers = headers
        .iter()
        .map(|(n, v)| {
            let raw = req.non_utf8.iter().any(|r| r.eq_ignore_ascii_case(n));
            let v = if raw {
                "x".repeat(v.chars().count())
            } else {
                v.to_string()
            };
            (n.to_string(), v)
        })
        .collect();
    check_metadata(c, &as_sent, MetaTarget::Object)
}

/// Tells the object server which values are raw bytes (Latin-1 text), so
/// it stores them as such and sends them back byte for byte.
fn mark_raw_values(req: &Request, headers: &mut Headers) {
    let raw: Vec<String> = req
        .non_utf8
        .iter()
        .filter(|n| n.to_ascii_lowercase().starts_with("x-object-meta-"))
        .map(|n| n.to_ascii_lowercase())
        .collect();
    if !raw.is_empty() {
        headers.set(RAW_VALUES_HEADER, raw.join(","));
    }
}

/// Backend header letting a module's subrequest use reserved names.
pub const ALLOW_RESERVED_HEADER: &str = "X-Backend-Allow-Reserved-Names";

/// Backend header naming the user-metadata headers whose values are raw
/// bytes carried as Latin-1 text.
pub const RAW_VALUES_HEADER: &str = "X-Backend-Raw-Meta";

/// Turns `X-Delete-After` into `X-Delete-At`, refusing past or bad values.
fn apply_delete_headers(headers: &mut Headers) -> Result<(), Response> {
    let ts = headers
        .get("x-timestamp")
        .and_then(|v| Timestamp::parse(v).ok())
        .unwrap_or_else(Timestamp::now);
    match check_delete_headers(ts, headers) {
        Ok(Some(at)) => {
            headers.remove("x-delete-after");
            headers.set("X-Delete-At", at.to_string());
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(msg) => Err(Response::text(400, &msg)),
    }
}
