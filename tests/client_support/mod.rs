//! Running the `paco` client commands against a node (usually through a
//! [`FaultProxy`](super::client_proxy::FaultProxy)): stdin fed through a
//! real pipe by a writer thread, output and JSON summary collected.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What a client command did.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    /// The `--json` summary (the last stdout line).
    pub fn json(&self) -> serde_json::Value {
        let text = String::from_utf8_lossy(&self.stdout);
        let line = text.lines().last().unwrap_or("");
        serde_json::from_str(line).unwrap_or_else(|e| {
            panic!(
                "no JSON summary ({e}); stdout {text:?}; stderr:\n{}",
                self.stderr
            )
        })
    }
}

/// A `paco` client command with credentials for test:tester via `port`.
pub fn command(port: u16, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paco"));
    cmd.args(args)
        .env("ST_AUTH", format!("http://127.0.0.1:{port}/auth/v1.0"))
        .env("ST_USER", "test:tester")
        .env("ST_KEY", "testing")
        .env_remove("TMPDIR");
    cmd
}

/// Starts `cmd` with `input` written to its stdin through a pipe (closed at
/// the end), or no stdin.
pub fn spawn(mut cmd: Command, input: Option<Vec<u8>>) -> Child {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn paco");
    if let Some(data) = input {
        let mut stdin = child.stdin.take().expect("stdin");
        std::thread::spawn(move || {
            // Small writes, like a producer generating data.
            for piece in data.chunks(64 * 1024) {
                if stdin.write_all(piece).is_err() {
                    return;
                }
            }
        });
    }
    child
}

/// Runs `cmd` to the end (killing it after `limit`).
pub fn run(cmd: Command, input: Option<Vec<u8>>, limit: Duration) -> Run {
    let mut child = spawn(cmd, input);
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "client did not finish within {limit:?}; stderr:\n{}",
                e.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        stdout: o.join().unwrap_or_default(),
        stderr: e.join().unwrap_or_default(),
    }
}

/// Names of the entries of `dir`.
pub fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}
