//! `paco bench` options and their parsing (sizes, op mixes, URLs).

use std::net::{SocketAddr, ToSocketAddrs};

/// Command-line options of `paco bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// tempauth URL of the cluster under test (paco or real Swift), or
    /// `none` to drive a plain HTTP server (e.g. nginx with WebDAV) at
    /// `--url` without Swift auth.
    #[arg(
        short = 'A',
        long = "auth",
        env = "ST_AUTH",
        default_value = "http://127.0.0.1:8080/auth/v1.0"
    )]
    pub auth: String,
    /// With `-A none`: the URL objects live under, as
    /// `<url>/<container>/<name>`. Containers are not created (the server
    /// must create directories on PUT), PUT may answer 201 or 204, and reads
    /// are checked by size and bytes only (plain servers' ETags are not MD5).
    #[arg(long)]
    pub url: Option<String>,
    /// User, as `account:user`.
    #[arg(
        short = 'U',
        long = "user",
        env = "ST_USER",
        default_value = "test:tester"
    )]
    pub user: String,
    /// Key (password).
    #[arg(short = 'K', long = "key", env = "ST_KEY", default_value = "testing")]
    pub key: String,
    /// Object size, or a weighted distribution: `4KiB`, `1MiB`, `4KiB:3,1MiB:1`.
    #[arg(short, long, default_value = "4KiB")]
    pub size: String,
    /// Operation mix as weights: `put=1,get=1`; ops: put, get, head, delete, list.
    #[arg(short, long, default_value = "put=1,get=1")]
    pub mix: String,
    /// Concurrent connections in total.
    #[arg(short, long, default_value_t = 16)]
    pub concurrency: usize,
    /// Seconds to measure (ignored with --ops).
    #[arg(short, long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many measured operations instead of a duration.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Containers the objects are spread over.
    #[arg(long, default_value_t = 4)]
    pub containers: usize,
    /// Objects written before measuring, read by get/head.
    #[arg(long, default_value_t = 1000)]
    pub objects: usize,
    /// Container name prefix (a random suffix keeps runs apart).
    #[arg(long, default_value = "bench")]
    pub container_prefix: String,
    /// Use these existing containers (comma-separated) instead of new ones.
    #[arg(long = "container", value_delimiter = ',')]
    pub container: Vec<String>,
    /// Do not write the objects before measuring (they exist already, or
    /// only put/list are measured).
    #[arg(long)]
    pub no_prefill: bool,
    /// Rows per listing request; each listing starts at a random object name
    /// (`o<index>`), so with a pre-filled container any page is measured.
    #[arg(long, default_value_t = 100)]
    pub list_limit: usize,
    /// Load-generator threads (one runtime each); 0 = one per core.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Pin load-generator thread i to this list's i-th CPU (`0,1`).
    #[arg(long, value_delimiter = ',')]
    pub cpus: Vec<usize>,
    /// Skip checking sizes and ETags of what is read.
    #[arg(long)]
    pub no_verify: bool,
    /// Print the result as JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
}

/// An operation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// Object PUT.
    Put,
    /// Object GET.
    Get,
    /// Object HEAD.
    Head,
    /// Object DELETE (of an object written just before, untimed).
    Delete,
    /// Container listing GET (`limit=100`).
    List,
}

impl Op {
    /// All ops in report order.
    pub const ALL: [Op; 5] = [Op::Put, Op::Get, Op::Head, Op::Delete, Op::List];

    /// Upper-case name.
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "PUT",
            Op::Get => "GET",
            Op::Head => "HEAD",
            Op::Delete => "DELETE",
            Op::List => "LIST",
        }
    }

    /// Index into per-op arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Parses `4KiB`, `1MB`, `512`, `64MiB` into bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("bad size {s:?}"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown size unit {other:?}")),
    };
    Ok((n * mult).round() as u64)
}

/// Parses `name:weight` lists (weight defaults to 1).
fn weighted<T>(
    s: &str,
    sep: char,
    item: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<(T, u32)>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, w) = match part.rsplit_once(sep) {
            Some((n, w)) => (
                n,
                w.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("bad weight in {part:?}"))?,
            ),
            None => (part, 1),
        };
        if w > 0 {
            out.push((item(name)?, w));
        }
    }
    if out.is_empty() {
        return Err(format!("nothing to choose from in {s:?}"));
    }
    Ok(out)
}

/// Size distribution from `--size`.
pub fn parse_sizes(s: &str) -> Result<Vec<(u64, u32)>, String> {
    weighted(s, ':', parse_size)
}

/// Op mix from `--mix`.
pub fn parse_mix(s: &str) -> Result<Vec<(Op, u32)>, String> {
    weighted(s, '=', |name| {
        match name.trim().to_ascii_lowercase().as_str() {
            "put" => Ok(Op::Put),
            "get" => Ok(Op::Get),
            "head" => Ok(Op::Head),
            "delete" => Ok(Op::Delete),
            "list" => Ok(Op::List),
            other => Err(format!("unknown op {other:?}")),
        }
    })
}

/// Picks from a weighted list with `r` uniform in `0..total weight`.
pub fn pick<T: Copy>(items: &[(T, u32)], mut r: u32) -> T {
    for (t, w) in items {
        if r < *w {
            return *t;
        }
        r -= w;
    }
    items[items.len() - 1].0
}

/// An `http://host:port/path` URL, resolved.
#[derive(Debug, Clone)]
pub struct HttpUrl {
    /// Resolved address.
    pub addr: SocketAddr,
    /// `host:port` for the Host header.
    pub host: String,
    /// Path (with leading `/`).
    pub path: String,
}

/// Parses and resolves a plain-HTTP URL.
pub fn parse_url(url: &str) -> Result<HttpUrl, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs are supported: {url}"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let with_port = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("resolving {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("no address for {host}"))?;
    Ok(HttpUrl {
        addr,
        host: host.to_string(),
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_mixes_parse() {
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("4XB").is_err());
        assert_eq!(
            parse_sizes("4KiB:3,1MiB:1"),
            Ok(vec![(4096, 3), (1 << 20, 1)])
        );
        assert_eq!(
            parse_mix("put=2,get=1,list=0"),
            Ok(vec![(Op::Put, 2), (Op::Get, 1)])
        );
        assert!(parse_mix("post=1").is_err());
        assert!(parse_mix("get=0").is_err());
    }

    #[test]
    fn pick_follows_weights() {
        let items = [(Op::Put, 1), (Op::Get, 3)];
        assert_eq!(pick(&items, 0), Op::Put);
        assert_eq!(pick(&items, 1), Op::Get);
        assert_eq!(pick(&items, 3), Op::Get);
    }

    #[test]
    fn urls_parse() {
        let u = parse_url("http://127.0.0.1:8080/auth/v1.0").expect("url");
        assert_eq!(u.addr.port(), 8080);
        assert_eq!(u.path, "/auth/v1.0");
        assert!(parse_url("https://x").is_err());
    }
}
