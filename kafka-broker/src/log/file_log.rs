//! The segmented file log: one partition directory in Kafka's on-disk format.
//!
//! The directory (`<topic>-<partition>/`, see [`FileLog::partition_dir`]) holds segments named
//! by their 20-digit base offset, each a `.log` of batches byte-identical to the wire plus a
//! `.index` and a `.timeindex`, so Kafka's `kafka-dump-log.sh` reads them. Beside them sit
//! `log-start-offset` (the start offset DeleteRecords moved) and, after [`Log::close`], the
//! `.kafka_cleanshutdown` marker.
//!
//! Behaviour, following Kafka where the trait allows:
//! - **Roll** before an append when the active segment is non-empty and the append would take
//!   it past `segment.bytes` (capped at 2 GiB, the reach of an index position), when it is
//!   older than `segment.ms`, or when the append's last offset would not fit in an i32 above
//!   the base. Age is Kafka's: the append's max timestamp minus the segment's first batch's
//!   max timestamp (the wall clock since the segment was created or opened when that batch
//!   has none). [`Log::apply_retention`] also rolls a non-empty active segment whose first
//!   batch is older than `segment.ms` by `now_ms`, so a partition that stops receiving data
//!   still ages out.
//! - **Retention** deletes whole segments, oldest first, stopping at the first one that is not
//!   eligible: by `retention.ms` (now minus the segment's largest timestamp, or its file's
//!   modification time when it has none) and by `retention.bytes` (while the total minus the
//!   segment is still at least the limit). When every segment goes, an empty active segment
//!   is rolled first. Files are removed at once: Kafka renames them `.deleted` and removes
//!   them a minute later so that in-flight reads of memory-mapped files finish; reads here
//!   hold the log's lock and use positioned reads, so there is nothing to wait for. The high
//!   watermark is not consulted (the trait does not carry it); the caller must not let
//!   retention run ahead of replication.
//! - **Reads** span segments: whole batches from the one holding the offset, as many as fit.
//! - **Truncation** cuts at a batch boundary (a batch holding the target offset goes whole)
//!   and the log end offset becomes the target; when that leaves the last segment ending
//!   short of the target, an empty segment is started at the target so a reopened log ends
//!   at the same offset.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::BytesMut;

use super::batches::{offset_of_max_timestamp, spans, stamp};
use super::checkpoint::{sync_dir, take_clean_marker, write_clean_marker, write_log_start_offset};
use super::recovery::{Opened, open_dir};
use super::segment::{MAX_RELATIVE, ReadProgress, Segment, TimestampOffset};
use super::{AppendInfo, Log, LogConfig, LogError, ReadResult};

/// A partition log stored as segment files in one directory.
#[derive(Debug)]
pub struct FileLog {
    dir: PathBuf,
    config: LogConfig,
    /// Inactive segments, in offset order.
    segments: Vec<Segment>,
    /// The segment appends go to (its base offset is above every inactive one's).
    active: Segment,
    start_offset: i64,
    /// The clean-shutdown marker is on disk and must go before the next change.
    clean_marker: bool,
    /// A write failed part-way: never claim a clean shutdown.
    failed: bool,
    /// Files were created or removed since the directory was last synced.
    dir_dirty: bool,
}

impl FileLog {
    /// Opens the partition log in `dir`, creating the directory if needed, cleaning up and
    /// recovering what a crash left (see the recovery rules in `recovery.rs`).
    pub fn open(dir: impl AsRef<Path>, config: LogConfig) -> Result<Self, LogError> {
        let dir = dir.as_ref().to_owned();
        let Opened {
            mut segments,
            start_offset,
        } = open_dir(&dir, config.index_interval_bytes)?;
        let active = match segments.pop() {
            Some(s) => s,
            None => Segment::create(&dir, start_offset)?,
        };
        Ok(Self {
            dir,
            config,
            segments,
            active,
            start_offset,
            clean_marker: false,
            failed: false,
            dir_dirty: true,
        })
    }

    /// The directory Kafka uses for a partition under a data directory: `<topic>-<partition>`.
    pub fn partition_dir(data_dir: &Path, topic: &str, partition: i32) -> PathBuf {
        data_dir.join(format!("{topic}-{partition}"))
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The base offsets of the segments, oldest first (the last is the active segment).
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.all().map(Segment::base_offset).collect()
    }

