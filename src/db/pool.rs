//! The pool of blocking threads that owns every account and container
//! database: start, stop, counters, and the plumbing the async API uses.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::common::hash::HashConf;

use super::schema::DbLocation;
use super::worker::{Counters, Msg, Shared, Worker, IN_POOL};
use super::{DbError, Result};

/// How the pool is set up.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The device root holding `accounts/` and `containers/`.
    pub root: PathBuf,
    /// Swift's hash prefix/suffix.
    pub hash_conf: HashConf,
    /// The ring's partition power (names the partition directories).
    pub part_power: u8,
    /// Pool threads (at least 1).
    pub threads: usize,
    /// At most this many jobs are taken per round (and so per batch).
    pub max_batch: usize,
    /// Open connections kept per thread (least recently used closed first).
    pub max_open_per_thread: usize,
    /// A container sends its changed totals to its account at most this
    /// often (container PUT/DELETE report at once regardless).
    pub report_interval: Duration,
}

impl PoolConfig {
    /// Defaults: 256 jobs per batch, 64 open databases per thread, reports
    /// at most every 100 ms per container.
    pub fn new(root: PathBuf, hash_conf: HashConf, part_power: u8, threads: usize) -> Self {
        PoolConfig {
            root,
            hash_conf,
            part_power,
            threads,
            max_batch: 256,
            max_open_per_thread: 64,
            report_interval: Duration::from_millis(100),
        }
    }
}

/// A snapshot of the pool's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Object updates committed (applied or stale).
    pub object_updates: u64,
    /// Transactions that committed object updates (one per container per
    /// batch): `object_updates / object_commits` is the batching factor.
    pub object_commits: u64,
    /// Container reports sent to account databases.
    pub reports_sent: u64,
    /// Transactions that committed container reports.
    pub report_commits: u64,
    /// Rounds (wake-ups) of the pool threads.
    pub rounds: u64,
}

/// The database pool: cheap to clone, `Send + Sync`; every clone talks to
/// the same threads. The threads stop at [`DbPool::shutdown`] or when the
/// last clone is dropped.
#[derive(Clone)]
pub struct DbPool {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    closed: AtomicBool,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for DbPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbPool")
            .field("root", &self.inner.shared.config.root)
            .field("threads", &self.inner.shared.senders.len())
            .finish()
    }
}

impl DbPool {
    /// Starts `threads` pool threads serving the databases under `root`
    /// (created if missing), with default tuning ([`PoolConfig::new`]).
    pub fn start(
        root: PathBuf,
        hash_conf: HashConf,
        part_power: u8,
        threads: usize,
    ) -> io::Result<DbPool> {
        DbPool::start_with(PoolConfig::new(root, hash_conf, part_power, threads))
    }

    /// Starts the pool with explicit tuning.
    pub fn start_with(mut config: PoolConfig) -> io::Result<DbPool> {
        if config.part_power > 32 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "part_power above 32",
            ));
        }
        config.threads = config.threads.max(1);
        std::fs::create_dir_all(&config.root)?;
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..config.threads)
            .map(|_| flume::unbounded::<Msg>())
            .unzip();
        let shared = Arc::new(Shared {
            config,
            senders,
            counters: Counters::default(),
        });
        let inner = Inner {
            shared: shared.clone(),
            closed: AtomicBool::new(false),
            handles: Mutex::new(Vec::new()),
        };
        for (i, rx) in receivers.into_iter().enumerate() {
            let worker = Worker::new(shared.clone());
            let handle = std::thread::Builder::new()
                .name(format!("paco-db-{i}"))
                .spawn(move || worker.run(rx))?;
            // On a spawn error, dropping `inner` stops the threads started.
            if let Ok(mut h) = inner.handles.lock() {
                h.push(handle);
            }
        }
        Ok(DbPool {
            inner: Arc::new(inner),
        })
    }

    /// Sends every pending account report, waits until the threads have
    /// finished what was queued, and stops them. Later calls answer
    /// [`DbError::Closed`]. Safe to call more than once.
    pub fn shutdown(&self) {
        self.inner.stop();
    }

    /// The pool's counters.
    pub fn stats(&self) -> PoolStats {
        let c = &self.inner.shared.counters;
        PoolStats {
            object_updates: c.object_updates.load(Ordering::Relaxed),
            object_commits: c.object_commits.load(Ordering::Relaxed),
            reports_sent: c.reports_sent.load(Ordering::Relaxed),
            report_commits: c.report_commits.load(Ordering::Relaxed),
            rounds: c.rounds.load(Ordering::Relaxed),
        }
    }

    /// The device root holding `accounts/` and `containers/`.
    pub fn root(&self) -> &std::path::Path {
        &self.inner.shared.config.root
    }

    /// The file and partition of an account (`container` `None`) or
    /// container database.
    pub fn locate(&self, account: &str, container: Option<&str>) -> Result<DbLocation> {
        self.inner.shared.locate(account, container)
    }

    /// Applies every container-totals report pending anywhere in the pool
    /// to the account databases, then returns (tests, and callers that
    /// need an exact account total right after object writes).
    pub async fn flush_account_updates(&self) -> Result<()> {
        // Round 1: every thread sends what it holds; round 2: every thread
        // has applied what it was sent before round 2 was queued.
        for _ in 0..2 {
            let mut waits = Vec::new();
            for tx in &self.inner.shared.senders {
                let (done_tx, done_rx) = flume::bounded(1);
                self.check_open()?;
                tx.send(Msg::Barrier(done_tx))
                    .map_err(|_| DbError::Closed)?;
                waits.push(done_rx);
            }
            for w in waits {
                w.recv_async().await.map_err(|_| DbError::Closed)?;
            }
        }
        Ok(())
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            Err(DbError::Closed)
        } else {
            Ok(())
        }
    }

    /// Queues `msg` for the thread owning `db`.
    pub(crate) fn send(&self, db: &DbLocation, msg: Msg) -> Result<()> {
        self.check_open()?;
        self.inner.shared.send_to(db, msg)
    }

    /// Runs `f` on the thread owning `db` and awaits its result.
    pub(crate) async fn call<T, F>(&self, db: &DbLocation, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Worker) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = flume::bounded(1);
        self.send(
            db,
            Msg::Call(Box::new(move |w: &mut Worker| {
                let _ = tx.send(f(w));
            })),
        )?;
        rx.recv_async().await.map_err(|_| DbError::Closed)?
    }
}

impl Inner {
    fn stop(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let on_pool_thread = IN_POOL.with(|c| c.get());
        // Flush coalesced reports everywhere before any thread exits, so
        // none is sent to a thread that is gone. Bounded waits: a stuck
        // thread must not hang shutdown or Drop.
        let mut responsive = !on_pool_thread;
        if responsive {
            let waits: Vec<_> = self
                .shared
                .senders
                .iter()
                .filter_map(|tx| {
                    let (done_tx, done_rx) = flume::bounded(1);
                    tx.send(Msg::Barrier(done_tx)).ok().map(|_| done_rx)
                })
                .collect();
            for w in waits {
                if w.recv_timeout(Duration::from_secs(30)).is_err() {
                    responsive = false;
                }
            }
        }
        for tx in &self.shared.senders {
            let _ = tx.send(Msg::Shutdown);
        }
        let handles = match self.handles.lock() {
            Ok(mut h) => std::mem::take(&mut *h),
            Err(_) => Vec::new(),
        };
        if responsive {
            for h in handles {
                let _ = h.join();
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop();
    }
}
