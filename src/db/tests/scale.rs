//! Listing and write throughput at scale. The 100k test runs by default;
//! the 1M and throughput measurements are `#[ignore]`d (run them in release:
//! `cargo test --release --lib db::tests::scale -- --ignored --nocapture`).

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::TransactionBehavior;
use tempfile::TempDir;

use super::{conf, fusion, put, t};
use crate::db::schema::{self, DbLocation};
use crate::db::{container, ContainerPolicy, DbPool, ListItem, ListParams, ObjectUpdate};

const PART_POWER: u8 = 10;

/// Nested names: 100 top dirs × 10 subdirs × n/1000 files.
fn name(i: usize) -> String {
    format!("dir{:02}/sub{}/file{:07}", i % 100, (i / 100) % 10, i)
}

/// Builds `/a/c` with `n` objects directly in SQLite (fast), in 10k-row
/// transactions, and the account so the pool can serve it.
fn build(root: &Path, n: usize) -> Vec<String> {
    let loc = DbLocation::new(root, &conf(), PART_POWER, "a", Some("c")).expect("loc");
    let mut conn = schema::open(&loc.path, true)
        .expect("open")
        .expect("created");
    container::create(&mut conn, &loc, t(1), ContainerPolicy::Default(0), &[]).expect("create");
    let mut i = 0;
    while i < n {
        let end = (i + 10_000).min(n);
        let batch: Vec<ObjectUpdate> = (i..end).map(|j| put(&name(j), 10, j as u64)).collect();
        let refs: Vec<&ObjectUpdate> = batch.iter().collect();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .expect("begin");
        container::merge_objects(&tx, &refs).expect("merge");
        tx.commit().expect("commit");
        i = end;
    }
    let mut all: Vec<String> = (0..n).map(name).collect();
    all.sort();
    all
}

fn start(root: &Path) -> DbPool {
    DbPool::start(root.to_path_buf(), conf(), PART_POWER, 2).expect("pool")
}

fn names(items: &[ListItem<crate::db::ObjectEntry>]) -> Vec<String> {
    items.iter().map(|i| i.name().to_string()).collect()
}

/// Pages through the whole container forward and backward, checks every
/// row, and returns the slowest page.
async fn check_pages(pool: &DbPool, all: &[String]) -> Duration {
    let mut slowest = Duration::ZERO;
    for reverse in [false, true] {
        let mut got: Vec<String> = Vec::with_capacity(all.len());
        let mut marker = String::new();
        loop {
            let p = ListParams {
                marker: Some(marker.clone()),
                reverse,
                ..ListParams::default()
            };
            let started = Instant::now();
            let page = pool.list_objects("a", "c", &p).await.expect("list");
            slowest = slowest.max(started.elapsed());
            let Some(last) = page.last() else { break };
            marker = last.name().to_string();
            got.extend(names(&page));
        }
        let mut want = all.to_vec();
        if reverse {
            want.reverse();
        }
        assert!(got == want, "paging (reverse={reverse}) differs");
    }
    slowest
}

async fn check_delimited(pool: &DbPool, all: &[String]) -> Duration {
    let started = Instant::now();
    let top = pool
        .list_objects(
            "a",
            "c",
            &ListParams {
                delimiter: Some("/".into()),
                ..ListParams::default()
            },
        )
        .await
        .expect("list");
    let elapsed = started.elapsed();
    let want: Vec<String> = (0..100).map(|d| format!("dir{d:02}/")).collect();
    assert_eq!(names(&top), want);
    assert!(top.iter().all(|i| matches!(i, ListItem::Subdir(_))));
    let sub = pool
        .list_objects(
            "a",
            "c",
            &ListParams {
                prefix: Some("dir42/".into()),
                delimiter: Some("/".into()),
                reverse: true,
                ..ListParams::default()
            },
        )
        .await
        .expect("list");
    let want: Vec<String> = (0..10).rev().map(|s| format!("dir42/sub{s}/")).collect();
    assert_eq!(names(&sub), want);
    // A page from the middle, bounded by both markers.
    let (lo, hi) = (all.len() / 3, all.len() / 3 + 5_000);
    let mid = pool
        .list_objects(
            "a",
            "c",
            &ListParams {
                marker: Some(all[lo].clone()),
                end_marker: Some(all[hi].clone()),
                ..ListParams::default()
            },
        )
        .await
        .expect("list");
    assert!(names(&mid) == all[lo + 1..hi], "middle page differs");
    elapsed
}

