//! `kafka-broker`: run the companion broker as a local Kafka.
//!
//! Prints exactly one line, `listening on HOST:PORT`, to stdout once clients can connect
//! (scripts wait for it); logs go to stderr (`RUST_LOG` sets the level, `info` by default).
//! SIGINT or SIGTERM shuts the broker down cleanly, flushing every log.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kafka_broker::Broker;

/// A Kafka-compatible broker for tests and local development.
#[derive(Debug, Parser)]
#[command(name = "kafka-broker", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9092", value_name = "HOST:PORT")]
    listen: String,
    /// Keep topics and data here (default: in memory only).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Partitions of auto-created topics (Kafka's num.partitions).
    #[arg(long, default_value_t = 1, value_name = "N")]
    default_partitions: i32,
    /// Create unknown topics when clients ask for their metadata.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "true|false")]
    auto_create_topics: bool,
    /// Address given to clients, if not the listen address.
    #[arg(long, value_name = "HOST:PORT")]
    advertised: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, not for log files and pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kafka-broker: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kafka-broker: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // Install the handlers before announcing readiness: a script may signal as soon as it
    // reads the line, and an unhandled SIGTERM would kill the process without a flush.
    let mut shutdown = ShutdownSignals::install()?;
    let mut builder = Broker::builder()
        .listen(args.listen)
        .default_partitions(args.default_partitions)
        .auto_create_topics(args.auto_create_topics);
    if let Some(dir) = args.data_dir {
        builder = builder.data_dir(dir);
    }
    if let Some(addr) = args.advertised {
        builder = builder.advertised(addr);
    }
    let broker = builder.start().await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", broker.local_addr())?;
        out.flush()?;
    }
    shutdown.wait().await;
    tracing::info!("shutting down");
    broker.shutdown().await?;
    Ok(())
}

/// SIGINT and SIGTERM (Ctrl-C elsewhere), caught from the moment they are installed.
struct ShutdownSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    async fn wait(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.int.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
