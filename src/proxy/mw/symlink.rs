//! Symlinks (Swift's `symlink` middleware): an object PUT with
//! `X-Symlink-Target: <container>/<object>` (and optionally
//! `X-Symlink-Target-Account`) is stored as an empty object whose sysmeta
//! names the target. GET and HEAD follow it (at most `symloop_max` hops,
//! counting only links that do not extend the limit), answering with the
//! target and a `Content-Location` naming it; `?symlink=get` returns the
//! link itself. A *static* link also carries `X-Symlink-Target-Etag`: the
//! target must exist with that ETag when the link is made, and reads fail
//! with 409 once it no longer matches. POST to a link is applied to the
//! link and answered with a 307 pointing at the target. The link's
//! container listing row carries the target in its hash parameters, which
//! the listing layer publishes as `symlink_path`/`symlink_etag`/
//! `symlink_bytes`.

use crate::http::request::Framing;
use crate::http::stream::LocalBoxFuture;
use crate::http::{BodySource, Response};

use super::dlo::ignore_range_for;
use super::util::{container_object, is_success, name_format, truthy, unquote};
use super::{quote, Feature, Next, SwiftRequest};

/// Swift's default (and paco's) limit on followed links.
pub const DEFAULT_SYMLOOP_MAX: u32 = 2;

/// Client header naming the target `<container>/<object>`.
pub const TGT_OBJ: &str = "X-Symlink-Target";
/// Client header naming the target's account.
pub const TGT_ACCT: &str = "X-Symlink-Target-Account";
/// Client header making the link static.
pub const TGT_ETAG: &str = "X-Symlink-Target-Etag";
/// Client-facing size of a static link's target.
pub const TGT_BYTES: &str = "X-Symlink-Target-Bytes";
/// Stored target.
pub const SYS_OBJ: &str = "X-Object-Sysmeta-Symlink-Target";
/// Stored target account.
pub const SYS_ACCT: &str = "X-Object-Sysmeta-Symlink-Target-Account";
/// Stored static-link ETag.
pub const SYS_ETAG: &str = "X-Object-Sysmeta-Symlink-Target-Etag";
/// Stored static-link target size.
pub const SYS_BYTES: &str = "X-Object-Sysmeta-Symlink-Target-Bytes";
/// A link whose hop does not count towards the limit (versioning's own).
pub const SYMLOOP_EXTEND: &str = "X-Object-Sysmeta-Symloop-Extend";
/// A link into reserved (`\0`) names, followed pre-authorized.
pub const ALLOW_RESERVED: &str = "X-Object-Sysmeta-Allow-Reserved-Names";
/// The container-update override of the listing row's etag.
pub const OVERRIDE_ETAG: &str = "X-Object-Sysmeta-Container-Update-Override-Etag";
/// MD5 of nothing: a link's own ETag.
pub const MD5_EMPTY: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// The symlink module.
pub struct Symlink {
    /// Most links followed for one read.
    pub symloop_max: u32,
}

impl Default for Symlink {
    fn default() -> Self {
        Symlink {
            symloop_max: DEFAULT_SYMLOOP_MAX,
        }
    }
}

fn is_read(req: &SwiftRequest) -> bool {
    req.is_object() && matches!(req.method(), "GET" | "HEAD")
}

fn wants_link(req: &SwiftRequest) -> bool {
    req.param("symlink").as_deref() == Some("get")
}

