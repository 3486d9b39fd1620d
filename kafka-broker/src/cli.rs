//! The command line of the companion broker, shared by the `kafka-broker` binary and
//! `kafka-cli broker`: one clap flag set ([`BrokerArgs`]) turned into a [`ClusterBuilder`],
//! and [`serve`], which starts the brokers, announces them and runs until told to stop.
//!
//! Keeping both front ends on this one definition is the point: the flags, their defaults
//! and the readiness lines cannot drift apart.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::{Broker, BrokerError, Cluster, ClusterBuilder, SaslMechanism, SelfSignedTls};

/// The broker's flags (`kafka-broker --help`, `kafka-cli broker --help`).
#[derive(Debug, Clone, clap::Args)]
pub struct BrokerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9092", value_name = "HOST:PORT")]
    pub listen: String,
    /// Keep topics and data here (default: in memory only).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Partitions of auto-created topics (Kafka's num.partitions).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub default_partitions: i32,
    /// Create unknown topics when clients ask for their metadata.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "true|false")]
    pub auto_create_topics: bool,
    /// Address given to clients, if not the listen address (broker `i` of several: port + i).
    #[arg(long, value_name = "HOST:PORT")]
    pub advertised: Option<String>,
    /// Run N brokers in this process, replicating each other (node ids 0..N-1).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub brokers: usize,
    /// Replicas of auto-created topics and of CreateTopics with replication factor -1
    /// (Kafka's default.replication.factor) [default: min(3, brokers)].
    #[arg(long, value_name = "N")]
    pub default_replication_factor: Option<i32>,
    /// How long a follower may lag before it leaves the ISR (replica.lag.time.max.ms).
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    pub replica_lag_time_max_ms: u64,
    /// Serve the HTTP/JSON control endpoint (faults, broker stop/start, waits) here.
    #[arg(long, value_name = "HOST:PORT")]
    pub control_listen: Option<String>,
    /// Advertise the API versions of this Kafka release (2.8, 3.0, 3.5, 3.7, 3.9).
    #[arg(long, value_name = "RELEASE")]
    pub as_version: Option<String>,
    /// How long an empty consumer group's first rebalance waits for more members (Kafka's
    /// group.initial.rebalance.delay.ms, 3000 there).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub group_initial_rebalance_delay_ms: u64,
    /// Shortest session timeout a group member may ask for (group.min.session.timeout.ms).
    #[arg(long, default_value_t = 6000, value_name = "MS")]
    pub group_min_session_timeout_ms: u64,
    /// Serve TLS with this certificate chain (PEM, leaf first).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by a CA in this PEM file (mutual TLS).
    #[arg(long, value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// Serve TLS with a CA and server certificate generated into DIR (ca.pem, server.pem,
    /// server.key) for localhost and the listen/advertised hosts; reused if already there.
    /// Clients trust DIR/ca.pem.
    #[arg(long, value_name = "DIR")]
    pub tls_self_signed: Option<PathBuf>,
    /// Require SASL; users from FILE, one a line: `user=password` (every mechanism) or
    /// `MECHANISM:user:password` (one), `#` comments. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub sasl_users: Vec<PathBuf>,
    /// Require SASL; let USER log in with PASSWORD through every enabled mechanism.
    /// Repeatable. (Visible to other local users in the process list: prefer --sasl-users.)
    #[arg(long, value_name = "USER:PASSWORD", value_parser = parse_user_password)]
    pub sasl_user: Vec<(String, String)>,
    /// SASL mechanisms offered [default: PLAIN,SCRAM-SHA-256,SCRAM-SHA-512].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub sasl_mechanisms: Vec<SaslMechanism>,
}

/// `USER:PASSWORD` (split at the first colon). The message itself never repeats the password
/// (clap does quote the rejected value, which is refused only when a part is empty).
fn parse_user_password(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => {
            Ok((user.to_string(), password.to_string()))
        }
        _ => Err("expected USER:PASSWORD, both non-empty".to_string()),
    }
}

/// Why [`serve`] stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The brokers could not be configured or started, or did not shut down cleanly.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The readiness lines could not be written.
    #[error("cannot write the readiness line: {0}")]
    Output(#[source] std::io::Error),
}

