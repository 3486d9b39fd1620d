//! Produce (key 0), versions 3-11.
//!
//! - `acks` must be 0, 1 or -1 (else INVALID_REQUIRED_ACKS everywhere). acks=0 gets no
//!   response; if any partition failed the connection is closed instead, as Kafka does, so
//!   the producer notices.
//! - Only the partition's leader appends (NOT_LEADER_OR_FOLLOWER elsewhere, with the current
//!   leader from v10). With acks=-1 the partition's ISR must have at least the topic's
//!   `min.insync.replicas` members before anything is appended (NOT_ENOUGH_REPLICAS), and
//!   the answer waits until every in-sync replica has the batch (the high watermark passed
//!   it): NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below the minimum meanwhile,
//!   NOT_LEADER_OR_FOLLOWER if leadership moved, REQUEST_TIMED_OUT after `timeout_ms`. With
//!   one broker the ISR is the leader alone and the wait is over at once. The batch is
//!   stamped with the partition's leader epoch.
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
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ErrorCode;
use kafka_protocol::KStr;
use kafka_protocol::compression::Compression;
use kafka_protocol::messages::ResponseBody;
use kafka_protocol::messages::produce_request::{PartitionProduceData, ProduceRequest};
use kafka_protocol::messages::produce_response::{
    LeaderIdAndEpoch, PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};
use kafka_protocol::records::{RawBatch, ReadOptions, RecordSetReader};

use super::{CloseReason, Handled};
use crate::cluster::partition::PartitionControl;
use crate::log::LogError;
use crate::producer::sequence::{ProducerBatch, Verdict};
use crate::state::{BrokerState, Topic, now_ms};

/// The most a produced batch may decompress to while being validated: a bound against
/// decompression bombs, far above what `max.message.bytes` batches hold in practice.
const MAX_DECOMPRESSED: usize = 128 << 20;

