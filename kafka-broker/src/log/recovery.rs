//! Opening a partition directory: clearing leftovers, loading segments, and recovering what
//! a crash may have damaged.
//!
//! The rule (a simplification of Kafka's `LogLoader`):
//! - `.deleted`, `.cleaned`, `.swap` and `.tmp` files are removed (this log never compacts, so
//!   a `.swap` is never a finished compaction to complete), and so are index files without
//!   a `.log`.
//! - Every segment's indexes are sanity-checked ([`OffsetIndex::load`], [`TimeIndex::load`],
//!   a walk over the batches after the last index entries, the last offset-index entry
//!   pointing at a batch, the time index ending with the largest timestamp); a segment that
//!   fails is recovered.
//! - Without the clean-shutdown marker the last segment, the only one written to since the
//!   previous roll, is always recovered: every batch's framing, CRC-32C and offsets are
//!   checked, the file is cut at the first bad byte (a torn write or damage), and both indexes
//!   are rebuilt. Earlier segments were complete when rolled; Kafka also re-checks them when
//!   they are past its recovery point (not yet flushed), which needs a persisted recovery
//!   point this log does not keep.
//! - A segment running into the next one's base offset is cut there, and the persisted log
//!   start offset is applied (segments wholly below it are deleted).
//!
//! Offsets inside a segment must be contiguous from its base offset: this log never compacts,
//! so a gap can only be damage to the (unchecksummed) base offset field.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::path::Path;

use kafka_protocol::records::BatchHeader;

use super::LogError;
use super::checkpoint::{TEMP_SUFFIX, read_log_start_offset, take_clean_marker};
use super::file_batches::{FileBatches, SCAN_CHUNK, ScanError};
use super::offset_index::{IndexError, OffsetIndex};
use super::segment::{
    INDEX_SUFFIX, LOG_SUFFIX, MAX_RELATIVE, Segment, TIME_INDEX_SUFFIX, Tracker, file_name,
    parse_file_name, tail_state,
};
use super::time_index::TimeIndex;

/// Suffixes of files an interrupted deletion or compaction leaves behind.
const LEFTOVER_SUFFIXES: [&str; 4] = [".deleted", ".cleaned", ".swap", TEMP_SUFFIX];

/// The segments of an opened directory and the log start offset.
#[derive(Debug)]
pub(super) struct Opened {
    /// Segments in offset order; never empty.
    pub segments: Vec<Segment>,
    /// The log start offset.
    pub start_offset: i64,
}

/// Opens (creating if needed) the partition directory `dir`; see the [module docs](self).
pub(super) fn open_dir(dir: &Path, index_interval: u64) -> Result<Opened, LogError> {
    fs::create_dir_all(dir)?;
    let clean = take_clean_marker(dir)?;
    let bases = list_segments(dir)?;
    let mut segments: Vec<Segment> = Vec::with_capacity(bases.len());
    for (i, &base) in bases.iter().enumerate() {
        let last = i + 1 == bases.len();
        let segment = if last && !clean {
            recover_segment(dir, base, index_interval)?
        } else {
            match load_segment(dir, base)? {
                Ok(s) => s,
                Err(reason) => {
                    tracing::warn!(dir = %dir.display(), base, "recovering segment: {reason}");
                    recover_segment(dir, base, index_interval)?
                }
            }
        };
        segments.push(segment);
    }
    for i in 1..segments.len() {
        let next_base = segments[i].base_offset();
        let prev = &mut segments[i - 1];
        if prev.next_offset() > next_base {
            tracing::warn!(path = %prev.log_path().display(), next_base, "segment overlaps the next one; cutting it");
            prev.truncate_to(next_base)?;
            prev.finish()?;
        }
    }

    let checkpoint = read_log_start_offset(dir)?.unwrap_or(0);
    let first_base = segments.first().map_or(0, Segment::base_offset);
    let start_offset = checkpoint.max(first_base);
    let end = segments.last().map_or(start_offset, Segment::next_offset);
    if segments.is_empty() || start_offset > end {
        // Nothing, or nothing the start offset leaves: start afresh there.
        for s in segments.drain(..) {
            s.delete()?;
        }
        segments.push(Segment::create(dir, start_offset)?);
    }
    while segments.len() > 1 && segments[1].base_offset() <= start_offset {
        segments.remove(0).delete()?;
    }
    Ok(Opened {
        segments,
        start_offset,
    })
}

/// Removes leftovers and orphaned indexes; returns the base offsets of the `.log` files.
fn list_segments(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut logs = BTreeSet::new();
    let mut indexes = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if LEFTOVER_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            tracing::info!(path = %entry.path().display(), "removing a leftover file");
            fs::remove_file(entry.path())?;
        } else if let Some(base) = parse_file_name(name, LOG_SUFFIX) {
            logs.insert(base);
        } else if let Some(base) =
            parse_file_name(name, INDEX_SUFFIX).or_else(|| parse_file_name(name, TIME_INDEX_SUFFIX))
        {
            indexes.push((base, entry.path()));
        }
    }
    for (base, path) in indexes {
        if !logs.contains(&base) {
            tracing::info!(path = %path.display(), "removing an index without a log");
            fs::remove_file(path)?;
        }
    }
    Ok(logs.into_iter().collect())
}

