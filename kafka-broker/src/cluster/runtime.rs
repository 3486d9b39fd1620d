//! Starting, stopping and steering a cluster: [`Cluster::builder`](super::Cluster::builder),
//! [`ClusterHandle`](super::ClusterHandle). This module holds what they share: the running
//! cluster ([`ClusterInner`], also behind the control endpoint), its brokers' listeners and
//! tasks, and [`ClusterError`].
//!
//! Each broker gets its own listener (with `listen` at port 0 each picks a free port;
//! otherwise broker `i` takes port `port + i`), its own retention ticker, and its own data
//! directory `<data-dir>/node-<i>/` (a one-broker cluster uses `<data-dir>` itself, the
//! layout of a broker started alone). What the brokers share sits in `<data-dir>`: the
//! assignment file, producer ids and committed group offsets.
//!
//! Stopping a broker ([`ClusterHandle::stop_broker`](super::ClusterHandle::stop_broker))
//! elects new leaders for its partitions, closes its listener and every connection, and
//! flushes its logs. Its state stays in memory (as its disk would): starting it again
//! reopens the listener on the same port, and its replicas catch up from their leaders and
//! rejoin the ISRs.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::ClusterController;
use super::faults::{Fault, FaultScope};
use super::partition::PartitionInfo;
use crate::BrokerError;
use crate::server::security::Security;
use crate::server::{accept, retention};
use crate::state::BrokerState;

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
pub(super) struct NodeEntry {
    pub(super) id: i32,
    pub(super) state: Arc<BrokerState>,
    pub(super) listen_addr: SocketAddr,
    pub(super) connect_addr: SocketAddr,
    /// The listener and retention tasks while the broker runs.
    pub(super) runtime: tokio::sync::Mutex<Option<NodeRuntime>>,
}

#[derive(Debug)]
pub(super) struct NodeRuntime {
    pub(super) stop: watch::Sender<bool>,
    pub(super) tasks: Vec<JoinHandle<()>>,
}

/// What the handle and the control endpoint share.
#[derive(Debug)]
pub(crate) struct ClusterInner {
    pub(super) controller: Arc<ClusterController>,
    pub(super) nodes: Vec<NodeEntry>,
    pub(super) security: Security,
    pub(super) retention_interval: Duration,
    /// Stops the ISR ticker and the control endpoint.
    pub(super) stop: watch::Sender<bool>,
    pub(super) control_addr: std::sync::OnceLock<SocketAddr>,
}

impl ClusterInner {
    pub(super) fn node(&self, id: i32) -> Result<&NodeEntry, ClusterError> {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .ok_or(ClusterError::UnknownBroker(id))
    }

    /// Starts a broker's listener and retention tasks.
    pub(super) fn serve(&self, node: &NodeEntry, listener: TcpListener) -> NodeRuntime {
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
    pub(super) async fn shutdown(&self) -> Result<(), BrokerError> {
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
    pub(super) fn halt(&self) {
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

/// The cluster behind a control endpoint request, if it still runs.
pub(crate) fn upgrade(weak: &Weak<ClusterInner>) -> Option<Arc<ClusterInner>> {
    weak.upgrade()
}
