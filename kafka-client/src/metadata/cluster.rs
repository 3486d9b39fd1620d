//! An immutable view of the cluster: brokers, controller, topics, partitions and leaders.
//!
//! The cache hands out `Arc<Cluster>` snapshots, so readers never hold a lock while they look
//! at leaders, and a snapshot stays consistent however long a caller keeps it.

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::{ErrorCode, Uuid};

use crate::connection::BrokerAddress;

/// A broker as the metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct BrokerInfo {
    /// Node id.
    pub id: i32,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Rack, when configured.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// A broker.
    pub fn new(id: i32, host: impl Into<String>, port: u16, rack: Option<String>) -> Self {
        Self {
            id,
            host: host.into(),
            port,
            rack,
        }
    }

    /// Where to connect.
    pub fn address(&self) -> BrokerAddress {
        BrokerAddress::new(self.id, self.host.clone(), self.port)
    }
}

/// One partition's replicas and leader.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionMetadata {
    /// Partition index.
    pub partition: i32,
    /// Leader node, `None` while there is none.
    pub leader: Option<i32>,
    /// Leader epoch (-1 when the broker did not send one).
    pub leader_epoch: i32,
    /// All replicas.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Offline replicas.
    pub offline_replicas: Vec<i32>,
    /// The partition's error in the metadata response (e.g. LEADER_NOT_AVAILABLE).
    pub error: Option<ErrorCode>,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicMetadata {
    /// Name.
    pub name: String,
    /// Topic id (zero when the broker predates topic ids).
    pub id: Uuid,
    /// Whether it is internal (`__consumer_offsets`, ...).
    pub is_internal: bool,
    /// The topic's error in the metadata response (e.g. UNKNOWN_TOPIC_OR_PARTITION).
    pub error: Option<ErrorCode>,
    /// Partitions, sorted by index.
    pub partitions: Vec<PartitionMetadata>,
}

impl TopicMetadata {
    /// The partition with index `partition`.
    pub fn partition(&self, partition: i32) -> Option<&PartitionMetadata> {
        // Partitions are sorted and usually dense, so try the index first.
        match self.partitions.get(partition as usize) {
            Some(p) if p.partition == partition => Some(p),
            _ => self
                .partitions
                .binary_search_by_key(&partition, |p| p.partition)
                .ok()
                .map(|i| &self.partitions[i]),
        }
    }
}

/// A snapshot of the cluster metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cluster {
    pub(crate) cluster_id: Option<String>,
    pub(crate) controller_id: Option<i32>,
    pub(crate) brokers: BTreeMap<i32, BrokerInfo>,
    pub(crate) topics: HashMap<String, TopicMetadata>,
    pub(crate) topic_names: HashMap<Uuid, String>,
}

impl Cluster {
    /// The cluster id.
    pub fn cluster_id(&self) -> Option<&str> {
        self.cluster_id.as_deref()
    }

    /// The node id the metadata names as controller (in KRaft mode, a broker that forwards
    /// controller requests).
    pub fn controller_id(&self) -> Option<i32> {
        self.controller_id
    }

    /// Every broker, by id.
    pub fn brokers(&self) -> impl Iterator<Item = &BrokerInfo> {
        self.brokers.values()
    }

    /// The broker with id `id`.
    pub fn broker(&self, id: i32) -> Option<&BrokerInfo> {
        self.brokers.get(&id)
    }

    /// Every topic the cache knows.
    pub fn topics(&self) -> impl Iterator<Item = &TopicMetadata> {
        self.topics.values()
    }

    /// A topic by name.
    pub fn topic(&self, name: &str) -> Option<&TopicMetadata> {
        self.topics.get(name)
    }

    /// A topic's name from its id.
    pub fn topic_name(&self, id: Uuid) -> Option<&str> {
        self.topic_names.get(&id).map(String::as_str)
    }

    /// A topic's id.
    pub fn topic_id(&self, name: &str) -> Option<Uuid> {
        self.topics
            .get(name)
            .map(|t| t.id)
            .filter(|id| *id != Uuid::ZERO)
    }

    /// How many partitions a topic has (0 for a topic with an error).
    pub fn partition_count(&self, topic: &str) -> Option<usize> {
        self.topics.get(topic).map(|t| t.partitions.len())
    }

    /// A partition's metadata.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionMetadata> {
        self.topics.get(topic)?.partition(partition)
    }

    /// The leader of a partition and its epoch, when both the partition and the leader
    /// broker are known.
    pub fn leader_for(&self, topic: &str, partition: i32) -> Option<(&BrokerInfo, i32)> {
        let p = self.partition(topic, partition)?;
        let broker = self.brokers.get(&p.leader?)?;
        Some((broker, p.leader_epoch))
    }
}
