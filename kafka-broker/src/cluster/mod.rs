//! Several brokers in one process: the shared controller, replication between the brokers,
//! fault injection and the control plane.
//!
//! [`Cluster::builder`] starts N brokers (node ids 0..N-1), each a [`BrokerState`] with its
//! own listener and its own partition replicas and logs (data directory
//! `<data-dir>/node-<id>/` when N > 1; a single broker keeps the plain layout). They share
//! one [`ClusterController`]: topic assignments (replicas, preferred leader first), each
//! partition's leader, leader epoch, ISR and high watermark ([`partition::PartitionControl`]),
//! and which brokers are alive. Broker 0 is the controller Metadata names while it is alive
//! (then the lowest live id). Every broker also keeps the topic registry (names, ids,
//! configs, partition counts) in step, so any broker answers Metadata truthfully and refuses
//! requests for partitions it does not lead with NOT_LEADER_OR_FOLLOWER.
//!
//! A broker started alone (`Broker::builder`) has a one-broker controller of its own: every
//! partition is led by it at epoch 0, the ISR is itself and the high watermark is its log
//! end, which is the behaviour it always had.
//!
//! **Admin changes** (CreateTopics, DeleteTopics, CreatePartitions, config changes, topic
//! auto-creation) go through the controller, which checks them once, assigns replicas (the
//! leaders round-robin over the live brokers, followers the next live brokers after the
//! leader), records the assignment, and then applies the change to every broker's registry
//! (stopped brokers included: their registries stand for the metadata they will load when
//! they come back), opening logs only on the brokers that hold a replica.
//!
//! **Replication** (`replication`): each replica has a task on its broker that, whenever the
//! replica is a follower, copies its leader's log: it reads whole batches from the leader's
//! [`Log`](crate::log::Log) with `Log::read` and appends them unchanged (offsets, leader
//! epochs, timestamps) with `Log::append_replicated`. It does not go through the Fetch
//! protocol: the brokers share a process, so it reads the leader's log directly, which is
//! what a follower fetch would return. When it starts following a leader at a new epoch it
//! first truncates its log where it diverges from the leader's (comparing batch headers from
//! its end backwards: Kafka's leader-epoch truncation, done by looking rather than asking
//! OffsetsForLeaderEpoch), then catches up. After each copy it reports its log end to the
//! partition: the high watermark (the smallest log end over the ISR) moves, an out-of-sync
//! follower that reached it rejoins the ISR, and the leader's parked fetches and acks=all
//! produces wake. A follower that has not caught up within `replica.lag.time.max.ms` is
//! dropped from the ISR by a ticker; a stopped broker leaves every ISR at once.
//!
//! **Leader changes**: stopping a broker elects, for each partition it led, the first live
//! in-sync replica in replica order, with the next leader epoch (none alive: the partition
//! is offline, leader -1, until an in-sync replica returns; there is no unclean election).
//! Acknowledged acks=all records are on every in-sync replica, so a single stop loses none.
//! A restarted broker's replicas truncate to the new leader and catch up, then rejoin the ISR.
//!
//! **Lock order** (a lock may be taken while holding the ones above it, never the reverse):
//! 1. the controller's admin lock (admin changes, liveness changes, fault-driven elections);
//! 2. a broker's topic registry (`BrokerState`);
//! 3. the controller's persistence lock;
//! 4. the controller's topic map;
//! 5. a partition's [`PartitionControl`] lock;
//! 6. a replica's log lock, then its producer state, then its waiter list (`state`).
//!
//! The fault registry, the node slots' endpoint locks and the group coordinator's lock are
//! leaves. No lock is held across an `.await`. An election needs the new leader's log end,
//! which it reads before taking the partition lock (through the registry, level 2) and
//! re-reads under it from the replica's log (level 6).
//!
//! Modules: `partition` (one partition's state), `replication` (the follower tasks and the
//! ISR ticker), `runtime` ([`Cluster`], [`ClusterBuilder`], [`ClusterHandle`]), `faults`
//! (injected errors, dropped responses, latency), `versions` (`--as-version` tables),
//! `control` (the HTTP/JSON control endpoint), `store` (the assignment file).

