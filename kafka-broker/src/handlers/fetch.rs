//! Fetch (key 1), versions 4-17.
//!
//! - Topics by name before v13, by id from v13 (unknown: UNKNOWN_TOPIC_ID, else
//!   UNKNOWN_TOPIC_OR_PARTITION). `current_leader_epoch` is checked (v9+).
//! - Whole batches from `fetch_offset`, bounded by `partition_max_bytes` and the response's
//!   `max_bytes` (capped at Kafka's broker `fetch.max.bytes`, 55 MiB), except that the first
//!   partition with data returns at least one batch (KIP-74).
//! - Only the partition's leader serves fetches (NOT_LEADER_OR_FOLLOWER elsewhere, with the
//!   current leader from v12), and only records below the high watermark (what every
//!   in-sync replica has); the high watermark is also the last stable offset (no
//!   transactions). An offset outside [log start, log end] is OFFSET_OUT_OF_RANGE. Error
//!   partitions carry -1 offsets and no records, as in Kafka.
//! - Long poll: while fewer than `min_bytes` are available and `max_wait_ms` has not passed,
//!   the request parks and is woken by appends to any partition it asked for, high
//!   watermark moves (or a deletion);
//!   an error in any partition answers at once, as Kafka's delayed fetch does.
//! - Fetch sessions (v7+): full requests (epoch 0 or -1) are answered with session id 0,
//!   i.e. the broker declines to create a session, which KIP-227 allows and clients handle
//!   by sending full requests; an incremental request gets FETCH_SESSION_ID_NOT_FOUND.
//! - `isolation_level` is accepted and read the same way (no transactions are stored);
//!   read_committed gets an empty aborted-transactions list, read_uncommitted a null one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchRequest};
use kafka_protocol::messages::fetch_response::{
    FetchResponse, FetchableTopicResponse, LeaderIdAndEpoch, PartitionData,
};
use kafka_protocol::{ErrorCode, KStr};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::check_leader_epoch;
use crate::config::FETCH_MAX_BYTES;
use crate::log::LogError;
use crate::state::{BrokerState, Partition, Topic};

pub(crate) async fn handle(state: &BrokerState, req: FetchRequest, version: i16) -> FetchResponse {
    if !matches!(req.session_epoch, 0 | -1) {
        return FetchResponse {
            error_code: ErrorCode::FetchSessionIdNotFound.code(),
            session_id: 0,
            ..Default::default()
        };
    }
    let max_bytes = usize::try_from(req.max_bytes)
        .unwrap_or(0)
        .min(FETCH_MAX_BYTES);
    let wait = u64::try_from(req.max_wait_ms).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_millis(wait);
    let waker = (wait > 0).then(|| Arc::new(Notify::new()));
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    loop {
        let read = read_once(state, &req, version, max_bytes, waker.as_ref());
        let done = waker.is_none()
            || req.topics.is_empty()
            || read.bytes >= min_bytes
            || read.error
            || Instant::now() >= deadline;
        if let (false, Some(w)) = (done, &waker) {
            // Parked on every partition before reading it, so an append since then has left
            // a permit and this returns at once.
            if tokio::time::timeout_at(deadline, w.notified())
                .await
                .is_ok()
            {
                continue;
            }
            // Timed out: answer with what is there now.
            return read_once(state, &req, version, max_bytes, None).response;
        }
        return read.response;
    }
}

struct Read {
    response: FetchResponse,
    bytes: usize,
    error: bool,
}

