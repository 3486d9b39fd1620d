//! The broker's state: its identity, the topic registry, and each partition's log.
//!
//! Topics are immutable snapshots (`Arc<Topic>`): an admin change (new partitions, new
//! configs) builds a new snapshot that shares the old partitions, and swaps it into the
//! registry. Request handlers take a snapshot under a short read lock and then work on the
//! partitions without the registry lock, so a long fetch never blocks an admin request.
//!
//! Lock order: the registry lock, then a partition's log lock, then its producer state, then
//! its waiter list. Nothing takes the registry lock while holding a log lock, and no lock is
//! held across an `.await`.
//!
//! With a data directory the registry is persisted by the metadata store after every change,
//! while the registry's write lock is held, so the file always matches memory.
//!
//! Admin changes go through the cluster controller (`cluster`), which applies them to every
//! broker's registry (the `*_local` methods); a partition's leader, ISR and high watermark
//! live there too. A broker holds a log only for the partitions it has a replica of; its
//! other partitions are placeholders without a log (their requests are refused as not led
//! here before any log is looked at). See `cluster` for the lock order across brokers.
//!
//! Modules: `topic` (a topic snapshot and a partition replica), `admin` (admin changes to
//! the registry, and the errors they refuse with).

mod admin;
mod topic;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use kafka_protocol::Uuid;
use parking_lot::RwLock;

use crate::BrokerError;
use crate::cluster::ClusterController;
use crate::config::{BrokerConfig, TopicSettings};
use crate::group::GroupService;
use crate::log::{FileLog, Log, LogConfig, LogError, MemoryLog};
use crate::producer::ProducerIdStore;
use crate::server::metadata_store::MetadataStore;

pub(crate) use admin::{AdminError, NewTopic};
pub(crate) use topic::Partition;
pub use topic::Topic;

/// Everything a broker knows: what request handlers read and change.
///
/// Reachable without a network through [`BrokerBuilder::build_state`](crate::BrokerBuilder::build_state),
/// so a fuzz target can feed frames to [`BrokerState::handle_frame`].
#[derive(Debug)]
pub struct BrokerState {
    config: BrokerConfig,
    cluster_id: String,
    advertised_host: String,
    advertised_port: i32,
    /// Guards the topic registry: names, ids, partition lists and configs. Held for writing
    /// for the whole of an admin change (including persisting it), for reading only long
    /// enough to clone a topic snapshot.
    topics: RwLock<Registry>,
    /// Persists topic metadata when the broker has a data directory.
    store: Option<MetadataStore>,
    /// Producer ids and transactional-id bindings (InitProducerId); shared by the brokers
    /// of a cluster, so ids are unique cluster-wide.
    producer_ids: Arc<ProducerIdStore>,
    /// The group coordinator: classic groups and committed offsets (behind its own lock, a
    /// leaf: see `group::service`). Shared by the brokers of a cluster, each answering for
    /// the groups routed to it (`cluster`).
    groups: Arc<GroupService>,
    /// The cluster controller: assignments, leaders, ISRs, high watermarks, liveness,
    /// faults. A broker started alone has one of its own.
    cluster: Arc<ClusterController>,
}

/// What the brokers of a cluster share, handed to each broker's state when it opens.
#[derive(Debug, Clone)]
pub(crate) struct NodeShared {
    pub cluster: Arc<ClusterController>,
    pub producer_ids: Arc<ProducerIdStore>,
    pub groups: Arc<GroupService>,
}

#[derive(Debug, Default)]
struct Registry {
    by_name: HashMap<String, Arc<Topic>>,
    by_id: HashMap<Uuid, String>,
}

impl BrokerState {
    /// Opens the state: loads (or creates) the data directory's metadata and opens every
    /// partition log. `advertised` is what Metadata tells clients to connect to.
    pub(crate) fn open(
        config: BrokerConfig,
        advertised_host: String,
        advertised_port: i32,
    ) -> Result<Self, BrokerError> {
        Self::open_node(config, advertised_host, advertised_port, None)
    }

    /// [`open`](Self::open) as one broker of a cluster, with what the brokers share; alone
    /// (`shared` is `None`) the broker gets a controller, producer ids and groups of its own.
    pub(crate) fn open_node(
        config: BrokerConfig,
        advertised_host: String,
        advertised_port: i32,
        shared: Option<NodeShared>,
    ) -> Result<Self, BrokerError> {
        let store = match &config.data_dir {
            Some(dir) => Some(MetadataStore::open(dir)?),
            None => None,
        };
        let cluster_id = match &store {
            Some(store) => store.cluster_id(config.node_id, config.cluster_id.as_deref())?,
            None => config
                .cluster_id
                .clone()
                .unwrap_or_else(|| MetadataStore::encode_uuid(random_uuid())),
        };
        let lone = shared.is_none();
        let shared = match shared {
            Some(shared) => shared,
            None => NodeShared {
                cluster: ClusterController::single(config.node_id),
                producer_ids: Arc::new(ProducerIdStore::open(config.data_dir.as_deref())?),
                groups: Arc::new(GroupService::open(
                    config.groups,
                    config.node_id,
                    config.data_dir.as_deref(),
                )?),
            },
        };
        let NodeShared {
            cluster,
            producer_ids,
            groups,
        } = shared;
        let mut state = Self {
            config,
            cluster_id,
            advertised_host,
            advertised_port,
            topics: RwLock::new(Registry::default()),
            store,
            producer_ids,
            groups,
            cluster,
        };
        state.load_topics()?;
        if lone {
            state.cluster.recover_watermarks(Some(&state));
        }
        Ok(state)
    }

