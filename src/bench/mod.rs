//! `paco bench`: a thread-per-core load generator speaking the Swift API
//! with tempauth, so the same tool measures paco and real Swift. Latency goes
//! into hdrhistograms per op; everything read is verified (size, ETag and
//! the bytes themselves), so a fast wrong answer counts as an error.

mod ops;
pub mod options;
pub mod report;

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

use crate::client::conn::{ClientConn, ClientError, ResponseHead};
use options::{parse_mix, parse_sizes, parse_url, pick, BenchArgs, HttpUrl, Op};
use report::RunStats;

/// Distinct object contents per size (content depends on `index % VARIANTS`).
const VARIANTS: u64 = 4;
/// Length of the repeating content pattern.
const PATTERN_LEN: usize = 1 << 20;

/// Deterministic pseudo-random bytes the object bodies are cut from.
fn pattern() -> Arc<Vec<u8>> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut v = Vec::with_capacity(PATTERN_LEN + 64);
    while v.len() < PATTERN_LEN + 64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    Arc::new(v)
}

/// Byte `pos` of an object body of variant `variant`.
fn body_at(pattern: &[u8], variant: u64, pos: u64) -> &[u8] {
    let start = ((pos + variant * 7919) % PATTERN_LEN as u64) as usize;
    &pattern[start..PATTERN_LEN]
}

fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// What every load task shares.
struct Plan {
    storage: HttpUrl,
    /// `X-Auth-Token: ...\r\n`, or empty against a plain HTTP server.
    auth_header: String,
    /// A plain HTTP server (`-A none`): no containers to create, PUT may
    /// answer 204, ETags are not checked.
    plain: bool,
    containers: Vec<String>,
    objects: u64,
    sizes: Vec<(u64, u32)>,
    size_total: u32,
    mix: Vec<(Op, u32)>,
    mix_total: u32,
    pattern: Arc<Vec<u8>>,
    /// Expected ETag per (size, variant).
    etags: Vec<((u64, u64), String)>,
    verify: bool,
    timeout: Duration,
    list_limit: usize,
}

impl Plan {
    fn size_of(&self, i: u64) -> u64 {
        pick(&self.sizes, (mix64(i) % self.size_total as u64) as u32)
    }

    fn etag(&self, size: u64, variant: u64) -> &str {
        self.etags
            .iter()
            .find(|(k, _)| *k == (size, variant))
            .map(|(_, e)| e.as_str())
            .unwrap_or("")
    }

    fn object_path(&self, i: u64) -> String {
        let c = &self.containers[(i % self.containers.len() as u64) as usize];
        format!("{}/{}/o{:010}", self.storage.path, c, i)
    }
}

/// Progress and stop signals shared by all threads.
struct Shared {
    measure_from: Instant,
    stop: AtomicBool,
    measured: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    ops_limit: Option<u64>,
}

