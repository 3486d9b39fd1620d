//! `cargo xtask test`: everything CI runs (`.ci/run` calls only this), in order, stopping at
//! the first failure.
//!
//! 1. install the conformance prerequisites (`kcat`, the Python venv) unless `--no-install`;
//! 2. `cargo fmt --all -- --check`;
//! 3. `cargo clippy --workspace --all-targets -- -D warnings` unless `--skip-clippy`;
//! 4. `cargo xtask codegen --check`: the committed generated code matches the specs;
//! 5. `cargo test --workspace`, with `KAFKA_SDK_PYTHON` / `KAFKA_SDK_KCAT` set so the tests
//!    that compare against the reference tools run (they skip themselves when unset);
//! 6. the Python conformance scripts under `tests/conformance/` unless `--skip-conformance`.
//!
//! The run ends with one `tests: N passed, N failed, N skipped` line adding up every
//! `cargo test` binary and conformance script, so a reader (or CI) sees the total at the end.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::install::{self, Tools};

const USAGE: &str = "usage: cargo xtask test [--no-install] [--skip-clippy] [--skip-conformance]";

const INSTALL_TITLE: &str = "install conformance prerequisites (kcat, Python venv)";
const FMT: &[&str] = &["fmt", "--all", "--", "--check"];
const CLIPPY: &[&str] = &[
    "clippy",
    "--workspace",
    "--all-targets",
    "--",
    "-D",
    "warnings",
];
const TEST: &[&str] = &["test", "--workspace"];

/// A step's heading: the cargo command it runs.
fn title(cargo_args: &[&str]) -> String {
    format!("cargo {}", cargo_args.join(" "))
}

/// Command-line switches of `cargo xtask test`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    no_install: bool,
    skip_clippy: bool,
    skip_conformance: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut opts = Options::default();
        for arg in args {
            match arg.as_str() {
                "--no-install" => opts.no_install = true,
                "--skip-clippy" => opts.skip_clippy = true,
                "--skip-conformance" => opts.skip_conformance = true,
                other => return Err(format!("unknown option {other:?}\n{USAGE}")),
            }
        }
        Ok(opts)
    }
}

/// Test counts, summed over every test binary and conformance script.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    passed: u64,
    failed: u64,
    skipped: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

/// Runs every step; the first failure ends the run with an error.
pub fn run(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let opts = Options::parse(args)?;
    let root = crate::workspace_root();
    let started = Instant::now();
    let mut steps = Steps::new(4 + usize::from(!opts.no_install) + usize::from(!opts.skip_clippy));
    let mut tally = Tally::default();

    let tools = if opts.no_install {
        Tools::detect(&root)
    } else {
        steps.run(INSTALL_TITLE, || install::ensure(&root))?
    };
    steps.run(&title(FMT), || cargo(&root, FMT))?;
    if !opts.skip_clippy {
        steps.run(&title(CLIPPY), || cargo(&root, CLIPPY))?;
    }
    // Called in-process: the codegen module is part of this binary, so no second build.
    steps.run("cargo xtask codegen --check", || {
        crate::codegen::run(&["--check".to_string()])
    })?;

    let env = tools.env();
    for (k, v) in &env {
        println!("{k}={}", v.to_string_lossy());
    }
    let result = steps.run(&title(TEST), || cargo_test(&root, &env, &mut tally));
    let result = result.and_then(|()| {
        steps.run("conformance scripts (tests/conformance/*.py)", || {
            if opts.skip_conformance {
                println!("skipped (--skip-conformance)");
                Ok(())
            } else {
                conformance(&root, &tools, &mut tally)
            }
        })
    });

    println!();
    steps.print_timings();
    println!("total {}", fmt_duration(started.elapsed()));
    // The one closing line that sums everything; keep its shape ("word: N passed, N failed,
    // N skipped") since CI reads it.
    println!(
        "tests: {} passed, {} failed, {} skipped",
        tally.passed, tally.failed, tally.skipped
    );
    result
}

/// Numbers, times and prints the steps, and remembers each one's duration for the summary.
struct Steps {
    total: usize,
    done: Vec<(String, Duration, bool)>,
}

impl Steps {
    fn new(total: usize) -> Steps {
        Steps {
            total,
            done: Vec::new(),
        }
    }

    fn run<T>(&mut self, title: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
        let n = self.done.len() + 1;
        println!("\n==> [{n}/{}] {title}", self.total);
        let _ = std::io::stdout().flush();
        let start = Instant::now();
        let result = f();
        let took = start.elapsed();
        self.done.push((title.to_string(), took, result.is_ok()));
        match &result {
            Ok(_) => println!(
                "<== [{n}/{}] ok in {}: {title}",
                self.total,
                fmt_duration(took)
            ),
            Err(e) => println!(
                "<== [{n}/{}] FAILED in {}: {title}: {e}",
                self.total,
                fmt_duration(took)
            ),
        }
        result.map_err(|e| format!("step {n} ({title}) failed: {e}"))
    }