pub(crate) mod control;
pub(crate) mod faults;
pub(crate) mod partition;
mod replication;
mod runtime;
mod store;
pub(crate) mod versions;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use kafka_protocol::{ErrorCode, Uuid};
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;
use tokio::time::Instant;

pub use faults::{Fault, FaultAction, FaultScope};
pub use partition::{PartitionInfo, PartitionWaitTimeout};
pub use runtime::{BrokerInfo, Cluster, ClusterBuilder, ClusterError, ClusterHandle};
pub use versions::KafkaRelease;

use crate::group::routing::{self, KeyType};
use crate::state::{AdminError, BrokerState, NewTopic, Partition, random_uuid};
use partition::{PartitionControl, PartitionMeta, Progress};

/// Kafka's `replica.lag.time.max.ms` default.
pub const DEFAULT_REPLICA_LAG_TIME_MAX: Duration = Duration::from_secs(30);

/// Cluster-wide settings.
#[derive(Debug, Clone)]
pub(crate) struct ClusterSettings {
    /// `replica.lag.time.max.ms`: a follower not caught up for this long leaves the ISR.
    pub replica_lag_time_max: Duration,
    /// `default.replication.factor`: topics created with replication factor -1 (and
    /// auto-created ones) get this many replicas.
    pub default_replication_factor: i32,
    /// The Kafka release whose API versions the brokers advertise (`--as-version`).
    pub as_version: Option<KafkaRelease>,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            replica_lag_time_max: DEFAULT_REPLICA_LAG_TIME_MAX,
            default_replication_factor: 1,
            as_version: None,
        }
    }
}

/// Whether a broker is up, and which run of it this is (a restart starts a new one, so the
/// previous run's tasks know to stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeLife {
    pub alive: bool,
    pub incarnation: u64,
}

/// One broker as the controller sees it.
#[derive(Debug)]
struct NodeSlot {
    id: i32,
    /// Its state (weak: the state holds the controller). Empty for a lone broker, which the
    /// controller only reaches through the requests it handles.
    state: RwLock<Weak<BrokerState>>,
    /// Where clients reach it.
    endpoint: Mutex<(String, i32)>,
    life: watch::Sender<NodeLife>,
    /// Bumped to make the broker close every client connection.
    drop_connections: watch::Sender<u64>,
}

/// A topic's partitions as the controller sees them.
#[derive(Debug, Clone)]
struct TopicControl {
    id: Uuid,
    partitions: Vec<Arc<PartitionControl>>,
}

/// The cluster's shared controller (see the module docs).
#[derive(Debug)]
pub(crate) struct ClusterController {
    settings: ClusterSettings,
    nodes: Vec<NodeSlot>,
    /// Admin changes, liveness changes and fault-driven elections, one at a time.
    admin: Mutex<()>,
    /// Serializes writes of the assignment file.
    persist_lock: Mutex<()>,
    topics: RwLock<HashMap<String, TopicControl>>,
    /// Bumped on every metadata change: topics, leaders, ISRs, liveness.
    changes: watch::Sender<u64>,
    /// Injected faults.
    pub(crate) faults: faults::Faults,
    /// The assignment file, in a cluster with a data directory.
    store: Option<store::AssignmentStore>,
    /// Where the next topic's first leader goes (spreads single-partition topics).
    next_spread: AtomicUsize,
}

