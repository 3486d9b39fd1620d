//! One partition's fetched data and how the application side reads records out of it.
//!
//! A [`CompletedFetch`] is the record set of one partition from one fetch response, kept as
//! the response's own bytes. Records are decoded only when the application asks for them
//! ([`Drain`]), in its task, as views into those bytes: no copy of keys or values, and
//! decoding work is spent only on records actually delivered.
//!
//! The drain also enforces what a position means:
//!
//! - records before the position are skipped (a fetch returns whole batches, so after a
//!   seek into the middle of a batch its first records come back);
//! - control batches (transaction markers) are never delivered, but the position moves past
//!   them;
//! - under `read_committed`, batches of aborted transactions are dropped, as Java does: the
//!   response lists each aborted transaction's producer id and first offset; a transactional
//!   batch whose producer has an aborted transaction starting at or before it is skipped
//!   until that producer's ABORT marker is seen.
//!
//! The position moves by compare-and-swap when the drain hands records over; if a seek or
//! reset moved it meanwhile, the records read are dropped along with the rest of the fetch.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use kafka_protocol::records::control::{ControlRecordKey, ControlRecordType};
use kafka_protocol::records::{ReadOptions, RecordBatch, RecordSetReader, Records, TimestampType};

use crate::error::ConsumerError;
use crate::fetch_buffer::Budget;
use crate::positions::PartitionShared;
use crate::record::ConsumerRecord;

/// One partition's record set from one fetch response.
#[derive(Debug)]
pub(crate) struct CompletedFetch {
    pub part: Arc<PartitionShared>,
    /// The partition generation the data was fetched in.
    pub era: u64,
    pub data: Bytes,
    /// Aborted transactions `(producer id, first offset)`, by first offset.
    pub aborted: Vec<(i64, i64)>,
    /// Bytes accounted against the buffer caps, given back on drop.
    size: usize,
    budget: Arc<Budget>,
}

impl CompletedFetch {
    /// Wraps fetched data, charging its size to the partition and the buffer.
    pub fn new(
        part: Arc<PartitionShared>,
        era: u64,
        data: Bytes,
        mut aborted: Vec<(i64, i64)>,
        budget: Arc<Budget>,
    ) -> Self {
        let size = data.len();
        part.buffered.fetch_add(size, Ordering::Relaxed);
        budget.charge(size);
        aborted.sort_by_key(|&(_, first)| first);
        Self {
            part,
            era,
            data,
            aborted,
            size,
            budget,
        }
    }

    /// Whether the data still belongs to the partition's current generation.
    pub fn is_current(&self) -> bool {
        self.part.is_assigned() && self.part.era() == self.era
    }
}

impl Drop for CompletedFetch {
    fn drop(&mut self) {
        self.part.buffered.fetch_sub(self.size, Ordering::Relaxed);
        self.budget.release(self.size);
    }
}

struct Cursor {
    records: Records,
    leader_epoch: Option<i32>,
    timestamp_type: TimestampType,
    next_offset: i64,
}

/// Reads records out of a [`CompletedFetch`] for the application.
pub(crate) struct Drain {
    fetch: CompletedFetch,
    reader: RecordSetReader,
    cursor: Option<Cursor>,
    aborted: VecDeque<(i64, i64)>,
    aborted_producers: HashSet<i64>,
    read_committed: bool,
    /// The position the partition is at as far as this drain knows.
    position: i64,
    done: bool,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain")
            .field("partition", &self.fetch.part.tp)
            .field("position", &self.position)
            .field("done", &self.done)
            .finish()
    }
}

impl Drain {
    /// Starts reading; `None` when the data is stale or the position unknown.
    pub fn new(fetch: CompletedFetch, check_crcs: bool, read_committed: bool) -> Option<Self> {
        if !fetch.is_current() {
            return None;
        }
        let position = fetch.part.position()?;
        let options = ReadOptions {
            verify_crc: check_crcs,
            ..ReadOptions::default()
        };
        Some(Self {
            reader: RecordSetReader::with_options(fetch.data.clone(), options),
            aborted: fetch.aborted.iter().copied().collect(),
            fetch,
            cursor: None,
            aborted_producers: HashSet::new(),
            read_committed,
            position,
            done: false,
        })
    }

