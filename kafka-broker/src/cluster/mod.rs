//! Several brokers in one process: the shared controller, replication between the brokers,
//! fault injection and the control plane.
//!
//! [`Cluster::builder`] starts N brokers (node ids 0..N-1), each a
//! [`BrokerState`](crate::BrokerState) with its own listener and its own partition replicas and
//! logs (data directory `<data-dir>/node-<id>/` when N > 1; a single broker keeps the plain
//! layout). They share one `ClusterController`: topic assignments (replicas, preferred leader
//! first), each partition's leader, leader epoch, ISR and high watermark
//! (`partition::PartitionControl`), and which brokers are alive. Broker 0 is the controller
//! Metadata names while it is alive (then the lowest live id). Every broker also keeps the
//! topic registry (names, ids, configs, partition counts) in step, so any broker answers
//! Metadata truthfully and refuses requests for partitions it does not lead with
//! NOT_LEADER_OR_FOLLOWER.
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
//! 5. a partition's `PartitionControl` lock;
//! 6. a replica's log lock, then its producer state, then its waiter list (`state`).
//!
//! The fault registry, the node slots' endpoint locks and the group coordinator's lock are
//! leaves. No lock is held across an `.await`. An election needs the new leader's log end,
//! which it reads before taking the partition lock (through the registry, level 2) and
//! re-reads under it from the replica's log (level 6).
//!
//!
//! Modules: `nodes` (the brokers, their liveness and addresses), `topics` (the topic map,
//! assignment, the assignment file, waits), `admin` (admin changes on every broker),
//! `leadership` (stops, starts, elections and fault-driven changes), `partition` (one
//! partition's state), `replication` (the follower tasks and the ISR ticker), `runtime`
//! ([`ClusterError`], the running cluster's shared core), `builder` ([`Cluster`],
//! [`ClusterBuilder`]), `handle` ([`ClusterHandle`]), `faults` (injected errors, dropped
//! responses, latency), `versions` (`--as-version` tables), `control` (the HTTP/JSON control
//! endpoint), `store` (the assignment file).

mod admin;
mod builder;
pub(crate) mod control;
pub(crate) mod faults;
mod handle;
mod leadership;
mod nodes;
pub(crate) mod partition;
mod replication;
mod runtime;
mod store;
mod topics;
pub(crate) mod versions;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

pub use builder::{Cluster, ClusterBuilder};
pub use faults::{Fault, FaultAction, FaultScope};
pub use handle::ClusterHandle;
pub use partition::{PartitionInfo, PartitionWaitTimeout};
pub use runtime::{BrokerInfo, ClusterError};
pub use versions::KafkaRelease;

pub(crate) use nodes::NodeLife;
use nodes::NodeSlot;
use partition::{PartitionControl, PartitionMeta};
use topics::TopicControl;

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
}
