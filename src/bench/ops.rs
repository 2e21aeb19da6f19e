//! The load itself: what each connection task does in the prefill and
//! measurement phases, and how each operation is sent and checked.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::options::{pick, Op};
use super::report::RunStats;
use super::{body_at, mix64, request, Plan, Shared, VARIANTS};
use crate::client::conn::{ClientConn, ClientError};

async fn connect(plan: &Plan) -> Result<ClientConn, String> {
    ClientConn::connect(plan.storage.addr, plan.timeout)
        .await
        .map_err(|e| e.to_string())
}

/// Attempts per prefill object: set-up is not measured, so a busy server's
/// occasional 503 (real Swift under load) or dropped connection is retried
/// rather than ending the run.
const PREFILL_ATTEMPTS: u32 = 5;

/// Writes objects `task, task + n, task + 2n, ...`.
pub(super) async fn prefill_task(plan: &Plan, task: u64, n: u64) -> Result<(), String> {
    let mut conn = connect(plan).await?;
    let mut i = task;
    while i < plan.objects {
        let mut attempt = 1;
        loop {
            let put = put_object(
                &mut conn,
                plan,
                &plan.object_path(i),
                plan.size_of(i),
                i % VARIANTS,
            )
            .await;
            let failure = match put {
                Ok((201, _)) => break,
                Ok((status, _)) if status >= 500 => format!("HTTP {status}"),
                Ok((status, _)) => return Err(format!("prefill PUT failed: HTTP {status}")),
                Err(e) => {
                    // The connection may be unusable after an error.
                    conn = connect(plan).await?;
                    e.to_string()
                }
            };
            if attempt == PREFILL_ATTEMPTS {
                return Err(format!(
                    "prefill PUT failed {PREFILL_ATTEMPTS} times, last: {failure}"
                ));
            }
            attempt += 1;
            monoio::time::sleep(std::time::Duration::from_millis(200 * attempt as u64)).await;
        }
        i += n;
    }
    Ok(())
}

/// PUTs an object; returns the status and whether the ETag was right.
async fn put_object(
    conn: &mut ClientConn,
    plan: &Plan,
    path: &str,
    size: u64,
    variant: u64,
) -> Result<(u16, bool), ClientError> {
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}\r\n{}Content-Length: {size}\r\nContent-Type: application/octet-stream\r\n\r\n",
        plan.storage.host, plan.auth_header
    );
    let mut pos = 0u64;
    let pattern = &plan.pattern;
    let mut fill = |out: &mut Vec<u8>, mut n: usize| {
        while n > 0 {
            let chunk = body_at(pattern, variant, pos);
            let k = chunk.len().min(n);
            out.extend_from_slice(&chunk[..k]);
            pos += k as u64;
            n -= k;
        }
    };
    let (resp, _) = request(conn, "PUT", head.into_bytes(), size, &mut fill, &mut |_| {}).await?;
    // Plain servers answer 204 to an overwrite and have no MD5 ETags.
    let status = if plan.plain && resp.status == 204 {
        201
    } else {
        resp.status
    };
    let ok = !plan.verify
        || plan.plain
        || resp
            .header("etag")
            .is_some_and(|e| e.trim_matches('"') == plan.etag(size, variant));
    Ok((status, ok))
}

