//! Consumer group offsets, at the group's coordinator: `list_consumer_group_offsets`
//! (OffsetFetch), `alter_consumer_group_offsets` (OffsetCommit) and
//! `delete_consumer_group_offsets` (OffsetDelete).
//!
//! Altering commits as an outsider, with generation -1 and an empty member id, as Kafka's
//! admin client does: a group with no members (or none yet) takes the commit, while a group
//! with active members refuses it (UNKNOWN_MEMBER_ID), since its consumers own its offsets.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use kafka_client::Target;
use kafka_protocol::messages::RequestBody;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequest, OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::offset_fetch_response::OffsetFetchResponse;
use kafka_protocol::{ApiKey, ErrorCode, KStr};

use crate::client::expect_response;
use crate::retry::{Outcome, Policy, run_rounds};
use crate::{AdminClient, AdminError, AdminOptions, PartitionResults, TopicPartition};

/// A committed offset (the client core's type, shared with the consumer).
pub use kafka_client::OffsetAndMetadata;

/// Nests partitions under their topics, in a stable order.
fn by_topic(tps: &[TopicPartition]) -> BTreeMap<&str, Vec<i32>> {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in tps {
        topics
            .entry(tp.topic.as_str())
            .or_default()
            .push(tp.partition);
    }
    topics
}

/// An OffsetFetch request for `group` (`partitions: None`: every partition with an offset)
/// at `version`: a single group before v8, a list of groups from v8.
fn offset_fetch_request(
    group: &str,
    partitions: Option<&[TopicPartition]>,
    require_stable: bool,
    version: i16,
) -> RequestBody {
    let nested = partitions.map(by_topic);
    let mut req = OffsetFetchRequest {
        require_stable: version >= 7 && require_stable,
        ..Default::default()
    };
    if version >= 8 {
        req.groups = vec![OffsetFetchRequestGroup {
            group_id: group.into(),
            topics: nested.map(|topics| {
                topics
                    .into_iter()
                    .map(|(name, partition_indexes)| OffsetFetchRequestTopics {
                        name: name.into(),
                        partition_indexes,
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        }];
    } else {
        req.group_id = group.into();
        // "All partitions" is a null topic list, which v0-1 cannot send; they get an empty
        // list and answer nothing (Kafka 4 brokers no longer serve them).
        req.topics = match nested {
            None if version >= 2 => None,
            None => Some(Vec::new()),
            Some(topics) => Some(
                topics
                    .into_iter()
                    .map(|(name, partition_indexes)| OffsetFetchRequestTopic {
                        name: name.into(),
                        partition_indexes,
                        ..Default::default()
                    })
                    .collect(),
            ),
        };
    }
    RequestBody::OffsetFetch(req)
}

/// One partition of an OffsetFetch answer: (partition, offset, leader epoch, metadata, code).
type FetchedPartition<'a> = (TopicPartition, i64, i32, Option<&'a KStr>, i16);

/// The group's error code and its partitions, from either response layout.
fn fetched<'a>(
    resp: &'a OffsetFetchResponse,
    group: &str,
    version: i16,
) -> (i16, Vec<FetchedPartition<'a>>) {
    if version >= 8 {
        let Some(g) = resp.groups.iter().find(|g| g.group_id.as_str() == group) else {
            return (ErrorCode::UnknownServerError.code(), Vec::new());
        };
        let parts = g
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    let tp = TopicPartition::new(t.name.as_str(), p.partition_index);
                    let m = p.metadata.as_ref();
                    (
                        tp,
                        p.committed_offset,
                        p.committed_leader_epoch,
                        m,
                        p.error_code,
                    )
                })
            })
            .collect();
        (g.error_code, parts)
    } else {
        let parts = resp
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    let tp = TopicPartition::new(t.name.as_str(), p.partition_index);
                    let m = p.metadata.as_ref();
                    (
                        tp,
                        p.committed_offset,
                        p.committed_leader_epoch,
                        m,
                        p.error_code,
                    )
                })
            })
            .collect();
        (resp.error_code, parts)
    }
}

