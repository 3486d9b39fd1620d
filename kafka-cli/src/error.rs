//! [`CliError`]: why a command failed, and the exit code that says so.
//!
//! Two kinds of failure matter to a script: the command line was wrong (exit 2: fix the
//! invocation, retrying is useless) or the command ran and failed (exit 1: the cluster said
//! no, or could not be reached). Every variant knows which it is, and its message names the
//! cause in one line.

use std::path::PathBuf;

use kafka_admin::AdminError;
use kafka_client::ErrorKind;
use kafka_client::config::ConfigError;

/// Exit code of a command that ran and failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a command line that cannot be run as given.
pub const EXIT_USAGE: u8 = 2;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line is wrong in a way clap cannot see (a flag's value, a combination).
    #[error("{0}")]
    Usage(String),
    /// A client property (from `-X`, `--config` or a flag) was refused.
    #[error("{origin}: {source}")]
    Config {
        /// Where the property came from, e.g. `-X acks=7` or `client.properties`.
        origin: String,
        /// The property and why.
        #[source]
        source: ConfigError,
    },
    /// The cluster could not be reached at all.
    #[error("cannot reach the cluster at {bootstrap}: {source}")]
    Unreachable {
        /// The bootstrap servers tried.
        bootstrap: String,
        /// The last connection error.
        #[source]
        source: kafka_client::Error,
    },
    /// An admin call failed as a whole.
    #[error("{what}: {source}")]
    Admin {
        /// What was being done, e.g. "listing topics".
        what: String,
        /// The admin client's error.
        #[source]
        source: AdminError,
    },
    /// Reading input or writing output failed.
    #[error("{path}: {source}", path = .path.display())]
    Io {
        /// The file (`-` for stdin or stdout).
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The companion broker failed to start or stop.
    #[error("broker: {0}")]
    Broker(#[from] kafka_broker::BrokerError),
    /// Some items of a command failed; each was already reported on stderr.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Config { .. } => EXIT_USAGE,
            // A configuration the client refuses on connect (a missing SASL password, ...) is
            // still the invocation's fault.
            CliError::Unreachable { source, .. }
                if matches!(source.kind(), ErrorKind::Config(_)) =>
            {
                EXIT_USAGE
            }
            _ => EXIT_FAILURE,
        }
    }

    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    /// An admin error with what was being done.
    pub fn admin(what: impl Into<String>, source: AdminError) -> Self {
        CliError::Admin {
            what: what.into(),
            source,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CliError::Io {
            path: path.into(),
            source,
        }
    }
}

/// The result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;
