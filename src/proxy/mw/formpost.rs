//! FormPost (Swift's `formpost` middleware): a browser uploads files
//! straight into a container with an HTML form (`multipart/form-data`
//! POST), authorized by an HMAC of the form's settings keyed with the
//! account's or container's `Temp-URL-Key`.
//!
//! Each file part streams into its own object PUT; nothing is held whole.

use std::cell::Cell;
use std::io;
use std::rc::Rc;

use hmac::Mac;

use crate::common::timestamp::Timestamp;
use crate::db::AccountState;
use crate::http::multipart::{parse_params, to_io, Multipart};
use crate::http::stream::{BodyStream, LocalBoxFuture};
use crate::http::{Body, BodySource, Response};

use super::tempurl::{const_eq, extract_digest, keys_from_meta, ALLOWED_DIGESTS};
use super::util::is_success;
use super::{quote, Feature, Next, SwiftRequest};

/// Longest form field value kept (Swift's `MAX_VALUE_LENGTH`).
const MAX_VALUE_LENGTH: usize = 4096;

/// The formpost feature module.
pub struct FormPost;

impl Feature for FormPost {
    fn name(&self) -> &'static str {
        "formpost"
    }

    fn claims(&self, req: &SwiftRequest) -> bool {
        req.source.is_none()
            && req.method() == "POST"
            && req.headers().get("content-type").is_some_and(|t| {
                t.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
            })
    }

    fn handle<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        body: &'a mut BodySource<'_, '_>,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(async move {
            let ctype = req.headers().get("content-type").unwrap_or("");
            let (value, params) = parse_params(ctype);
            let boundary = params
                .iter()
                .find(|(k, _)| k == "boundary")
                .map(|(_, v)| v.clone());
            match boundary {
                Some(b) if value == "multipart/form-data" => {
                    match translate(next, req, body, &b).await {
                        Ok(r) => r,
                        Err(e) => e.response(),
                    }
                }
                _ => next.call(req, body).await,
            }
        })
    }
}

