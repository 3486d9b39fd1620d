//! Produce (key 0), versions 3-11.
//!
//! - `acks` must be 0, 1 or -1 (else INVALID_REQUIRED_ACKS everywhere). With one broker, -1
//!   is the same as 1: the append is complete when the response is sent. acks=0 gets no
//!   response; if any partition failed the connection is closed instead, as Kafka does, so
//!   the producer notices.
//! - Each partition's data is validated whole before anything is appended, following Kafka's
//!   `ProduceRequest.validateRecords`, `UnifiedLog.analyzeAndValidateRecords` and
//!   `LogValidator`: exactly one magic-2 batch (INVALID_RECORD otherwise, CORRUPT_MESSAGE for
//!   bad framing or an unknown magic), base offset 0 (INVALID_RECORD), size within
//!   `max.message.bytes` (MESSAGE_TOO_LARGE), CRC (CORRUPT_MESSAGE), zstd only from v7
//!   (UNSUPPORTED_COMPRESSION_TYPE), a record count matching `lastOffsetDelta + 1` and records
//!   that decode with consecutive offset deltas (INVALID_RECORD), no control batches
//!   (INVALID_RECORD). Unlike Kafka, a partial batch after the first is refused
//!   (CORRUPT_MESSAGE) rather than silently dropped.
//! - Transactional batches get INVALID_TXN_STATE: there is no transaction coordinator, so no
//!   transaction can be ongoing.
//! - Idempotent batches (a producer id) are checked against the partition's producer state
//!   after validation, under the log lock (rules in `producer/sequence.rs`): a stale epoch is
//!   INVALID_PRODUCER_EPOCH, a gap or an old retry OUT_OF_ORDER_SEQUENCE_NUMBER, and nothing
//!   is appended; a resend of one of the producer's last five batches is not appended again
//!   and is answered, as Kafka does, with NONE, the original base offset and the original
//!   batch's max timestamp as `log_append_time`.
//! - The response carries the base offset, the log-append time when the topic uses
//!   `LogAppendTime` (else -1), and the log start offset.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::ErrorCode;
use kafka_protocol::KStr;
use kafka_protocol::compression::Compression;
use kafka_protocol::messages::ResponseBody;
use kafka_protocol::messages::produce_request::{PartitionProduceData, ProduceRequest};
use kafka_protocol::messages::produce_response::{
    PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};
use kafka_protocol::records::{RawBatch, ReadOptions, RecordSetReader};

use super::{CloseReason, Handled};
use crate::log::LogError;
use crate::producer::sequence::{ProducerBatch, Verdict};
use crate::state::{BrokerState, LEADER_EPOCH, Topic, now_ms};

/// The most a produced batch may decompress to while being validated: a bound against
/// decompression bombs, far above what `max.message.bytes` batches hold in practice.
const MAX_DECOMPRESSED: usize = 128 << 20;

