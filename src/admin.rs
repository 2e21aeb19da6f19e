//! `paco admin`: operator tools that work on a stopped node's data directly.

use std::path::PathBuf;
use std::time::Instant;

use crate::common::hash::HashConf;
use crate::common::timestamp::Timestamp;
use crate::config::Config;
use crate::db::{ContainerPolicy, DbPool, ObjectUpdate};

/// `paco admin` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Add listing rows `o0000000000`, `o0000000001`, ... to a container
    /// database (no object files), to measure listings and updates at scale.
    /// Run it while the node is stopped.
    FillContainer {
        /// Configuration file (for the hash prefix/suffix and part power).
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Data directory (overrides the config).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Account, e.g. `AUTH_test`.
        #[arg(long)]
        account: String,
        /// Container (created when missing).
        #[arg(long)]
        container: String,
        /// Rows to add.
        #[arg(long)]
        count: u64,
        /// Size recorded for each row.
        #[arg(long, default_value_t = 4096)]
        size: u64,
    },
}

/// Runs an admin command.
pub fn run(cmd: AdminCommand) -> Result<(), String> {
    match cmd {
        AdminCommand::FillContainer {
            config,
            data_dir,
            account,
            container,
            count,
            size,
        } => {
            let mut cfg = match config {
                Some(p) => Config::load(&p).map_err(|e| e.to_string())?,
                None => Config::default(),
            };
            if let Some(d) = data_dir {
                cfg.data_dir = d;
            }
            fill_container(&cfg, &account, &container, count, size)
        }
    }
}

fn fill_container(
    cfg: &Config,
    account: &str,
    container: &str,
    count: u64,
    size: u64,
) -> Result<(), String> {
    let root = cfg.data_dir.join(&cfg.storage.device);
    let hash_conf = HashConf {
        prefix: cfg.swift_hash.prefix.clone(),
        suffix: cfg.swift_hash.suffix.clone(),
    };
    let pool =
        DbPool::start(root, hash_conf, cfg.storage.part_power, 1).map_err(|e| e.to_string())?;
    let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let result: Result<(), String> = rt.block_on(async {
        let now = Timestamp::now();
        pool.create_account(account, now)
            .await
            .map_err(|e| e.to_string())?;
        pool.create_container(
            account,
            container,
            now,
            Vec::new(),
            ContainerPolicy::Default(0),
        )
        .await
        .map_err(|e| e.to_string())?;
        // Many updates in flight at once, so the pool commits them in batches.
        const IN_FLIGHT: u64 = 512;
        let mut next = 0u64;
        while next < count {
            let end = (next + IN_FLIGHT * 8).min(count);
            let mut tasks = Vec::new();
            for lane in 0..IN_FLIGHT {
                let pool = pool.clone();
                let (account, container) = (account.to_string(), container.to_string());
                let ts = Timestamp::now();
                tasks.push(monoio::spawn(async move {
                    let mut i = next + lane;
                    while i < end {
                        let update = ObjectUpdate {
                            name: format!("o{i:010}"),
                            timestamp: ts,
                            size,
                            content_type: "application/octet-stream".into(),
                            etag: "d41d8cd98f00b204e9800998ecf8427e".into(),
                            deleted: false,
                            storage_policy_index: 0,
                        };
                        pool.update_object(&account, &container, update)
                            .await
                            .map_err(|e| e.to_string())?;
                        i += IN_FLIGHT;
                    }
                    Ok::<(), String>(())
                }));
            }
            for t in tasks {
                t.await?;
            }
            next = end;
            if next % 100_000 < IN_FLIGHT * 8 {
                eprintln!(
                    "{next} rows ({:.0} rows/s)",
                    next as f64 / started.elapsed().as_secs_f64()
                );
            }
        }
        pool.flush_account_updates()
            .await
            .map_err(|e| e.to_string())
    });
    pool.shutdown();
    result?;
    eprintln!(
        "added {count} rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
