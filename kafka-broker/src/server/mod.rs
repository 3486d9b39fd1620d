//! Running a broker: the builder, the listener, the retention ticker and the handle that
//! stops them.
//!
//! [`BrokerBuilder::start`] opens the state (loading a data directory), binds, and spawns
//! two tasks: the acceptor, which spawns one task per connection, and the retention ticker.
//! [`BrokerHandle::shutdown`] stops both, closes every connection and flushes every log.
//! Each accepted connection goes through `security` (TLS, then SASL) on its way to
//! `connection`.

mod connection;
pub(crate) mod metadata_store;
pub(crate) mod sasl;
pub(crate) mod security;
pub(crate) mod self_signed;
pub(crate) mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::BrokerError;
use crate::config::BrokerConfig;
use crate::log::LogConfig;
use crate::state::{BrokerState, now_ms};

/// Entry point: `Broker::builder()`.
#[derive(Debug)]
pub struct Broker;

impl Broker {
    /// A builder with the defaults: `127.0.0.1:0`, in memory, 1 partition per new topic,
    /// auto-creation on, node 0.
    pub fn builder() -> BrokerBuilder {
        BrokerBuilder::default()
    }
}

/// Configures and starts a broker.
#[derive(Debug, Clone, Default)]
pub struct BrokerBuilder {
    config: BrokerConfig,
}

impl BrokerBuilder {
    /// Address to listen on (`HOST:PORT`; port 0 picks a free one).
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.config.listen = addr.into();
        self
    }

    /// Persist topics and data in `dir` (created if missing).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.data_dir = Some(dir.into());
        self
    }

    /// Partitions of auto-created topics and of CreateTopics with `num_partitions = -1`.
    pub fn default_partitions(mut self, n: i32) -> Self {
        self.config.default_partitions = n;
        self
    }

    /// Whether Metadata creates unknown topics.
    pub fn auto_create_topics(mut self, on: bool) -> Self {
        self.config.auto_create_topics = on;
        self
    }

    /// `HOST:PORT` to give clients instead of the bound address (e.g. behind a proxy).
    pub fn advertised(mut self, addr: impl Into<String>) -> Self {
        self.config.advertised = Some(addr.into());
        self
    }

    /// This broker's node id.
    pub fn node_id(mut self, id: i32) -> Self {
        self.config.node_id = id;
        self
    }

    /// The cluster id (generated when unset).
    pub fn cluster_id(mut self, id: impl Into<String>) -> Self {
        self.config.cluster_id = Some(id.into());
        self
    }

    /// Largest request frame accepted.
    pub fn socket_request_max_bytes(mut self, n: usize) -> Self {
        self.config.socket_request_max_bytes = n;
        self
    }

    /// Default log settings of every topic.
    pub fn log_config(mut self, config: LogConfig) -> Self {
        self.config.log_config = config;
        self
    }

    /// How often retention runs.
    pub fn retention_check_interval(mut self, every: Duration) -> Self {
        self.config.retention_check_interval = every;
        self
    }

    /// Every group coordinator setting at once (see [`GroupConfig`](crate::GroupConfig)).
    pub fn group_config(mut self, config: crate::GroupConfig) -> Self {
        self.config.groups = config;
        self
    }

    /// How long the first rebalance of an empty group waits for more members (Kafka's
    /// `group.initial.rebalance.delay.ms`). Kafka defaults to 3 s; this broker to 0, so a
    /// test's consumers get their assignment at once.
    pub fn group_initial_rebalance_delay(mut self, delay: Duration) -> Self {
        self.config.groups.initial_rebalance_delay = delay;
        self
    }

    /// The session timeouts group members may ask for (Kafka's
    /// `group.min.session.timeout.ms` and `group.max.session.timeout.ms`, 6 s and 30 min);
    /// tests lower the minimum to see members expire quickly.
    pub fn group_session_timeout_range(mut self, min: Duration, max: Duration) -> Self {
        self.config.groups.min_session_timeout = min;
        self.config.groups.max_session_timeout = max;
        self
    }

    /// How long committed offsets outlive their group's members (Kafka's
    /// `offsets.retention.minutes`, 7 days).
    pub fn offsets_retention(mut self, retention: Duration) -> Self {
        self.config.groups.offsets_retention = retention;
        self
    }

    /// The settings so far.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The settings, checked (for the cluster, which starts brokers its own way).
    pub(crate) fn into_checked_config(self) -> Result<BrokerConfig, BrokerError> {
        self.check()?;
        Ok(self.config)
    }

    fn check(&self) -> Result<Option<(String, i32)>, BrokerError> {
        if self.config.default_partitions < 1
            || self.config.default_partitions > crate::config::MAX_PARTITIONS
        {
            return Err(BrokerError::InvalidConfig(format!(
                "default partitions must be between 1 and {}",
                crate::config::MAX_PARTITIONS
            )));
        }
        if self.config.retention_check_interval.is_zero() {
            return Err(BrokerError::InvalidConfig(
                "the retention check interval must be positive".into(),
            ));
        }
        if self.config.groups.min_session_timeout > self.config.groups.max_session_timeout {
            return Err(BrokerError::InvalidConfig(
                "the minimum group session timeout exceeds the maximum".into(),
            ));
        }
        self.config
            .advertised
            .as_deref()
            .map(parse_host_port)
            .transpose()
    }

    /// Opens the broker's state without listening: for fuzzing and tests that drive
    /// [`BrokerState::handle_frame`] directly. Metadata advertises the `advertised` address,
    /// or the listen address as given.
    pub fn build_state(self) -> Result<Arc<BrokerState>, BrokerError> {
        let (host, port) = match self.check()? {
            Some(hp) => hp,
            None => parse_host_port(&self.config.listen)?,
        };
        Ok(Arc::new(BrokerState::open(self.config, host, port)?))
    }

    /// Opens the state, binds and starts serving.
    pub async fn start(self) -> Result<BrokerHandle, BrokerError> {
        let advertised = self.check()?;
        let security = security::Security::prepare(&self.config)?;
        let protocol = self.config.security_protocol();
        let listener = TcpListener::bind(&self.config.listen)
            .await
            .map_err(|source| BrokerError::Bind {
                addr: self.config.listen.clone(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| BrokerError::Bind {
            addr: self.config.listen.clone(),
            source,
        })?;
        let connect_addr = if local_addr.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), local_addr.port())
        } else {
            local_addr
        };
        let (host, port) = advertised.unwrap_or_else(|| {
            (
                connect_addr.ip().to_string(),
                i32::from(connect_addr.port()),
            )
        });
        let interval = self.config.retention_check_interval;
        let state = Arc::new(BrokerState::open(self.config, host, port)?);
        // Session and rebalance timeouts; stopped by `BrokerState::close`.
        state.groups().start_timers();
        let (stop_tx, stop_rx) = watch::channel(false);
        let acceptor = tokio::spawn(accept(
            Arc::clone(&state),
            listener,
            security,
            stop_rx.clone(),
        ));
        let retention = tokio::spawn(retention(Arc::clone(&state), interval, stop_rx));
        let (h, p) = state.advertised();
        tracing::info!(%local_addr, advertised = %format!("{h}:{p}"), cluster_id = state.cluster_id(), protocol, "broker started");
        Ok(BrokerHandle {
            state,
            local_addr,
            connect_addr,
            stop: stop_tx,
            tasks: vec![acceptor, retention],
        })
    }
}