/// A partition's data refused, with the error and a message for v8+ responses.
type Refusal = (ErrorCode, &'static str);

pub(crate) async fn handle(state: &BrokerState, req: ProduceRequest, version: i16) -> Handled {
    let acks_valid = matches!(req.acks, -1..=1);
    let mut failed = false;
    let mut responses = Vec::with_capacity(req.topic_data.len());
    // acks=-1 appends waiting for the ISR: (topic index, partition index, wait).
    let mut pending = Vec::new();
    for topic_data in req.topic_data {
        let topic = state.topic(&topic_data.name);
        let mut partition_responses = Vec::with_capacity(topic_data.partition_data.len());
        for pd in topic_data.partition_data {
            let index = pd.index;
            let result = if acks_valid {
                produce_partition(state, topic.as_ref(), pd, version, req.acks)
            } else {
                Err((ErrorCode::InvalidRequiredAcks, "acks must be 0, 1 or -1"))
            };
            if let Ok(done) = &result
                && let Some(wait) = &done.wait
            {
                pending.push((responses.len(), partition_responses.len(), wait.clone()));
            }
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
    if !pending.is_empty() {
        let timeout = Duration::from_millis(u64::try_from(req.timeout_ms).unwrap_or(0));
        let deadline = tokio::time::Instant::now() + timeout;
        let node = state.node_id();
        let waits = pending.iter().map(|(_, _, w)| {
            w.control
                .wait_committed(node, w.epoch, w.required, w.min_isr, deadline)
        });
        let results = futures_join_all(waits).await;
        for ((t, p, _), result) in pending.into_iter().zip(results) {
            if let Err(code) = result {
                let r = &mut responses[t].partition_responses[p];
                tracing::debug!(
                    partition = r.index,
                    error = code.name(),
                    "acks=all produce not acknowledged"
                );
                r.error_code = code.code();
                r.error_message = Some(KStr::from_static(code.name()));
            }
        }
    }
    if version >= 10 {
        for t in &mut responses {
            for r in &mut t.partition_responses {
                if r.error_code == ErrorCode::NotLeaderOrFollower.code()
                    && let Some(pc) = state.cluster().partition(&t.name, r.index)
                {
                    let m = pc.lock();
                    r.current_leader = LeaderIdAndEpoch {
                        leader_id: m.leader,
                        leader_epoch: m.leader_epoch,
                        ..Default::default()
                    };
                }
            }
        }
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

/// Joins the futures, polling them together (no extra dependency for one `join_all`).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// An acks=-1 append waiting for the in-sync replicas.
#[derive(Clone)]
struct Wait {
    control: Arc<PartitionControl>,
    epoch: i32,
    /// The high watermark that acknowledges the batch (its last offset + 1).
    required: i64,
    min_isr: usize,
}

/// What a successful append reports.
struct Appended {
    base_offset: i64,
    log_append_time: i64,
    log_start_offset: i64,
    /// For acks=-1: what to wait for before answering.
    wait: Option<Wait>,
}

fn produce_partition(
    state: &BrokerState,
    topic: Option<&Arc<Topic>>,
    pd: PartitionProduceData,
    version: i16,
    acks: i16,
) -> Result<Appended, Refusal> {
    const UNKNOWN: Refusal = (
        ErrorCode::UnknownTopicOrPartition,
        "This server does not host this topic-partition.",
    );
    const NOT_LEADER: Refusal = (
        ErrorCode::NotLeaderOrFollower,
        "This broker is not the leader of the partition.",
    );
    let topic = topic.ok_or(UNKNOWN)?;
    let partition = topic.partition(pd.index).ok_or(UNKNOWN)?;
    let control = state
        .cluster()
        .partition(&topic.name, pd.index)
        .filter(|c| c.topic_id == topic.id)
        .ok_or(UNKNOWN)?;
    if control.lock().leader != state.node_id() {
        return Err(NOT_LEADER);
    }
    let records = pd.records.unwrap_or_default();
    let batch = validate(&records, version, topic.settings.log.max_message_bytes)?;
    let idempotent = batch.header().ok().as_ref().and_then(ProducerBatch::of);
    let append_time = topic.settings.log_append_time.then(now_ms);
    let min_isr = usize::try_from(topic.settings.min_insync_replicas).unwrap_or(1);
    // The partition lock keeps leadership from moving between the check and the append.
    let mut meta = control.lock();
    if meta.leader != state.node_id() {
        return Err(NOT_LEADER);
    }
    if acks == -1 && meta.isr.len() < min_isr {
        return Err((
            ErrorCode::NotEnoughReplicas,
            "Fewer in-sync replicas than min.insync.replicas",
        ));
    }
    let epoch = meta.leader_epoch;
    let wait = |required: i64| {
        (acks == -1).then(|| Wait {
            control: Arc::clone(&control),
            epoch,
            required,
            min_isr,
        })
    };
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
                    wait: wait(dup.last_offset + 1),
                });
            }
            Err(e) => {
                tracing::debug!(topic = %topic.name, partition = pd.index, error = %e, "idempotent batch refused");
                return Err((e.code(), e.message()));
            }
        }
    }
    let info = log.append(&batch.bytes, epoch, append_time).map_err(|e| {
        tracing::error!(topic = %topic.name, partition = pd.index, error = %e, "append failed");
        match e {
            LogError::InvalidBatch(_) => (ErrorCode::CorruptMessage, "the log refused the batch"),
            LogError::Io(_) => (ErrorCode::KafkaStorageError, "disk error while appending"),
            _ => (ErrorCode::UnknownServerError, "append failed"),
        }
    })?;
    if let Some(b) = &idempotent {
        producers.record(b, info.base_offset, info.max_timestamp);
    }
    drop(producers);
    let log_start_offset = log.log_start_offset();
    let end = log.log_end_offset();
    drop(log);
    let hw_moved = meta.leader_appended(end, tokio::time::Instant::now());
    drop(meta);
    if hw_moved {
        control.notify();
    }
    partition.wake();
    Ok(Appended {
        base_offset: info.base_offset,
        log_append_time: append_time.unwrap_or(-1),
        log_start_offset,
        wait: wait(info.last_offset + 1),
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
    // Borrowed records: no reference counting or allocation per record on the produce path.
    for (expected, record) in (header.base_offset..).zip(decoded.records_ref()) {
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