pub(super) async fn measure_task(
    plan: &Plan,
    task: u64,
    shared: &Shared,
    stats: &RefCell<RunStats>,
) -> Result<(), String> {
    let mut conn = connect(plan).await?;
    let mut rng = mix64(task.wrapping_add(0x5eed));
    let mut scratch = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        if conn.is_closed() {
            conn = connect(plan).await?;
        }
        rng = mix64(rng);
        let op = pick(&plan.mix, (rng % plan.mix_total as u64) as u32);
        let i = (rng >> 20) % plan.objects;
        let size = plan.size_of(i);
        let variant = i % VARIANTS;
        let path = plan.object_path(i);
        let mut setup_failed = false;
        if op == Op::Delete {
            scratch += 1;
            let p = format!(
                "{}/{}/del-{task}-{scratch}",
                plan.storage.path, plan.containers[0]
            );
            match put_object(&mut conn, plan, &p, 0, 0).await {
                Ok((201, _)) => {}
                _ => setup_failed = true,
            }
        }
        let started = Instant::now();
        let outcome = match op {
            Op::Put => put_object(&mut conn, plan, &path, size, variant)
                .await
                .map(|(s, ok)| (s, ok, size)),
            Op::Get | Op::Head => {
                let method = if op == Op::Get { "GET" } else { "HEAD" };
                read_object(&mut conn, plan, method, &path, size, variant).await
            }
            Op::Delete if setup_failed => Ok((0, false, 0)),
            Op::Delete => {
                let p = format!(
                    "{}/{}/del-{task}-{scratch}",
                    plan.storage.path, plan.containers[0]
                );
                simple(&mut conn, plan, "DELETE", &p)
                    .await
                    .map(|(s, n)| (s, true, n))
            }
            Op::List => {
                let c = &plan.containers[(i % plan.containers.len() as u64) as usize];
                let p = format!(
                    "{}/{c}?format=json&limit={}&marker=o{:010}",
                    plan.storage.path, plan.list_limit, i
                );
                simple(&mut conn, plan, "GET", &p)
                    .await
                    .map(|(s, n)| (s, true, n))
            }
        };
        let elapsed = started.elapsed();
        let measuring = Instant::now() >= shared.measure_from;
        let expected = match op {
            Op::Put => 201,
            Op::Delete => 204,
            _ => 200,
        };
        // The borrow ends before any await: other tasks of this thread
        // record into the same stats.
        let reconnect = {
            let mut reconnect = false;
            let mut s = stats.borrow_mut();
            let entry = &mut s.ops[op.index()];
            match outcome {
                Ok((status, ok, bytes)) if status == expected && ok => {
                    if measuring {
                        entry.record(elapsed, bytes);
                        shared.bytes.fetch_add(bytes, Ordering::Relaxed);
                    }
                }
                Ok((status, ok, _)) => {
                    if measuring {
                        entry.fail(if status == expected && !ok { 1 } else { status });
                        shared.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(_) => {
                    if measuring {
                        entry.fail(0);
                        shared.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    reconnect = true;
                }
            }
            reconnect
        };
        if reconnect {
            conn = connect(plan).await?;
        }
        if measuring {
            let done = shared.measured.fetch_add(1, Ordering::Relaxed) + 1;
            if shared.ops_limit.is_some_and(|l| done >= l) {
                shared.stop.store(true, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

/// GET or HEAD an object, checking its size, ETag and (GET) its bytes.
async fn read_object(
    conn: &mut ClientConn,
    plan: &Plan,
    method: &str,
    path: &str,
    size: u64,
    variant: u64,
) -> Result<(u16, bool, u64), ClientError> {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\n{}\r\n",
        plan.storage.host, plan.auth_header
    );
    let mut pos = 0u64;
    let mut same = true;
    let pattern = &plan.pattern;
    let verify = plan.verify;
    let mut sink = |mut data: &[u8]| {
        if !verify {
            pos += data.len() as u64;
            return;
        }
        while !data.is_empty() {
            let expect = body_at(pattern, variant, pos);
            let k = expect.len().min(data.len());
            same &= expect[..k] == data[..k];
            pos += k as u64;
            data = &data[k..];
        }
    };
    let (resp, n) = request(
        conn,
        method,
        head.into_bytes(),
        0,
        &mut |_, _| {},
        &mut sink,
    )
    .await?;
    let len_ok = resp
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok())
        == Some(size);
    let etag_ok = plan.plain
        || resp
            .header("etag")
            .is_some_and(|e| e.trim_matches('"') == plan.etag(size, variant));
    let body_ok = method == "HEAD" || (n == size && same);
    Ok((
        resp.status,
        !plan.verify || (len_ok && etag_ok && body_ok),
        n,
    ))
}

async fn simple(
    conn: &mut ClientConn,
    plan: &Plan,
    method: &str,
    path: &str,
) -> Result<(u16, u64), ClientError> {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\n{}\r\n",
        plan.storage.host, plan.auth_header
    );
    let (resp, n) = request(
        conn,
        method,
        head.into_bytes(),
        0,
        &mut |_, _| {},
        &mut |_| {},
    )
    .await?;
    // Listings answer 204 when empty; count that as success.
    let status = if resp.status == 204 && method == "GET" {
        200
    } else {
        resp.status
    };
    Ok((status, n))
}