impl BrokerArgs {
    /// The cluster (one broker unless `--brokers N`) these flags describe. With
    /// `--tls-self-signed DIR` this generates (or reuses) the certificates in DIR.
    pub fn cluster_builder(self) -> Result<ClusterBuilder, BrokerError> {
        let mut builder = Broker::builder()
            .listen(self.listen.clone())
            .default_partitions(self.default_partitions)
            .auto_create_topics(self.auto_create_topics);
        let max_session = builder.config().groups.max_session_timeout;
        builder = builder
            .group_initial_rebalance_delay(Duration::from_millis(
                self.group_initial_rebalance_delay_ms,
            ))
            .group_session_timeout_range(
                Duration::from_millis(self.group_min_session_timeout_ms),
                max_session,
            );
        if let Some(dir) = &self.tls_self_signed {
            let hosts = SelfSignedTls::hosts_for(&self.listen, self.advertised.as_deref());
            let files = SelfSignedTls::in_dir(dir, &hosts)?;
            tracing::info!(ca = %files.ca.display(), "TLS with a self-signed certificate; clients trust the CA file");
            builder = builder.tls(files.cert, files.key);
        }
        if let (Some(cert), Some(key)) = (self.tls_cert, self.tls_key) {
            builder = builder.tls(cert, key);
        }
        if let Some(ca) = self.tls_client_ca {
            builder = builder.tls_client_ca(ca);
        }
        for file in self.sasl_users {
            builder = builder.sasl_users_file(file);
        }
        for (user, password) in self.sasl_user {
            builder = builder.sasl_user(user, password);
        }
        if !self.sasl_mechanisms.is_empty() {
            builder = builder.sasl_mechanisms(self.sasl_mechanisms);
        }
        if let Some(dir) = self.data_dir {
            builder = builder.data_dir(dir);
        }
        if let Some(addr) = self.advertised {
            builder = builder.advertised(addr);
        }
        let mut cluster = Cluster::builder()
            .broker_config(|_| builder)
            .brokers(self.brokers)
            .replica_lag_time_max(Duration::from_millis(self.replica_lag_time_max_ms));
        if let Some(rf) = self.default_replication_factor {
            cluster = cluster.default_replication_factor(rf);
        }
        if let Some(addr) = self.control_listen {
            cluster = cluster.control_listen(addr);
        }
        if let Some(release) = self.as_version {
            cluster = cluster.as_version(release);
        }
        Ok(cluster)
    }
}

/// Starts the brokers `args` describe, writes `control endpoint at HOST:PORT` (with
/// `--control-listen`) and `listening on HOST:PORT[,HOST:PORT...]` to `out` once clients can
/// connect, runs until `shutdown` completes, then shuts every broker down, flushing its logs.
///
/// Install signal handlers before calling this: a script may signal as soon as it reads the
/// readiness line.
pub async fn serve(
    args: BrokerArgs,
    mut out: impl Write,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let cluster = args.cluster_builder()?.start().await?;
    let announced = (|| {
        if let Some(addr) = cluster.control_addr() {
            writeln!(out, "control endpoint at {addr}")?;
        }
        writeln!(out, "listening on {}", cluster.bootstrap())?;
        out.flush()
    })();
    if let Err(e) = announced {
        cluster.shutdown().await?;
        return Err(ServeError::Output(e));
    }
    shutdown.await;
    tracing::info!("shutting down");
    cluster.shutdown().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: BrokerArgs,
    }

    #[test]
    fn flags_parse_with_kafkas_defaults() {
        let a = Cli::try_parse_from(["x"]).unwrap().args;
        assert_eq!(a.listen, "127.0.0.1:9092");
        assert_eq!((a.default_partitions, a.brokers), (1, 1));
        assert!(a.auto_create_topics);
        let a = Cli::try_parse_from([
            "x",
            "--sasl-user",
            "alice:s3:cret",
            "--sasl-mechanisms",
            "PLAIN,SCRAM-SHA-256",
            "--auto-create-topics",
            "false",
        ])
        .unwrap()
        .args;
        assert_eq!(a.sasl_user, [("alice".to_string(), "s3:cret".to_string())]);
        assert_eq!(a.sasl_mechanisms.len(), 2);
        assert!(!a.auto_create_topics);
        let e = Cli::try_parse_from(["x", "--sasl-user", "bob:"]).unwrap_err();
        assert!(e.to_string().contains("USER:PASSWORD"), "{e}");
        assert!(
            Cli::try_parse_from(["x", "--tls-cert", "c.pem"]).is_err(),
            "needs --tls-key"
        );
    }

    #[tokio::test]
    async fn serve_announces_and_stops_when_told() {
        let a = Cli::try_parse_from(["x", "--listen", "127.0.0.1:0"])
            .unwrap()
            .args;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut out = Vec::new();
        let server = serve(a, &mut out, async {
            let _ = rx.await;
        });
        let stopper = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = tx.send(());
        };
        let (result, ()) = tokio::join!(server, stopper);
        result.unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("listening on 127.0.0.1:"), "{text}");
    }
}
