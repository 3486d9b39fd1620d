//! Configuring and starting a cluster: [`Cluster::builder`] and [`ClusterBuilder::start`],
//! which binds every listener, opens every broker's state, and starts the listeners, the
//! follower tasks, the ISR ticker and the control endpoint (see `runtime` for the layout
//! of ports and data directories).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::handle::ClusterHandle;
use super::runtime::{ClusterInner, NodeEntry};
use super::versions::{KafkaRelease, RELEASES};
use super::{ClusterController, ClusterSettings, DEFAULT_REPLICA_LAG_TIME_MAX};
use crate::group::GroupService;
use crate::producer::ProducerIdStore;
use crate::server::parse_host_port;
use crate::server::security::Security;
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
