//! A large object's body: its segments fetched one at a time through the
//! pipeline below the large-object module and streamed in order (Swift's
//! `SegmentedIterable`). Each segment is checked against the manifest
//! (ETag, size) when its response arrives, and a whole segment's bytes are
//! checked against its ETag as they pass; a failure after the response
//! started ends the stream with an error, which closes the connection.

use std::collections::VecDeque;
use std::io;

use md5::{Digest, Md5};

use crate::http::conditional::{self, Precondition};
use crate::http::range::{self, RangeOutcome};
use crate::http::stream::{BodyStream, LocalBoxFuture, StreamBody};
use crate::http::{Body, Headers, Response};

use super::{Entry, SwiftRequest};

/// Where a segment's bytes come from.
#[derive(Debug, Clone)]
pub enum SegmentSource {
    /// An object (fetched with `?multipart-manifest=get`).
    Object {
        /// Account.
        account: String,
        /// Container.
        container: String,
        /// Object.
        object: String,
        /// The ETag it must have, when the manifest says.
        etag: Option<String>,
        /// Its whole size, when the manifest says.
        size: Option<u64>,
    },
    /// Bytes inline in the manifest (SLO `data` segments, and the framing
    /// of a multi-range answer); shared, as every range that reads them
    /// holds them.
    Data(bytes::Bytes),
}

/// One piece of a large object: bytes `first..=last` of a source.
#[derive(Debug, Clone)]
pub struct Segment {
    /// The source.
    pub source: SegmentSource,
    /// First byte taken.
    pub first: u64,
    /// Last byte taken (inclusive); `None` means to the end.
    pub last: Option<u64>,
}

/// Why a segment could not be served.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// The segment's GET failed.
    #[error("got {status} while retrieving {path}")]
    Status {
        /// The segment's status.
        status: u16,
        /// The segment's path.
        path: String,
    },
    /// The segment changed since the manifest was written.
    #[error("object segment no longer valid: {0}")]
    Invalid(String),
    /// Reading the segment failed.
    #[error("reading segment {0}")]
    Io(#[from] io::Error),
}

impl SegmentError {
    /// The status a client gets when this happens before the response
    /// started: 503 for server errors, else 409 (as Swift answers).
    pub fn status(&self) -> u16 {
        match self {
            SegmentError::Status { status, .. } if *status >= 500 => 503,
            _ => 409,
        }
    }
}

struct Current {
    body: Box<dyn BodyStream>,
    /// Bytes of this piece not yet handed out.
    left: u64,
    /// Whole-segment check: running MD5 and the ETag it must end with.
    check: Option<(Md5, String)>,
    path: String,
}

/// A large object's answer to the request's conditional headers, judged
/// against the whole object's `etag` (as Swift's SLO and DLO do, not the
/// manifest's): a 304 keeps `headers` with an empty body, a 412 carries
/// the ETag; `None` to go on serving.
pub fn precondition_answer(
    req: &Headers,
    headers: &mut Headers,
    etag: &str,
    last_modified: i64,
) -> Option<Response> {
    match conditional::evaluate(req, etag, last_modified, true) {
        Precondition::Proceed => None,
        Precondition::NotModified => {
            let mut r = Response::empty(304);
            r.headers = std::mem::take(headers);
            r.headers.set("Content-Length", "0");
            Some(r)
        }
        Precondition::Failed => {
            Some(Response::status(412).with_header("Etag", format!("\"{etag}\"")))
        }
    }
}

/// Streams a large object's segments in order.
pub struct SegmentStream {
    entry: Entry,
    template: SwiftRequest,
    source: &'static str,
    segments: VecDeque<Segment>,
    current: Option<Current>,
    /// Inline bytes that precede the first object segment, gathered by
    /// [`SegmentStream::prime`] so that segment can be opened (and
    /// checked) before the response starts.
    lead: Vec<u8>,
    lead_pos: usize,
}

impl SegmentStream {
    /// A stream of `segments`, fetched as `template`'s caller from `entry`.
    pub fn new(
        entry: Entry,
        template: &SwiftRequest,
        source: &'static str,
        segments: Vec<Segment>,
    ) -> Self {
        SegmentStream {
            entry,
            template: template.clone(),
            source,
            segments: segments.into(),
            current: None,
            lead: Vec::new(),
            lead_pos: 0,
        }
    }