#[test]
fn hundred_thousand_rows_list_correctly() {
    let tmp = TempDir::new().expect("tempdir");
    let all = build(tmp.path(), 100_000);
    let pool = start(tmp.path());
    fusion(async {
        let started = Instant::now();
        let info = pool
            .container_info("a", "c")
            .await
            .expect("info")
            .expect("exists");
        let head = started.elapsed();
        assert_eq!(info.object_count, 100_000);
        let slowest = check_pages(&pool, &all).await;
        let delimited = check_delimited(&pool, &all).await;
        eprintln!("100k rows: HEAD {head:?}, slowest 10k page {slowest:?}, 100-subdir listing {delimited:?}");
        // Generous even for a debug build: the point is no full scans.
        assert!(slowest < Duration::from_secs(3), "slowest page {slowest:?}");
        assert!(
            delimited < Duration::from_secs(1),
            "delimited {delimited:?}"
        );
    });
}

/// Writes `n` updates into `/a/<container>` with `concurrency` tasks each
/// waiting for its own update before sending the next; rows per second.
async fn put_rate(
    pool: &DbPool,
    container: &str,
    first: usize,
    n: usize,
    concurrency: usize,
) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let pool = pool.clone();
        let container = container.to_string();
        tasks.push(monoio::spawn(async move {
            let mut i = w;
            while i < n {
                // Spread over the key space, not appended at the end.
                let k = first + i;
                let u = put(&format!("dir{:02}/new/{k:09}", k % 100), 20, 1);
                pool.update_object("a", &container, u)
                    .await
                    .expect("update");
                i += concurrency;
            }
        }));
    }
    for task in tasks {
        task.await;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

#[test]
#[ignore = "slow: builds a 1,000,000-row container; run in release"]
fn million_rows_list_and_put() {
    let tmp = TempDir::new().expect("tempdir");
    let started = Instant::now();
    let all = build(tmp.path(), 1_000_000);
    eprintln!("built 1M rows in {:?}", started.elapsed());
    let pool = start(tmp.path());
    fusion(async {
        pool.create_account("a", t(1)).await.expect("account");
        pool.create_container("a", "empty", t(1), vec![], ContainerPolicy::Default(0))
            .await
            .expect("container");
        let started = Instant::now();
        let info = pool
            .container_info("a", "c")
            .await
            .expect("info")
            .expect("exists");
        eprintln!("HEAD of 1M-row container: {:?}", started.elapsed());
        assert_eq!(info.object_count, 1_000_000);
        // Random pages of 10,000.
        let mut worst = Duration::ZERO;
        for k in 0..20 {
            let at = (k * 48_611) % (all.len() - 10_001);
            let p = ListParams {
                marker: Some(all[at].clone()),
                reverse: k % 2 == 1,
                ..ListParams::default()
            };
            let s = Instant::now();
            let page = pool.list_objects("a", "c", &p).await.expect("list");
            worst = worst.max(s.elapsed());
            assert_eq!(page.len(), 10_000);
        }
        eprintln!("1M rows: worst 10k page of 20 random pages: {worst:?}");
        let slowest = check_pages(&pool, &all).await;
        let delimited = check_delimited(&pool, &all).await;
        eprintln!("1M rows: slowest page of a full forward+reverse walk {slowest:?}; 100-subdir listing {delimited:?}");
        assert!(worst < Duration::from_secs(1));
        for (label, c) in [("empty", "empty"), ("1M", "c")] {
            let one = put_rate(&pool, c, 0, 300, 1).await;
            let many = put_rate(&pool, c, 1_000, 20_000, 64).await;
            eprintln!(
                "PUT rows/s into {label} container: unbatched {one:.0}, 64 in flight {many:.0}"
            );
        }
        eprintln!("{:?}", pool.stats());
    });
}

#[test]
#[ignore = "measurement: run in release with --nocapture"]
fn put_throughput_batched_vs_unbatched() {
    let tmp = TempDir::new().expect("tempdir");
    let pool = start(tmp.path());
    fusion(async {
        pool.create_account("a", t(1)).await.expect("account");
        pool.create_container("a", "c", t(1), vec![], ContainerPolicy::Default(0))
            .await
            .expect("container");
        let s0 = pool.stats();
        let one = put_rate(&pool, "c", 0, 500, 1).await;
        let s1 = pool.stats();
        let many = put_rate(&pool, "c", 10_000, 20_000, 64).await;
        let s2 = pool.stats();
        eprintln!(
            "unbatched: {one:.0} rows/s ({} commits for {} rows); 64 in flight: {many:.0} rows/s ({} commits for {} rows)",
            s1.object_commits - s0.object_commits,
            s1.object_updates - s0.object_updates,
            s2.object_commits - s1.object_commits,
            s2.object_updates - s1.object_updates,
        );
    });
}
