//! `kafka-cli broker`: run the companion broker, with the `kafka-broker` binary's flags and
//! behaviour: one `listening on HOST:PORT[,HOST:PORT...]` line on stdout once clients can
//! connect (preceded by `control endpoint at HOST:PORT` with `--control-listen`), logs on
//! stderr, a clean flushing shutdown on SIGINT or SIGTERM. `--brokers N` runs N replicating
//! brokers in this process.
//!
//! The flags mirror `kafka-broker/src/main.rs` one for one, because that binary keeps its
//! clap struct private; if `kafka_broker` ever exports it, this file should use it instead,
//! so the two cannot drift.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use kafka_broker::{Broker, Cluster, SaslMechanism, SelfSignedTls};

use crate::error::{CliError, CliResult};
use crate::signals::ShutdownSignals;

/// `broker`: the `kafka-broker` binary's flags.
#[derive(Debug, Args)]
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

/// `USER:PASSWORD` (split at the first colon); the error never repeats the password.
fn parse_user_password(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => {
            Ok((user.to_string(), password.to_string()))
        }
        _ => Err("expected USER:PASSWORD, both non-empty".to_string()),
    }
}

/// Runs the broker until SIGINT or SIGTERM.
pub async fn run(args: BrokerArgs) -> CliResult {
    // Installed before the readiness line: a script may signal as soon as it reads it.
    let mut shutdown = ShutdownSignals::install().map_err(|e| CliError::io("signals", e))?;
    let mut builder = Broker::builder()
        .listen(args.listen.clone())
        .default_partitions(args.default_partitions)
        .auto_create_topics(args.auto_create_topics);
    let max_session = builder.config().groups.max_session_timeout;
    builder = builder
        .group_initial_rebalance_delay(Duration::from_millis(args.group_initial_rebalance_delay_ms))
        .group_session_timeout_range(
            Duration::from_millis(args.group_min_session_timeout_ms),
            max_session,
        );
    if let Some(dir) = &args.tls_self_signed {
        let hosts = SelfSignedTls::hosts_for(&args.listen, args.advertised.as_deref());
        let files = SelfSignedTls::in_dir(dir, &hosts).map_err(kafka_broker::BrokerError::from)?;
        tracing::info!(ca = %files.ca.display(), "TLS with a self-signed certificate; clients trust the CA file");
        builder = builder.tls(files.cert, files.key);
    }
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        builder = builder.tls(cert, key);
    }
    if let Some(ca) = args.tls_client_ca {
        builder = builder.tls_client_ca(ca);
    }
    for file in args.sasl_users {
        builder = builder.sasl_users_file(file);
    }
    for (user, password) in args.sasl_user {
        builder = builder.sasl_user(user, password);
    }
    if !args.sasl_mechanisms.is_empty() {
        builder = builder.sasl_mechanisms(args.sasl_mechanisms);
    }
    if let Some(dir) = args.data_dir {
        builder = builder.data_dir(dir);
    }
    if let Some(addr) = args.advertised {
        builder = builder.advertised(addr);
    }
    let mut cluster = Cluster::builder()
        .broker_config(|_| builder)
        .brokers(args.brokers)
        .replica_lag_time_max(Duration::from_millis(args.replica_lag_time_max_ms));
    if let Some(rf) = args.default_replication_factor {
        cluster = cluster.default_replication_factor(rf);
    }
    if let Some(addr) = args.control_listen {
        cluster = cluster.control_listen(addr);
    }
    if let Some(release) = args.as_version {
        cluster = cluster.as_version(release);
    }
    let cluster = cluster.start().await?;
    {
        let mut out = std::io::stdout().lock();
        let control = cluster
            .control_addr()
            .map(|addr| format!("control endpoint at {addr}\n"))
            .unwrap_or_default();
        writeln!(out, "{control}listening on {}", cluster.bootstrap())
            .and_then(|()| out.flush())
            .map_err(|e| CliError::io("-", e))?;
    }
    shutdown.wait().await;
    tracing::info!("shutting down");
    cluster.shutdown().await?;
    Ok(())
}
