//! `paco upload`, `download`, `list`, `delete` and `stat`: the Swift client
//! commands. Credentials work as in python-swiftclient (`-A/-U/-K` or
//! `ST_AUTH`/`ST_USER`/`ST_KEY`). Results go to stdout (JSON with `--json`),
//! progress and notes to stderr.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::progress::{human, note, Bar};
use super::swift::{object_path, Client, Credentials, RetryPolicy, Session, SwiftError};
use super::upload::{ManifestKind, Progress, Source, UploadOptions};
use crate::bench::options::parse_size;

/// Options every client command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// tempauth URL.
    #[arg(short = 'A', long = "auth", env = "ST_AUTH")]
    pub auth: String,
    /// User, as `account:user`.
    #[arg(short = 'U', long = "user", env = "ST_USER")]
    pub user: String,
    /// Key (password).
    #[arg(short = 'K', long = "key", env = "ST_KEY", hide_env_values = true)]
    pub key: String,
    /// Seconds a connect, read or write may take before the attempt fails.
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// Retries of a failed request (connection errors, 408, 429, 5xx, 401).
    #[arg(long, default_value_t = 5)]
    pub retries: u32,
    /// Seconds before the first retry; doubled for each further one (at
    /// most 64 s).
    #[arg(long, default_value_t = 1.0)]
    pub retry_delay: f64,
    /// No progress and no notes; errors only.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

impl Common {
    fn session(&self) -> Result<Arc<Session>, SwiftError> {
        let quiet = self.quiet;
        Session::new(
            Credentials {
                auth: self.auth.clone(),
                user: self.user.clone(),
                key: self.key.clone(),
            },
            Duration::from_secs_f64(self.timeout.max(0.001)),
            RetryPolicy {
                retries: self.retries,
                first_delay: Duration::from_secs_f64(self.retry_delay.max(0.0)),
                max_delay: Duration::from_secs(64),
            },
            Box::new(move |line| {
                if !quiet {
                    note(line)
                }
            }),
        )
    }

    /// A client on a new session, or the exit code after saying why there
    /// is none (as command `cmd`).
    fn client(&self, cmd: &str) -> Result<Client, ExitCode> {
        self.session().map(Client::new).map_err(|e| fail(cmd, e))
    }
}

/// `paco upload`.
#[derive(Debug, Clone, clap::Args)]
pub struct UploadArgs {
    #[command(flatten)]
    common: Common,
    /// Container (created if missing).
    container: String,
    /// Object name.
    name: String,
    /// File to upload; `-` or nothing reads standard input.
    file: Option<PathBuf>,
    /// Upload as a large object in segments of this size (`100MiB`, `1GB`).
    /// Needed for a stream to survive failures: each segment is retried on
    /// its own.
    #[arg(short = 'S', long, value_parser = parse_size)]
    segment_size: Option<u64>,
    /// Container for the segments (default `<container>_segments`).
    #[arg(long)]
    segment_container: Option<String>,
    /// Manifest type for segmented uploads.
    #[arg(long, value_enum, default_value = "auto")]
    manifest: ManifestKind,
    /// Segments of a file uploaded at once.
    #[arg(short, long, default_value_t = 4)]
    concurrency: usize,
    /// Directory for the temp files that make stream segments retryable.
    #[arg(long, env = "TMPDIR", default_value = "/tmp")]
    buffer_dir: PathBuf,
    /// Most disk the temp files may use at once (`0` disables buffering).
    /// A segment that does not fit is sent unbuffered and cannot be retried.
    #[arg(long, value_parser = parse_size, default_value = "5GiB")]
    buffer_limit: u64,
}

/// `paco download`.
#[derive(Debug, Clone, clap::Args)]
pub struct DownloadArgs {
    #[command(flatten)]
    common: Common,
    /// Container.
    container: String,
    /// Object.
    object: String,
    /// Output file, or `-` for standard output (default: the object name's
    /// last component, in the current directory).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// `paco list`.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    common: Common,
    /// Container to list; without it, the account's containers.
    container: Option<String>,
    /// Only names starting with this.
    #[arg(short, long, default_value = "")]
    prefix: String,
    /// Roll names up at this delimiter.
    #[arg(short, long)]
    delimiter: Option<String>,
    /// Sizes, dates and ETags too.
    #[arg(short, long)]
    long: bool,
}

