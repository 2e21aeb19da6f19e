//! `paco upload`: a file or a stream as one object, or as the segments of a
//! large object plus its manifest (SLO when the cluster's `/info` lists
//! `slo`, DLO otherwise). Regular files are read in place by several
//! connections at once; streams go through the buffered segment reader one
//! segment at a time. Every segment's ETag is checked against the MD5 of the
//! bytes sent, and the finished object's size and ETag are checked against
//! what was read.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};
use serde::Serialize;

use super::body::{Body, BytesBody, FileRange, NoBody};
use super::segment::{Budget, StreamSegment, StreamSource};
use super::swift::{encode_component, encode_object, object_path, Client, Session, SwiftError};

/// Where the bytes come from.
pub enum Source {
    /// A regular file (or stdin redirected from one): `len` bytes from
    /// offset `start`, read in place.
    File {
        /// The open file.
        file: File,
        /// First byte to upload.
        start: u64,
        /// Bytes to upload.
        len: u64,
    },
    /// A pipe or anything else that can only be read once, front to back.
    Stream(Box<dyn Read + Send>),
}

/// Which manifest a segmented upload writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ManifestKind {
    /// SLO when `/info` advertises it, DLO otherwise.
    Auto,
    /// Dynamic large object (`X-Object-Manifest`).
    Dlo,
    /// Static large object (`?multipart-manifest=put`).
    Slo,
}

/// What to upload and how.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Destination container (created if missing).
    pub container: String,
    /// Object name.
    pub name: String,
    /// Segment size; `None` uploads one object.
    pub segment_size: Option<u64>,
    /// Container for the segments (default `<container>_segments`).
    pub segment_container: Option<String>,
    /// Manifest type.
    pub manifest: ManifestKind,
    /// Connections uploading segments of a file at once.
    pub concurrency: usize,
    /// Directory for segment temp files of a stream.
    pub buffer_dir: PathBuf,
    /// Most bytes of temp files at once.
    pub buffer_limit: u64,
}

/// One uploaded segment.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentRecord {
    /// Object name in the segment container.
    pub name: String,
    /// MD5 of its bytes, as the server confirmed.
    pub etag: String,
    /// Its size.
    pub size: u64,
    /// Whether it went through a temp file (streams only).
    pub buffered: bool,
}

/// What an upload did (the `--json` summary).
#[derive(Debug, Clone, Serialize)]
pub struct UploadReport {
    /// Container.
    pub container: String,
    /// Object name.
    pub object: String,
    /// Bytes of the object.
    pub size: u64,
    /// The object's ETag as the server reports it.
    pub etag: String,
    /// `"slo"`, `"dlo"` or `null` for a plain object.
    pub manifest: Option<&'static str>,
    /// Segment container, for large objects.
    pub segment_container: Option<String>,
    /// The segments, in order.
    pub segments: Vec<SegmentRecord>,
    /// Whether the source was a stream.
    pub stream: bool,
    /// Stream segments sent unbuffered because the budget was full.
    pub unbuffered_segments: usize,
    /// Request body bytes written to the network, retries included.
    pub bytes_sent: u64,
    /// Requests retried.
    pub retries: u64,
    /// Re-authentications.
    pub reauths: u64,
    /// Each failure that was retried.
    pub faults: Vec<String>,
    /// Wall time in seconds.
    pub elapsed_s: f64,
    /// Whether the manifest was written (the segments are then kept even
    /// if the final check fails).
    #[serde(skip)]
    manifest_written: bool,
}

/// Live figures for a progress display.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of the source read (streams) or planned (files).
    pub total: AtomicU64,
    /// Whether `total` is final.
    pub total_known: AtomicBool,
    /// Segments confirmed.
    pub segments_done: AtomicU64,
    /// Segments in all (0 while unknown).
    pub segments_total: AtomicU64,
    /// Segments sent unbuffered.
    pub unbuffered: AtomicU64,
}

/// Called once per segment sent unbuffered, with its index.
pub type FallbackNote = Box<dyn Fn(usize) + Send + Sync>;

