//! `paco ring ...`: build rings and look names up in them, the paco
//! counterparts of `swift-ring-builder` and `swift-get-nodes`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::builder::RingBuilder;
use super::devspec::{parse_add, parse_search};
use super::{describe, rebalance, swiftconf, Device, Ring, RingData, RingError};
use crate::common::hash::HashConf;

/// `paco ring` and its options.
#[derive(clap::Args, Debug)]
pub struct RingArgs {
    /// The builder file the builder commands work on (paco's JSON format).
    #[arg(long, short = 'b', global = true, default_value = "object.builder")]
    pub builder: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: RingCommand,
}

/// The `paco ring` commands.
#[derive(clap::Subcommand, Debug)]
pub enum RingCommand {
    /// Create a new builder file with 2^PART_POWER partitions.
    Create {
        /// Partition power (at most 24).
        part_power: u32,
        /// Replicas of each partition.
        replicas: u32,
        /// Hours before another replica of a moved partition may move.
        min_part_hours: u32,
        /// Replace an existing builder file.
        #[arg(long)]
        force: bool,
    },
    /// Add devices: pairs of `r<region>z<zone>-<ip>:<port>[R<ip>:<port>]/<device>[_<meta>]` and weight.
    Add {
        /// DEVICE WEIGHT [DEVICE WEIGHT ...]
        #[arg(required = true, num_args = 2.., value_names = ["DEVICE", "WEIGHT"])]
        pairs: Vec<String>,
    },
    /// Remove the devices a search value matches (e.g. `d3`, `r1z2-10.0.0.1:6200/sdb`).
    Remove {
        /// Search value.
        search: String,
        /// Allow matching more than one device.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Set the weight of the devices a search value matches.
    #[command(name = "set_weight", alias = "set-weight")]
    SetWeight {
        /// Search value.
        search: String,
        /// New weight (0 drains the device).
        weight: f64,
        /// Allow matching more than one device.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Change the number of replicas.
    #[command(name = "set_replicas", alias = "set-replicas")]
    SetReplicas {
        /// New replica count.
        replicas: u32,
    },
    /// Change min_part_hours.
    #[command(name = "set_min_part_hours", alias = "set-min-part-hours")]
    SetMinPartHours {
        /// Hours.
        hours: u32,
    },
    /// Let the next rebalance move any partition, whatever min_part_hours says.
    #[command(
        name = "pretend_min_part_hours_passed",
        alias = "pretend-min-part-hours-passed"
    )]
    PretendMinPartHoursPassed,
    /// Assign partitions to devices, moving as few as possible.
    Rebalance {
        /// Seed for tie-breaking (reproducible assignments).
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Show the builder: partitions, balance, dispersion and devices.
    #[command(alias = "describe")]
    List,
    /// Write the ring file Swift and paco nodes read.
    #[command(name = "write_ring", alias = "write-ring")]
    WriteRing {
        /// Output file (default: the builder path with `.ring.gz`).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Ring format version: 1 (read by every Swift) or 2.
        #[arg(long, default_value_t = 1)]
        format_version: u8,
    },
    /// Show a ring file's header and devices.
    Info {
        /// The ring file.
        ring: PathBuf,
    },
    /// Rewrite a ring file in another format version.
    Convert {
        /// The ring file to read.
        input: PathBuf,
        /// The ring file to write.
        output: PathBuf,
        /// Format version to write (1 or 2).
        #[arg(long, default_value_t = 2)]
        format_version: u8,
    },
    /// Where a name lives: partition, primary devices and handoffs.
    Get(GetArgs),
}

/// `paco ring get`.
#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// The ring file (e.g. /etc/swift/object.ring.gz).
    pub ring: PathBuf,
    /// Account name (without it, `--batch` is required).
    pub account: Option<String>,
    /// Container name.
    pub container: Option<String>,
    /// Object name.
    pub object: Option<String>,
    /// Print JSON: {"partition", "primaries", "handoffs"}.
    #[arg(long)]
    pub json: bool,
    /// Handoffs to print (default: as many as there are replicas).
    #[arg(long)]
    pub handoffs: Option<usize>,
    /// Print every handoff.
    #[arg(long, conflicts_with = "handoffs")]
    pub all_handoffs: bool,
    /// Take the hash prefix/suffix from this swift.conf.
    #[arg(long, conflicts_with = "config")]
    pub swift_conf: Option<PathBuf>,
    /// Take the hash prefix/suffix from this paco config (default: paco's defaults).
    #[arg(long, short = 'c', env = "PACO_CONFIG")]
    pub config: Option<PathBuf>,
    /// Read `account[/container[/object]]` lines from stdin and print one
    /// JSON line for each.
    #[arg(long, conflicts_with_all = ["account", "container", "object"])]
    pub batch: bool,
}