/// Runs `paco bench` and prints the result.
pub fn run(args: BenchArgs) -> Result<(), String> {
    let sizes = parse_sizes(&args.size)?;
    let mix = parse_mix(&args.mix)?;
    if args.concurrency == 0 || args.containers == 0 {
        return Err("concurrency and containers must be at least 1".into());
    }
    let threads = if args.threads > 0 {
        args.threads
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    }
    .min(args.concurrency);
    let timeout = Duration::from_secs_f64(args.timeout.max(0.1));
    let plain = args.auth.eq_ignore_ascii_case("none");
    let (auth_header, storage_url) = if plain {
        let url = args
            .url
            .clone()
            .ok_or("-A none needs --url (where the objects live)")?;
        (String::new(), url)
    } else {
        let auth = parse_url(&args.auth)?;
        let (token, url) = block_on(authenticate(&auth, &args.user, &args.key, timeout))?;
        (
            format!("X-Auth-Token: {token}\r\n"),
            args.url.clone().unwrap_or(url),
        )
    };
    let mut storage = parse_url(&storage_url)?;
    // Object paths are `<storage path>/<container>/<name>`.
    while storage.path.ends_with('/') {
        storage.path.pop();
    }
    let run_id: u32 = rand::random();
    let containers: Vec<String> = if args.container.is_empty() {
        (0..args.containers)
            .map(|i| format!("{}-{run_id:08x}-{i}", args.container_prefix))
            .collect()
    } else {
        args.container.clone()
    };
    let pattern = pattern();
    let mut etags = Vec::new();
    for &(size, _) in &sizes {
        for v in 0..VARIANTS {
            etags.push(((size, v), expected_etag(&pattern, size, v)));
        }
    }
    let plan = Arc::new(Plan {
        storage,
        auth_header,
        plain,
        containers,
        objects: args.objects.max(1) as u64,
        size_total: sizes.iter().map(|s| s.1).sum(),
        sizes,
        mix_total: mix.iter().map(|m| m.1).sum(),
        mix,
        pattern,
        etags,
        verify: !args.no_verify,
        timeout,
        list_limit: args.list_limit.max(1),
    });

    eprintln!(
        "paco bench: {} containers, {} objects{}",
        plan.containers.len(),
        plan.objects,
        if args.no_prefill {
            " (not written first)"
        } else {
            ""
        }
    );
    if !plan.plain {
        block_on(create_containers(&plan))?;
    }
    if !args.no_prefill {
        run_threads(
            &plan,
            threads,
            args.concurrency,
            &args.cpus,
            Phase::Prefill,
            None,
        )?;
    }

    let warmup = Duration::from_secs_f64(args.warmup.max(0.0));
    let duration = Duration::from_secs_f64(args.duration.max(0.1));
    let shared = Arc::new(Shared {
        measure_from: Instant::now() + warmup,
        stop: AtomicBool::new(false),
        measured: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        ops_limit: args.ops,
    });
    let progress = {
        let shared = shared.clone();
        let limit_by_time = args.ops.is_none();
        std::thread::spawn(move || progress_loop(&shared, warmup, duration, limit_by_time))
    };
    let started = Instant::now();
    let stats = run_threads(
        &plan,
        threads,
        args.concurrency,
        &args.cpus,
        Phase::Measure,
        Some(shared.clone()),
    )?;
    let elapsed = started.elapsed().saturating_sub(warmup);
    shared.stop.store(true, Ordering::SeqCst);
    let _ = progress.join();
    eprintln!();

    let config = serde_json::json!({
        "auth": args.auth, "user": args.user, "size": args.size, "mix": args.mix,
        "concurrency": args.concurrency, "threads": threads, "duration_s": args.duration,
        "ops": args.ops, "warmup_s": args.warmup, "containers": args.containers,
        "objects": args.objects, "verify": !args.no_verify, "plain": plain,
        "list_limit": args.list_limit, "prefill": !args.no_prefill,
    });
    if args.json {
        println!("{}", report::to_json(&stats, elapsed, config));
    } else {
        print!("{}", report::to_table(&stats, elapsed));
    }
    Ok(())
}

fn expected_etag(pattern: &[u8], size: u64, variant: u64) -> String {
    let mut md5 = Md5::new();
    let mut pos = 0;
    while pos < size {
        let chunk = body_at(pattern, variant, pos);
        let n = (chunk.len() as u64).min(size - pos) as usize;
        md5.update(&chunk[..n]);
        pos += n as u64;
    }
    hex::encode(md5.finalize())
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    match monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build()
    {
        Ok(mut rt) => rt.block_on(f),
        Err(e) => panic!("cannot build a runtime: {e}"),
    }
}

async fn authenticate(
    auth: &HttpUrl,
    user: &str,
    key: &str,
    timeout: Duration,
) -> Result<(String, String), String> {
    let mut conn = ClientConn::connect(auth.addr, timeout)
        .await
        .map_err(|e| format!("auth: {e}"))?;
    let head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nX-Auth-User: {user}\r\nX-Auth-Key: {key}\r\n\r\n",
        auth.path, auth.host
    );
    let (resp, _) = request(
        &mut conn,
        "GET",
        head.into_bytes(),
        0,
        &mut |_, _| {},
        &mut |_| {},
    )
    .await
    .map_err(|e| format!("auth: {e}"))?;
    if resp.status / 100 != 2 {
        return Err(format!("auth failed: HTTP {}", resp.status));
    }
    let token = resp
        .header("x-auth-token")
        .ok_or("auth: no X-Auth-Token")?
        .to_string();
    let url = resp
        .header("x-storage-url")
        .ok_or("auth: no X-Storage-Url")?
        .to_string();
    Ok((token, url))
}

async fn request(
    conn: &mut ClientConn,
    method: &str,
    head: Vec<u8>,
    body_len: u64,
    fill: &mut dyn FnMut(&mut Vec<u8>, usize),
    sink: &mut dyn FnMut(&[u8]),
) -> Result<(ResponseHead, u64), ClientError> {
    let mut out = Vec::with_capacity(256 * 1024);
    out.extend_from_slice(&head);
    conn.send(out, body_len, fill).await?;
    let resp = conn.read_head().await?;
    let n = conn.read_body(method, &resp, sink).await?;
    Ok((resp, n))
}