    /// Primes the stream and makes it `resp`'s body of `len` bytes; a first
    /// segment that cannot be served turns the answer into its error
    /// status (logged with the request path).
    pub async fn into_response(mut self, mut resp: Response, len: u64) -> Response {
        if let Err(e) = self.prime().await {
            tracing::warn!(path = %self.template.head.raw_path, "{}: {e}", self.source);
            return Response::status(e.status());
        }
        resp.body = Body::Stream(StreamBody {
            len,
            stream: Box::new(self),
        });
        resp
    }

    /// Opens the first object segment, so a missing or changed first
    /// segment is an error status rather than a broken body. Inline bytes
    /// before it (data segments, multipart framing) are set aside to go
    /// out first.
    pub async fn prime(&mut self) -> Result<(), SegmentError> {
        if self.current.is_some() || self.lead_pos < self.lead.len() {
            return Ok(());
        }
        while let Some(Segment {
            source: SegmentSource::Data(d),
            first,
            last,
        }) = self.segments.front()
        {
            let end = last.map_or(d.len(), |l| (l as usize + 1).min(d.len()));
            let start = (*first as usize).min(end);
            self.lead.extend_from_slice(&d[start..end]);
            self.segments.pop_front();
        }
        self.open_next().await?;
        Ok(())
    }

    /// Opens the next segment; false when there are none left.
    async fn open_next(&mut self) -> Result<bool, SegmentError> {
        let Some(seg) = self.segments.pop_front() else {
            return Ok(false);
        };
        match seg.source {
            SegmentSource::Data(d) => {
                let end = seg.last.map_or(d.len(), |l| (l as usize + 1).min(d.len()));
                let start = (seg.first as usize).min(end);
                let bytes = d[start..end].to_vec();
                self.current = Some(Current {
                    left: bytes.len() as u64,
                    body: Box::new(crate::http::stream::BytesStream::new(bytes)),
                    check: None,
                    path: "data segment".into(),
                });
            }
            SegmentSource::Object {
                account,
                container,
                object,
                etag,
                size,
            } => {
                let mut req = self.template.sub(
                    "GET",
                    &account,
                    Some(&container),
                    Some(&object),
                    "multipart-manifest=get",
                    self.source,
                );
                let path = format!("/{account}/{container}/{object}");
                let to_end = seg.last.is_none() || size.is_some_and(|s| seg.last == Some(s - 1));
                let ranged = seg.first != 0 || !to_end;
                if ranged {
                    let last = if to_end {
                        String::new()
                    } else {
                        seg.last.unwrap_or(0).to_string()
                    };
                    req.head
                        .headers
                        .set("Range", format!("bytes={}-{}", seg.first, last));
                }
                let resp: Response = self.entry.call_empty(&req).await;
                if !(200..300).contains(&resp.status) {
                    return Err(SegmentError::Status {
                        status: resp.status,
                        path,
                    });
                }
                let got_etag = resp
                    .headers
                    .get("etag")
                    .map(|e| e.trim_matches('"').to_string())
                    .unwrap_or_default();
                let len = resp.body.len();
                if let Some(want) = &etag {
                    if want.trim_matches('"') != got_etag {
                        return Err(SegmentError::Invalid(format!(
                            "{path} etag: {got_etag} != {want}"
                        )));
                    }
                }
                if let Some(want) = size {
                    if !ranged && len != want {
                        return Err(SegmentError::Invalid(format!(
                            "{path} size: {len} != {want}"
                        )));
                    }
                }
                let check = (!ranged && !got_etag.is_empty()).then(|| (Md5::new(), got_etag));
                self.current = Some(Current {
                    body: resp.body.into_stream(),
                    left: len,
                    check,
                    path,
                });
            }
        }
        Ok(true)
    }

