//! `paco download`: streams an object to a writer and verifies it. A plain
//! object's bytes must hash to its ETag. A large object's ETag is the MD5 of
//! its segments' ETags, which says nothing about the bytes by itself; so the
//! segment list is read first (the DLO's container listing, or the SLO's
//! manifest), checked against the object's ETag, and each segment's slice
//! of the body is hashed and compared with that segment's ETag.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use md5::{Digest, Md5};
use percent_encoding::percent_decode_str;
use serde::Serialize;

use super::listing::list_objects;
use super::swift::{object_path, Client, Response, Session, SwiftError};
use super::upload::large_object_etag;

/// What a download did (the `--json` summary).
#[derive(Debug, Clone, Serialize)]
pub struct DownloadReport {
    /// Container.
    pub container: String,
    /// Object.
    pub object: String,
    /// Bytes written.
    pub size: u64,
    /// The object's ETag.
    pub etag: String,
    /// `"dlo"`, `"slo"` or `null`.
    pub large_object: Option<&'static str>,
    /// Segments verified one by one (large objects).
    pub segments: usize,
    /// How the content was verified: `md5` (whole body), `segments` (each
    /// segment's MD5), or `size` (an SLO with ranges or nested manifests:
    /// only the size could be checked).
    pub verified: &'static str,
    /// Requests retried or resumed.
    pub retries: u64,
    /// Wall time in seconds.
    pub elapsed_s: f64,
}

/// Expected ETag and size of each piece of the body, in order.
struct Plan {
    pieces: Vec<(u64, String)>,
    kind: Option<&'static str>,
    per_segment: bool,
}

/// Checks each piece's MD5 as the body streams past.
struct Verifier<'a> {
    plan: &'a Plan,
    index: usize,
    left: u64,
    md5: Md5,
    error: Option<String>,
    total: u64,
}

impl Verifier<'_> {
    fn feed(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if !self.plan.per_segment {
            if self.plan.kind.is_none() {
                self.md5.update(data);
            }
            return;
        }
        while !data.is_empty() && self.error.is_none() {
            if self.index >= self.plan.pieces.len() {
                self.error = Some("more bytes than the segments hold".into());
                return;
            }
            let n = (data.len() as u64).min(self.left) as usize;
            self.md5.update(&data[..n]);
            self.left -= n as u64;
            data = &data[n..];
            if self.left == 0 {
                self.close_piece();
            }
        }
    }

    fn close_piece(&mut self) {
        let (_, want) = &self.plan.pieces[self.index];
        let got = hex::encode(std::mem::take(&mut self.md5).finalize());
        if &got != want {
            self.error = Some(format!(
                "segment {} has MD5 {got}, its ETag says {want}",
                self.index
            ));
        }
        self.index += 1;
        self.skip_empty();
    }

    /// Zero-byte segments have nothing to feed: step over them.
    fn skip_empty(&mut self) {
        while self.index < self.plan.pieces.len() && self.plan.pieces[self.index].0 == 0 {
            self.index += 1;
        }
        self.left = self.plan.pieces.get(self.index).map_or(0, |p| p.0);
    }
}

fn unquote(etag: Option<&str>) -> String {
    etag.map(|e| e.trim().trim_matches('"').to_ascii_lowercase())
        .unwrap_or_default()
}

