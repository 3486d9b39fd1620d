//! `kafka-broker`: run the companion broker as a local Kafka.
//!
//! Prints `listening on HOST:PORT` to stdout once clients can connect (scripts wait for it;
//! with `--brokers N` the line lists every broker, `HOST:PORT,HOST:PORT,...`, which is a
//! bootstrap list); with `--control-listen` the line `control endpoint at HOST:PORT` comes
//! just before it. Logs go to stderr (`RUST_LOG` sets the level, `info` by default). SIGINT
//! or SIGTERM shuts the brokers down cleanly, flushing every log.
//!
//! Several brokers (`--brokers N`) replicate each other in one process (see the library's
//! `cluster` module): with `--listen HOST:PORT` broker `i` takes port `PORT + i` (port 0: each
//! gets a free one), data goes to `DATA_DIR/node-<i>/`. `--control-listen` serves the
//! HTTP/JSON control endpoint (faults, broker stop/start, waits); `--as-version 2.8`
//! advertises the API versions of that Kafka release.
//!
//! Security (Kafka's `security.protocol` follows from the flags): `--tls-cert` and
//! `--tls-key` (or `--tls-self-signed DIR`) make the listener TLS (`SSL`); any `--sasl-*`
//! flag requires SASL authentication (`SASL_PLAINTEXT`, or `SASL_SSL` with TLS).

use std::process::ExitCode;

use clap::Parser;
use kafka_broker::cli::{BrokerArgs, serve};

/// A Kafka-compatible broker for tests and local development.
#[derive(Debug, Parser)]
#[command(name = "kafka-broker", version)]
struct Args {
    #[command(flatten)]
    broker: BrokerArgs,
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
    serve(args.broker, std::io::stdout(), shutdown.wait()).await?;
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