/// Runs an upload to the end (on the calling thread; file segments on
/// `concurrency` threads of their own). The report is returned also when
/// the upload failed (what was sent, retried and stored until then).
pub fn upload(
    session: &Arc<Session>,
    opts: &UploadOptions,
    source: Source,
    progress: &Arc<Progress>,
    on_fallback: FallbackNote,
) -> (UploadReport, Result<(), SwiftError>) {
    let started = Instant::now();
    let mut client = Client::new(session.clone());
    let mut report = UploadReport {
        container: opts.container.clone(),
        object: opts.name.clone(),
        size: 0,
        etag: String::new(),
        manifest: None,
        segment_container: None,
        segments: Vec::new(),
        stream: matches!(source, Source::Stream(_)),
        unbuffered_segments: 0,
        bytes_sent: 0,
        retries: 0,
        reauths: 0,
        faults: Vec::new(),
        elapsed_s: 0.0,
        manifest_written: false,
    };
    let result = run(
        session,
        opts,
        source,
        progress,
        on_fallback,
        &mut client,
        &mut report,
    );
    let c = &session.counters;
    report.bytes_sent = c.bytes_sent.load(Ordering::Relaxed);
    report.retries = c.retries.load(Ordering::Relaxed);
    report.reauths = c.reauths.load(Ordering::Relaxed);
    report.faults = c.faults();
    report.elapsed_s = started.elapsed().as_secs_f64();
    if result.is_err() {
        abandon(&mut client, &report);
    }
    (report, result)
}

fn run(
    session: &Arc<Session>,
    opts: &UploadOptions,
    source: Source,
    progress: &Arc<Progress>,
    on_fallback: FallbackNote,
    client: &mut Client,
    report: &mut UploadReport,
) -> Result<(), SwiftError> {
    let (kind, max_segments) = super::block_on(async {
        ensure_container(client, &opts.container).await?;
        if opts.segment_size.is_none() {
            return Ok::<_, SwiftError>((None, usize::MAX));
        }
        let info = client.info().await.unwrap_or(None);
        let slo = info.as_ref().and_then(|i| i.get("slo"));
        let kind = match (opts.manifest, slo) {
            (ManifestKind::Dlo, _) | (ManifestKind::Auto, None) => "dlo",
            (ManifestKind::Slo, _) | (ManifestKind::Auto, Some(_)) => "slo",
        };
        let max = match kind {
            "slo" => slo
                .and_then(|s| s.get("max_manifest_segments"))
                .and_then(|v| v.as_u64())
                .unwrap_or(1000) as usize,
            _ => usize::MAX,
        };
        ensure_container(client, &seg_container(opts)).await?;
        Ok((Some(kind), max))
    })?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    report.manifest = kind;
    report.segment_container = kind.map(|_| seg_container(opts));
    match (source, opts.segment_size, kind) {
        (Source::File { file, start, len }, Some(seg), Some(kind)) if len > seg => {
            let segments = len.div_ceil(seg);
            if segments as usize > max_segments {
                return Err(SwiftError::Invalid(format!(
                    "{segments} segments of {seg} bytes exceed the cluster's limit of {max_segments}; use a larger --segment-size"
                )));
            }
            let prefix = segment_prefix(opts, kind, stamp, &len.to_string(), seg);
            progress.total.store(len, Ordering::Relaxed);
            progress.total_known.store(true, Ordering::Relaxed);
            progress.segments_total.store(segments, Ordering::Relaxed);
            upload_file_segments(
                session,
                opts,
                (&file, start, len, seg),
                &prefix,
                progress,
                &mut report.segments,
            )
            .and_then(|()| finish_large(client, opts, kind, report))
        }
        (Source::File { file, start, len }, _, _) => {
            progress.total.store(len, Ordering::Relaxed);
            progress.total_known.store(true, Ordering::Relaxed);
            report.manifest = None;
            report.segment_container = None;
            let mut body = FileRange::new(&file, start, len);
            super::block_on(put_checked(
                client,
                &object_path(&opts.container, Some(&opts.name)),
                &[],
                &mut body,
                |b| b.md5_hex(),
            ))
            .map(|etag| {
                report.size = len;
                report.etag = etag;
            })
        }
        (Source::Stream(input), seg, kind) => {
            let mut src = StreamSource::spawn(input);
            let budget = Budget::new(opts.buffer_dir.clone(), opts.buffer_limit);
            match (seg, kind) {
                (Some(seg), Some(kind)) => {
                    let prefix = segment_prefix(opts, kind, stamp, "stream", seg);
                    let r = upload_stream_segments(
                        client,
                        opts,
                        &mut src,
                        &budget,
                        seg,
                        max_segments,
                        &prefix,
                        progress,
                        &on_fallback,
                        report,
                    );
                    r.and_then(|()| {
                        if report.segments.is_empty() {
                            // Nothing to point a manifest at: an empty object.
                            report.manifest = None;
                            report.segment_container = None;
                            let mut body = NoBody;
                            super::block_on(put_checked(
                                client,
                                &object_path(&opts.container, Some(&opts.name)),
                                &[],
                                &mut body,
                                |_| hex::encode(Md5::digest(b"")),
                            ))
                            .map(|etag| report.etag = etag)
                        } else {
                            finish_large(client, opts, kind, report)
                        }
                    })
                }
                _ => {
                    // One object from a stream: its size is unknown, so no
                    // budget can promise to hold it; it goes unbuffered.
                    report.manifest = None;
                    report.segment_container = None;
                    let mut body = StreamSegment::new(&mut src, u64::MAX, &budget, "object")?;
                    if !body.buffered() {
                        report.unbuffered_segments = 1;
                        progress.unbuffered.store(1, Ordering::Relaxed);
                    }
                    let r = super::block_on(put_checked(
                        client,
                        &object_path(&opts.container, Some(&opts.name)),
                        &[],
                        &mut body,
                        |b| b.md5_hex(),
                    ));
                    report.size = body.size();
                    body.release();
                    r.map(|etag| report.etag = etag)
                }
            }
        }
    }
}

