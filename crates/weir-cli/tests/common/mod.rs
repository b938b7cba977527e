//! Shared by the CLI integration tests: start the real `weir broker` on an
//! ephemeral loopback port with a temp data dir, and run `weir` client
//! subcommands against it, every wait bounded.
//!
//! The binary is `$WEIR_BIN`, else `<workspace>/target/debug/weir` (build
//! it first with `cargo build -p weir`).

#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the broker may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one CLI command may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The `weir` binary under test.
pub fn weir_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("WEIR_BIN") {
        return PathBuf::from(bin);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let bin = target.join("debug").join("weir");
    assert!(
        bin.exists(),
        "{} does not exist: run `cargo build -p weir` first or set WEIR_BIN",
        bin.display()
    );
    bin
}

/// A running broker; killed when dropped.
pub struct Broker {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    stderr_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Broker {
    /// Start `weir broker` with its data in a fresh temp dir.
    pub fn start() -> Broker {
        Broker::start_with(&[])
    }

    /// Like [`Broker::start`], with `--override KEY=VALUE` for each of
    /// `overrides`.
    pub fn start_with(overrides: &[&str]) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let stderr_path = dir.path().join("broker.stderr");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut child = Command::new(weir_bin())
            .args([
                "broker",
                "--listeners",
                "PLAINTEXT://127.0.0.1:0",
                "--log-dirs",
            ])
            .arg(&data)
            // Tests run brokers side by side: no admin listener on its fixed port.
            .args(["--override", "admin.listener=none"])
            .args(overrides.iter().flat_map(|o| ["--override", o]))
            .env("WEIR_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("could not start the weir binary");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Keep draining stdout so the broker never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        break rest.trim().to_owned();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "broker did not report its address within {START_TIMEOUT:?}; stderr:\n{}",
                        std::fs::read_to_string(&stderr_path).unwrap_or_default()
                    );
                }
            }
        };
        Broker {
            child,
            addr,
            stderr_path,
            _dir: dir,
        }
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The broker's log so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// A `weir` command aimed at this broker.
    pub fn weir(&self, args: &[&str]) -> Weir {
        Weir {
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            addr: self.addr.clone(),
            stdin: Vec::new(),
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `weir` client invocation.
pub struct Weir {
    args: Vec<String>,
    addr: String,
    stdin: Vec<u8>,
}

/// What a `weir` invocation did.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Panics with the whole output unless the command succeeded.
    pub fn ok(self) -> Outcome {
        assert!(self.status.success(), "command failed: {self:#?}");
        self
    }

    /// Panics with the whole output unless the command failed.
    pub fn failed(self) -> Outcome {
        assert!(
            !self.status.success(),
            "command unexpectedly succeeded: {self:#?}"
        );
        self
    }

    /// stdout as JSON lines.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
            .collect()
    }

    /// stdout as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.stdout))
    }
}

impl Weir {
    /// Feed `input` on stdin.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Weir {
        self.stdin = input.into();
        self
    }

    /// Run to completion (killed after [`COMMAND_TIMEOUT`]).
    pub fn run(self) -> Outcome {
        let mut child = Command::new(weir_bin())
            .args(&self.args)
            .env("WEIR_BOOTSTRAP_SERVER", &self.addr)
            .env("WEIR_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("could not start the weir binary");
        let mut stdin = child.stdin.take().unwrap();
        let input = self.stdin;
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out_reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = stdout.read_to_end(&mut s);
            s
        });
        let err_reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = stderr.read_to_end(&mut s);
            s
        });
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "weir {:?} did not finish within {COMMAND_TIMEOUT:?}",
                    self.args
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let _ = writer.join();
        let stdout = String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned();
        let stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
        Outcome {
            status,
            stdout,
            stderr,
        }
    }
}

/// A topic name no other test uses.
pub fn unique_topic(hint: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{hint}-{}-{n}", std::process::id())
}
