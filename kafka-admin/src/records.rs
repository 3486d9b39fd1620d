//! Partition data: `list_offsets` (ListOffsets) and `delete_records` (DeleteRecords).
//!
//! Only a partition's leader answers these, so each round looks the leaders up afresh and
//! sends one request per leader carrying all of that leader's partitions, the leaders in
//! parallel. Each request is tried once: a partition whose leader moved, or whose broker
//! cannot be reached, is retried in the next round with new metadata rather than sent to the
//! same broker again. A partition of an unknown topic is retried too (a new topic takes a
//! moment to reach every broker), until the timeout: asking for a topic that never appears
//! fails with `UNKNOWN_TOPIC_OR_PARTITION` when the call's timeout runs out.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use kafka_client::Target;
use kafka_protocol::ApiKey;
use kafka_protocol::messages::RequestBody;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic,
};
use kafka_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use kafka_protocol::messages::list_offsets_response::ListOffsetsPartitionResponse;

use crate::client::{expect_response, remaining_ms};
use crate::retry::{Outcome, Policy, join_all, merge_refused, run_rounds, split_duplicates};
use crate::{
    AdminClient, AdminError, AdminOptions, IsolationLevel, PartitionResults, TopicPartition,
};

/// Which offset `list_offsets` looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset (high watermark, or last stable offset when reading committed).
    Latest,
    /// The offset of the record with the largest timestamp (ListOffsets v7+).
    MaxTimestamp,
    /// The first offset whose timestamp is at least this (milliseconds since the epoch).
    Timestamp(i64),
}

impl OffsetSpec {
    /// The `timestamp` field's value for this spec.
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::MaxTimestamp => -3,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

/// An offset `list_offsets` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedOffset {
    /// The offset; -1 when no record matches (a timestamp past the last record, or the max
    /// timestamp of an empty partition).
    pub offset: i64,
    /// The timestamp of the record found, for timestamp and max-timestamp look-ups.
    pub timestamp: Option<i64>,
    /// The leader epoch of the record found (ListOffsets v4+).
    pub leader_epoch: Option<i32>,
}

impl ListedOffset {
    fn from_response(p: &ListOffsetsPartitionResponse, version: i16) -> Self {
        let offset = if version == 0 {
            p.old_style_offsets.first().copied().unwrap_or(-1)
        } else {
            p.offset
        };
        Self {
            offset,
            timestamp: (p.timestamp >= 0).then_some(p.timestamp),
            leader_epoch: (version >= 4 && p.leader_epoch >= 0).then_some(p.leader_epoch),
        }
    }
}

/// `delete_records` offset meaning "everything up to the high watermark".
pub const DELETE_ALL_RECORDS: i64 = -1;

/// Groups partitions by topic, in a stable order, for requests that nest them that way.
fn by_topic<V: Copy>(items: &[(TopicPartition, V)]) -> BTreeMap<&str, Vec<(i32, V)>> {
    let mut topics: BTreeMap<&str, Vec<(i32, V)>> = BTreeMap::new();
    for (tp, v) in items {
        topics
            .entry(tp.topic.as_str())
            .or_default()
            .push((tp.partition, *v));
    }
    topics
}

/// Every partition of a failed request gets the request's error.
fn all_failed<T>(items: &[TopicPartition], e: &AdminError) -> Vec<(TopicPartition, Outcome<T>)> {
    items
        .iter()
        .map(|tp| (tp.clone(), Policy::Partition.error(e.clone())))
        .collect()
}

impl AdminClient {
    /// One round of a leader-routed call: looks the leaders of `pending` up and runs `at`
    /// (one request to one leader) for each leader in parallel.
    async fn per_leader<V, T, F, Fut>(
        &self,
        pending: &[TopicPartition],
        values: &HashMap<TopicPartition, V>,
        deadline: Instant,
        mut at: F,
    ) -> Result<Vec<(TopicPartition, Outcome<T>)>, AdminError>
    where
        V: Copy,
        T: Send + 'static,
        F: FnMut(AdminClient, i32, Vec<(TopicPartition, V)>) -> Fut,
        Fut: Future<Output = Vec<(TopicPartition, Outcome<T>)>> + Send + 'static,
    {
        let leaders = self.leaders_of(pending, deadline).await?;
        let mut out: Vec<(TopicPartition, Outcome<T>)> = leaders
            .leaderless
            .into_iter()
            .map(|(tp, e)| (tp, Policy::Partition.error(e)))
            .collect();
        let requests = leaders.by_leader.into_iter().map(|(broker, tps)| {
            let items = tps
                .into_iter()
                .filter_map(|tp| {
                    let v = *values.get(&tp)?;
                    Some((tp, v))
                })
                .collect();
            at(self.clone(), broker, items)
        });
        for answers in join_all(requests.collect::<Vec<_>>()).await {
            out.extend(answers);
        }
        Ok(out)
    }