/// ETag without surrounding quotes (Swift's `normalize_etag`).
pub fn normalize_etag(v: &str) -> &str {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

impl Feature for Symlink {
    fn name(&self) -> &'static str {
        "symlink"
    }

    /// Reads with a Range (storage must ignore it for links), link PUTs,
    /// and POSTs that try to set a target.
    fn claims(&self, req: &SwiftRequest) -> bool {
        if !req.is_object() {
            return false;
        }
        match req.method() {
            "GET" | "HEAD" => req.headers().contains("range") && !wants_link(req),
            "PUT" | "POST" => req.headers().contains(TGT_OBJ),
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
                "POST" => Response::text(400, "A PUT request is required to set a symlink target")
                    .with_header("Content-Type", "text/plain"),
                "PUT" => match self.put(next, req, body).await {
                    Ok(r) | Err(r) => r,
                },
                _ => {
                    let mut down = req.clone();
                    ignore_range_for(&mut down, SYS_OBJ);
                    let resp = next.call(&down, body).await;
                    if resp.headers.contains(SYS_OBJ) {
                        self.follow(next, &down, resp).await
                    } else {
                        resp
                    }
                }
            }
        })
    }

    fn claims_response(&self, req: &SwiftRequest, resp: &Response) -> bool {
        if !resp.headers.contains(SYS_OBJ) {
            return false;
        }
        is_read(req) || (req.is_object() && req.method() == "POST" && is_success(resp.status))
    }

    fn transform<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        resp: Response,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(async move {
            if req.method() == "POST" {
                return post_redirect(req, resp);
            }
            if wants_link(req) {
                return sysmeta_to_user(resp);
            }
            self.follow(next, req, resp).await
        })
    }
}

/// `?symlink=get`: the link itself, with its target in client headers.
fn sysmeta_to_user(mut resp: Response) -> Response {
    for (user, sys) in [
        (TGT_OBJ, SYS_OBJ),
        (TGT_ACCT, SYS_ACCT),
        (TGT_ETAG, SYS_ETAG),
        (TGT_BYTES, SYS_BYTES),
    ] {
        if let Some(v) = resp.headers.get(sys).map(str::to_string) {
            resp.headers.remove(sys);
            resp.headers.set(user, v);
        }
    }
    resp
}

/// A POST reached a link: it was applied to the link, and the client is
/// pointed at the target (the Location stays relative, as Swift's).
fn post_redirect(req: &SwiftRequest, resp: Response) -> Response {
    let h = &resp.headers;
    let target = h.get(SYS_OBJ).unwrap_or("");
    let account = h
        .get(SYS_ACCT)
        .map(str::to_string)
        .unwrap_or_else(|| quote(&req.path.account));
    let mut r = Response::text(
        307,
        "The requested POST was applied to a symlink. POST directly to the target to apply requested metadata.",
    )
    .with_header(
        "Location",
        format!("/{}/{account}/{}", req.path.version, target.trim_start_matches('/')),
    );
    if let Some(e) = h.get(SYS_ETAG) {
        r.headers.set(TGT_ETAG, e);
    }
    for (k, v) in h.iter() {
        if k.to_ascii_lowercase().starts_with("x-object-sysmeta-") {
            r.headers.set(k, v);
        }
    }
    r
}

/// Python's `repr` of a short string, as Swift's messages show ETags.
fn py_repr(s: &str) -> String {
    if s.contains('\'') && !s.contains('"') {
        format!("\"{s}\"")
    } else {
        format!("'{}'", s.replace('\'', "\\'"))
    }
}

fn conflict(msg: &str, location: Option<&str>) -> Response {
    let mut r = Response::text(409, msg).with_header("Content-Type", "text/plain");
    if let Some(l) = location {
        r.headers.set("Content-Location", l);
    }
    r
}

impl Symlink {
    /// Follows `resp` (the answer for `req`) while it is a link.
    async fn follow(&self, next: Next<'_>, req: &SwiftRequest, resp: Response) -> Response {
        let mut last = None;
        self.resolve(next, req, resp, None, true, &mut last)
            .await
            .unwrap_or_else(|r| r)
    }

