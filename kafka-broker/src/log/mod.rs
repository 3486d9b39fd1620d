//! Partition logs: the storage under every partition.
//!
//! A [`Log`] is an append-only sequence of record batches (magic 2) whose offsets it assigns.
//! Two implementations share the trait: [`MemoryLog`] (no data dir) and [`FileLog`], the
//! segmented file log in Kafka's own on-disk format (`.log`, `.index`, `.timeindex` per
//! segment). The broker keeps each partition's log behind a lock; the log itself is
//! single-threaded and synchronous, since appends and reads are short and hit the page cache.
//!
//! Both implementations answer the trait's questions identically; they differ only in the
//! granularity of deletion (retention drops whole segments from a file log, whole batches
//! from a memory log) and therefore in [`Log::size_bytes`].

mod batches;
mod checkpoint;
mod file_batches;
mod file_log;
mod memory;
mod offset_index;
mod recovery;
mod segment;
mod time_index;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod test_util;

use bytes::Bytes;

pub use batches::{BatchSpan, spans, stamp};
pub use file_log::FileLog;
pub use memory::MemoryLog;

/// Per-topic settings a log honours (Kafka's topic config names in the comments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `segment.bytes`: roll a new segment when the active one would exceed this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll when the active segment's first batch is older than this.
    pub segment_ms: i64,
    /// `retention.ms`: delete segments whose newest record is older (-1: keep forever).
    pub retention_ms: i64,
    /// `retention.bytes`: delete oldest segments while the log is larger (-1: no limit).
    pub retention_bytes: i64,
    /// `index.interval.bytes`: bytes between sparse index entries.
    pub index_interval_bytes: u64,
    /// `max.message.bytes`: largest batch accepted.
    pub max_message_bytes: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            index_interval_bytes: 4096,
            max_message_bytes: 1024 * 1024 + 12,
        }
    }
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset given to the first record appended.
    pub base_offset: i64,
    /// Offset of the last record appended.
    pub last_offset: i64,
    /// Largest record timestamp appended.
    pub max_timestamp: i64,
}

/// A read from the log: whole batches starting with the one that holds the requested offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResult {
    /// The batches, byte-identical to what was stored.
    pub records: Bytes,
}

/// A log failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The offset is before the log start or after the log end.
    #[error("offset {offset} is out of range [{start}, {end}]")]
    OffsetOutOfRange {
        /// Requested offset.
        offset: i64,
        /// Log start offset.
        start: i64,
        /// Log end offset.
        end: i64,
    },
    /// The bytes to append are not valid record batches.
    #[error("invalid record batch: {0}")]
    InvalidBatch(String),
    /// A file operation failed.
    #[error("log I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Data read back from disk is not what the log wrote (a damaged file outside the part
    /// that recovery checks).
    #[error("corrupt log data: {0}")]
    Corrupt(String),
}

/// The storage of one partition.
pub trait Log: Send + Sync + std::fmt::Debug {
    /// Appends record batches (magic 2, already validated by the caller: sizes, CRC), giving
    /// them consecutive offsets from the log end and stamping `leader_epoch` into each batch.
    /// When `log_append_time` is set, batches take it as their timestamp (LogAppendTime).
    fn append(
        &mut self,
        batches: &[u8],
        leader_epoch: i32,
        log_append_time: Option<i64>,
    ) -> Result<AppendInfo, LogError>;

    /// Appends batches copied from a leader's log as they are: their offsets (the first must
    /// be this log's end offset, the rest following without a gap), leader epochs and
    /// timestamps are kept. What a follower replica does with what it fetched.
    fn append_replicated(&mut self, batches: &[u8]) -> Result<AppendInfo, LogError>;

    /// Empties the log and restarts it at `offset` (log start and end both), for a follower
    /// whose log ends before the leader's log start (Kafka's `truncateFullyAndStartAt`).
    fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<(), LogError>;

    /// Whole batches from the one containing `offset`, up to `max_bytes` (but always at least
    /// one batch when `offset` < `upper_bound`), never including offsets at or past
    /// `upper_bound` (the high watermark).
    fn read(&self, offset: i64, max_bytes: usize, upper_bound: i64)
    -> Result<ReadResult, LogError>;

    /// The first offset still in the log.
    fn log_start_offset(&self) -> i64;

    /// The offset the next record will get.
    fn log_end_offset(&self) -> i64;

    /// The first offset at or past the log start whose record timestamp is >= `timestamp`,
    /// with that timestamp.
    fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError>;

    /// The largest timestamp in the log and the offset of the first record carrying it
    /// (ListOffsets -3, as Kafka answers it since KIP-734), over the batches holding offsets
    /// at or past the log start.
    fn max_timestamp(&self) -> Option<(i64, i64)>;

    /// Moves the log start offset to `offset` (DeleteRecords), dropping segments wholly below;
    /// never moves it back. Returns the start offset; `OffsetOutOfRange` past the end.
    fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError>;

    /// Applies `retention.ms` / `retention.bytes` and `segment.ms` as of `now_ms`; returns the
    /// number of segments deleted.
    fn apply_retention(&mut self, now_ms: i64) -> Result<usize, LogError>;

    /// Removes every record at or after `offset` (replication uses this to follow a leader).
    /// A batch holding `offset` goes whole; the log end offset becomes `offset`, or the log
    /// start offset if that is higher.
    fn truncate_to(&mut self, offset: i64) -> Result<(), LogError>;

    /// Bytes the log holds.
    fn size_bytes(&self) -> u64;

    /// Replaces the log's configuration.
    fn set_config(&mut self, config: LogConfig);

    /// Flushes data to stable storage.
    fn flush(&mut self) -> Result<(), LogError>;

    /// Flushes and records a clean shutdown, so that the next open can skip validating the
    /// last segment. Appending after `close` is allowed and withdraws the clean-shutdown mark.
    fn close(&mut self) -> Result<(), LogError> {
        self.flush()
    }
}
