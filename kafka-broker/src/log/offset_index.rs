//! The sparse offset index of one segment: Kafka's `.index` file.
//!
//! Each 8-byte entry holds an offset relative to the segment's base offset (i32) and the
//! file position of a batch (i32), both big-endian: the position is where the batch holding
//! that offset starts, so a lookup can start reading there and scan forward. Kafka memory-maps
//! a preallocated file and trims it on roll; this index keeps the entries in memory (a 1 GiB
//! segment with the default 4 KiB interval has at most 256 Ki entries, 2 MiB) and the file
//! exactly as long as its entries, which is what Kafka leaves behind after a roll and what
//! `kafka-dump-log.sh` reads.
//!
//! The file has no checksum. [`OffsetIndex::load`] sanity-checks it (size, increasing
//! offsets and positions, positions inside the log) and callers rebuild it from the log when
//! that fails, as Kafka does after a crash.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes per entry.
pub(super) const ENTRY_SIZE: usize = 8;

/// One index entry, with the offset made absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct IndexEntry {
    /// An offset held by the batch at `position` (the batch's last offset when this log
    /// wrote the entry).
    pub offset: i64,
    /// Where that batch starts in the segment's log file.
    pub position: u32,
}

/// Why an index file on disk cannot be used.
#[derive(Debug)]
pub(super) enum IndexError {
    /// Reading the file failed (not merely "it is missing").
    Io(io::Error),
    /// The file is missing or fails its sanity check; the reason is for the log.
    Unusable(String),
}

impl From<io::Error> for IndexError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::NotFound {
            IndexError::Unusable("missing".into())
        } else {
            IndexError::Io(e)
        }
    }
}

/// The offset index of one segment: entries in memory, mirrored in the `.index` file.
#[derive(Debug)]
pub(super) struct OffsetIndex {
    path: PathBuf,
    file: File,
    base_offset: i64,
    entries: Vec<IndexEntry>,
}

impl OffsetIndex {
    /// Writes a fresh index file at `path` holding `entries` (for a new segment, empty).
    pub(super) fn create(
        path: &Path,
        base_offset: i64,
        entries: Vec<IndexEntry>,
    ) -> io::Result<Self> {
        let file = open_rw(path, true)?;
        let bytes = encode(base_offset, &entries)?;
        file.write_all_at(&bytes, 0)?;
        Ok(Self {
            path: path.to_owned(),
            file,
            base_offset,
            entries,
        })
    }