/// `paco delete`.
#[derive(Debug, Clone, clap::Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    common: Common,
    /// Container.
    container: String,
    /// Objects to delete; without any, every object and then the container.
    objects: Vec<String>,
    /// Keep the segments of large objects.
    #[arg(long)]
    leave_segments: bool,
}

/// `paco stat`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatArgs {
    #[command(flatten)]
    common: Common,
    /// Container (without it: the account).
    container: Option<String>,
    /// Object.
    object: Option<String>,
}

fn fail(cmd: &str, e: impl std::fmt::Display) -> ExitCode {
    eprintln!("paco {cmd}: {e}");
    ExitCode::FAILURE
}

/// On Ctrl-C or SIGTERM: remove the temp files, say what is left, exit.
fn remove_temps_on_signal(leftover: String) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let n = super::segment::remove_all_temps();
            eprintln!("\npaco upload: interrupted; removed {n} temp file(s); {leftover}");
            std::process::exit(128 + sig);
        }
    });
}

/// Opens the upload source: a regular file (also when it is standard input)
/// is read in place; anything else is a stream.
fn open_source(file: Option<&Path>) -> std::io::Result<Source> {
    let (mut f, is_stdin) = match file {
        Some(p) if p != Path::new("-") => (File::open(p)?, false),
        _ => (
            File::from(std::io::stdin().as_fd().try_clone_to_owned()?),
            true,
        ),
    };
    if f.metadata()?.is_file() {
        let start = if is_stdin { f.stream_position()? } else { 0 };
        let len = f.metadata()?.len().saturating_sub(start);
        return Ok(Source::File {
            file: f,
            start,
            len,
        });
    }
    let input: Box<dyn Read + Send> = Box::new(f);
    Ok(Source::Stream(input))
}