    /// Deletes the log and its directory (for DeleteTopics).
    pub fn delete(self) -> Result<(), LogError> {
        let dir = self.dir.clone();
        drop(self);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Every segment, oldest first.
    fn all(&self) -> impl Iterator<Item = &Segment> {
        self.segments.iter().chain(std::iter::once(&self.active))
    }

    /// The `i`-th segment, oldest first.
    fn segment(&self, i: usize) -> Option<&Segment> {
        match i.cmp(&self.segments.len()) {
            std::cmp::Ordering::Less => self.segments.get(i),
            std::cmp::Ordering::Equal => Some(&self.active),
            std::cmp::Ordering::Greater => None,
        }
    }

    /// The index of the last segment whose base offset is <= `offset` (the first if none).
    fn segment_for(&self, offset: i64) -> usize {
        if self.active.base_offset() <= offset {
            self.segments.len()
        } else {
            self.segments
                .partition_point(|s| s.base_offset() <= offset)
                .saturating_sub(1)
        }
    }

    /// Removes the clean-shutdown marker before the first change after `close`.
    fn touch(&mut self) -> Result<(), LogError> {
        if self.clean_marker {
            take_clean_marker(&self.dir)?;
            self.clean_marker = false;
        }
        Ok(())
    }

    /// Remembers an I/O failure, after which the files may hold a partial write.
    fn note<T>(&mut self, result: Result<T, LogError>) -> Result<T, LogError> {
        if matches!(result, Err(LogError::Io(_))) {
            self.failed = true;
        }
        result
    }

    /// Starts a new active segment at the log end offset.
    fn roll(&mut self) -> Result<(), LogError> {
        let base = self.active.next_offset();
        self.active.finish()?;
        let fresh = Segment::create(&self.dir, base)?;
        self.dir_dirty = true;
        let old = std::mem::replace(&mut self.active, fresh);
        self.segments.push(old);
        Ok(())
    }

    /// Rolls if the active segment cannot or should not take an append of `size` bytes with
    /// max timestamp `max_timestamp` ending at `last_offset` (see the module docs).
    fn maybe_roll(
        &mut self,
        size: u64,
        max_timestamp: i64,
        last_offset: i64,
    ) -> Result<(), LogError> {
        if self.active.is_empty() {
            return Ok(());
        }
        let segment_bytes = self.config.segment_bytes.min(MAX_RELATIVE as u64);
        let full = self.active.size() + size > segment_bytes;
        let old = self.config.segment_ms >= 0
            && self.active.age_ms(max_timestamp) > self.config.segment_ms;
        let wide = last_offset - self.active.base_offset() > MAX_RELATIVE;
        if full || old || wide {
            self.roll()?;
        }
        Ok(())
    }

    /// Deletes the `n` oldest (inactive) segments and moves the start offset past them.
    fn delete_oldest(&mut self, n: usize) -> Result<(), LogError> {
        for _ in 0..n.min(self.segments.len()) {
            self.segments.remove(0).delete()?;
            self.dir_dirty = true;
        }
        let first = self.segments.first().unwrap_or(&self.active).base_offset();
        self.start_offset = self.start_offset.max(first);
        Ok(())
    }

    /// Deletes the segments wholly below the log start offset.
    fn delete_below_start(&mut self) -> Result<(), LogError> {
        let mut n = 0;
        while self
            .segment(n + 1)
            .is_some_and(|s| s.base_offset() <= self.start_offset)
        {
            n += 1;
        }
        self.delete_oldest(n)
    }

    /// How many of the oldest segments `retention.ms` and `retention.bytes` let go as of
    /// `now_ms` (never the active segment when it is empty).
    fn retention_count(&self, now_ms: i64) -> Result<usize, LogError> {
        let total = self.segments.len() + 1;
        let deletable = if self.active.is_empty() {
            total - 1
        } else {
            total
        };
        let mut by_time = 0;
        if self.config.retention_ms >= 0 {
            for s in self.all().take(deletable) {
                if now_ms.saturating_sub(s.retention_timestamp()?) <= self.config.retention_ms {
                    break;
                }
                by_time += 1;
            }
        }
        let mut by_size = 0;
        if let Ok(limit) = u64::try_from(self.config.retention_bytes) {
            let mut size = self.size_bytes();
            for s in self.all().take(deletable) {
                if size - s.size() < limit {
                    break;
                }
                size -= s.size();
                by_size += 1;
            }
        }
        Ok(by_time.max(by_size))
    }

    fn append_inner(
        &mut self,
        batches: &[u8],
        leader_epoch: i32,
        log_append_time: Option<i64>,
    ) -> Result<AppendInfo, LogError> {
        let end = self.log_end_offset();
        let (buf, spans) = stamp(batches, end, leader_epoch, log_append_time)?;
        let last_offset = spans.last().map_or(end, |s| s.last_offset);
        let max_timestamp = spans.iter().fold(-1, |m, s| m.max(s.max_timestamp));
        if last_offset - end > MAX_RELATIVE {
            return Err(LogError::InvalidBatch(
                "the append spans more than 2^31 offsets".into(),
            ));
        }
        self.touch()?;
        self.maybe_roll(buf.len() as u64, max_timestamp, last_offset)?;
        self.active
            .append(&buf, &spans, self.config.index_interval_bytes)?;
        Ok(AppendInfo {
            base_offset: end,
            last_offset,
            max_timestamp,
        })
    }

    fn append_replicated_inner(&mut self, batches: &[u8]) -> Result<AppendInfo, LogError> {
        let end = self.log_end_offset();
        let spans = spans(batches, end)?;
        let last_offset = spans.last().map_or(end, |s| s.last_offset);
        let max_timestamp = spans.iter().fold(-1, |m, s| m.max(s.max_timestamp));
        if last_offset - end > MAX_RELATIVE {
            return Err(LogError::InvalidBatch(
                "the append spans more than 2^31 offsets".into(),
            ));
        }
        self.touch()?;
        self.maybe_roll(batches.len() as u64, max_timestamp, last_offset)?;
        self.active
            .append(batches, &spans, self.config.index_interval_bytes)?;
        Ok(AppendInfo {
            base_offset: end,
            last_offset,
            max_timestamp,
        })
    }

    fn start_at_inner(&mut self, offset: i64) -> Result<(), LogError> {
        self.touch()?;
        // Everything goes: first the start offset (persisted, so a crash half-way at worst
        // leaves segments below it for the next open to delete), then the segments.
        write_log_start_offset(&self.dir, offset)?;
        self.start_offset = offset;
        while let Some(prev) = self.segments.pop() {
            prev.delete()?;
            self.dir_dirty = true;
        }
        if self.active.base_offset() == offset {
            // Same file name: empty the segment in place.
            self.active.truncate_to(offset)?;
        } else {
            let fresh = Segment::create(&self.dir, offset)?;
            self.dir_dirty = true;
            std::mem::replace(&mut self.active, fresh).delete()?;
        }
        Ok(())
    }

    fn retention_inner(&mut self, now_ms: i64) -> Result<usize, LogError> {
        if !self.active.is_empty()
            && self.config.segment_ms >= 0
            && self.active.age_ms(now_ms) > self.config.segment_ms
        {
            self.touch()?;
            self.roll()?;
        }
        let n = self.retention_count(now_ms)?;
        if n == 0 {
            return Ok(0);
        }
        self.touch()?;
        if n > self.segments.len() {
            // Every segment goes, the active one too: keep an empty one to append to.
            self.roll()?;
        }
        self.delete_oldest(n)?;
        Ok(n)
    }

    fn truncate_inner(&mut self, offset: i64) -> Result<(), LogError> {
        self.touch()?;
        let new_end = offset.max(self.start_offset);
        // Segments starting at or after the target hold nothing to keep.
        while self.active.base_offset() >= offset {
            let Some(prev) = self.segments.pop() else {
                break;
            };
            std::mem::replace(&mut self.active, prev).delete()?;
            self.dir_dirty = true;
        }
        self.active.truncate_to(offset)?;
        if self.active.next_offset() != new_end {
            // The kept batches end short of the new end offset (the target was inside a
            // batch, or below the start offset): start a segment there, so that the log end
            // offset survives a restart.
            let fresh = Segment::create(&self.dir, new_end)?;
            self.dir_dirty = true;
            let mut old = std::mem::replace(&mut self.active, fresh);
            if old.is_empty() && !self.segments.is_empty() {
                old.delete()?;
            } else {
                // Kept even when empty if it is the first segment: its base offset is what
                // holds the log start offset where it was, across a reopen too.
                old.finish()?;
                self.segments.push(old);
            }
        }
        self.delete_below_start()
    }

    fn delete_records_inner(&mut self, offset: i64) -> Result<(), LogError> {
        self.touch()?;
        // Persisted first: a crash then at worst keeps segments the next open deletes.
        write_log_start_offset(&self.dir, offset)?;
        self.start_offset = offset;
        self.delete_below_start()
    }
}

impl Log for FileLog {
    fn append(
        &mut self,
        batches: &[u8],
        leader_epoch: i32,
        log_append_time: Option<i64>,
    ) -> Result<AppendInfo, LogError> {
        let result = self.append_inner(batches, leader_epoch, log_append_time);
        self.note(result)
    }

