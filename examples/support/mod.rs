//! What the examples share: a cluster to talk to.
//!
//! Every example runs with no setup: unless `KAFKA_BOOTSTRAP=host:port` names a cluster, it
//! starts the companion broker in-process (in memory, or on a data directory) and stops it at
//! the end. The quickstart's logic lives in [`quickstart`] so that `tests/quickstart.rs` can
//! run it with a small record count without a nested `cargo run`.

// Each example uses a different part of this module.
#![allow(dead_code)]

pub mod quickstart;

use std::path::PathBuf;

use kafka_broker::{Broker, BrokerError, BrokerHandle};

/// The environment variable naming an external cluster.
pub const BOOTSTRAP_ENV: &str = "KAFKA_BOOTSTRAP";

/// The cluster an example talks to: an external one, or a companion broker it started.
#[derive(Debug)]
pub struct ExampleCluster {
    bootstrap: String,
    broker: Option<BrokerHandle>,
}

impl ExampleCluster {
    /// `KAFKA_BOOTSTRAP` when set; otherwise a companion broker on a free local port, in
    /// memory or on `data_dir`.
    pub async fn start(data_dir: Option<PathBuf>) -> Result<Self, BrokerError> {
        match Self::external(BOOTSTRAP_ENV) {
            Some(cluster) => Ok(cluster),
            None => Self::embedded(data_dir).await,
        }
    }

    /// For tests: the cluster `KAFKA_TEST_BOOTSTRAP` names (as every integration test of the
    /// workspace honours it), else a companion broker. `KAFKA_BOOTSTRAP` is ignored here, so a
    /// user's setting for the examples does not redirect `cargo test`.
    pub async fn for_tests() -> Result<Self, BrokerError> {
        match Self::external("KAFKA_TEST_BOOTSTRAP") {
            Some(cluster) => Ok(cluster),
            None => Self::embedded(None).await,
        }
    }

    /// The cluster the environment variable `var` names, if it is set and not blank.
    fn external(var: &str) -> Option<Self> {
        let bootstrap = std::env::var(var).ok().filter(|s| !s.trim().is_empty())?;
        Some(Self {
            bootstrap,
            broker: None,
        })
    }

    /// Always a companion broker, whatever the environment says.
    pub async fn embedded(data_dir: Option<PathBuf>) -> Result<Self, BrokerError> {
        let mut builder = Broker::builder().default_partitions(3);
        if let Some(dir) = data_dir {
            builder = builder.data_dir(dir);
        }
        let broker = builder.start().await?;
        Ok(Self {
            bootstrap: broker.bootstrap(),
            broker: Some(broker),
        })
    }

    /// The bootstrap servers.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Whether this is a companion broker the example started.
    pub fn is_embedded(&self) -> bool {
        self.broker.is_some()
    }

    /// A one-line description, for the example's first output line.
    pub fn describe(&self) -> String {
        if self.is_embedded() {
            format!(
                "companion broker at {} (set {BOOTSTRAP_ENV}=host:port to use your own cluster)",
                self.bootstrap
            )
        } else {
            format!("cluster at {} (from {BOOTSTRAP_ENV})", self.bootstrap)
        }
    }

    /// Stops the companion broker, if one was started (flushing its logs).
    pub async fn stop(self) -> Result<(), BrokerError> {
        match self.broker {
            Some(b) => b.shutdown().await,
            None => Ok(()),
        }
    }
}

/// A topic name unlikely to exist yet, so examples can run again against one cluster.
pub fn unique_topic(prefix: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{prefix}-{now}")
}
