//! Looking offsets up by time: ListOffsets to each partition's leader, for offset resets
//! (earliest, latest), `seek_to_beginning/end`, `beginning_offsets` / `end_offsets` and
//! `offsets_for_times`.
//!
//! One request per leader carries all its partitions. Leadership errors refresh the metadata
//! and the affected partitions are asked again (of their new leader) until the call's time
//! budget runs out; other partition errors are final for that partition.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafka_client::metadata::TopicSelection;
use kafka_client::{Client, SendOptions, Target};
use kafka_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use kafka_protocol::messages::{ApiKey, RequestBody, ResponseBody};
use kafka_protocol::{ErrorCode, KStr};

use crate::config::IsolationLevel;
use crate::error::{ConsumerError, Result};
use crate::record::{OffsetAndTimestamp, TopicPartition};
use crate::state::Shared;

/// What to look up for a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OffsetSpec {
    Earliest,
    Latest,
    /// The first offset with a timestamp at or after this one.
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

/// Per-partition results; `Ok(None)` when no record is at or after the timestamp.
pub(crate) type Listed = BTreeMap<TopicPartition, Result<Option<OffsetAndTimestamp>>>;

fn retriable(code: ErrorCode) -> bool {
    code.is_retriable() || kafka_client::metadata::is_stale_metadata_error(code)
}

/// Looks up every `(partition, spec)` within `timeout`.
pub(crate) async fn list_offsets(
    client: &Client,
    isolation: IsolationLevel,
    wanted: Vec<(TopicPartition, OffsetSpec)>,
    timeout: Duration,
) -> Listed {
    let deadline = Instant::now() + timeout;
    let mut results: Listed = BTreeMap::new();
    let mut pending = wanted;
    let mut last_error: BTreeMap<TopicPartition, ConsumerError> = BTreeMap::new();
    while !pending.is_empty() {
        let cluster = client.metadata();
        let unknown: Vec<String> = pending
            .iter()
            .filter(|(tp, _)| Shared::leader(&cluster, tp).is_none())
            .map(|(tp, _)| tp.topic.clone())
            .collect();
        if !unknown.is_empty() {
            let _ = client
                .refresh_metadata(TopicSelection::topics(unknown))
                .await;
        }
        let cluster = client.metadata();
        let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, OffsetSpec, i32)>> = BTreeMap::new();
        let mut retry = Vec::new();
        for (tp, spec) in pending.drain(..) {
            match Shared::leader(&cluster, &tp) {
                Some((leader, epoch)) => {
                    by_leader.entry(leader).or_default().push((tp, spec, epoch))
                }
                None => {
                    last_error.insert(
                        tp.clone(),
                        kafka_client::Error::new(kafka_client::ErrorKind::LeaderNotAvailable)
                            .with_partition(tp.topic.as_str(), Some(tp.partition))
                            .into(),
                    );
                    retry.push((tp, spec));
                }
            }
        }
        // One leader at a time: few leaders, and each answers quickly.
        for (leader, parts) in by_leader {
            match list_from(client, isolation, leader, &parts, deadline).await {
                Err(e) => {
                    for (tp, spec, _) in parts {
                        let again = matches!(&e, ConsumerError::Client(c) if c.is_retriable())
                            || e.code().is_some_and(retriable);
                        if again {
                            last_error.insert(tp.clone(), e.clone());
                            retry.push((tp, spec));
                        } else {
                            results.insert(tp, Err(e.clone()));
                        }
                    }
                }
                Ok(per) => {
                    for (tp, spec, _) in parts {
                        match per.get(&tp) {
                            Some(Ok(v)) => {
                                results.insert(tp, Ok(*v));
                            }
                            Some(Err(code)) if retriable(*code) => {
                                client.report_error(*code);
                                last_error.insert(tp.clone(), broker_error(*code, &tp));
                                retry.push((tp, spec));
                            }
                            Some(Err(code)) => {
                                results.insert(tp.clone(), Err(broker_error(*code, &tp)));
                            }
                            None => {
                                let e = ConsumerError::illegal(format!(
                                    "the ListOffsets answer left out {tp}"
                                ));
                                last_error.insert(tp.clone(), e);
                                retry.push((tp, spec));
                            }
                        }
                    }
                }
            }
        }
        if retry.is_empty() {
            break;
        }
        if Instant::now() + client.config().retry_backoff() >= deadline {
            for (tp, _) in retry {
                let e = last_error
                    .remove(&tp)
                    .unwrap_or(ConsumerError::Timeout(timeout));
                results.insert(tp, Err(e));
            }
            break;
        }
        tokio::time::sleep(client.config().retry_backoff()).await;
        pending = retry;
    }
    results
}

fn broker_error(code: ErrorCode, tp: &TopicPartition) -> ConsumerError {
    kafka_client::Error::broker(code, None)
        .with_api(ApiKey::ListOffsets)
        .with_partition(tp.topic.as_str(), Some(tp.partition))
        .into()
}

type PartitionResult = std::result::Result<Option<OffsetAndTimestamp>, ErrorCode>;

async fn list_from(
    client: &Client,
    isolation: IsolationLevel,
    leader: i32,
    parts: &[(TopicPartition, OffsetSpec, i32)],
    deadline: Instant,
) -> Result<BTreeMap<TopicPartition, PartitionResult>> {
    let mut by_topic: BTreeMap<&str, Vec<(i32, i64, i32)>> = BTreeMap::new();
    for (tp, spec, epoch) in parts {
        by_topic
            .entry(&tp.topic)
            .or_default()
            .push((tp.partition, spec.wire(), *epoch));
    }
    let build = |version: i16| {
        let topics = by_topic
            .iter()
            .map(|(name, ps)| ListOffsetsTopic {
                name: KStr::from(*name),
                partitions: ps
                    .iter()
                    .map(
                        |&(partition_index, timestamp, epoch)| ListOffsetsPartition {
                            partition_index,
                            timestamp,
                            current_leader_epoch: if version >= 4 { epoch } else { -1 },
                            ..Default::default()
                        },
                    )
                    .collect(),
                ..Default::default()
            })
            .collect();
        std::borrow::Cow::Owned(RequestBody::ListOffsets(ListOffsetsRequest {
            // -1: an ordinary consumer (0 would claim to be broker 0's replica fetcher).
            replica_id: -1,
            isolation_level: if version >= 2 { isolation.wire() } else { 0 },
            topics,
            ..Default::default()
        }))
    };
    let budget = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    let resp = client
        .send_with(
            Target::Broker(leader),
            ApiKey::ListOffsets,
            &SendOptions::new().timeout(budget).no_retry(),
            build,
        )
        .await?;
    let ResponseBody::ListOffsets(r) = resp else {
        return Err(ConsumerError::illegal("unexpected response to ListOffsets"));
    };
    let mut out = BTreeMap::new();
    for t in &r.topics {
        for p in &t.partitions {
            let tp = TopicPartition::new(t.name.as_str(), p.partition_index);
            let code = ErrorCode::from_code(p.error_code);
            let v = if code != ErrorCode::None {
                Err(code)
            } else {
                Ok((p.offset >= 0).then(|| OffsetAndTimestamp {
                    offset: p.offset,
                    timestamp: p.timestamp,
                    leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
                }))
            };
            out.insert(tp, v);
        }
    }
    Ok(out)
}
