//! `paco serve`: wires configuration, storage, the proxy and the runtime
//! together, and waits for a signal to stop.

use std::io::Write;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tracing::info;

use crate::common::hash::HashConf;
use crate::config::Config;
use crate::db::{DbError, DbPool, ObjectUpdate};
use crate::http::Limits;
use crate::obj::hashed::HashedManager;
use crate::obj::server::ObjectServer;
use crate::obj::updates::{ContainerUpdate, ContainerUpdater, UpdateError, UpdateFuture};
use crate::proxy::auth::TempAuth;
use crate::proxy::backend::Backend;
use crate::proxy::{info::info_document, App};
use crate::runtime::{self, shutdown::ShutdownFlag, WorkerSpec};

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Configuration problem.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Start-up I/O failed (binding, creating the data directory, ...).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
}

fn io_ctx(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServeError {
    let context = context.into();
    move |source| ServeError::Io { context, source }
}

/// Runs the node until SIGINT or SIGTERM; returns after a graceful stop.
pub fn run(config: Config) -> Result<(), ServeError> {
    config.validate()?;
    let config = Arc::new(config);
    let device_root = config.data_dir.join(&config.storage.device);
    std::fs::create_dir_all(&device_root)
        .map_err(io_ctx(format!("creating {}", device_root.display())))?;
    let hash_conf = HashConf {
        prefix: config.swift_hash.prefix.clone(),
        suffix: config.swift_hash.suffix.clone(),
    };
    let manager = HashedManager::new(
        device_root.clone(),
        hash_conf.clone(),
        config.storage.part_power,
    )
    .map_err(io_ctx("preparing the object device"))?;
    let policies = config.storage_policies()?;
    let stores = crate::obj::policies::prepare(
        &policies,
        &device_root,
        &hash_conf,
        config.storage.part_power,
    )
    .map_err(io_ctx("preparing the storage policies"))?;
    let cleaned = manager
        .clean_tmp()
        .map_err(io_ctx("cleaning staged writes"))?;
    if cleaned > 0 {
        info!(cleaned, "removed staged writes left by an earlier run");
    }

    let db_threads = config.db_threads.max(1);
    let db = DbPool::start(
        device_root.clone(),
        hash_conf.clone(),
        config.storage.part_power,
        db_threads,
    )
    .map_err(io_ctx("starting the database pool"))?;

    let workers = config.worker_count();
    let driver =
        runtime::resolve_driver(config.driver).map_err(io_ctx("choosing the io driver"))?;
    // Signals are caught from here on, so a SIGTERM right after the
    // listening line is a graceful stop, never a kill.
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(io_ctx("installing signal handlers"))?;
    let (listeners, bound) = runtime::bind_all(config.bind, workers)
        .map_err(io_ctx(format!("binding {}", config.bind)))?;
    let wakers = listeners
        .iter()
        .map(|l| l.try_clone())
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_ctx("duplicating listeners"))?;
    info!(%bound, workers, driver, data_dir = %config.data_dir.display(), "paco starting");

    let limits = Limits {
        max_request_line: config.constraints.max_header_size,
        max_header_line: config.constraints.max_header_size,
        max_headers: config.constraints.max_header_count(),
        max_head_bytes: 256 * 1024,
        idle_timeout: Duration::from_secs(config.idle_timeout_secs),
        client_timeout: Duration::from_secs(config.client_timeout_secs),
        io_buffer_size: config.storage.io_buffer_size,
        sendfile: config.storage.sendfile,
    };
    let spec = WorkerSpec {
        workers,
        pin: config.pin_workers,
        driver: config.driver,
        max_connections: config.max_connections_per_worker,
        io_wq_max_workers: config.io_wq_max_workers,
        shutdown_grace: Duration::from_secs(config.shutdown_grace_secs),
        limits,
    };
    let secret: [u8; 32] = rand::random();
    let auth = TempAuth::new(config.tempauth.clone(), secret);
    let info_json = info_document(&config);
    let flag = ShutdownFlag::new();
    let default_host = bound.to_string();
    let cfg = config.clone();
    let worker_db = db.clone();
    let worker_manager_for_expirer = manager.clone();
    let worker_manager = manager;
    let backend_manager = worker_manager.clone();
    let backend_spec = spec.clone();
    let (worker_stores, backend_stores, expirer_stores) = (stores.clone(), stores.clone(), stores);
    let worker_policies = policies;
    let handles = runtime::start(spec, listeners, driver, flag.clone(), move |_worker| {
        // Prepared once above; each worker gets its own handle.
        let manager = Rc::new(worker_manager.clone());
        let updater: Rc<dyn ContainerUpdater> = Rc::new(DbUpdater {
            db: worker_db.clone(),
        });
        let objects = Rc::new(
            ObjectServer::new(
                manager,
                cfg.storage.io_buffer_size,
                cfg.constraints.max_file_size,
            )
            .with_stores(&worker_stores)
            .with_updater(updater),
        );
        App::new(
            cfg.constraints.clone(),
            auth.clone(),
            Backend::local(objects),
            worker_db.clone(),
            Rc::new(info_json.clone()),
            default_host.clone(),
            cfg.log_requests,
        )
        .with_policies(worker_policies.clone())
    })
    .map_err(io_ctx("starting workers"))?;

    // The Swift backend protocol, on its own listener when configured.
    let mut backend_wakers = Vec::new();
    let mut backend_handles = Vec::new();
    if let Some(addr) = config.backend_bind {
        let (listeners, bound) = runtime::bind_all(addr, workers)
            .map_err(io_ctx(format!("binding the backend listener {addr}")))?;
        for l in &listeners {
            backend_wakers.push(l.try_clone().map_err(io_ctx("duplicating listeners"))?);
        }
        let (cfg, db) = (config.clone(), db.clone());
        backend_handles =
            runtime::start(backend_spec, listeners, driver, flag.clone(), move |_| {
                let updater: Rc<dyn ContainerUpdater> = Rc::new(DbUpdater { db: db.clone() });
                let objects = ObjectServer::new(
                    Rc::new(backend_manager.clone()),
                    cfg.storage.io_buffer_size,
                    cfg.constraints.max_file_size,
                )
                .with_stores(&backend_stores)
                .with_updater(updater);
                crate::server::BackendServer::new(
                    Rc::new(objects),
                    db.clone(),
                    cfg.storage.device.clone(),
                    cfg.log_requests,
                )
            })
            .map_err(io_ctx("starting backend workers"))?;
        info!(%bound, "backend protocol listening");
    }

    let updater_db = db.clone();
    let updater_handle = crate::daemons::updater::spawn(
        config.data_dir.join(&config.storage.device),
        Duration::from_secs(config.updater_interval_secs.max(1)),
        flag.clone(),
        move || Rc::new(DbUpdater { db: updater_db }) as Rc<dyn ContainerUpdater>,
    )
    .map_err(io_ctx("starting the object updater"))?;

    let expirer_db = db.clone();
    let expirer_cfg = config.clone();
    let expirer_manager = worker_manager_for_expirer;
    let expirer_handle = crate::daemons::expirer::spawn(
        config.data_dir.join(&config.storage.device),
        Duration::from_secs(config.expirer_interval_secs.max(1)),
        flag.clone(),
        move || {
            let updater: Rc<dyn ContainerUpdater> = Rc::new(DbUpdater { db: expirer_db });
            Rc::new(
                ObjectServer::new(
                    Rc::new(expirer_manager),
                    expirer_cfg.storage.io_buffer_size,
                    expirer_cfg.constraints.max_file_size,
                )
                .with_stores(&expirer_stores)
                .with_updater(updater),
            )
        },
    )
    .map_err(io_ctx("starting the object expirer"))?;

    // Tests and scripts wait for this line to know the port.
    println!("paco listening on http://{bound}");
    let _ = std::io::stdout().flush();

    if let Some(sig) = signals.forever().next() {
        info!(
            signal = sig,
            "shutting down: no new connections, finishing requests in flight"
        );
    }
    flag.set();
    runtime::wake_listeners(&wakers);
    runtime::wake_listeners(&backend_wakers);
    // A second signal stops at once.
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            std::process::exit(1);
        }
    });
    for h in handles.into_iter().chain(backend_handles) {
        let _ = h.join();
    }
    let _ = updater_handle.join();
    let _ = expirer_handle.join();
    db.shutdown();
    info!("paco stopped");
    Ok(())
}

/// Container updates for local containers: a call into the database pool.
struct DbUpdater {
    db: DbPool,
}

impl ContainerUpdater for DbUpdater {
    fn update<'a>(&'a self, u: &'a ContainerUpdate) -> UpdateFuture<'a> {
        Box::pin(async move {
            let timestamp = crate::common::timestamp::Timestamp::parse(&u.timestamp)
                .map_err(|e| UpdateError::Failed(format!("bad timestamp: {e}")))?;
            let update = ObjectUpdate {
                name: u.object.clone(),
                timestamp,
                size: u.size,
                content_type: u.content_type.clone(),
                etag: u.etag.clone(),
                deleted: u.deleted,
                storage_policy_index: u.policy_index.into(),
            };
            match self
                .db
                .update_object(&u.account, &u.container, update)
                .await
            {
                Ok(_) => Ok(()),
                Err(DbError::NotFound) => Err(UpdateError::NoContainer),
                Err(e) => Err(UpdateError::Failed(e.to_string())),
            }
        })
    }
}