fn seg_container(opts: &UploadOptions) -> String {
    opts.segment_container
        .clone()
        .unwrap_or_else(|| format!("{}_segments", opts.container))
}

/// `<name>/<kind>/<timestamp>/<size or "stream">/<segment size>/`: a fresh
/// prefix per upload, so a DLO never picks up another upload's segments.
fn segment_prefix(opts: &UploadOptions, kind: &str, stamp: f64, size: &str, seg: u64) -> String {
    format!("{}/{kind}/{stamp:.6}/{size}/{seg}/", opts.name)
}

async fn ensure_container(client: &mut Client, container: &str) -> Result<(), SwiftError> {
    let path = object_path(container, None);
    let r = client.simple("HEAD", &path, &[]).await?;
    if r.ok() {
        return Ok(());
    }
    let r = client
        .request("PUT", &path, &[], &mut NoBody, &mut |_| Ok(()))
        .await?;
    if r.ok() {
        Ok(())
    } else {
        Err(status_error("PUT", &path, &r))
    }
}

fn status_error(method: &str, path: &str, r: &super::swift::Response) -> SwiftError {
    SwiftError::Status {
        method: method.into(),
        path: path.into(),
        status: r.status(),
        body: String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
            .trim()
            .to_string(),
    }
}

/// PUTs `body` and checks the returned ETag against `md5` (the MD5 of what
/// this attempt sent). A mismatch means bytes changed on the way: the PUT is
/// sent again while the body can rewind.
async fn put_checked<B: Body>(
    client: &mut Client,
    path: &str,
    headers: &[(&str, String)],
    body: &mut B,
    md5: impl Fn(&B) -> String,
) -> Result<String, SwiftError> {
    let retries = client.session().policy.retries;
    let mut mismatches = 0;
    loop {
        let r = client
            .request("PUT", path, headers, body, &mut |_| Ok(()))
            .await?;
        if !r.ok() {
            return Err(status_error("PUT", path, &r));
        }
        let sent = md5(body);
        let got = r
            .header("etag")
            .map(|e| e.trim_matches('"').to_ascii_lowercase())
            .unwrap_or_default();
        if got == sent {
            return Ok(got);
        }
        mismatches += 1;
        let why = format!("PUT {path}: server ETag {got:?} but sent MD5 {sent}");
        if mismatches > retries {
            return Err(SwiftError::Invalid(why));
        }
        body.rewind().map_err(|w| SwiftError::NotRetryable {
            method: "PUT".into(),
            path: path.into(),
            cause: why.clone(),
            why: w,
        })?;
        client
            .session()
            .counters
            .retries
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// Uploads the segments of `(file, start, len, segment size)` on
/// `concurrency` threads; `out` gets the confirmed ones in order (all of
/// them on success).
fn upload_file_segments(
    session: &Arc<Session>,
    opts: &UploadOptions,
    (file, start, len, seg): (&File, u64, u64, u64),
    prefix: &str,
    progress: &Arc<Progress>,
    out: &mut Vec<SegmentRecord>,
) -> Result<(), SwiftError> {
    let count = len.div_ceil(seg) as usize;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let done: Mutex<Vec<Option<SegmentRecord>>> = Mutex::new(vec![None; count]);
    let failed: Mutex<Option<SwiftError>> = Mutex::new(None);
    let container = seg_container(opts);
    std::thread::scope(|s| {
        for _ in 0..opts.concurrency.clamp(1, count) {
            s.spawn(|| {
                let mut client = Client::new(session.clone());
                super::block_on(async {
                    while !stop.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            break;
                        }
                        let off = i as u64 * seg;
                        let size = seg.min(len - off);
                        let name = format!("{prefix}{i:08}");
                        let mut body = FileRange::new(file, start + off, size);
                        let path = object_path(&container, Some(&name));
                        match put_checked(&mut client, &path, &[], &mut body, |b| b.md5_hex()).await
                        {
                            Ok(etag) => {
                                progress.segments_done.fetch_add(1, Ordering::Relaxed);
                                if let Ok(mut d) = done.lock() {
                                    d[i] = Some(SegmentRecord {
                                        name,
                                        etag,
                                        size,
                                        buffered: false,
                                    });
                                }
                            }
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                if let Ok(mut f) = failed.lock() {
                                    f.get_or_insert(e);
                                }
                            }
                        }
                    }
                });
            });
        }
    });
    let segs: Vec<Option<SegmentRecord>> = done.into_inner().unwrap_or_default();
    let complete = segs.iter().all(Option::is_some);
    out.extend(segs.into_iter().flatten());
    if let Some(e) = failed.into_inner().ok().flatten() {
        return Err(e);
    }
    if !complete {
        return Err(SwiftError::Invalid("a segment was not uploaded".into()));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn upload_stream_segments(
    client: &mut Client,
    opts: &UploadOptions,
    src: &mut StreamSource,
    budget: &Arc<Budget>,
    seg: u64,
    max_segments: usize,
    prefix: &str,
    progress: &Arc<Progress>,
    on_fallback: &FallbackNote,
    report: &mut UploadReport,
) -> Result<(), SwiftError> {
    let container = seg_container(opts);
    super::block_on(async {
        loop {
            // Open a segment only when the source has a byte for it, so the
            // object never ends with an empty segment.
            if src.at_end()? {
                progress.total_known.store(true, Ordering::Relaxed);
                return Ok(());
            }
            let i = report.segments.len();
            if i >= max_segments {
                return Err(SwiftError::Invalid(format!(
                    "the stream needs more than the cluster's limit of {max_segments} segments; use a larger --segment-size"
                )));
            }
            let name = format!("{prefix}{i:08}");
            let mut body = StreamSegment::new(src, seg, budget, &format!("{i:08}"))?;
            if !body.buffered() {
                report.unbuffered_segments += 1;
                progress.unbuffered.fetch_add(1, Ordering::Relaxed);
                on_fallback(i);
            }
            let path = object_path(&container, Some(&name));
            let etag = put_checked(client, &path, &[], &mut body, |b| b.md5_hex()).await;
            let size = body.size();
            let buffered = body.buffered();
            // Confirmed or failed, the temp file goes now.
            body.release();
            drop(body);
            let etag = etag?;
            report.size += size;
            progress.total.fetch_add(size, Ordering::Relaxed);
            progress.segments_done.fetch_add(1, Ordering::Relaxed);
            report.segments.push(SegmentRecord {
                name,
                etag,
                size,
                buffered,
            });
        }
    })
}

/// ETag of a large object: the MD5 of its segments' ETags, concatenated.
pub fn large_object_etag<'a>(etags: impl IntoIterator<Item = &'a str>) -> String {
    let mut md5 = Md5::new();
    for e in etags {
        md5.update(e.as_bytes());
    }
    hex::encode(md5.finalize())
}