/// Why a form was refused.
#[derive(Debug)]
enum FormError {
    /// 400 "FormPost: invalid starting boundary".
    BadStart,
    /// 400 with the message.
    Invalid(String),
    /// 401 with the message (title-cased, as Swift does).
    Unauthorized(&'static str),
    /// The request body failed.
    Body(u16),
}

impl FormError {
    fn response(self) -> Response {
        let plain = |status: u16, text: String| {
            let mut r = Response::empty(status);
            r.headers.set("Content-Type", "text/plain");
            r.body = Body::Bytes(text.into_bytes());
            r
        };
        match self {
            FormError::BadStart => plain(400, "FormPost: invalid starting boundary".into()),
            FormError::Invalid(m) => plain(400, format!("FormPost: {m}")),
            FormError::Unauthorized(m) => Response::text(401, &format!("FormPost: {}", title(m))),
            FormError::Body(s) => Response::status(s),
        }
    }
}

impl From<crate::http::multipart::MultipartError> for FormError {
    fn from(e: crate::http::multipart::MultipartError) -> Self {
        use crate::http::multipart::MultipartError as M;
        match e {
            M::BadStart => FormError::BadStart,
            M::Malformed(_) => FormError::Invalid("malformed form".into()),
            M::Body(b) => FormError::Body(b.status()),
        }
    }
}

/// Python's `str.title()` for ASCII messages.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_ascii_alphabetic() {
            out.push(if start {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            });
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

async fn keys(next: Next<'_>, req: &SwiftRequest) -> Vec<String> {
    let proxy = next.proxy();
    let p = &req.path;
    let Some(container) = p.container.as_deref() else {
        return Vec::new();
    };
    let mut keys = match proxy.account_state(&p.account).await {
        Ok(AccountState::Active(info)) => keys_from_meta(
            info.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            "x-account-meta-",
        ),
        _ => Vec::new(),
    };
    if let Ok(Some(info)) = proxy.container_info(&p.account, container).await {
        if !info.deleted {
            keys.extend(keys_from_meta(
                info.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                "x-container-meta-",
            ));
        }
    }
    keys
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn int_attr(attrs: &[(String, String)], name: &str, what: &str) -> Result<i64, FormError> {
    match attr(attrs, name).filter(|v| !v.is_empty()) {
        None => Ok(0),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map_err(|_| FormError::Invalid(format!("{what} not an integer"))),
    }
}

/// Checks the form's signature over path, redirect, max_file_size,
/// max_file_count and expires.
fn check_signature(
    path: &str,
    attrs: &[(String, String)],
    keys: &[String],
) -> Result<(), FormError> {
    if keys.is_empty() {
        return Err(FormError::Unauthorized("invalid signature"));
    }
    if int_attr(attrs, "expires", "expired")? < Timestamp::now().secs() {
        return Err(FormError::Unauthorized("form expired"));
    }
    let body = format!(
        "{}\n{}\n{}\n{}\n{}",
        path,
        attr(attrs, "redirect").unwrap_or(""),
        attr(attrs, "max_file_size")
            .filter(|v| !v.is_empty())
            .unwrap_or("0"),
        attr(attrs, "max_file_count")
            .filter(|v| !v.is_empty())
            .unwrap_or("0"),
        attr(attrs, "expires")
            .filter(|v| !v.is_empty())
            .unwrap_or("0"),
    );
    let (digest, sig) = extract_digest(attr(attrs, "signature").unwrap_or(""))
        .ok_or(FormError::Unauthorized("invalid signature"))?;
    if !ALLOWED_DIGESTS.contains(&digest.as_str()) {
        return Err(FormError::Unauthorized("invalid signature"));
    }
    let mut ok = false;
    for key in keys {
        let mac = match digest.as_str() {
            "sha1" => hmac_hex::<hmac::Hmac<sha1::Sha1>>(key, &body),
            "sha256" => hmac_hex::<hmac::Hmac<sha2::Sha256>>(key, &body),
            _ => hmac_hex::<hmac::Hmac<sha2::Sha512>>(key, &body),
        };
        ok |= const_eq(&mac, &sig);
    }
    if ok {
        Ok(())
    } else {
        Err(FormError::Unauthorized("invalid signature"))
    }
}

fn hmac_hex<M: Mac + hmac::digest::KeyInit>(key: &str, body: &str) -> String {
    let mut m = <M as Mac>::new_from_slice(key.as_bytes()).expect("hmac accepts any key length");
    m.update(body.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// One file part as a PUT body, refusing more than `cap` bytes.
struct PartStream<'m, 's, 'a, 'c> {
    mp: &'m mut Multipart<'s, 'a, 'c>,
    cap: u64,
    sent: u64,
    exceeded: Rc<Cell<bool>>,
}

impl BodyStream for PartStream<'_, '_, '_, '_> {
    fn read(&mut self, buf: Vec<u8>) -> LocalBoxFuture<'_, (io::Result<usize>, Vec<u8>)> {
        Box::pin(async move {
            let (res, buf) = self.mp.read(buf).await;
            match res {
                Ok(n) => {
                    self.sent += n as u64;
                    if self.sent > self.cap {
                        self.exceeded.set(true);
                        return (Err(io::Error::other("max_file_size exceeded")), buf);
                    }
                    (Ok(n), buf)
                }
                Err(e) => (Err(to_io(e)), buf),
            }
        })
    }
}

async fn translate(
    next: Next<'_>,
    req: &SwiftRequest,
    body: &mut BodySource<'_, '_>,
    boundary: &str,
) -> Result<Response, FormError> {
    let keys = keys(next, req).await;
    let path = crate::proxy::path::decode(&req.head.raw_path).unwrap_or_default();
    let mut mp = Multipart::new(body, boundary);
    let mut attrs: Vec<(String, String)> = Vec::new();
    let mut status: Option<u16> = None;
    let mut message = "";
    let mut sub_headers: Vec<(String, String)> = Vec::new();
    let mut sub_body: Vec<u8> = Vec::new();
    let mut file_count = 0i64;
    while let Some(headers) = mp.next_part().await? {
        let h = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let (disp, dparams) = parse_params(&h("content-disposition").unwrap_or_default());
        let filename = dparams
            .iter()
            .find(|(k, _)| k == "filename")
            .map(|(_, v)| v.clone());
        if disp == "form-data" && filename.as_deref().is_some_and(|f| !f.is_empty()) {
            file_count += 1;
            if file_count > int_attr(&attrs, "max_file_count", "max_file_count")? {
                status = Some(400);
                message = "max file count exceeded";
                break;
            }
            check_signature(&path, &attrs, &keys)?;
            let max_size = int_attr(&attrs, "max_file_size", "max_file_size")?.max(0) as u64;
            let name = filename.unwrap_or_default();
            let mut object = req.object().to_string();
            object.push_str(&name);
            let mut sub = req.sub(
                "PUT",
                &req.path.account,
                Some(req.container()),
                Some(&object),
                "",
                "FP",
            );
            sub.preauthed = true;
            sub.set_body_chunked();
            if let Some(v) = attr(&attrs, "x_delete_at") {
                let at = v.trim().parse::<i64>().map_err(|_| {
                    FormError::Invalid(
                        "x_delete_at not an integer: Unix timestamp required.".into(),
                    )
                })?;
                sub.head.headers.set("X-Delete-At", at.to_string());
            }
            if let Some(v) = attr(&attrs, "x_delete_after") {
                let after = v.trim().parse::<i64>().map_err(|_| {
                    FormError::Invalid(
                        "x_delete_after not an integer: Number of seconds required.".into(),
                    )
                })?;
                sub.head.headers.set("X-Delete-After", after.to_string());
            }
            let ctype = attr(&attrs, "content-type")
                .map(str::to_string)
                .or_else(|| h("content-type"));
            if let Some(t) = ctype {
                let t = if t.is_empty() {
                    "application/octet-stream".to_string()
                } else {
                    t
                };
                sub.head.headers.set("Content-Type", t);
            }
            if let Some(enc) = attr(&attrs, "content-encoding")
                .map(str::to_string)
                .or_else(|| h("content-encoding"))
            {
                sub.head.headers.set("Content-Encoding", enc);
            }
            let exceeded = Rc::new(Cell::new(false));
            let resp = {
                let stream = PartStream {
                    mp: &mut mp,
                    cap: max_size,
                    sent: 0,
                    exceeded: exceeded.clone(),
                };
                let mut src = BodySource::Stream(Box::new(stream));
                next.call(&sub, &mut src).await
            };
            if exceeded.get() {
                return Err(FormError::Invalid("max_file_size exceeded".into()));
            }
            sub_headers = resp
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            sub_body = match &resp.body {
                Body::Bytes(b) => b.clone(),
                _ => Vec::new(),
            };
            status = Some(resp.status);
            if !is_success(resp.status) {
                break;
            }
        } else {
            let mut data = Vec::new();
            loop {
                let (res, b) = mp.read(Vec::with_capacity(8192)).await;
                let n = res?;
                if n == 0 {
                    break;
                }
                let room = MAX_VALUE_LENGTH.saturating_sub(data.len());
                data.extend_from_slice(&b[..n.min(room)]);
            }
            if let Some((_, name)) = dparams.iter().find(|(k, _)| k == "name") {
                let v = String::from_utf8_lossy(&data);
                let v = v.trim_end_matches(['\r', '\n', '-']).to_string();
                attrs.push((name.to_ascii_lowercase(), v));
            }
        }
    }
    let status = match status {
        Some(s) => s,
        None => {
            message = "no files to process";
            400
        }
    };
    let status_text = crate::proxy::mw::bulk::status_line(status);
    let mut resp = match attr(&attrs, "redirect").filter(|r| !r.is_empty()) {
        None => {
            let mut text = status_text.clone().into_bytes();
            if !message.is_empty() {
                text = format!("{status_text}\r\nFormPost: {}", title(message)).into_bytes();
            }
            if !is_success(status) && !sub_body.is_empty() {
                text = sub_body;
            }
            let mut r = Response::empty(status);
            r.headers.set("Content-Type", "text/plain");
            r.body = Body::Bytes(text);
            r
        }
        Some(redirect) => {
            let mut location = redirect.to_string();
            location.push(if location.contains('?') { '&' } else { '?' });
            location.push_str(&format!("status={status}&message={}", quote(message)));
            let body = format!(
                "<html><body><p><a href=\"{location}\">Click to continue...</a></p></body></html>"
            );
            let mut r = Response::empty(303);
            r.headers.set("Location", location);
            r.headers.set("Content-Type", "text/html; charset=UTF-8");
            r.body = Body::Bytes(body.into_bytes());
            r
        }
    };
    for (k, v) in sub_headers {
        if k.to_ascii_lowercase().starts_with("access-control") {
            resp.headers.set(k, v);
        }
    }
    Ok(resp)
}

/// The `/info` entry.
pub fn info() -> serde_json::Value {
    serde_json::json!({
        "allowed_digests": ALLOWED_DIGESTS,
        "deprecated_digests": super::tempurl::DEPRECATED_DIGESTS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_title_cased_like_python() {
        assert_eq!(title("invalid signature"), "Invalid Signature");
        assert_eq!(title("max file count exceeded"), "Max File Count Exceeded");
    }

    #[test]
    fn signatures_cover_the_form_settings() {
        let key = "k".to_string();
        let expires = (Timestamp::now().secs() + 100).to_string();
        let body = format!("/v1/a/c/\nhttp://r\n100\n2\n{expires}");
        let sig = hmac_hex::<hmac::Hmac<sha2::Sha256>>(&key, &body);
        let mut attrs = vec![
            ("redirect".to_string(), "http://r".to_string()),
            ("max_file_size".to_string(), "100".to_string()),
            ("max_file_count".to_string(), "2".to_string()),
            ("expires".to_string(), expires),
            ("signature".to_string(), sig),
        ];
        assert!(check_signature("/v1/a/c/", &attrs, std::slice::from_ref(&key)).is_ok());
        assert!(check_signature("/v1/a/d/", &attrs, std::slice::from_ref(&key)).is_err());
        attrs[1].1 = "1000".into();
        assert!(check_signature("/v1/a/c/", &attrs, &[key]).is_err());
    }
}
