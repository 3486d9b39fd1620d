//! The fetch path to one broker: a task per partition leader that keeps one Fetch request
//! in flight for the assigned partitions that broker leads, running ahead of the application.
//!
//! Each round picks the fetchable partitions (see [`Positions::fetchable`]), plans the request
//! with the broker's fetch session, sends it on the broker's default connection (coordinator
//! traffic has its own, so a long poll never delays a heartbeat), and turns the response into
//! queued [`CompletedFetch`]es: the record bytes stay views into the response frame. Fetching
//! pauses while the buffered bytes exceed `queued.max.messages.kbytes` or a partition has a
//! response's worth buffered.
//!
//! Partition errors: OFFSET_OUT_OF_RANGE applies `auto.offset.reset`; leadership errors
//! (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_TOPIC_ID, ...) refresh the metadata
//! (taking a KIP-951 leader hint when the response has one) and the partition moves to the
//! new leader's task; the partition is retried after `retry.backoff.ms`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_client::Target;
use kafka_client::metadata::Cluster;
use kafka_protocol::messages::fetch_request::{
    FetchPartition, FetchRequest, FetchTopic, ForgottenTopic,
};
use kafka_protocol::messages::fetch_response::{FetchResponse, PartitionData};
use kafka_protocol::messages::{ApiKey, RequestBody, ResponseBody};
use kafka_protocol::records::RecordSetReader;
use kafka_protocol::{DecodeError, ErrorCode, KStr, Uuid};

use crate::completed_fetch::CompletedFetch;
use crate::error::ConsumerError;
use crate::fetch_buffer::Fetched;
use crate::fetch_session::{FetchPlan, FetchSession, SessionPartition};
use crate::positions::FetchTarget;
use crate::record::TopicPartition;
use crate::state::Shared;

/// The highest Fetch version that names topics (v13 switched to topic ids).
const LAST_VERSION_WITH_NAMES: i16 = 12;

