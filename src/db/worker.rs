//! One pool thread: receives jobs, keeps its databases' connections open in
//! a small LRU map, applies object and account-report writes in batches,
//! and coalesces the container totals it sends to account databases.
//!
//! Each round the thread blocks for one job, then drains whatever else is
//! queued (up to `max_batch`). Object updates in the round are grouped by
//! container and each group is applied in ONE transaction, replying to each
//! update only after that commit; container reports to accounts are grouped
//! the same way. Other jobs (reads, PUT/DELETE/POST of containers and
//! accounts, listings) then run in arrival order. While a commit's fsync is
//! in progress, new jobs queue up and form the next batch: group commit.
//!
//! After a round, every container whose totals changed sends its new totals
//! to its account's thread, at most once per `report_interval` per
//! container; later changes wait (the thread wakes at the deadline) and are
//! sent as one report with the latest totals. Reports from one thread to
//! another arrive in the order sent, so an account never goes back to an
//! older state of a container that this pool reported.

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rusqlite::{Connection, TransactionBehavior};

use super::pool::PoolConfig;
use super::schema::{self, DbLocation};
use super::{account, container};
use super::{ContainerReport, DbError, ObjectUpdate, Result, UpdateOutcome};

thread_local! {
    /// True on pool threads (so dropping the last pool handle on one of
    /// them does not wait for itself).
    pub(crate) static IN_POOL: Cell<bool> = const { Cell::new(false) };
}

/// Where a reply goes.
pub(crate) type Reply<T> = flume::Sender<Result<T>>;

/// A closure run on the owning thread.
pub(crate) type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// A message to a pool thread.
pub(crate) enum Msg {
    /// Run a closure (reads, creates, deletes, metadata, listings).
    Call(Job),
    /// An object row change for a container database (batched).
    Object {
        db: Arc<DbLocation>,
        update: ObjectUpdate,
        reply: Reply<UpdateOutcome>,
    },
    /// A container's state for its account database (batched).
    Report {
        db: Arc<DbLocation>,
        report: ContainerReport,
        reply: Option<Reply<()>>,
    },
    /// Send every pending account report now, then answer.
    Barrier(flume::Sender<()>),
    /// Finish the current round, flush reports, exit.
    Shutdown,
}

/// Counters shared by all threads (see `PoolStats`).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub object_updates: AtomicU64,
    pub object_commits: AtomicU64,
    pub reports_sent: AtomicU64,
    pub report_commits: AtomicU64,
    pub rounds: AtomicU64,
}

/// What every thread can see.
pub(crate) struct Shared {
    pub config: PoolConfig,
    pub senders: Vec<flume::Sender<Msg>>,
    pub counters: Counters,
}

impl Shared {
    /// The database location for `/account[/container]`.
    pub fn locate(&self, account: &str, container: Option<&str>) -> Result<DbLocation> {
        DbLocation::new(
            &self.config.root,
            &self.config.hash_conf,
            self.config.part_power,
            account,
            container,
        )
    }

    /// The thread that owns a database.
    pub fn thread_of(&self, db: &DbLocation) -> usize {
        (db.spread() % self.senders.len() as u64) as usize
    }

    /// Queues `msg` for the thread that owns `db`.
    pub fn send_to(&self, db: &DbLocation, msg: Msg) -> Result<()> {
        self.senders[self.thread_of(db)]
            .send(msg)
            .map_err(|_| DbError::Closed)
    }
}

/// Open connections, least recently used evicted first.
struct ConnCache {
    cap: usize,
    tick: u64,
    map: HashMap<PathBuf, (Connection, u64)>,
}

impl ConnCache {
    fn get(&mut self, path: &Path, create: bool) -> Result<Option<&mut Connection>> {
        self.tick += 1;
        let tick = self.tick;
        if !self.map.contains_key(path) {
            let Some(conn) = schema::open(path, create)? else {
                return Ok(None);
            };
            if self.map.len() >= self.cap.max(1) {
                let oldest = self
                    .map
                    .iter()
                    .min_by_key(|(_, (_, t))| *t)
                    .map(|(p, _)| p.clone());
                if let Some(p) = oldest {
                    self.map.remove(&p);
                }
            }
            self.map.insert(path.to_path_buf(), (conn, tick));
        }
        Ok(self.map.get_mut(path).map(|(c, t)| {
            *t = tick;
            c
        }))
    }
}

/// A container whose totals the account has not heard yet.
struct PendingReport {
    account_db: Arc<DbLocation>,
    /// The newest unsent totals.
    report: Option<ContainerReport>,
    last_sent: Option<Instant>,
}

