//! Topic changes, sent to the controller: `create_topics` (CreateTopics), `delete_topics` and
//! `delete_topics_by_id` (DeleteTopics) and `create_partitions` (CreatePartitions).
//!
//! Only errors that mean a change was not attempted are retried (NOT_CONTROLLER, after which
//! the metadata is refreshed to find the new controller, and THROTTLING_QUOTA_EXCEEDED); see
//! [`Policy::Change`](crate::retry::Policy) for why a timed-out change is not repeated.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use kafka_client::Target;
use kafka_protocol::messages::RequestBody;
use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsRequest, CreatePartitionsTopic,
};
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
};
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_request::{DeleteTopicState, DeleteTopicsRequest};
use kafka_protocol::{ApiKey, KStr, Uuid};

use crate::client::{expect_response, remaining_ms};
use crate::configs::{ConfigEntry, ConfigSource};
use crate::retry::{Outcome, Policy, merge_refused, run_rounds, split_duplicates};
use crate::{AdminClient, AdminError, AdminOptions};

/// A topic to create.
///
/// ```
/// use kafka_admin::NewTopic;
///
/// let sized = NewTopic::new("events", 6, 3).config("cleanup.policy", "compact");
/// let defaults = NewTopic::with_defaults("logs");
/// let placed = NewTopic::with_assignment("pinned", [(0, vec![1, 2]), (1, vec![2, 3])]);
/// assert_eq!(placed.replica_assignment.len(), 2);
/// # let _ = (sized, defaults);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewTopic {
    /// Name.
    pub name: String,
    /// Partition count (`None`: the broker's `num.partitions`).
    pub num_partitions: Option<i32>,
    /// Replication factor (`None`: the broker's `default.replication.factor`).
    pub replication_factor: Option<i16>,
    /// Explicit placement: partition index to broker ids, preferred leader first. When set,
    /// leave the partition count and replication factor unset.
    pub replica_assignment: BTreeMap<i32, Vec<i32>>,
    /// Config overrides.
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// A topic with `num_partitions` partitions of `replication_factor` replicas each.
    pub fn new(name: impl Into<String>, num_partitions: i32, replication_factor: i16) -> Self {
        Self {
            num_partitions: Some(num_partitions),
            replication_factor: Some(replication_factor),
            ..Self::with_defaults(name)
        }
    }

    /// A topic with the broker's default partition count and replication factor.
    pub fn with_defaults(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            num_partitions: None,
            replication_factor: None,
            replica_assignment: BTreeMap::new(),
            configs: BTreeMap::new(),
        }
    }

    /// A topic placed explicitly: partition index to broker ids.
    pub fn with_assignment(
        name: impl Into<String>,
        assignment: impl IntoIterator<Item = (i32, Vec<i32>)>,
    ) -> Self {
        Self {
            replica_assignment: assignment.into_iter().collect(),
            ..Self::with_defaults(name)
        }
    }

    /// Adds a config override.
    pub fn config(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(name.into(), value.into());
        self
    }

    fn to_wire(&self) -> CreatableTopic {
        CreatableTopic {
            name: self.name.as_str().into(),
            num_partitions: self.num_partitions.unwrap_or(-1),
            replication_factor: self.replication_factor.unwrap_or(-1),
            assignments: self
                .replica_assignment
                .iter()
                .map(|(&partition_index, brokers)| CreatableReplicaAssignment {
                    partition_index,
                    broker_ids: brokers.clone(),
                    ..Default::default()
                })
                .collect(),
            configs: self
                .configs
                .iter()
                .map(|(k, v)| CreatableTopicConfig {
                    name: k.as_str().into(),
                    value: Some(v.as_str().into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// What the controller says about a topic it created (or, validating, would create).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreatedTopic {
    /// The topic id (CreateTopics v7+).
    pub topic_id: Option<Uuid>,
    /// The partition count (v5+).
    pub num_partitions: Option<i32>,
    /// The replication factor (v5+).
    pub replication_factor: Option<i16>,
    /// The configs in effect (v5+; empty when the broker could not describe them).
    pub configs: Vec<ConfigEntry>,
}

impl CreatedTopic {
    fn from_result(t: &CreatableTopicResult) -> Self {
        Self {
            topic_id: (t.topic_id != Uuid::ZERO).then_some(t.topic_id),
            num_partitions: (t.num_partitions >= 0).then_some(t.num_partitions),
            replication_factor: (t.replication_factor >= 0).then_some(t.replication_factor),
            configs: t
                .configs
                .iter()
                .flatten()
                .map(|c| {
                    ConfigEntry::from_parts(
                        &c.name,
                        c.value.as_ref(),
                        ConfigSource::from_code(c.config_source),
                        c.read_only,
                        c.is_sensitive,
                    )
                })
                .collect(),
        }
    }
}

/// How to grow a topic's partition count.
///
/// ```
/// use kafka_admin::NewPartitions;
///
/// let grow = NewPartitions::increase_to(12);
/// let placed = NewPartitions::with_assignments(4, vec![vec![1], vec![2]]);
/// assert_eq!(placed.total_count, 4);
/// # let _ = grow;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewPartitions {
    /// The partition count after the change.
    pub total_count: i32,
    /// Broker ids for each new partition, in order (`None`: the controller places them).
    pub assignments: Option<Vec<Vec<i32>>>,
}

impl NewPartitions {
    /// Grow to `total_count` partitions, placed by the controller.
    pub fn increase_to(total_count: i32) -> Self {
        Self {
            total_count,
            assignments: None,
        }
    }

    /// Grow to `total_count` partitions, the new ones placed on `assignments`.
    pub fn with_assignments(total_count: i32, assignments: Vec<Vec<i32>>) -> Self {
        Self {
            total_count,
            assignments: Some(assignments),
        }
    }
}

impl AdminClient {
    /// Creates topics (or, with [`AdminOptions::validate_only`], checks that they could be
    /// created). Each topic is answered separately: an existing topic gets
    /// `TOPIC_ALREADY_EXISTS` while the others are created.
    pub async fn create_topics(
        &self,
        topics: impl IntoIterator<Item = NewTopic>,
        options: &AdminOptions,
    ) -> HashMap<String, Result<CreatedTopic, AdminError>> {
        let deadline = self.deadline(options);
        let (topics, refused) = split_duplicates(topics.into_iter().map(|t| (t.name.clone(), t)));
        let topics: HashMap<String, NewTopic> = topics.into_iter().collect();
        let topics = &topics;
        let names: Vec<String> = topics.keys().cloned().collect();
        let results = run_rounds(self, deadline, names, |pending: Vec<String>| async move {
            if options.validate_only {
                // CreateTopics v0 cannot say "validate only": sending it would create.
                let version = self
                    .version(&Target::Controller, ApiKey::CreateTopics, deadline)
                    .await?;
                if version < 1 {
                    return Err(AdminError::UnsupportedVersion {
                        api: ApiKey::CreateTopics,
                        version,
                        what: "validate without creating",
                    });
                }
            }
            let wire: Vec<CreatableTopic> = pending.iter().map(|n| topics[n].to_wire()).collect();
            let resp = self
                .send(
                    Target::Controller,
                    ApiKey::CreateTopics,
                    deadline,
                    true,
                    |v| {
                        Cow::Owned(RequestBody::CreateTopics(CreateTopicsRequest {
                            topics: wire.clone(),
                            timeout_ms: remaining_ms(deadline),
                            validate_only: v >= 1 && options.validate_only,
                            ..Default::default()
                        }))
                    },
                )
                .await?;
            let resp = expect_response!(resp, CreateTopics)?;
            Ok(resp
                .topics
                .iter()
                .map(|t| {
                    let outcome =
                        Policy::Change.outcome(t.error_code, t.error_message.as_ref(), || {
                            CreatedTopic::from_result(t)
                        });
                    (t.name.to_string(), outcome)
                })
                .collect())
        })
        .await;
        merge_refused(results, refused)
    }

    /// Deletes topics by name, each answered separately (`UNKNOWN_TOPIC_OR_PARTITION` for
    /// one that does not exist).
    pub async fn delete_topics<S: Into<String>>(
        &self,
        names: impl IntoIterator<Item = S>,
        options: &AdminOptions,
    ) -> HashMap<String, Result<(), AdminError>> {
        let deadline = self.deadline(options);
        let (names, refused) = split_duplicates(names.into_iter().map(|n| (n.into(), ())));
        let names: Vec<String> = names.into_iter().map(|(n, ())| n).collect();
        let results = run_rounds(self, deadline, names, |pending: Vec<String>| async move {
            let resp = self
                .send(
                    Target::Controller,
                    ApiKey::DeleteTopics,
                    deadline,
                    true,
                    |v| {
                        Cow::Owned(delete_topics_request(
                            &pending,
                            &[],
                            v,
                            remaining_ms(deadline),
                        ))
                    },
                )
                .await?;
            let resp = expect_response!(resp, DeleteTopics)?;
            Ok(resp
                .responses
                .iter()
                .filter_map(|t| {
                    let name = t.name.as_ref()?.to_string();
                    let outcome =
                        Policy::Change.outcome(t.error_code, t.error_message.as_ref(), || ());
                    Some((name, outcome))
                })
                .collect())
        })
        .await;
        merge_refused(results, refused)
    }

    /// Deletes topics by id (DeleteTopics v6+), each answered separately (`UNKNOWN_TOPIC_ID`
    /// for one that does not exist).
    pub async fn delete_topics_by_id(
        &self,
        ids: impl IntoIterator<Item = Uuid>,
        options: &AdminOptions,
    ) -> HashMap<Uuid, Result<(), AdminError>> {
        let deadline = self.deadline(options);
        let (ids, refused) = split_duplicates(ids.into_iter().map(|id| (id, ())));
        let ids: Vec<Uuid> = ids.into_iter().map(|(id, ())| id).collect();
        let results = run_rounds(self, deadline, ids, |pending: Vec<Uuid>| async move {
            let version = self
                .version(&Target::Controller, ApiKey::DeleteTopics, deadline)
                .await?;
            if version < 6 {
                return Err(AdminError::UnsupportedVersion {
                    api: ApiKey::DeleteTopics,
                    version,
                    what: "delete topics by id",
                });
            }
            let resp = self
                .send(
                    Target::Controller,
                    ApiKey::DeleteTopics,
                    deadline,
                    true,
                    |v| {
                        Cow::Owned(delete_topics_request(
                            &[],
                            &pending,
                            v,
                            remaining_ms(deadline),
                        ))
                    },
                )
                .await?;
            let resp = expect_response!(resp, DeleteTopics)?;
            Ok(resp
                .responses
                .iter()
                .map(|t| {
                    let outcome =
                        Policy::Change.outcome(t.error_code, t.error_message.as_ref(), || ());
                    (t.topic_id, outcome)
                })
                .collect())
        })
        .await;
        merge_refused(results, refused)
    }

    /// Grows topics' partition counts (or, with [`AdminOptions::validate_only`], checks that
    /// they could grow), each topic answered separately.
    pub async fn create_partitions<S: Into<String>>(
        &self,
        topics: impl IntoIterator<Item = (S, NewPartitions)>,
        options: &AdminOptions,
    ) -> HashMap<String, Result<(), AdminError>> {
        let deadline = self.deadline(options);
        let (topics, refused) = split_duplicates(topics.into_iter().map(|(n, p)| (n.into(), p)));
        let topics: HashMap<String, NewPartitions> = topics.into_iter().collect();
        let topics = &topics;
        let names: Vec<String> = topics.keys().cloned().collect();
        let results = run_rounds(self, deadline, names, |pending: Vec<String>| async move {
            let body = RequestBody::CreatePartitions(CreatePartitionsRequest {
                topics: pending
                    .iter()
                    .map(|name| {
                        let p = &topics[name];
                        CreatePartitionsTopic {
                            name: name.as_str().into(),
                            count: p.total_count,
                            assignments: p.assignments.as_ref().map(|a| {
                                a.iter()
                                    .map(|brokers| CreatePartitionsAssignment {
                                        broker_ids: brokers.clone(),
                                        ..Default::default()
                                    })
                                    .collect()
                            }),
                            ..Default::default()
                        }
                    })
                    .collect(),
                timeout_ms: remaining_ms(deadline),
                validate_only: options.validate_only,
                ..Default::default()
            });
            let resp = self
                .send(
                    Target::Controller,
                    ApiKey::CreatePartitions,
                    deadline,
                    true,
                    |_| Cow::Borrowed(&body),
                )
                .await?;
            let resp = expect_response!(resp, CreatePartitions)?;
            Ok(resp
                .results
                .iter()
                .map(|t| {
                    let outcome =
                        Policy::Change.outcome(t.error_code, t.error_message.as_ref(), || ());
                    (t.name.to_string(), outcome)
                })
                .collect::<Vec<(String, Outcome<()>)>>())
        })
        .await;
        merge_refused(results, refused)
    }
}

/// A DeleteTopics request for `names` or `ids` at `version`: names go in `topic_names` before
/// v6 and in `topics` from v6, where ids can be given too.
fn delete_topics_request(
    names: &[String],
    ids: &[Uuid],
    version: i16,
    timeout_ms: i32,
) -> RequestBody {
    let mut req = DeleteTopicsRequest {
        timeout_ms,
        ..Default::default()
    };
    if version >= 6 {
        req.topics = names
            .iter()
            .map(|n| DeleteTopicState {
                name: Some(KStr::from(n.as_str())),
                topic_id: Uuid::ZERO,
                ..Default::default()
            })
            .chain(ids.iter().map(|&topic_id| DeleteTopicState {
                name: None,
                topic_id,
                ..Default::default()
            }))
            .collect();
    } else {
        req.topic_names = names.iter().map(|n| KStr::from(n.as_str())).collect();
    }
    RequestBody::DeleteTopics(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_topics_to_wire() {
        let t = NewTopic::with_assignment("t", [(0, vec![1])]).config("a", "b");
        let w = t.to_wire();
        assert_eq!((w.num_partitions, w.replication_factor), (-1, -1));
        assert_eq!(w.assignments[0].broker_ids, [1]);
        assert_eq!(w.configs[0].value.as_deref(), Some("b"));
        let w = NewTopic::new("t", 3, 2).to_wire();
        assert_eq!((w.num_partitions, w.replication_factor), (3, 2));
    }

    #[test]
    fn delete_requests_by_version() {
        let names = ["a".to_string()];
        let RequestBody::DeleteTopics(r) = delete_topics_request(&names, &[], 5, 10) else {
            unreachable!()
        };
        assert_eq!(r.topic_names, [KStr::from("a")]);
        assert!(r.topics.is_empty());
        let id = Uuid::from_u64_pair(1, 2);
        let RequestBody::DeleteTopics(r) = delete_topics_request(&names, &[id], 6, 10) else {
            unreachable!()
        };
        assert_eq!(r.topics.len(), 2);
        assert_eq!(r.topics[1].topic_id, id);
    }
}