    fn append_replicated(&mut self, batches: &[u8]) -> Result<AppendInfo, LogError> {
        let result = self.append_replicated_inner(batches);
        self.note(result)
    }

    fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<(), LogError> {
        let result = self.start_at_inner(offset);
        self.note(result)
    }

    fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        upper_bound: i64,
    ) -> Result<ReadResult, LogError> {
        let end = self.log_end_offset();
        if offset < self.start_offset || offset > end {
            return Err(LogError::OffsetOutOfRange {
                offset,
                start: self.start_offset,
                end,
            });
        }
        let mut out = BytesMut::new();
        // The batch holding the offset; a segment may end short of the next one's base
        // (after a truncation inside a batch), in which case it is the next segment's first.
        let mut i = self.segment_for(offset);
        let mut position = None;
        while let Some(s) = self.segment(i) {
            if let Some(b) = s.locate(offset)? {
                position = Some(b.position);
                break;
            }
            i += 1;
        }
        let Some(mut position) = position else {
            return Ok(ReadResult {
                records: out.freeze(),
            });
        };
        while let Some(s) = self.segment(i) {
            if s.read_into(position, max_bytes, upper_bound, &mut out)? == ReadProgress::Stopped {
                break;
            }
            i += 1;
            position = 0;
        }
        Ok(ReadResult {
            records: out.freeze(),
        })
    }

