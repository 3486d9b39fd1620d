//! The controller's topic map: looking partitions and replicas up, adopting topics the
//! brokers loaded from disk, high watermarks at startup, replica assignment, the assignment
//! file, and waiting for a partition to reach a state.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use kafka_protocol::Uuid;
use tokio::time::Instant;

use super::partition::{PartitionControl, PartitionInfo, PartitionWaitTimeout, Progress};
use super::{ClusterController, store};
use crate::state::{BrokerState, Partition};

/// A topic's partitions as the controller sees them.
#[derive(Debug, Clone)]
pub(super) struct TopicControl {
    pub(super) id: Uuid,
    pub(super) partitions: Vec<Arc<PartitionControl>>,
}

impl ClusterController {
    // ---- Partitions ----

    /// The control of a partition.
    pub(crate) fn partition(&self, topic: &str, index: i32) -> Option<Arc<PartitionControl>> {
        let topics = self.topics.read();
        let t = topics.get(topic)?;
        usize::try_from(index)
            .ok()
            .and_then(|i| t.partitions.get(i))
            .cloned()
    }

    /// A topic's partition controls.
    pub(super) fn topic_partitions(
        &self,
        topic: &str,
    ) -> Option<(Uuid, Vec<Arc<PartitionControl>>)> {
        self.topics
            .read()
            .get(topic)
            .map(|t| (t.id, t.partitions.clone()))
    }

    /// Every partition control.
    pub(super) fn all_partitions(&self) -> Vec<Arc<PartitionControl>> {
        let topics = self.topics.read();
        let mut all: Vec<_> = topics
            .values()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect();
        all.sort_by(|a, b| (&a.topic, a.index).cmp(&(&b.topic, b.index)));
        all
    }

