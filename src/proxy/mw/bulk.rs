//! Bulk operations (Swift's `bulk` middleware): `?bulk-delete` deletes a
//! newline-separated list of objects and containers in one request.
//!
//! The answer is always 200: its body, in text, JSON or XML by `Accept`,
//! says what happened. While the deletes run, a space goes out every
//! `yield_frequency` so neither the client nor a proxy in between times out;
//! the body is therefore sent chunked, piece by piece.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use crate::config::BulkConfig;
use crate::http::request::Framing;
use crate::http::response::{reason, ChunkedBody};
use crate::http::stream::{BodyStream, LocalBoxFuture};
use crate::http::{Body, BodySource, Response};
use crate::proxy::listing::{choose_format, Format};

use super::{Entry, Feature, Next, SwiftRequest};

/// The bulk feature module.
pub struct Bulk {
    /// Longest acceptable name line: object plus container name lengths.
    pub max_path_length: usize,
    /// Largest member an archive may hold.
    pub max_file_size: u64,
    /// The configured limits (`[bulk]`).
    pub limits: BulkConfig,
}

impl Feature for Bulk {
    fn name(&self) -> &'static str {
        "bulk"
    }

    fn claims(&self, req: &SwiftRequest) -> bool {
        req.source.is_none()
            && ((matches!(req.method(), "POST" | "DELETE")
                && req.head.query.contains("bulk-delete"))
                || (req.method() == "PUT" && req.head.query.contains("extract-archive")))
    }

    fn handle<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        body: &'a mut BodySource<'_, '_>,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(async move {
            if req.method() == "PUT" {
                let Some(kind) = req.param("extract-archive") else {
                    return next.call(req, body).await;
                };
                let Some(c) = super::bulk_extract::compression(&kind) else {
                    return Response::text(400, "Unsupported archive format");
                };
                return super::bulk_extract::extract(
                    next,
                    req,
                    body,
                    c,
                    self.max_path_length,
                    self.max_file_size,
                    &self.limits,
                )
                .await;
            }
            let wanted =
                crate::http::request::query_pairs(&req.head.query).any(|(k, _)| k == "bulk-delete");
            if !wanted {
                return next.call(req, body).await;
            }
            self.bulk_delete(next, req, body).await
        })
    }
}

/// How a bulk answer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutFormat {
    /// `text/plain`.
    Plain,
    /// `application/json`.
    Json,
    /// `application/xml` or `text/xml`.
    Xml(&'static str),
}

impl OutFormat {
    /// The format `Accept` asks for; `None` when it allows none.
    pub fn from_request(req: &SwiftRequest) -> Option<OutFormat> {
        let mut head = req.head.clone();
        head.query.clear();
        match choose_format(&head) {
            Ok(Format::Plain) => Some(OutFormat::Plain),
            Ok(Format::Json) => Some(OutFormat::Json),
            Ok(Format::Xml { text_xml: false }) => Some(OutFormat::Xml("application/xml")),
            Ok(Format::Xml { text_xml: true }) => Some(OutFormat::Xml("text/xml")),
            Err(_) => None,
        }
    }

    /// Its media type.
    pub fn content_type(self) -> &'static str {
        match self {
            OutFormat::Plain => "text/plain",
            OutFormat::Json => "application/json",
            OutFormat::Xml(t) => t,
        }
    }
}

/// `"<code> <reason>"`, as Swift writes statuses in bulk answers.
pub fn status_line(code: u16) -> String {
    format!("{code} {}", reason(code))
}