    async fn next(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        if self.lead_pos < self.lead.len() {
            let room = buf.capacity().saturating_sub(buf.len()).max(1);
            let n = room.min(self.lead.len() - self.lead_pos);
            buf.extend_from_slice(&self.lead[self.lead_pos..self.lead_pos + n]);
            self.lead_pos += n;
            if self.lead_pos == self.lead.len() {
                self.lead = Vec::new();
                self.lead_pos = 0;
            }
            return (Ok(n), buf);
        }
        loop {
            let Some(cur) = self.current.as_mut() else {
                match self.open_next().await {
                    Ok(true) => continue,
                    Ok(false) => return (Ok(0), buf),
                    Err(e) => {
                        tracing::warn!("large object segment: {e}");
                        return (Err(io::Error::other(e)), buf);
                    }
                }
            };
            if cur.left == 0 {
                if let Some((md5, want)) = cur.check.take() {
                    let got = hex::encode(md5.finalize());
                    if got != want {
                        let e = format!("bad MD5 for {}: {got} != {want}", cur.path);
                        tracing::warn!("large object segment: {e}");
                        return (Err(io::Error::other(e)), buf);
                    }
                }
                self.current = None;
                continue;
            }
            let start = buf.len();
            let (res, b) = cur.body.read(buf).await;
            buf = b;
            match res {
                Ok(0) => {
                    let e = format!("segment {} ended early", cur.path);
                    return (Err(io::Error::other(e)), buf);
                }
                Ok(n) => {
                    let n = n.min(cur.left as usize);
                    buf.truncate(start + n);
                    cur.left -= n as u64;
                    if let Some((md5, _)) = cur.check.as_mut() {
                        md5.update(&buf[start..start + n]);
                    }
                    return (Ok(n), buf);
                }
                Err(e) => return (Err(e), buf),
            }
        }
    }
}

impl BodyStream for SegmentStream {
    fn read(&mut self, buf: Vec<u8>) -> LocalBoxFuture<'_, (io::Result<usize>, Vec<u8>)> {
        Box::pin(self.next(buf))
    }
}

/// What part of a large object a GET serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    /// The whole object (200).
    Whole,
    /// One range, `start..end` (206 with its `Content-Range`).
    One(u64, u64),
    /// Several ranges, each `start..end` (206, `multipart/byteranges`).
    Many(Vec<(u64, u64)>),
}

/// The 416 a large-object GET gets for an unsatisfiable `Range`.
fn unsatisfiable(total: u64) -> Response {
    Response::status(416)
        .with_header("Accept-Ranges", "bytes")
        .with_header("Content-Range", range::unsatisfied_content_range(total))
}

/// The span an SLO GET serves for `range_header` over `total` bytes, as
/// swob resolves it; `Err` is the 416 to send.
pub fn requested_ranges(range_header: Option<&str>, total: u64) -> Result<Span, Response> {
    let Some(spec) = range_header.and_then(range::parse_range) else {
        return Ok(Span::Whole);
    };
    match range::ranges_for_length(&spec, total) {
        RangeOutcome::Unsatisfiable => Err(unsatisfiable(total)),
        RangeOutcome::Ranges(rs) if rs.len() == 1 => Ok(Span::One(rs[0].0, rs[0].1)),
        RangeOutcome::Ranges(rs) => Ok(Span::Many(rs)),
        _ => Ok(Span::Whole),
    }
}

/// What a DLO GET serves: the inclusive byte span, the status, and the
/// `Content-Range` to send with a 206.
pub type DloSpan = ((u64, u64), u16, Option<String>);

/// The bytes a DLO GET serves: the whole object (200), or the one range
/// asked for (206, with its `Content-Range`). Swift's DLO honours only a
/// header with a single range spec; with several the whole object comes
/// back with 200. `Err` is the 416 to send.
pub fn requested_span(range_header: Option<&str>, total: u64) -> Result<DloSpan, Response> {
    let whole = Ok(((0, total), 200, None));
    let Some(spec) = range_header.and_then(range::parse_range) else {
        return whole;
    };
    if spec.len() != 1 {
        return whole;
    }
    match range::ranges_for_length(&spec, total) {
        RangeOutcome::Unsatisfiable => Err(unsatisfiable(total)),
        RangeOutcome::Ranges(rs) if rs.len() == 1 => {
            let span = rs[0];
            Ok((span, 206, Some(range::content_range(span.0, span.1, total))))
        }
        _ => whole,
    }
}
