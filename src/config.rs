//! The node's one configuration: TOML on disk, every field with a working default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::common::constraints::Constraints;
use crate::common::storage_policy::{Policies, StoragePolicy};

pub mod features;

pub use features::{BulkConfig, FormPostConfig, StaticWebConfig, TempUrlConfig};

/// Everything `paco serve` can be told. A missing file or missing keys fall
/// back to [`Config::default`], which is a working single-node setup.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the proxy listens on; port 0 picks a free port (printed at start).
    pub bind: SocketAddr,
    /// Address of the Swift backend-protocol listener (object, container and
    /// account servers, `/device/partition/account/...`); none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_bind: Option<SocketAddr>,
    /// Root of all stored data; created when missing.
    pub data_dir: PathBuf,
    /// Worker threads (one runtime each); 0 means one per core.
    pub workers: usize,
    /// Pin each worker to one core.
    pub pin_workers: bool,
    /// `auto` (io_uring when the kernel has it, else epoll), `io_uring` or `epoll`.
    pub driver: Driver,
    /// Open connections one worker holds before refusing more with 503.
    pub max_connections_per_worker: usize,
    /// Kernel threads each io_uring worker may use for blocking file
    /// operations (fsync, open, mkdir): how many durable writes overlap.
    pub io_wq_max_workers: u32,
    /// Seconds a keep-alive connection may sit idle between requests.
    pub idle_timeout_secs: u64,
    /// Seconds a client may take to send the next piece of a request (head or
    /// body) or to accept the next piece of a response.
    pub client_timeout_secs: u64,
    /// Seconds shutdown waits for requests in flight before exiting anyway.
    pub shutdown_grace_secs: u64,
    /// Per-request log lines at info level.
    pub log_requests: bool,
    /// Threads owning the account and container databases.
    pub db_threads: usize,
    /// Seconds between object updater passes over `async_pending/`.
    pub updater_interval_secs: u64,
    /// Seconds between object expirer passes (deleting objects whose
    /// `X-Delete-At` has passed).
    pub expirer_interval_secs: u64,
    /// Storage options.
    pub storage: StorageConfig,
    /// Swift's hash path prefix and suffix, as in swift.conf `[swift-hash]`.
    pub swift_hash: SwiftHash,
    /// Swift's constraints, published in `/info`.
    pub constraints: Constraints,
    /// tempauth options and users.
    pub tempauth: TempAuthConfig,
    /// Storage policies (`[[policies]]`); the default is Swift's single
    /// `Policy-0` in the hashed layout.
    pub policies: Vec<StoragePolicy>,
    /// Rings and the other nodes of a cluster.
    pub cluster: ClusterConfig,
    /// TempURL options.
    pub tempurl: TempUrlConfig,
    /// FormPost options.
    pub formpost: FormPostConfig,
    /// Static web options.
    pub staticweb: StaticWebConfig,
    /// Bulk delete and archive extraction limits.
    pub bulk: BulkConfig,
}

/// Where the rings are and how peers are reached. Without ring files the
/// node is a cluster of one: every request stays in process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Directory holding `object.ring.gz`, `container.ring.gz` and
    /// `account.ring.gz` (Swift's `swift_dir`); unset or without an object
    /// ring, the node keeps everything local.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swift_dir: Option<PathBuf>,
    /// Seconds between checks of the ring files for changes.
    pub ring_reload_secs: u64,
    /// Milliseconds to wait for a TCP connection to a peer node.
    pub conn_timeout_ms: u64,
    /// Milliseconds a peer node may take to answer or accept the next piece
    /// of a request (Swift's `node_timeout`).
    pub node_timeout_ms: u64,
    /// Send requests for this node's own devices over HTTP to its own
    /// backend listener too, instead of calling the servers in process
    /// (for comparing the two paths).
    pub force_http_backend: bool,
    /// Seconds between the container updater's sweeps, which send each
    /// container whose totals changed to its account's replicas.
    pub container_updater_interval_secs: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            swift_dir: None,
            ring_reload_secs: 15,
            conn_timeout_ms: 500,
            node_timeout_ms: 10_000,
            force_http_backend: false,
            container_updater_interval_secs: 30,
        }
    }
}

/// Which io driver each worker runtime uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Driver {
    /// io_uring when the kernel supports it, epoll otherwise.
    Auto,
    /// io_uring, failing at start-up when unavailable.
    #[value(name = "io_uring")]
    IoUring,
    /// epoll, even where io_uring exists.
    Epoll,
}

/// Where and how objects are stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// The device name objects go to under `data_dir` (`<data_dir>/<device>/objects/...`).
    pub device: String,
    /// More devices this node serves besides `device` (each its own
    /// directory under `data_dir`, with its own objects and databases), so
    /// a node can hold several of a ring's devices — primaries and handoffs.
    pub extra_devices: Vec<String>,
    /// Partition power of the object layout (2^N partitions).
    pub part_power: u8,
    /// Size of the buffers a request streams through, in bytes.
    pub io_buffer_size: usize,
    /// Send large cached GET bodies with `sendfile` (no copy through user
    /// space); off sends every body through `io_buffer_size` buffers.
    pub sendfile: bool,
    /// Write large PUT bodies past the page cache (`O_DIRECT`, io_uring
    /// driver, hashed policies), several writes in flight.
    pub direct_write: bool,
    /// Bodies at least this long (by `Content-Length`; chunked ones once
    /// this much has arrived) are written directly; smaller ones stay in
    /// the page cache. Swift's `keep_cache_size` default.
    pub direct_write_min_size: u64,
}

