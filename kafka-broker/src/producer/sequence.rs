//! A partition's idempotent-producer state: for each producer id, its epoch and its last
//! five batches, which every idempotent batch produced to the partition is checked against.
//!
//! Sans-IO: Produce calls [`ProducerStateManager::check`] before appending and
//! [`ProducerStateManager::record`] after; loading a partition feeds the stored batches to
//! [`ProducerStateManager::replay`]. The rules are Kafka 4's (`ProducerStateEntry`,
//! `ProducerAppendInfo.checkProducerEpoch` / `checkSequence`, `UnifiedLog.append`), for a
//! request holding one batch per partition, as Produce v3+ requires:
//!
//! 1. **Duplicate.** A batch with the producer's current epoch and exactly the first and last
//!    sequence of one of its last five batches is not appended again. Kafka answers it with
//!    error NONE, the original batch's base offset, and the original batch's max timestamp as
//!    `log_append_time` (`UnifiedLog.append` copies `duplicate.timestamp()` there whatever
//!    the topic's timestamp type). DUPLICATE_SEQUENCE_NUMBER was 0.11.0's answer, before
//!    brokers remembered five batches; clients still take it as success, but current brokers
//!    never send it.
//! 2. **Stale epoch.** An epoch below the producer's is INVALID_PRODUCER_EPOCH.
//! 3. **New epoch.** A higher epoch (an InitProducerId bump, or a KIP-360 client bumping its
//!    own epoch) must start at sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER; it replaces the
//!    remembered batches.
//! 4. **Same epoch.** The first sequence must follow the last one (`i32::MAX` wraps to 0),
//!    else OUT_OF_ORDER_SEQUENCE_NUMBER: a gap, or a retry older than the last five batches.
//! 5. **Unknown producer.** A producer the partition holds no state for (never seen here,
//!    expired, or whose state could not be rebuilt) may start at any sequence: current Kafka
//!    accepts it ("possibly because all producer records have been deleted due to retention
//!    or the DeleteRecords API", `checkSequence`) where older brokers answered
//!    UNKNOWN_PRODUCER_ID.
//!
//! A producer is forgotten [`PRODUCER_ID_EXPIRATION_MS`] after the timestamp of its last
//! batch (Kafka's `producer.id.expiration.ms`, which compares the batch's max timestamp, not
//! the time of the append). Retention and DeleteRecords forget nobody, as in current Kafka
//! (`ProducerStateManager.onLogStartOffsetIncremented` keeps every producer).

use std::collections::{HashMap, VecDeque};

use kafka_protocol::ErrorCode;
use kafka_protocol::records::{BatchHeader, NO_PRODUCER_EPOCH, NO_SEQUENCE};

/// How many batches are remembered per producer: the most a client has in flight
/// (`max.in.flight.requests.per.connection` <= 5 with idempotence).
pub(crate) const NUM_BATCHES_TO_RETAIN: usize = 5;

/// Kafka's default `producer.id.expiration.ms`: one day.
pub(crate) const PRODUCER_ID_EXPIRATION_MS: i64 = 24 * 60 * 60 * 1000;

/// The producer fields of an idempotent batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProducerBatch {
    pub producer_id: i64,
    pub epoch: i16,
    pub first_seq: i32,
    pub last_seq: i32,
    /// The batch's last offset delta (records - 1).
    pub offset_delta: i32,
}

impl ProducerBatch {
    /// The producer fields of a batch; `None` when it has no producer id (not idempotent).
    pub(crate) fn of(header: &BatchHeader) -> Option<Self> {
        (header.producer_id >= 0).then(|| {
            Self::new(
                header.producer_id,
                header.producer_epoch,
                header.base_sequence,
                header.last_offset_delta,
            )
        })
    }

    /// A batch of `offset_delta + 1` records from `producer_id` starting at `first_seq`.
    pub(crate) fn new(producer_id: i64, epoch: i16, first_seq: i32, offset_delta: i32) -> Self {
        Self {
            producer_id,
            epoch,
            first_seq,
            last_seq: increment_sequence(first_seq, offset_delta),
            offset_delta,
        }
    }
}