/// Runs until the consumer closes or the broker leaves the cluster metadata.
pub(crate) async fn run(shared: Arc<Shared>, broker: i32) {
    let mut session = FetchSession::new();
    let idle = Duration::from_millis(100).min(shared.config.client().retry_backoff());
    while !shared.is_closed() {
        let cap = shared.config.queued_max_bytes;
        if shared.budget.bytes() >= cap {
            tokio::select! {
                _ = shared.budget.wait_below(cap) => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        let cluster = shared.client.metadata();
        if cluster.broker(broker).is_none() {
            tracing::debug!(broker, "broker left the cluster; its fetch task ends");
            return;
        }
        let woken = shared.fetch_wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let released = shared.budget.released();
        tokio::pin!(released);
        released.as_mut().enable();
        let limit = partition_buffer_limit(&shared);
        let targets = shared
            .positions
            .lock()
            .fetchable(broker, Instant::now(), limit, |tp| {
                Shared::leader(&cluster, tp)
            });
        if targets.is_empty() {
            // Woken by new work, or when the application frees buffered data.
            tokio::select! {
                _ = &mut woken => {}
                _ = &mut released => {}
                _ = tokio::time::sleep(idle) => {}
            }
            continue;
        }
        fetch_once(&shared, broker, &mut session, targets, &cluster).await;
    }
}

/// A partition fetches again while less than this is buffered for it: a few responses'
/// worth, so full-size fetches keep going out while the application reads (the total stays
/// under `queued.max.messages.kbytes`).
fn partition_buffer_limit(shared: &Shared) -> usize {
    usize::try_from(shared.config.max_partition_fetch_bytes)
        .unwrap_or(0)
        .max(1)
        .saturating_mul(PARTITION_RESPONSES_BUFFERED)
}

/// See [`partition_buffer_limit`].
const PARTITION_RESPONSES_BUFFERED: usize = 4;

async fn fetch_once(
    shared: &Arc<Shared>,
    broker: i32,
    session: &mut FetchSession,
    targets: Vec<FetchTarget>,
    cluster: &Cluster,
) {
    let client = &shared.client;
    let retry = shared.config.client().retry_backoff();
    let release_all = |targets: &[FetchTarget], delay: Option<Duration>| {
        let at = delay.map(|d| Instant::now() + d);
        let mut pos = shared.positions.lock();
        for t in targets {
            pos.release(t, broker, at);
        }
    };
    let conn = match client.connection(&Target::Broker(broker)).await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(broker, error = %e, "cannot reach the broker to fetch");
            session.on_failure();
            // The leaders may have moved; the client core refreshes on this code.
            client.report_error(ErrorCode::BrokerNotAvailable);
            release_all(&targets, Some(retry));
            shared.manager_wake.notify_one();
            return;
        }
    };
    let mut wanted = BTreeMap::new();
    let mut by_tp: HashMap<TopicPartition, FetchTarget> = HashMap::with_capacity(targets.len());
    for t in &targets {
        let topic_id = cluster.topic_id(&t.shared.tp.topic).unwrap_or(Uuid::ZERO);
        wanted.insert(
            t.shared.tp.clone(),
            SessionPartition {
                fetch_offset: t.offset,
                current_leader_epoch: t.leader_epoch,
                partition_max_bytes: shared.config.max_partition_fetch_bytes,
                topic_id,
            },
        );
        by_tp.insert(t.shared.tp.clone(), t.clone());
    }
    let mut version = match conn.api_version(ApiKey::Fetch) {
        Ok(v) => v,
        Err(e) => {
            shared.report(e.into());
            release_all(&targets, Some(Duration::from_secs(5)));
            return;
        }
    };
    if version > LAST_VERSION_WITH_NAMES && wanted.values().any(|p| p.topic_id == Uuid::ZERO) {
        // A topic without an id in the metadata (an old broker, or metadata not yet
        // refreshed): name topics, which v12 still does.
        version = LAST_VERSION_WITH_NAMES;
    }
    let plan = session.plan(wanted, version > LAST_VERSION_WITH_NAMES);
    let request = RequestBody::Fetch(build_request(shared, &plan));
    let timeout = shared.config.fetch_max_wait + shared.config.client().request_timeout();
    let response = conn.send_at(version, &request, Some(timeout)).await;
    let resp = match response {
        Ok(ResponseBody::Fetch(r)) => r,
        Ok(other) => {
            tracing::warn!(broker, api = ?other.api_key(), "unexpected response to a fetch");
            session.on_failure();
            release_all(&targets, Some(retry));
            return;
        }
        Err(e) => {
            tracing::debug!(broker, error = %e, "fetch failed");
            session.on_failure();
            client.report_error(ErrorCode::BrokerNotAvailable);
            release_all(&targets, Some(retry));
            return;
        }
    };
    let top = ErrorCode::from_code(resp.error_code);
    session.on_response(&plan, top, resp.session_id);
    if top != ErrorCode::None {
        tracing::debug!(broker, error = top.name(), "fetch refused");
        let session_error = matches!(
            top,
            ErrorCode::FetchSessionIdNotFound
                | ErrorCode::InvalidFetchSessionEpoch
                | ErrorCode::FetchSessionTopicIdError
        );
        release_all(&targets, (!session_error).then_some(retry));
        return;
    }
    handle_response(shared, broker, version, resp, by_tp, cluster);
}

