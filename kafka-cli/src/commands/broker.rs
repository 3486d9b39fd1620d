//! `kafka-cli broker`: run the companion broker, with the `kafka-broker` binary's flags and
//! behaviour: one `listening on HOST:PORT[,HOST:PORT...]` line on stdout once clients can
//! connect (preceded by `control endpoint at HOST:PORT` with `--control-listen`), logs on
//! stderr, a clean flushing shutdown on SIGINT or SIGTERM. `--brokers N` runs N replicating
//! brokers in this process.
//!
//! The flags and the serving loop are the broker library's own
//! ([`kafka_broker::cli`]), so this command and the `kafka-broker` binary cannot drift apart.

pub use kafka_broker::cli::BrokerArgs;
use kafka_broker::cli::{ServeError, serve};

use crate::error::{CliError, CliResult};
use crate::signals::ShutdownSignals;

/// Runs the broker until SIGINT or SIGTERM.
pub async fn run(args: BrokerArgs) -> CliResult {
    // Installed before the readiness line: a script may signal as soon as it reads it.
    let mut shutdown = ShutdownSignals::install().map_err(|e| CliError::io("signals", e))?;
    serve(args, std::io::stdout(), shutdown.wait())
        .await
        .map_err(|e| match e {
            ServeError::Broker(e) => CliError::from(e),
            ServeError::Output(e) => CliError::io("-", e),
            other => CliError::from(kafka_broker::BrokerError::InvalidConfig(other.to_string())),
        })
}