/// The state of one pool thread.
pub(crate) struct Worker {
    shared: Arc<Shared>,
    conns: ConnCache,
    reports: HashMap<PathBuf, PendingReport>,
}

impl Worker {
    pub fn new(shared: Arc<Shared>) -> Worker {
        let cap = shared.config.max_open_per_thread;
        Worker {
            shared,
            conns: ConnCache {
                cap,
                tick: 0,
                map: HashMap::new(),
            },
            reports: HashMap::new(),
        }
    }

    /// An open connection to `path`: `None` when the file does not exist
    /// (and `create` is false).
    pub fn conn(&mut self, path: &Path, create: bool) -> Result<Option<&mut Connection>> {
        self.conns.get(path, create)
    }

    /// The thread's loop; returns at `Shutdown`.
    pub fn run(mut self, rx: flume::Receiver<Msg>) {
        IN_POOL.with(|c| c.set(true));
        let max_batch = self.shared.config.max_batch.max(1);
        loop {
            let first = match self.next_deadline() {
                Some(deadline) => match rx.recv_deadline(deadline) {
                    Ok(m) => Some(m),
                    Err(flume::RecvTimeoutError::Timeout) => None,
                    Err(flume::RecvTimeoutError::Disconnected) => break,
                },
                None => match rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => break,
                },
            };
            let mut batch: Vec<Msg> = first.into_iter().collect();
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            let stop = match std::panic::catch_unwind(AssertUnwindSafe(|| self.process(batch))) {
                Ok(stop) => stop,
                Err(_) => {
                    // Replies of the failed round were dropped: their callers
                    // see `Closed`. Keep serving the other databases.
                    tracing::error!("database pool job panicked");
                    false
                }
            };
            self.flush_reports(stop);
            if stop {
                break;
            }
        }
    }

    /// Handles one round; true when `Shutdown` was among the messages.
    fn process(&mut self, batch: Vec<Msg>) -> bool {
        self.shared.counters.rounds.fetch_add(1, Ordering::Relaxed);
        type Group<T> = (Arc<DbLocation>, Vec<T>);
        let mut objects: Vec<Group<(ObjectUpdate, Reply<UpdateOutcome>)>> = Vec::new();
        let mut reports: Vec<Group<(ContainerReport, Option<Reply<()>>)>> = Vec::new();
        let mut rest = Vec::new();
        let mut stop = false;
        for msg in batch {
            match msg {
                Msg::Object { db, update, reply } => {
                    match objects.iter_mut().find(|(d, _)| d.path == db.path) {
                        Some((_, items)) => items.push((update, reply)),
                        None => objects.push((db, vec![(update, reply)])),
                    }
                }
                Msg::Report { db, report, reply } => {
                    match reports.iter_mut().find(|(d, _)| d.path == db.path) {
                        Some((_, items)) => items.push((report, reply)),
                        None => reports.push((db, vec![(report, reply)])),
                    }
                }
                Msg::Shutdown => stop = true,
                other => rest.push(other),
            }
        }
        for (db, items) in objects {
            self.apply_objects(db, items);
        }
        for (db, items) in reports {
            self.apply_reports(&db, items);
        }
        for msg in rest {
            match msg {
                Msg::Call(f) => f(self),
                Msg::Barrier(done) => {
                    self.flush_reports(true);
                    let _ = done.send(());
                }
                Msg::Object { .. } | Msg::Report { .. } | Msg::Shutdown => {}
            }
        }
        stop
    }

    /// One transaction for all updates of one container.
    fn apply_objects(
        &mut self,
        db: Arc<DbLocation>,
        items: Vec<(ObjectUpdate, Reply<UpdateOutcome>)>,
    ) {
        let updates: Vec<&ObjectUpdate> = items.iter().map(|(u, _)| u).collect();
        let result = self.merge_objects(&db, &updates);
        match result {
            Ok((outcomes, before, after)) => {
                let c = &self.shared.counters;
                c.object_commits.fetch_add(1, Ordering::Relaxed);
                c.object_updates
                    .fetch_add(items.len() as u64, Ordering::Relaxed);
                if (before.object_count, before.bytes_used)
                    != (after.object_count, after.bytes_used)
                {
                    self.note_report(&db, container::report(&after));
                }
                for ((_, reply), outcome) in items.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                if !matches!(e, DbError::NotFound) {
                    tracing::warn!(db = %db.path.display(), "object updates failed: {e}");
                }
                for (_, reply) in items {
                    let _ = reply.send(Err(e.duplicate()));
                }
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn merge_objects(
        &mut self,
        db: &DbLocation,
        updates: &[&ObjectUpdate],
    ) -> Result<(
        Vec<UpdateOutcome>,
        super::ContainerInfo,
        super::ContainerInfo,
    )> {
        let conn = self.conn(&db.path, false)?.ok_or(DbError::NotFound)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before = container::info(&tx)?.ok_or(DbError::NotFound)?;
        let outcomes = container::merge_objects(&tx, updates)?;
        let after = container::info(&tx)?.ok_or(DbError::NotFound)?;
        tx.commit()?;
        Ok((outcomes, before, after))
    }

    /// One transaction for all reports to one account.
    fn apply_reports(&mut self, db: &DbLocation, items: Vec<(ContainerReport, Option<Reply<()>>)>) {
        let reports: Vec<&ContainerReport> = items.iter().map(|(r, _)| r).collect();
        let result = (|| {
            let conn = self
                .conn(&db.path, false)?
                .ok_or(DbError::AccountNotFound)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            account::info(&tx)?.ok_or(DbError::AccountNotFound)?;
            account::merge_reports(&tx, &reports)?;
            tx.commit()?;
            Ok::<(), DbError>(())
        })();
        match &result {
            Ok(()) => {
                self.shared
                    .counters
                    .report_commits
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(DbError::AccountNotFound) => {
                tracing::debug!(account = %db.account, "container report for a missing account")
            }
            Err(e) => tracing::warn!(account = %db.account, "container reports failed: {e}"),
        }
        for (_, reply) in items {
            if let Some(reply) = reply {
                let _ = reply.send(match &result {
                    Ok(()) => Ok(()),
                    Err(e) => Err(e.duplicate()),
                });
            }
        }
    }

    fn account_of(&self, container_db: &DbLocation) -> Result<Arc<DbLocation>> {
        Ok(Arc::new(self.shared.locate(&container_db.account, None)?))
    }

    /// Remembers that `container_db`'s totals changed; sent by
    /// `flush_reports` when due.
    fn note_report(&mut self, container_db: &DbLocation, report: ContainerReport) {
        if let Some(p) = self.reports.get_mut(&container_db.path) {
            p.report = Some(report);
            return;
        }
        match self.account_of(container_db) {
            Ok(account_db) => {
                self.reports.insert(
                    container_db.path.clone(),
                    PendingReport {
                        account_db,
                        report: Some(report),
                        last_sent: None,
                    },
                );
            }
            Err(e) => tracing::warn!("cannot locate account database: {e}"),
        }
    }

    /// Sends `report` to the account now (container PUT/DELETE), with an
    /// optional reply; it supersedes any pending report for the container.
    pub fn report_now(
        &mut self,
        container_db: &DbLocation,
        report: ContainerReport,
        reply: Option<Reply<()>>,
    ) -> Result<()> {
        let account_db = self.account_of(container_db)?;
        self.shared.send_to(
            &account_db,
            Msg::Report {
                db: account_db.clone(),
                report,
                reply,
            },
        )?;
        self.shared
            .counters
            .reports_sent
            .fetch_add(1, Ordering::Relaxed);
        let entry = self
            .reports
            .entry(container_db.path.clone())
            .or_insert(PendingReport {
                account_db,
                report: None,
                last_sent: None,
            });
        entry.report = None;
        entry.last_sent = Some(Instant::now());
        Ok(())
    }

    /// Sends due reports (all pending ones when `force`), and forgets
    /// containers that have been quiet for a whole interval.
    fn flush_reports(&mut self, force: bool) {
        if self.reports.is_empty() {
            return;
        }
        let now = Instant::now();
        let interval = self.shared.config.report_interval;
        let shared = self.shared.clone();
        for p in self.reports.values_mut() {
            let due = force
                || p.last_sent
                    .is_none_or(|t| now.duration_since(t) >= interval);
            if !due {
                continue;
            }
            if let Some(report) = p.report.take() {
                let msg = Msg::Report {
                    db: p.account_db.clone(),
                    report,
                    reply: None,
                };
                if shared.send_to(&p.account_db, msg).is_ok() {
                    shared.counters.reports_sent.fetch_add(1, Ordering::Relaxed);
                }
                p.last_sent = Some(now);
            }
        }
        self.reports.retain(|_, p| {
            p.report.is_some()
                || p.last_sent
                    .is_some_and(|t| now.duration_since(t) < interval)
        });
    }

    /// When the next coalesced report falls due.
    fn next_deadline(&self) -> Option<Instant> {
        let interval = self.shared.config.report_interval;
        self.reports
            .values()
            .filter(|p| p.report.is_some())
            .map(|p| p.last_sent.map_or_else(Instant::now, |t| t + interval))
            .min()
    }
}