/// Opens a segment trusting its log, once its indexes pass their sanity checks; `Ok(Err)`
/// says why it must be recovered instead.
fn load_segment(dir: &Path, base: i64) -> Result<Result<Segment, String>, LogError> {
    let log_path = dir.join(file_name(base, LOG_SUFFIX));
    let log = OpenOptions::new().read(true).write(true).open(&log_path)?;
    let size = log.metadata()?.len();
    if size > MAX_RELATIVE as u64 {
        return Ok(Err(format!("size {size} is past 2 GiB")));
    }
    let offset_index = match OffsetIndex::load(&dir.join(file_name(base, INDEX_SUFFIX)), base, size)
    {
        Ok(i) => i,
        Err(IndexError::Io(e)) => return Err(e.into()),
        Err(IndexError::Unusable(why)) => return Ok(Err(format!("offset index: {why}"))),
    };
    let time_index = match TimeIndex::load(&dir.join(file_name(base, TIME_INDEX_SUFFIX)), base) {
        Ok(i) => i,
        Err(IndexError::Io(e)) => return Err(e.into()),
        Err(IndexError::Unusable(why)) => return Ok(Err(format!("time index: {why}"))),
    };
    let tracker = match tail_state(&log, base, size, &offset_index, &time_index) {
        Ok(t) => t,
        Err(ScanError::Io(e)) => return Err(e.into()),
        Err(e) => return Ok(Err(e.to_string())),
    };
    let next = tracker.next_offset;
    if offset_index.last().is_some_and(|e| e.offset >= next)
        || time_index.last().is_some_and(|e| e.offset >= next)
    {
        return Ok(Err(format!(
            "an index entry is past the last offset {}",
            next - 1
        )));
    }
    // Rolls, closes and recoveries end the time index with the segment's largest timestamp;
    // without it the time index is stale (or was cut), and searches would miss batches.
    let max = tracker.max.filter(|m| m.timestamp >= 0);
    if max.map(|m| (m.timestamp, m.offset)) != time_index.last().map(|e| (e.timestamp, e.offset)) {
        return Ok(Err(
            "the time index does not end with the largest timestamp".into(),
        ));
    }
    // The last offset-index entry must point at a batch holding offsets up to its own.
    if let Some(e) = offset_index.last() {
        let mut walk = FileBatches::new(&log, u64::from(e.position), size, BatchHeader::SIZE);
        match walk.next_header() {
            Ok(Some(b)) if b.header.base_offset <= e.offset => {}
            Err(ScanError::Io(e)) => return Err(e.into()),
            _ => {
                return Ok(Err(format!(
                    "offset index entry {e:?} points at no batch holding it"
                )));
            }
        }
    }
    Ok(Ok(Segment::from_parts(
        base,
        log_path,
        log,
        size,
        offset_index,
        time_index,
        tracker,
    )))
}

/// Re-reads every batch of a segment, checking framing, CRC-32C and offsets; cuts the log at
/// the first bad byte and rebuilds both indexes.
pub(super) fn recover_segment(
    dir: &Path,
    base: i64,
    index_interval: u64,
) -> Result<Segment, LogError> {
    let log_path = dir.join(file_name(base, LOG_SUFFIX));
    let log = OpenOptions::new().read(true).write(true).open(&log_path)?;
    let size = log.metadata()?.len();
    let mut tracker = Tracker::new(base);
    let (mut index, mut time) = (Vec::new(), Vec::new());
    let mut walk = FileBatches::new(&log, 0, size, SCAN_CHUNK);
    let valid = loop {
        let (b, bytes) = match walk.next_batch() {
            Ok(Some(batch)) => batch,
            Ok(None) => break size,
            Err(ScanError::Io(e)) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(path = %log_path.display(), "recovery stops: {e}");
                break e.position().unwrap_or(0);
            }
        };
        let h = &b.header;
        let problem = if h.base_offset != tracker.next_offset {
            Some(format!(
                "offset {} where {} was due",
                h.base_offset, tracker.next_offset
            ))
        } else if h.last_offset() - base > MAX_RELATIVE || b.end() > MAX_RELATIVE as u64 {
            Some("batch past the segment's 2 GiB / 2^31-offset range".to_owned())
        } else {
            BatchHeader::verify_crc(bytes).err().map(|e| e.to_string())
        };
        if let Some(problem) = problem {
            tracing::warn!(path = %log_path.display(), position = b.position, "recovery stops: {problem}");
            break b.position;
        }
        tracker.observe(
            index_interval,
            b.position,
            h.last_offset(),
            h.max_timestamp,
            &mut index,
            &mut time,
        );
    };
    if valid < size {
        tracing::warn!(path = %log_path.display(), "cutting {} bytes after position {valid}", size - valid);
        log.set_len(valid)?;
    }
    tracker.push_time_entry(&mut time);
    let offset_index = OffsetIndex::create(&dir.join(file_name(base, INDEX_SUFFIX)), base, index)?;
    let time_index = TimeIndex::create(&dir.join(file_name(base, TIME_INDEX_SUFFIX)), base, time)?;
    let mut segment = Segment::from_parts(
        base,
        log_path,
        log,
        valid,
        offset_index,
        time_index,
        tracker,
    );
    segment.mark_dirty();
    Ok(segment)
}

#[cfg(test)]
#[path = "recovery_tests.rs"]
mod tests;