    pub fn part(&self) -> &Arc<PartitionShared> {
        &self.fetch.part
    }

    /// Whether nothing more can come out of this fetch.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Whether this fetch's partition was paused (its data waits until resumed).
    pub fn is_paused(&self) -> bool {
        self.fetch.part.is_paused()
    }

    /// Appends up to `max` records to `out`. An error (corrupt data) ends the drain; the
    /// records before it are kept in `out` and delivered first.
    pub fn drain(
        &mut self,
        max: usize,
        out: &mut Vec<ConsumerRecord>,
    ) -> Result<(), ConsumerError> {
        if self.done || !self.fetch.is_current() {
            // Revoked, reset or sought since it was fetched (possibly while parked).
            self.done = true;
            return Ok(());
        }
        let start_len = out.len();
        let start_position = self.position;
        let mut epoch = None;
        let result = self.read(max, out, &mut epoch);
        if self.position != start_position
            && !self
                .fetch
                .part
                .advance(start_position, self.position, epoch)
        {
            // A seek, reset or revocation moved the position: this data is stale.
            out.truncate(start_len);
            self.done = true;
            return Ok(());
        }
        if result.is_err() {
            self.done = true;
        }
        result
    }

    fn read(
        &mut self,
        max: usize,
        out: &mut Vec<ConsumerRecord>,
        epoch: &mut Option<i32>,
    ) -> Result<(), ConsumerError> {
        let mut produced = 0;
        while produced < max {
            if let Some(c) = &mut self.cursor {
                match c.records.next() {
                    Some(Ok(r)) => {
                        if r.offset < self.position {
                            continue;
                        }
                        self.position = r.offset + 1;
                        *epoch = c.leader_epoch;
                        out.push(ConsumerRecord {
                            topic: self.fetch.part.topic.clone(),
                            partition: self.fetch.part.tp.partition,
                            offset: r.offset,
                            timestamp: r.timestamp,
                            timestamp_type: c.timestamp_type,
                            key: r.key,
                            value: r.value,
                            headers: r.headers,
                            leader_epoch: c.leader_epoch,
                        });
                        produced += 1;
                    }
                    Some(Err(e)) => return Err(self.corrupt(e)),
                    None => {
                        // Compaction can leave offsets at the end of a batch unused.
                        self.position = self.position.max(c.next_offset);
                        self.cursor = None;
                    }
                }
                continue;
            }
            let batch = match self.reader.next() {
                None => {
                    self.done = true;
                    return Ok(());
                }
                Some(Err(e)) => return Err(self.corrupt(e)),
                Some(Ok(b)) => b,
            };
            if batch.next_offset() <= self.position {
                continue;
            }
            if self.skip(&batch) {
                self.position = self.position.max(batch.next_offset());
                continue;
            }
            let e = batch.partition_leader_epoch();
            self.cursor = Some(Cursor {
                leader_epoch: (e >= 0).then_some(e),
                timestamp_type: batch.timestamp_type(),
                next_offset: batch.next_offset(),
                records: batch.into_records(),
            });
        }
        Ok(())
    }

    /// Whether a batch is not for the application: control batches always, and under
    /// read_committed the batches of aborted transactions.
    fn skip(&mut self, batch: &RecordBatch) -> bool {
        if batch.is_control() {
            if self.read_committed
                && let Some(Ok(marker)) = batch.records().next()
                && matches!(
                    ControlRecordKey::from_record(&marker).map(|k| k.kind),
                    Ok(ControlRecordType::Abort)
                )
            {
                self.aborted_producers.remove(&batch.producer_id());
            }
            return true;
        }
        if !self.read_committed || !batch.is_transactional() {
            return false;
        }
        while let Some(&(pid, first)) = self.aborted.front() {
            if first > batch.last_offset() {
                break;
            }
            self.aborted_producers.insert(pid);
            self.aborted.pop_front();
        }
        self.aborted_producers.contains(&batch.producer_id())
    }

    fn corrupt(&self, source: kafka_protocol::DecodeError) -> ConsumerError {
        ConsumerError::Corrupt {
            partition: self.fetch.part.tp.clone(),
            offset: self.position,
            source,
        }
    }
}

#[cfg(test)]
#[path = "completed_fetch_tests.rs"]
mod tests;
