//! Reading a static large object: a GET or HEAD of a manifest becomes the
//! large object's answer (Swift's `SloGetContext`). The body streams
//! segment by segment; `Range` selects bytes across segments (several
//! ranges come back as `multipart/byteranges`), and `?part-number=N`
//! selects the manifest's Nth segment.

use base64::Engine;
use md5::{Digest, Md5};
use serde_json::Value;

use crate::http::range;
use crate::http::stream::LocalBoxFuture;
use crate::http::{Body, Headers, Response};

use super::segments::{
    precondition_answer, requested_ranges, Segment, SegmentSource, SegmentStream, Span,
};
use super::slo::{fetch_manifest, split_name, Slo, MAX_DEPTH, SLO_ETAG, SLO_SIZE};
use super::slo_manifest::{stored_range, to_raw};
use super::util::{is_success, read_body};
use super::{Next, SwiftRequest};

/// The body of a 416 for a part number past the last segment.
const PART_UNSATISFIABLE: &str = "The requested part number is not satisfiable";

/// One flattened piece of the large object.
#[derive(Debug, Clone)]
pub(super) struct Piece {
    source: SegmentSource,
    first: u64,
    len: u64,
}

/// Keeps the bytes `start..end` of `pieces`.
fn clip(pieces: &[Piece], start: u64, end: u64) -> Vec<Piece> {
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
            source: p.source.clone(),
        });
    }
    out
}

/// The segments that read bytes `start..end` of the object.
fn segments_for(pieces: &[Piece], start: u64, end: u64) -> impl Iterator<Item = Segment> {
    clip(pieces, start, end)
        .into_iter()
        .filter(|p| p.len > 0)
        .map(|p| Segment {
            first: p.first,
            last: Some(p.first + p.len - 1),
            source: p.source,
        })
}

/// Swift's `get_valid_part_num`: the `part-number` parameter read as
/// Python's `int()` reads it (numbers too large for u64 saturate), or the
/// 400 for a value that is not a positive integer, or for a part number
/// combined with a `Range`.
pub(super) fn part_number(req: &SwiftRequest) -> Result<Option<u64>, Response> {
    let Some(raw) = req.param("part-number") else {
        return Ok(None);
    };
    let invalid = || Response::text(400, "Part number must be an integer greater than 0");
    let t = raw.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return Err(invalid());
    }
    let digits: String = t.chars().filter(|&c| c != '_').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let n = digits.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    });
    if n == 0 {
        return Err(invalid());
    }
    if req.headers().contains("range") {
        return Err(Response::text(
            400,
            "Range requests are not supported with part number queries",
        ));
    }
    Ok(Some(n))
}

/// How many bytes of the large object one manifest entry contributes
/// (Swift's `segment_length`).
fn segment_length(s: &Value) -> u64 {
    if let Some(d) = s.get("data").and_then(Value::as_str) {
        return base64::engine::general_purpose::STANDARD
            .decode(d)
            .map_or(0, |b| b.len() as u64);
    }
    match s
        .get("range")
        .and_then(Value::as_str)
        .and_then(stored_range)
    {
        Some((a, b)) => b + 1 - a,
        None => s.get("bytes").and_then(Value::as_u64).unwrap_or(0),
    }
}

/// The ETag of a manifest written without the SLO ETag sysmeta (Swift's
/// `update_from_segments`).
fn legacy_etag(segs: &[Value]) -> String {
    let mut md5 = Md5::new();
    for s in segs {
        if let Some(d) = s.get("data").and_then(Value::as_str) {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(d)
                .unwrap_or_default();
            md5.update(hex::encode(Md5::digest(&raw)).as_bytes());
            continue;
        }
        let hash = s.get("hash").and_then(Value::as_str).unwrap_or("");
        match s.get("range").and_then(Value::as_str) {
            Some(r) => md5.update(format!("{hash}:{r};").as_bytes()),
            None => md5.update(hash.as_bytes()),
        }
    }
    hex::encode(md5.finalize())
}

/// The bytes of the object a response body covers.
enum Selection {
    /// All of it, or one span `start..end` with its status.
    One { start: u64, end: u64 },
    /// Several ranges, framed as `multipart/byteranges`.
    Many(Vec<(u64, u64)>),
}

