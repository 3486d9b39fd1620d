//! Admin changes through the controller (see the module docs of `cluster`): creating and
//! deleting topics, adding partitions and changing configs, checked once and then applied
//! to every broker's registry.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::ErrorCode;

use super::partition::PartitionControl;
use super::{ClusterController, TopicControl};
use crate::state::{AdminError, BrokerState, NewTopic, random_uuid};

impl ClusterController {
    // ---- Admin changes ----

    /// Creates a topic on every broker (see the `cluster` module docs).
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
}