    fn print_timings(&self) {
        for (title, took, ok) in &self.done {
            println!(
                "{:>8}  {}  {title}",
                fmt_duration(*took),
                if *ok { "ok    " } else { "FAILED" }
            );
        }
    }
}

fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// The cargo that invoked us (`$CARGO`), so the same toolchain runs every step.
fn cargo_command(root: &Path) -> Command {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root);
    cmd
}

fn cargo(root: &Path, args: &[&str]) -> Result<(), String> {
    install::run_status(cargo_command(root).args(args))
}

/// `cargo test --workspace`, echoing its output while adding up its `test result:` lines.
fn cargo_test(
    root: &Path,
    env: &[(&'static str, OsString)],
    tally: &mut Tally,
) -> Result<(), String> {
    let mut child = cargo_command(root)
        .args(TEST)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run cargo test: {e}"))?;
    let stdout = child.stdout.take().ok_or("cargo test has no stdout")?;
    let mut out = std::io::stdout();
    for line in BufReader::new(stdout).split(b'\n') {
        let line = line.map_err(|e| format!("reading cargo test output: {e}"))?;
        let text = String::from_utf8_lossy(&line);
        if let Some(t) = parse_test_result(&text) {
            tally.add(t);
        }
        // Echo as we go so progress shows live; a closed stdout must not stop the run.
        let _ = writeln!(out, "{text}");
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for cargo test: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo test exited with {status}"))
    }
}

/// Reads libtest's `test result: ok. 7 passed; 0 failed; 1 ignored; ...` line.
fn parse_test_result(line: &str) -> Option<Tally> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let rest = rest.split_once(". ").map_or(rest, |(_, r)| r);
    let mut tally = Tally::default();
    for part in rest.split(';') {
        let mut words = part.split_whitespace();
        let (Some(n), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        match what {
            "passed" => tally.passed += n,
            "failed" => tally.failed += n,
            "ignored" => tally.skipped += n,
            _ => {}
        }
    }
    Some(tally)
}

/// Runs each `tests/conformance/*.py` with the venv's Python, in name order, with
/// `KAFKA_SDK_ROOT` (and the tool variables) set. Every script runs even after one fails,
/// so one report shows all of them; the step fails if any did.
fn conformance(root: &Path, tools: &Tools, tally: &mut Tally) -> Result<(), String> {
    let scripts = conformance_scripts(root)?;
    if scripts.is_empty() {
        println!("no conformance scripts under tests/conformance/; nothing to run");
        return Ok(());
    }
    let python = tools.python.as_ref().ok_or(
        "conformance scripts need the venv's Python: run without --no-install or set KAFKA_SDK_PYTHON",
    )?;
    let mut failed = Vec::new();
    for script in &scripts {
        let name = script
            .strip_prefix(root)
            .unwrap_or(script)
            .display()
            .to_string();
        println!("--- {name}");
        let start = Instant::now();
        let status = Command::new(python)
            .arg(script)
            .current_dir(root)
            .env("KAFKA_SDK_ROOT", root)
            .envs(tools.env())
            .status()
            .map_err(|e| format!("could not run {}: {e}", python.display()))?;
        let took = fmt_duration(start.elapsed());
        if status.success() {
            tally.passed += 1;
            println!("--- {name}: ok ({took})");
        } else {
            tally.failed += 1;
            println!("--- {name}: FAILED with {status} ({took})");
            failed.push(name);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed: {}", failed.join(", ")))
    }
}

fn conformance_scripts(root: &Path) -> Result<Vec<PathBuf>, String> {
    let dir = root.join("tests").join("conformance");
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("reading {}: {e}", dir.display())),
    };
    let mut scripts = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
            .path();
        // Files starting with `_` are helpers imported by the scripts, not scripts.
        let is_helper = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('_'));
        if path.is_file() && path.extension().is_some_and(|x| x == "py") && !is_helper {
            scripts.push(path);
        }
    }
    scripts.sort();
    Ok(scripts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_options() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(Options::parse(&[]).unwrap(), Options::default());
        let o = Options::parse(&args(&["--no-install", "--skip-clippy"])).unwrap();
        assert!(o.no_install && o.skip_clippy && !o.skip_conformance);
        assert!(Options::parse(&args(&["--bogus"])).is_err());
    }

    #[test]
    fn parses_libtest_summaries() {
        let line = "test result: ok. 7 passed; 0 failed; 2 ignored; 0 measured; 5 filtered out; finished in 0.00s";
        assert_eq!(
            parse_test_result(line),
            Some(Tally {
                passed: 7,
                failed: 0,
                skipped: 2
            })
        );
        let line = "test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out";
        assert_eq!(
            parse_test_result(line),
            Some(Tally {
                passed: 3,
                failed: 1,
                skipped: 0
            })
        );
        assert_eq!(parse_test_result("running 7 tests"), None);
    }

    #[test]
    fn formats_durations() {
        assert_eq!(fmt_duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(fmt_duration(Duration::from_secs(125)), "2m05s");
    }
}