    /// Swift's `_recursive_get_head`: follows links from `resp`, checking
    /// static-link ETags on the way. Soft links are only followed when
    /// `follow_soft`. `last` is the last target path requested.
    async fn resolve(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        mut resp: Response,
        mut target_etag: Option<String>,
        follow_soft: bool,
        last: &mut Option<String>,
    ) -> Result<Response, Response> {
        let mut hops = 0u32;
        let mut cur = req.clone();
        loop {
            let link = resp.headers.get(SYS_OBJ).map(str::to_string);
            let link_etag = resp.headers.get(SYS_ETAG).map(str::to_string);
            let Some(link) = link.filter(|_| link_etag.is_some() || follow_soft) else {
                let final_etag = resp.headers.get("etag").map(normalize_etag);
                if let (Some(f), Some(t)) = (final_etag, target_etag.as_deref()) {
                    if !f.is_empty() && f != t {
                        return Err(conflict(
                            &format!(
                                "Object Etag {} does not match X-Symlink-Target-Etag header {}",
                                py_repr(f),
                                py_repr(t)
                            ),
                            last.as_deref(),
                        ));
                    }
                }
                if let Some(l) = last.as_deref() {
                    resp.headers.set("Content-Location", l);
                }
                return Ok(resp);
            };
            let found = link_etag.clone().or_else(|| {
                resp.headers
                    .get("etag")
                    .map(|e| normalize_etag(e).to_string())
            });
            if let Some(t) = target_etag.as_deref() {
                if found.as_deref() != Some(t) {
                    return Err(conflict(
                        "X-Symlink-Target-Etag headers do not match",
                        last.as_deref(),
                    ));
                }
            }
            if hops >= self.symloop_max {
                return Err(conflict(
                    &format!(
                        "Too many levels of symbolic links, maximum allowed is {}",
                        self.symloop_max
                    ),
                    None,
                ));
            }
            let account_q = resp
                .headers
                .get(SYS_ACCT)
                .map(str::to_string)
                .unwrap_or_else(|| quote(&cur.path.account));
            let path = format!(
                "/{}/{account_q}/{}",
                cur.path.version,
                link.trim_start_matches('/')
            );
            *last = Some(path);
            let (c, o) = match container_object(&link, "bad symlink target") {
                Ok(co) => co,
                Err(_) => return Err(Response::status(500)),
            };
            let mut sub = cur.clone();
            sub.retarget(&unquote(&account_q), &c, &o);
            sub.preauthed = resp.headers.get(ALLOW_RESERVED).is_some_and(truthy);
            sub.source = Some("SYM");
            if !resp.headers.get(SYMLOOP_EXTEND).is_some_and(truthy) {
                hops += 1;
            }
            target_etag = link_etag;
            resp = next.call_empty(&sub).await;
            cur = sub;
        }
    }