    /// Reads the index file at `path` and sanity-checks it against a log of `log_size`
    /// bytes: whole entries, offsets at or above the base and strictly increasing, positions
    /// strictly increasing and inside the log.
    pub(super) fn load(path: &Path, base_offset: i64, log_size: u64) -> Result<Self, IndexError> {
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
        let mut entries: Vec<IndexEntry> = Vec::with_capacity(len / ENTRY_SIZE);
        for chunk in bytes.chunks_exact(ENTRY_SIZE) {
            let (rel, pos) = chunk.split_at(4);
            let rel = i32::from_be_bytes(rel.try_into().unwrap_or_default());
            let pos = i32::from_be_bytes(pos.try_into().unwrap_or_default());
            let (Ok(rel), Ok(position)) = (u32::try_from(rel), u32::try_from(pos)) else {
                return Err(unusable(format!("negative entry ({rel}, {pos})")));
            };
            let entry = IndexEntry {
                offset: base_offset + i64::from(rel),
                position,
            };
            if u64::from(position) >= log_size {
                return Err(unusable(format!(
                    "position {position} is past the log end {log_size}"
                )));
            }
            if let Some(prev) = entries.last()
                && (entry.offset <= prev.offset || entry.position <= prev.position)
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
    pub(super) fn append(&mut self, new: &[IndexEntry]) -> io::Result<()> {
        if new.is_empty() {
            return Ok(());
        }
        let bytes = encode(self.base_offset, new)?;
        self.file.write_all_at(&bytes, self.file_len())?;
        self.entries.extend_from_slice(new);
        Ok(())
    }

    /// The entry with the greatest offset at or below `offset`: where to start scanning for it.
    pub(super) fn lookup(&self, offset: i64) -> Option<IndexEntry> {
        let n = self.entries.partition_point(|e| e.offset <= offset);
        n.checked_sub(1).and_then(|i| self.entries.get(i)).copied()
    }

    /// Drops the entries pointing at or past `position` (the log was cut there).
    pub(super) fn truncate_from_position(&mut self, position: u64) -> io::Result<()> {
        let keep = self
            .entries
            .partition_point(|e| u64::from(e.position) < position);
        self.entries.truncate(keep);
        self.file.set_len(self.file_len())
    }

    /// The last entry.
    pub(super) fn last(&self) -> Option<IndexEntry> {
        self.entries.last().copied()
    }

    /// All entries, in order.
    #[cfg(test)]
    pub(super) fn entries(&self) -> &[IndexEntry] {
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

/// Opens (and with `create`, creates or empties) an index file for reading and writing.
pub(super) fn open_rw(path: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(create)
        .open(path)
}

fn unusable(reason: String) -> IndexError {
    IndexError::Unusable(reason)
}

/// The on-disk form of `entries`; offsets must lie within i32 above the base.
fn encode(base_offset: i64, entries: &[IndexEntry]) -> io::Result<Vec<u8>> {
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
        let pos = i32::try_from(e.position)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "position past 2 GiB"))?;
        out.extend_from_slice(&rel.to_be_bytes());
        out.extend_from_slice(&pos.to_be_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(offset: i64, position: u32) -> IndexEntry {
        IndexEntry { offset, position }
    }

    #[test]
    fn writes_kafka_entries_and_looks_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000100.index");
        let mut idx = OffsetIndex::create(&path, 100, vec![e(105, 4200)]).unwrap();
        idx.append(&[e(110, 9000), e(120, 13000)]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 24);
        assert_eq!(&bytes[..8], &[0, 0, 0, 5, 0, 0, 0x10, 0x68]);

        assert_eq!(idx.lookup(99), None);
        assert_eq!(idx.lookup(104), None);
        assert_eq!(idx.lookup(105), Some(e(105, 4200)));
        assert_eq!(idx.lookup(119), Some(e(110, 9000)));
        assert_eq!(idx.lookup(1000), Some(e(120, 13000)));

        let loaded = OffsetIndex::load(&path, 100, 20000).unwrap();
        assert_eq!(loaded.entries(), idx.entries());

        idx.truncate_from_position(9000).unwrap();
        assert_eq!(idx.last(), Some(e(105, 4200)));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 8);
    }

    #[test]
    fn load_refuses_insane_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        assert!(matches!(
            OffsetIndex::load(&path, 0, 10),
            Err(IndexError::Unusable(_))
        ));
        let cases: [&[u8]; 4] = [
            &[0, 0, 0, 1, 0, 0, 0, 1, 0],                       // partial entry
            &[0, 0, 0, 2, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 10], // offsets decrease
            &[0, 0, 0, 2, 0, 0, 0, 9, 0, 0, 0, 3, 0, 0, 0, 9],  // positions repeat
            &[0, 0, 0, 2, 0, 0, 1, 0],                          // position past the log
        ];
        for bytes in cases {
            std::fs::write(&path, bytes).unwrap();
            assert!(
                matches!(
                    OffsetIndex::load(&path, 0, 100),
                    Err(IndexError::Unusable(_))
                ),
                "{bytes:?}"
            );
        }
        std::fs::write(&path, [0xff, 0, 0, 0, 0, 0, 0, 1]).unwrap();
        assert!(matches!(
            OffsetIndex::load(&path, 0, 100),
            Err(IndexError::Unusable(_))
        ));
    }
}
