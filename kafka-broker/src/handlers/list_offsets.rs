//! ListOffsets (key 2), versions 1-10.
//!
//! Per partition, by `timestamp`:
//! - -2 (earliest) and -4 (earliest local, v8+): the log start offset;
//! - -1 (latest): the high watermark;
//! - -3 (max timestamp, v7+): the record with the largest timestamp, or -1 for an empty log;
//! - -5 (latest tiered, v9+): -1, as Kafka answers without tiered storage;
//! - anything else: the first record whose timestamp is at least `timestamp`, or -1.
//!
//! `isolation_level` is accepted and ignored (no transactions, so both levels read the same).
//! Lookups by timestamp only find records below the high watermark. Only the partition's
//! leader answers (NOT_LEADER_OR_FOLLOWER elsewhere).
//!
//! A partition named twice gets INVALID_REQUEST, an unknown one UNKNOWN_TOPIC_OR_PARTITION;
//! `current_leader_epoch` is checked (v4+). The leader epoch returned (v4+) is the current
//! one once the partition has had data, else -1.

use std::collections::HashMap;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsRequest};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
};

use super::check_leader_epoch;
use crate::state::{BrokerState, Topic};

const EARLIEST: i64 = -2;
const LATEST: i64 = -1;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

/// What a lookup found: (timestamp, offset, leader epoch).
type Found = (i64, i64, i32);

pub(crate) fn handle(
    state: &BrokerState,
    req: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    let mut seen: HashMap<(&str, i32), usize> = HashMap::new();
    for t in &req.topics {
        for p in &t.partitions {
            *seen
                .entry((t.name.as_str(), p.partition_index))
                .or_default() += 1;
        }
    }
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let topic = state.topic(&t.name);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let result = if seen
                        .get(&(t.name.as_str(), p.partition_index))
                        .copied()
                        .unwrap_or(0)
                        > 1
                    {
                        Err(ErrorCode::InvalidRequest)
                    } else {
                        lookup(state, topic.as_deref(), p)
                    };
                    let mut r = ListOffsetsPartitionResponse {
                        partition_index: p.partition_index,
                        ..Default::default()
                    };
                    match result {
                        Ok((timestamp, offset, epoch)) => {
                            r.timestamp = timestamp;
                            r.offset = offset;
                            // A non-ignorable field before v4: only set where it exists.
                            if version >= 4 {
                                r.leader_epoch = epoch;
                            }
                        }
                        Err(code) => r.error_code = code.code(),
                    }
                    r
                })
                .collect();
            ListOffsetsTopicResponse {
                name: t.name.clone(),
                partitions,
                ..Default::default()
            }
        })
        .collect();
    ListOffsetsResponse {
        topics,
        ..Default::default()
    }
}

fn lookup(
    state: &BrokerState,
    topic: Option<&Topic>,
    p: &ListOffsetsPartition,
) -> Result<Found, ErrorCode> {
    let topic = topic.ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let partition = topic
        .partition(p.partition_index)
        .ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let control = state
        .cluster()
        .partition(&topic.name, p.partition_index)
        .filter(|c| c.topic_id == topic.id)
        .ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let (leader_epoch, hw) = control.led_by(state.node_id())?;
    check_leader_epoch(p.current_leader_epoch, leader_epoch)?;
    let log = partition.log().ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let start = log.log_start_offset();
    let end = hw.min(log.log_end_offset()).max(start);
    let epoch = if end > 0 { leader_epoch } else { -1 };
    let found = match p.timestamp {
        EARLIEST | EARLIEST_LOCAL => (-1, start, epoch),
        LATEST => (-1, end, epoch),
        MAX_TIMESTAMP => log
            .max_timestamp()
            .filter(|&(_, offset)| end > start && offset < end)
            .map_or((-1, -1, -1), |(ts, offset)| (ts, offset, leader_epoch)),
        LATEST_TIERED => (-1, -1, -1),
        ts => match log.offset_for_timestamp(ts) {
            Ok(Some((offset, found_ts))) if offset < end => (found_ts, offset, leader_epoch),
            Ok(_) => (-1, -1, -1),
            Err(e) => {
                tracing::error!(error = %e, "offset lookup by timestamp failed");
                return Err(ErrorCode::KafkaStorageError);
            }
        },
    };
    Ok(found)
}
