//! Shared helpers for the integration tests: a `Node` that runs the real
//! `paco` binary on an ephemeral port with a temporary data directory, and a
//! small blocking HTTP/1.1 client over `std::net::TcpStream` that can send
//! raw bytes (for malformed requests), reuse a keep-alive connection, send
//! chunked bodies and read interim `100 Continue` responses.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

/// The I/O drivers every object-behaviour test runs on.
pub const DRIVERS: [&str; 2] = ["io_uring", "epoll"];

/// Default read timeout for client sockets: a hang becomes a failure.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Node
// ---------------------------------------------------------------------------

/// How to start a node.
#[derive(Clone, Debug)]
pub struct NodeOpts {
    pub driver: String,
    pub workers: usize,
    /// TOML text written to a config file and passed with `--config`.
    pub config: Option<String>,
    /// Reuse this data directory (restart tests); otherwise a fresh temp dir.
    pub data_dir: Option<PathBuf>,
    /// `RLIMIT_FSIZE` of the node, with `SIGXFSZ` ignored: writes past it
    /// fail with `EFBIG`, a disk that refuses bytes mid-file.
    pub file_size_limit: Option<u64>,
}

impl NodeOpts {
    pub fn new(driver: &str) -> Self {
        NodeOpts {
            driver: driver.to_string(),
            workers: 1,
            config: None,
            data_dir: None,
            file_size_limit: None,
        }
    }
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }
    pub fn config(mut self, toml: &str) -> Self {
        self.config = Some(toml.to_string());
        self
    }
    pub fn file_size_limit(mut self, bytes: u64) -> Self {
        self.file_size_limit = Some(bytes);
        self
    }
    pub fn data_dir(mut self, p: &Path) -> Self {
        self.data_dir = Some(p.to_path_buf());
        self
    }
    pub fn start(self) -> Node {
        Node::start_opts(self)
    }
}

/// A running `paco serve`. Killed (SIGKILL) on drop if still running, also
/// when the test panics.
pub struct Node {
    child: Option<Child>,
    pub port: u16,
    pub data_dir: PathBuf,
    /// Owns the data dir when the node created it.
    data_tmp: Option<tempfile::TempDir>,
    /// Config file and stderr log live here (never inside the data dir).
    aux: tempfile::TempDir,
    pub log_path: PathBuf,
    pub opts: NodeOpts,
    /// When the listening line was seen.
    pub ready_at: Instant,
}

impl Node {
    /// A node on `driver` with defaults (1 worker, no pinning).
    pub fn start(driver: &str) -> Node {
        NodeOpts::new(driver).start()
    }

