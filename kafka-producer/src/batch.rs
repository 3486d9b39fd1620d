//! One partition's batch of records, from the first append to its completion.
//!
//! A batch is open while records are appended to its [`RecordBatchBuilder`]; the sender
//! closes it (builds and compresses it) when it drains it, and stamps the idempotent
//! producer's id, epoch and base sequence into the closed bytes. Retries send the same bytes;
//! only an epoch bump re-stamps them. A batch too large for the broker is split into
//! batches of `batch.size` whose records keep their futures and callbacks.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kafka_protocol::EncodeError;
use kafka_protocol::records::{
    BatchHeader, BatchOptions, RecordBatchBuilder, RecordHeader, RecordSetReader,
};

mod callbacks;

use self::callbacks::Callbacks;
pub(crate) use self::callbacks::{DeliveryCallback, NoCallback};
use crate::delivery::{BatchAck, BatchShared};
use crate::error::ProducerError;
use crate::record::RecordMetadata;

/// Told about every record's outcome (interceptors and metrics), with its create time.
pub(crate) trait AckListener: Send + Sync {
    fn on_ack(&self, result: Result<&RecordMetadata, &ProducerError>);
}

/// The idempotent producer's fields of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProducerStamp {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
}

/// The most callbacks a batch makes room for up front.
const MAX_CALLBACKS_RESERVED: usize = 1024;

// Byte positions of the producer fields in a v2 batch header.
const PRODUCER_ID_AT: usize = 43;

enum Body {
    Open(RecordBatchBuilder),
    Closed(Bytes),
}

/// A batch of records for one partition.
pub(crate) struct ProducerBatch {
    /// Unique per producer (split parts keep their parent's, for `flush`).
    pub id: u64,
    pub topic: Arc<str>,
    pub partition: i32,
    pub shared: Arc<BatchShared>,
    pub created: Instant,
    pub records: u32,
    body: Body,
    /// Bytes of uncompressed records the batch may grow to.
    write_limit: usize,
    /// Memory accounted for this batch in `buffer.memory`.
    pub reserved: usize,
    callbacks: Callbacks,
    /// Every record's create time, kept only when listeners need per-record metadata.
    timestamps: Option<Vec<i64>>,
    /// Produce attempts so far.
    pub attempts: u32,
    /// Not to be sent again before this (retry backoff).
    pub retry_at: Option<Instant>,
    /// The idempotent fields assigned when first drained.
    pub stamp: Option<ProducerStamp>,
    /// The last error of a failed attempt.
    pub last_error: Option<ProducerError>,
    /// Bytes of the records before compression.
    pub uncompressed: usize,
}

impl std::fmt::Debug for ProducerBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerBatch")
            .field("id", &self.id)
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("records", &self.records)
            .field("attempts", &self.attempts)
            .field("stamp", &self.stamp)
            .finish_non_exhaustive()
    }
}

/// What [`ProducerBatch::try_append`] needs of a record.
pub(crate) struct RecordInput<'a> {
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [RecordHeader],
}

impl RecordInput<'_> {
    /// An upper bound on the bytes the record adds to a batch.
    pub(crate) fn size(&self) -> usize {
        RecordBatchBuilder::record_size_upper_bound(self.key, self.value, self.headers)
    }
}

impl ProducerBatch {
    /// The buffer a batch of `write_limit` bytes reserving `reserved` starts with.
    pub(crate) fn initial_capacity(write_limit: usize, reserved: usize) -> usize {
        write_limit.min(reserved.max(BatchHeader::SIZE))
    }

