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

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use kafka_protocol::{ErrorCode, Uuid};
use parking_lot::{MappedMutexGuard, Mutex, MutexGuard, RwLock};
use tokio::sync::Notify;

use crate::BrokerError;
use crate::cluster::ClusterController;
use crate::config::{self, BrokerConfig, TopicSettings};
use crate::group::GroupService;
use crate::log::{FileLog, Log, LogConfig, LogError, MemoryLog};
use crate::producer::{PartitionProducers, ProducerIdStore};
use crate::server::metadata_store::{MetadataStore, TopicRecord};

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

/// One topic: an immutable snapshot of its metadata and its partitions.
#[derive(Debug)]
pub struct Topic {
    /// The name.
    pub name: String,
    /// The topic id.
    pub id: Uuid,
    /// The configs set on the topic (validated), by name.
    pub(crate) overrides: BTreeMap<String, String>,
    /// What the topic runs with (overrides on top of the broker defaults).
    pub(crate) settings: TopicSettings,
    /// The partitions, by index.
    pub(crate) partitions: Vec<Arc<Partition>>,
}

impl Topic {
    /// The partition with this index.
    pub(crate) fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }

    /// How many partitions the topic has.
    pub fn partition_count(&self) -> i32 {
        // The count is capped at MAX_PARTITIONS when created, so this never saturates.
        i32::try_from(self.partitions.len()).unwrap_or(i32::MAX)
    }
}

/// One partition: its log, and the fetches waiting for it to grow.
#[derive(Debug)]
pub(crate) struct Partition {
    /// Guards the partition's log: appends, reads, retention and config changes. `None` once
    /// the topic is deleted, so a request holding an older snapshot cannot write into a
    /// directory that a new topic of the same name may be reusing.
    log: Mutex<Option<Box<dyn Log>>>,
    /// Guards the partition's idempotent-producer state; taken after the log lock, so that a
    /// check, the append and the record of it are one step.
    producers: Mutex<PartitionProducers>,
    /// Guards the wakers of fetches parked until this partition gets new data.
    waiters: Mutex<Vec<Arc<Notify>>>,
}

impl Partition {
    /// A partition this broker has no replica of: no log (see the module docs).
    fn absent() -> Self {
        Self {
            log: Mutex::new(None),
            producers: Mutex::new(PartitionProducers::load(None, &MemoryLog::default(), 0)),
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// A partition over `log`, with its producer state rebuilt from `dir` and the log.
    fn new(log: Box<dyn Log>, dir: Option<PathBuf>) -> Self {
        let producers = PartitionProducers::load(dir, &*log, now_ms());
        Self {
            log: Mutex::new(Some(log)),
            producers: Mutex::new(producers),
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// Locks the log; `None` if the partition's topic has been deleted.
    pub(crate) fn log(&self) -> Option<MappedMutexGuard<'_, dyn Log>> {
        MutexGuard::try_map(self.log.lock(), |l| l.as_deref_mut()).ok()
    }

    /// Locks the producer state (after the log, if both are needed).
    pub(crate) fn producers(&self) -> MutexGuard<'_, PartitionProducers> {
        self.producers.lock()
    }

    /// Takes the log out (topic deletion): later requests find the partition gone.
    fn detach(&self) -> Option<Box<dyn Log>> {
        self.log.lock().take()
    }

    /// Registers a parked fetch's waker, to be notified by the next append.
    pub(crate) fn park(&self, waker: &Arc<Notify>) {
        let mut waiters = self.waiters.lock();
        // Wakers whose fetch has finished are only referenced from here: drop them, so an
        // idle partition polled by a long-poll consumer does not collect one per poll.
        waiters.retain(|w| Arc::strong_count(w) > 1);
        if !waiters.iter().any(|w| Arc::ptr_eq(w, waker)) {
            waiters.push(Arc::clone(waker));
        }
    }

    /// Wakes every fetch parked on this partition (after an append).
    pub(crate) fn wake(&self) {
        let waiters = std::mem::take(&mut *self.waiters.lock());
        for w in waiters {
            // notify_one stores a permit if the fetch is between checks, so no wakeup is lost.
            w.notify_one();
        }
    }
}

/// An admin operation refused, with the error code and message Kafka would give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AdminError {
    pub code: ErrorCode,
    pub message: String,
}

impl AdminError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A topic to create.
#[derive(Debug, Clone)]
pub(crate) struct NewTopic {
    pub name: String,
    pub partitions: i32,
    /// Already validated.
    pub overrides: BTreeMap<String, String>,
    /// Replicas per partition; -1 for the cluster's default.
    pub replication_factor: i32,
    /// Replicas of each partition, when the request assigns them (already validated).
    pub assignment: Option<Vec<Vec<i32>>>,
}

impl NewTopic {
    /// A topic with the cluster's default replication factor and placement.
    pub(crate) fn new(name: String, partitions: i32, overrides: BTreeMap<String, String>) -> Self {
        Self {
            name,
            partitions,
            overrides,
            replication_factor: -1,
            assignment: None,
        }
    }
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