    fn log_start_offset(&self) -> i64 {
        self.start_offset
    }

    fn log_end_offset(&self) -> i64 {
        self.active.next_offset()
    }

    fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        for s in self.all() {
            if let Some(hit) = s.find_timestamp(timestamp, self.start_offset)? {
                return Ok(Some(hit));
            }
        }
        Ok(None)
    }

    fn max_timestamp(&self) -> Option<(i64, i64)> {
        let mut best: Option<(TimestampOffset, &Segment)> = None;
        for (i, s) in self.all().enumerate() {
            // Only the first segment can hold batches below the start offset.
            let max = if i == 0 {
                s.max_timestamp_from(self.start_offset).unwrap_or_else(|e| {
                    tracing::warn!(dir = %self.dir.display(), "max timestamp: {e}");
                    s.max_timestamp()
                })
            } else {
                s.max_timestamp()
            };
            if let Some(m) = max
                && best.is_none_or(|(b, _)| m.timestamp > b.timestamp)
            {
                best = Some((m, s));
            }
        }
        let (m, s) = best?;
        let offset = match s.batch_containing(m.offset) {
            Ok(Some(batch)) => offset_of_max_timestamp(batch, m.timestamp, m.offset),
            Ok(None) => m.offset,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "max timestamp: {e}");
                m.offset
            }
        };
        Some((m.timestamp, offset))
    }

    fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError> {
        let end = self.log_end_offset();
        if offset > end {
            return Err(LogError::OffsetOutOfRange {
                offset,
                start: self.start_offset,
                end,
            });
        }
        if offset > self.start_offset {
            let result = self.delete_records_inner(offset);
            self.note(result)?;
        }
        Ok(self.start_offset)
    }

    fn apply_retention(&mut self, now_ms: i64) -> Result<usize, LogError> {
        let result = self.retention_inner(now_ms);
        self.note(result)
    }

    fn truncate_to(&mut self, offset: i64) -> Result<(), LogError> {
        if offset >= self.log_end_offset() {
            return Ok(());
        }
        let result = self.truncate_inner(offset);
        self.note(result)
    }

    fn size_bytes(&self) -> u64 {
        self.all().map(Segment::size).sum()
    }

    fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    fn flush(&mut self) -> Result<(), LogError> {
        let mut result = Ok(());
        for s in self
            .segments
            .iter_mut()
            .chain(std::iter::once(&mut self.active))
        {
            result = result.and(s.sync());
        }
        if result.is_ok() && self.dir_dirty {
            result = sync_dir(&self.dir).map_err(LogError::from);
            self.dir_dirty = result.is_err();
        }
        self.note(result)
    }

    fn close(&mut self) -> Result<(), LogError> {
        self.touch()?;
        let finished = self.active.finish();
        self.note(finished)?;
        self.flush()?;
        if !self.failed {
            write_clean_marker(&self.dir)?;
            self.clean_marker = true;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "file_log_tests.rs"]
mod tests;