/// Swift's `[swift-hash]` section; at least one must be non-empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwiftHash {
    /// `swift_hash_path_prefix`.
    pub prefix: String,
    /// `swift_hash_path_suffix`.
    pub suffix: String,
}

/// tempauth's settings and its user list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TempAuthConfig {
    /// Prefix of account names (`AUTH_`).
    pub reseller_prefix: String,
    /// Seconds a token stays valid.
    pub token_life_secs: u64,
    /// Prefix of service accounts (`SERVICE_<account>`), reachable only with
    /// a user token plus an `X-Service-Token`; empty disables them.
    pub service_prefix: String,
    /// Group the `X-Service-Token`'s user must be in.
    pub service_require_group: String,
    /// Users; `groups` may hold `.admin` (account admin) and `.reseller_admin`.
    pub users: Vec<TempAuthUser>,
}

/// One tempauth user, as `user_<account>_<user> = <key> [groups]` in Swift.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TempAuthUser {
    /// Account part of `account:user`.
    pub account: String,
    /// User part of `account:user`.
    pub user: String,
    /// The key (password).
    pub key: String,
    /// `.admin`, `.reseller_admin`.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            backend_bind: None,
            data_dir: PathBuf::from("paco-data"),
            workers: 0,
            pin_workers: true,
            driver: Driver::Auto,
            max_connections_per_worker: 4096,
            io_wq_max_workers: 64,
            idle_timeout_secs: 60,
            client_timeout_secs: 60,
            shutdown_grace_secs: 30,
            log_requests: true,
            db_threads: 2,
            updater_interval_secs: 30,
            expirer_interval_secs: 60,
            storage: StorageConfig::default(),
            swift_hash: SwiftHash::default(),
            constraints: Constraints::default(),
            tempauth: TempAuthConfig::default(),
            policies: vec![StoragePolicy::legacy()],
            cluster: ClusterConfig::default(),
            tempurl: TempUrlConfig::default(),
            formpost: FormPostConfig::default(),
            staticweb: StaticWebConfig::default(),
            bulk: BulkConfig::default(),
        }
    }
}

impl StorageConfig {
    /// Bytes of a body after which it is written past the page cache;
    /// `None` when direct writes are off.
    pub fn direct_write_from(&self) -> Option<u64> {
        self.direct_write.then_some(self.direct_write_min_size)
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            device: "sda1".into(),
            extra_devices: Vec::new(),
            part_power: 10,
            io_buffer_size: 256 * 1024,
            sendfile: true,
            direct_write: true,
            direct_write_min_size: 5 * 1024 * 1024,
        }
    }
}

impl Default for SwiftHash {
    fn default() -> Self {
        // Swift's own sample value; operators replace it before storing data.
        SwiftHash {
            prefix: String::new(),
            suffix: "changeme".into(),
        }
    }
}

