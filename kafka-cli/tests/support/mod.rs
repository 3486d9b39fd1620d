//! What the CLI tests share: one companion broker per test binary, and running the built
//! `kafka-cli` against it as a subprocess, the way a user or a script does.
//!
//! The broker runs on its own thread and runtime, so the tests are plain synchronous
//! functions that can block on a child process without starving it. Each test uses its own
//! topic and group names, so they run in parallel against the one broker.

#![allow(dead_code)] // Each test file uses a different part of this module.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The built binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_kafka-cli");

/// The shared broker's bootstrap address (started on first use).
pub fn bootstrap() -> &'static str {
    static BOOTSTRAP: OnceLock<String> = OnceLock::new();
    BOOTSTRAP.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("companion-broker".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("broker runtime");
                runtime.block_on(async move {
                    let broker = kafka_broker::Broker::builder()
                        .default_partitions(3)
                        .start()
                        .await
                        .expect("companion broker starts");
                    tx.send(broker.bootstrap())
                        .expect("test waits for the address");
                    // Serve until the test binary exits.
                    std::future::pending::<()>().await;
                    drop(broker);
                });
            })
            .expect("broker thread");
        rx.recv().expect("broker address")
    })
}

/// A name no other test uses: `{prefix}-{pid}-{n}`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A finished `kafka-cli` run.
#[derive(Debug)]
pub struct Run {
    /// The exit code (-1: killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// How long it took.
    pub elapsed: Duration,
}

impl Run {
    /// Panics unless the exit code is 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self
    }

    /// Panics unless the exit code is `code` and stderr's error line contains `needle`.
    #[track_caller]
    pub fn fails(self, code: i32, needle: &str) -> Self {
        assert_eq!(self.code, code, "expected exit {code}: {self:#?}");
        assert!(
            self.stderr.contains("kafka-cli: error: ") && self.stderr.contains(needle),
            "expected an error naming {needle:?}: {self:#?}"
        );
        self
    }

    /// Stdout's lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

fn finish(output: Output, started: Instant) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// Runs `kafka-cli -b BROKER ARGS...` with no input.
pub fn cli(args: &[&str]) -> Run {
    cli_with_input(args, "")
}

/// Runs `kafka-cli -b BROKER ARGS...` with `input` on stdin.
pub fn cli_with_input(args: &[&str], input: &str) -> Run {
    let mut full = vec!["-b", bootstrap()];
    full.extend_from_slice(args);
    raw_with_input(&full, input)
}

/// Runs `kafka-cli ARGS...` (no `-b` added) with no input.
pub fn raw(args: &[&str]) -> Run {
    raw_with_input(args, "")
}

/// Runs `kafka-cli ARGS...` (no `-b` added) with `input` on stdin.
pub fn raw_with_input(args: &[&str], input: &str) -> Run {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kafka-cli runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_owned();
    // Written from a thread, so a child that prints before reading cannot deadlock us.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = child.wait_with_output().expect("kafka-cli finishes");
    let _ = writer.join();
    finish(output, started)
}

/// A long-running `kafka-cli` child (a consumer, a broker), killed when dropped.
#[derive(Debug)]
pub struct Background {
    child: Child,
    /// `None` once closed by [`Background::close_stdout`].
    stdout: Option<BufReader<ChildStdout>>,
}

impl Background {
    /// Starts `kafka-cli ARGS...` with stdout piped.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kafka-cli runs");
        let stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
        Self {
            child,
            stdout: Some(stdout),
        }
    }

    /// Reads stdout lines until one satisfies `pred`, returning it.
    pub fn wait_for_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
        let stdout = self.stdout.as_mut().expect("stdout still open");
        let mut line = String::new();
        loop {
            line.clear();
            let n = stdout.read_line(&mut line).expect("read child stdout");
            assert!(n > 0, "child closed stdout before the expected line");
            if pred(line.trim_end()) {
                return line.trim_end().to_owned();
            }
        }
    }

    /// Sends SIGTERM (through `kill`, as the tests use no unsafe code) and waits for the
    /// exit code.
    pub fn terminate(mut self) -> i32 {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.exit_code_within(Duration::from_secs(20))
            .expect("child ignored SIGTERM")
    }

    /// Closes the reading end of the child's stdout, as `| head` does when it has read
    /// enough.
    pub fn close_stdout(&mut self) {
        self.stdout = None;
    }

    /// The exit code, if the child exits within `limit`.
    pub fn exit_code_within(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status.code().unwrap_or(-1));
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A local port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