/// Runs `paco upload`.
pub fn upload(args: UploadArgs) -> ExitCode {
    if args.segment_size == Some(0) {
        return fail("upload", "--segment-size must be at least 1 byte");
    }
    let session = match args.common.session() {
        Ok(s) => s,
        Err(e) => return fail("upload", e),
    };
    let source = match open_source(args.file.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail("upload", format!("opening the source: {e}")),
    };
    if matches!(source, Source::Stream(_)) && args.segment_size.is_none() && !args.common.quiet {
        note("uploading a stream as one object: without --segment-size it cannot be retried once bytes were sent");
    }
    let seg_container = args
        .segment_container
        .clone()
        .unwrap_or_else(|| format!("{}_segments", args.container));
    remove_temps_on_signal(format!(
        "segments already stored stay in container {seg_container:?} under {:?}",
        args.name
    ));
    let opts = UploadOptions {
        container: args.container.clone(),
        name: args.name.clone(),
        segment_size: args.segment_size,
        segment_container: args.segment_container.clone(),
        manifest: args.manifest,
        concurrency: args.concurrency.max(1),
        buffer_dir: args.buffer_dir.clone(),
        buffer_limit: args.buffer_limit,
    };
    let progress = Arc::new(Progress::default());
    let quiet = args.common.quiet;
    let bar = Bar::start(
        !quiet && !args.common.json,
        session.clone(),
        progress.clone(),
        true,
    );
    let result = super::upload::upload(
        &session,
        &opts,
        source,
        &progress,
        Box::new(move |i| {
            if !quiet {
                note(&format!(
                    "segment {i}: buffer budget full, sending it unbuffered (it cannot be retried)"
                ));
            }
        }),
    );
    bar.finish();
    let (r, result) = result;
    if args.common.json {
        let mut v = serde_json::to_value(&r).unwrap_or_default();
        v["fallback"] = serde_json::Value::Bool(r.unbuffered_segments > 0);
        if let Err(e) = &result {
            v["error"] = serde_json::Value::String(e.to_string());
        }
        println!("{v}");
    }
    match result {
        Ok(()) => {
            if !args.common.json && !quiet {
                eprintln!(
                    "paco upload: {}/{}: {} in {:.1}s ({}/s){}, ETag {}; {} sent, {} retries",
                    r.container,
                    r.object,
                    human(r.size as f64),
                    r.elapsed_s,
                    human(r.size as f64 / r.elapsed_s.max(1e-9)),
                    match r.manifest {
                        Some(k) => format!(", {} segments ({k})", r.segments.len()),
                        None => String::new(),
                    },
                    r.etag,
                    human(r.bytes_sent as f64),
                    r.retries,
                );
                if r.unbuffered_segments > 0 {
                    eprintln!(
                        "paco upload: {} segment(s) were sent unbuffered (buffer budget full)",
                        r.unbuffered_segments
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail("upload", e),
    }
}

/// Runs `paco download`.
pub fn download(args: DownloadArgs) -> ExitCode {
    let session = match args.common.session() {
        Ok(s) => s,
        Err(e) => return fail("download", e),
    };
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    let target = match &args.output {
        Some(p) if !to_stdout => p.clone(),
        Some(_) => PathBuf::new(),
        None => {
            let base = args.object.rsplit('/').next().unwrap_or("");
            if base.is_empty() || base == "." || base == ".." {
                return fail(
                    "download",
                    "the object name ends without a file name; give -o FILE",
                );
            }
            PathBuf::from(base)
        }
    };
    let progress = Arc::new(Progress::default());
    let bar = Bar::start(
        !args.common.quiet && !args.common.json,
        session.clone(),
        progress,
        false,
    );
    let result = if to_stdout {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, stdout.lock());
        super::download::download(&session, &args.container, &args.object, &mut out)
    } else {
        // Written beside the target and renamed once verified, so a failed
        // download never leaves a file that looks complete.
        let part = target.with_file_name(format!(
            ".{}.paco-part",
            target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        match File::create(&part) {
            Err(e) => Err(SwiftError::Local(e)),
            Ok(f) => {
                let mut out = std::io::BufWriter::with_capacity(256 * 1024, f);
                let r =
                    super::download::download(&session, &args.container, &args.object, &mut out)
                        .and_then(|r| {
                            let f = out.into_inner().map_err(|e| e.into_error())?;
                            f.sync_all()?;
                            std::fs::rename(&part, &target)?;
                            Ok(r)
                        });
                if r.is_err() {
                    let _ = std::fs::remove_file(&part);
                }
                r
            }
        }
    };
    bar.finish();
    match result {
        Ok(r) => {
            if args.common.json {
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
            } else if !args.common.quiet {
                eprintln!(
                    "paco download: {}/{}: {} in {:.1}s, verified ({})",
                    r.container,
                    r.object,
                    human(r.size as f64),
                    r.elapsed_s,
                    r.verified
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail("download", e),
    }
}

/// Runs `paco list`.
pub fn list(args: ListArgs) -> ExitCode {
    let mut client = match args.common.client("list") {
        Ok(c) => c,
        Err(code) => return code,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let r: Result<(), SwiftError> = super::block_on(async {
        match &args.container {
            Some(c) => {
                let rows = super::listing::list_objects(
                    &mut client,
                    c,
                    &args.prefix,
                    args.delimiter.as_deref(),
                )
                .await?;
                if args.common.json {
                    writeln!(out, "{}", serde_json::to_string(&rows).unwrap_or_default())?;
                }
                for r in rows.iter().filter(|_| !args.common.json) {
                    match (&r.subdir, args.long) {
                        (Some(d), _) => writeln!(out, "{d}")?,
                        (None, false) => writeln!(out, "{}", r.name)?,
                        (None, true) => writeln!(
                            out,
                            "{:>14} {} {} {}",
                            r.bytes, r.last_modified, r.hash, r.name
                        )?,
                    }
                }
            }
            None => {
                let rows = super::listing::list_containers(&mut client, &args.prefix).await?;
                if args.common.json {
                    writeln!(out, "{}", serde_json::to_string(&rows).unwrap_or_default())?;
                }
                for r in rows.iter().filter(|_| !args.common.json) {
                    if args.long {
                        writeln!(out, "{:>10} {:>14} {}", r.count, r.bytes, r.name)?;
                    } else {
                        writeln!(out, "{}", r.name)?;
                    }
                }
            }
        }
        Ok(())
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail("list", e),
    }
}

/// DELETEs `target`, reporting a refusal (with the server's reason) as one
/// on `path`.
async fn delete_checked(client: &mut Client, target: &str, path: &str) -> Result<(), SwiftError> {
    let r = client.simple("DELETE", target, &[]).await?;
    if r.ok() {
        return Ok(());
    }
    Err(SwiftError::Status {
        method: "DELETE".into(),
        path: path.into(),
        status: r.status(),
        body: String::from_utf8_lossy(&r.body).trim().to_string(),
    })
}

/// Deletes one object, and the segments of a large object unless told not
/// to. Returns the segments deleted.
async fn delete_object(
    client: &mut Client,
    container: &str,
    object: &str,
    leave_segments: bool,
) -> Result<usize, SwiftError> {
    let path = object_path(container, Some(object));
    let head = client.simple("HEAD", &path, &[]).await?;
    let mut segments = Vec::new();
    let mut delete_path = path.clone();
    if head.ok() && !leave_segments {
        if let Some(m) = head.header("x-object-manifest") {
            let m = percent_encoding::percent_decode_str(m)
                .decode_utf8_lossy()
                .into_owned();
            if let Some((c, prefix)) = m.split_once('/') {
                for r in super::listing::list_objects(client, c, prefix, None).await? {
                    segments.push(object_path(c, Some(&r.name)));
                }
            }
        } else if head
            .header("x-static-large-object")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            // The cluster deletes an SLO's segments itself.
            delete_path = format!("{path}?multipart-manifest=delete");
        }
    }
    delete_checked(client, &delete_path, &path).await?;
    for s in &segments {
        let r = client.simple("DELETE", s, &[]).await?;
        if !r.ok() && r.status() != 404 {
            return Err(SwiftError::Status {
                method: "DELETE".into(),
                path: s.clone(),
                status: r.status(),
                body: String::new(),
            });
        }
    }
    Ok(segments.len())
}

/// Runs `paco delete`.
pub fn delete(args: DeleteArgs) -> ExitCode {
    let mut client = match args.common.client("delete") {
        Ok(c) => c,
        Err(code) => return code,
    };
    let r: Result<Vec<String>, SwiftError> = super::block_on(async {
        let mut deleted = Vec::new();
        let names: Vec<String> = if args.objects.is_empty() {
            super::listing::list_objects(&mut client, &args.container, "", None)
                .await?
                .into_iter()
                .map(|r| r.name)
                .collect()
        } else {
            args.objects.clone()
        };
        for n in &names {
            delete_object(&mut client, &args.container, n, args.leave_segments).await?;
            deleted.push(n.clone());
        }
        if args.objects.is_empty() {
            let path = object_path(&args.container, None);
            delete_checked(&mut client, &path, &path).await?;
        }
        Ok(deleted)
    });
    match r {
        Ok(names) => {
            if args.common.json {
                println!("{}", serde_json::json!({ "deleted": names }));
            } else if !args.common.quiet {
                for n in names {
                    println!("{n}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail("delete", e),
    }
}

/// Runs `paco stat`.
pub fn stat(args: StatArgs) -> ExitCode {
    let mut client = match args.common.client("stat") {
        Ok(c) => c,
        Err(code) => return code,
    };
    let path = match (&args.container, &args.object) {
        (None, _) => String::new(),
        (Some(c), o) => object_path(c, o.as_deref()),
    };
    let r = super::block_on(client.simple("HEAD", &path, &[]));
    match r {
        Ok(r) if r.ok() => {
            if args.common.json {
                let map: serde_json::Map<String, serde_json::Value> = r
                    .head
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                println!("{}", serde_json::Value::Object(map));
            } else {
                for (k, v) in &r.head.headers {
                    println!("{k}: {v}");
                }
            }
            ExitCode::SUCCESS
        }
        Ok(r) => fail("stat", format!("HEAD {path}: HTTP {}", r.status())),
        Err(e) => fail("stat", e),
    }
}