/// Splits `HOST:PORT` (IPv6 hosts in brackets).
pub(crate) fn parse_host_port(s: &str) -> Result<(String, i32), BrokerError> {
    let bad = || BrokerError::InvalidConfig(format!("{s:?} is not HOST:PORT"));
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), i32::from(port)))
}

/// A running broker. Dropping it stops the broker without flushing; prefer
/// [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct BrokerHandle {
    state: Arc<BrokerState>,
    local_addr: SocketAddr,
    connect_addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl BrokerHandle {
    /// The address to give clients as bootstrap servers, e.g. `127.0.0.1:40123` (the bound
    /// address, with an unspecified IP replaced by 127.0.0.1).
    pub fn bootstrap(&self) -> String {
        self.connect_addr.to_string()
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The broker's state (topics, configs), e.g. to inspect from a test.
    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// Waits until a consumer group is in `state`, for at most `timeout` (see
    /// [`BrokerState::wait_for_group`] for other conditions).
    pub async fn wait_for_group_state(
        &self,
        group: &str,
        state: crate::GroupState,
        timeout: Duration,
    ) -> Result<crate::GroupStatus, crate::GroupWaitTimeout> {
        self.state.wait_for_group_state(group, state, timeout).await
    }

    /// Stops accepting, closes every connection, stops retention and flushes every log.
    pub async fn shutdown(mut self) -> Result<(), BrokerError> {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        let state = Arc::clone(&self.state);
        let result = tokio::task::spawn_blocking(move || state.close())
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "closing the logs failed");
                Ok(())
            });
        tracing::info!("broker stopped");
        result
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Resolves once the broker is told to stop (or its handle is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: drop it here, not across a task's await.
    let _ = stop.wait_for(|s| *s).await;
}

/// Accepts connections until told to stop; then drops (aborts) every connection task. The
/// cluster's drop-connections fault aborts them without stopping.
pub(crate) async fn accept(
    state: Arc<BrokerState>,
    listener: TcpListener,
    security: security::Security,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let mut drop_signal = state
        .cluster()
        .drop_signal(state.node_id())
        .unwrap_or_else(|| watch::channel(0).1);
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => break,
            Ok(()) = drop_signal.changed() => {
                tracing::info!(node = state.node_id(), connections = connections.len(), "fault: dropping every connection");
                connections.abort_all();
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::debug!(%peer, "connection accepted");
                    connections.spawn(security.clone().serve(Arc::clone(&state), stream, peer));
                }
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            // Reap finished connections so the set does not grow with every client.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// Applies retention every `every` until told to stop.
pub(crate) async fn retention(
    state: Arc<BrokerState>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick fires at once; retention at startup is not needed.
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => return,
            _ = ticker.tick() => {
                let state = Arc::clone(&state);
                let deleted = tokio::task::spawn_blocking(move || state.apply_retention(now_ms()))
                    .await
                    .unwrap_or(0);
                if deleted > 0 {
                    tracing::info!(segments = deleted, "retention deleted old data");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port() {
        assert_eq!(
            parse_host_port("localhost:9092").unwrap(),
            ("localhost".into(), 9092)
        );
        assert_eq!(parse_host_port("[::1]:9092").unwrap(), ("::1".into(), 9092));
        assert!(parse_host_port("9092").is_err());
        assert!(parse_host_port(":9092").is_err());
        assert!(parse_host_port("h:99999").is_err());
    }
}
