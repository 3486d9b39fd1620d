//! One segment of a partition log: the `.log` file of batches and its two indexes.
//!
//! A segment is named by its base offset (20 digits, as Kafka names them) and holds batches
//! with contiguous offsets from that base, byte-identical to the wire. It knows its size, its
//! next offset and its largest timestamp; it appends, finds the batch holding an offset, reads
//! whole batches, answers timestamp queries, and truncates at a batch boundary.
//!
//! Index entries are decided by one rule, [`Tracker::observe`], used both when appending and
//! when recovery re-reads a file, so a rebuilt index is identical to the one appends wrote.
//! The rule is Kafka's per-batch one (`LogSegment.recover`, and `LogSegment.append` in current
//! Kafka): when more than `index.interval.bytes` lie between the last indexed batch and the
//! start of a batch, the batch's last offset is indexed at its start position, and the time
//! index gets the largest timestamp so far if it grew. (Kafka's append path used to decide
//! per append, mapping the append's largest offset to the append's start position; per batch
//! is the same rule applied to each batch of the append, and lookups treat both alike.)

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{BatchHeader, LOG_OVERHEAD};

use super::LogError;
use super::batches::{BatchSpan, first_record_at_or_after};
use super::file_batches::{FileBatches, LOOKUP_CHUNK, ScanError, StoredBatch};
use super::offset_index::{IndexEntry, OffsetIndex};
use super::time_index::{TimeEntry, TimeIndex};

/// Suffix of a segment's batches.
pub(super) const LOG_SUFFIX: &str = ".log";
/// Suffix of a segment's offset index.
pub(super) const INDEX_SUFFIX: &str = ".index";
/// Suffix of a segment's time index.
pub(super) const TIME_INDEX_SUFFIX: &str = ".timeindex";

/// The largest relative offset or file position a segment can index (both are i32 on disk).
pub(super) const MAX_RELATIVE: i64 = i32::MAX as i64;

/// The file name of a segment's `suffix` file: the base offset in 20 digits, as Kafka writes.
pub(super) fn file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}{suffix}")
}

/// The base offset a segment file name stands for (exactly 20 digits before the suffix).
pub(super) fn parse_file_name(name: &str, suffix: &str) -> Option<i64> {
    let stem = name.strip_suffix(suffix)?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Milliseconds since the epoch by the wall clock.
pub(super) fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A timestamp and the last offset of the first batch carrying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TimestampOffset {
    /// The timestamp.
    pub timestamp: i64,
    /// The last offset of the batch.
    pub offset: i64,
}

/// What a segment knows about its batches, updated batch by batch.
#[derive(Debug, Clone)]
pub(super) struct Tracker {
    /// Position of the last offset-index entry (0 when there is none, as if the first batch
    /// were indexed).
    last_index_position: u64,
    /// Timestamp of the last time-index entry (-1 when there is none).
    last_time_entry: i64,
    /// The largest batch max timestamp and the first batch carrying it.
    pub max: Option<TimestampOffset>,
    /// The first batch's max timestamp: what `segment.ms` is measured from.
    pub first_timestamp: Option<i64>,
    /// The offset after the last batch.
    pub next_offset: i64,
}

impl Tracker {
    /// The state of an empty segment.
    pub(super) fn new(base_offset: i64) -> Self {
        Self {
            last_index_position: 0,
            last_time_entry: -1,
            max: None,
            first_timestamp: None,
            next_offset: base_offset,
        }
    }

    /// Accounts for the batch at `position`, pushing the index entries it earns.
    pub(super) fn observe(
        &mut self,
        index_interval: u64,
        position: u64,
        last_offset: i64,
        max_timestamp: i64,
        index: &mut Vec<IndexEntry>,
        time: &mut Vec<TimeEntry>,
    ) {
        self.first_timestamp.get_or_insert(max_timestamp);
        if self.max.is_none_or(|m| max_timestamp > m.timestamp) {
            self.max = Some(TimestampOffset {
                timestamp: max_timestamp,
                offset: last_offset,
            });
        }
        if position.saturating_sub(self.last_index_position) > index_interval {
            // Positions are below 2 GiB: segments never grow past it.
            index.push(IndexEntry {
                offset: last_offset,
                position: u32::try_from(position).unwrap_or(u32::MAX),
            });
            self.last_index_position = position;
            self.push_time_entry(time);
        }
        self.next_offset = last_offset + 1;
    }

    /// The time-index entry for the largest timestamp so far, if it is not indexed yet
    /// (Kafka writes it when a segment is rolled, closed or recovered, so the last entry of
    /// an inactive segment is its largest timestamp).
    pub(super) fn push_time_entry(&mut self, time: &mut Vec<TimeEntry>) {
        if let Some(m) = self.max
            && m.timestamp > self.last_time_entry
        {
            time.push(TimeEntry {
                timestamp: m.timestamp,
                offset: m.offset,
            });
            self.last_time_entry = m.timestamp;
        }
    }
}

/// How far a read into a segment got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadProgress {
    /// It took every batch to the end of the segment: the read may go on in the next one.
    ReachedEnd,
    /// It stopped at the byte limit or the upper bound.
    Stopped,
}