/// Reads every requested partition once, parking `waker` on each before reading it.
fn read_once(
    state: &BrokerState,
    req: &FetchRequest,
    version: i16,
    max_bytes: usize,
    waker: Option<&Arc<Notify>>,
) -> Read {
    let read_committed = req.isolation_level == 1;
    let mut budget = max_bytes;
    let mut min_one = true;
    let mut total = 0;
    let mut error = false;
    let mut responses = Vec::with_capacity(req.topics.len());
    for ft in &req.topics {
        let (topic, missing) = if version >= 13 {
            (state.topic_by_id(ft.topic_id), ErrorCode::UnknownTopicId)
        } else {
            (state.topic(&ft.topic), ErrorCode::UnknownTopicOrPartition)
        };
        let mut partitions = Vec::with_capacity(ft.partitions.len());
        for fp in &ft.partitions {
            let found = topic
                .as_ref()
                .and_then(|t| t.partition(fp.partition).map(|p| (t, p)));
            let result = match found {
                None => Err(missing),
                Some((t, p)) => {
                    if let Some(w) = waker {
                        p.park(w);
                    }
                    read_partition(state, t, p, missing, fp, budget, min_one, read_committed)
                }
            };
            let data = result.unwrap_or_else(|code| {
                error = true;
                let mut data = error_partition(fp.partition, code);
                if version >= 12
                    && matches!(
                        code,
                        ErrorCode::NotLeaderOrFollower | ErrorCode::FencedLeaderEpoch
                    )
                    && let Some(t) = &topic
                    && let Some(pc) = state.cluster().partition(&t.name, fp.partition)
                {
                    let m = pc.lock();
                    data.current_leader = LeaderIdAndEpoch {
                        leader_id: m.leader,
                        leader_epoch: m.leader_epoch,
                        ..Default::default()
                    };
                }
                data
            });
            let n = data.records.as_ref().map_or(0, Bytes::len);
            if n > 0 {
                min_one = false;
                budget = budget.saturating_sub(n);
                total += n;
            }
            partitions.push(data);
        }
        responses.push(FetchableTopicResponse {
            topic: if version < 13 {
                ft.topic.clone()
            } else {
                KStr::default()
            },
            topic_id: ft.topic_id,
            partitions,
            ..Default::default()
        });
    }
    Read {
        response: FetchResponse {
            error_code: 0,
            session_id: 0,
            responses,
            ..Default::default()
        },
        bytes: total,
        error,
    }
}

#[allow(clippy::too_many_arguments)]
fn read_partition(
    state: &BrokerState,
    topic: &Topic,
    p: &Partition,
    missing: ErrorCode,
    fp: &FetchPartition,
    budget: usize,
    min_one: bool,
    read_committed: bool,
) -> Result<PartitionData, ErrorCode> {
    let control = state
        .cluster()
        .partition(&topic.name, fp.partition)
        .filter(|c| c.topic_id == topic.id)
        .ok_or(missing)?;
    let (epoch, hw) = control.led_by(state.node_id())?;
    check_leader_epoch(fp.current_leader_epoch, epoch)?;
    let log = p.log().ok_or(missing)?;
    let end = log.log_end_offset();
    let start = log.log_start_offset();
    if fp.fetch_offset < start || fp.fetch_offset > end {
        return Err(ErrorCode::OffsetOutOfRange);
    }
    // Never past what every in-sync replica has.
    let hw = hw.min(end).max(start);
    let limit = usize::try_from(fp.partition_max_bytes)
        .unwrap_or(0)
        .min(budget);
    let records = if fp.fetch_offset >= hw || (limit == 0 && !min_one) {
        Bytes::new()
    } else {
        match log.read(fp.fetch_offset, limit, hw) {
            // The log returns at least one batch; past the first partition with data the
            // limits are strict (KIP-74).
            Ok(r) if r.records.len() > limit && !min_one => Bytes::new(),
            Ok(r) => r.records,
            Err(LogError::OffsetOutOfRange { .. }) => return Err(ErrorCode::OffsetOutOfRange),
            Err(e) => {
                tracing::error!(error = %e, "fetch read failed");
                return Err(ErrorCode::KafkaStorageError);
            }
        }
    };
    Ok(PartitionData {
        partition_index: fp.partition,
        error_code: 0,
        high_watermark: hw,
        last_stable_offset: hw,
        log_start_offset: start,
        aborted_transactions: read_committed.then(Vec::new),
        preferred_read_replica: -1,
        records: Some(records),
        ..Default::default()
    })
}

fn error_partition(index: i32, code: ErrorCode) -> PartitionData {
    PartitionData {
        partition_index: index,
        error_code: code.code(),
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        aborted_transactions: None,
        preferred_read_replica: -1,
        records: Some(Bytes::new()),
        ..Default::default()
    }
}
