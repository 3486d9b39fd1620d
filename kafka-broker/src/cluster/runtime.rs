//! Starting, stopping and steering a cluster: [`Cluster::builder`], [`ClusterHandle`].
//!
//! Each broker gets its own listener (with `listen` at port 0 each picks a free port;
//! otherwise broker `i` takes port `port + i`), its own retention ticker, and its own data
//! directory `<data-dir>/node-<i>/` (a one-broker cluster uses `<data-dir>` itself, the
//! layout of a broker started alone). What the brokers share sits in `<data-dir>`: the
//! assignment file, producer ids and committed group offsets.
//!
//! Stopping a broker ([`ClusterHandle::stop_broker`]) elects new leaders for its partitions,
//! closes its listener and every connection, and flushes its logs. Its state stays in memory
//! (as its disk would): starting it again reopens the listener on the same port, and its
//! replicas catch up from their leaders and rejoin the ISRs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::faults::{Fault, FaultScope};
use super::partition::{PartitionInfo, PartitionWaitTimeout};
use super::versions::{KafkaRelease, RELEASES};
use super::{ClusterController, ClusterSettings, DEFAULT_REPLICA_LAG_TIME_MAX};
use crate::group::GroupService;
use crate::producer::ProducerIdStore;
use crate::server::security::Security;
use crate::server::{accept, parse_host_port, retention};
use crate::state::{BrokerState, NodeShared};
use crate::{BrokerBuilder, BrokerError};

/// Entry point: `Cluster::builder()`.
#[derive(Debug)]
pub struct Cluster;

impl Cluster {
    /// A builder with the defaults: one broker on `127.0.0.1:0`, in memory, replication
    /// factor min(3, brokers), `replica.lag.time.max.ms` 30 s, no control endpoint.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }
}

/// Configures and starts a cluster.
#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    broker: BrokerBuilder,
    brokers: usize,
    replication_factor: Option<i32>,
    replica_lag_time_max: Duration,
    control_listen: Option<String>,
    as_version: Option<String>,
}

impl Default for ClusterBuilder {
    fn default() -> Self {
        Self {
            broker: BrokerBuilder::default(),
            brokers: 1,
            replication_factor: None,
            replica_lag_time_max: DEFAULT_REPLICA_LAG_TIME_MAX,
            control_listen: None,
            as_version: None,
        }
    }
}

impl ClusterBuilder {
    /// How many brokers (node ids 0..n-1).
    pub fn brokers(mut self, n: usize) -> Self {
        self.brokers = n;
        self
    }