    fn load_topics(&mut self) -> Result<(), BrokerError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let mut registry = Registry::default();
        for rec in store.load_topics()? {
            let settings = TopicSettings::resolve(&self.config.log_config, &rec.configs);
            self.cluster.adopt_topic(&rec.name, rec.id, rec.partitions);
            let mut partitions = Vec::new();
            for p in 0..rec.partitions {
                if !self.cluster.hosts(&rec.name, p, self.config.node_id) {
                    partitions.push(Arc::new(Partition::absent()));
                    continue;
                }
                let log = self
                    .open_log(&rec.name, p, &settings.log)
                    .map_err(|source| BrokerError::Log {
                        topic: rec.name.clone(),
                        partition: p,
                        source,
                    })?;
                let dir = self.partition_dir(&rec.name, p);
                partitions.push(Arc::new(Partition::new(log, dir)));
            }
            registry.by_id.insert(rec.id, rec.name.clone());
            let topic = Topic {
                name: rec.name.clone(),
                id: rec.id,
                overrides: rec.configs,
                settings,
                partitions,
            };
            registry.by_name.insert(rec.name, Arc::new(topic));
        }
        *self.topics.get_mut() = registry;
        Ok(())
    }

    /// The log of a new or reopened partition: in memory, or in the data directory.
    fn open_log(
        &self,
        topic: &str,
        partition: i32,
        config: &LogConfig,
    ) -> Result<Box<dyn Log>, LogError> {
        match &self.store {
            Some(store) => Ok(Box::new(FileLog::open(
                store.partition_dir(topic, partition),
                config.clone(),
            )?)),
            None => Ok(Box::new(MemoryLog::new(config.clone()))),
        }
    }

    /// A partition's directory, when the broker has a data directory.
    fn partition_dir(&self, topic: &str, partition: i32) -> Option<PathBuf> {
        self.store
            .as_ref()
            .map(|s| s.partition_dir(topic, partition))
    }

    /// The producer-id coordinator.
    pub(crate) fn producer_ids(&self) -> &ProducerIdStore {
        &self.producer_ids
    }

    /// The group coordinator.
    pub(crate) fn groups(&self) -> &GroupService {
        &self.groups
    }

    /// The cluster controller.
    pub(crate) fn cluster(&self) -> &Arc<ClusterController> {
        &self.cluster
    }

    /// The settings the broker runs with.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// This broker's node id.
    pub fn node_id(&self) -> i32 {
        self.config.node_id
    }

    /// The host and port clients are told to connect to.
    pub fn advertised(&self) -> (&str, i32) {
        (&self.advertised_host, self.advertised_port)
    }

    /// The topic with this name.
    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().by_name.get(name).cloned()
    }

    /// The topic with this id.
    pub fn topic_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        let reg = self.topics.read();
        reg.by_id.get(&id).and_then(|n| reg.by_name.get(n)).cloned()
    }

    /// Every topic, by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        let mut all: Vec<_> = self.topics.read().by_name.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Applies every partition's retention as of `now_ms`; returns the segments deleted.
    pub fn apply_retention(&self, now_ms: i64) -> usize {
        let mut deleted = 0;
        for topic in self.topics() {
            for (i, p) in topic.partitions.iter().enumerate() {
                let Some(mut log) = p.log() else { continue };
                match log.apply_retention(now_ms) {
                    Ok(n) => deleted += n,
                    Err(e) => {
                        tracing::warn!(topic = %topic.name, partition = i, error = %e, "retention failed");
                    }
                }
                p.producers().remove_expired(now_ms);
            }
        }
        deleted
    }

    /// Flushes every partition log to stable storage.
    pub fn flush(&self) -> Result<(), BrokerError> {
        self.each_log(|log| log.flush())
    }

    /// Flushes every partition log and marks it cleanly shut down (the broker is stopping;
    /// appends after this are still allowed and withdraw the mark).
    pub fn close(&self) -> Result<(), BrokerError> {
        let closed = self.each_log(|log| log.close());
        self.save_producer_state();
        let groups = self.groups.close();
        closed.and(groups)
    }

    /// Runs `f` on every partition log; returns the first failure after trying them all.
    fn each_log(
        &self,
        mut f: impl FnMut(&mut dyn Log) -> Result<(), LogError>,
    ) -> Result<(), BrokerError> {
        let mut first = None;
        for topic in self.topics() {
            for (i, p) in topic.partitions.iter().enumerate() {
                let Some(mut log) = p.log() else { continue };
                if let Err(source) = f(&mut *log) {
                    tracing::error!(topic = %topic.name, partition = i, error = %source, "log flush failed");
                    first.get_or_insert(BrokerError::Log {
                        topic: topic.name.clone(),
                        partition: i32::try_from(i).unwrap_or(i32::MAX),
                        source,
                    });
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A random version-4 UUID, never zero and never one whose base64 form starts with '-'
/// (Kafka's `Uuid.randomUuid` rules: such ids are awkward on command lines).
pub(crate) fn random_uuid() -> Uuid {
    loop {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&random_u64().to_be_bytes());
        b[8..].copy_from_slice(&random_u64().to_be_bytes());
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let id = Uuid(b);
        // Base64 '-' is digit 62: the top six bits of the first byte.
        if id != Uuid::ZERO && b[0] >> 2 != 62 {
            return id;
        }
    }
}

/// 64 unpredictable bits without a dependency: SipHash with the standard library's
/// per-process random keys, over a counter and the clock.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_v4_and_distinct() {
        let a = random_uuid();
        let b = random_uuid();
        assert_ne!(a, b);
        assert_eq!(a.0[6] >> 4, 4);
    }
}