    /// A link PUT: validates the target, checks a static link's target,
    /// and stores the link with its target in sysmeta and listing row.
    async fn put(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        body: &mut BodySource<'_, '_>,
    ) -> Result<Response, Response> {
        let zero_body = || {
            Response::text(400, "Symlink requests require a zero byte body")
                .with_header("Content-Type", "text/plain")
        };
        let has_body = match req.head.framing {
            Framing::Length(n) => n > 0,
            Framing::Chunked => !body
                .read_to_end(0)
                .await
                .map_err(|_| zero_body())?
                .is_empty(),
            Framing::None => false,
        };
        if has_body {
            return Err(zero_body());
        }
        let msg = "X-Symlink-Target header must be of the form <container name>/<object name>";
        let raw = req.headers().get(TGT_OBJ).unwrap_or("");
        if unquote(raw).starts_with('/') {
            return Err(Response::text(412, msg).with_header("Content-Type", "text/plain"));
        }
        let (c, o) = container_object(raw, msg)?;
        let mut put = req.clone();
        put.head.framing = Framing::Length(0);
        put.head.headers.remove("transfer-encoding");
        put.head.headers.set("Content-Length", "0");
        let h = &mut put.head.headers;
        // Static-link sysmeta set by a module (versioning) is kept, as
        // Swift keeps it; clients cannot send sysmeta.
        h.remove(SYS_ACCT);
        h.set(SYS_OBJ, quote(&format!("{c}/{o}")));
        h.remove(TGT_OBJ);
        let account = match h.get(TGT_ACCT).map(str::to_string) {
            Some(a) => {
                let a = name_format(&a, "Account")?;
                h.set(SYS_ACCT, quote(&a));
                h.remove(TGT_ACCT);
                a
            }
            None => req.path.account.clone(),
        };
        if (account.as_str(), c.as_str(), o.as_str())
            == (req.path.account.as_str(), req.container(), req.object())
        {
            return Err(Response::text(400, "Symlink cannot target itself")
                .with_header("Content-Type", "text/plain"));
        }
        let etag = h
            .get(TGT_ETAG)
            .map(|e| normalize_etag(e).to_string())
            .filter(|e| !e.is_empty());
        h.remove(TGT_ETAG);
        if let Some(e) = &etag {
            if e.contains([';', '"', '\\']) {
                return Err(Response::text(400, "Bad X-Symlink-Target-Etag format")
                    .with_header("Content-Type", "text/plain"));
            }
        }
        if etag.is_none() && h.get("content-type").is_none_or(str::is_empty) {
            h.set("Content-Type", "application/symlink");
        }
        if let Some(e) = &etag {
            self.check_static(next, req, &mut put, &account, &c, &o, e)
                .await?;
        }
        let h = &mut put.head.headers;
        // The listing row: the link's own etag (or one a module set), then
        // the target, which listings publish as symlink_path and friends.
        let base = h.get(OVERRIDE_ETAG).unwrap_or(MD5_EMPTY);
        let mut parts: Vec<String> = base
            .split(';')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.starts_with("symlink_target"))
            .collect();
        parts.push(format!("symlink_target={}", h.get(SYS_OBJ).unwrap_or("")));
        if let Some(a) = h.get(SYS_ACCT) {
            parts.push(format!("symlink_target_account={a}"));
        }
        if let Some(e) = h.get(SYS_ETAG) {
            parts.push(format!("symlink_target_etag={e}"));
            parts.push(format!(
                "symlink_target_bytes={}",
                h.get(SYS_BYTES).unwrap_or("0")
            ));
        }
        h.set(OVERRIDE_ETAG, parts.join("; "));
        Ok(next.call(&put, &mut BodySource::Empty).await)
    }

    /// A static link's target must exist with the given ETag; its size,
    /// type and SLO etag are recorded with the link.
    #[allow(clippy::too_many_arguments)]
    async fn check_static(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        put: &mut SwiftRequest,
        account: &str,
        container: &str,
        object: &str,
        etag: &str,
    ) -> Result<(), Response> {
        let head = req.sub("HEAD", account, Some(container), Some(object), "", "SYM");
        let mut last = Some(format!(
            "/{}/{}",
            req.path.version,
            quote(&format!("{account}/{container}/{object}"))
        ));
        let first = next.call_empty(&head).await;
        let resp = self
            .resolve(next, &head, first, Some(etag.to_string()), false, &mut last)
            .await?;
        if resp.status == 404 {
            return Err(conflict("X-Symlink-Target does not exist", last.as_deref()));
        }
        if !is_success(resp.status) {
            return Err(Response::status(resp.status));
        }
        let h = &mut put.head.headers;
        let rh = &resp.headers;
        if !h.contains(OVERRIDE_ETAG) {
            if let Some(v) = rh.get(OVERRIDE_ETAG) {
                let params = v.split_once(';').map(|(_, p)| p).unwrap_or("");
                let v = if params.is_empty() {
                    MD5_EMPTY.to_string()
                } else {
                    format!("{MD5_EMPTY};{params}")
                };
                h.set(OVERRIDE_ETAG, v);
            } else if let Some(s) = rh.get(super::slo::SLO_ETAG) {
                h.set(OVERRIDE_ETAG, format!("{MD5_EMPTY}; slo_etag={s}"));
            }
        }
        let bytes = rh
            .get(super::slo::SLO_SIZE)
            .map(str::to_string)
            .unwrap_or_else(|| super::util::content_length(&resp).to_string());
        h.set(SYS_BYTES, bytes);
        h.set(SYS_ETAG, etag);
        if h.get("content-type").is_none_or(str::is_empty) {
            if let Some(ct) = rh.get("content-type") {
                h.set("Content-Type", ct);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_and_reprs_look_like_swift() {
        assert_eq!(normalize_etag("\"abc\""), "abc");
        assert_eq!(normalize_etag("abc"), "abc");
        assert_eq!(normalize_etag("\""), "\"");
        assert_eq!(py_repr("not-it"), "'not-it'");
    }

    #[test]
    fn link_reads_are_transformed_only_for_links() {
        let s = Symlink::default();
        let mut r = Response::status(200);
        assert_eq!(s.symloop_max, 2);
        r.headers.set(SYS_OBJ, "c/o");
        let r = sysmeta_to_user(r);
        assert_eq!(r.headers.get(TGT_OBJ), Some("c/o"));
        assert!(!r.headers.contains(SYS_OBJ));
    }
}
