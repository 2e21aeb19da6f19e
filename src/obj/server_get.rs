//! The object server's GET and HEAD: the newest version's headers, and its
//! body whole, as one range or as several (multipart), after the
//! conditional headers are weighed.

use crate::common::timestamp::Timestamp;
use crate::http::conditional::{self, Precondition};
use crate::http::range::{self, RangeOutcome};
use crate::http::response::{FileBody, Part};
use crate::http::{Body, Headers, Response};

use super::diskfile::{DiskFile, ObjectState, OpenObject};
use super::metadata::Metadata;
use super::server::{
    error_response, is_expired, is_stored_header, ObjRequest, ObjectServer, RAW_KEY,
};

impl ObjectServer {
    pub(super) async fn get(&self, df: &impl DiskFile, req: &ObjRequest<'_>) -> Response {
        let obj = match df.open().await {
            Ok(ObjectState::Present(o)) => o,
            Ok(_) => return Response::status(404),
            Err(e) => return error_response(&e),
        };
        // A body response holds its own reference to the file (closed once
        // sent); an answer without one closes it here.
        let resp = if is_expired(&obj.metadata) {
            Response::status(404)
        } else {
            Self::read_response(&obj, req)
        };
        obj.close().await;
        resp
    }

    /// The answer to a GET or HEAD of the open object `obj`.
    fn read_response(obj: &OpenObject, req: &ObjRequest<'_>) -> Response {
        let etag = obj.metadata.get("ETag").cloned().unwrap_or_default();
        let ts = obj.newest_timestamp();
        let mut headers = object_headers(obj, ts);
        // 304 and 412 keep the object's headers (as Swift's do), so the
        // proxy's large-object and symlink modules still see what it is.
        match conditional::evaluate(req.headers, &etag, ts.ceil_secs(), true) {
            Precondition::Proceed => {}
            Precondition::NotModified => {
                let mut r = Response::empty(304);
                r.headers = headers;
                r.headers.set("Content-Length", "0");
                return r;
            }
            Precondition::Failed => {
                let mut r = Response::status(412);
                for (k, v) in headers.iter() {
                    if !k.eq_ignore_ascii_case("content-type") {
                        r.headers.set(k, v);
                    }
                }
                return r;
            }
        }
        let len = obj.content_length;
        let ranges = req
            .headers
            .get("range")
            .filter(|_| if_range_holds(req.headers, &etag, ts.ceil_secs()))
            .filter(|_| !ignore_range(req.headers, &obj.metadata))
            .and_then(range::parse_range)
            .map(|spec| range::ranges_for_length(&spec, len))
            .unwrap_or(RangeOutcome::Full);
        let file = obj.file.clone();
        let head = obj.head.clone();
        let mut resp = match ranges {
            RangeOutcome::Full => {
                let mut r = Response::empty(200);
                r.headers = headers;
                r.body = Body::File(FileBody {
                    file,
                    head: head.clone(),
                    parts: vec![Part::Range { offset: 0, len }],
                });
                r
            }
            RangeOutcome::Unsatisfiable => {
                let mut r = Response::status(416);
                r.headers.set("Content-Range", format!("bytes */{len}"));
                r.headers.set("Etag", etag);
                r.headers.set("Accept-Ranges", "bytes");
                r
            }
            RangeOutcome::Ranges(rs) if rs.len() == 1 => {
                let (start, end) = rs[0];
                headers.set("Content-Range", range::content_range(start, end, len));
                let mut r = Response::empty(206);
                r.headers = headers;
                r.body = Body::File(FileBody {
                    file,
                    head: head.clone(),
                    parts: vec![Part::Range {
                        offset: start,
                        len: end - start,
                    }],
                });
                r
            }
            RangeOutcome::Ranges(rs) => {
                let boundary = range::multipart_boundary();
                let ctype = headers
                    .get("Content-Type")
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let mut parts = Vec::with_capacity(rs.len() * 2 + 1);
                for &(start, end) in &rs {
                    parts.push(Part::Bytes(
                        range::multipart_part_header(&boundary, &ctype, start, end, len)
                            .into_bytes(),
                    ));
                    parts.push(Part::Range {
                        offset: start,
                        len: end - start,
                    });
                    parts.push(Part::Bytes(range::MULTIPART_PART_END.as_bytes().to_vec()));
                }
                parts.push(Part::Bytes(
                    range::multipart_trailer(&boundary).into_bytes(),
                ));
                headers.set(
                    "Content-Type",
                    format!("multipart/byteranges;boundary={boundary}"),
                );
                let mut r = Response::empty(206);
                r.headers = headers;
                r.body = Body::File(FileBody { file, head, parts });
                r
            }
        };
        resp.latin1_headers = obj
            .metadata
            .get(RAW_KEY)
            .map(|l| l.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        resp
    }
}

/// `If-Range`: a Range applies only when the validator still matches.
fn if_range_holds(headers: &Headers, etag: &str, last_modified: i64) -> bool {
    match headers.get("if-range") {
        None => true,
        Some(v) => {
            let v = v.trim();
            if v.starts_with('"') || !v.contains(' ') {
                v.trim_matches('"') == etag
            } else {
                httpdate::parse_http_date(v)
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .is_some_and(|d| d.as_secs() as i64 >= last_modified)
            }
        }
    }
}

/// Swift's `X-Backend-Ignore-Range-If-Metadata-Present`: the proxy's
/// manifest and symlink modules ask for the whole stored object when it
/// carries one of the named metadata keys, since the client's range is
/// about the object those describe.
fn ignore_range(headers: &Headers, meta: &Metadata) -> bool {
    headers
        .get("x-backend-ignore-range-if-metadata-present")
        .is_some_and(|names| {
            names
                .split(',')
                .map(str::trim)
                .any(|n| meta.keys().any(|k| k.eq_ignore_ascii_case(n)))
        })
}

/// The headers a GET or HEAD of `obj` returns.
fn object_headers(obj: &OpenObject, ts: Timestamp) -> Headers {
    let m = &obj.metadata;
    let mut h = Headers::with_capacity(m.len() + 5, 512);
    h.set(
        "Content-Type",
        m.get("Content-Type")
            .map_or("application/octet-stream", String::as_str),
    );
    h.set("Etag", m.get("ETag").map_or("", String::as_str));
    h.set("Last-Modified", ts.http_date());
    h.set("X-Timestamp", ts.normal());
    h.set("Accept-Ranges", "bytes");
    for (k, v) in m {
        if is_stored_header(k) {
            h.set(k, v);
        }
    }
    h
}