/// One batch remembered for a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    /// The stored batch's max timestamp (the log-append time on LogAppendTime topics).
    pub timestamp: i64,
}

/// What the partition knows about one producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProducerEntry {
    /// The epoch of its latest batch (or transaction marker).
    pub epoch: i16,
    /// Its last batches of that epoch, oldest first, at most [`NUM_BATCHES_TO_RETAIN`].
    pub batches: VecDeque<BatchMetadata>,
    /// The max timestamp of its latest batch: what expiration compares.
    pub last_timestamp: i64,
}

impl ProducerEntry {
    fn empty() -> Self {
        Self {
            epoch: NO_PRODUCER_EPOCH,
            batches: VecDeque::new(),
            last_timestamp: -1,
        }
    }

    /// The last sequence written in the current epoch, or -1.
    pub(crate) fn last_seq(&self) -> i32 {
        self.batches.back().map_or(NO_SEQUENCE, |b| b.last_seq)
    }

    /// Moves to `epoch`, forgetting the batches of another epoch (sequences restart).
    fn set_epoch(&mut self, epoch: i16) {
        if self.epoch != epoch {
            self.batches.clear();
            self.epoch = epoch;
        }
    }

    fn add(&mut self, epoch: i16, batch: BatchMetadata) {
        self.set_epoch(epoch);
        if self.batches.len() == NUM_BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
        self.last_timestamp = batch.timestamp;
    }
}

/// What to do with an idempotent batch that passed the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Append it, then [`ProducerStateManager::record`] it.
    Append,
    /// It is already in the log: answer with this batch's offset and timestamp.
    Duplicate(BatchMetadata),
}

/// Why an idempotent batch is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SequenceError {
    /// The batch's epoch is older than the producer's.
    #[error("epoch {epoch} of producer {producer_id} is older than its current epoch {current}")]
    StaleEpoch {
        producer_id: i64,
        epoch: i16,
        current: i16,
    },
    /// A new epoch does not start at sequence 0.
    #[error("producer {producer_id} starts epoch {epoch} at sequence {first_seq}, not 0")]
    NewEpochNotAtZero {
        producer_id: i64,
        epoch: i16,
        first_seq: i32,
    },
    /// The first sequence does not follow the producer's last one.
    #[error("producer {producer_id} sent sequence {first_seq} after {last_seq}")]
    OutOfOrder {
        producer_id: i64,
        first_seq: i32,
        last_seq: i32,
    },
}

impl SequenceError {
    /// The Produce error code Kafka answers with.
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            SequenceError::StaleEpoch { .. } => ErrorCode::InvalidProducerEpoch,
            SequenceError::NewEpochNotAtZero { .. } | SequenceError::OutOfOrder { .. } => {
                ErrorCode::OutOfOrderSequenceNumber
            }
        }
    }

    /// A fixed message for the response (the details go to the broker's log).
    pub(crate) fn message(&self) -> &'static str {
        match self {
            SequenceError::StaleEpoch { .. } => {
                "The producer epoch is older than the last one seen for this producer"
            }
            SequenceError::NewEpochNotAtZero { .. } => {
                "A new producer epoch must start at sequence number 0"
            }
            SequenceError::OutOfOrder { .. } => {
                "The sequence number does not follow the producer's last one"
            }
        }
    }
}

/// The idempotent-producer state of one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
}

impl ProducerStateManager {
    /// Checks an idempotent batch against its producer's state (rules in the module docs).
    pub(crate) fn check(&self, batch: &ProducerBatch) -> Result<Verdict, SequenceError> {
        let empty;
        let entry = match self.producers.get(&batch.producer_id) {
            Some(e) => e,
            None => {
                empty = ProducerEntry::empty();
                &empty
            }
        };
        if batch.epoch == entry.epoch
            && let Some(dup) = entry
                .batches
                .iter()
                .find(|b| b.first_seq == batch.first_seq && b.last_seq == batch.last_seq)
        {
            return Ok(Verdict::Duplicate(*dup));
        }
        if batch.epoch < entry.epoch {
            return Err(SequenceError::StaleEpoch {
                producer_id: batch.producer_id,
                epoch: batch.epoch,
                current: entry.epoch,
            });
        }
        // An entry without an epoch is a producer the partition knows nothing about: any
        // sequence is accepted (its earlier batches may have gone with retention).
        if entry.epoch == NO_PRODUCER_EPOCH {
            return Ok(Verdict::Append);
        }
        if batch.epoch != entry.epoch {
            return if batch.first_seq == 0 {
                Ok(Verdict::Append)
            } else {
                Err(SequenceError::NewEpochNotAtZero {
                    producer_id: batch.producer_id,
                    epoch: batch.epoch,
                    first_seq: batch.first_seq,
                })
            };
        }
        let last_seq = entry.last_seq();
        if in_sequence(last_seq, batch.first_seq) {
            Ok(Verdict::Append)
        } else {
            Err(SequenceError::OutOfOrder {
                producer_id: batch.producer_id,
                first_seq: batch.first_seq,
                last_seq,
            })
        }
    }

