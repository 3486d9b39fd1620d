//! The time index of one segment: Kafka's `.timeindex` file.
//!
//! Each 12-byte entry holds a timestamp (i64) and an offset relative to the segment's base
//! (i32), big-endian. An entry `(T, O)` says that the largest timestamp of the segment's
//! records up to the batch ending at `O` is `T` and first appears in that batch; timestamps
//! strictly increase from entry to entry. A timestamp query takes the last entry below the
//! target and scans batches from just after its offset.
//!
//! Like the offset index it lives in memory and in a file exactly as long as its entries,
//! has no checksum, and is rebuilt from the log when [`TimeIndex::load`]'s sanity check fails.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::offset_index::{IndexError, open_rw};

/// Bytes per entry.
pub(super) const ENTRY_SIZE: usize = 12;

/// One time-index entry, with the offset made absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TimeEntry {
    /// The largest timestamp up to and including the batch ending at `offset`.
    pub timestamp: i64,
    /// The last offset of the first batch carrying `timestamp`.
    pub offset: i64,
}

/// The time index of one segment: entries in memory, mirrored in the `.timeindex` file.
#[derive(Debug)]
pub(super) struct TimeIndex {
    path: PathBuf,
    file: File,
    base_offset: i64,
    entries: Vec<TimeEntry>,
}

impl TimeIndex {
    /// Writes a fresh time-index file at `path` holding `entries`.
    pub(super) fn create(
        path: &Path,
        base_offset: i64,
        entries: Vec<TimeEntry>,
    ) -> io::Result<Self> {
        let file = open_rw(path, true)?;
        file.write_all_at(&encode(base_offset, &entries)?, 0)?;
        Ok(Self {
            path: path.to_owned(),
            file,
            base_offset,
            entries,
        })
    }

    /// Reads the file at `path` and sanity-checks it: whole entries, timestamps at or above
    /// zero and strictly increasing, offsets at or above the base and never decreasing.
    pub(super) fn load(path: &Path, base_offset: i64) -> Result<Self, IndexError> {
        let file = open_rw(path, false)?;
        let len = file.metadata()?.len();
        if len % ENTRY_SIZE as u64 != 0 {
            return Err(unusable(format!(
                "size {len} is not a multiple of {ENTRY_SIZE}"
            )));
        }
        let len = usize::try_from(len).map_err(|_| unusable("too large".into()))?;
        let mut bytes = vec![0u8; len];
        file.read_exact_at(&mut bytes, 0)?;
        let mut entries: Vec<TimeEntry> = Vec::with_capacity(len / ENTRY_SIZE);
        for chunk in bytes.chunks_exact(ENTRY_SIZE) {
            let (ts, rel) = chunk.split_at(8);
            let timestamp = i64::from_be_bytes(ts.try_into().unwrap_or_default());
            let rel = i32::from_be_bytes(rel.try_into().unwrap_or_default());
            if timestamp < 0 || rel < 0 {
                return Err(unusable(format!("negative entry ({timestamp}, {rel})")));
            }
            let entry = TimeEntry {
                timestamp,
                offset: base_offset + i64::from(rel),
            };
            if let Some(prev) = entries.last()
                && (entry.timestamp <= prev.timestamp || entry.offset < prev.offset)
            {
                return Err(unusable(format!(
                    "entry {entry:?} does not follow {prev:?}"
                )));
            }
            entries.push(entry);
        }
        Ok(Self {
            path: path.to_owned(),
            file,
            base_offset,
            entries,
        })
    }

    /// Appends `new` entries (already in order after the existing ones) with one write.
    pub(super) fn append(&mut self, new: &[TimeEntry]) -> io::Result<()> {
        if new.is_empty() {
            return Ok(());
        }
        self.file
            .write_all_at(&encode(self.base_offset, new)?, self.file_len())?;
        self.entries.extend_from_slice(new);
        Ok(())
    }

    /// The last entry whose timestamp is below `timestamp`: every record up to its offset is
    /// older than `timestamp`, so a search can start after it.
    pub(super) fn last_before(&self, timestamp: i64) -> Option<TimeEntry> {
        let n = self.entries.partition_point(|e| e.timestamp < timestamp);
        n.checked_sub(1).and_then(|i| self.entries.get(i)).copied()
    }

    /// Drops the entries at or past `offset` (the batches from there were cut).
    pub(super) fn truncate_from_offset(&mut self, offset: i64) -> io::Result<()> {
        let keep = self.entries.partition_point(|e| e.offset < offset);
        self.entries.truncate(keep);
        self.file.set_len(self.file_len())
    }

    /// The last entry: the segment's largest timestamp once the segment was rolled or closed.
    pub(super) fn last(&self) -> Option<TimeEntry> {
        self.entries.last().copied()
    }

    /// All entries, in order.
    #[cfg(test)]
    pub(super) fn entries(&self) -> &[TimeEntry] {
        &self.entries
    }

    /// Makes the file durable.
    pub(super) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Where the file is.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    fn file_len(&self) -> u64 {
        (self.entries.len() * ENTRY_SIZE) as u64
    }
}

fn unusable(reason: String) -> IndexError {
    IndexError::Unusable(reason)
}

/// The on-disk form of `entries`; offsets must lie within i32 above the base.
fn encode(base_offset: i64, entries: &[TimeEntry]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(entries.len() * ENTRY_SIZE);
    for e in entries {
        let rel = e
            .offset
            .checked_sub(base_offset)
            .and_then(|r| i32::try_from(r).ok())
            .filter(|&r| r >= 0)
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "offset outside the segment")
            })?;
        out.extend_from_slice(&e.timestamp.to_be_bytes());
        out.extend_from_slice(&rel.to_be_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(timestamp: i64, offset: i64) -> TimeEntry {
        TimeEntry { timestamp, offset }
    }

    #[test]
    fn writes_kafka_entries_and_looks_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000050.timeindex");
        let mut idx = TimeIndex::create(&path, 50, vec![]).unwrap();
        idx.append(&[e(1000, 55), e(2000, 60), e(3000, 60)])
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 36);
        assert_eq!(&bytes[..12], &[0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 5]);

        assert_eq!(idx.last_before(1000), None);
        assert_eq!(idx.last_before(1001), Some(e(1000, 55)));
        assert_eq!(idx.last_before(2500), Some(e(2000, 60)));
        assert_eq!(idx.last_before(i64::MAX), Some(e(3000, 60)));

        let loaded = TimeIndex::load(&path, 50).unwrap();
        assert_eq!(loaded.entries(), idx.entries());

        idx.truncate_from_offset(60).unwrap();
        assert_eq!(idx.last(), Some(e(1000, 55)));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 12);
    }

    #[test]
    fn load_refuses_insane_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.timeindex");
        assert!(matches!(
            TimeIndex::load(&path, 0),
            Err(IndexError::Unusable(_))
        ));
        let entry = |ts: i64, rel: i32| {
            let mut v = ts.to_be_bytes().to_vec();
            v.extend_from_slice(&rel.to_be_bytes());
            v
        };
        let cases = [
            entry(5, 1)[..11].to_vec(),          // partial entry
            [entry(5, 1), entry(5, 2)].concat(), // timestamps repeat
            [entry(5, 2), entry(6, 1)].concat(), // offsets decrease
            entry(-1, 1),                        // no timestamp
            entry(5, -1),                        // below the base
        ];
        for bytes in cases {
            std::fs::write(&path, &bytes).unwrap();
            assert!(
                matches!(TimeIndex::load(&path, 0), Err(IndexError::Unusable(_))),
                "{bytes:?}"
            );
        }
    }
}