/// One segment: its files and what is known about its batches.
#[derive(Debug)]
pub(super) struct Segment {
    base_offset: i64,
    log_path: PathBuf,
    log: File,
    size: u64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    tracker: Tracker,
    /// When this process created or opened the segment (the `segment.ms` basis when the
    /// first batch has no timestamp, as in Kafka).
    created_ms: i64,
    /// Written since the last sync.
    dirty: bool,
}

impl Segment {
    /// Creates an empty segment at `base_offset`; refuses to replace an existing log file.
    pub(super) fn create(dir: &Path, base_offset: i64) -> Result<Self, LogError> {
        let log_path = dir.join(file_name(base_offset, LOG_SUFFIX));
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&log_path)?;
        let offset_index = OffsetIndex::create(
            &dir.join(file_name(base_offset, INDEX_SUFFIX)),
            base_offset,
            vec![],
        )?;
        let time_index = TimeIndex::create(
            &dir.join(file_name(base_offset, TIME_INDEX_SUFFIX)),
            base_offset,
            vec![],
        )?;
        Ok(Self {
            base_offset,
            log_path,
            log,
            size: 0,
            offset_index,
            time_index,
            tracker: Tracker::new(base_offset),
            created_ms: wall_clock_ms(),
            dirty: true,
        })
    }

    /// Assembles a segment from files the caller has just checked or rebuilt.
    pub(super) fn from_parts(
        base_offset: i64,
        log_path: PathBuf,
        log: File,
        size: u64,
        offset_index: OffsetIndex,
        time_index: TimeIndex,
        tracker: Tracker,
    ) -> Self {
        Self {
            base_offset,
            log_path,
            log,
            size,
            offset_index,
            time_index,
            tracker,
            created_ms: wall_clock_ms(),
            dirty: false,
        }
    }

    /// Notes that the files changed without a write through the segment (recovery).
    pub(super) fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// The offset the segment's name stands for.
    pub(super) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Bytes in the log file.
    pub(super) fn size(&self) -> u64 {
        self.size
    }

    /// Whether it holds no batch.
    pub(super) fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The offset after its last batch (its base offset when empty).
    pub(super) fn next_offset(&self) -> i64 {
        self.tracker.next_offset
    }

    /// Its largest batch timestamp and the last offset of the first batch carrying it.
    pub(super) fn max_timestamp(&self) -> Option<TimestampOffset> {
        self.tracker.max
    }

    /// How long the segment has been filling by Kafka's `segment.ms` rule, at a moment given
    /// as `now` (a record timestamp or the wall clock): measured from its first batch's max
    /// timestamp, or from when it was created or opened if that batch has none.
    pub(super) fn age_ms(&self, now: i64) -> i64 {
        match self.tracker.first_timestamp {
            Some(t) if t >= 0 => now.saturating_sub(t),
            _ => wall_clock_ms().saturating_sub(self.created_ms),
        }
    }

    /// The timestamp `retention.ms` compares with: the largest record timestamp, or the log
    /// file's modification time when the segment has no timestamps (as Kafka does).
    pub(super) fn retention_timestamp(&self) -> Result<i64, LogError> {
        match self.tracker.max {
            Some(m) if m.timestamp >= 0 => Ok(m.timestamp),
            _ => {
                let modified = self.log.metadata()?.modified()?;
                Ok(modified
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
            }
        }
    }

    /// Where the log file is.
    pub(super) fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Appends stamped batches (`buf`, split by `spans`) at the end of the log and indexes
    /// them. On failure the files are cut back to their previous length and the segment is
    /// unchanged.
    pub(super) fn append(
        &mut self,
        buf: &[u8],
        spans: &[BatchSpan],
        index_interval: u64,
    ) -> Result<(), LogError> {
        let start = self.size;
        let end = start + buf.len() as u64;
        let last = spans
            .last()
            .map_or(self.tracker.next_offset - 1, |s| s.last_offset);
        if end > MAX_RELATIVE as u64 || last - self.base_offset > MAX_RELATIVE {
            return Err(LogError::InvalidBatch(
                "the append does not fit in one segment (2 GiB, 2^31 offsets)".into(),
            ));
        }
        let mut tracker = self.tracker.clone();
        let (mut index, mut time) = (Vec::new(), Vec::new());
        for s in spans {
            let position = start + s.pos as u64;
            tracker.observe(
                index_interval,
                position,
                s.last_offset,
                s.max_timestamp,
                &mut index,
                &mut time,
            );
        }
        let written = self
            .log
            .write_all_at(buf, start)
            .and_then(|()| self.offset_index.append(&index))
            .and_then(|()| self.time_index.append(&time));
        if let Err(e) = written {
            self.rollback(start);
            return Err(e.into());
        }
        self.size = end;
        self.tracker = tracker;
        self.dirty = true;
        Ok(())
    }

    /// Best-effort undo of a partial append that started at `position`.
    fn rollback(&mut self, position: u64) {
        let first_new = self.tracker.next_offset;
        let undone = self
            .log
            .set_len(position)
            .and_then(|()| self.offset_index.truncate_from_position(position))
            .and_then(|()| self.time_index.truncate_from_offset(first_new));
        if let Err(e) = undone {
            tracing::error!(path = %self.log_path.display(), "cannot undo a failed append: {e}");
        }
    }

    /// Marks the segment inactive: indexes the largest timestamp so the time index's last
    /// entry is the segment's largest timestamp, as Kafka does on roll and close.
    pub(super) fn finish(&mut self) -> Result<(), LogError> {
        let mut time = Vec::new();
        let mut tracker = self.tracker.clone();
        tracker.push_time_entry(&mut time);
        self.time_index.append(&time)?;
        self.tracker = tracker;
        if !time.is_empty() {
            self.dirty = true;
        }
        Ok(())
    }

    /// Makes everything written durable.
    pub(super) fn sync(&mut self) -> Result<(), LogError> {
        if self.dirty {
            self.log.sync_data()?;
            self.offset_index.sync()?;
            self.time_index.sync()?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Removes the segment's files.
    pub(super) fn delete(self) -> Result<(), LogError> {
        for path in [
            &self.log_path,
            self.offset_index.path(),
            self.time_index.path(),
        ] {
            match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }

    /// A walk over the batches from `position` (a batch boundary) to the end.
    fn batches_from(&self, position: u64, chunk: usize) -> FileBatches<'_> {
        FileBatches::new(&self.log, position, self.size, chunk)
    }

    /// Turns a walk that stopped on damaged data into an error naming the file.
    fn corrupt(&self, e: ScanError) -> LogError {
        match e {
            ScanError::Io(e) => LogError::Io(e),
            other => LogError::Corrupt(format!("{}: {other}", self.log_path.display())),
        }
    }

    /// The position of the first batch whose last offset is >= `offset`, if the segment has
    /// one: binary-search the offset index, then walk batch headers forward.
    pub(super) fn locate(&self, offset: i64) -> Result<Option<StoredBatch>, LogError> {
        if offset >= self.tracker.next_offset {
            return Ok(None);
        }
        let from = self
            .offset_index
            .lookup(offset)
            .map_or(0, |e| u64::from(e.position));
        let mut walk = self.batches_from(from, LOOKUP_CHUNK);
        while let Some(b) = walk.next_header().map_err(|e| self.corrupt(e))? {
            if b.header.last_offset() >= offset {
                return Ok(Some(b));
            }
        }
        Ok(None)
    }

    /// Reads whole batches from `position` (a batch boundary) onto `out` while `out` stays
    /// within `max_bytes`, stopping before a batch whose base offset is >= `upper_bound`.
    /// When `out` is empty the first batch is taken whatever its size (KIP-74). The span is
    /// read with one positioned read (two when a lone batch exceeds `max_bytes`).
    pub(super) fn read_into(
        &self,
        position: u64,
        max_bytes: usize,
        upper_bound: i64,
        out: &mut BytesMut,
    ) -> Result<ReadProgress, LogError> {
        let available = self.size.saturating_sub(position);
        let first = out.is_empty();
        let room = max_bytes.saturating_sub(out.len()) as u64;
        let mut want = available.min(room);
        if first {
            want = want.max(available.min(LOG_OVERHEAD as u64));
        }
        if available == 0 {
            return Ok(ReadProgress::ReachedEnd);
        }
        let Ok(want) = usize::try_from(want) else {
            return Err(LogError::Corrupt(
                "read span exceeds the address space".into(),
            ));
        };
        if want == 0 {
            return Ok(ReadProgress::Stopped);
        }
        let start = out.len();
        out.resize(start + want, 0);
        self.log.read_exact_at(&mut out[start..], position)?;
        let mut taken = 0usize;
        let mut stopped = false;
        while taken < want {
            let rest = &out[start + taken..];
            let Some((framing, _)) = rest.split_first_chunk::<LOG_OVERHEAD>() else {
                stopped = true;
                break;
            };
            let base = i64::from_be_bytes(framing[..8].try_into().unwrap_or_default());
            let length = i32::from_be_bytes(framing[8..].try_into().unwrap_or_default());
            let size = usize::try_from(length)
                .ok()
                .map(|n| n + LOG_OVERHEAD)
                .filter(|&n| n >= BatchHeader::SIZE)
                .ok_or_else(|| {
                    LogError::Corrupt(format!(
                        "{}: batch length {length} at position {}",
                        self.log_path.display(),
                        position + taken as u64
                    ))
                })?;
            if base >= upper_bound {
                stopped = true;
                break;
            }
            if taken + size > want {
                if first && taken == 0 {
                    // A lone batch larger than max_bytes: fetch the rest of it.
                    if position + size as u64 > self.size {
                        return Err(LogError::Corrupt(format!(
                            "{}: partial batch at position {position}",
                            self.log_path.display()
                        )));
                    }
                    out.resize(start + size, 0);
                    self.log
                        .read_exact_at(&mut out[start + want..], position + want as u64)?;
                    taken = size;
                }
                stopped = true;
                break;
            }
            taken += size;
        }
        out.truncate(start + taken);
        let at_end = !stopped && position + taken as u64 == self.size;
        Ok(if at_end {
            ReadProgress::ReachedEnd
        } else {
            ReadProgress::Stopped
        })
    }

    /// Reads `size` bytes at `position` (one whole batch).
    fn read_batch(&self, batch: &StoredBatch) -> Result<Bytes, LogError> {
        let mut buf = vec![0u8; batch.size];
        self.log.read_exact_at(&mut buf, batch.position)?;
        Ok(Bytes::from(buf))
    }

    /// The whole batch holding `offset`, if the segment has it.
    pub(super) fn batch_containing(&self, offset: i64) -> Result<Option<Bytes>, LogError> {
        match self.locate(offset)? {
            Some(b) if b.header.base_offset <= offset => self.read_batch(&b).map(Some),
            _ => Ok(None),
        }
    }

    /// The first record at or after `min_offset` whose timestamp is >= `timestamp`, as
    /// `(offset, timestamp)`: start after the last time-index entry below the target, walk
    /// headers to the first batch whose max timestamp reaches it, and decode that batch.
    pub(super) fn find_timestamp(
        &self,
        timestamp: i64,
        min_offset: i64,
    ) -> Result<Option<(i64, i64)>, LogError> {
        if self.tracker.max.is_none_or(|m| m.timestamp < timestamp) {
            return Ok(None);
        }
        let mut from = min_offset.max(self.base_offset);
        if let Some(e) = self.time_index.last_before(timestamp) {
            from = from.max(e.offset + 1);
        }
        let Some(first) = self.locate(from)? else {
            return Ok(None);
        };
        let mut walk = self.batches_from(first.position, LOOKUP_CHUNK);
        while let Some(b) = walk.next_header().map_err(|e| self.corrupt(e))? {
            if b.header.max_timestamp >= timestamp && b.header.last_offset() >= min_offset {
                let hit = first_record_at_or_after(self.read_batch(&b)?, timestamp, min_offset)?;
                if hit.is_some() {
                    return Ok(hit);
                }
            }
        }
        Ok(None)
    }

    /// The largest batch timestamp among batches ending at or after `min_offset` (a
    /// segment's own maximum may sit in batches the log start offset has passed).
    pub(super) fn max_timestamp_from(
        &self,
        min_offset: i64,
    ) -> Result<Option<TimestampOffset>, LogError> {
        if self.tracker.max.is_some_and(|m| m.offset >= min_offset) {
            return Ok(self.tracker.max);
        }
        let Some(first) = self.locate(min_offset)? else {
            return Ok(None);
        };
        let mut best: Option<TimestampOffset> = None;
        let mut walk = self.batches_from(first.position, LOOKUP_CHUNK);
        while let Some(b) = walk.next_header().map_err(|e| self.corrupt(e))? {
            if best.is_none_or(|m| b.header.max_timestamp > m.timestamp) {
                best = Some(TimestampOffset {
                    timestamp: b.header.max_timestamp,
                    offset: b.header.last_offset(),
                });
            }
        }
        Ok(best)
    }

    /// Removes every batch whose last offset is >= `offset`, cutting the files at that
    /// batch's start.
    pub(super) fn truncate_to(&mut self, offset: i64) -> Result<(), LogError> {
        let Some(cut) = self.locate(offset)? else {
            return Ok(());
        };
        self.log.set_len(cut.position)?;
        self.size = cut.position;
        self.offset_index.truncate_from_position(cut.position)?;
        self.time_index
            .truncate_from_offset(cut.header.base_offset)?;
        self.dirty = true;
        if self.size == 0 {
            self.created_ms = wall_clock_ms();
        }
        self.tracker = tail_state(
            &self.log,
            self.base_offset,
            self.size,
            &self.offset_index,
            &self.time_index,
        )
        .map_err(|e| self.corrupt(e))?;
        Ok(())
    }
}

/// Works out a segment's [`Tracker`] from trusted indexes with a short walk: the largest
/// timestamp is the time index's last entry unless a batch after it beats it, and the next
/// offset is the last batch's. The walk starts at the offset-index entry at or before the
/// first batch after the last time-index entry (from the start if there is none), which
/// also lies at or before the last offset-index entry, so it covers both questions.
pub(super) fn tail_state(
    log: &File,
    base_offset: i64,
    size: u64,
    offset_index: &OffsetIndex,
    time_index: &TimeIndex,
) -> Result<Tracker, ScanError> {
    let last_time = time_index.last();
    let mut tracker = Tracker::new(base_offset);
    tracker.last_index_position = offset_index.last().map_or(0, |e| u64::from(e.position));
    tracker.last_time_entry = last_time.map_or(-1, |e| e.timestamp);
    tracker.max = last_time.map(|e| TimestampOffset {
        timestamp: e.timestamp,
        offset: e.offset,
    });
    let from = last_time
        .and_then(|e| offset_index.lookup(e.offset + 1))
        .map_or(0, |e| u64::from(e.position));
    let mut walk = FileBatches::new(log, from, size, LOOKUP_CHUNK);
    // From the start, the first batch must begin at the base offset; from an index entry,
    // batches must follow on from the first one walked.
    let mut expected = (from == 0).then_some(base_offset);
    while let Some(b) = walk.next_header()? {
        let h = &b.header;
        let fits = h.base_offset >= base_offset && h.last_offset() - base_offset <= MAX_RELATIVE;
        if !fits || expected.is_some_and(|x| x != h.base_offset) {
            return Err(ScanError::Invalid {
                position: b.position,
                reason: format!("offset {} does not follow {expected:?}", h.base_offset),
            });
        }
        if tracker.max.is_none_or(|m| h.max_timestamp > m.timestamp) {
            tracker.max = Some(TimestampOffset {
                timestamp: h.max_timestamp,
                offset: h.last_offset(),
            });
        }
        expected = Some(h.next_offset());
        tracker.next_offset = h.next_offset();
    }
    if size > 0 {
        let first = FileBatches::new(log, 0, size, BatchHeader::SIZE).next_header()?;
        tracker.first_timestamp = first.map(|b| b.header.max_timestamp);
    }
    Ok(tracker)
}

#[cfg(test)]
#[path = "segment_tests.rs"]
mod tests;