async fn create_containers(plan: &Plan) -> Result<(), String> {
    let mut conn = ClientConn::connect(plan.storage.addr, plan.timeout)
        .await
        .map_err(|e| e.to_string())?;
    for c in &plan.containers {
        let head = format!(
            "PUT {}/{c} HTTP/1.1\r\nHost: {}\r\n{}Content-Length: 0\r\n\r\n",
            plan.storage.path, plan.storage.host, plan.auth_header
        );
        let (resp, _) = request(
            &mut conn,
            "PUT",
            head.into_bytes(),
            0,
            &mut |_, _| {},
            &mut |_| {},
        )
        .await
        .map_err(|e| e.to_string())?;
        if resp.status / 100 != 2 {
            return Err(format!("creating container {c}: HTTP {}", resp.status));
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Prefill,
    Measure,
}

fn run_threads(
    plan: &Arc<Plan>,
    threads: usize,
    concurrency: usize,
    cpus: &[usize],
    phase: Phase,
    shared: Option<Arc<Shared>>,
) -> Result<RunStats, String> {
    let merged = Arc::new(Mutex::new(RunStats::default()));
    let failed = Arc::new(Mutex::new(None::<String>));
    let mut handles = Vec::new();
    for t in 0..threads {
        let conns = concurrency / threads + usize::from(t < concurrency % threads);
        let first_task = (0..t)
            .map(|u| concurrency / threads + usize::from(u < concurrency % threads))
            .sum::<usize>();
        let (plan, merged, failed, shared) =
            (plan.clone(), merged.clone(), failed.clone(), shared.clone());
        let cpu = cpus.get(t).copied();
        handles.push(std::thread::spawn(move || {
            if let Some(cpu) = cpu {
                let _ = monoio::utils::bind_to_cpu_set(Some(cpu));
            }
            let stats = Rc::new(RefCell::new(RunStats::default()));
            let result = block_on(async {
                let mut tasks = Vec::new();
                for k in 0..conns {
                    let (plan, stats, shared) = (plan.clone(), stats.clone(), shared.clone());
                    let task_id = (first_task + k) as u64;
                    tasks.push(monoio::spawn(async move {
                        match phase {
                            Phase::Prefill => {
                                ops::prefill_task(&plan, task_id, concurrency as u64).await
                            }
                            Phase::Measure => {
                                let shared = shared.as_ref().ok_or("no shared state")?;
                                ops::measure_task(&plan, task_id, shared, &stats).await
                            }
                        }
                    }));
                }
                let mut first_err = None;
                for t in tasks {
                    if let Err(e) = t.await {
                        first_err.get_or_insert(e);
                    }
                }
                first_err.map_or(Ok(()), Err)
            });
            if let Err(e) = result {
                failed.lock().map(|mut f| *f = Some(e)).ok();
            }
            if let Ok(mut m) = merged.lock() {
                m.merge(&stats.borrow());
            }
        }));
    }
    for h in handles {
        let _ = h.join();
    }
    if let Some(e) = failed.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    let stats = merged
        .lock()
        .map(|m| m.clone())
        .map_err(|_| "stats lock poisoned".to_string())?;
    Ok(stats)
}

fn progress_loop(shared: &Shared, warmup: Duration, duration: Duration, limit_by_time: bool) {
    let start = Instant::now();
    let mut last = (0u64, 0u64, Instant::now());
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(250));
        let now = Instant::now();
        let since = now.duration_since(start);
        if limit_by_time && since >= warmup + duration {
            shared.stop.store(true, Ordering::SeqCst);
        }
        if now.duration_since(last.2) < Duration::from_secs(1) {
            continue;
        }
        let ops = shared.measured.load(Ordering::Relaxed);
        let bytes = shared.bytes.load(Ordering::Relaxed);
        let dt = now.duration_since(last.2).as_secs_f64();
        let phase = if since < warmup {
            "warm-up"
        } else {
            "measuring"
        };
        eprint!(
            "\r[{:6.1}s] {phase:9} {:>10.0} ops/s {:>9.1} MB/s  errors {}   ",
            since.as_secs_f64(),
            (ops - last.0) as f64 / dt,
            (bytes - last.1) as f64 / dt / 1e6,
            shared.errors.load(Ordering::Relaxed)
        );
        let _ = std::io::stderr().flush();
        last = (ops, bytes, now);
    }
}