    /// Where the brokers listen: `HOST:PORT`; port 0 gives each a free port, otherwise
    /// broker `i` takes `PORT + i`.
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.broker = self.broker.listen(addr);
        self
    }

    /// Persist everything under `dir` (`dir/node-<id>/` per broker when there are several).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.broker = self.broker.data_dir(dir);
        self
    }

    /// Partitions of auto-created topics.
    pub fn default_partitions(mut self, n: i32) -> Self {
        self.broker = self.broker.default_partitions(n);
        self
    }

    /// Whether Metadata creates unknown topics.
    pub fn auto_create_topics(mut self, on: bool) -> Self {
        self.broker = self.broker.auto_create_topics(on);
        self
    }

    /// The cluster id (generated when unset).
    pub fn cluster_id(mut self, id: impl Into<String>) -> Self {
        self.broker = self.broker.cluster_id(id);
        self
    }

    /// Replicas of topics created with replication factor -1 and of auto-created topics
    /// (Kafka's `default.replication.factor`); min(3, brokers) by default.
    pub fn default_replication_factor(mut self, n: i32) -> Self {
        self.replication_factor = Some(n);
        self
    }

    /// How long a follower may go without catching up before it leaves the ISR (Kafka's
    /// `replica.lag.time.max.ms`, 30 s).
    pub fn replica_lag_time_max(mut self, lag: Duration) -> Self {
        self.replica_lag_time_max = lag;
        self
    }

    /// Serve the HTTP/JSON control endpoint at `HOST:PORT` (see `cluster::control`).
    pub fn control_listen(mut self, addr: impl Into<String>) -> Self {
        self.control_listen = Some(addr.into());
        self
    }

    /// Advertise the API versions of Kafka `release` (`2.8`, `3.0`, `3.5`, `3.7`, `3.9`).
    pub fn as_version(mut self, release: impl Into<String>) -> Self {
        self.as_version = Some(release.into());
        self
    }

    /// Any other broker setting (TLS, SASL, groups, log defaults...), applied to every
    /// broker. Listen address, data directory and node id are the cluster's to set.
    pub fn broker_config(mut self, f: impl FnOnce(BrokerBuilder) -> BrokerBuilder) -> Self {
        self.broker = f(self.broker);
        self
    }

    /// Opens every broker's state, binds every listener and starts serving.
    pub async fn start(self) -> Result<ClusterHandle, BrokerError> {
        let invalid = |m: String| BrokerError::InvalidConfig(m);
        let n = self.brokers;
        if n == 0 || n > 1000 {
            return Err(invalid(
                "the number of brokers must be between 1 and 1000".into(),
            ));
        }
        let count = i32::try_from(n).unwrap_or(i32::MAX);
        let rf = self.replication_factor.unwrap_or(count.min(3));
        if rf < 1 || rf > count {
            return Err(invalid(format!(
                "the default replication factor must be between 1 and {n} (the brokers)"
            )));
        }
        let as_version = match &self.as_version {
            None => None,
            Some(v) => Some(KafkaRelease::parse(v).ok_or_else(|| {
                invalid(format!(
                    "unknown Kafka release {v:?}; known: {}",
                    RELEASES
                        .iter()
                        .map(|r| r.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?),
        };
        let config = self.broker.into_checked_config()?;
        let security = Security::prepare(&config)?;
        let (listen_host, base_port) = parse_host_port(&config.listen)?;
        let advertised = config
            .advertised
            .as_deref()
            .map(parse_host_port)
            .transpose()?;
        if n > 1 && advertised.as_ref().is_some_and(|(_, p)| *p == 0) {
            return Err(invalid(
                "an advertised port of 0 cannot be shared by several brokers".into(),
            ));
        }
        let ids: Vec<i32> = if n == 1 {
            vec![config.node_id]
        } else {
            (0..count).collect()
        };
        // Bind every listener first, so every broker's address is known.
        let mut listeners = Vec::with_capacity(n);
        for i in 0..count {
            let port = if base_port == 0 { 0 } else { base_port + i };
            let port = u16::try_from(port)
                .map_err(|_| invalid(format!("port {port} of broker {i} is out of range")))?;
            let addr = host_port(&listen_host, port);
            let listener = TcpListener::bind(&addr)
                .await
                .map_err(|source| BrokerError::Bind {
                    addr: addr.clone(),
                    source,
                })?;
            let local = listener.local_addr().map_err(|source| BrokerError::Bind {
                addr: addr.clone(),
                source,
            })?;
            listeners.push((listener, local));
        }
        let root = config.data_dir.clone();
        if let Some(root) = &root {
            std::fs::create_dir_all(root).map_err(|source| BrokerError::DataDir {
                path: root.clone(),
                source,
            })?;
        }
        let settings = ClusterSettings {
            replica_lag_time_max: self.replica_lag_time_max,
            default_replication_factor: rf,
            as_version,
        };
        let controller = ClusterController::new(settings, &ids, root.clone().filter(|_| n > 1))?;
        let shared = NodeShared {
            cluster: Arc::clone(&controller),
            producer_ids: Arc::new(ProducerIdStore::open(root.as_deref())?),
            groups: Arc::new(GroupService::open(config.groups, ids[0], root.as_deref())?),
        };
        let mut cluster_id = config.cluster_id.clone();
        let mut nodes = Vec::with_capacity(n);
        for (&id, (listener, local)) in ids.iter().zip(&listeners) {
            let connect = connect_addr(*local);
            let (host, port) = match &advertised {
                Some((h, p)) => (h.clone(), p + (id - ids[0])),
                None => (connect.ip().to_string(), i32::from(connect.port())),
            };
            let mut c = config.clone();
            c.node_id = id;
            c.listen = local.to_string();
            c.cluster_id = cluster_id.clone();
            c.data_dir = match &root {
                Some(r) if n > 1 => Some(r.join(format!("node-{id}"))),
                other => other.clone(),
            };
            let state = Arc::new(BrokerState::open_node(
                c,
                host.clone(),
                port,
                Some(shared.clone()),
            )?);
            cluster_id = Some(state.cluster_id().to_string());
            controller.register_node(id, &state, &host, port);
            let _ = listener;
            nodes.push(NodeEntry {
                id,
                state,
                listen_addr: *local,
                connect_addr: connect,
                runtime: tokio::sync::Mutex::new(None),
            });
        }
        if let Some(first) = nodes.first() {
            let known: Vec<String> = first
                .state
                .topics()
                .iter()
                .map(|t| t.name.clone())
                .collect();
            controller.forget_unknown_topics(&known);
        }
        controller.recover_watermarks(None);
        shared.groups.start_timers();
        let (stop, stop_rx) = watch::channel(false);
        let inner = Arc::new(ClusterInner {
            controller: Arc::clone(&controller),
            nodes,
            security,
            retention_interval: config.retention_check_interval,
            stop,
            control_addr: std::sync::OnceLock::new(),
        });
        for ((listener, _), node) in listeners.into_iter().zip(&inner.nodes) {
            *node.runtime.lock().await = Some(inner.serve(node, listener));
        }
        for node in &inner.nodes {
            controller.spawn_node_replicas(node.id);
        }
        let mut tasks = vec![tokio::spawn(
            Arc::clone(&controller).isr_ticker(stop_rx.clone()),
        )];
        if let Some(addr) = &self.control_listen {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| BrokerError::Bind {
                    addr: addr.clone(),
                    source,
                })?;
            let local = listener.local_addr().map_err(|source| BrokerError::Bind {
                addr: addr.clone(),
                source,
            })?;
            let _ = inner.control_addr.set(local);
            tasks.push(tokio::spawn(super::control::serve(
                listener,
                Arc::downgrade(&inner),
                stop_rx,
            )));
            tracing::info!(%local, "control endpoint listening");
        }
        tracing::info!(brokers = n, replication_factor = rf, cluster_id = cluster_id.as_deref().unwrap_or(""), as_version = ?as_version.map(|r| r.name()), "cluster started");
        Ok(ClusterHandle { inner, tasks })
    }
}

/// `HOST:PORT`, with an IPv6 host in brackets.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The address clients connect to: the bound one, an unspecified IP replaced by 127.0.0.1.
fn connect_addr(local: SocketAddr) -> SocketAddr {
    if local.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), local.port())
    } else {
        local
    }
}