impl ClusterController {
    /// A controller for brokers `ids`, all alive, with the assignment file in `store_dir`.
    pub(crate) fn new(
        settings: ClusterSettings,
        ids: &[i32],
        store_dir: Option<PathBuf>,
    ) -> Result<Arc<Self>, crate::BrokerError> {
        let store = store_dir.map(store::AssignmentStore::new);
        let ctl = Self {
            settings,
            nodes: ids
                .iter()
                .map(|&id| NodeSlot {
                    id,
                    state: RwLock::new(Weak::new()),
                    endpoint: Mutex::new((String::new(), -1)),
                    life: watch::channel(NodeLife {
                        alive: true,
                        incarnation: 1,
                    })
                    .0,
                    drop_connections: watch::channel(0).0,
                })
                .collect(),
            admin: Mutex::new(()),
            persist_lock: Mutex::new(()),
            topics: RwLock::new(HashMap::new()),
            changes: watch::channel(0).0,
            faults: faults::Faults::default(),
            store,
            next_spread: AtomicUsize::new(0),
        };
        if let Some(store) = &ctl.store {
            let loaded = store.load()?;
            let mut topics = ctl.topics.write();
            for t in loaded {
                let partitions = t
                    .partitions
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let index = i32::try_from(i).unwrap_or(i32::MAX);
                        // A restart: every broker is up, so the old leader (or the first
                        // in-sync replica) leads again, at a new epoch so that followers
                        // check their logs against it.
                        let leader = if p.isr.contains(&p.leader) {
                            p.leader
                        } else {
                            p.isr.first().copied().unwrap_or(-1)
                        };
                        let meta = PartitionMeta {
                            leader,
                            leader_epoch: p.leader_epoch.saturating_add(1),
                            isr: p.isr,
                            hw: 0,
                            progress: HashMap::new(),
                            frozen: Default::default(),
                        };
                        Arc::new(PartitionControl::new(
                            &t.name, t.id, index, p.replicas, meta,
                        ))
                    })
                    .collect();
                topics.insert(
                    t.name,
                    TopicControl {
                        id: t.id,
                        partitions,
                    },
                );
            }
        }
        Ok(Arc::new(ctl))
    }

    /// The controller of a broker running alone as `node_id`.
    pub(crate) fn single(node_id: i32) -> Arc<Self> {
        // No store: nothing to load, so this cannot fail.
        Self::new(ClusterSettings::default(), &[node_id], None)
            .unwrap_or_else(|_| unreachable!("a controller without a store cannot fail"))
    }

    pub(crate) fn settings(&self) -> &ClusterSettings {
        &self.settings
    }

    /// Whether this controller has more than one broker.
    pub(crate) fn is_multi(&self) -> bool {
        self.nodes.len() > 1
    }

    fn slot(&self, id: i32) -> Option<&NodeSlot> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Records a broker's state and address.
    pub(crate) fn register_node(&self, id: i32, state: &Arc<BrokerState>, host: &str, port: i32) {
        if let Some(slot) = self.slot(id) {
            *slot.state.write() = Arc::downgrade(state);
            *slot.endpoint.lock() = (host.to_string(), port);
        }
    }

    /// Forgets every broker's state (the cluster is shutting down).
    pub(crate) fn unregister_all(&self) {
        for slot in &self.nodes {
            *slot.state.write() = Weak::new();
        }
    }

    /// A broker's state, if it is registered.
    pub(crate) fn node_state(&self, id: i32) -> Option<Arc<BrokerState>> {
        self.slot(id).and_then(|s| s.state.read().upgrade())
    }

    /// Every node id.
    pub(crate) fn node_ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// Whether a broker is up.
    pub(crate) fn is_alive(&self, id: i32) -> bool {
        self.slot(id).is_some_and(|s| s.life.borrow().alive)
    }

    /// A broker's liveness channel.
    pub(crate) fn life(&self, id: i32) -> Option<watch::Receiver<NodeLife>> {
        self.slot(id).map(|s| s.life.subscribe())
    }

    /// The live brokers, by id.
    pub(crate) fn live_nodes(&self) -> Vec<i32> {
        self.nodes
            .iter()
            .filter(|n| n.life.borrow().alive)
            .map(|n| n.id)
            .collect()
    }

    /// The live brokers with their addresses.
    pub(crate) fn live_brokers(&self) -> Vec<(i32, String, i32)> {
        self.nodes
            .iter()
            .filter(|n| n.life.borrow().alive)
            .map(|n| {
                let (host, port) = n.endpoint.lock().clone();
                (n.id, host, port)
            })
            .collect()
    }

    /// The controller id Metadata reports: broker 0 while alive, else the lowest live id.
    pub(crate) fn controller_id(&self) -> i32 {
        self.live_nodes()
            .into_iter()
            .min()
            .or_else(|| self.nodes.first().map(|n| n.id))
            .unwrap_or(-1)
    }

    /// The broker that coordinates `key`: spread by the key's hash over the live brokers.
    pub(crate) fn coordinator_for(&self, key: &str, key_type: KeyType) -> Option<i32> {
        routing::coordinator_for(key, key_type, &self.live_nodes())
    }

    /// The channel bumped on every metadata change.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn bump(&self) {
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Closes every client connection of broker `id`.
    pub(crate) fn drop_connections(&self, id: i32) -> bool {
        match self.slot(id) {
            Some(slot) => {
                slot.drop_connections
                    .send_modify(|v| *v = v.wrapping_add(1));
                true
            }
            None => false,
        }
    }

    /// The channel that tells broker `id` to close its connections.
    pub(crate) fn drop_signal(&self, id: i32) -> Option<watch::Receiver<u64>> {
        self.slot(id).map(|s| s.drop_connections.subscribe())
    }

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
    fn topic_partitions(&self, topic: &str) -> Option<(Uuid, Vec<Arc<PartitionControl>>)> {
        self.topics
            .read()
            .get(topic)
            .map(|t| (t.id, t.partitions.clone()))
    }

    /// Every partition control.
    fn all_partitions(&self) -> Vec<Arc<PartitionControl>> {
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
    fn replica(&self, node: i32, pc: &PartitionControl) -> Option<Arc<Partition>> {
        let state = self.node_state(node)?;
        let topic = state.topic(&pc.topic).filter(|t| t.id == pc.topic_id)?;
        topic.partition(pc.index).cloned()
    }

    /// The log end offset of the replica of `pc` on broker `node`.
    fn replica_leo(&self, node: i32, pc: &PartitionControl) -> Option<i64> {
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
    fn after_change(&self, pc: &PartitionControl, metadata: bool) {
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
    fn assign(&self, live: &[i32], from: i32, to: i32, rf: i32) -> Vec<Vec<i32>> {
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
    fn states(&self, origin: &BrokerState) -> Vec<Option<Arc<BrokerState>>> {
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

    // ---- Admin changes ----

    /// Creates a topic on every broker (see the module docs).
    pub(crate) fn create_topic(
        self: &Arc<Self>,
        origin: &BrokerState,
        new: NewTopic,
        validate_only: bool,
    ) -> Result<Arc<crate::state::Topic>, AdminError> {
        let _admin = self.admin.lock();
        let live = self.live_nodes();
        let rf = if new.replication_factor == -1 {
            self.settings.default_replication_factor
        } else {
            new.replication_factor
        };
        // The name, existence and partition checks come first, as in Kafka.
        let checked = origin.create_topic_local(new.clone(), None, true)?;
        let n = i32::try_from(live.len()).unwrap_or(i32::MAX);
        if rf > n {
            return Err(AdminError::new(
                ErrorCode::InvalidReplicationFactor,
                format!(
                    "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only {n} broker(s) are registered."
                ),
            ));
        }
        if validate_only {
            return Ok(checked);
        }
        let id = loop {
            let id = random_uuid();
            if !self.topics.read().values().any(|t| t.id == id) {
                break id;
            }
        };
        let assignment = match &new.assignment {
            Some(a) => a.clone(),
            None => self.assign(&live, 0, new.partitions, rf),
        };
        let partitions: Vec<_> = assignment
            .into_iter()
            .zip(0..)
            .map(|(replicas, i)| Arc::new(PartitionControl::fresh(&new.name, id, i, replicas)))
            .collect();
        self.topics.write().insert(
            new.name.clone(),
            TopicControl {
                id,
                partitions: partitions.clone(),
            },
        );
        let mut created = None;
        let mut done = Vec::new();
        for state in self.states(origin) {
            let target = state.as_deref().unwrap_or(origin);
            match target.create_topic_local(new.clone(), Some(id), false) {
                Ok(t) => {
                    if target.node_id() == origin.node_id() {
                        created = Some(t);
                    }
                    done.push(state);
                }
                Err(e) => {
                    for state in done {
                        let _ = state
                            .as_deref()
                            .unwrap_or(origin)
                            .delete_topic_local(&new.name);
                    }
                    self.topics.write().remove(&new.name);
                    return Err(e);
                }
            }
        }
        self.persist();
        self.bump();
        for pc in &partitions {
            self.spawn_replicas(pc);
        }
        created.ok_or_else(|| {
            AdminError::new(ErrorCode::UnknownServerError, "the topic was not created")
        })
    }

    /// Deletes a topic on every broker.
    pub(crate) fn delete_topic(
        &self,
        origin: &BrokerState,
        name: &str,
    ) -> Result<Arc<crate::state::Topic>, AdminError> {
        let _admin = self.admin.lock();
        let topic = origin.delete_topic_local(name)?;
        for state in self.states(origin).into_iter().flatten() {
            if let Err(e) = state.delete_topic_local(name) {
                tracing::warn!(topic = name, node = state.node_id(), error = %e.message, "topic deletion on a replica failed");
            }
        }
        let removed = self.topics.write().remove(name);
        if let Some(t) = removed {
            for pc in &t.partitions {
                // Follower tasks notice the topic is gone and stop.
                pc.notify();
            }
        }
        self.persist();
        self.bump();
        Ok(topic)
    }

    /// Adds partitions to a topic on every broker.
    pub(crate) fn create_partitions(
        self: &Arc<Self>,
        origin: &BrokerState,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        let _admin = self.admin.lock();
        origin.create_partitions_local(name, count, true)?;
        let Some((id, existing)) = self.topic_partitions(name) else {
            return Err(AdminError::new(
                ErrorCode::UnknownTopicOrPartition,
                format!("The topic '{name}' does not exist."),
            ));
        };
        let live = self.live_nodes();
        let rf = existing.first().map_or(1, |p| p.replicas.len());
        if rf > live.len() {
            return Err(AdminError::new(
                ErrorCode::InvalidReplicationFactor,
                format!(
                    "Unable to replicate the partition {rf} time(s): only {} broker(s) are alive.",
                    live.len()
                ),
            ));
        }
        if validate_only {
            return Ok(());
        }
        let from = i32::try_from(existing.len()).unwrap_or(i32::MAX);
        let added: Vec<_> = self
            .assign(&live, from, count, i32::try_from(rf).unwrap_or(1))
            .into_iter()
            .zip(from..)
            .map(|(replicas, i)| Arc::new(PartitionControl::fresh(name, id, i, replicas)))
            .collect();
        {
            let mut topics = self.topics.write();
            if let Some(t) = topics.get_mut(name) {
                t.partitions.extend(added.iter().cloned());
            }
        }
        let result = origin.create_partitions_local(name, count, false);
        if let Err(e) = result {
            let mut topics = self.topics.write();
            if let Some(t) = topics.get_mut(name) {
                t.partitions.truncate(existing.len());
            }
            return Err(e);
        }
        for state in self.states(origin).into_iter().flatten() {
            if let Err(e) = state.create_partitions_local(name, count, false) {
                tracing::warn!(topic = name, node = state.node_id(), error = %e.message, "adding partitions on a replica failed");
            }
        }
        self.persist();
        self.bump();
        for pc in &added {
            self.spawn_replicas(pc);
        }
        Ok(())
    }

    /// Replaces a topic's configs on every broker.
    pub(crate) fn set_topic_configs(
        &self,
        origin: &BrokerState,
        name: &str,
        overrides: BTreeMap<String, String>,
    ) -> Result<(), AdminError> {
        let _admin = self.admin.lock();
        origin.set_topic_configs_local(name, overrides.clone())?;
        for state in self.states(origin).into_iter().flatten() {
            if let Err(e) = state.set_topic_configs_local(name, overrides.clone()) {
                tracing::warn!(topic = name, node = state.node_id(), error = %e.message, "config change on a replica failed");
            }
        }
        Ok(())
    }

    // ---- Liveness and leadership ----

    /// Marks broker `id` stopped: it leaves every ISR (the last member stays listed), and
    /// every partition it led gets a new leader from the rest of the ISR, or none.
    pub(crate) fn stop_node(&self, id: i32) {
        let _admin = self.admin.lock();
        let Some(slot) = self.slot(id) else { return };
        slot.life.send_modify(|l| {
            l.alive = false;
            l.incarnation += 1;
        });
        for pc in self.all_partitions() {
            if !pc.replicas.contains(&id) {
                continue;
            }
            let leos = self.live_leos(&pc, Some(id));
            let metadata = {
                let mut m = pc.lock();
                let isr_changed = m.shrink(&[id]);
                let was_leader = m.leader == id;
                if was_leader {
                    let next = pc
                        .replicas
                        .iter()
                        .copied()
                        .find(|&n| n != id && m.isr.contains(&n) && self.is_alive(n));
                    let leo = next.and_then(|n| leos.get(&n).copied());
                    m.elect(next.unwrap_or(-1), leo, Instant::now());
                    tracing::info!(topic = %pc.topic, partition = pc.index, from = id, to = m.leader, epoch = m.leader_epoch, "leader moved: broker stopped");
                }
                m.recompute_hw();
                isr_changed || was_leader
            };
            self.after_change(&pc, metadata);
        }
        self.bump();
    }

    /// Marks broker `id` started: partitions left without a leader whose ISR lists it get
    /// it as leader. Its replicas' follower tasks are started by the caller.
    pub(crate) fn start_node(self: &Arc<Self>, id: i32) {
        let _admin = self.admin.lock();
        let Some(slot) = self.slot(id) else { return };
        slot.life.send_modify(|l| {
            l.alive = true;
            l.incarnation += 1;
        });
        for pc in self.all_partitions() {
            if !pc.replicas.contains(&id) {
                continue;
            }
            let leo = self.replica_leo(id, &pc);
            let elected = {
                let mut m = pc.lock();
                if m.leader < 0 && m.isr.contains(&id) {
                    m.elect(id, leo, Instant::now());
                    tracing::info!(topic = %pc.topic, partition = pc.index, leader = id, epoch = m.leader_epoch, "offline partition has a leader again");
                    true
                } else {
                    false
                }
            };
            self.after_change(&pc, elected);
        }
        self.bump();
        self.spawn_node_replicas(id);
    }

    /// The log end offsets of the live replicas of `pc` other than `except`.
    fn live_leos(&self, pc: &PartitionControl, except: Option<i32>) -> HashMap<i32, i64> {
        pc.replicas
            .iter()
            .copied()
            .filter(|&n| Some(n) != except && self.is_alive(n))
            .filter_map(|n| self.replica_leo(n, pc).map(|leo| (n, leo)))
            .collect()
    }

    /// Moves a partition's leadership to `to` (by default the next in-sync replica after the
    /// current leader), with the next leader epoch. `to` must be a live in-sync replica.
    pub(crate) fn move_leader(
        &self,
        topic: &str,
        index: i32,
        to: Option<i32>,
    ) -> Result<PartitionInfo, String> {
        let _admin = self.admin.lock();
        let pc = self
            .partition(topic, index)
            .ok_or_else(|| format!("no partition {topic}-{index}"))?;
        let leos = self.live_leos(&pc, None);
        {
            let mut m = pc.lock();
            let target = match to {
                Some(t) => t,
                None => {
                    let pos = m.isr.iter().position(|&n| n == m.leader).unwrap_or(0);
                    let live: Vec<i32> = (1..=m.isr.len())
                        .map(|k| m.isr[(pos + k) % m.isr.len()])
                        .filter(|&n| self.is_alive(n))
                        .collect();
                    *live.first().ok_or("no live in-sync replica to move to")?
                }
            };
            if !pc.replicas.contains(&target) {
                return Err(format!("broker {target} has no replica of {topic}-{index}"));
            }
            if !self.is_alive(target) {
                return Err(format!("broker {target} is stopped"));
            }
            if !m.isr.contains(&target) {
                return Err(format!(
                    "broker {target} is not in the ISR {:?} of {topic}-{index}",
                    m.isr
                ));
            }
            let from = m.leader;
            m.elect(target, leos.get(&target).copied(), Instant::now());
            m.recompute_hw();
            tracing::info!(
                topic,
                partition = index,
                from,
                to = target,
                epoch = m.leader_epoch,
                "leader moved by a fault"
            );
        }
        self.after_change(&pc, true);
        Ok(pc.info())
    }

    /// Removes `remove` (followers) from a partition's ISR and pauses their fetching for
    /// this partition until the faults are cleared.
    pub(crate) fn shrink_isr(
        &self,
        topic: &str,
        index: i32,
        remove: &[i32],
    ) -> Result<PartitionInfo, String> {
        let _admin = self.admin.lock();
        let pc = self
            .partition(topic, index)
            .ok_or_else(|| format!("no partition {topic}-{index}"))?;
        {
            let mut m = pc.lock();
            if remove.contains(&m.leader) {
                return Err(format!(
                    "broker {} leads {topic}-{index}: move the leader first",
                    m.leader
                ));
            }
            if let Some(n) = remove.iter().find(|n| !pc.replicas.contains(n)) {
                return Err(format!("broker {n} has no replica of {topic}-{index}"));
            }
            m.frozen.extend(remove.iter().copied());
            m.shrink(remove);
            m.recompute_hw();
        }
        self.after_change(&pc, true);
        Ok(pc.info())
    }

    /// Stops a follower's fetching for this partition (a stuck follower) without touching
    /// the ISR: it leaves the ISR once it lags past `replica.lag.time.max.ms`, and catches up
    /// and rejoins after the faults are cleared.
    pub(crate) fn pause_replica(
        &self,
        topic: &str,
        index: i32,
        node: i32,
    ) -> Result<PartitionInfo, String> {
        let pc = self
            .partition(topic, index)
            .ok_or_else(|| format!("no partition {topic}-{index}"))?;
        {
            let mut m = pc.lock();
            if m.leader == node {
                return Err(format!(
                    "broker {node} leads {topic}-{index}: move the leader first"
                ));
            }
            if !pc.replicas.contains(&node) {
                return Err(format!("broker {node} has no replica of {topic}-{index}"));
            }
            m.frozen.insert(node);
        }
        pc.notify();
        Ok(pc.info())
    }

    /// Clears every fault: injected errors, latencies, frozen replicas.
    pub(crate) fn clear_faults(&self) {
        self.faults.clear();
        for pc in self.all_partitions() {
            let thawed = {
                let mut m = pc.lock();
                let any = !m.frozen.is_empty();
                m.frozen.clear();
                any
            };
            if thawed {
                pc.notify();
            }
        }
    }

    // ---- Persistence ----

    /// Writes the assignment file (in a cluster with a data directory).
    fn persist(&self) {
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

    /// Marks every broker stopped without electing anyone (the cluster is shutting down):
    /// follower tasks end.
    pub(crate) fn halt(&self) {
        for slot in &self.nodes {
            slot.life.send_modify(|l| {
                l.alive = false;
                l.incarnation += 1;
            });
        }
    }
}