    pub fn start_opts(opts: NodeOpts) -> Node {
        let aux = tempfile::Builder::new()
            .prefix("paco-it-aux")
            .tempdir()
            .expect("aux tempdir");
        let (data_tmp, data_dir) = match &opts.data_dir {
            Some(p) => (None, p.clone()),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("paco-it-data")
                    .tempdir()
                    .expect("data tempdir");
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let log_path = aux.path().join("stderr.log");
        let log = std::fs::File::create(&log_path).expect("create log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_paco"));
        cmd.arg("serve")
            .arg("--bind")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--workers")
            .arg(opts.workers.to_string())
            .arg("--driver")
            .arg(&opts.driver)
            .arg("--no-pin")
            .env_remove("PACO_CONFIG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        if let Some(toml) = &opts.config {
            let cfg = aux.path().join("paco.toml");
            std::fs::write(&cfg, toml).expect("write config");
            cmd.arg("--config").arg(&cfg);
        }
        if let Some(limit) = opts.file_size_limit {
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec this only makes two
            // async-signal-safe calls (setrlimit, signal).
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("spawn paco");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            let mut tx = Some(tx);
            loop {
                line.clear();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if line.contains("paco listening on") {
                            if let Some(t) = tx.take() {
                                let _ = t.send(line.trim().to_string());
                            }
                        }
                    }
                }
            }
        });
        let mut node = Node {
            child: Some(child),
            port: 0,
            data_dir,
            data_tmp,
            aux,
            log_path,
            opts,
            ready_at: Instant::now(),
        };
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => l,
            Err(_) => {
                let log = node.log();
                panic!("paco did not print its listening line within 20s; stderr:\n{log}");
            }
        };
        let url = line.rsplit(' ').next().unwrap();
        let port: u16 = url
            .trim_start_matches("http://")
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("cannot parse port from {line:?}"));
        node.port = port;
        node.ready_at = Instant::now();
        node
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("child").id() as i32
    }

    /// The node's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn conn(&self) -> Conn {
        Conn::connect(self.port)
    }

    /// One request on a fresh connection. On a transport error the panic
    /// message carries the tail of the node's log.
    pub fn req(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let mut c = self.conn();
        let local = c.stream.local_addr().map(|a| a.port()).unwrap_or(0);
        let raw = build_request(method, path, headers, body);
        let res = c
            .try_send(&raw)
            .and_then(|_| c.read_response(method == "HEAD"));
        res.unwrap_or_else(|e| {
            panic!(
                "{method} {path} (client port {local}): reading response: {e}\n--- node log tail ---\n{}",
                self.log_tail(25)
            )
        })
    }

    /// The last `n` lines of the node's stderr.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Token for `account:user` / `key`.
    pub fn token_for(&self, user: &str, key: &str) -> String {
        let r = self.req(
            "GET",
            "/auth/v1.0",
            &[("X-Auth-User", user), ("X-Auth-Key", key)],
            b"",
        );
        assert_eq!(r.status, 200, "auth as {user} failed: {r:?}");
        r.header("x-auth-token").expect("X-Auth-Token").to_string()
    }

    /// Token for test:tester.
    pub fn token(&self) -> String {
        self.token_for("test:tester", "testing")
    }

    /// Create a container (`/v1/AUTH_x/c`). 501 is accepted too: before
    /// containers exist in paco, objects may be written to any container.
    pub fn container(&self, tok: &str, path: &str) {
        let r = self.req("PUT", path, &[("X-Auth-Token", tok)], b"");
        assert!(
            matches!(r.status, 201 | 202 | 501),
            "PUT container {path}: {r:?}"
        );
    }

    /// Token for test:tester, with the containers the tests use
    /// (c, c1, cont, photos) created in AUTH_test.
    pub fn setup(&self) -> String {
        let tok = self.token();
        // One keep-alive connection for all of them.
        let mut conn = self.conn();
        for c in ["c", "c1", "cont", "photos"] {
            let path = format!("/v1/AUTH_test/{c}");
            let r = conn.request("PUT", &path, &[("X-Auth-Token", &tok)], b"");
            assert!(
                matches!(r.status, 201 | 202 | 501),
                "PUT container {path}: {r:?}"
            );
        }
        tok
    }

    pub fn signal(&self, sig: i32) {
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// Wait for the process to exit; None on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().expect("child");
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then assert a clean exit (status 0) within 15 s.
    ///
    /// Waits until the node has been up 300 ms first: paco installs its
    /// signal handlers only after printing the listening line, so an early
    /// SIGTERM kills it (shutdown.rs::sigterm_right_after_ready covers that
    /// bug; other tests should not flake on it).
    pub fn stop(mut self) {
        let up = self.ready_at.elapsed();
        if up < Duration::from_millis(300) {
            std::thread::sleep(Duration::from_millis(300) - up);
        }
        self.signal(libc::SIGTERM);
        let st = self.wait_exit(Duration::from_secs(15));
        let log = self.log();
        match st {
            Some(st) => assert_eq!(
                st.code(),
                Some(0),
                "paco exited with {st:?} after SIGTERM; stderr:\n{log}"
            ),
            None => panic!("paco did not exit within 15s of SIGTERM; stderr:\n{log}"),
        }
        self.child = None;
    }

    /// SIGKILL and reap. The data dir stays (it belongs to the test if it
    /// was passed in, or to this Node otherwise).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Path on disk of the `hashed` layout directory for an object
    /// (default hash prefix "" / suffix "changeme", part power 10).
    pub fn object_dir(&self, account: &str, container: &str, obj: &str) -> PathBuf {
        let (part, hash) = hash_path("", "changeme", 10, account, container, obj);
        self.data_dir
            .join("sda1")
            .join("objects")
            .join(part.to_string())
            .join(&hash[hash.len() - 3..])
            .join(&hash)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Swift's hash_path + partition: md5(prefix + "/a/c/o" + suffix),
/// partition = first 4 bytes big-endian >> (32 - part_power).
pub fn hash_path(
    prefix: &str,
    suffix: &str,
    part_power: u32,
    a: &str,
    c: &str,
    o: &str,
) -> (u32, String) {
    let mut h = Md5::new();
    h.update(prefix.as_bytes());
    h.update(format!("/{a}/{c}/{o}").as_bytes());
    h.update(suffix.as_bytes());
    let d = h.finalize();
    let part = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) >> (32 - part_power);
    (part, hex::encode(d))
}

pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// Every file (not directory) under `root`, recursively.
pub fn walk_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Percent-encode an object name for a request path (keeps `/` and
/// unreserved characters).
pub fn quote(s: &str) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    let mut x: u32 = 0x9E37_79B9 ^ seed as u32;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// Encode parts as a chunked body (with the terminating zero chunk).
pub fn chunked(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        if p.is_empty() {
            continue;
        }
        out.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for a backend
/// listener a ring must name before its node starts).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Runs `paco args` in `dir` (ring building and other one-shot commands)
/// with no `PACO_CONFIG` from the environment.
pub fn paco_output(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_paco"))
        .current_dir(dir)
        .args(args)
        .env_remove("PACO_CONFIG")
        .output()
        .expect("run paco")
}

/// [`paco_output`], asserting it succeeded; returns its stdout.
pub fn run_paco(dir: &Path, args: &[&str]) -> String {
    let out = paco_output(dir, args);
    assert!(
        out.status.success(),
        "paco {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Appends a ustar member to `out`: `kind` b'0' a file, b'5' a directory,
/// b'x' pax records; padded to the 512-byte block.
pub fn tar_member(out: &mut Vec<u8>, name: &str, data: &[u8], kind: u8) {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    out.extend(h);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

// ---------------------------------------------------------------------------
// HTTP client
// ---------------------------------------------------------------------------

#[derive(Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// First value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Header names starting with a prefix (lower-cased), with values.
    pub fn with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let p = prefix.to_ascii_lowercase();
        let mut v: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(k, _)| k.to_ascii_lowercase().starts_with(&p))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        v.sort();
        v
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "HTTP/1.1 {} {}", self.status, self.reason)?;
        for (k, v) in &self.headers {
            writeln!(f, "{k}: {v}")?;
        }
        let b = &self.body;
        if b.len() <= 512 {
            write!(f, "\n{:?}", String::from_utf8_lossy(b))
        } else {
            write!(
                f,
                "\n<{} bytes> {:?}...",
                b.len(),
                String::from_utf8_lossy(&b[..256])
            )
        }
    }
}

/// A client connection with its own read-ahead buffer.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    pub port: u16,
}

/// Build the raw bytes of a request. Adds `Host`, and `Content-Length`
/// for a non-empty body or for PUT/POST, unless the caller gave
/// `Content-Length` or `Transfer-Encoding` already.
pub fn build_request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
    let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if !has("host") {
        out.extend_from_slice(b"Host: 127.0.0.1\r\n");
    }
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if !has("content-length")
        && !has("transfer-encoding")
        && (!body.is_empty() || method == "PUT" || method == "POST")
    {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

impl Conn {
    pub fn connect(port: u16) -> Conn {
        Self::try_connect(port).unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"))
    }

    pub fn try_connect(port: u16) -> io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        Ok(Self::from_stream(stream, port))
    }

    pub fn from_stream(stream: TcpStream, port: u16) -> Conn {
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_nodelay(true);
        Conn {
            stream,
            buf: Vec::new(),
            port,
        }
    }

    pub fn set_read_timeout(&self, d: Duration) {
        self.stream.set_read_timeout(Some(d)).unwrap();
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
        self.stream.flush().unwrap();
    }

    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Send a request and read its (final) response.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let raw = build_request(method, path, headers, body);
        self.send(&raw);
        let r = self.read_response(method == "HEAD");
        r.unwrap_or_else(|e| panic!("{method} {path}: reading response: {e}"))
    }

    /// Send raw bytes, read one response.
    pub fn raw(&mut self, bytes: &[u8]) -> Response {
        self.send(bytes);
        self.read_response(false)
            .unwrap_or_else(|e| panic!("reading response to raw request: {e}"))
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 65536];
        let n = self.stream.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    fn read_exact_buf(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("EOF after {} of {n} body bytes", self.buf.len()),
                ));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    fn read_line_buf(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).collect();
                return Ok(line[..i].to_vec());
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "EOF in line"));
            }
        }
    }

    /// Read one response (interim 1xx responses are returned as such).
    /// `head`: the request was HEAD (no body whatever the headers say).
    pub fn read_response(&mut self, head: bool) -> io::Result<Response> {
        // Head.
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "EOF before response head (have {:?})",
                        String::from_utf8_lossy(&self.buf)
                    ),
                ));
            }
        };
        let head_bytes: Vec<u8> = self.buf.drain(..end + 4).collect();
        let text = String::from_utf8_lossy(&head_bytes[..end]).into_owned();
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut sp = status_line.splitn(3, ' ');
        let version = sp.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            ));
        }
        let status: u16 = sp.next().and_then(|s| s.parse().ok()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            )
        })?;
        let reason = sp.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        for l in lines {
            let (k, v) = l.split_once(':').ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad header line {l:?}"))
            })?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let mut resp = Response {
            status,
            reason,
            headers,
            body: Vec::new(),
        };
        if head || (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(resp);
        }
        let te = resp
            .header("transfer-encoding")
            .map(|s| s.to_ascii_lowercase());
        if te.as_deref().is_some_and(|t| t.contains("chunked")) {
            let mut body = Vec::new();
            loop {
                let line = self.read_line_buf()?;
                let line = String::from_utf8_lossy(&line).into_owned();
                let size_str = line.split(';').next().unwrap().trim();
                let size = usize::from_str_radix(size_str, 16).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bad chunk size {line:?}"),
                    )
                })?;
                if size == 0 {
                    // trailers
                    loop {
                        if self.read_line_buf()?.is_empty() {
                            break;
                        }
                    }
                    break;
                }
                body.extend(self.read_exact_buf(size)?);
                let crlf = self.read_exact_buf(2)?;
                if crlf != b"\r\n" {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "missing CRLF after chunk",
                    ));
                }
            }
            resp.body = body;
        } else if let Some(cl) = resp.header("content-length") {
            let n: usize = cl.parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad content-length {cl:?}"),
                )
            })?;
            resp.body = self.read_exact_buf(n)?;
        } else {
            // Close-delimited.
            loop {
                if self.fill()? == 0 {
                    break;
                }
            }
            resp.body = std::mem::take(&mut self.buf);
        }
        Ok(resp)
    }

    /// Read the final response, skipping interim 1xx responses.
    pub fn read_final(&mut self, head: bool) -> io::Result<Response> {
        loop {
            let r = self.read_response(head)?;
            if !(100..200).contains(&r.status) {
                return Ok(r);
            }
        }
    }

    /// True if the peer closes (EOF or reset) within `within`, with no
    /// further bytes arriving. Bytes that do arrive are returned in Err.
    pub fn wait_closed(&mut self, within: Duration) -> Result<Duration, String> {
        let start = Instant::now();
        let deadline = start + within;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("connection still open after {within:?}"));
            }
            self.stream.set_read_timeout(Some(deadline - now)).unwrap();
            let mut tmp = [0u8; 4096];
            match self.stream.read(&mut tmp) {
                Ok(0) => return Ok(start.elapsed()),
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return Err(format!("connection still open after {within:?}"))
                }
                Err(_) => return Ok(start.elapsed()), // reset counts as closed
            }
        }
    }

    /// Bytes received but not consumed by a response parse.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

// ---------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------

/// Every response must carry X-Trans-Id and Date.
pub fn assert_common_headers(r: &Response) {
    assert!(r.has("x-trans-id"), "no X-Trans-Id in {r:?}");
    let date = r
        .header("date")
        .unwrap_or_else(|| panic!("no Date in {r:?}"));
    assert!(httpdate::parse_http_date(date).is_ok(), "bad Date {date:?}");
}

/// Run a test body once per driver (the body gets the driver name).
#[macro_export]
macro_rules! driver_tests {
    ($( $(#[$m:meta])* fn $name:ident ; )*) => {
        mod io_uring {
            $( $(#[$m])* #[test] fn $name() { super::$name("io_uring") } )*
        }
        mod epoll {
            $( $(#[$m])* #[test] fn $name() { super::$name("epoll") } )*
        }
    };
}