    /// Creates a topic on every broker (or, with `validate_only`, checks that it could be
    /// created), through the cluster controller.
    pub(crate) fn create_topic(
        &self,
        new: NewTopic,
        validate_only: bool,
    ) -> Result<Arc<Topic>, AdminError> {
        Arc::clone(&self.cluster).create_topic(self, new, validate_only)
    }

    /// Deletes a topic on every broker, through the cluster controller.
    pub(crate) fn delete_topic(&self, name: &str) -> Result<Arc<Topic>, AdminError> {
        self.cluster.delete_topic(self, name)
    }

    /// Raises a topic's partition count on every broker, through the cluster controller.
    pub(crate) fn create_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        Arc::clone(&self.cluster).create_partitions(self, name, count, validate_only)
    }

    /// Replaces a topic's configs on every broker, through the cluster controller.
    pub(crate) fn set_topic_configs(
        &self,
        name: &str,
        overrides: BTreeMap<String, String>,
    ) -> Result<(), AdminError> {
        self.cluster.set_topic_configs(self, name, overrides)
    }

    /// Creates a topic in this broker's registry (with id `id`, else a new one), opening
    /// logs for the partitions it holds replicas of; or with `validate_only`, checks it.
    pub(crate) fn create_topic_local(
        &self,
        new: NewTopic,
        id: Option<Uuid>,
        validate_only: bool,
    ) -> Result<Arc<Topic>, AdminError> {
        config::validate_topic_name(&new.name)
            .map_err(|m| AdminError::new(ErrorCode::InvalidTopicException, m))?;
        if new.partitions < 1 || new.partitions > config::MAX_PARTITIONS {
            return Err(AdminError::new(
                ErrorCode::InvalidPartitions,
                format!(
                    "Number of partitions must be between 1 and {} (got {}).",
                    config::MAX_PARTITIONS,
                    new.partitions
                ),
            ));
        }
        let mut reg = self.topics.write();
        if reg.by_name.contains_key(&new.name) {
            return Err(AdminError::new(
                ErrorCode::TopicAlreadyExists,
                format!("Topic '{}' already exists.", new.name),
            ));
        }
        let unified = config::unify_topic_name(&new.name);
        if let Some(other) = reg
            .by_name
            .keys()
            .find(|n| config::unify_topic_name(n) == unified)
        {
            return Err(AdminError::new(
                ErrorCode::InvalidTopicException,
                format!("Topic '{}' collides with existing topic: {other}", new.name),
            ));
        }
        let settings = TopicSettings::resolve(&self.config.log_config, &new.overrides);
        let id = match id {
            Some(id) => id,
            None => {
                let mut id = random_uuid();
                while reg.by_id.contains_key(&id) {
                    id = random_uuid();
                }
                id
            }
        };
        if validate_only {
            return Ok(Arc::new(Topic {
                name: new.name,
                id: Uuid::ZERO,
                overrides: new.overrides,
                settings,
                partitions: Vec::new(),
            }));
        }
        let partitions = self.open_partitions(&new.name, 0, new.partitions, &settings.log)?;
        let topic = Arc::new(Topic {
            name: new.name.clone(),
            id,
            overrides: new.overrides,
            settings,
            partitions,
        });
        let mut records = records_of(&reg);
        records.push(record_of(&topic));
        if let Err(e) = self.persist(&records) {
            self.remove_partition_dirs(&topic.name, 0, topic.partition_count());
            return Err(e);
        }
        reg.by_id.insert(id, new.name.clone());
        reg.by_name.insert(new.name, Arc::clone(&topic));
        Ok(topic)
    }