    /// Looks up offsets of partitions (earliest, latest, by timestamp, max timestamp), each
    /// partition answered separately. Each leader gets one request for all its partitions.
    /// A partition named twice is refused with [`AdminError::InvalidArgument`].
    pub async fn list_offsets(
        &self,
        specs: impl IntoIterator<Item = (TopicPartition, OffsetSpec)>,
        options: &AdminOptions,
    ) -> PartitionResults<ListedOffset> {
        let deadline = self.deadline(options);
        let (specs, refused) = split_duplicates(specs);
        let specs: HashMap<TopicPartition, OffsetSpec> = specs.into_iter().collect();
        let specs = &specs;
        let partitions: Vec<TopicPartition> = specs.keys().cloned().collect();
        let isolation = options.isolation_level;
        let results = run_rounds(
            self,
            deadline,
            partitions,
            |pending: Vec<TopicPartition>| async move {
                self.per_leader(
                    &pending,
                    specs,
                    deadline,
                    |admin, broker, items| async move {
                        admin
                            .list_offsets_at(broker, items, isolation, deadline)
                            .await
                    },
                )
                .await
            },
        )
        .await;
        merge_refused(results, refused)
    }

    /// One ListOffsets request to one leader.
    async fn list_offsets_at(
        &self,
        broker: i32,
        mut items: Vec<(TopicPartition, OffsetSpec)>,
        isolation: IsolationLevel,
        deadline: Instant,
    ) -> Vec<(TopicPartition, Outcome<ListedOffset>)> {
        let target = Target::Broker(broker);
        let tps: Vec<TopicPartition> = items.iter().map(|(tp, _)| tp.clone()).collect();
        let mut out = Vec::new();
        let version = match self.version(&target, ApiKey::ListOffsets, deadline).await {
            Ok(v) => v,
            Err(e) => return all_failed(&tps, &e),
        };
        if version < 7 {
            // Before v7 a broker reads -3 as a timestamp, not as "max timestamp".
            items.retain(|(tp, spec)| {
                let unsupported = *spec == OffsetSpec::MaxTimestamp;
                if unsupported {
                    let e = AdminError::UnsupportedVersion {
                        api: ApiKey::ListOffsets,
                        version,
                        what: "look up the max timestamp",
                    };
                    out.push((tp.clone(), Outcome::Done(Err(e))));
                }
                !unsupported
            });
        }
        if items.is_empty() {
            return out;
        }
        let topics: Vec<ListOffsetsTopic> = by_topic(&items)
            .into_iter()
            .map(|(name, partitions)| ListOffsetsTopic {
                name: name.into(),
                partitions: partitions
                    .into_iter()
                    .map(|(partition_index, spec)| ListOffsetsPartition {
                        partition_index,
                        timestamp: spec.wire(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        let mut sent_version = version;
        let resp = self
            .send(target, ApiKey::ListOffsets, deadline, false, |v| {
                sent_version = v;
                Cow::Owned(RequestBody::ListOffsets(ListOffsetsRequest {
                    // -1: a client, not a follower replica.
                    replica_id: -1,
                    isolation_level: if v >= 2 { isolation.wire() } else { 0 },
                    topics: topics.clone(),
                    timeout_ms: if v >= 10 { remaining_ms(deadline) } else { 0 },
                    ..Default::default()
                }))
            })
            .await
            .and_then(|r| expect_response!(r, ListOffsets));
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                let tps: Vec<TopicPartition> = items.into_iter().map(|(tp, _)| tp).collect();
                out.extend(all_failed(&tps, &e));
                return out;
            }
        };
        for t in &resp.topics {
            for p in &t.partitions {
                let outcome = Policy::Partition.outcome(p.error_code, None, || {
                    ListedOffset::from_response(p, sent_version)
                });
                out.push((
                    TopicPartition::new(t.name.as_str(), p.partition_index),
                    outcome,
                ));
            }
        }
        out
    }

    /// Deletes the records of partitions below the given offsets
    /// ([`DELETE_ALL_RECORDS`]: up to the high watermark), each partition answered separately
    /// with its new log start offset (low watermark). Each leader gets one request for all its
    /// partitions. A partition named twice is refused with [`AdminError::InvalidArgument`].
    pub async fn delete_records(
        &self,
        before: impl IntoIterator<Item = (TopicPartition, i64)>,
        options: &AdminOptions,
    ) -> PartitionResults<i64> {
        let deadline = self.deadline(options);
        let (before, refused) = split_duplicates(before);
        let before: HashMap<TopicPartition, i64> = before.into_iter().collect();
        let before = &before;
        let partitions: Vec<TopicPartition> = before.keys().cloned().collect();
        let results = run_rounds(
            self,
            deadline,
            partitions,
            |pending: Vec<TopicPartition>| async move {
                self.per_leader(
                    &pending,
                    before,
                    deadline,
                    |admin, broker, items| async move {
                        admin.delete_records_at(broker, items, deadline).await
                    },
                )
                .await
            },
        )
        .await;
        merge_refused(results, refused)
    }

    /// One DeleteRecords request to one leader.
    async fn delete_records_at(
        &self,
        broker: i32,
        items: Vec<(TopicPartition, i64)>,
        deadline: Instant,
    ) -> Vec<(TopicPartition, Outcome<i64>)> {
        let topics: Vec<DeleteRecordsTopic> = by_topic(&items)
            .into_iter()
            .map(|(name, partitions)| DeleteRecordsTopic {
                name: name.into(),
                partitions: partitions
                    .into_iter()
                    .map(|(partition_index, offset)| DeleteRecordsPartition {
                        partition_index,
                        offset,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        let resp = self
            .send(
                Target::Broker(broker),
                ApiKey::DeleteRecords,
                deadline,
                false,
                |_| {
                    Cow::Owned(RequestBody::DeleteRecords(DeleteRecordsRequest {
                        topics: topics.clone(),
                        timeout_ms: remaining_ms(deadline),
                        ..Default::default()
                    }))
                },
            )
            .await
            .and_then(|r| expect_response!(r, DeleteRecords));
        match resp {
            Ok(resp) => resp
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(|p| {
                        let outcome =
                            Policy::Partition.outcome(p.error_code, None, || p.low_watermark);
                        (
                            TopicPartition::new(t.name.as_str(), p.partition_index),
                            outcome,
                        )
                    })
                })
                .collect(),
            Err(e) => {
                let tps: Vec<TopicPartition> = items.into_iter().map(|(tp, _)| tp).collect();
                all_failed(&tps, &e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_on_the_wire() {
        assert_eq!(OffsetSpec::Earliest.wire(), -2);
        assert_eq!(OffsetSpec::Latest.wire(), -1);
        assert_eq!(OffsetSpec::MaxTimestamp.wire(), -3);
        assert_eq!(OffsetSpec::Timestamp(42).wire(), 42);
    }

    #[test]
    fn listed_offsets_drop_sentinels() {
        let p = ListOffsetsPartitionResponse {
            offset: 7,
            timestamp: -1,
            leader_epoch: -1,
            ..Default::default()
        };
        let o = ListedOffset::from_response(&p, 9);
        assert_eq!((o.offset, o.timestamp, o.leader_epoch), (7, None, None));
        let old = ListOffsetsPartitionResponse {
            old_style_offsets: vec![3],
            ..Default::default()
        };
        assert_eq!(ListedOffset::from_response(&old, 0).offset, 3);
    }

    #[test]
    fn partitions_nest_by_topic() {
        let items = [
            (TopicPartition::new("b", 1), 10),
            (TopicPartition::new("a", 0), 20),
            (TopicPartition::new("b", 0), 30),
        ];
        let topics = by_topic(&items);
        assert_eq!(topics["a"], [(0, 20)]);
        assert_eq!(topics["b"], [(1, 10), (0, 30)]);
    }
}
