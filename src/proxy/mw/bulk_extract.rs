//! Bulk extract (the `extract-archive` half of Swift's `bulk` middleware):
//! `PUT ?extract-archive=tar|tar.gz|tar.bz2` unpacks an archive into
//! objects, creating containers as needed; each member streams from the
//! request body straight into its object PUT.
//!
//! The archive is read while the client sends it. The answer is always
//! 200, with the outcome in its body like bulk delete's. An extraction
//! still running after `yield_frequency` starts that answer early, while
//! the archive is still arriving, and sends whitespace between members
//! from then on (as Swift does), so neither the client nor a proxy in
//! between gives up; the outcome then follows a blank line.

use std::collections::HashSet;
use std::io;
use std::time::{Duration, Instant};

use crate::http::request::Framing;
use crate::http::stream::{BodyStream, LocalBoxFuture};
use crate::http::{Body, BodySource, Response};

use super::bulk::{answer_body, status_line, OutFormat};
use super::tar::{pax_header, Compression, TarError, TarReader};
use super::util::is_user_meta;
use super::{quote, Next, SwiftRequest};
use crate::config::BulkConfig;

/// The compression an `extract-archive` value names.
pub fn compression(value: &str) -> Option<Compression> {
    match value.to_ascii_lowercase().trim_matches('.') {
        "tar" => Some(Compression::None),
        "tar.gz" => Some(Compression::Gzip),
        "tar.bz2" => Some(Compression::Bzip2),
        _ => None,
    }
}

/// How the extraction ended.
struct Outcome {
    created: u64,
    errors: Vec<(String, String)>,
    failure_status: u16,
    /// Set when the whole request failed: status and body.
    fatal: Option<(u16, String)>,
}

/// One member's data as a PUT body.
struct MemberStream<'r, 's, 'a, 'c> {
    tar: &'r mut TarReader<'s, 'a, 'c>,
}

impl BodyStream for MemberStream<'_, '_, '_, '_> {
    fn read(&mut self, buf: Vec<u8>) -> LocalBoxFuture<'_, (io::Result<usize>, Vec<u8>)> {
        Box::pin(async move {
            let (res, buf) = self.tar.read(buf).await;
            (res.map_err(|e| io::Error::other(e.to_string())), buf)
        })
    }
}

/// Answers an extract-archive request.
pub async fn extract(
    next: Next<'_>,
    req: &SwiftRequest,
    body: &mut BodySource<'_, '_>,
    compression: Compression,
    max_path_length: usize,
    max_file_size: u64,
    limits: &BulkConfig,
) -> Response {
    let format = OutFormat::from_request(req);
    let mut resp = Response::empty(200);
    if let Some(f) = format {
        resp.headers.set("Content-Type", f.content_type());
    }
    let mut beat = Heartbeat {
        answer: resp,
        every: Duration::from_secs(limits.yield_frequency),
        last: Instant::now(),
        to_yield: match format {
            Some(OutFormat::Xml(_)) => b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".to_vec(),
            _ => b" ".to_vec(),
        },
        started: false,
    };
    let outcome = if format.is_none() {
        Outcome::fatal(406, "")
    } else if req.head.framing == Framing::None && !req.headers().contains("content-length") {
        Outcome::fatal(411, "")
    } else {
        let names = (max_path_length, max_file_size);
        run(next, req, body, compression, names, limits, &mut beat).await
    };
    let (status, text) = match outcome.fatal {
        Some(f) => f,
        None if !outcome.errors.is_empty() => (outcome.failure_status, String::new()),
        None if outcome.created == 0 => (400, "Invalid Tar File: No Valid Files".to_string()),
        None => (201, String::new()),
    };
    let fields = [
        ("Response Status", serde_json::json!(status_line(status))),
        ("Response Body", serde_json::json!(text)),
        ("Number Files Created", serde_json::json!(outcome.created)),
    ];
    let mut resp = beat.answer;
    let mut out = if beat.started {
        b"\r\n\r\n".to_vec()
    } else {
        Vec::new()
    };
    out.extend(answer_body(format, &fields, &outcome.errors, "extract"));
    resp.body = Body::Bytes(out);
    resp
}

/// Keep-alive whitespace for a long extraction.
struct Heartbeat {
    /// The answer's status and headers (sent with the first heartbeat).
    answer: Response,
    every: Duration,
    last: Instant,
    /// What the next heartbeat sends (an XML answer starts with its
    /// declaration).
    to_yield: Vec<u8>,
    /// The answer has started: the outcome must follow a blank line.
    started: bool,
}

impl Heartbeat {
    /// Sends a heartbeat when one is due; an error means the client is
    /// gone.
    async fn maybe(&mut self, body: &mut BodySource<'_, '_>) -> io::Result<()> {
        if self.last.elapsed() < self.every {
            return Ok(());
        }
        self.last = Instant::now();
        if body.send_early(&self.answer, &self.to_yield).await? {
            self.started = true;
            self.to_yield = b" ".to_vec();
        }
        Ok(())
    }
}

