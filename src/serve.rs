//! `paco serve`: wires configuration, storage, the proxy and the runtime
//! together, and waits for a signal to stop.

use std::io::Write;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tracing::info;

use crate::common::hash::HashConf;
use crate::config::Config;
use crate::db::DbPool;
use crate::http::Limits;
use crate::obj::hashed::HashedManager;
use crate::obj::server::ObjectServer;
use crate::obj::updates::ContainerUpdater;
use crate::proxy::auth::TempAuth;
use crate::proxy::backend::remote::Peers;
use crate::proxy::backend::{Backend, ClusterRings, LocalDevice};
use crate::proxy::{info::info_document, App};
use crate::ring::reload::ReloadingRing;
use crate::runtime::{self, shutdown::ShutdownFlag, WorkerSpec};
use crate::server::updater::ClusterUpdater;

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
    let hash_conf = HashConf {
        prefix: config.swift_hash.prefix.clone(),
        suffix: config.swift_hash.suffix.clone(),
    };
    let rings = load_rings(&config, &hash_conf)?.map(Arc::new);
    let policies = config.storage_policies()?;
    let db_threads = config.db_threads.max(1);
    let mut devices = Vec::new();
    for name in config.device_names() {
        devices.push(prepare_device(
            &config, &name, &hash_conf, &policies, db_threads,
        )?);
    }
    let devices = Arc::new(devices);
    let manager = devices[0].manager.clone();
    let db = devices[0].db.clone();
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
    let worker_manager_for_expirer = manager;
    let backend_spec = spec.clone();
    let expirer_stores = devices[0].stores.clone();
    let worker_devices = devices.clone();
    let worker_policies = policies;
    let worker_rings = rings.clone();
    let handles = runtime::start(spec, listeners, driver, flag.clone(), move |_worker| {
        // Prepared once above; each worker gets its own handles.
        let peers = Rc::new(peers_for(&cfg));
        let updater = cluster_updater(&cfg, &worker_devices, &peers);
        let local = Rc::new(local_devices(&cfg, &worker_devices, updater.clone()));
        let backend = match &worker_rings {
            Some(r) => Backend::clustered(
                local.clone(),
                r.clone(),
                peers,
                updater,
                Rc::new(worker_policies.clone()),
            ),
            None => None,
        };
        let backend = backend.unwrap_or_else(|| Backend::local(local[0].objects.clone()));
        App::new(
            cfg.constraints.clone(),
            auth.clone(),
            backend,
            worker_db.clone(),
            Rc::new(info_json.clone()),
            default_host.clone(),
            cfg.log_requests,
        )
        .with_policies(worker_policies.clone())
        .with_features(&cfg)
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
        let (cfg, backend_devices) = (config.clone(), devices.clone());
        let backend_policies = config.storage_policies()?;
        backend_handles =
            runtime::start(backend_spec, listeners, driver, flag.clone(), move |_| {
                let peers = Rc::new(peers_for(&cfg));
                let updater = cluster_updater(&cfg, &backend_devices, &peers);
                let local = Rc::new(local_devices(&cfg, &backend_devices, updater.clone()));
                crate::server::BackendServer::new(
                    local,
                    updater,
                    Rc::new(backend_policies.clone()),
                    cfg.log_requests,
                )
            })
            .map_err(io_ctx("starting backend workers"))?;
        info!(%bound, "backend protocol listening");
    }

    // Each device's async pendings: object servers' container updates
    // and container servers' account updates.
    let mut updater_handles = Vec::new();
    for dev in devices.iter() {
        let make_updater = updater_maker(&config, &devices);
        updater_handles.push(
            crate::daemons::updater::spawn(
                dev.root.clone(),
                Duration::from_secs(config.updater_interval_secs.max(1)),
                flag.clone(),
                move || make_updater() as Rc<dyn ContainerUpdater>,
            )
            .map_err(io_ctx("starting the object updater"))?,
        );
        if let Some(rings) = &rings {
            updater_handles.push(
                crate::server::container_updater::spawn(
                    dev.name.clone(),
                    dev.db.clone(),
                    dev.root.clone(),
                    rings.clone(),
                    Duration::from_secs(config.cluster.container_updater_interval_secs.max(1)),
                    flag.clone(),
                    updater_maker(&config, &devices),
                )
                .map_err(io_ctx("starting the container updater"))?,
            );
        }
        updater_handles.push(
            crate::server::updater::spawn_account_updater(
                dev.root.clone(),
                Duration::from_secs(config.updater_interval_secs.max(1)),
                flag.clone(),
                updater_maker(&config, &devices),
            )
            .map_err(io_ctx("starting the account updater"))?,
        );
    }

    let expirer_devices = devices.clone();
    let expirer_cfg = config.clone();
    let expirer_manager = worker_manager_for_expirer;
    let expirer_handle = crate::daemons::expirer::spawn(
        devices[0].root.clone(),
        Duration::from_secs(config.expirer_interval_secs.max(1)),
        flag.clone(),
        move || {
            let updater = cluster_updater(
                &expirer_cfg,
                &expirer_devices,
                &Rc::new(peers_for(&expirer_cfg)),
            );
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
    for h in updater_handles {
        let _ = h.join();
    }
    let _ = expirer_handle.join();
    drop(db);
    for dev in devices.iter() {
        dev.db.shutdown();
    }
    info!("paco stopped");
    Ok(())
}

/// The peer connection pool of one thread.
fn peers_for(config: &Config) -> Peers {
    Peers::new(
        Duration::from_millis(config.cluster.conn_timeout_ms),
        Duration::from_millis(config.cluster.node_timeout_ms),
    )
}

/// What an updater daemon calls on its own thread to make the updater it
/// sends through (peers' connections belong to one thread).
fn updater_maker(
    config: &Arc<Config>,
    devices: &Arc<Vec<DeviceSetup>>,
) -> impl FnOnce() -> Rc<ClusterUpdater> + Send + 'static {
    let (config, devices) = (config.clone(), devices.clone());
    move || {
        let peers = Rc::new(peers_for(&config));
        cluster_updater(&config, &devices, &peers)
    }
}

/// Container and account updates: this node's databases, plus peers when
/// in a cluster.
fn cluster_updater(
    config: &Config,
    devices: &[DeviceSetup],
    peers: &Rc<Peers>,
) -> Rc<ClusterUpdater> {
    match (&config.cluster.swift_dir, config.backend_bind) {
        (Some(_), Some(me)) => Rc::new(ClusterUpdater::clustered(
            devices
                .iter()
                .map(|d| (d.name.clone(), d.db.clone()))
                .collect(),
            peers.clone(),
            me,
        )),
        _ => Rc::new(ClusterUpdater::local(devices[0].db.clone())),
    }
}

/// One device's storage, prepared once and shared by every thread.
struct DeviceSetup {
    name: String,
    root: std::path::PathBuf,
    manager: HashedManager,
    stores: Vec<(u32, crate::obj::policies::PolicyStore)>,
    db: DbPool,
}

/// Creates (if needed) and opens device `name` under `data_dir`.
fn prepare_device(
    config: &Config,
    name: &str,
    hash_conf: &HashConf,
    policies: &crate::common::storage_policy::Policies,
    db_threads: usize,
) -> Result<DeviceSetup, ServeError> {
    let root = config.data_dir.join(name);
    std::fs::create_dir_all(&root).map_err(io_ctx(format!("creating {}", root.display())))?;
    let manager = HashedManager::new(root.clone(), hash_conf.clone(), config.storage.part_power)
        .map_err(io_ctx("preparing the object device"))?;
    let stores =
        crate::obj::policies::prepare(policies, &root, hash_conf, config.storage.part_power)
            .map_err(io_ctx("preparing the storage policies"))?;
    let cleaned = manager
        .clean_tmp()
        .map_err(io_ctx("cleaning staged writes"))?;
    if cleaned > 0 {
        info!(
            cleaned,
            device = name,
            "removed staged writes left by an earlier run"
        );
    }
    let db = DbPool::start(
        root.clone(),
        hash_conf.clone(),
        config.storage.part_power,
        db_threads,
    )
    .map_err(io_ctx("starting the database pool"))?;
    Ok(DeviceSetup {
        name: name.to_string(),
        root,
        manager,
        stores,
        db,
    })
}

/// One thread's object servers over the node's devices.
fn local_devices(
    config: &Config,
    devices: &[DeviceSetup],
    updater: Rc<ClusterUpdater>,
) -> Vec<LocalDevice> {
    devices
        .iter()
        .map(|d| LocalDevice {
            name: d.name.clone(),
            objects: Rc::new(
                ObjectServer::new(
                    Rc::new(d.manager.clone()),
                    config.storage.io_buffer_size,
                    config.constraints.max_file_size,
                )
                .with_direct_write(config.storage.direct_write_from())
                .with_stores(&d.stores)
                .with_updater(updater.clone()),
            ),
            db: d.db.clone(),
            root: d.root.clone(),
        })
        .collect()
}

/// The rings in `cluster.swift_dir`; `None` (a node on its own) without an
/// object ring. A ring that exists but cannot be read stops the start.
fn load_rings(config: &Config, hash: &HashConf) -> Result<Option<ClusterRings>, ServeError> {
    let (Some(dir), Some(me)) = (&config.cluster.swift_dir, config.backend_bind) else {
        return Ok(None);
    };
    let reload = Duration::from_secs(config.cluster.ring_reload_secs.max(1));
    let open = |name: &str| -> Result<Option<ReloadingRing>, ServeError> {
        let path = dir.join(name);
        if !path.exists() {
            return Ok(None);
        }
        ReloadingRing::open(&path, hash.clone(), reload)
            .map(Some)
            .map_err(|e| ServeError::Io {
                context: format!("loading {}", path.display()),
                source: std::io::Error::other(e.to_string()),
            })
    };
    let Some(object) = open("object.ring.gz")? else {
        info!(dir = %dir.display(), "no object ring: this node keeps every request local");
        return Ok(None);
    };
    let mut objects = std::collections::BTreeMap::new();
    objects.insert(0, object);
    for p in config.storage_policies()?.iter() {
        let index = p.index;
        if index == 0 {
            continue;
        }
        match open(&format!("object-{index}.ring.gz"))? {
            Some(r) => {
                objects.insert(index, r);
            }
            None => tracing::warn!(
                policy = %p.name,
                "no object-{index}.ring.gz: objects of this policy cannot be stored"
            ),
        }
    }
    let rings = ClusterRings {
        objects,
        container: open("container.ring.gz")?,
        account: open("account.ring.gz")?,
        me,
        devices: config.device_names(),
        force_http: config.cluster.force_http_backend,
    };
    for (index, ring) in &rings.objects {
        let ring = ring.get();
        let local = (0..ring.data().devs.len() as u32)
            .filter_map(|id| ring.device(id))
            .any(|d| rings.is_mine(d));
        if !local {
            tracing::warn!(%me, policy = index, "none of this node's devices is in the object ring");
        }
    }
    info!(dir = %dir.display(), force_http = rings.force_http, "rings loaded: cluster mode");
    Ok(Some(rings))
}