impl AdminClient {
    /// The committed offsets of a consumer group: of `partitions`, or of every partition it
    /// has an offset for (`None`). A partition without a committed offset maps to `Ok(None)`.
    /// A group-level failure (its coordinator cannot be reached, not authorized) is the outer
    /// error; a group that does not exist has no offsets.
    pub async fn list_consumer_group_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[TopicPartition]>,
        options: &AdminOptions,
    ) -> Result<PartitionResults<Option<OffsetAndMetadata>>, AdminError> {
        let deadline = self.deadline(options);
        // One item, the group: the rounds retry it while its offsets are unstable or its
        // coordinator is moving.
        let mut answers = run_rounds(
            self,
            deadline,
            vec![group_id.to_owned()],
            |_: Vec<String>| async move {
                let outcome = self
                    .fetch_offsets(group_id, partitions, options.require_stable, deadline)
                    .await;
                Ok(vec![(group_id.to_owned(), outcome)])
            },
        )
        .await;
        answers
            .remove(group_id)
            .unwrap_or_else(|| Err(AdminError::Protocol("no answer for the group".into())))
    }

    /// One OffsetFetch request to the group's coordinator.
    async fn fetch_offsets(
        &self,
        group: &str,
        partitions: Option<&[TopicPartition]>,
        require_stable: bool,
        deadline: Instant,
    ) -> Outcome<PartitionResults<Option<OffsetAndMetadata>>> {
        let mut version = 0;
        let resp = self
            .send(
                Target::group(group),
                ApiKey::OffsetFetch,
                deadline,
                true,
                |v| {
                    version = v;
                    Cow::Owned(offset_fetch_request(group, partitions, require_stable, v))
                },
            )
            .await
            .and_then(|r| expect_response!(r, OffsetFetch));
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Policy::Lookup.error(e),
        };
        let (code, parts) = fetched(&resp, group, version);
        if code != 0 {
            return self.group_outcome(group, code, None, HashMap::new);
        }
        let mut out = HashMap::new();
        for (tp, offset, epoch, metadata, code) in parts {
            let c = ErrorCode::from_code(code);
            if c == ErrorCode::UnstableOffsetCommit {
                // A transaction is committing offsets for this partition: ask again shortly.
                return Outcome::Retry(AdminError::broker(c, None));
            }
            let result = if c == ErrorCode::None {
                Ok((offset >= 0).then(|| OffsetAndMetadata {
                    offset,
                    leader_epoch: (version >= 5 && epoch >= 0).then_some(epoch),
                    metadata: metadata.map(|m| m.to_string()).unwrap_or_default(),
                }))
            } else {
                Err(AdminError::broker(c, None))
            };
            out.insert(tp, result);
        }
        Outcome::Done(Ok(out))
    }

    /// Commits offsets for a consumer group that has no active members (creating the group
    /// if it does not exist), each partition answered separately: e.g.
    /// `UNKNOWN_TOPIC_OR_PARTITION` for a partition that does not exist, `UNKNOWN_MEMBER_ID`
    /// for every partition while the group has active members. A partition named twice is
    /// refused with [`AdminError::InvalidArgument`].
    pub async fn alter_consumer_group_offsets(
        &self,
        group_id: &str,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
        options: &AdminOptions,
    ) -> PartitionResults<()> {
        let deadline = self.deadline(options);
        let (offsets, refused) = crate::retry::split_duplicates(offsets);
        let offsets: HashMap<TopicPartition, OffsetAndMetadata> = offsets.into_iter().collect();
        let offsets = &offsets;
        let partitions: Vec<TopicPartition> = offsets.keys().cloned().collect();
        let results = run_rounds(
            self,
            deadline,
            partitions,
            |pending: Vec<TopicPartition>| async move {
                let mut version = 0;
                let resp = self
                    .send(
                        Target::group(group_id),
                        ApiKey::OffsetCommit,
                        deadline,
                        true,
                        |v| {
                            version = v;
                            Cow::Owned(offset_commit_request(group_id, &pending, offsets, v))
                        },
                    )
                    .await?;
                let resp = expect_response!(resp, OffsetCommit)?;
                Ok(resp
                    .topics
                    .iter()
                    .flat_map(|t| {
                        t.partitions.iter().map(|p| {
                            let tp = TopicPartition::new(t.name.as_str(), p.partition_index);
                            (tp, self.group_outcome(group_id, p.error_code, None, || ()))
                        })
                    })
                    .collect())
            },
        )
        .await;
        crate::retry::merge_refused(results, refused)
    }

    /// Deletes a consumer group's committed offsets for `partitions`, each partition answered
    /// separately (`GROUP_SUBSCRIBED_TO_TOPIC` while members consume the topic). Group-level
    /// errors (`GROUP_ID_NOT_FOUND`, ...) are given for every partition.
    pub async fn delete_consumer_group_offsets(
        &self,
        group_id: &str,
        partitions: impl IntoIterator<Item = TopicPartition>,
        options: &AdminOptions,
    ) -> PartitionResults<()> {
        let deadline = self.deadline(options);
        let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        run_rounds(
            self,
            deadline,
            partitions,
            |pending: Vec<TopicPartition>| async move {
                let body = RequestBody::OffsetDelete(OffsetDeleteRequest {
                    group_id: group_id.into(),
                    topics: by_topic(&pending)
                        .into_iter()
                        .map(|(name, partitions)| OffsetDeleteRequestTopic {
                            name: name.into(),
                            partitions: partitions
                                .into_iter()
                                .map(|partition_index| OffsetDeleteRequestPartition {
                                    partition_index,
                                })
                                .collect(),
                        })
                        .collect(),
                });
                let resp = self
                    .send(
                        Target::group(group_id),
                        ApiKey::OffsetDelete,
                        deadline,
                        true,
                        |_| Cow::Borrowed(&body),
                    )
                    .await?;
                let resp = expect_response!(resp, OffsetDelete)?;
                if resp.error_code != 0 {
                    // A group-level answer applies to every partition asked about.
                    return Ok(pending
                        .iter()
                        .map(|tp| {
                            let o = self.group_outcome(group_id, resp.error_code, None, || ());
                            (tp.clone(), o)
                        })
                        .collect());
                }
                Ok(resp
                    .topics
                    .iter()
                    .flat_map(|t| {
                        t.partitions.iter().map(|p| {
                            let tp = TopicPartition::new(t.name.as_str(), p.partition_index);
                            (tp, self.group_outcome(group_id, p.error_code, None, || ()))
                        })
                    })
                    .collect())
            },
        )
        .await
    }
}