    /// Deletes a topic, its partitions and their data from this broker.
    pub(crate) fn delete_topic_local(&self, name: &str) -> Result<Arc<Topic>, AdminError> {
        let mut reg = self.topics.write();
        let Some(topic) = reg.by_name.get(name).cloned() else {
            return Err(AdminError::new(
                ErrorCode::UnknownTopicOrPartition,
                "This server does not host this topic-partition.",
            ));
        };
        let records: Vec<_> = records_of(&reg)
            .into_iter()
            .filter(|r| r.name != name)
            .collect();
        self.persist(&records)?;
        reg.by_name.remove(name);
        reg.by_id.remove(&topic.id);
        for p in &topic.partitions {
            // Close the files before removing them; parked fetches re-resolve the topic when
            // woken and find it gone.
            drop(p.detach());
            p.wake();
        }
        // Still under the registry lock: a topic of the same name cannot be created (and
        // open these directories) until they are gone.
        self.remove_partition_dirs(name, 0, topic.partition_count());
        // Also under the registry lock, so a re-created topic never sees the old offsets.
        self.groups.topic_deleted(name);
        Ok(topic)
    }

    /// Raises a topic's partition count to `count` in this broker's registry.
    pub(crate) fn create_partitions_local(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        let mut reg = self.topics.write();
        let Some(topic) = reg.by_name.get(name).cloned() else {
            return Err(AdminError::new(
                ErrorCode::UnknownTopicOrPartition,
                format!("The topic '{name}' does not exist."),
            ));
        };
        let current = topic.partition_count();
        if count < current {
            return Err(AdminError::new(
                ErrorCode::InvalidPartitions,
                format!(
                    "Topic currently has {current} partitions, which is higher than the requested {count}."
                ),
            ));
        }
        if count == current {
            return Err(AdminError::new(
                ErrorCode::InvalidPartitions,
                format!("Topic already has {current} partitions."),
            ));
        }
        if count > config::MAX_PARTITIONS {
            return Err(AdminError::new(
                ErrorCode::InvalidPartitions,
                format!(
                    "This broker allows at most {} partitions per topic.",
                    config::MAX_PARTITIONS
                ),
            ));
        }
        if validate_only {
            return Ok(());
        }
        let mut partitions = topic.partitions.clone();
        partitions.extend(self.open_partitions(name, current, count, &topic.settings.log)?);
        let new = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            overrides: topic.overrides.clone(),
            settings: topic.settings.clone(),
            partitions,
        });
        self.swap(&mut reg, new)
            .inspect_err(|_| self.remove_partition_dirs(name, current, count))
    }

    /// Replaces a topic's config overrides (already validated) and reconfigures its logs,
    /// in this broker's registry.
    pub(crate) fn set_topic_configs_local(
        &self,
        name: &str,
        overrides: BTreeMap<String, String>,
    ) -> Result<(), AdminError> {
        let mut reg = self.topics.write();
        let Some(topic) = reg.by_name.get(name).cloned() else {
            return Err(AdminError::new(
                ErrorCode::UnknownTopicOrPartition,
                "Unknown topic.",
            ));
        };
        let settings = TopicSettings::resolve(&self.config.log_config, &overrides);
        let new = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            overrides,
            settings: settings.clone(),
            partitions: topic.partitions.clone(),
        });
        self.swap(&mut reg, new)?;
        for p in &topic.partitions {
            if let Some(mut log) = p.log() {
                log.set_config(settings.log.clone());
            }
        }
        Ok(())
    }

    /// Persists the registry with `topic` replacing its namesake, then swaps it in.
    fn swap(&self, reg: &mut Registry, topic: Arc<Topic>) -> Result<(), AdminError> {
        let mut records: Vec<_> = records_of(reg)
            .into_iter()
            .filter(|r| r.name != topic.name)
            .collect();
        records.push(record_of(&topic));
        self.persist(&records)?;
        reg.by_name.insert(topic.name.clone(), topic);
        Ok(())
    }

    fn open_partitions(
        &self,
        topic: &str,
        from: i32,
        to: i32,
        config: &LogConfig,
    ) -> Result<Vec<Arc<Partition>>, AdminError> {
        let mut out = Vec::new();
        for p in from..to {
            // The registry says this partition does not exist: a directory of that name is
            // debris of an interrupted deletion or creation, not data to adopt.
            self.remove_partition_dirs(topic, p, p + 1);
            if !self.cluster.hosts(topic, p, self.config.node_id) {
                out.push(Arc::new(Partition::absent()));
                continue;
            }
            match self.open_log(topic, p, config) {
                Ok(log) => out.push(Arc::new(Partition::new(log, self.partition_dir(topic, p)))),
                Err(e) => {
                    tracing::error!(topic, partition = p, error = %e, "cannot create partition log");
                    self.remove_partition_dirs(topic, from, p);
                    return Err(AdminError::new(ErrorCode::KafkaStorageError, e.to_string()));
                }
            }
        }
        Ok(out)
    }

    fn persist(&self, records: &[TopicRecord]) -> Result<(), AdminError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        store.save_topics(records).map_err(|e| {
            tracing::error!(error = %e, "cannot persist topic metadata");
            AdminError::new(ErrorCode::KafkaStorageError, e.to_string())
        })
    }

    fn remove_partition_dirs(&self, topic: &str, from: i32, to: i32) {
        if let Some(store) = &self.store {
            for p in from..to {
                store.remove_partition_dir(topic, p);
            }
        }
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

fn record_of(topic: &Topic) -> TopicRecord {
    TopicRecord {
        name: topic.name.clone(),
        id: topic.id,
        partitions: topic.partition_count(),
        configs: topic.overrides.clone(),
    }
}

fn records_of(reg: &Registry) -> Vec<TopicRecord> {
    let mut out: Vec<_> = reg.by_name.values().map(|t| record_of(t)).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
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

    fn state() -> BrokerState {
        BrokerState::open(BrokerConfig::default(), "127.0.0.1".into(), 9092).unwrap()
    }

    #[test]
    fn random_ids_are_v4_and_distinct() {
        let a = random_uuid();
        let b = random_uuid();
        assert_ne!(a, b);
        assert_eq!(a.0[6] >> 4, 4);
    }

    #[test]
    fn create_delete_and_grow() {
        let s = state();
        let new = |name: &str, partitions| NewTopic::new(name.into(), partitions, BTreeMap::new());
        let t = s.create_topic(new("a.b", 2), false).unwrap();
        assert_eq!(s.topic_by_id(t.id).unwrap().name, "a.b");
        let e = s.create_topic(new("a.b", 1), false).unwrap_err();
        assert_eq!(e.code, ErrorCode::TopicAlreadyExists);
        let e = s.create_topic(new("a_b", 1), false).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTopicException);
        let e = s.create_topic(new("c", 0), false).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidPartitions);
        assert_eq!(
            s.create_partitions("a.b", 2, false).unwrap_err().code,
            ErrorCode::InvalidPartitions
        );
        s.create_partitions("a.b", 5, false).unwrap();
        assert_eq!(s.topic("a.b").unwrap().partition_count(), 5);
        s.delete_topic("a.b").unwrap();
        assert!(s.topic("a.b").is_none());
        assert!(s.topic_by_id(t.id).is_none());
    }
}
