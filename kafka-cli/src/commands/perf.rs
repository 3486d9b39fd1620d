//! `kafka-cli perf produce|consume`: Kafka's `kafka-producer-perf-test` and
//! `kafka-consumer-perf-test`, with the same figures (records/s, MB/s, latency average,
//! percentiles and maximum), a progress line on stderr every second, and `--json` for a
//! machine-readable summary on stdout. The runs are in `perf_produce.rs` and
//! `perf_consume.rs`; the bookkeeping in `crate::perf`.

use clap::Subcommand;

use super::Context;
use super::perf_consume::{self, PerfConsumeArgs};
use super::perf_produce::{self, PerfProduceArgs};
use crate::error::CliResult;

/// `perf` subcommands.
#[derive(Debug, Subcommand)]
pub enum PerfCommand {
    /// Producer throughput and latency (send to acknowledgement).
    Produce(PerfProduceArgs),
    /// Consumer throughput and end-to-end latency (record timestamp to receipt).
    Consume(PerfConsumeArgs),
}

/// Runs a `perf` subcommand.
pub async fn run(ctx: &Context, cmd: PerfCommand) -> CliResult {
    match cmd {
        PerfCommand::Produce(args) => perf_produce::run(ctx, args).await,
        PerfCommand::Consume(args) => perf_consume::run(ctx, args).await,
    }
}

/// Prints a progress line on stderr every second until the returned guard is dropped.
pub fn spawn_progress(
    stats: std::sync::Arc<std::sync::Mutex<crate::perf::stats::Stats>>,
    verb: &'static str,
) -> ProgressGuard {
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
        loop {
            tick.tick().await;
            let line = stats
                .lock()
                .map(|mut s| s.window_line(verb, std::time::Instant::now()))
                .unwrap_or(None);
            if let Some(line) = line {
                eprintln!("{line}");
            }
        }
    });
    ProgressGuard(task)
}

/// Stops the progress line when dropped.
#[derive(Debug)]
pub struct ProgressGuard(tokio::task::JoinHandle<()>);

impl Drop for ProgressGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A flag set by SIGINT/SIGTERM, for loops too hot to select on a signal each time.
pub fn stop_flag() -> CliResult<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut signals = crate::signals::ShutdownSignals::install()
        .map_err(|e| crate::error::CliError::io("signals", e))?;
    let set = flag.clone();
    tokio::spawn(async move {
        signals.wait().await;
        set.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    Ok(flag)
}