/// Why a cluster operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// There is no broker with this id.
    #[error("there is no broker {0}")]
    UnknownBroker(i32),
    /// The broker is already running.
    #[error("broker {0} is already running")]
    Running(i32),
    /// The broker is already stopped.
    #[error("broker {0} is already stopped")]
    Stopped(i32),
    /// The operation does not apply (no such partition, a replica not in sync, ...).
    #[error("{0}")]
    Refused(String),
    /// The broker failed (e.g. its port could not be bound again).
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

/// One broker of a running cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerInfo {
    /// Its node id.
    pub id: i32,
    /// Where clients connect to it.
    pub addr: SocketAddr,
    /// Whether it is running.
    pub alive: bool,
}

#[derive(Debug)]
struct NodeEntry {
    id: i32,
    state: Arc<BrokerState>,
    listen_addr: SocketAddr,
    connect_addr: SocketAddr,
    /// The listener and retention tasks while the broker runs.
    runtime: tokio::sync::Mutex<Option<NodeRuntime>>,
}

#[derive(Debug)]
struct NodeRuntime {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// What the handle and the control endpoint share.
#[derive(Debug)]
pub(crate) struct ClusterInner {
    controller: Arc<ClusterController>,
    nodes: Vec<NodeEntry>,
    security: Security,
    retention_interval: Duration,
    /// Stops the ISR ticker and the control endpoint.
    stop: watch::Sender<bool>,
    control_addr: std::sync::OnceLock<SocketAddr>,
}

impl ClusterInner {
    fn node(&self, id: i32) -> Result<&NodeEntry, ClusterError> {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .ok_or(ClusterError::UnknownBroker(id))
    }

    /// Starts a broker's listener and retention tasks.
    fn serve(&self, node: &NodeEntry, listener: TcpListener) -> NodeRuntime {
        let (stop, stop_rx) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(accept(
                Arc::clone(&node.state),
                listener,
                self.security.clone(),
                stop_rx.clone(),
            )),
            tokio::spawn(retention(
                Arc::clone(&node.state),
                self.retention_interval,
                stop_rx,
            )),
        ];
        NodeRuntime { stop, tasks }
    }

    pub(crate) fn controller(&self) -> &Arc<ClusterController> {
        &self.controller
    }

