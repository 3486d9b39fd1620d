//! Walking and stamping the record batches handed to a log, and the record-level lookups
//! inside one stored batch.
//!
//! Both log implementations take the producer's bytes, give each batch its offsets and the
//! leader epoch (fields outside the CRC), optionally the log-append time, and need each batch's
//! offset range and timestamps to index it. Timestamp queries narrow down to one batch from
//! its header and only then decode records, which both logs do the same way here.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{BatchHeader, RecordSetReader};

use super::LogError;

/// One batch inside a buffer being appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSpan {
    /// Byte position in the buffer.
    pub pos: usize,
    /// Total bytes of the batch.
    pub len: usize,
    /// Offset of its first record (after stamping).
    pub base_offset: i64,
    /// Offset of its last record (after stamping).
    pub last_offset: i64,
    /// Its max timestamp (after stamping).
    pub max_timestamp: i64,
}

/// Copies `batches`, gives them consecutive offsets from `next_offset`, stamps `leader_epoch`
/// and (if set) `log_append_time`, and returns the stamped bytes with each batch's span.
pub fn stamp(
    batches: &[u8],
    next_offset: i64,
    leader_epoch: i32,
    log_append_time: Option<i64>,
) -> Result<(BytesMut, Vec<BatchSpan>), LogError> {
    let mut buf = BytesMut::from(batches);
    let mut spans = Vec::new();
    let mut pos = 0;
    let mut offset = next_offset;
    let bad = |e: kafka_protocol::DecodeError| LogError::InvalidBatch(e.to_string());
    while pos < buf.len() {
        let header = BatchHeader::parse(&buf[pos..]).map_err(bad)?;
        let len = header
            .total_size()
            .filter(|&n| n >= BatchHeader::SIZE && pos + n <= buf.len())
            .ok_or_else(|| LogError::InvalidBatch("batch length exceeds the data".into()))?;
        let delta = i64::from(header.last_offset_delta);
        if delta < 0 {
            return Err(LogError::InvalidBatch("negative last offset delta".into()));
        }
        let batch = &mut buf[pos..pos + len];
        BatchHeader::set_base_offset(batch, offset).map_err(bad)?;
        BatchHeader::set_partition_leader_epoch(batch, leader_epoch).map_err(bad)?;
        let mut max_timestamp = header.max_timestamp;
        if let Some(t) = log_append_time {
            BatchHeader::set_log_append_time(batch, t).map_err(bad)?;
            max_timestamp = t;
        }
        spans.push(BatchSpan {
            pos,
            len,
            base_offset: offset,
            last_offset: offset + delta,
            max_timestamp,
        });
        offset += delta + 1;
        pos += len;
    }
    if spans.is_empty() {
        return Err(LogError::InvalidBatch("no record batch".into()));
    }
    Ok((buf, spans))
}

/// Walks batches that already carry their offsets and leader epochs (a leader's log, read
/// by a follower) and returns each one's span, checking that they follow each other from
/// `next_offset` without a gap.
pub fn spans(batches: &[u8], next_offset: i64) -> Result<Vec<BatchSpan>, LogError> {
    let mut spans = Vec::new();
    let mut pos = 0;
    let mut offset = next_offset;
    let bad = |e: kafka_protocol::DecodeError| LogError::InvalidBatch(e.to_string());
    while pos < batches.len() {
        let header = BatchHeader::parse(&batches[pos..]).map_err(bad)?;
        let len = header
            .total_size()
            .filter(|&n| n >= BatchHeader::SIZE && pos + n <= batches.len())
            .ok_or_else(|| LogError::InvalidBatch("batch length exceeds the data".into()))?;
        let delta = i64::from(header.last_offset_delta);
        if delta < 0 {
            return Err(LogError::InvalidBatch("negative last offset delta".into()));
        }
        if header.base_offset != offset {
            return Err(LogError::InvalidBatch(format!(
                "replicated batch starts at offset {}, the log ends at {offset}",
                header.base_offset
            )));
        }
        spans.push(BatchSpan {
            pos,
            len,
            base_offset: offset,
            last_offset: offset + delta,
            max_timestamp: header.max_timestamp,
        });
        offset += delta + 1;
        pos += len;
    }
    if spans.is_empty() {
        return Err(LogError::InvalidBatch("no record batch".into()));
    }
    Ok(spans)
}

/// The first record of the stored `batch` whose timestamp is >= `timestamp` and whose offset
/// is >= `min_offset`, as `(offset, timestamp)`.
pub(super) fn first_record_at_or_after(
    batch: Bytes,
    timestamp: i64,
    min_offset: i64,
) -> Result<Option<(i64, i64)>, LogError> {
    let corrupt = |e: kafka_protocol::DecodeError| LogError::Corrupt(e.to_string());
    for b in RecordSetReader::new(batch) {
        for rec in b.map_err(corrupt)?.records() {
            let rec = rec.map_err(corrupt)?;
            if rec.timestamp >= timestamp && rec.offset >= min_offset {
                return Ok(Some((rec.offset, rec.timestamp)));
            }
        }
    }
    Ok(None)
}

/// The offset of the first record of the stored `batch` carrying the batch's max timestamp
/// `max_timestamp` (what Kafka answers for ListOffsets MAX_TIMESTAMP since KIP-734's fix),
/// falling back to `last_offset` when no record matches or the batch does not decode.
pub(super) fn offset_of_max_timestamp(batch: Bytes, max_timestamp: i64, last_offset: i64) -> i64 {
    for b in RecordSetReader::new(batch) {
        let Ok(b) = b else { break };
        for rec in b.records() {
            match rec {
                Ok(rec) if rec.timestamp == max_timestamp => return rec.offset,
                Ok(_) => {}
                Err(_) => return last_offset,
            }
        }
    }
    last_offset
}