/// Python's `quote` with `/` kept, for names in the error list.
fn quote(s: &str) -> String {
    super::quote(s)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The final part of a bulk answer (Swift's `get_heartbeat_response_body`):
/// `fields` are (key, value) pairs, `errors` (quoted name, status).
pub fn answer_body(
    format: Option<OutFormat>,
    fields: &[(&str, serde_json::Value)],
    errors: &[(String, String)],
    root: &str,
) -> Vec<u8> {
    let mut sorted: Vec<&(&str, serde_json::Value)> = fields.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let show = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match format {
        Some(OutFormat::Json) => {
            let mut m = serde_json::Map::new();
            for (k, v) in fields {
                m.insert(k.to_string(), v.clone());
            }
            let errs: Vec<serde_json::Value> = errors
                .iter()
                .map(|(n, s)| serde_json::json!([n, s]))
                .collect();
            m.insert("Errors".into(), serde_json::Value::Array(errs));
            serde_json::Value::Object(m).to_string().into_bytes()
        }
        Some(OutFormat::Xml(_)) => {
            let mut out = format!("<{root}>\n");
            for (k, v) in sorted {
                let key = k.replace(' ', "_").to_lowercase();
                out.push_str(&format!("<{key}>{}</{key}>\n", xml_escape(&show(v))));
            }
            out.push_str("<errors>\n");
            for (n, s) in errors {
                out.push_str(&format!(
                    "<object><name>{}</name><status>{}</status></object>\n",
                    xml_escape(n),
                    xml_escape(s)
                ));
            }
            out.push_str(&format!("</errors>\n</{root}>\n"));
            out.into_bytes()
        }
        _ => {
            let mut out = String::new();
            for (k, v) in sorted {
                out.push_str(&format!("{k}: {}\n", show(v)));
            }
            out.push_str("Errors:\n");
            for (n, s) in errors {
                out.push_str(&format!("{n}, {s}\n"));
            }
            out.into_bytes()
        }
    }
}

/// Why a bulk request failed before any work: the status and body that go
/// into the answer.
#[derive(Debug)]
pub struct Refused {
    /// Status.
    pub status: u16,
    /// Explanation.
    pub body: String,
}

impl Refused {
    fn new(status: u16, body: &str) -> Refused {
        Refused {
            status,
            body: body.to_string(),
        }
    }
}

/// Reads the names to delete: one per line, percent-encoded.
/// Swift's 413 for a delete list longer than `max` names.
fn too_many(max: usize) -> Refused {
    Refused::new(413, &format!("Maximum Bulk Deletes: {max} per request"))
}

async fn read_names(
    body: &mut BodySource<'_, '_>,
    req: &SwiftRequest,
    max_path_length: usize,
    max_deletes: usize,
) -> Result<Vec<Result<String, String>>, Refused> {
    if req.head.framing == Framing::None && !req.headers().contains("content-length") {
        return Err(Refused::new(411, ""));
    }
    let mut names = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut done = false;
    let push = |raw: &[u8], names: &mut Vec<Result<String, String>>| {
        let text = String::from_utf8_lossy(raw);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return;
        }
        let bytes: Vec<u8> = percent_encoding::percent_decode_str(trimmed).collect();
        names.push(String::from_utf8(bytes).map_err(|_| trimmed.to_string()));
    };
    while !done {
        let mut buf = Vec::with_capacity(64 * 1024);
        let (res, b) = body.read(buf).await;
        buf = b;
        match res {
            Ok(0) => done = true,
            Ok(_) => line.extend_from_slice(&buf),
            Err(e) => return Err(Refused::new(e.status(), "")),
        }
        while let Some(pos) = line.iter().position(|&c| c == b'\n') {
            if pos > max_path_length * 2 {
                return Err(Refused::new(400, "Invalid File Name"));
            }
            let rest = line.split_off(pos + 1);
            push(&line[..pos], &mut names);
            line = rest;
            if names.len() > max_deletes {
                return Err(too_many(max_deletes));
            }
        }
        if line.len() > max_path_length * 2 {
            return Err(Refused::new(400, "Invalid File Name"));
        }
    }
    push(&line, &mut names);
    if names.len() > max_deletes {
        return Err(too_many(max_deletes));
    }
    Ok(names)
}

impl Bulk {
    async fn bulk_delete(
        &self,
        next: Next<'_>,
        req: &SwiftRequest,
        body: &mut BodySource<'_, '_>,
    ) -> Response {
        let format = OutFormat::from_request(req);
        let every = Duration::from_secs(self.limits.yield_frequency);
        let mut stream = DeleteStream::new(next.entry(), req.clone(), format, every);
        stream.max_failed = self.limits.max_failed_deletes;
        let foreign_type = req
            .headers()
            .get("content-type")
            .is_some_and(|t| !t.is_empty() && !t.starts_with("text/plain"));
        let refused = if format.is_none() || foreign_type {
            Some(Refused::new(406, ""))
        } else {
            match read_names(
                body,
                req,
                self.max_path_length,
                self.limits.max_deletes_per_request,
            )
            .await
            {
                Ok(names) => {
                    stream.queue(names);
                    None
                }
                Err(r) => Some(r),
            }
        };
        if let Some(r) = refused {
            stream.refuse(r);
        }
        let mut resp = Response::empty(200);
        if let Some(f) = format {
            resp.headers.set("Content-Type", f.content_type());
        }
        resp.close = !req.head.http11;
        resp.body = Body::Chunked(ChunkedBody(Box::new(stream)));
        resp
    }
}

/// One line of a bulk delete.
enum Item {
    /// A path to delete: the name as given, container, optional object.
    Delete(String, String, Option<String>),
    /// A name that cannot be a path (not UTF-8, or NUL): fails with 412.
    Invalid(String),
}

/// Runs the deletes as the body is taken, with heartbeats in between.
struct DeleteStream {
    entry: Entry,
    req: SwiftRequest,
    format: Option<OutFormat>,
    items: VecDeque<Item>,
    deleted: u64,
    not_found: u64,
    errors: Vec<(String, String)>,
    failure_status: u16,
    refused: Option<Refused>,
    out: Vec<u8>,
    out_pos: usize,
    finished: bool,
    last_yield: Instant,
    every: Duration,
    /// Failures after which the deletes stop.
    max_failed: usize,
    to_yield: Vec<u8>,
    separator: &'static [u8],
}

impl DeleteStream {
    fn new(entry: Entry, req: SwiftRequest, format: Option<OutFormat>, every: Duration) -> Self {
        let to_yield = match format {
            Some(OutFormat::Xml(_)) => b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".to_vec(),
            _ => b" ".to_vec(),
        };
        DeleteStream {
            entry,
            req,
            format,
            items: VecDeque::new(),
            deleted: 0,
            not_found: 0,
            errors: Vec::new(),
            failure_status: 400,
            refused: None,
            out: Vec::new(),
            out_pos: 0,
            finished: false,
            last_yield: Instant::now(),
            every,
            max_failed: BulkConfig::default().max_failed_deletes,
            to_yield,
            separator: b"",
        }
    }

    /// Objects first, then containers (so emptied containers can go).
    fn queue(&mut self, names: Vec<Result<String, String>>) {
        let mut containers = Vec::new();
        for n in names {
            let name = match n {
                Ok(name) if name.contains('\0') => {
                    self.items.push_back(Item::Invalid(name));
                    continue;
                }
                Ok(name) => name,
                Err(raw) => {
                    self.items.push_back(Item::Invalid(raw));
                    continue;
                }
            };
            let path = name.trim_start_matches('/');
            let is_object = name.trim_matches('/').contains('/');
            let (c, o) = match path.split_once('/') {
                Some((c, o)) if is_object => (c.to_string(), Some(o.to_string())),
                Some((c, _)) => (c.to_string(), None),
                None => (path.to_string(), None),
            };
            let item = Item::Delete(name, c, o);
            if is_object {
                self.items.push_back(item);
            } else {
                containers.push(item);
            }
        }
        self.items.extend(containers);
    }

    fn refuse(&mut self, r: Refused) {
        self.items.clear();
        self.refused = Some(r);
    }

    async fn delete(&mut self, item: Item) {
        let (name, c, o) = match item {
            Item::Invalid(raw) => {
                self.errors.push((quote(&raw), status_line(412)));
                return;
            }
            Item::Delete(n, c, o) => (n, c, o),
        };
        if c.is_empty() {
            self.errors.push((quote(&name), status_line(400)));
            return;
        }
        let sub = self.req.sub(
            "DELETE",
            &self.req.path.account,
            Some(&c),
            o.as_deref(),
            "",
            "BD",
        );
        let resp = self.entry.call_empty(&sub).await;
        match resp.status {
            200..=299 => self.deleted += 1,
            404 => self.not_found += 1,
            s => {
                if s >= 500 {
                    self.failure_status = 502;
                }
                self.errors.push((quote(&name), status_line(s)));
            }
        }
    }

    fn finish(&mut self) {
        let (status, body) = if let Some(r) = self.refused.take() {
            (r.status, r.body)
        } else if !self.errors.is_empty() {
            (self.failure_status, String::new())
        } else if self.deleted == 0 && self.not_found == 0 {
            (400, "Invalid bulk delete.".to_string())
        } else {
            (200, String::new())
        };
        let fields = [
            ("Response Status", serde_json::json!(status_line(status))),
            ("Response Body", serde_json::json!(body)),
            ("Number Deleted", serde_json::json!(self.deleted)),
            ("Number Not Found", serde_json::json!(self.not_found)),
        ];
        let mut out = self.separator.to_vec();
        out.extend(answer_body(self.format, &fields, &self.errors, "delete"));
        self.out = out;
        self.out_pos = 0;
        self.finished = true;
    }

    async fn next_piece(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        loop {
            if self.out_pos < self.out.len() {
                let n = (buf.capacity() - buf.len()).min(self.out.len() - self.out_pos);
                buf.extend_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return (Ok(n), buf);
            }
            if self.finished {
                return (Ok(0), buf);
            }
            let Some(item) = self.items.pop_front() else {
                self.finish();
                continue;
            };
            self.delete(item).await;
            if self.errors.len() >= self.max_failed {
                self.refuse(Refused::new(400, "Max delete failures exceeded"));
            }
            if self.last_yield.elapsed() >= self.every {
                self.last_yield = Instant::now();
                self.out = std::mem::replace(&mut self.to_yield, b" ".to_vec());
                self.out_pos = 0;
                self.separator = b"\r\n\r\n";
            }
        }
    }
}

impl BodyStream for DeleteStream {
    fn read(&mut self, buf: Vec<u8>) -> LocalBoxFuture<'_, (io::Result<usize>, Vec<u8>)> {
        Box::pin(self.next_piece(buf))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::rc::Rc;

    use crate::db::DbPool;
    use crate::proxy::auth::{AuthResult, Identity};
    use crate::proxy::path::SwiftPath;
    use crate::proxy::Proxy;

    /// A proxy over a fresh device, and a reseller's request to `/v1/AUTH_a`.
    pub(in crate::proxy::mw) fn proxy(root: &std::path::Path) -> (Rc<Proxy>, DbPool, SwiftRequest) {
        let (proxy, db) = crate::proxy::test_support::local_proxy(root);
        let head = crate::http::Request::internal(
            "POST",
            "/v1/AUTH_a".into(),
            "bulk-delete",
            crate::http::Headers::new(),
            Framing::Length(0),
        );
        let who = AuthResult::User(Identity {
            user: "admin:admin".into(),
            account: "AUTH_admin".into(),
            account_admin: true,
            reseller_admin: true,
            groups: vec![".reseller_admin".into()].into(),
            service_token: false,
        });
        let req = SwiftRequest {
            head,
            path: SwiftPath {
                version: "v1".into(),
                account: "AUTH_a".into(),
                container: None,
                object: None,
            },
            who: Rc::new(who),
            preauthed: false,
            source: None,
            cache: Rc::default(),
        };
        (proxy, db, req)
    }

    #[test]
    fn heartbeats_go_out_while_deletes_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (proxy, db, req) = proxy(dir.path());
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("rt");
        let pieces = rt.block_on(async {
            let entry = Entry {
                proxy: proxy.clone(),
                at: 0,
            };
            // Heartbeat after every delete.
            let mut s = DeleteStream::new(entry, req, Some(OutFormat::Plain), Duration::ZERO);
            s.queue(vec![Ok("c/o1".into()), Ok("c/o2".into())]);
            crate::proxy::test_support::read_pieces(&mut s).await
        });
        assert_eq!(pieces.len(), 3, "{pieces:?}");
        assert_eq!((pieces[0].as_str(), pieces[1].as_str()), (" ", " "));
        assert!(
            pieces[2].starts_with("\r\n\r\nNumber Deleted: 0\nNumber Not Found: 2\n"),
            "{:?}",
            pieces[2]
        );
        db.shutdown();
    }

    #[test]
    fn answers_in_three_formats() {
        let fields = [
            ("Response Status", serde_json::json!("200 OK")),
            ("Response Body", serde_json::json!("")),
            ("Number Deleted", serde_json::json!(2)),
            ("Number Not Found", serde_json::json!(1)),
        ];
        let errs = vec![("c/a%20b".to_string(), "409 Conflict".to_string())];
        let text = String::from_utf8(answer_body(
            Some(OutFormat::Plain),
            &fields,
            &errs,
            "delete",
        ))
        .expect("utf8");
        assert_eq!(
            text,
            "Number Deleted: 2\nNumber Not Found: 1\nResponse Body: \nResponse Status: 200 OK\nErrors:\nc/a%20b, 409 Conflict\n"
        );
        let json: serde_json::Value = serde_json::from_slice(&answer_body(
            Some(OutFormat::Json),
            &fields,
            &errs,
            "delete",
        ))
        .expect("json");
        assert_eq!(json["Number Deleted"], 2);
        assert_eq!(json["Errors"][0][1], "409 Conflict");
        let xml = String::from_utf8(answer_body(
            Some(OutFormat::Xml("text/xml")),
            &fields,
            &errs,
            "delete",
        ))
        .expect("utf8");
        assert!(xml.starts_with("<delete>\n<number_deleted>2</number_deleted>\n"));
        assert!(xml.contains("<object><name>c/a%20b</name><status>409 Conflict</status></object>"));
    }
}