    pub(crate) fn brokers(&self) -> Vec<BrokerInfo> {
        self.nodes
            .iter()
            .map(|n| BrokerInfo {
                id: n.id,
                addr: n.connect_addr,
                alive: self.controller.is_alive(n.id),
            })
            .collect()
    }

    pub(crate) fn cluster_id(&self) -> &str {
        self.nodes.first().map_or("", |n| n.state.cluster_id())
    }

    pub(crate) async fn stop_broker(&self, id: i32) -> Result<(), ClusterError> {
        let node = self.node(id)?;
        let mut runtime = node.runtime.lock().await;
        let Some(rt) = runtime.take() else {
            return Err(ClusterError::Stopped(id));
        };
        // Leadership moves first (Kafka's controlled shutdown), then the listener and every
        // connection close.
        self.controller.stop_node(id);
        let _ = rt.stop.send(true);
        for task in rt.tasks {
            let _ = task.await;
        }
        let state = Arc::clone(&node.state);
        let flushed = tokio::task::spawn_blocking(move || state.flush()).await;
        if let Ok(Err(e)) = flushed {
            tracing::warn!(node = id, error = %e, "flushing a stopped broker's logs failed");
        }
        tracing::info!(node = id, "broker stopped");
        Ok(())
    }

    pub(crate) async fn start_broker(&self, id: i32) -> Result<(), ClusterError> {
        let node = self.node(id)?;
        let mut runtime = node.runtime.lock().await;
        if runtime.is_some() {
            return Err(ClusterError::Running(id));
        }
        let addr = node.listen_addr.to_string();
        let listener = TcpListener::bind(node.listen_addr)
            .await
            .map_err(|source| BrokerError::Bind { addr, source })?;
        self.controller.start_node(id);
        *runtime = Some(self.serve(node, listener));
        tracing::info!(node = id, "broker started");
        Ok(())
    }

    pub(crate) fn drop_connections(&self, id: i32) -> Result<(), ClusterError> {
        self.node(id)?;
        self.controller.drop_connections(id);
        Ok(())
    }

    pub(crate) fn inject(&self, fault: Fault) -> Result<(), ClusterError> {
        if let super::FaultScope::Broker(id) = fault.scope {
            self.node(id)?;
        }
        self.controller
            .faults
            .add(fault)
            .map_err(ClusterError::Refused)
    }

    pub(crate) fn set_latency(
        &self,
        scope: FaultScope,
        latency: Duration,
    ) -> Result<(), ClusterError> {
        if let FaultScope::Broker(id) = scope {
            self.node(id)?;
        }
        self.controller.faults.set_latency(scope, latency);
        Ok(())
    }

    pub(crate) fn clear_faults(&self) {
        self.controller.clear_faults();
    }

    pub(crate) fn move_leader(
        &self,
        topic: &str,
        partition: i32,
        to: Option<i32>,
    ) -> Result<PartitionInfo, ClusterError> {
        self.controller
            .move_leader(topic, partition, to)
            .map_err(ClusterError::Refused)
    }

    pub(crate) fn shrink_isr(
        &self,
        topic: &str,
        partition: i32,
        remove: &[i32],
    ) -> Result<PartitionInfo, ClusterError> {
        self.controller
            .shrink_isr(topic, partition, remove)
            .map_err(ClusterError::Refused)
    }

    pub(crate) fn pause_replica(
        &self,
        topic: &str,
        partition: i32,
        node: i32,
    ) -> Result<PartitionInfo, ClusterError> {
        self.controller
            .pause_replica(topic, partition, node)
            .map_err(ClusterError::Refused)
    }