    /// Remembers a batch appended at `first_offset` whose stored max timestamp is `timestamp`.
    pub(crate) fn record(&mut self, batch: &ProducerBatch, first_offset: i64, timestamp: i64) {
        let meta = BatchMetadata {
            first_seq: batch.first_seq,
            last_seq: batch.last_seq,
            first_offset,
            last_offset: first_offset.saturating_add(i64::from(batch.offset_delta)),
            timestamp,
        };
        self.producers
            .entry(batch.producer_id)
            .or_insert_with(ProducerEntry::empty)
            .add(batch.epoch, meta);
    }

    /// Takes in a batch read back from the log, without checks (Kafka's replication origin:
    /// the log only holds batches that passed them when appended). Transaction markers move
    /// the producer to their epoch without adding a batch.
    pub(crate) fn replay(&mut self, header: &BatchHeader) {
        if header.producer_id < 0 {
            return;
        }
        let entry = self
            .producers
            .entry(header.producer_id)
            .or_insert_with(ProducerEntry::empty);
        if header.is_control() {
            entry.set_epoch(header.producer_epoch);
            entry.last_timestamp = header.max_timestamp;
            return;
        }
        let batch = ProducerBatch::new(
            header.producer_id,
            header.producer_epoch,
            header.base_sequence,
            header.last_offset_delta,
        );
        let meta = BatchMetadata {
            first_seq: batch.first_seq,
            last_seq: batch.last_seq,
            first_offset: header.base_offset,
            last_offset: header.last_offset(),
            timestamp: header.max_timestamp,
        };
        entry.add(batch.epoch, meta);
    }

    /// Forgets producers whose last batch is [`PRODUCER_ID_EXPIRATION_MS`] or more older than
    /// `now_ms`; returns how many.
    pub(crate) fn remove_expired(&mut self, now_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers
            .retain(|_, e| now_ms.saturating_sub(e.last_timestamp) < PRODUCER_ID_EXPIRATION_MS);
        before - self.producers.len()
    }

    /// The state of one producer.
    #[cfg(test)]
    pub(crate) fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Every producer, in no particular order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(id, e)| (*id, e))
    }

    /// Sets a producer's whole state (loading a snapshot).
    pub(crate) fn insert(&mut self, producer_id: i64, entry: ProducerEntry) {
        self.producers.insert(producer_id, entry);
    }

    /// How many producers the partition knows.
    pub(crate) fn len(&self) -> usize {
        self.producers.len()
    }
}

/// `sequence + increment`, wrapping past `i32::MAX` to 0 as producers do
/// (`DefaultRecordBatch.incrementSequence`). Total: a negative increment (never produced,
/// but possible in a damaged file) counts as 0.
pub(crate) fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    let sum = i64::from(sequence) + i64::from(increment.max(0));
    let wrapped = if sum > i64::from(i32::MAX) {
        sum - i64::from(i32::MAX) - 1
    } else {
        sum
    };
    // In range: a wrapped sum is at most i32::MAX - 1, an unwrapped one at least i32::MIN.
    i32::try_from(wrapped).unwrap_or(NO_SEQUENCE)
}

/// Whether `next` is the sequence right after `last` (`i32::MAX` is followed by 0).
pub(crate) fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

#[cfg(test)]
#[path = "sequence_tests.rs"]
mod tests;
