//! The `paco` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use paco::config::{Config, Driver};

/// A request allocates a few dozen small blocks (names, headers, metadata)
/// and frees them soon after, on the same thread. With glibc's allocator
/// that was about a fifth of a 4 KiB GET's user cycles; with mimalloc's
/// thread-local free lists the GET took 18% fewer user instructions and
/// about 10% less CPU (docs/performance.md), for about twice the resident
/// memory (tens of MB).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "paco",
    version,
    about = "An OpenStack-Swift-compatible storage node: proxy, account, container and object in one process"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a node. With no options: 127.0.0.1:8080, data under ./paco-data,
    /// one worker per core, tempauth user test:tester / testing. Every
    /// option here overrides the config file; docs/configuration.md lists
    /// all settings.
    Serve(ServeArgs),
    /// Print the default configuration as TOML (a starting point for --config).
    DefaultConfig,
    /// Load-test a Swift endpoint (paco or OpenStack Swift) and report
    /// latency percentiles, throughput and errors.
    Bench(paco::bench::options::BenchArgs),
    /// Upload a file or standard input (as a resumable segmented large
    /// object with --segment-size).
    Upload(paco::client::cli::UploadArgs),
    /// Download an object (large objects included), verifying it.
    Download(paco::client::cli::DownloadArgs),
    /// List the account's containers or a container's objects.
    List(paco::client::cli::ListArgs),
    /// Delete objects (with their segments), or a container and everything in it.
    Delete(paco::client::cli::DeleteArgs),
    /// Show the headers of the account, a container or an object.
    Stat(paco::client::cli::StatArgs),
    /// Operator tools that work on a stopped node's data.
    #[command(subcommand)]
    Admin(paco::admin::AdminCommand),
    /// Build rings and look names up in them (swift-ring-builder and
    /// swift-get-nodes for paco; docs/rings.md).
    Ring(paco::ring::cli::RingArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TOML configuration file; anything it leaves out keeps its default.
    #[arg(short, long, env = "PACO_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address (port 0 picks a free port, printed on stdout).
    #[arg(long)]
    bind: Option<std::net::SocketAddr>,
    /// Data directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Worker threads (0 = one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// I/O driver.
    #[arg(long, value_enum)]
    driver: Option<Driver>,
    /// Do not pin workers to cores.
    #[arg(long)]
    no_pin: bool,
    /// Log filter (tracing's RUST_LOG syntax), e.g. `info` or `paco=debug`.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log: String,
}

fn main() -> ExitCode {
    // `paco serve --help` ends with every setting and its default, so the
    // help and the configuration can never disagree.
    let defaults = toml::to_string_pretty(&Config::default()).unwrap_or_default();
    let command = Cli::command().mut_subcommand("serve", |c| {
        c.after_long_help(format!(
            "Every setting of the --config file, with its default (docs/configuration.md explains each):\n\n{defaults}"
        ))
    });
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match cli.command {
        Command::DefaultConfig => match toml::to_string_pretty(&Config::default()) {
            Ok(s) => {
                print!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("paco: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Admin(cmd) => match paco::admin::run(cmd) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("paco admin: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Ring(args) => match paco::ring::cli::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("paco ring: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Bench(args) => match paco::bench::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("paco bench: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Upload(a) => paco::client::cli::upload(a),
        Command::Download(a) => paco::client::cli::download(a),
        Command::List(a) => paco::client::cli::list(a),
        Command::Delete(a) => paco::client::cli::delete(a),
        Command::Stat(a) => paco::client::cli::stat(a),
        Command::Serve(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log))
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .init();
            let mut config = match &args.config {
                Some(path) => match Config::load(path) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("paco: {e}");
                        return ExitCode::FAILURE;
                    }
                },
                None => Config::default(),
            };
            if let Some(b) = args.bind {
                config.bind = b;
            }
            if let Some(d) = args.data_dir {
                config.data_dir = d;
            }
            if let Some(w) = args.workers {
                config.workers = w;
            }
            if let Some(d) = args.driver {
                config.driver = d;
            }
            if args.no_pin {
                config.pin_workers = false;
            }
            match paco::serve::run(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("paco: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
