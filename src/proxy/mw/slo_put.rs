//! Storing a static large object (`PUT ?multipart-manifest=put`): every
//! segment is checked with a HEAD (existence, size, ETag, range), then the
//! manifest is stored with the large object's size and ETag in sysmeta.
//!
//! With `?heartbeat=on` the answer is `202 Accepted` at once, sent
//! chunked: a space goes out straight away and again every
//! `yield_frequency` while segments are checked, so neither the client nor
//! a proxy in between gives up on a long manifest; the final status comes
//! last in the body (as Swift's slo middleware writes it), after a blank
//! line.

use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant};

use base64::Engine;
use md5::{Digest, Md5};
use serde_json::{json, Value};

use crate::http::request::Framing;
use crate::http::response::{reason, ChunkedBody};
use crate::http::stream::{BodyStream, LocalBoxFuture};
use crate::http::{Body, BodySource, Response};

use super::bulk::{answer_body, status_line, OutFormat};
use super::slo::{iso_time, split_name, Slo, SLO_ETAG, SLO_SIZE};
use super::slo_manifest::{parse_input, python_json, resolve_range, InputSegment};
use super::util::{is_success, read_body, truthy};
use super::{Entry, Next, SwiftRequest};

/// Segments checked so far, and what was found wrong.
struct Validation {
    input: Vec<InputSegment>,
    /// The next input entry to check.
    at: usize,
    /// One HEAD per distinct segment path.
    heads: HashMap<String, Response>,
    problems: Vec<(String, String)>,
    stored: Vec<Value>,
    total: u64,
}

/// Why a validated manifest is not stored.
enum Refusal {
    /// Segments failed their checks (400).
    Problems(Vec<(String, String)>),
    /// The client's `Etag` is not the large object's (422).
    EtagMismatch,
}

/// A manifest ready to store.
struct Ready {
    slo_etag: String,
    manifest: Vec<u8>,
    total: u64,
}

impl Validation {
    fn new(input: Vec<InputSegment>) -> Validation {
        Validation {
            stored: Vec::with_capacity(input.len()),
            input,
            at: 0,
            heads: HashMap::new(),
            problems: Vec::new(),
            total: 0,
        }
    }

    fn done(&self) -> bool {
        self.at >= self.input.len()
    }

    /// Checks the next entry (a HEAD of its segment unless it is inline
    /// data or a path already seen).
    async fn step(&mut self, next: Next<'_>, req: &SwiftRequest) {
        let i = self.at;
        self.at += 1;
        let last_index = self.input.len().saturating_sub(1);
        let (path, etag, size, range) = match &self.input[i] {
            InputSegment::Data(d) => {
                self.total += d.len() as u64;
                self.stored
                    .push(json!({"data": base64::engine::general_purpose::STANDARD.encode(d)}));
                return;
            }
            InputSegment::Path {
                path,
                etag,
                size,
                range,
            } => (path.clone(), etag.clone(), *size, range.clone()),
        };
        let quoted = super::quote(&path);
        if !self.heads.contains_key(&path) {
            let Some((c, o)) = split_name(&path) else {
                return;
            };
            let head = req.sub("HEAD", &req.path.account, Some(&c), Some(&o), "", "SLO");
            let r = next.including_self().call_empty(&head).await;
            self.heads.insert(path.clone(), r);
        }
        let head = &self.heads[&path];
        if !is_success(head.status) {
            self.problems.push((quoted, status_line(head.status)));
            return;
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
        if let Some(r) = &range {
            match resolve_range(r, seg_size) {
                None => self
                    .problems
                    .push((quoted.clone(), "Unsatisfiable Range".into())),
                Some(None) => {}
                Some(Some((a, b))) => {
                    length = b + 1 - a;
                    stored_range = Some(format!("{a}-{b}"));
                }
            }
        }
        if length < 1 && i != last_index {
            self.problems.push((
                quoted.clone(),
                "Too small; each segment must be at least 1 byte.".into(),
            ));
        }
        if size.is_some_and(|s| s != seg_size) {
            self.problems.push((quoted.clone(), "Size Mismatch".into()));
        }
        if etag
            .as_ref()
            .is_some_and(|e| e.trim_matches('"') != seg_etag)
        {
            self.problems.push((quoted.clone(), "Etag Mismatch".into()));
        }
        self.total += length;
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
            .is_some_and(truthy)
        {
            entry["sub_slo"] = json!(true);
        }
        self.stored.push(entry);
    }

    /// The manifest to store, once every entry is checked.
    fn finish(self, req: &SwiftRequest) -> Result<Ready, Refusal> {
        if !self.problems.is_empty() {
            return Err(Refusal::Problems(self.problems));
        }
        let mut slo_md5 = Md5::new();
        for s in &self.stored {
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
                return Err(Refusal::EtagMismatch);
            }
        }
        Ok(Ready {
            slo_etag,
            manifest: python_json(&Value::Array(self.stored)).into_bytes(),
            total: self.total,
        })
    }
}

