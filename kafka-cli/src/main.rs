//! `kafka-cli`: produce, consume, administer and benchmark a Kafka cluster, or run the
//! companion broker.
//!
//! ```text
//! kafka-cli -b HOST:PORT [-X prop=value ...] [--config FILE] <command>
//! ```
//!
//! Exit codes: 0 success; 1 the command ran and failed (the cluster refused, or could not be
//! reached within `default.api.timeout.ms`, 10 s unless set); 2 the command line is wrong
//! (an unknown flag, a bad value, an unknown client property). Errors are one line on
//! stderr, `kafka-cli: error: ...`; data goes to stdout, progress and summaries to stderr.
//!
//! Module map: `cli` (global flags, the command tree), `commands/` (one file per command),
//! `props` (client properties from `--config`, `-X`, `-b`), `error` (exit codes),
//! `offset_spec` (`-o`, `--to-datetime`), `format` (`consume --format`), `perf/` (latency
//! statistics for the `perf` commands), `table` (aligned text output), `signals`
//! (SIGINT/SIGTERM for the long-running commands).

mod cli;
mod commands;
mod error;
mod format;
mod offset_spec;
mod perf;
mod props;
mod signals;
mod table;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind as ClapErrorKind;

use crate::cli::{Cli, Command};
use crate::error::{CliError, EXIT_FAILURE, EXIT_USAGE};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e),
    };
    init_logging(matches!(cli.command, Command::Broker(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kafka-cli: error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let result = runtime.block_on(commands::run(cli));
    // Background tasks (connection readers, the broker's listener) must not keep the process
    // alive, nor delay the exit code, once the command is done.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e),
    }
}

/// Prints `e` as one line and returns its exit code.
fn report(e: &CliError) -> ExitCode {
    eprintln!("kafka-cli: error: {e}");
    ExitCode::from(e.exit_code())
}

/// Help and version go to stdout with exit 0; a usage error gets the one-line form and the
/// usage line, exit 2.
fn clap_exit(e: clap::Error) -> ExitCode {
    match e.kind() {
        ClapErrorKind::DisplayHelp
        | ClapErrorKind::DisplayVersion
        | ClapErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ClapErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            let rendered = e.render().to_string();
            let mut lines = rendered.lines().filter(|l| !l.trim().is_empty());
            let first = lines.next().unwrap_or("invalid command line");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            // "the following required arguments were not provided:" names them on the
            // next lines; keep the cause on one line.
            let detail = if first.ends_with(':') {
                lines
                    .take_while(|l| l.starts_with(' '))
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                String::new()
            };
            let sep = if detail.is_empty() { "" } else { " " };
            eprintln!("kafka-cli: error: {first}{sep}{detail}");
            if let Some(usage) = rendered.lines().find(|l| l.starts_with("Usage:")) {
                eprintln!("{usage} (see --help)");
            }
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Logs go to stderr, filtered by `RUST_LOG`: by default only errors for client commands
/// (the CLI reports failures itself), `info` for the broker, as the `kafka-broker` binary.
fn init_logging(broker: bool) {
    let default = if broker { "info" } else { "error" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .try_init();
}