    /// Every topic with its partitions' state, by name.
    pub(crate) fn describe(&self) -> Vec<(String, Uuid, Vec<PartitionInfo>)> {
        let topics: Vec<(String, Uuid, Vec<Arc<PartitionControl>>)> = {
            let t = self.topics.read();
            t.iter()
                .map(|(n, t)| (n.clone(), t.id, t.partitions.clone()))
                .collect()
        };
        let mut out: Vec<_> = topics
            .into_iter()
            .map(|(n, id, ps)| (n, id, ps.iter().map(|p| p.info()).collect()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Whether broker `node` holds a replica of the partition.
    pub(crate) fn hosts(&self, topic: &str, index: i32, node: i32) -> bool {
        self.partition(topic, index)
            .is_some_and(|p| p.replicas.contains(&node))
    }

    /// The replica of `pc` on broker `node`.
    pub(super) fn replica(&self, node: i32, pc: &PartitionControl) -> Option<Arc<Partition>> {
        let state = self.node_state(node)?;
        let topic = state.topic(&pc.topic).filter(|t| t.id == pc.topic_id)?;
        topic.partition(pc.index).cloned()
    }

    /// The log end offset of the replica of `pc` on broker `node`.
    pub(super) fn replica_leo(&self, node: i32, pc: &PartitionControl) -> Option<i64> {
        let p = self.replica(node, pc)?;
        let log = p.log()?;
        Some(log.log_end_offset())
    }

    /// Wakes the fetches parked on the leader's replica (the high watermark moved).
    pub(crate) fn wake_leader(&self, pc: &PartitionControl) {
        let leader = pc.lock().leader;
        if leader >= 0
            && let Some(p) = self.replica(leader, pc)
        {
            p.wake();
        }
    }

    /// After a partition changed: tell its waiters, wake the leader's fetches, and when the
    /// leader or the ISR changed, persist the assignment and tell metadata waiters.
    pub(super) fn after_change(&self, pc: &PartitionControl, metadata: bool) {
        pc.notify();
        self.wake_leader(pc);
        if metadata {
            self.persist();
            self.bump();
        }
    }

    /// Registers a topic a broker loaded from its data directory: a lone broker leads it
    /// alone; in a cluster the assignment file normally knows it already, and a topic it
    /// does not know (or knows under another id, or with fewer partitions) gets a fresh
    /// assignment for what is missing.
    pub(crate) fn adopt_topic(&self, name: &str, id: Uuid, partitions: i32) {
        let mut topics = self.topics.write();
        let known = topics.get(name).filter(|t| t.id == id).cloned();
        let mut controls = known.map(|t| t.partitions).unwrap_or_default();
        let have = i32::try_from(controls.len()).unwrap_or(i32::MAX);
        if have >= partitions {
            controls.truncate(usize::try_from(partitions).unwrap_or(0));
        } else {
            let live = self.live_nodes();
            let rf = if self.is_multi() {
                self.settings
                    .default_replication_factor
                    .clamp(1, i32::try_from(live.len()).unwrap_or(1).max(1))
            } else {
                1
            };
            let assignment = self.assign(&live, have, partitions, rf);
            for (i, replicas) in (have..partitions).zip(assignment) {
                controls.push(Arc::new(PartitionControl::fresh(name, id, i, replicas)));
            }
        }
        topics.insert(
            name.to_string(),
            TopicControl {
                id,
                partitions: controls,
            },
        );
    }

    /// Drops topics no broker has (after every broker loaded its registry).
    pub(crate) fn forget_unknown_topics(&self, known: &[String]) {
        self.topics.write().retain(|name, _| known.contains(name));
    }

    /// Sets what the leader knows of every replica from the logs as opened, and the high
    /// watermarks from that (at startup): the smallest log end over each ISR, at most the
    /// leader's. `state` is a lone broker's own state (its slot is empty).
    pub(crate) fn recover_watermarks(&self, lone: Option<&BrokerState>) {
        let now = Instant::now();
        for pc in self.all_partitions() {
            let mut leos = HashMap::new();
            for &node in &pc.replicas {
                let leo = match lone {
                    Some(state) if state.node_id() == node => state
                        .topic(&pc.topic)
                        .and_then(|t| t.partition(pc.index).cloned())
                        .and_then(|p| p.log().map(|l| l.log_end_offset())),
                    _ => self.replica_leo(node, &pc),
                };
                if let Some(leo) = leo {
                    leos.insert(node, leo);
                }
            }
            let mut m = pc.lock();
            for (node, leo) in &leos {
                m.progress.insert(
                    *node,
                    Progress {
                        leo: *leo,
                        caught_up: now,
                    },
                );
            }
            let leader_leo = leos.get(&m.leader).copied().unwrap_or(0);
            let min = m
                .isr
                .iter()
                .filter_map(|n| leos.get(n))
                .min()
                .copied()
                .unwrap_or(0);
            m.hw = min.min(leader_leo);
        }
    }

    /// Replica lists for partitions `from..to`: leaders round-robin over `live` starting at
    /// the next spread position, followers the brokers after the leader.
    pub(super) fn assign(&self, live: &[i32], from: i32, to: i32, rf: i32) -> Vec<Vec<i32>> {
        let n = live.len().max(1);
        let start = self.next_spread.fetch_add(1, Ordering::Relaxed);
        let rf = usize::try_from(rf).unwrap_or(1).clamp(1, n);
        (from..to)
            .map(|p| {
                let first = start + usize::try_from(p).unwrap_or(0);
                (0..rf)
                    .filter_map(|k| live.get((first + k) % n).copied())
                    .collect()
            })
            .collect()
    }

    /// The brokers' states to apply an admin change to: every registered broker, and
    /// `origin` (which may be a lone broker with no slot).
    pub(super) fn states(&self, origin: &BrokerState) -> Vec<Option<Arc<BrokerState>>> {
        self.nodes
            .iter()
            .map(|slot| {
                if slot.id == origin.node_id() {
                    None
                } else {
                    slot.state.read().upgrade()
                }
            })
            .collect()
    }

    // ---- Persistence ----

    /// Writes the assignment file (in a cluster with a data directory).
    pub(super) fn persist(&self) {
        let Some(store) = &self.store else { return };
        let _guard = self.persist_lock.lock();
        let topics: Vec<(String, Uuid, Vec<Arc<PartitionControl>>)> = self
            .topics
            .read()
            .iter()
            .map(|(n, t)| (n.clone(), t.id, t.partitions.clone()))
            .collect();
        let records: Vec<store::TopicAssignment> = topics
            .into_iter()
            .map(|(name, id, ps)| store::TopicAssignment {
                name,
                id,
                partitions: ps
                    .iter()
                    .map(|p| {
                        let m = p.lock();
                        store::PartitionAssignment {
                            replicas: p.replicas.clone(),
                            leader: m.leader,
                            leader_epoch: m.leader_epoch,
                            isr: m.isr.clone(),
                        }
                    })
                    .collect(),
            })
            .collect();
        if let Err(e) = store.save(&records) {
            tracing::error!(error = %e, "cannot persist the partition assignments");
        }
    }

    // ---- Wait-for hooks ----

    /// Waits until `pred` holds for the partition (which may not exist yet), for at most
    /// `timeout`; re-checks on every change of the partition or of the metadata.
    pub(crate) async fn wait_for_partition(
        &self,
        topic: &str,
        index: i32,
        wanted: &str,
        timeout: Duration,
        pred: impl Fn(&PartitionInfo) -> bool,
    ) -> Result<PartitionInfo, PartitionWaitTimeout> {
        let now = Instant::now();
        let deadline = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400));
        let mut global = self.subscribe();
        let mut last = None;
        loop {
            global.borrow_and_update();
            let pc = self.partition(topic, index);
            let mut local = pc.as_ref().map(|p| p.subscribe());
            if let Some(pc) = &pc {
                let info = pc.info();
                if pred(&info) {
                    return Ok(info);
                }
                last = Some(info);
            }
            let partition_changed = async {
                match local.as_mut() {
                    Some(rx) => {
                        let _ = rx.changed().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = global.changed() => {}
                () = partition_changed => {}
                () = tokio::time::sleep_until(deadline) => {
                    return Err(PartitionWaitTimeout {
                        topic: topic.to_string(),
                        partition: index,
                        wanted: wanted.to_string(),
                        timeout,
                        last,
                    });
                }
            }
        }
    }
}