    /// Stops everything and closes every broker's logs.
    async fn shutdown(&self) -> Result<(), BrokerError> {
        let _ = self.stop.send(true);
        for node in &self.nodes {
            if let Some(rt) = node.runtime.lock().await.take() {
                let _ = rt.stop.send(true);
                for task in rt.tasks {
                    let _ = task.await;
                }
            }
        }
        self.controller.halt();
        let mut first = Ok(());
        for node in &self.nodes {
            let state = Arc::clone(&node.state);
            let closed = tokio::task::spawn_blocking(move || state.close())
                .await
                .unwrap_or(Ok(()));
            if let Err(e) = closed {
                tracing::error!(node = node.id, error = %e, "closing a broker's logs failed");
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        self.controller.unregister_all();
        tracing::info!("cluster stopped");
        first
    }

    /// Signals every task to stop, without waiting (a dropped handle).
    fn halt(&self) {
        let _ = self.stop.send(true);
        for node in &self.nodes {
            if let Ok(mut rt) = node.runtime.try_lock()
                && let Some(rt) = rt.take()
            {
                let _ = rt.stop.send(true);
            }
        }
        self.controller.halt();
        self.controller.unregister_all();
    }
}

/// A running cluster. Dropping it stops the brokers without flushing; prefer
/// [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct ClusterHandle {
    inner: Arc<ClusterInner>,
    tasks: Vec<JoinHandle<()>>,
}

impl ClusterHandle {
    /// Every broker's address, comma-separated: the clients' `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.inner
            .nodes
            .iter()
            .map(|n| n.connect_addr.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The brokers, with their addresses and whether they run.
    pub fn brokers(&self) -> Vec<BrokerInfo> {
        self.inner.brokers()
    }

    /// Where broker `id` accepts clients.
    pub fn broker_addr(&self, id: i32) -> Option<SocketAddr> {
        self.inner.node(id).ok().map(|n| n.connect_addr)
    }

    /// Broker `id`'s state (topics, configs, its replicas' logs), e.g. to inspect from a test.
    pub fn state(&self, id: i32) -> Option<&Arc<BrokerState>> {
        self.inner.node(id).ok().map(|n| &n.state)
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> &str {
        self.inner.cluster_id()
    }

    /// The broker Metadata names as controller (0 while alive, else the lowest live id).
    pub fn controller_id(&self) -> i32 {
        self.inner.controller.controller_id()
    }

    /// Where the HTTP control endpoint listens, if it was asked for.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.inner.control_addr.get().copied()
    }

    /// Stops broker `id` (see the module docs).
    pub async fn stop_broker(&self, id: i32) -> Result<(), ClusterError> {
        self.inner.stop_broker(id).await
    }

    /// Starts broker `id` again, on the same port.
    pub async fn start_broker(&self, id: i32) -> Result<(), ClusterError> {
        self.inner.start_broker(id).await
    }

    /// Closes every client connection of broker `id` (it keeps running).
    pub fn drop_connections(&self, id: i32) -> Result<(), ClusterError> {
        self.inner.drop_connections(id)
    }

    /// The broker coordinating a consumer group.
    pub fn coordinator_for(&self, group: &str) -> Option<i32> {
        self.inner
            .controller
            .coordinator_for(group, crate::group::routing::KeyType::Group)
    }

    /// A partition's replication state.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<PartitionInfo> {
        self.inner
            .controller
            .partition(topic, partition)
            .map(|p| p.info())
    }

    /// Every partition's replication state, by topic.
    pub fn partitions(&self) -> Vec<PartitionInfo> {
        self.inner
            .controller
            .describe()
            .into_iter()
            .flat_map(|(_, _, ps)| ps)
            .collect()
    }

    /// The log end offset of broker `node`'s replica of a partition (`None` if it has none).
    pub fn replica_log_end_offset(&self, node: i32, topic: &str, partition: i32) -> Option<i64> {
        let p = self
            .inner
            .node(node)
            .ok()?
            .state
            .topic(topic)?
            .partition(partition)?
            .clone();
        let log = p.log()?;
        Some(log.log_end_offset())
    }

    /// Whole batches of broker `node`'s replica of a partition, from the one holding
    /// `offset`, up to about `max_bytes` (at least one batch), as stored: a follower's log
    /// can be compared byte for byte with its leader's.
    pub fn read_replica(
        &self,
        node: i32,
        topic: &str,
        partition: i32,
        offset: i64,
        max_bytes: usize,
    ) -> Option<Bytes> {
        let p = self
            .inner
            .node(node)
            .ok()?
            .state
            .topic(topic)?
            .partition(partition)?
            .clone();
        let log = p.log()?;
        let end = log.log_end_offset();
        if offset >= end {
            return Some(Bytes::new());
        }
        log.read(offset, max_bytes, end).ok().map(|r| r.records)
    }

    /// Injects a fault (see [`Fault`]).
    pub fn inject(&self, fault: Fault) -> Result<(), ClusterError> {
        self.inner.inject(fault)
    }

    /// The injected faults not used up yet.
    pub fn faults(&self) -> Vec<Fault> {
        self.inner.controller.faults.list()
    }

