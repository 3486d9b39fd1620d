//! The companion broker: a Kafka-compatible broker for tests and local development.
//!
//! Start one in a test with `Broker::builder().start().await` (binds `127.0.0.1:0`), talk to
//! it at [`BrokerHandle::bootstrap`], and stop it with [`BrokerHandle::shutdown`]; or run the
//! `kafka-broker` binary for a local Kafka. Without a data directory everything lives in
//! memory; with one, topics and their data survive restarts.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kafka_broker::BrokerError> {
//! let broker = kafka_broker::Broker::builder().default_partitions(3).start().await?;
//! println!("bootstrap servers: {}", broker.bootstrap());
//! broker.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Several brokers replicating each other, with faults to inject, start with
//! [`Cluster::builder`] (see [`cluster`]):
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! let cluster = kafka_broker::Cluster::builder().brokers(3).start().await?;
//! println!("bootstrap servers: {}", cluster.bootstrap());
//! cluster.stop_broker(1).await?;
//! cluster.start_broker(1).await?;
//! cluster.wait_for_isr("t", 0, &[0, 1, 2], Duration::from_secs(10)).await?;
//! cluster.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Module map:
//! - [`config`]: the broker's settings and the topic configs it honours;
//! - [`state`]: topics, partitions and their logs, and [`BrokerState::handle_frame`], the
//!   entry point from request bytes to response bytes (what a fuzz target drives);
//! - `server`: the listener, connections, retention ticker and [`BrokerHandle`]; TLS
//!   ([`TlsConfig`]) and SASL ([`SaslConfig`]) on the listener;
//! - `handlers`: one module per API key, each opening with the versions it serves;
//! - [`log`]: partition storage (in memory, or Kafka's on-disk format);
//! - `producer`: idempotent producers — producer ids and per-partition sequence state;
//! - [`group`]: the group coordinator — classic consumer groups and committed offsets;
//! - [`cluster`]: several brokers in one process — the shared controller, replication,
//!   fault injection, `--as-version`, the HTTP/JSON control endpoint and wait-for hooks.

pub mod cli;
pub mod cluster;
pub mod config;
pub mod group;
mod handlers;
pub mod log;
mod producer;
mod server;
pub mod state;

pub use cluster::{
    BrokerInfo, Cluster, ClusterBuilder, ClusterError, ClusterHandle, Fault, FaultAction,
    FaultScope, KafkaRelease, PartitionInfo, PartitionWaitTimeout,
};
pub use config::BrokerConfig;
pub use group::{GroupConfig, GroupState, GroupStatus, GroupWaitTimeout};
pub use handlers::{CloseReason, Reply, SUPPORTED_APIS};
pub use server::sasl::{Password, SaslConfig, SaslConfigError, SaslMechanism, SaslUser};
pub use server::self_signed::SelfSignedTls;
pub use server::tls::{TlsConfig, TlsError};
pub use server::{Broker, BrokerBuilder, BrokerHandle};
pub use state::BrokerState;

use std::path::PathBuf;

/// Why the broker could not start, persist its metadata or shut down cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// A setting is invalid (e.g. an `--advertised` value that is not `HOST:PORT`).
    #[error("invalid broker setting: {0}")]
    InvalidConfig(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// Reading or writing the data directory failed.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The file or directory involved.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A metadata file in the data directory does not parse or contradicts the settings.
    #[error("data directory {path}: {reason}")]
    BadMetadata {
        /// The file involved.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS certificates or key cannot be used.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The SASL settings or users file cannot be used.
    #[error("SASL: {0}")]
    Sasl(#[from] SaslConfigError),
    /// A partition log failed to open, flush or apply retention.
    #[error("log of {topic}-{partition}: {source}")]
    Log {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The log error.
        source: log::LogError,
    },
}