/// Why a `paco ring` command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A ring or builder problem.
    #[error(transparent)]
    Ring(#[from] RingError),
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// The configuration could not be read.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs one `paco ring` command, printing to stdout.
pub fn run(args: RingArgs) -> Result<(), CliError> {
    let out = &mut std::io::stdout().lock();
    let path = args.builder.as_path();
    match args.command {
        RingCommand::Create {
            part_power,
            replicas,
            min_part_hours,
            force,
        } => {
            if path.exists() && !force {
                return Err(CliError::Usage(format!(
                    "{} exists; use --force to replace it",
                    path.display()
                )));
            }
            RingBuilder::new(part_power, replicas, min_part_hours)?.save(path)?;
            writeln!(out, "Created {}", path.display())?;
        }
        RingCommand::Add { pairs } => {
            if pairs.len() % 2 != 0 {
                return Err(CliError::Usage("add takes DEVICE WEIGHT pairs".into()));
            }
            let mut b = RingBuilder::load(path)?;
            for pair in pairs.chunks(2) {
                let spec = parse_add(&pair[0]).map_err(CliError::Usage)?;
                let weight: f64 = pair[1]
                    .parse()
                    .map_err(|_| CliError::Usage(format!("invalid weight {:?}", pair[1])))?;
                let id = b.add(&spec, weight)?;
                let dev = b.devs[id as usize]
                    .as_ref()
                    .map(Device::describe)
                    .unwrap_or_default();
                writeln!(out, "Device d{id} {dev} with {weight} weight got id {id}")?;
            }
            b.save(path)?;
        }
        RingCommand::Remove { search, yes } => {
            let mut b = RingBuilder::load(path)?;
            for id in matched(&b, &search, yes)? {
                b.remove(id)?;
                writeln!(
                    out,
                    "d{id} marked for removal and will be removed next rebalance."
                )?;
            }
            b.save(path)?;
        }
        RingCommand::SetWeight {
            search,
            weight,
            yes,
        } => {
            let mut b = RingBuilder::load(path)?;
            for id in matched(&b, &search, yes)? {
                b.set_weight(id, weight)?;
                writeln!(out, "d{id} weight set to {weight}")?;
            }
            b.save(path)?;
        }
        RingCommand::SetReplicas { replicas } => {
            let mut b = RingBuilder::load(path)?;
            b.set_replicas(replicas)?;
            b.save(path)?;
            writeln!(
                out,
                "The replica count is now {replicas}; rebalance to apply it."
            )?;
        }
        RingCommand::SetMinPartHours { hours } => {
            let mut b = RingBuilder::load(path)?;
            b.min_part_hours = hours;
            b.save(path)?;
            writeln!(out, "The minimum number of hours before a partition can be reassigned is now set to {hours}")?;
        }
        RingCommand::PretendMinPartHoursPassed => {
            let mut b = RingBuilder::load(path)?;
            b.pretend_min_part_hours_passed();
            b.save(path)?;
        }
        RingCommand::Rebalance { seed } => {
            let mut b = RingBuilder::load(path)?;
            let r = rebalance::rebalance(&mut b, now(), seed)?;
            b.save(path)?;
            let total = b.parts() * b.replicas as usize;
            writeln!(
                out,
                "Reassigned {} ({:.2}%) partitions. Balance is now {:.2}.  Dispersion is now {:.2}",
                r.moved,
                100.0 * r.moved as f64 / b.parts() as f64,
                r.balance,
                r.dispersion
            )?;
            if r.moved == 0 {
                writeln!(out, "No partitions could be reassigned (of {total} partition replicas); min_part_hours may hold them.")?;
            }
            for id in r.removed {
                writeln!(out, "Device d{id} removed.")?;
            }
        }
        RingCommand::List => {
            let b = RingBuilder::load(path)?;
            write!(out, "{}", describe::render(&b, &path.display().to_string()))?;
        }
        RingCommand::WriteRing {
            output,
            format_version,
        } => {
            let b = RingBuilder::load(path)?;
            let output = output.unwrap_or_else(|| default_ring_path(path));
            b.to_ring_data()?.save(&output, format_version)?;
            writeln!(out, "Wrote {} (format v{format_version})", output.display())?;
        }
        RingCommand::Info { ring } => {
            let data = RingData::load(&ring)?;
            info(out, &ring, &data)?;
        }
        RingCommand::Convert {
            input,
            output,
            format_version,
        } => {
            RingData::load(&input)?.save(&output, format_version)?;
            writeln!(out, "Wrote {} (format v{format_version})", output.display())?;
        }
        RingCommand::Get(g) => get(out, g)?,
    }
    Ok(())
}

/// `object.builder` -> `object.ring.gz`.
fn default_ring_path(builder: &Path) -> PathBuf {
    let stem = builder
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("object");
    builder.with_file_name(format!("{stem}.ring.gz"))
}

fn matched(b: &RingBuilder, search: &str, yes: bool) -> Result<Vec<u32>, CliError> {
    let s = parse_search(search).map_err(CliError::Usage)?;
    let ids = b.search(&s);
    if ids.is_empty() {
        return Err(CliError::Usage(format!("no device matches {search:?}")));
    }
    if ids.len() > 1 && !yes {
        let list: Vec<String> = ids
            .iter()
            .filter_map(|id| b.devs[*id as usize].as_ref())
            .map(|d| format!("d{} {}", d.id, d.describe()))
            .collect();
        return Err(CliError::Usage(format!(
            "{search:?} matches {} devices ({}); add --yes to change them all",
            ids.len(),
            list.join(", ")
        )));
    }
    Ok(ids)
}

fn info(out: &mut impl Write, path: &Path, d: &RingData) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: format v{}, {}-byte device ids, version {}\n{} partitions (part power {}), {:.6} replicas, {} devices",
        path.display(),
        d.format_version,
        d.dev_id_bytes,
        d.version.map_or("-".to_string(), |v| v.to_string()),
        d.partition_count(),
        d.part_power(),
        d.replica_count(),
        d.devs.iter().flatten().count()
    )?;
    for dev in d.devs.iter().flatten() {
        writeln!(
            out,
            "  d{} {} weight {}",
            dev.id,
            dev.describe(),
            dev.weight
        )?;
    }
    Ok(())
}