    /// Delays every request of the brokers in `scope` by `latency` (zero removes it).
    pub fn set_latency(&self, scope: FaultScope, latency: Duration) -> Result<(), ClusterError> {
        self.inner.set_latency(scope, latency)
    }

    /// Clears every fault: injected errors and drops, latencies, ISR shrinks.
    pub fn clear_faults(&self) {
        self.inner.clear_faults();
    }

    /// Moves a partition's leadership to the in-sync replica `to` (by default the next one),
    /// with the next leader epoch.
    pub fn move_leader(
        &self,
        topic: &str,
        partition: i32,
        to: Option<i32>,
    ) -> Result<PartitionInfo, ClusterError> {
        self.inner.move_leader(topic, partition, to)
    }

    /// Removes followers from a partition's ISR and keeps them out (not fetching) until
    /// [`clear_faults`](Self::clear_faults).
    pub fn shrink_isr(
        &self,
        topic: &str,
        partition: i32,
        remove: &[i32],
    ) -> Result<PartitionInfo, ClusterError> {
        self.inner.shrink_isr(topic, partition, remove)
    }

    /// Stops broker `node`'s replica of a partition from fetching (a stuck follower) while
    /// leaving the ISR alone: it drops out after `replica.lag.time.max.ms`, and catches up and
    /// rejoins once [`clear_faults`](Self::clear_faults) runs.
    pub fn pause_replica(
        &self,
        topic: &str,
        partition: i32,
        node: i32,
    ) -> Result<PartitionInfo, ClusterError> {
        self.inner.pause_replica(topic, partition, node)
    }

    /// Waits until a partition's high watermark is at least `offset`.
    pub async fn wait_for_high_watermark(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        timeout: Duration,
    ) -> Result<PartitionInfo, PartitionWaitTimeout> {
        let wanted = format!("high watermark {offset}");
        self.wait_for_partition(topic, partition, &wanted, timeout, |p| {
            p.high_watermark >= offset
        })
        .await
    }

    /// Waits until a partition has a live leader.
    pub async fn wait_for_leader(
        &self,
        topic: &str,
        partition: i32,
        timeout: Duration,
    ) -> Result<PartitionInfo, PartitionWaitTimeout> {
        let ctl = Arc::clone(&self.inner.controller);
        self.wait_for_partition(topic, partition, "a live leader", timeout, |p| {
            p.leader.is_some_and(|l| ctl.is_alive(l))
        })
        .await
    }

    /// Waits until a partition's ISR is exactly `isr` (in any order).
    pub async fn wait_for_isr(
        &self,
        topic: &str,
        partition: i32,
        isr: &[i32],
        timeout: Duration,
    ) -> Result<PartitionInfo, PartitionWaitTimeout> {
        let mut want = isr.to_vec();
        want.sort_unstable();
        let wanted = format!("ISR {want:?}");
        self.wait_for_partition(topic, partition, &wanted, timeout, |p| {
            let mut have = p.isr.clone();
            have.sort_unstable();
            have == want
        })
        .await
    }

    /// Waits until `pred` holds for a partition (which may not exist yet); `wanted` names
    /// the condition in the timeout error. Woken by every change, not polled.
    pub async fn wait_for_partition(
        &self,
        topic: &str,
        partition: i32,
        wanted: &str,
        timeout: Duration,
        pred: impl Fn(&PartitionInfo) -> bool,
    ) -> Result<PartitionInfo, PartitionWaitTimeout> {
        self.inner
            .controller
            .wait_for_partition(topic, partition, wanted, timeout, pred)
            .await
    }

    /// Waits until a consumer group is in `state` (the group state is shared by the
    /// brokers).
    pub async fn wait_for_group_state(
        &self,
        group: &str,
        state: crate::GroupState,
        timeout: Duration,
    ) -> Result<crate::GroupStatus, crate::GroupWaitTimeout> {
        self.inner.nodes[0]
            .state
            .wait_for_group_state(group, state, timeout)
            .await
    }

    /// Stops every broker, closes every connection and flushes every log.
    pub async fn shutdown(mut self) -> Result<(), BrokerError> {
        let result = self.inner.shutdown().await;
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        result
    }
}

impl Drop for ClusterHandle {
    fn drop(&mut self) {
        self.inner.halt();
    }
}

/// The cluster behind a control endpoint request, if it still runs.
pub(crate) fn upgrade(weak: &Weak<ClusterInner>) -> Option<Arc<ClusterInner>> {
    weak.upgrade()
}