impl Slo {
    /// The stored manifest's segments as pieces, nested manifests
    /// expanded. With `wanted` (byte ranges `start..end` of this manifest),
    /// a nested manifest outside all of them is not fetched: it becomes a
    /// placeholder of its length that the ranges never reach (as Swift
    /// skips unneeded sub-manifests).
    fn flatten<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        segs: Vec<Value>,
        depth: usize,
        wanted: Option<&'a [(u64, u64)]>,
    ) -> LocalBoxFuture<'a, Result<Vec<Piece>, Response>> {
        Box::pin(async move {
            // The top manifest is depth 0: the tenth nested one is the
            // last Swift reads (its error body is the plain 409 page).
            if depth >= MAX_DEPTH {
                tracing::info!(path = %req.head.raw_path, "SLO: max recursion depth exceeded");
                return Err(Response::status(409));
            }
            let mut out = Vec::new();
            let mut offset = 0u64;
            for s in segs {
                let seg_len = segment_length(&s);
                let (seg_start, seg_end) = (offset, offset + seg_len);
                offset = seg_end;
                let unwanted =
                    wanted.is_some_and(|rs| !rs.iter().any(|&(a, b)| a < seg_end && seg_start < b));
                if unwanted && s.get("sub_slo").and_then(Value::as_bool) == Some(true) {
                    out.push(Piece {
                        first: 0,
                        len: seg_len,
                        source: SegmentSource::Data(bytes::Bytes::new()),
                    });
                    continue;
                }
                if let Some(d) = s.get("data").and_then(Value::as_str) {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(d)
                        .unwrap_or_default();
                    out.push(Piece {
                        first: 0,
                        len: bytes.len() as u64,
                        source: SegmentSource::Data(bytes.into()),
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
                    let inner = self.flatten(next, req, sub, depth + 1, None).await?;
                    let inner = match range {
                        Some((a, b)) => clip(&inner, a, b + 1),
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
    pub(super) async fn expand(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        mut manifest: Response,
    ) -> Response {
        let part = match part_number(req) {
            Ok(p) => p,
            Err(mut r) => {
                if req.method() == "HEAD" {
                    r.body = Body::Empty;
                }
                return r;
            }
        };
        let is_get = req.method() == "GET";
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
        // A HEAD of a manifest with its size and ETag in sysmeta needs no
        // segment listing, unless it asks for one part.
        let legacy = sys_etag.is_none() || sys_size.is_none();
        let body = std::mem::replace(&mut manifest.body, Body::Empty);
        let segs = if is_get && manifest.status == 200 {
            // The GET that found the manifest has read all of it.
            match read_body(body, 64 * 1024 * 1024).await {
                Ok(b) => Some(serde_json::from_slice(&b).unwrap_or_default()),
                Err(e) => {
                    tracing::error!("SLO manifest read: {e}");
                    return Response::status(500);
                }
            }
        } else if is_get || legacy || part.is_some() {
            match fetch_manifest(next, req, &req.path.account, req.container(), req.object()).await
            {
                Ok((_, s)) => Some(s),
                Err(r) => return r,
            }
        } else {
            None
        };
        let lengths: Vec<u64> = segs.iter().flatten().map(segment_length).collect();
        let total = sys_size.unwrap_or_else(|| lengths.iter().sum());
        let etag = match (sys_etag, &segs) {
            (Some(e), _) => e,
            (None, Some(s)) => legacy_etag(s),
            (None, None) => String::new(),
        };
        headers.set("Etag", format!("\"{etag}\""));
        if let Some(r) = precondition_answer(req.headers(), &mut headers, &etag, last_modified) {
            return r;
        }
        let mut resp = Response::empty(200);
        resp.latin1_headers = manifest.latin1_headers;
        let selection = if let Some(n) = part {
            headers.set("X-Parts-Count", lengths.len().to_string());
            let Some(len) = usize::try_from(n - 1).ok().and_then(|i| lengths.get(i)) else {
                headers.set("Content-Range", range::unsatisfied_content_range(total));
                resp.status = 416;
                resp.headers = headers;
                if is_get {
                    resp.body = Body::Bytes(PART_UNSATISFIABLE.as_bytes().to_vec());
                } else {
                    resp.headers.set("Content-Length", "0");
                }
                return resp;
            };
            let start: u64 = lengths[..(n - 1) as usize].iter().sum();
            let end = start + len;
            headers.set("Content-Range", range::content_range(start, end, total));
            // A part-number HEAD answers 206 too: its Content-Length is
            // the part's, not the object's.
            resp.status = 206;
            Selection::One { start, end }
        } else if !is_get {
            // Ranges do not apply to HEAD (as swob).
            Selection::One {
                start: 0,
                end: total,
            }
        } else {
            match requested_ranges(req.headers().get("range"), total) {
                Err(r) => return r,
                Ok(Span::Whole) => Selection::One {
                    start: 0,
                    end: total,
                },
                Ok(Span::One(start, end)) => {
                    headers.set("Content-Range", range::content_range(start, end, total));
                    resp.status = 206;
                    Selection::One { start, end }
                }
                Ok(Span::Many(rs)) => {
                    resp.status = 206;
                    Selection::Many(rs)
                }
            }
        };
        resp.headers = headers;
        if !is_get {
            if let Selection::One { start, end } = selection {
                resp.headers
                    .set("Content-Length", (end - start).to_string());
            }
            return resp;
        }
        let wanted = match &selection {
            Selection::One { start, end } => vec![(*start, *end)],
            Selection::Many(rs) => rs.clone(),
        };
        let pieces = match self
            .flatten(next, req, segs.unwrap_or_default(), 0, Some(&wanted))
            .await
        {
            Ok(p) => p,
            Err(r) => return r,
        };
        let (segments, len) = match selection {
            Selection::One { start, end } => {
                (segments_for(&pieces, start, end).collect(), end - start)
            }
            Selection::Many(rs) => multipart(&mut resp.headers, &pieces, &rs, total),
        };
        SegmentStream::new(next.entry(), req, "SLO", segments)
            .into_response(resp, len)
            .await
    }

    /// `?multipart-manifest=get&format=raw`: the manifest as it was PUT.
    pub(super) async fn raw_manifest(&self, next: Next<'_>, req: &SwiftRequest) -> Response {
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
}

/// The segments of a `multipart/byteranges` body over `ranges` (each
/// `start..end`), its framing as inline pieces between them, and its
/// length; sets the response's Content-Type. Nothing is read here: the
/// segments stream when the body is sent.
fn multipart(
    headers: &mut Headers,
    pieces: &[Piece],
    ranges: &[(u64, u64)],
    total: u64,
) -> (Vec<Segment>, u64) {
    let part_type = headers
        .get("content-type")
        .unwrap_or("application/octet-stream")
        .to_string();
    let boundary = range::multipart_boundary();
    let framing = |text: String| Segment {
        source: SegmentSource::Data(text.into_bytes().into()),
        first: 0,
        last: None,
    };
    let mut segments = Vec::new();
    for &(start, end) in ranges {
        segments.push(framing(range::multipart_part_header(
            &boundary, &part_type, start, end, total,
        )));
        segments.extend(segments_for(pieces, start, end));
        segments.push(framing(range::MULTIPART_PART_END.to_string()));
    }
    segments.push(framing(range::multipart_trailer(&boundary)));
    let len = range::multipart_length(&boundary, &part_type, ranges, total);
    headers.set("Content-Type", range::multipart_content_type(&boundary));
    (segments, len)
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

    fn data(len: u64) -> Piece {
        Piece {
            source: SegmentSource::Data(vec![0; len as usize].into()),
            first: 0,
            len,
        }
    }

    #[test]
    fn clipping_keeps_the_asked_bytes() {
        let c = clip(&[data(5), data(5), data(5)], 3, 12);
        let v: Vec<(u64, u64)> = c.iter().map(|p| (p.first, p.len)).collect();
        assert_eq!(v, vec![(3, 2), (0, 5), (0, 2)]);
    }

    #[test]
    fn entries_count_their_range_or_whole_size() {
        let j = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert_eq!(segment_length(&j(r#"{"name":"/c/o","bytes":10}"#)), 10);
        assert_eq!(
            segment_length(&j(r#"{"name":"/c/o","bytes":10,"range":"2-5"}"#)),
            4
        );
        assert_eq!(segment_length(&j(r#"{"data":"YWJj"}"#)), 3);
    }

    #[test]
    fn multipart_framing_adds_up_to_its_length() {
        let mut h = Headers::new();
        h.set("Content-Type", "text/plain");
        let (segs, len) = multipart(&mut h, &[data(10), data(10)], &[(1, 3), (8, 12)], 20);
        let sum: u64 = segs
            .iter()
            .map(|s| match &s.source {
                SegmentSource::Data(d) => {
                    let end = s.last.map_or(d.len() as u64, |l| l + 1);
                    end - s.first
                }
                SegmentSource::Object { .. } => unreachable!(),
            })
            .sum();
        assert_eq!(sum, len);
        assert!(h
            .get("content-type")
            .unwrap()
            .starts_with("multipart/byteranges;boundary="));
    }
}