fn hash_conf(g: &GetArgs) -> Result<HashConf, CliError> {
    if let Some(p) = &g.swift_conf {
        return Ok(swiftconf::load_hash_conf(p)?);
    }
    let cfg = match &g.config {
        Some(p) => crate::config::Config::load(p)?,
        None => crate::config::Config::default(),
    };
    Ok(HashConf {
        prefix: cfg.swift_hash.prefix,
        suffix: cfg.swift_hash.suffix,
    })
}

fn node_json(d: &Device) -> Value {
    json!({
        "id": d.id,
        "region": d.region,
        "zone": d.zone,
        "ip": d.ip,
        "port": d.port,
        "device": d.device,
    })
}

/// The lookup of one name as JSON.
fn lookup_json(
    ring: &Ring,
    a: &str,
    c: Option<&str>,
    o: Option<&str>,
    handoffs: usize,
) -> Result<Value, CliError> {
    let (part, primaries) = ring
        .get_nodes(a, c, o)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let more: Vec<Value> = ring
        .get_more_nodes(part)
        .take(handoffs)
        .map(node_json)
        .collect();
    Ok(json!({
        "partition": part,
        "primaries": primaries.into_iter().map(node_json).collect::<Vec<_>>(),
        "handoffs": more,
    }))
}

fn get(out: &mut impl Write, g: GetArgs) -> Result<(), CliError> {
    let conf = hash_conf(&g)?;
    let ring = Ring::load(&g.ring, conf.clone())?;
    let handoffs = if g.all_handoffs {
        usize::MAX
    } else {
        g.handoffs.unwrap_or(ring.replica_count().ceil() as usize)
    };
    if g.batch {
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            let mut it = line.splitn(3, '/');
            let a = it.next().unwrap_or_default();
            let v = lookup_json(&ring, a, it.next(), it.next(), handoffs)?;
            writeln!(out, "{v}")?;
        }
        return Ok(());
    }
    let Some(account) = g.account.as_deref() else {
        return Err(CliError::Usage("ACCOUNT is required (or --batch)".into()));
    };
    let (c, o) = (g.container.as_deref(), g.object.as_deref());
    let v = lookup_json(&ring, account, c, o, handoffs)?;
    if g.json {
        writeln!(out, "{v}")?;
        return Ok(());
    }
    let path: Vec<&str> = [Some(account), c, o].into_iter().flatten().collect();
    writeln!(out, "Account  \t{account}")?;
    if let Some(c) = c {
        writeln!(out, "Container\t{c}")?;
    }
    if let Some(o) = o {
        writeln!(out, "Object   \t{o}")?;
    }
    writeln!(out, "Partition\t{}", v["partition"])?;
    let hash = crate::common::hash::hash_path(&conf, account, c, o)
        .map(hex::encode)
        .unwrap_or_default();
    writeln!(out, "Hash     \t{hash}\n\nPath /{}", path.join("/"))?;
    for (title, key) in [("Primary devices", "primaries"), ("Handoffs", "handoffs")] {
        writeln!(out, "\n{title}:")?;
        for n in v[key].as_array().into_iter().flatten() {
            writeln!(
                out,
                "  d{} r{}z{}-{}:{}/{}",
                n["id"],
                n["region"],
                n["zone"],
                n["ip"].as_str().unwrap_or(""),
                n["port"],
                n["device"].as_str().unwrap_or("")
            )?;
        }
    }
    Ok(())
}