fn build_request(shared: &Shared, plan: &FetchPlan) -> FetchRequest {
    let c = &shared.config;
    let mut topics: Vec<FetchTopic> = Vec::new();
    for (tp, p) in &plan.send {
        let partition = FetchPartition {
            partition: tp.partition,
            current_leader_epoch: p.current_leader_epoch,
            fetch_offset: p.fetch_offset,
            partition_max_bytes: p.partition_max_bytes,
            ..Default::default()
        };
        match topics.last_mut() {
            Some(t) if t.topic.as_str() == tp.topic => t.partitions.push(partition),
            _ => topics.push(FetchTopic {
                topic: if plan.topic_ids {
                    KStr::default()
                } else {
                    KStr::from(tp.topic.as_str())
                },
                topic_id: if plan.topic_ids {
                    p.topic_id
                } else {
                    Uuid::ZERO
                },
                partitions: vec![partition],
                ..Default::default()
            }),
        }
    }
    let mut forgotten: Vec<ForgottenTopic> = Vec::new();
    for (tp, id) in &plan.forget {
        match forgotten.last_mut() {
            Some(t) if t.topic.as_str() == tp.topic || (plan.topic_ids && t.topic_id == *id) => {
                t.partitions.push(tp.partition)
            }
            _ => forgotten.push(ForgottenTopic {
                topic: if plan.topic_ids {
                    KStr::default()
                } else {
                    KStr::from(tp.topic.as_str())
                },
                topic_id: if plan.topic_ids { *id } else { Uuid::ZERO },
                partitions: vec![tp.partition],
                ..Default::default()
            }),
        }
    }
    FetchRequest {
        max_wait_ms: c.fetch_max_wait.as_millis().min(i32::MAX as u128) as i32,
        min_bytes: c.fetch_min_bytes,
        max_bytes: c.fetch_max_bytes,
        isolation_level: c.isolation_level.wire(),
        session_id: plan.session_id,
        session_epoch: plan.epoch,
        topics,
        forgotten_topics_data: forgotten,
        rack_id: KStr::from(c.client().client_rack()),
        ..Default::default()
    }
}

fn handle_response(
    shared: &Arc<Shared>,
    broker: i32,
    version: i16,
    resp: FetchResponse,
    mut by_tp: HashMap<TopicPartition, FetchTarget>,
    cluster: &Cluster,
) {
    let now = Instant::now();
    let retry_at = now + shared.config.client().retry_backoff();
    let mut out: Vec<Fetched> = Vec::new();
    let mut moved = false;
    let mut pos = shared.positions.lock();
    for topic in resp.responses {
        let name = if version > LAST_VERSION_WITH_NAMES {
            match cluster.topic_name(topic.topic_id) {
                Some(n) => n.to_owned(),
                None => continue,
            }
        } else {
            topic.topic.to_string()
        };
        for p in topic.partitions {
            let tp = TopicPartition::new(name.as_str(), p.partition_index);
            let Some(target) = by_tp.remove(&tp) else {
                continue;
            };
            let code = ErrorCode::from_code(p.error_code);
            match code {
                ErrorCode::None => {
                    target.shared.set_watermarks(
                        p.high_watermark,
                        p.last_stable_offset,
                        p.log_start_offset,
                    );
                    match data_of(&p, target.offset) {
                        Ok(None) => {
                            pos.fetched(&target, broker, target.offset);
                        }
                        Ok(Some((data, next))) => {
                            if pos.fetched(&target, broker, next) {
                                let aborted = p
                                    .aborted_transactions
                                    .iter()
                                    .flatten()
                                    .map(|a| (a.producer_id, a.first_offset))
                                    .collect();
                                out.push(Fetched::Data(CompletedFetch::new(
                                    target.shared.clone(),
                                    target.era,
                                    data,
                                    aborted,
                                    shared.budget.clone(),
                                )));
                            }
                        }
                        Err(error) => {
                            if pos.is_current(&target) {
                                pos.fail(&tp);
                                out.push(Fetched::Error(error));
                            }
                        }
                    }
                }
                ErrorCode::OffsetOutOfRange => {
                    if pos.is_current(&target) {
                        let reset = shared.config.auto_offset_reset;
                        tracing::info!(partition = %tp, offset = target.offset, ?reset, "fetch offset out of range");
                        if !pos.apply_reset_policy(&tp, reset) {
                            out.push(Fetched::Error(ConsumerError::OffsetOutOfRange {
                                partition: tp.clone(),
                                offset: target.offset,
                            }));
                        }
                        moved = true;
                    }
                    pos.release(&target, broker, None);
                }
                ErrorCode::TopicAuthorizationFailed => {
                    pos.fail(&tp);
                    out.push(Fetched::Error(ConsumerError::Client(
                        kafka_client::Error::broker(code, None)
                            .with_api(ApiKey::Fetch)
                            .with_partition(tp.topic.as_str(), Some(tp.partition)),
                    )));
                }
                _ => {
                    tracing::debug!(partition = %tp, broker, error = code.name(), "fetch partition error");
                    shared.client.report_error(code);
                    let hint = &p.current_leader;
                    if hint.leader_id >= 0 && hint.leader_epoch >= 0 {
                        shared.client.update_leader(
                            &tp.topic,
                            tp.partition,
                            hint.leader_id,
                            hint.leader_epoch,
                        );
                    }
                    pos.release(&target, broker, Some(retry_at));
                    moved = true;
                }
            }
        }
    }
    // Requested partitions the response left out had nothing new (incremental sessions).
    for target in by_tp.values() {
        pos.fetched(target, broker, target.offset);
    }
    drop(pos);
    if moved {
        shared.manager_wake.notify_one();
    }
    shared.buffer.push(out);
}

