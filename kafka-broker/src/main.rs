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

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kafka_broker::{Cluster, SaslMechanism, SelfSignedTls};

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
    /// Address given to clients, if not the listen address (broker `i` of several: port + i).
    #[arg(long, value_name = "HOST:PORT")]
    advertised: Option<String>,
    /// Run N brokers in this process, replicating each other (node ids 0..N-1).
    #[arg(long, default_value_t = 1, value_name = "N")]
    brokers: usize,
    /// Replicas of auto-created topics and of CreateTopics with replication factor -1
    /// (Kafka's default.replication.factor) [default: min(3, brokers)].
    #[arg(long, value_name = "N")]
    default_replication_factor: Option<i32>,
    /// How long a follower may lag before it leaves the ISR (replica.lag.time.max.ms).
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    replica_lag_time_max_ms: u64,
    /// Serve the HTTP/JSON control endpoint (faults, broker stop/start, waits) here.
    #[arg(long, value_name = "HOST:PORT")]
    control_listen: Option<String>,
    /// Advertise the API versions of this Kafka release (2.8, 3.0, 3.5, 3.7, 3.9).
    #[arg(long, value_name = "RELEASE")]
    as_version: Option<String>,
    /// How long an empty consumer group's first rebalance waits for more members (Kafka's
    /// group.initial.rebalance.delay.ms, 3000 there).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    group_initial_rebalance_delay_ms: u64,
    /// Shortest session timeout a group member may ask for (group.min.session.timeout.ms).
    #[arg(long, default_value_t = 6000, value_name = "MS")]
    group_min_session_timeout_ms: u64,
    /// Serve TLS with this certificate chain (PEM, leaf first).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by a CA in this PEM file (mutual TLS).
    #[arg(long, value_name = "FILE")]
    tls_client_ca: Option<PathBuf>,
    /// Serve TLS with a CA and server certificate generated into DIR (ca.pem, server.pem,
    /// server.key) for localhost and the listen/advertised hosts; reused if already there.
    /// Clients trust DIR/ca.pem.
    #[arg(long, value_name = "DIR")]
    tls_self_signed: Option<PathBuf>,
    /// Require SASL; users from FILE, one a line: `user=password` (every mechanism) or
    /// `MECHANISM:user:password` (one), `#` comments. Repeatable.
    #[arg(long, value_name = "FILE")]
    sasl_users: Vec<PathBuf>,
    /// Require SASL; let USER log in with PASSWORD through every enabled mechanism.
    /// Repeatable. (Visible to other local users in the process list: prefer --sasl-users.)
    #[arg(long, value_name = "USER:PASSWORD", value_parser = parse_user_password)]
    sasl_user: Vec<(String, String)>,
    /// SASL mechanisms offered [default: PLAIN,SCRAM-SHA-256,SCRAM-SHA-512].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    sasl_mechanisms: Vec<SaslMechanism>,
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
    let self_signed = match &args.tls_self_signed {
        Some(dir) => {
            let hosts = SelfSignedTls::hosts_for(&args.listen, args.advertised.as_deref());
            let files = SelfSignedTls::in_dir(dir, &hosts)?;
            tracing::info!(ca = %files.ca.display(), "TLS with a self-signed certificate; clients trust the CA file");
            Some(files)
        }
        None => None,
    };
    let mut builder = kafka_broker::Broker::builder()
        .listen(args.listen)
        .default_partitions(args.default_partitions)
        .auto_create_topics(args.auto_create_topics);
    let max_session = builder.config().groups.max_session_timeout;
    builder = builder
        .group_initial_rebalance_delay(Duration::from_millis(args.group_initial_rebalance_delay_ms))
        .group_session_timeout_range(
            Duration::from_millis(args.group_min_session_timeout_ms),
            max_session,
        );
    if let Some(files) = self_signed {
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
        if let Some(addr) = cluster.control_addr() {
            writeln!(out, "control endpoint at {addr}")?;
        }
        writeln!(out, "listening on {}", cluster.bootstrap())?;
        out.flush()?;
    }
    shutdown.wait().await;
    tracing::info!("shutting down");
    cluster.shutdown().await?;
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
