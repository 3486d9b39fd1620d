//! DeleteRecords (key 21), versions 0-2.
//!
//! Only the partition's leader answers (NOT_LEADER_OR_FOLLOWER elsewhere); followers follow
//! its new log start as they replicate.
//!
//! Moves each partition's log start offset up to `offset` (-1 means the high watermark),
//! dropping the data below it; the new log start is returned as `low_watermark`. An offset
//! below 0 (other than -1) or above the high watermark is OFFSET_OUT_OF_RANGE; an offset below
//! the current log start changes nothing. Unknown partitions get UNKNOWN_TOPIC_OR_PARTITION.
//! Fetches below the new start then get OFFSET_OUT_OF_RANGE.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsRequest,
};
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsResponse, DeleteRecordsTopicResult,
};

use crate::log::LogError;
use crate::state::{BrokerState, Topic};

/// `offset` meaning "up to the high watermark".
const HIGH_WATERMARK: i64 = -1;

pub(crate) fn handle(state: &BrokerState, req: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let topic = state.topic(&t.name);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let (low_watermark, error_code) = match delete(state, topic.as_deref(), p) {
                        Ok(start) => (start, 0),
                        Err(code) => (-1, code.code()),
                    };
                    if error_code == 0 {
                        tracing::info!(topic = %t.name, partition = p.partition_index, low_watermark, "deleted records");
                    }
                    DeleteRecordsPartitionResult {
                        partition_index: p.partition_index,
                        low_watermark,
                        error_code,
                        ..Default::default()
                    }
                })
                .collect();
            DeleteRecordsTopicResult {
                name: t.name,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    DeleteRecordsResponse {
        topics,
        ..Default::default()
    }
}

fn delete(
    state: &BrokerState,
    topic: Option<&Topic>,
    p: &DeleteRecordsPartition,
) -> Result<i64, ErrorCode> {
    let topic = topic.ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let partition = topic
        .partition(p.partition_index)
        .ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let control = state
        .cluster()
        .partition(&topic.name, p.partition_index)
        .filter(|c| c.topic_id == topic.id)
        .ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let (_, hw) = control.led_by(state.node_id())?;
    let mut log = partition.log().ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let high_watermark = hw.min(log.log_end_offset());
    let target = if p.offset == HIGH_WATERMARK {
        high_watermark
    } else {
        p.offset
    };
    if target < 0 || target > high_watermark {
        return Err(ErrorCode::OffsetOutOfRange);
    }
    log.delete_records_before(target).map_err(|e| match e {
        LogError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        e => {
            tracing::error!(error = %e, "delete records failed");
            ErrorCode::KafkaStorageError
        }
    })
}