/// A partition's data refused, with the error and a message for v8+ responses.
type Refusal = (ErrorCode, &'static str);

pub(crate) fn handle(state: &BrokerState, req: ProduceRequest, version: i16) -> Handled {
    let acks_valid = matches!(req.acks, -1..=1);
    let mut failed = false;
    let mut responses = Vec::with_capacity(req.topic_data.len());
    for topic_data in req.topic_data {
        let topic = state.topic(&topic_data.name);
        let mut partition_responses = Vec::with_capacity(topic_data.partition_data.len());
        for pd in topic_data.partition_data {
            let index = pd.index;
            let result = if acks_valid {
                produce_partition(topic.as_ref(), pd, version)
            } else {
                Err((ErrorCode::InvalidRequiredAcks, "acks must be 0, 1 or -1"))
            };
            partition_responses.push(match result {
                Ok(done) => PartitionProduceResponse {
                    index,
                    error_code: 0,
                    base_offset: done.base_offset,
                    log_append_time_ms: done.log_append_time,
                    log_start_offset: done.log_start_offset,
                    ..Default::default()
                },
                Err((code, message)) => {
                    failed = true;
                    tracing::debug!(topic = %topic_data.name, partition = index, error = code.name(), message, "produce refused");
                    PartitionProduceResponse {
                        index,
                        error_code: code.code(),
                        base_offset: -1,
                        log_append_time_ms: -1,
                        log_start_offset: -1,
                        error_message: Some(KStr::from_static(message)),
                        ..Default::default()
                    }
                }
            });
        }
        responses.push(TopicProduceResponse {
            name: topic_data.name,
            partition_responses,
            ..Default::default()
        });
    }
    if req.acks == 0 {
        return if failed {
            Handled::Close(CloseReason::FailedWithoutAcks)
        } else {
            Handled::Nothing
        };
    }
    ResponseBody::Produce(ProduceResponse {
        responses,
        ..Default::default()
    })
    .into()
}

/// What a successful append reports.
struct Appended {
    base_offset: i64,
    log_append_time: i64,
    log_start_offset: i64,
}

fn produce_partition(
    topic: Option<&Arc<Topic>>,
    pd: PartitionProduceData,
    version: i16,
) -> Result<Appended, Refusal> {
    const UNKNOWN: Refusal = (
        ErrorCode::UnknownTopicOrPartition,
        "This server does not host this topic-partition.",
    );
    let topic = topic.ok_or(UNKNOWN)?;
    let partition = topic.partition(pd.index).ok_or(UNKNOWN)?;
    let records = pd.records.unwrap_or_default();
    let batch = validate(&records, version, topic.settings.log.max_message_bytes)?;
    let idempotent = batch.header().ok().as_ref().and_then(ProducerBatch::of);
    let append_time = topic.settings.log_append_time.then(now_ms);
    let mut log = partition.log().ok_or(UNKNOWN)?;
    let mut producers = partition.producers();
    if let Some(b) = &idempotent {
        match producers.check(b) {
            Ok(Verdict::Append) => {}
            Ok(Verdict::Duplicate(dup)) => {
                tracing::debug!(topic = %topic.name, partition = pd.index, producer_id = b.producer_id, first_seq = b.first_seq, offset = dup.first_offset, "duplicate batch not appended");
                return Ok(Appended {
                    base_offset: dup.first_offset,
                    log_append_time: dup.timestamp,
                    log_start_offset: log.log_start_offset(),
                });
            }
            Err(e) => {
                tracing::debug!(topic = %topic.name, partition = pd.index, error = %e, "idempotent batch refused");
                return Err((e.code(), e.message()));
            }
        }
    }
    let info = log
        .append(&batch.bytes, LEADER_EPOCH, append_time)
        .map_err(|e| {
            tracing::error!(topic = %topic.name, partition = pd.index, error = %e, "append failed");
            match e {
                LogError::InvalidBatch(_) => {
                    (ErrorCode::CorruptMessage, "the log refused the batch")
                }
                LogError::Io(_) => (ErrorCode::KafkaStorageError, "disk error while appending"),
                _ => (ErrorCode::UnknownServerError, "append failed"),
            }
        })?;
    if let Some(b) = &idempotent {
        producers.record(b, info.base_offset, info.max_timestamp);
    }
    drop(producers);
    let log_start_offset = log.log_start_offset();
    drop(log);
    partition.wake();
    Ok(Appended {
        base_offset: info.base_offset,
        log_append_time: append_time.unwrap_or(-1),
        log_start_offset,
    })
}

/// Checks one partition's produced data; returns its single batch.
fn validate(records: &Bytes, version: i16, max_message_bytes: u64) -> Result<RawBatch, Refusal> {
    const NO_BATCH: Refusal = (
        ErrorCode::InvalidRecord,
        "Produce requests must have exactly one record batch per partition",
    );
    const FRAMING: Refusal = (ErrorCode::CorruptMessage, "bad record batch framing");
    let mut reader = RecordSetReader::with_options(
        records.clone(),
        ReadOptions {
            verify_crc: false,
            max_decompressed_size: MAX_DECOMPRESSED,
        },
    );
    let batch = match reader.next_raw() {
        None => return Err(NO_BATCH),
        Some(Err(_)) => return Err(FRAMING),
        Some(Ok(b)) => b,
    };
    match reader.next_raw() {
        None if reader.is_truncated() => return Err(FRAMING),
        None => {}
        Some(Ok(_)) => return Err(NO_BATCH),
        Some(Err(_)) => return Err(FRAMING),
    }
    if batch.magic != kafka_protocol::records::MAGIC_V2 {
        return Err((
            ErrorCode::InvalidRecord,
            "Produce requests v3+ may only contain record batches with magic 2",
        ));
    }
    let header = batch.header().map_err(|_| FRAMING)?;
    if header.base_offset != 0 {
        return Err((
            ErrorCode::InvalidRecord,
            "The base offset of a produced batch must be 0",
        ));
    }
    if batch.bytes.len() as u64 > max_message_bytes {
        return Err((
            ErrorCode::MessageTooLarge,
            "The batch is larger than the topic's max.message.bytes",
        ));
    }
    batch
        .verify_crc()
        .map_err(|_| (ErrorCode::CorruptMessage, "The batch fails its CRC check"))?;
    let compression = header
        .compression()
        .map_err(|_| (ErrorCode::InvalidRecord, "Unknown compression codec"))?;
    if compression == Compression::Zstd && version < 7 {
        return Err((
            ErrorCode::UnsupportedCompressionType,
            "Produce requests below v7 cannot use zstd",
        ));
    }
    let count = i64::from(header.last_offset_delta) + 1;
    if count <= 0 || header.records_count <= 0 || i64::from(header.records_count) != count {
        return Err((
            ErrorCode::InvalidRecord,
            "Inconsistent batch offset range and record count",
        ));
    }
    if header.is_control() {
        return Err((
            ErrorCode::InvalidRecord,
            "Clients are not allowed to write control records",
        ));
    }
    if header.is_transactional() {
        return Err((
            ErrorCode::InvalidTxnState,
            "This broker has no transaction coordinator: no transaction is ongoing",
        ));
    }
    if header.producer_id >= 0 && header.base_sequence < 0 {
        return Err((
            ErrorCode::InvalidRecord,
            "Invalid sequence number for an idempotent batch",
        ));
    }
    let decoded = batch
        .decode(&ReadOptions {
            verify_crc: false,
            max_decompressed_size: MAX_DECOMPRESSED,
        })
        .map_err(|_| {
            (
                ErrorCode::CorruptMessage,
                "The batch cannot be decompressed",
            )
        })?;
    for (expected, record) in (header.base_offset..).zip(decoded.records()) {
        let record = record.map_err(|_| {
            (
                ErrorCode::InvalidRecord,
                "A record in the batch does not decode",
            )
        })?;
        if record.offset != expected {
            return Err((
                ErrorCode::InvalidRecord,
                "Record offset deltas are not consecutive",
            ));
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::{BatchOptions, RecordBatchBuilder};

    fn batch(compression: Compression, n: usize) -> Bytes {
        let mut b = RecordBatchBuilder::new(BatchOptions {
            compression,
            ..Default::default()
        });
        for i in 0..n {
            b.append(1_000 + i as i64, Some(b"k"), Some(b"value"), &[])
                .unwrap();
        }
        b.build().unwrap()
    }

    fn code(r: Result<RawBatch, Refusal>) -> ErrorCode {
        r.map(|_| ErrorCode::None).unwrap_or_else(|(c, _)| c)
    }

    #[test]
    fn accepts_a_valid_batch() {
        assert_eq!(
            code(validate(&batch(Compression::None, 3), 9, 1 << 20)),
            ErrorCode::None
        );
        assert_eq!(
            code(validate(&batch(Compression::Gzip, 3), 9, 1 << 20)),
            ErrorCode::None
        );
    }

    #[test]
    fn refuses_like_kafka() {
        let good = batch(Compression::None, 2);
        assert_eq!(
            code(validate(&Bytes::new(), 9, 1 << 20)),
            ErrorCode::InvalidRecord
        );
        let mut two = good.to_vec();
        two.extend_from_slice(&good);
        assert_eq!(
            code(validate(&Bytes::from(two), 9, 1 << 20)),
            ErrorCode::InvalidRecord
        );
        let mut crc = good.to_vec();
        let last = crc.len() - 1;
        crc[last] ^= 1;
        assert_eq!(
            code(validate(&Bytes::from(crc), 9, 1 << 20)),
            ErrorCode::CorruptMessage
        );
        let mut offset = good.to_vec();
        offset[7] = 5;
        assert_eq!(
            code(validate(&Bytes::from(offset), 9, 1 << 20)),
            ErrorCode::InvalidRecord
        );
        assert_eq!(code(validate(&good, 9, 10)), ErrorCode::MessageTooLarge);
        assert_eq!(
            code(validate(&good.slice(..good.len() - 3), 9, 1 << 20)),
            ErrorCode::InvalidRecord
        );
        let mut partial = good.to_vec();
        partial.extend_from_slice(&good[..20]);
        assert_eq!(
            code(validate(&Bytes::from(partial), 9, 1 << 20)),
            ErrorCode::CorruptMessage
        );
        assert_eq!(
            code(validate(&batch(Compression::Zstd, 1), 6, 1 << 20)),
            ErrorCode::UnsupportedCompressionType
        );
        let mut magic = good.to_vec();
        magic[16] = 7;
        assert_eq!(
            code(validate(&Bytes::from(magic), 9, 1 << 20)),
            ErrorCode::CorruptMessage
        );
    }
}
