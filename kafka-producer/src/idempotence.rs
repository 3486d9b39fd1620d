//! The idempotent producer's bookkeeping, sans-IO: the producer id and epoch, and per
//! partition the next sequence number, the last acknowledged one and the sequenced batches
//! not yet complete.
//!
//! The rules follow the Java client (`TransactionManager`, `TxnPartitionMap`,
//! `RecordAccumulator.shouldStopDrainBatchesForPartition`):
//!
//! - A batch gets its sequence when first drained and keeps it across retries, so the broker
//!   can recognise a resend of a batch it already wrote and not write it twice.
//! - Up to five batches of a partition may be in flight. A batch that must be retried goes
//!   back to the front of its queue in sequence order, and a retried batch is sent only when
//!   it is the oldest incomplete one, so the log keeps the order of `send`.
//! - OUT_OF_ORDER_SEQUENCE_NUMBER for a batch that is not the next expected one means an
//!   earlier batch failed: retry it after that one. For the next expected batch it is fatal
//!   for the batch. DUPLICATE_SEQUENCE_NUMBER means the batch was written: success.
//! - When a sequenced batch fails for good (its sequence is lost), the producer bumps its
//!   epoch locally (KIP-360) and that partition's remaining batches are re-sequenced from 0
//!   under the new epoch, once none of its requests are on the wire. Other partitions move
//!   to the new epoch when they have no incomplete sequenced batches.
//! - An epoch at `i16::MAX` cannot be bumped: the producer asks for a new id instead.

use std::collections::{HashMap, VecDeque};

use crate::batch::{ProducerStamp, add_sequence};
use crate::error::ProducerError;

/// A producer id and epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProducerIdAndEpoch {
    pub id: i64,
    pub epoch: i16,
}

/// Where the producer id stands.
#[derive(Debug, Clone)]
pub(crate) enum IdState {
    /// Idempotence off: batches carry no producer fields.
    Disabled,
    /// An InitProducerId request is needed.
    NeedsId,
    /// One is in flight.
    Initializing,
    /// Batches may be sequenced.
    Ready(ProducerIdAndEpoch),
    /// Something that cannot be recovered from; every send fails with it.
    Fatal(ProducerError),
}

#[derive(Debug)]
struct PartitionSeq {
    /// The id and epoch these sequences belong to.
    under: ProducerIdAndEpoch,
    next: i32,
    last_acked: Option<i32>,
    /// Base sequences of the sequenced batches not yet complete, in sequence order.
    incomplete: VecDeque<i32>,
    /// Requests carrying this partition's batches that have not been answered.
    on_wire: usize,
    /// Re-sequence the incomplete batches under the current epoch before sending more.
    rewrite: bool,
}

/// The idempotent producer's state.
#[derive(Debug)]
pub(crate) struct Idempotence {
    state: IdState,
    partitions: HashMap<(std::sync::Arc<str>, i32), PartitionSeq>,
    bump_required: bool,
}

type Key = (std::sync::Arc<str>, i32);