/// Downloads `container/object` into `out`, verified.
pub fn download(
    session: &Arc<Session>,
    container: &str,
    object: &str,
    out: &mut dyn Write,
) -> Result<DownloadReport, SwiftError> {
    let started = Instant::now();
    let mut client = Client::new(session.clone());
    let path = object_path(container, Some(object));
    super::block_on(async {
        let head = client.simple("HEAD", &path, &[]).await?;
        if !head.ok() {
            return Err(SwiftError::Status {
                method: "HEAD".into(),
                path: path.clone(),
                status: head.status(),
                body: String::new(),
            });
        }
        let etag = unquote(head.header("etag"));
        let plan = plan_for(&mut client, &path, &head).await?;
        if plan.kind.is_some() {
            let want = large_object_etag(plan.pieces.iter().map(|p| p.1.as_str()));
            if plan.per_segment && want != etag {
                return Err(SwiftError::Invalid(format!(
                    "{path}: ETag {etag:?} but its segments give {want:?} (segments changed, or the cluster does not serve this {} as a large object)",
                    plan.kind.unwrap_or_default()
                )));
            }
        }
        let mut v = Verifier {
            plan: &plan,
            index: 0,
            left: 0,
            md5: Md5::new(),
            error: None,
            total: 0,
        };
        v.skip_empty();
        let mut sink = |p: &[u8]| {
            v.feed(p);
            out.write_all(p)
        };
        let r = client.get_to(&path, &[], &mut sink).await?;
        if !r.ok() {
            return Err(SwiftError::Status {
                method: "GET".into(),
                path: path.clone(),
                status: r.status(),
                body: String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
                    .trim()
                    .to_string(),
            });
        }
        out.flush()?;
        let expected: u64 = plan.pieces.iter().map(|p| p.0).sum();
        let size = v.total;
        if let Some(e) = v.error.take() {
            return Err(SwiftError::Invalid(format!("{path}: {e}")));
        }
        if size != expected {
            return Err(SwiftError::Invalid(format!(
                "{path}: received {size} bytes, expected {expected}"
            )));
        }
        let verified = if plan.kind.is_none() {
            let got = hex::encode(std::mem::take(&mut v.md5).finalize());
            if got != etag {
                return Err(SwiftError::Invalid(format!(
                    "{path}: body MD5 {got} does not match ETag {etag}"
                )));
            }
            "md5"
        } else if plan.per_segment {
            if v.index != plan.pieces.len() {
                return Err(SwiftError::Invalid(format!(
                    "{path}: body ended inside segment {}",
                    v.index
                )));
            }
            "segments"
        } else {
            "size"
        };
        Ok(DownloadReport {
            container: container.into(),
            object: object.into(),
            size,
            etag,
            large_object: plan.kind,
            segments: if plan.kind.is_some() {
                plan.pieces.len()
            } else {
                0
            },
            verified,
            retries: session.counters.retries.load(Ordering::Relaxed),
            elapsed_s: started.elapsed().as_secs_f64(),
        })
    })
}

/// The pieces the body must consist of.
async fn plan_for(client: &mut Client, path: &str, head: &Response) -> Result<Plan, SwiftError> {
    let size: u64 = head
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if let Some(m) = head.header("x-object-manifest") {
        let m = percent_decode_str(m).decode_utf8_lossy().into_owned();
        let (seg_container, prefix) = m
            .split_once('/')
            .ok_or_else(|| SwiftError::Invalid(format!("bad X-Object-Manifest {m:?}")))?;
        let rows = list_objects(client, seg_container, prefix, None).await?;
        return Ok(Plan {
            pieces: rows.into_iter().map(|r| (r.bytes, r.hash)).collect(),
            kind: Some("dlo"),
            per_segment: true,
        });
    }
    let slo = head
        .header("x-static-large-object")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if slo {
        let p = format!("{path}?multipart-manifest=get");
        let rows: Vec<serde_json::Value> = super::listing::get_json(client, &p).await?;
        let simple = rows.iter().all(|r| {
            r.get("range").is_none() && !r.get("sub_slo").and_then(|v| v.as_bool()).unwrap_or(false)
        });
        let pieces = rows
            .iter()
            .map(|r| {
                (
                    r.get("bytes").and_then(|v| v.as_u64()).unwrap_or(0),
                    r.get("hash")
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect::<Vec<_>>();
        if simple {
            return Ok(Plan {
                pieces,
                kind: Some("slo"),
                per_segment: true,
            });
        }
        return Ok(Plan {
            pieces: vec![(size, String::new())],
            kind: Some("slo"),
            per_segment: false,
        });
    }
    Ok(Plan {
        pieces: vec![(size, unquote(head.header("etag")))],
        kind: None,
        per_segment: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(parts: &[&[u8]]) -> Plan {
        Plan {
            pieces: parts
                .iter()
                .map(|p| (p.len() as u64, hex::encode(Md5::digest(p))))
                .collect(),
            kind: Some("dlo"),
            per_segment: true,
        }
    }

    fn verifier(p: &Plan) -> Verifier<'_> {
        let mut v = Verifier {
            plan: p,
            index: 0,
            left: 0,
            md5: Md5::new(),
            error: None,
            total: 0,
        };
        v.skip_empty();
        v
    }

    #[test]
    fn segments_are_checked_across_arbitrary_chunking() {
        let p = plan(&[b"hello ", b"", b"large ", b"world"]);
        let mut v = verifier(&p);
        for piece in [&b"hel"[..], b"lo la", b"rge w", b"orld"] {
            v.feed(piece);
        }
        assert_eq!(v.error, None);
        assert_eq!(v.index, 4);
        assert_eq!(v.total, 17);
    }

    #[test]
    fn a_damaged_segment_is_named() {
        let p = plan(&[b"hello ", b"world"]);
        let mut v = verifier(&p);
        v.feed(b"hello WORLD");
        assert!(
            v.error.as_deref().unwrap_or("").contains("segment 1"),
            "{:?}",
            v.error
        );
    }
}