/// The records of a partition and the offset to fetch next: past the last complete entry
/// (a response may end with a partial one). `None` when there is nothing to read.
fn data_of(
    p: &PartitionData,
    fetch_offset: i64,
) -> Result<Option<(bytes::Bytes, i64)>, ConsumerError> {
    let Some(data) = p.records.as_ref().filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    let tp = || TopicPartition::new("", p.partition_index);
    let mut reader = RecordSetReader::new(data.clone());
    let mut next = None;
    while let Some(entry) = reader.next_raw() {
        let entry = entry.map_err(|source| corrupt(tp(), fetch_offset, source))?;
        let after = if entry.magic == kafka_protocol::records::MAGIC_V2 {
            entry
                .header()
                .map_err(|source| corrupt(tp(), fetch_offset, source))?
                .next_offset()
        } else {
            // A legacy entry's offset is its last (inner) record's.
            entry.offset + 1
        };
        next = Some(next.map_or(after, |n: i64| n.max(after)));
    }
    match next {
        Some(n) => Ok(Some((data.clone(), n))),
        None => Err(ConsumerError::IllegalState(format!(
            "a record batch at offset {fetch_offset} of partition {} is larger than \
             max.partition.fetch.bytes / fetch.max.bytes allow",
            p.partition_index
        ))),
    }
}

fn corrupt(partition: TopicPartition, offset: i64, source: DecodeError) -> ConsumerError {
    ConsumerError::Corrupt {
        partition,
        offset,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::{BatchOptions, RecordBatchBuilder};

    fn partition(records: Option<bytes::Bytes>) -> PartitionData {
        PartitionData {
            partition_index: 0,
            records,
            ..Default::default()
        }
    }

    #[test]
    fn next_offset_skips_a_trailing_partial_batch() {
        let mut b = RecordBatchBuilder::new(BatchOptions {
            base_offset: 10,
            ..Default::default()
        });
        for _ in 0..3 {
            b.append(0, None, Some(b"x"), &[]).unwrap();
        }
        let one = b.build().unwrap();
        let mut two = one.to_vec();
        two.extend_from_slice(&one[..one.len() - 5]);
        let (_, next) = data_of(&partition(Some(two.into())), 10).unwrap().unwrap();
        assert_eq!(next, 13);
        assert!(data_of(&partition(None), 0).unwrap().is_none());
        assert!(
            data_of(&partition(Some(one.slice(..20))), 0).is_err(),
            "nothing complete"
        );
    }
}