impl Idempotence {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            state: if enabled {
                IdState::NeedsId
            } else {
                IdState::Disabled
            },
            partitions: HashMap::new(),
            bump_required: false,
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        !matches!(self.state, IdState::Disabled)
    }

    pub(crate) fn state(&self) -> &IdState {
        &self.state
    }

    /// Whether an InitProducerId should be sent now (and marks it as sent).
    pub(crate) fn start_init(&mut self) -> bool {
        if matches!(self.state, IdState::NeedsId) {
            self.state = IdState::Initializing;
            true
        } else {
            false
        }
    }

    /// The InitProducerId answer. A new id makes every partition start over at sequence 0.
    pub(crate) fn init_done(&mut self, result: Result<ProducerIdAndEpoch, ProducerError>) {
        self.state = match result {
            Ok(pe) => IdState::Ready(pe),
            Err(e) if e.is_retriable() => IdState::NeedsId,
            Err(e) => IdState::Fatal(e),
        };
    }

    /// The error every send fails with, once fatal.
    pub(crate) fn fatal(&self) -> Option<&ProducerError> {
        match &self.state {
            IdState::Fatal(e) => Some(e),
            _ => None,
        }
    }

    fn current(&self) -> Option<ProducerIdAndEpoch> {
        match self.state {
            IdState::Ready(pe) => Some(pe),
            _ => None,
        }
    }

    fn entry(&mut self, topic: &std::sync::Arc<str>, partition: i32) -> Option<&mut PartitionSeq> {
        let current = self.current()?;
        let key: Key = (topic.clone(), partition);
        Some(self.partitions.entry(key).or_insert(PartitionSeq {
            under: current,
            next: 0,
            last_acked: None,
            incomplete: VecDeque::new(),
            on_wire: 0,
            rewrite: false,
        }))
    }

    /// Applies a requested epoch bump (call once per sender pass, before draining).
    pub(crate) fn maybe_bump(&mut self) {
        if !self.bump_required {
            return;
        }
        if let IdState::Ready(pe) = self.state {
            self.bump_required = false;
            if pe.epoch == i16::MAX {
                // No epoch left: a new producer id, and every partition starts over.
                self.state = IdState::NeedsId;
                for p in self.partitions.values_mut() {
                    p.rewrite = true;
                }
            } else {
                self.state = IdState::Ready(ProducerIdAndEpoch {
                    id: pe.id,
                    epoch: pe.epoch + 1,
                });
                tracing::info!(
                    producer_id = pe.id,
                    epoch = pe.epoch + 1,
                    "bumped the producer epoch"
                );
            }
        }
    }

    /// Asks for a new producer id (the broker no longer knows ours, or fenced its epoch).
    pub(crate) fn reset_producer_id(&mut self) {
        if self.enabled() && !matches!(self.state, IdState::Fatal(_)) {
            self.state = IdState::NeedsId;
            for p in self.partitions.values_mut() {
                p.rewrite = true;
            }
        }
    }

    /// Whether the partition's sequences must be rewritten now: asked for, and nothing of
    /// the partition is on the wire. The caller then calls [`Self::restamp`] for each of the
    /// partition's sequenced batches in queue order.
    pub(crate) fn take_rewrite(&mut self, topic: &std::sync::Arc<str>, partition: i32) -> bool {
        let Some(current) = self.current() else {
            return false;
        };
        let Some(p) = self.partitions.get_mut(&(topic.clone(), partition)) else {
            return false;
        };
        if !p.rewrite || p.on_wire > 0 {
            return false;
        }
        p.rewrite = false;
        p.under = current;
        p.next = 0;
        p.last_acked = None;
        p.incomplete.clear();
        true
    }

    /// Whether a new (never sent) batch of the partition may be drained now; moves an idle
    /// partition to the current epoch first.
    pub(crate) fn can_send_new(&mut self, topic: &std::sync::Arc<str>, partition: i32) -> bool {
        let Some(current) = self.current() else {
            return false;
        };
        let Some(p) = self.entry(topic, partition) else {
            return false;
        };
        if p.rewrite {
            return false;
        }
        if p.under != current {
            if !p.incomplete.is_empty() {
                // Older-epoch batches still out: the new epoch must start at sequence 0
                // after them.
                return false;
            }
            p.under = current;
            p.next = 0;
            p.last_acked = None;
        }
        true
    }

    /// Whether a batch that already has a sequence may be sent now: only as the oldest
    /// incomplete batch of its partition, so retries keep the log in order.
    pub(crate) fn can_send_retry(
        &self,
        topic: &std::sync::Arc<str>,
        partition: i32,
        stamp: ProducerStamp,
    ) -> bool {
        match self.partitions.get(&(topic.clone(), partition)) {
            Some(p) => !p.rewrite && p.incomplete.front() == Some(&stamp.base_sequence),
            None => true,
        }
    }

    /// Assigns the next sequences to a batch of `records`.
    pub(crate) fn assign(
        &mut self,
        topic: &std::sync::Arc<str>,
        partition: i32,
        records: u32,
    ) -> Option<ProducerStamp> {
        let p = self.entry(topic, partition)?;
        let stamp = ProducerStamp {
            producer_id: p.under.id,
            epoch: p.under.epoch,
            base_sequence: p.next,
        };
        p.next = add_sequence(p.next, records);
        p.incomplete.push_back(stamp.base_sequence);
        Some(stamp)
    }

    /// A request carrying a batch of the partition was sent.
    pub(crate) fn on_sent(&mut self, topic: &std::sync::Arc<str>, partition: i32) {
        if let Some(p) = self.partitions.get_mut(&(topic.clone(), partition)) {
            p.on_wire += 1;
        }
    }

    /// The request carrying a batch of the partition was answered (or failed).
    pub(crate) fn on_answered(&mut self, topic: &std::sync::Arc<str>, partition: i32) {
        if let Some(p) = self.partitions.get_mut(&(topic.clone(), partition)) {
            p.on_wire = p.on_wire.saturating_sub(1);
        }
    }

    /// Whether `stamp` is the batch the broker expects next for the partition.
    pub(crate) fn is_next(
        &self,
        topic: &std::sync::Arc<str>,
        partition: i32,
        stamp: ProducerStamp,
    ) -> bool {
        match self.partitions.get(&(topic.clone(), partition)) {
            Some(p) if p.under.epoch == stamp.epoch && p.under.id == stamp.producer_id => {
                match p.last_acked {
                    Some(last) => add_sequence(last, 1) == stamp.base_sequence,
                    None => stamp.base_sequence == 0,
                }
            }
            _ => false,
        }
    }

    /// A sequenced batch was written.
    pub(crate) fn on_success(
        &mut self,
        topic: &std::sync::Arc<str>,
        partition: i32,
        stamp: ProducerStamp,
        last_sequence: i32,
    ) {
        if let Some(p) = self.partitions.get_mut(&(topic.clone(), partition)) {
            p.incomplete.retain(|s| *s != stamp.base_sequence);
            if p.under.id == stamp.producer_id && p.under.epoch == stamp.epoch {
                p.last_acked = Some(match p.last_acked {
                    Some(l) if !sequence_after(last_sequence, l) => l,
                    _ => last_sequence,
                });
            }
        }
    }

    /// A sequenced batch failed for good: its sequences are lost, so the partition must
    /// start over under a bumped epoch.
    pub(crate) fn on_fatal_failure(
        &mut self,
        topic: &std::sync::Arc<str>,
        partition: i32,
        stamp: ProducerStamp,
    ) {
        if let Some(p) = self.partitions.get_mut(&(topic.clone(), partition)) {
            p.incomplete.retain(|s| *s != stamp.base_sequence);
            if p.under.id == stamp.producer_id && p.under.epoch == stamp.epoch {
                p.rewrite = true;
                self.bump_required = true;
            }
        }
    }

    /// Sequences the partition's batches again after [`Self::take_rewrite`].
    pub(crate) fn restamp(
        &mut self,
        topic: &std::sync::Arc<str>,
        partition: i32,
        records: u32,
    ) -> Option<ProducerStamp> {
        self.assign(topic, partition, records)
    }

    /// A sequenced batch was split: its parts, with `parts` as their base sequences, take
    /// its place among the incomplete batches.
    pub(crate) fn on_split(
        &mut self,
        topic: &std::sync::Arc<str>,
        partition: i32,
        old: i32,
        parts: &[i32],
    ) {
        if let Some(p) = self.partitions.get_mut(&(topic.clone(), partition))
            && let Some(at) = p.incomplete.iter().position(|s| *s == old)
        {
            p.incomplete.remove(at);
            for (i, base) in parts.iter().enumerate() {
                p.incomplete.insert(at + i, *base);
            }
        }
    }

    /// Asks for a rewrite of one partition (UNKNOWN_PRODUCER_ID: the broker lost its state).
    pub(crate) fn request_rewrite(&mut self, topic: &std::sync::Arc<str>, partition: i32) {
        if let Some(p) = self.partitions.get_mut(&(topic.clone(), partition)) {
            p.rewrite = true;
            self.bump_required = true;
        }
    }
}

/// Whether sequence `a` comes after `b`, allowing for the wrap from `i32::MAX` to 0.
fn sequence_after(a: i32, b: i32) -> bool {
    let d = (i64::from(a) - i64::from(b)).rem_euclid(i64::from(i32::MAX) + 1);
    d > 0 && d < 1 << 30
}

#[cfg(test)]
mod tests;