fn user(account: &str, user: &str, key: &str, groups: &[&str]) -> TempAuthUser {
    TempAuthUser {
        account: account.into(),
        user: user.into(),
        key: key.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

impl Default for TempAuthConfig {
    fn default() -> Self {
        // The users Swift's functional tests and its SAIO expect.
        TempAuthConfig {
            reseller_prefix: "AUTH_".into(),
            token_life_secs: 86400,
            service_prefix: "SERVICE_".into(),
            service_require_group: "service".into(),
            users: vec![
                user("admin", "admin", "admin", &[".admin", ".reseller_admin"]),
                user("test", "tester", "testing", &[".admin"]),
                user("test2", "tester2", "testing2", &[".admin"]),
                user("test", "tester3", "testing3", &[]),
                user("test5", "tester5", "testing5", &["service"]),
            ],
        }
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("parsing {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: Box<toml::de::Error>,
    },
    /// A value is out of its allowed range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads `path`, with defaults for everything it leaves out.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// Checks the limits that would otherwise fail later, at request time.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.swift_hash.prefix.is_empty() && self.swift_hash.suffix.is_empty() {
            return bad("swift_hash.prefix and swift_hash.suffix cannot both be empty");
        }
        if self.storage.part_power > 32 {
            return bad("storage.part_power must be at most 32");
        }
        if !(4096..=16 * 1024 * 1024).contains(&self.storage.io_buffer_size) {
            return bad("storage.io_buffer_size must be between 4096 and 16777216");
        }
        let devices = self.device_names();
        if devices
            .iter()
            .any(|d| d.is_empty() || d.contains('/') || d.starts_with('.'))
        {
            return bad("storage.device and storage.extra_devices must be plain directory names");
        }
        if (1..devices.len()).any(|i| devices[..i].contains(&devices[i])) {
            return bad("storage.extra_devices must not repeat a device");
        }
        if !(1..=1024).contains(&self.io_wq_max_workers) {
            return bad("io_wq_max_workers must be between 1 and 1024");
        }
        if self.max_connections_per_worker == 0 {
            return bad("max_connections_per_worker must be at least 1");
        }
        if self.cluster.swift_dir.is_some() && self.backend_bind.is_none() {
            return bad("cluster.swift_dir needs backend_bind: peers reach this node there");
        }
        if self.cluster.conn_timeout_ms == 0 || self.cluster.node_timeout_ms == 0 {
            return bad("cluster.conn_timeout_ms and cluster.node_timeout_ms must be at least 1");
        }
        if self.tempauth.reseller_prefix.is_empty() {
            return bad("tempauth.reseller_prefix cannot be empty");
        }
        if let Some(why) =
            features::invalid(&self.tempurl, &self.formpost, &self.staticweb, &self.bulk)
        {
            return Err(ConfigError::Invalid(why));
        }
        self.storage_policies()?;
        Ok(())
    }

    /// The configured storage policies, validated as Swift does.
    pub fn storage_policies(&self) -> Result<Policies, ConfigError> {
        Policies::new(&self.policies)
            .map_err(|e| ConfigError::Invalid(format!("storage policies: {e}")))
    }

    /// Every device this node serves: `storage.device` first, then
    /// `storage.extra_devices`.
    pub fn device_names(&self) -> Vec<String> {
        let mut v = vec![self.storage.device.clone()];
        v.extend(self.storage.extra_devices.iter().cloned());
        v
    }

    /// The worker count after resolving 0 to the number of cores.
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 {
            self.workers
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip_through_toml() {
        let c = Config::default();
        c.validate().expect("defaults validate");
        let text = toml::to_string(&c).expect("serialize");
        let back: Config = toml::from_str(&text).expect("parse");
        assert_eq!(back.bind, c.bind);
        assert_eq!(back.tempauth.users, c.tempauth.users);
    }

    #[test]
    fn partial_file_keeps_other_defaults() {
        let c: Config = toml::from_str("workers = 3\n[storage]\npart_power = 8\n").expect("parse");
        assert_eq!(c.workers, 3);
        assert_eq!(c.storage.part_power, 8);
        assert_eq!(c.storage.device, "sda1");
        assert_eq!(c.bind.port(), 8080);
    }

    #[test]
    fn policies_parse_and_validate() {
        let c: Config = toml::from_str(
            "[[policies]]\nindex = 0\nname = \"gold\"\ndefault = true\n\
             [[policies]]\nindex = 1\nname = \"files\"\naliases = [\"nas\"]\n\
             layout = \"onfile\"\nmount = \"/mnt/gpfs\"\n",
        )
        .expect("parse");
        c.validate().expect("valid");
        let p = c.storage_policies().expect("policies");
        assert_eq!(p.by_name("nas").map(|p| p.index), Some(1));
        let text = toml::to_string(&c).expect("serialize");
        let back: Config = toml::from_str(&text).expect("parse back");
        assert_eq!(back.policies, c.policies);
        let bad: Config =
            toml::from_str("[[policies]]\nindex = 1\nname = \"one\"\n").expect("parse");
        assert!(bad.validate().is_err());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(toml::from_str::<Config>("wrokers = 3\n").is_err());
    }

    #[test]
    fn direct_write_settings_parse() {
        let c = Config::default();
        assert!(c.storage.direct_write);
        assert_eq!(c.storage.direct_write_min_size, 5_242_880);
        let c: Config =
            toml::from_str("[storage]\ndirect_write = false\ndirect_write_min_size = 0\n")
                .expect("parse");
        assert!(!c.storage.direct_write);
        assert_eq!(c.storage.direct_write_min_size, 0);
        c.validate().expect("valid");
        assert_eq!(c.storage.direct_write_from(), None);
        let c: Config =
            toml::from_str("[storage]\ndirect_write_min_size = 1048576\n").expect("parse");
        assert_eq!(c.storage.direct_write_from(), Some(1_048_576));
        assert!(toml::from_str::<Config>("[storage]\ndirect_write_min_size = -1\n").is_err());
        assert!(toml::from_str::<Config>("[storage]\ndirect_write = 1\n").is_err());
    }

    #[test]
    fn every_setting_is_documented() {
        let doc = include_str!("../docs/configuration.md");
        let value = toml::Value::try_from(Config::default()).expect("to toml");
        let mut missing = Vec::new();
        let mut walk = vec![value];
        while let Some(v) = walk.pop() {
            if let toml::Value::Table(t) = v {
                for (k, v) in t {
                    if !doc.contains(&format!("`{k}`")) && !doc.contains(&format!("`[{k}]`")) {
                        missing.push(k.clone());
                    }
                    match v {
                        toml::Value::Table(_) => walk.push(v),
                        // Arrays of tables (`[[policies]]`): their keys too.
                        toml::Value::Array(items) => walk.extend(items),
                        _ => {}
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "docs/configuration.md does not explain {missing:?}"
        );
    }
}