/// An OffsetCommit request committing `offsets` of `partitions` as an outsider (generation
/// -1, no member id) at `version`.
fn offset_commit_request(
    group: &str,
    partitions: &[TopicPartition],
    offsets: &HashMap<TopicPartition, OffsetAndMetadata>,
    version: i16,
) -> RequestBody {
    let topics = by_topic(partitions)
        .into_iter()
        .map(|(name, indexes)| OffsetCommitRequestTopic {
            name: name.into(),
            partitions: indexes
                .into_iter()
                .filter_map(|partition_index| {
                    let o = offsets.get(&TopicPartition::new(name, partition_index))?;
                    Some(OffsetCommitRequestPartition {
                        partition_index,
                        committed_offset: o.offset,
                        committed_leader_epoch: match o.leader_epoch {
                            Some(e) if version >= 6 => e,
                            _ => -1,
                        },
                        committed_metadata: Some(KStr::from(o.metadata.as_str())),
                        ..Default::default()
                    })
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    RequestBody::OffsetCommit(OffsetCommitRequest {
        group_id: group.into(),
        generation_id_or_member_epoch: -1,
        member_id: KStr::from_static(""),
        group_instance_id: None,
        topics,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_requests_by_version() {
        let tps = [TopicPartition::new("t", 1), TopicPartition::new("t", 0)];
        let RequestBody::OffsetFetch(r) = offset_fetch_request("g", Some(&tps), true, 9) else {
            unreachable!()
        };
        assert_eq!(r.groups[0].group_id, "g");
        assert_eq!(
            r.groups[0].topics.as_ref().unwrap()[0].partition_indexes,
            [1, 0]
        );
        assert!(r.require_stable);
        let RequestBody::OffsetFetch(r) = offset_fetch_request("g", None, true, 6) else {
            unreachable!()
        };
        assert_eq!(r.group_id, "g");
        assert!(r.topics.is_none() && !r.require_stable);
        let body = offset_fetch_request("g", None, false, 1);
        body.encoded_size(1).unwrap();
    }

    #[test]
    fn commit_requests_are_outsider_commits() {
        let tp = TopicPartition::new("t", 0);
        let offsets = HashMap::from([(tp.clone(), OffsetAndMetadata::new(5).with_leader_epoch(2))]);
        let RequestBody::OffsetCommit(r) =
            offset_commit_request("g", std::slice::from_ref(&tp), &offsets, 9)
        else {
            unreachable!()
        };
        assert_eq!(r.generation_id_or_member_epoch, -1);
        assert!(r.member_id.is_empty());
        let p = &r.topics[0].partitions[0];
        assert_eq!((p.committed_offset, p.committed_leader_epoch), (5, 2));
        let body = offset_commit_request("g", &[tp], &offsets, 2);
        let RequestBody::OffsetCommit(old) = &body else {
            unreachable!()
        };
        assert_eq!(old.topics[0].partitions[0].committed_leader_epoch, -1);
        body.encoded_size(2).unwrap();
    }
}