    /// A new open batch, writing into `buffer` when one is given (a recycled one of at
    /// least [`initial_capacity`](Self::initial_capacity)).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: u64,
        topic: Arc<str>,
        partition: i32,
        options: BatchOptions,
        write_limit: usize,
        reserved: usize,
        track_timestamps: bool,
        now: Instant,
        buffer: Option<BytesMut>,
    ) -> Self {
        let builder = match buffer {
            Some(buf) => RecordBatchBuilder::with_buffer(options, buf),
            None => RecordBatchBuilder::with_capacity(
                options,
                Self::initial_capacity(write_limit, reserved),
            ),
        };
        Self {
            id,
            shared: BatchShared::new(topic.clone(), partition),
            topic,
            partition,
            created: now,
            records: 0,
            body: Body::Open(builder),
            write_limit,
            reserved,
            callbacks: Callbacks::default(),
            timestamps: track_timestamps.then(Vec::new),
            attempts: 0,
            retry_at: None,
            stamp: None,
            last_error: None,
            uncompressed: BatchHeader::SIZE,
        }
    }

    /// Appends a record if it fits (the first record always does); returns its index and
    /// the bytes it added.
    pub(crate) fn try_append(
        &mut self,
        record: &RecordInput<'_>,
    ) -> Result<Option<(u32, usize)>, EncodeError> {
        let Body::Open(builder) = &mut self.body else {
            return Ok(None);
        };
        let before = builder.estimated_size();
        if self.records > 0 && before + record.size() > self.write_limit {
            return Ok(None);
        }
        builder.append(record.timestamp, record.key, record.value, record.headers)?;
        let added = builder.estimated_size() - before;
        let index = self.records;
        self.records += 1;
        self.uncompressed += added;
        if let Some(ts) = &mut self.timestamps {
            ts.push(record.timestamp);
        }
        Ok(Some((index, added)))
    }

    /// Whether a record of `size` bytes would not fit any more.
    pub(crate) fn is_full_for(&self, size: usize) -> bool {
        match &self.body {
            Body::Open(b) => b.estimated_size() + size > self.write_limit,
            Body::Closed(_) => true,
        }
    }

    /// Whether the batch was built (drained at least once).
    pub(crate) fn is_closed(&self) -> bool {
        matches!(self.body, Body::Closed(_))
    }

    /// Adds a callback for record `index`.
    pub(crate) fn add_callback<F: DeliveryCallback>(
        &mut self,
        index: u32,
        timestamp: i64,
        callback: F,
    ) {
        // Room for as many callbacks as records of this size fit in the batch, so the
        // first run does not grow (and reallocate) record by record.
        let expected = if self.callbacks.is_empty() {
            let record = self.uncompressed.saturating_sub(BatchHeader::SIZE).max(1);
            (self.write_limit / record).clamp(1, MAX_CALLBACKS_RESERVED)
        } else {
            1
        };
        self.callbacks.push(index, timestamp, callback, expected);
    }

    /// Builds the batch (compressing it) if it is still open.
    pub(crate) fn close(&mut self) -> Result<(), EncodeError> {
        if let Body::Open(_) = &self.body {
            let Body::Open(mut builder) =
                std::mem::replace(&mut self.body, Body::Closed(Bytes::new()))
            else {
                unreachable!("checked above")
            };
            if let Some(s) = self.stamp {
                // Built with the stamp: one pass of the CRC.
                builder.set_producer(s.producer_id, s.epoch, s.base_sequence);
            }
            self.body = Body::Closed(builder.build()?);
        }
        Ok(())
    }

    /// Sets the idempotent fields: the build uses them, or the closed bytes are rewritten
    /// (an epoch bump's restamp).
    pub(crate) fn set_stamp(&mut self, stamp: ProducerStamp) {
        self.stamp = Some(stamp);
        if let Body::Closed(bytes) = &mut self.body {
            let current = std::mem::take(bytes);
            *bytes = write_stamp(current, stamp);
        }
    }

    /// Takes the built bytes' buffer back for another batch, when nothing else holds them
    /// (a completed batch: its requests are gone).
    pub(crate) fn take_buffer(&mut self) -> Option<BytesMut> {
        match &mut self.body {
            Body::Closed(b) => std::mem::take(b).try_into_mut().ok(),
            Body::Open(_) => None,
        }
    }

    /// The built batch (empty before [`close`](Self::close)).
    pub(crate) fn bytes(&self) -> Bytes {
        match &self.body {
            Body::Closed(b) => b.clone(),
            Body::Open(_) => Bytes::new(),
        }
    }

    /// Bytes on the wire (the estimate while open).
    pub(crate) fn size(&self) -> usize {
        match &self.body {
            Body::Closed(b) => b.len(),
            Body::Open(b) => b.estimated_size(),
        }
    }

    /// The last sequence number in the batch.
    pub(crate) fn last_sequence(&self) -> Option<i32> {
        self.stamp
            .map(|s| add_sequence(s.base_sequence, self.records.saturating_sub(1)))
    }

    /// Completes every record: resolves the futures, calls the callbacks and tells
    /// `listener` (interceptors) about each record.
    pub(crate) fn complete(
        self,
        result: Result<BatchAck, ProducerError>,
        listener: Option<&dyn AckListener>,
    ) {
        self.shared.complete(result.clone());
        let meta = |index: u32, ts: i64| match &result {
            Ok(ack) => Ok(self.shared.metadata(index, ts, ack)),
            Err(e) => Err(e.clone()),
        };
        if let Some(listener) = listener {
            match &self.timestamps {
                Some(ts) => {
                    for (i, ts) in ts.iter().enumerate() {
                        let m = meta(i as u32, *ts);
                        listener.on_ack(m.as_ref());
                    }
                }
                None => {
                    if let Err(e) = &result {
                        listener.on_ack(Err(e));
                    }
                }
            }
        }
        self.callbacks.complete(&meta);
    }

    /// Splits a closed batch into batches of at most `limit` bytes each, in record order,
    /// with consecutive sequences when the batch had one. The records' futures and callbacks
    /// move to the part that holds them. Each part is new (no attempts yet); the first keeps
    /// the memory reservation.
    pub(crate) fn split(
        mut self,
        options: BatchOptions,
        limit: usize,
        now: Instant,
    ) -> Result<Vec<ProducerBatch>, ProducerError> {
        self.close()?;
        let bytes = self.bytes();
        let mut parts: Vec<ProducerBatch> = Vec::new();
        let mut starts: Vec<u32> = Vec::new();
        let mut index = 0u32;
        for batch in RecordSetReader::new(bytes) {
            let batch =
                batch.map_err(|_| ProducerError::Encode(EncodeError::Records(UNSPLITTABLE)))?;
            for record in batch.records() {
                let record = record
                    .map_err(|_| ProducerError::Encode(EncodeError::Records(UNSPLITTABLE)))?;
                let input = RecordInput {
                    timestamp: record.timestamp,
                    key: record.key.as_deref(),
                    value: record.value.as_deref(),
                    headers: &record.headers,
                };
                let appended = match parts.last_mut() {
                    Some(p) => p.try_append(&input)?,
                    None => None,
                };
                if appended.is_none() {
                    let mut part = ProducerBatch::new(
                        self.id,
                        self.topic.clone(),
                        self.partition,
                        options,
                        limit,
                        0,
                        self.timestamps.is_some(),
                        now,
                        None,
                    );
                    part.created = self.created;
                    part.try_append(&input)?;
                    parts.push(part);
                    starts.push(index);
                }
                index += 1;
            }
        }
        if let Some(first) = parts.first_mut() {
            first.reserved = self.reserved;
        }
        if let Some(stamp) = self.stamp {
            let mut seq = stamp.base_sequence;
            for p in &mut parts {
                p.stamp = Some(ProducerStamp {
                    base_sequence: seq,
                    ..stamp
                });
                seq = add_sequence(seq, p.records);
            }
        }
        // Callbacks follow their records.
        let locate = |index: u32| {
            let at = starts.partition_point(|s| *s <= index).checked_sub(1)?;
            Some((at, index - starts[at]))
        };
        let mut moved: Vec<Callbacks> = parts.iter().map(|_| Callbacks::default()).collect();
        std::mem::take(&mut self.callbacks).distribute(&locate, &mut moved);
        for (part, callbacks) in parts.iter_mut().zip(moved) {
            part.callbacks = callbacks;
        }
        self.shared.redirect(
            starts
                .iter()
                .zip(&parts)
                .map(|(s, p)| (*s, p.shared.clone()))
                .collect(),
        );
        Ok(parts)
    }
}

