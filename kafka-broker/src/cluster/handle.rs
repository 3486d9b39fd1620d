//! [`ClusterHandle`]: the application's and the tests' handle on a running cluster. It
//! reports addresses and partition states, stops and starts brokers, injects faults, waits
//! for partition and group states, and shuts the cluster down. What stopping and starting a
//! broker does is in the `runtime` module docs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::faults::{Fault, FaultScope};
use super::partition::{PartitionInfo, PartitionWaitTimeout};
use super::runtime::{BrokerInfo, ClusterError, ClusterInner};
use crate::BrokerError;
use crate::state::BrokerState;

/// A running cluster. Dropping it stops the brokers without flushing; prefer
/// [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct ClusterHandle {
    pub(super) inner: Arc<ClusterInner>,
    pub(super) tasks: Vec<JoinHandle<()>>,
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

    /// Stops broker `id` (see the `runtime` module docs).
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
