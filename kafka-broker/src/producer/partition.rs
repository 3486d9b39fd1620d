//! A partition's producer state with its persistence: rebuilt when the partition opens,
//! saved at a clean shutdown.
//!
//! Kafka rebuilds producer state from its latest `<offset>.snapshot` plus a replay of the
//! log after that offset (`LogLoader`, `ProducerStateManager.truncateAndReload`). This broker
//! does the same with one snapshot, `producer-state` in the partition directory (its own
//! format, see `snapshot.rs`; Kafka ignores files it does not know there):
//!
//! - [`PartitionProducers::save`] writes it at a clean shutdown, as of the log end offset,
//!   through a temporary file and a rename.
//! - [`PartitionProducers::load`] reads it, then replays the batch headers from its offset to
//!   the log end, so appends after the last clean shutdown (a crash) are not lost. Without a
//!   usable snapshot (none yet, damaged, or ahead of the log because data was lost) the whole
//!   log is replayed. Producers whose last batch is older than the expiration are dropped.
//!
//! The snapshot stays valid after it is loaded: the log only grows at the end, and
//! retention or DeleteRecords only drop a prefix (producers outlive their batches, as in
//! Kafka). Something that truncated the log's tail at runtime would have to remove it.
//!
//! Loading never fails: a partition whose producer state cannot be read in full opens with
//! what could be rebuilt, and a producer it lost is treated as unknown (rule 5 in
//! `sequence.rs`), which is what Kafka does when state is lost.
//!
//! An in-memory log has no directory: its state lives and dies with the process.

use std::path::PathBuf;

use kafka_protocol::records::BatchHeader;

use super::sequence::{ProducerBatch, ProducerStateManager, SequenceError, Verdict};
use super::snapshot::{self, Snapshot};
use crate::log::{Log, LogError};

/// The snapshot's file name inside the partition directory.
pub(crate) const SNAPSHOT_FILE: &str = "producer-state";

/// How much log a replay reads at a time.
const REPLAY_CHUNK: usize = 1 << 20;

/// One partition's producer state, and where it is saved.
#[derive(Debug)]
pub(crate) struct PartitionProducers {
    state: ProducerStateManager,
    /// The partition directory; `None` for an in-memory log.
    dir: Option<PathBuf>,
}

impl PartitionProducers {
    /// Rebuilds the state of the partition whose log is `log` (module docs); `dir` is its
    /// directory, if it has one.
    pub(crate) fn load(dir: Option<PathBuf>, log: &dyn Log, now_ms: i64) -> Self {
        let mut state = ProducerStateManager::default();
        let start = log.log_start_offset();
        let end = log.log_end_offset();
        let mut from = start;
        if let Some(dir) = &dir {
            match read_snapshot(dir) {
                Ok(None) => {}
                Ok(Some(snap)) if snap.offset <= end => {
                    from = snap.offset.max(start);
                    state = snap.state;
                }
                Ok(Some(snap)) => {
                    tracing::warn!(dir = %dir.display(), snapshot = snap.offset, log_end = end,
                        "producer state snapshot is ahead of the log; rebuilding from the log");
                }
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e,
                        "unreadable producer state snapshot; rebuilding from the log");
                }
            }
        }
        if let Err(e) = replay(&mut state, log, from, end) {
            tracing::warn!(error = %e, from, end,
                "producer state replay stopped early; producers not seen count as unknown");
        }
        state.remove_expired(now_ms);
        Self { state, dir }
    }

    /// An empty state for a partition with no data yet.
    #[cfg(test)]
    pub(crate) fn empty(dir: Option<PathBuf>) -> Self {
        Self {
            state: ProducerStateManager::default(),
            dir,
        }
    }

    /// Checks an idempotent batch (see [`ProducerStateManager::check`]).
    pub(crate) fn check(&self, batch: &ProducerBatch) -> Result<Verdict, SequenceError> {
        self.state.check(batch)
    }

    /// Remembers an appended batch (see [`ProducerStateManager::record`]).
    pub(crate) fn record(&mut self, batch: &ProducerBatch, first_offset: i64, timestamp: i64) {
        self.state.record(batch, first_offset, timestamp);
    }

    /// Takes in batches a follower copied from its leader (whole batches, headers first), so
    /// that it knows every producer's sequences should it become the leader.
    pub(crate) fn replay_batches(&mut self, batches: &[u8]) {
        let mut pos = 0;
        while let Some(rest) = batches.get(pos..).filter(|r| !r.is_empty()) {
            let Ok(header) = BatchHeader::parse(rest) else {
                return;
            };
            let Some(size) = header.total_size().filter(|&n| n >= BatchHeader::SIZE) else {
                return;
            };
            self.state.replay(&header);
            pos += size;
        }
    }

    /// Rebuilds the state from the log after its tail was truncated (a follower following a
    /// new leader), as Kafka's `truncateAndReload` does.
    pub(crate) fn rebuild(&mut self, log: &dyn Log, now_ms: i64) {
        *self = Self::load(self.dir.take(), log, now_ms);
    }

    /// Forgets expired producers; returns how many.
    pub(crate) fn remove_expired(&mut self, now_ms: i64) -> usize {
        self.state.remove_expired(now_ms)
    }

    /// The state itself.
    #[cfg(test)]
    pub(crate) fn state(&self) -> &ProducerStateManager {
        &self.state
    }

    /// Saves the state as of `log_end` (the caller holds the log's lock, so nothing is
    /// appended meanwhile). Nothing to do for an in-memory log.
    pub(crate) fn save(&self, log_end: i64) -> std::io::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        super::write_atomically(dir, SNAPSHOT_FILE, &snapshot::encode(&self.state, log_end))
    }
}

/// Reads the snapshot in `dir`; `Ok(None)` when there is none.
fn read_snapshot(dir: &std::path::Path) -> Result<Option<Snapshot>, String> {
    match std::fs::read(dir.join(SNAPSHOT_FILE)) {
        Ok(bytes) => snapshot::decode(&bytes)
            .map(Some)
            .map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Feeds the headers of the batches holding offsets `from..end` to `state`.
fn replay(
    state: &mut ProducerStateManager,
    log: &dyn Log,
    from: i64,
    end: i64,
) -> Result<(), LogError> {
    let mut offset = from;
    while offset < end {
        let chunk = log.read(offset, REPLAY_CHUNK, end)?.records;
        let mut pos = 0;
        let mut next = offset;
        while let Some(rest) = chunk.get(pos..).filter(|r| !r.is_empty()) {
            let header = BatchHeader::parse(rest)
                .map_err(|e| LogError::Corrupt(format!("batch at offset {next}: {e}")))?;
            let size = header
                .total_size()
                .filter(|&n| n >= BatchHeader::SIZE && n <= rest.len())
                .ok_or_else(|| LogError::Corrupt(format!("batch at offset {next}: bad size")))?;
            // The first batch read may hold offsets below `from` (it contains it); the ones
            // wholly below were already taken in by the snapshot.
            if header.last_offset() >= from {
                state.replay(&header);
            }
            next = next.max(header.next_offset());
            pos += size;
        }
        if next <= offset {
            // No progress (an empty read below the end): stop rather than spin.
            return Err(LogError::Corrupt(format!("no batch at offset {offset}")));
        }
        offset = next;
    }
    Ok(())
}

#[cfg(test)]
#[path = "partition_tests.rs"]
mod tests;
