//! Admin changes to a broker's topic registry: creating and deleting topics, adding
//! partitions and replacing configs. The public entry points go through the cluster
//! controller, which applies the change to every broker with the `*_local` methods; each
//! of those persists the registry before swapping the new snapshot in.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::{ErrorCode, Uuid};

use super::topic::{Partition, Topic};
use super::{BrokerState, Registry, random_uuid};
use crate::config::{self, TopicSettings};
use crate::log::LogConfig;
use crate::server::metadata_store::TopicRecord;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrokerConfig;

    fn state() -> BrokerState {
        BrokerState::open(BrokerConfig::default(), "127.0.0.1".into(), 9092).unwrap()
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