/// Stores a checked manifest; the answer carries the large object's ETag.
async fn store(next: Next<'_>, req: &SwiftRequest, ready: Ready) -> Response {
    let Ready {
        slo_etag,
        manifest,
        total,
    } = ready;
    let mut put = req.clone();
    put.source = Some("SLO");
    put.head.query = super::util::with_param(&put.head.query, "multipart-manifest", None);
    put.head.query = super::util::with_param(&put.head.query, "heartbeat", None);
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

/// The text Swift puts in a heartbeat answer's `Response Body` for an
/// error it raised itself: the reason, then the explanation.
fn error_text(status: u16) -> String {
    let explanation = match status {
        400 => "The server could not comply with the request since it is either malformed or otherwise incorrect.",
        422 => "Unable to process the contained instructions",
        _ => "",
    };
    format!("{}\n{explanation}", reason(status))
}

impl Slo {
    /// `?multipart-manifest=put`: checks every segment and stores the
    /// manifest.
    pub(super) async fn put(
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
        let too_large = || {
            Response::text(
                413,
                &format!("Manifest File > {} bytes", self.max_manifest_size),
            )
        };
        match req.head.framing {
            Framing::None => return Response::status(411),
            Framing::Length(n) if n > self.max_manifest_size as u64 => return too_large(),
            _ => {}
        }
        let bytes = match body.read_to_end(self.max_manifest_size).await {
            Ok(b) if b.len() <= self.max_manifest_size => b,
            Ok(_) | Err(crate::http::BodyError::TooLarge) => return too_large(),
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
        let format = OutFormat::from_request(req).unwrap_or(OutFormat::Plain);
        if req.param("heartbeat").is_some_and(|v| truthy(&v)) {
            let stream = HeartbeatPut {
                entry: next.entry(),
                req: req.clone(),
                job: Some(Validation::new(input)),
                format,
                every: self.yield_frequency,
                last_yield: Instant::now(),
                out: b" ".to_vec(),
                out_pos: 0,
                finished: false,
            };
            let mut resp = Response::empty(202);
            resp.headers.set("Content-Type", format.content_type());
            resp.close = !req.head.http11;
            resp.body = Body::Chunked(ChunkedBody(Box::new(stream)));
            return resp;
        }
        let mut job = Validation::new(input);
        while !job.done() {
            job.step(next, req).await;
        }
        match job.finish(req) {
            Ok(ready) => store(next, req, ready).await,
            Err(Refusal::EtagMismatch) => Response::status(422),
            Err(Refusal::Problems(problems)) => {
                let mut r = Response::empty(400);
                r.headers.set("Content-Type", format.content_type());
                r.body = Body::Bytes(answer_body(Some(format), &[], &problems, "upload"));
                r
            }
        }
    }
}

/// A heartbeating manifest PUT's body: spaces while segments are checked,
/// then `\r\n\r\n` and the outcome.
struct HeartbeatPut {
    entry: Entry,
    req: SwiftRequest,
    job: Option<Validation>,
    format: OutFormat,
    every: Duration,
    last_yield: Instant,
    out: Vec<u8>,
    out_pos: usize,
    finished: bool,
}

impl HeartbeatPut {
    /// The final part: what storing the manifest (or refusing it) gave.
    async fn outcome(&mut self, job: Validation) -> Vec<u8> {
        let mut fields: Vec<(&str, Value)> = Vec::new();
        let mut errors = Vec::new();
        match job.finish(&self.req) {
            Err(Refusal::Problems(p)) => {
                fields.push(("Response Status", json!(status_line(400))));
                fields.push(("Response Body", json!(error_text(400))));
                errors = p;
            }
            Err(Refusal::EtagMismatch) => {
                fields.push(("Response Status", json!(status_line(422))));
                fields.push(("Response Body", json!(error_text(422))));
            }
            Ok(ready) => {
                let mut resp = store(self.entry.next(), &self.req, ready).await;
                fields.push(("Response Status", json!(status_line(resp.status))));
                if is_success(resp.status) {
                    let etag = resp.headers.get("etag").unwrap_or("").to_string();
                    let lm = resp.headers.get("last-modified").unwrap_or("").to_string();
                    fields.push(("Etag", json!(etag)));
                    fields.push(("Last Modified", json!(lm)));
                }
                let body = std::mem::replace(&mut resp.body, Body::Empty);
                let text = read_body(body, 64 * 1024)
                    .await
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                fields.push(("Response Body", json!(text)));
            }
        }
        let mut out = b"\r\n\r\n".to_vec();
        out.extend(answer_body(Some(self.format), &fields, &errors, "upload"));
        out
    }

    async fn next_piece(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        loop {
            if self.out_pos < self.out.len() {
                let room = buf.capacity().saturating_sub(buf.len()).max(1);
                let n = room.min(self.out.len() - self.out_pos);
                buf.extend_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return (Ok(n), buf);
            }
            if self.finished {
                return (Ok(0), buf);
            }
            let Some(mut job) = self.job.take() else {
                self.finished = true;
                continue;
            };
            if job.done() {
                self.out = self.outcome(job).await;
                self.out_pos = 0;
                self.finished = true;
                continue;
            }
            job.step(self.entry.next(), &self.req).await;
            self.job = Some(job);
            if self.last_yield.elapsed() >= self.every {
                self.last_yield = Instant::now();
                self.out = b" ".to_vec();
                self.out_pos = 0;
            }
        }
    }
}

impl BodyStream for HeartbeatPut {
    fn read(&mut self, buf: Vec<u8>) -> LocalBoxFuture<'_, (io::Result<usize>, Vec<u8>)> {
        Box::pin(self.next_piece(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_go_out_while_segments_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (proxy, db, mut req) = super::super::bulk::tests::proxy(dir.path());
        req.head.method = "PUT".into();
        req.head.query = "multipart-manifest=put&heartbeat=on".into();
        req.retarget("AUTH_a", "c", "m");
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("rt");
        let pieces = rt.block_on(async {
            let seg = |p: &str| InputSegment::Path {
                path: p.into(),
                etag: None,
                size: None,
                range: None,
            };
            // A heartbeat after every segment.
            let mut s = HeartbeatPut {
                entry: Entry { proxy, at: 0 },
                req,
                job: Some(Validation::new(vec![seg("s/1"), seg("s/2")])),
                format: OutFormat::Plain,
                every: Duration::ZERO,
                last_yield: Instant::now(),
                out: b" ".to_vec(),
                out_pos: 0,
                finished: false,
            };
            crate::proxy::test_support::read_pieces(&mut s).await
        });
        assert_eq!(pieces[..3], [" ", " ", " "], "{pieces:?}");
        assert_eq!(
            pieces[3..].concat(),
            "\r\n\r\nResponse Body: Bad Request\nThe server could not comply with the request since it is either malformed or otherwise incorrect.\nResponse Status: 400 Bad Request\nErrors:\ns/1, 404 Not Found\ns/2, 404 Not Found\n"
        );
        db.shutdown();
    }

    #[test]
    fn error_texts_are_swifts() {
        assert_eq!(
            error_text(422),
            "Unprocessable Entity\nUnable to process the contained instructions"
        );
        assert!(error_text(400).starts_with("Bad Request\nThe server could not comply"));
    }
}