impl Outcome {
    fn fatal(status: u16, body: &str) -> Outcome {
        Outcome {
            created: 0,
            errors: Vec::new(),
            failure_status: 400,
            fatal: Some((status, body.to_string())),
        }
    }
}

async fn run(
    next: Next<'_>,
    req: &SwiftRequest,
    body: &mut BodySource<'_, '_>,
    compression: Compression,
    (max_path_length, max_file_size): (usize, u64),
    limits: &BulkConfig,
    beat: &mut Heartbeat,
) -> Outcome {
    let mut out = Outcome {
        created: 0,
        errors: Vec::new(),
        failure_status: 400,
        fatal: None,
    };
    let base = match req.path.container.as_deref() {
        None => String::new(),
        Some(c) => match req.path.object.as_deref() {
            Some(o) => format!("{c}/{o}"),
            None => c.to_string(),
        },
    };
    let base = base.trim_end_matches('/');
    let short = |p: &str| quote(&p.chars().take(max_path_length).collect::<String>());
    let mut tar = TarReader::new(body, compression);
    let mut accessed: HashSet<String> = HashSet::new();
    let mut created_containers = 0usize;
    loop {
        if let Err(e) = beat.maybe(tar.source()).await {
            tracing::info!("extract-archive: client gone: {e}");
            out.fatal = Some((499, String::new()));
            return out;
        }
        let entry = match tar.next_entry().await {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(TarError::Invalid(m)) => {
                out.fatal = Some((400, format!("Invalid Tar File: {m}")));
                return out;
            }
            Err(TarError::Body(e)) => {
                out.fatal = Some((e.status(), String::new()));
                return out;
            }
        };
        if out.errors.len() >= limits.max_failed_extractions {
            break;
        }
        if !entry.is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.name).into_owned();
        let mut path = name
            .strip_prefix("./")
            .unwrap_or(&name)
            .trim_start_matches('/')
            .to_string();
        if !base.is_empty() {
            path = format!("{base}/{path}");
        }
        let Some((container, object)) = path.split_once('/') else {
            continue;
        };
        if std::str::from_utf8(&entry.name).is_err() || path.contains('\0') || object.is_empty() {
            out.errors.push((short(&path), status_line(412)));
            continue;
        }
        if entry.size > max_file_size {
            out.errors.push((short(&path), status_line(413)));
            continue;
        }
        let mut container_failure = None;
        if !accessed.contains(container) {
            let head = req.sub("HEAD", &req.path.account, Some(container), None, "", "EA");
            let r = next.call_empty(&head).await;
            if r.status == 404 {
                let put = req.sub("PUT", &req.path.account, Some(container), None, "", "EA");
                let r = next.call_empty(&put).await;
                if (200..300).contains(&r.status) {
                    created_containers += 1;
                    if created_containers > limits.max_containers_per_extraction {
                        out.fatal = Some((
                            400,
                            format!(
                                "More than {} containers to create from tar.",
                                limits.max_containers_per_extraction
                            ),
                        ));
                        return out;
                    }
                } else {
                    if r.status == 401 {
                        out.fatal = Some((401, String::new()));
                        return out;
                    }
                    let cont_path =
                        format!("/{}/{}/{container}", req.path.version, req.path.account);
                    container_failure = Some((short(&cont_path), status_line(r.status)));
                }
            } else if !(200..300).contains(&r.status) {
                if r.status == 401 {
                    out.fatal = Some((401, String::new()));
                    return out;
                }
                let cont_path = format!("/{}/{}/{container}", req.path.version, req.path.account);
                container_failure = Some((short(&cont_path), status_line(r.status)));
            }
        }
        let mut put = req.sub(
            "PUT",
            &req.path.account,
            Some(container),
            Some(object),
            "",
            "EA",
        );
        put.set_body_len(entry.size);
        for (k, v) in req.headers().iter() {
            let l = k.to_ascii_lowercase();
            if l == "x-delete-at" || l == "x-delete-after" || is_user_meta(&l) {
                put.head.headers.set(k, v);
            }
        }
        for (k, v) in &entry.pax {
            if let Some(h) = pax_header(k) {
                put.head.headers.set(h, v.clone());
            }
        }
        let resp = {
            let mut src = BodySource::Stream(Box::new(MemberStream { tar: &mut tar }));
            next.call(&put, &mut src).await
        };
        accessed.insert(container.to_string());
        if (200..300).contains(&resp.status) {
            out.created += 1;
            continue;
        }
        if let Some(f) = container_failure {
            out.errors.push(f);
        }
        if resp.status == 401 {
            out.errors.push((short(&path), status_line(401)));
            out.fatal = Some((401, String::new()));
            return out;
        }
        if resp.status >= 500 {
            out.failure_status = 502;
        }
        out.errors.push((short(&path), status_line(resp.status)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_types() {
        assert_eq!(compression("tar"), Some(Compression::None));
        assert_eq!(compression(".TAR.GZ"), Some(Compression::Gzip));
        assert_eq!(compression("tar.bz2"), Some(Compression::Bzip2));
        assert_eq!(compression("zip"), None);
    }
}