/// Sequence arithmetic wraps at `i32::MAX` to 0, as Kafka's does.
pub(crate) fn add_sequence(base: i32, n: u32) -> i32 {
    ((i64::from(base) + i64::from(n)) % (i64::from(i32::MAX) + 1)) as i32
}

/// Writes the producer id, epoch and base sequence into a built batch and updates its CRC.
fn write_stamp(bytes: Bytes, stamp: ProducerStamp) -> Bytes {
    // Unique unless a request still holds the bytes, which only an epoch bump's rewrite of
    // a batch with nothing on the wire does not do: copy then.
    let mut buf = bytes
        .try_into_mut()
        .unwrap_or_else(|shared| bytes::BytesMut::from(&shared[..]));
    if buf.len() >= BatchHeader::SIZE {
        buf[PRODUCER_ID_AT..PRODUCER_ID_AT + 8].copy_from_slice(&stamp.producer_id.to_be_bytes());
        buf[PRODUCER_ID_AT + 8..PRODUCER_ID_AT + 10].copy_from_slice(&stamp.epoch.to_be_bytes());
        buf[PRODUCER_ID_AT + 10..PRODUCER_ID_AT + 14]
            .copy_from_slice(&stamp.base_sequence.to_be_bytes());
        // Only fails on a short or non-v2 buffer, which the builder never makes.
        let _ = BatchHeader::update_crc(&mut buf);
    }
    buf.freeze()
}

/// A batch we built ourselves failed to decode for splitting: a bug, reported as such.
const UNSPLITTABLE: &str = "a batch being split does not decode";

#[cfg(test)]
mod tests;