/// Writes the manifest and checks what the cluster now serves.
fn finish_large(
    client: &mut Client,
    opts: &UploadOptions,
    kind: &str,
    report: &mut UploadReport,
) -> Result<(), SwiftError> {
    let container = seg_container(opts);
    report.size = report.segments.iter().map(|s| s.size).sum();
    let expect = large_object_etag(report.segments.iter().map(|s| s.etag.as_str()));
    let path = object_path(&opts.container, Some(&opts.name));
    super::block_on(async {
        if kind == "slo" {
            let manifest: Vec<serde_json::Value> = report
                .segments
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "path": format!("/{}/{}", container, s.name),
                        "etag": s.etag,
                        "size_bytes": s.size,
                    })
                })
                .collect();
            let data = serde_json::to_vec(&manifest)
                .map_err(|e| SwiftError::Invalid(format!("manifest: {e}")))?;
            let mut body = BytesBody::new(data);
            let p = format!("{path}?multipart-manifest=put");
            let r = client
                .request("PUT", &p, &[], &mut body, &mut |_| Ok(()))
                .await?;
            if !r.ok() {
                return Err(status_error("PUT", &p, &r));
            }
        } else {
            let prefix = report
                .segments
                .first()
                .map(|s| s.name.trim_end_matches(|c: char| c.is_ascii_digit()))
                .unwrap_or_default();
            let value = format!("{}/{}", encode_component(&container), encode_object(prefix));
            let r = client
                .request(
                    "PUT",
                    &path,
                    &[("X-Object-Manifest", value)],
                    &mut NoBody,
                    &mut |_| Ok(()),
                )
                .await?;
            if !r.ok() {
                return Err(status_error("PUT", &path, &r));
            }
        }
        report.manifest_written = true;
        // The listing behind a DLO can lag in an eventually consistent
        // cluster: look a few times before calling it a failure.
        let mut last = String::new();
        for attempt in 0..4u32 {
            if attempt > 0 {
                monoio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
            let r = client.simple("HEAD", &path, &[]).await?;
            let size = r
                .header("content-length")
                .and_then(|v| v.parse::<u64>().ok());
            let etag = r
                .header("etag")
                .map(|e| e.trim_matches('"').to_ascii_lowercase())
                .unwrap_or_default();
            if r.ok() && size == Some(report.size) && etag == expect {
                report.etag = etag;
                return Ok(());
            }
            last = format!(
                "HTTP {}, {} bytes, ETag {etag:?}",
                r.status(),
                size.map_or("?".to_string(), |s| s.to_string())
            );
        }
        Err(SwiftError::Invalid(format!(
            "{path}: after writing the manifest the cluster serves {last}, expected {} bytes with ETag {expect:?} ({kind} not served as a large object?)",
            report.size
        )))
    })
}

/// After a failure: the segments already stored can never become this
/// object (the stream is consumed), so they are deleted, best effort.
fn abandon(client: &mut Client, report: &UploadReport) {
    let Some(container) = &report.segment_container else {
        return;
    };
    if report.segments.is_empty() || report.manifest_written {
        return;
    }
    super::block_on(async {
        for s in &report.segments {
            let _ = client
                .simple("DELETE", &object_path(container, Some(&s.name)), &[])
                .await;
        }
    });
}
