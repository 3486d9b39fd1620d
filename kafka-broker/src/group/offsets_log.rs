//! Where committed offsets persist: `group-offsets.log` in the data directory.
//!
//! Kafka keeps offsets in its compacted `__consumer_offsets` topic; this broker keeps them in
//! one append-only file of CRC-framed records, replayed at startup:
//!
//! ```text
//! file   := "KBGOFF" 0x00 0x01  frame*
//! frame  := len:u32  crc32c(payload):u32  payload            (big-endian)
//! payload:= 1 group:str32 topic:str16 partition:i32 offset:i64 leader_epoch:i32
//!             commit_ms:i64 expire_ms:i64 (-1: none) metadata:str32      (a commit)
//!         | 2 group:str32 topic:str16 partition:i32                       (a deletion)
//! ```
//!
//! Group ids get a 32-bit length: flexible requests can carry ids longer than 64 KiB, and a
//! commit must not fail on the id alone. Topic names are at most 249 bytes.
//!
//! Replay stops at the first frame that is short or fails its CRC (a write torn by a crash);
//! what follows it is dropped with a warning. After replay the file is rewritten with only
//! the live commits (through a temporary file and a rename, so a crash leaves the old or the
//! new file), and it is rewritten again whenever dead records outnumber live ones. A failed
//! append is cut off again so that later appends stay readable.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::offsets::CommittedOffset;
use crate::BrokerError;

const FILE_NAME: &str = "group-offsets.log";
const MAGIC: &[u8; 8] = b"KBGOFF\x00\x01";
const KIND_COMMIT: u8 = 1;
const KIND_DELETE: u8 = 2;
/// Largest payload replay accepts: anything bigger is a corrupt length.
const MAX_PAYLOAD: usize = 16 << 20;

/// One change to the committed offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OffsetRecord {
    Commit {
        group: String,
        topic: String,
        partition: i32,
        offset: CommittedOffset,
    },
    Delete {
        group: String,
        topic: String,
        partition: i32,
    },
}

/// Where the coordinator writes offset changes before applying them.
pub(crate) trait OffsetSink {
    /// Persists `records`, all or none.
    fn append(&mut self, records: &[OffsetRecord]) -> io::Result<()>;
}

/// A broker without a data directory: offsets live in memory only.
#[derive(Debug, Default)]
pub(crate) struct NoPersistence;

impl OffsetSink for NoPersistence {
    fn append(&mut self, _records: &[OffsetRecord]) -> io::Result<()> {
        Ok(())
    }
}

/// The offsets file of a data directory, open for appending.
#[derive(Debug)]
pub(crate) struct OffsetsLog {
    path: PathBuf,
    file: File,
    /// Bytes of valid frames in the file (where a failed append is cut back to).
    len: u64,
    /// Records written since the file was last compacted (live ones included).
    records: usize,
}

impl OffsetsLog {
    /// Opens (or creates) the offsets file in `dir`, replays it and compacts it. Returns the
    /// log and the live commits.
    pub fn open(dir: &Path) -> Result<(Self, Vec<OffsetRecord>), BrokerError> {
        let path = dir.join(FILE_NAME);
        let io_err = |source| BrokerError::DataDir {
            path: path.clone(),
            source,
        };
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(e)),
        };
        let live = if data.is_empty() {
            Vec::new()
        } else {
            if !data.starts_with(MAGIC) {
                return Err(BrokerError::BadMetadata {
                    path,
                    reason: "not a group offsets file (bad header)".into(),
                });
            }
            let (live, used) = replay(&data[MAGIC.len()..]);
            let dropped = data.len() - MAGIC.len() - used;
            if dropped > 0 {
                tracing::warn!(path = %path.display(), dropped, "dropping a torn or corrupt tail of the offsets file");
            }
            live
        };
        write_compacted(&path, &live).map_err(io_err)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        tracing::debug!(path = %path.display(), offsets = live.len(), "group offsets loaded");
        let log = Self {
            path,
            file,
            len,
            records: live.len(),
        };
        Ok((log, live))
    }

    /// Whether dead records outnumber live ones enough to rewrite the file.
    pub fn wants_compaction(&self, live: usize) -> bool {
        self.records > live.saturating_mul(2).saturating_add(1000)
    }

    /// Rewrites the file with only `live` (the current commits).
    pub fn rewrite(&mut self, live: &[OffsetRecord]) -> io::Result<()> {
        write_compacted(&self.path, live)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.len = self.file.metadata()?.len();
        self.records = live.len();
        Ok(())
    }

    /// Flushes the file to stable storage.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

impl OffsetSink for OffsetsLog {
    fn append(&mut self, records: &[OffsetRecord]) -> io::Result<()> {
        let mut buf = Vec::new();
        for r in records {
            frame(r, &mut buf)?;
        }
        if let Err(e) = self.file.write_all(&buf) {
            // Cut a partial write off, or replay would stop there and lose what follows.
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
        self.len += buf.len() as u64;
        self.records += records.len();
        Ok(())
    }
}

/// Writes `live` as a new file through a temporary file and a rename.
fn write_compacted(path: &Path, live: &[OffsetRecord]) -> io::Result<()> {
    let mut buf = MAGIC.to_vec();
    for r in live {
        frame(r, &mut buf)?;
    }
    let tmp = path.with_extension("log.tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(&buf)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        // The rename is durable only once the directory is.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Appends one framed record to `out`.
fn frame(r: &OffsetRecord, out: &mut Vec<u8>) -> io::Result<()> {
    let mut p = Vec::with_capacity(64);
    match r {
        OffsetRecord::Commit {
            group,
            topic,
            partition,
            offset,
        } => {
            p.push(KIND_COMMIT);
            put_str32(&mut p, group)?;
            put_str16(&mut p, topic)?;
            p.extend_from_slice(&partition.to_be_bytes());
            p.extend_from_slice(&offset.offset.to_be_bytes());
            p.extend_from_slice(&offset.leader_epoch.to_be_bytes());
            p.extend_from_slice(&offset.commit_timestamp.to_be_bytes());
            p.extend_from_slice(&offset.expire_timestamp.unwrap_or(-1).to_be_bytes());
            put_str32(&mut p, &offset.metadata)?;
        }
        OffsetRecord::Delete {
            group,
            topic,
            partition,
        } => {
            p.push(KIND_DELETE);
            put_str32(&mut p, group)?;
            put_str16(&mut p, topic)?;
            p.extend_from_slice(&partition.to_be_bytes());
        }
    }
    let len = u32::try_from(p.len()).map_err(|_| too_long())?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(&p).to_be_bytes());
    out.extend_from_slice(&p);
    Ok(())
}

fn too_long() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "offset record field too long")
}

fn put_str32(p: &mut Vec<u8>, s: &str) -> io::Result<()> {
    let n = u32::try_from(s.len()).map_err(|_| too_long())?;
    p.extend_from_slice(&n.to_be_bytes());
    p.extend_from_slice(s.as_bytes());
    Ok(())
}

fn put_str16(p: &mut Vec<u8>, s: &str) -> io::Result<()> {
    let n = u16::try_from(s.len()).map_err(|_| too_long())?;
    p.extend_from_slice(&n.to_be_bytes());
    p.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Replays frames until the end or the first bad one; returns the live commits (sorted by
/// group, topic, partition) and how many bytes were valid.
fn replay(mut data: &[u8]) -> (Vec<OffsetRecord>, usize) {
    let total = data.len();
    let mut state: BTreeMap<(String, String, i32), CommittedOffset> = BTreeMap::new();
    while let Some((record, rest)) = next_frame(data) {
        data = rest;
        match record {
            OffsetRecord::Commit {
                group,
                topic,
                partition,
                offset,
            } => {
                state.insert((group, topic, partition), offset);
            }
            OffsetRecord::Delete {
                group,
                topic,
                partition,
            } => {
                state.remove(&(group, topic, partition));
            }
        }
    }
    let live = state
        .into_iter()
        .map(|((group, topic, partition), offset)| OffsetRecord::Commit {
            group,
            topic,
            partition,
            offset,
        })
        .collect();
    (live, total - data.len())
}

/// One frame off the front of `data`, if it is whole and its CRC matches.
fn next_frame(data: &[u8]) -> Option<(OffsetRecord, &[u8])> {
    let mut r = Reader(data);
    let len = usize::try_from(r.u32()?).ok()?;
    let crc = r.u32()?;
    if len > MAX_PAYLOAD {
        return None;
    }
    let payload = r.take(len)?;
    if crc32c::crc32c(payload) != crc {
        return None;
    }
    let rest = r.0;
    let mut p = Reader(payload);
    let kind = p.u8()?;
    let group = p.str32()?;
    let topic = p.str16()?;
    let partition = p.i32()?;
    let record = match kind {
        KIND_COMMIT => {
            let offset = p.i64()?;
            let leader_epoch = p.i32()?;
            let commit_timestamp = p.i64()?;
            let expire = p.i64()?;
            let metadata = p.str32()?;
            OffsetRecord::Commit {
                group,
                topic,
                partition,
                offset: CommittedOffset {
                    offset,
                    leader_epoch,
                    metadata,
                    commit_timestamp,
                    expire_timestamp: (expire >= 0).then_some(expire),
                },
            }
        }
        KIND_DELETE => OffsetRecord::Delete {
            group,
            topic,
            partition,
        },
        _ => return None,
    };
    p.0.is_empty().then_some((record, rest))
}

/// A big-endian cursor that never reads past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.array()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.array()?))
    }
    fn str32(&mut self) -> Option<String> {
        let n = usize::try_from(u32::from_be_bytes(self.array()?)).ok()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn str16(&mut self) -> Option<String> {
        let n = usize::from(u16::from_be_bytes(self.array()?));
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(group: &str, topic: &str, partition: i32, offset: i64) -> OffsetRecord {
        OffsetRecord::Commit {
            group: group.into(),
            topic: topic.into(),
            partition,
            offset: CommittedOffset {
                offset,
                leader_epoch: 3,
                metadata: "meta".into(),
                commit_timestamp: 1_000,
                expire_timestamp: (offset % 2 == 0).then_some(9_000),
            },
        }
    }

    fn delete(group: &str, topic: &str, partition: i32) -> OffsetRecord {
        OffsetRecord::Delete {
            group: group.into(),
            topic: topic.into(),
            partition,
        }
    }

    #[test]
    fn replays_commits_and_deletions_and_compacts() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, live) = OffsetsLog::open(dir.path()).unwrap();
        assert!(live.is_empty());
        log.append(&[commit("g", "t", 0, 5), commit("g", "t", 1, 6)])
            .unwrap();
        log.append(&[commit("g", "t", 0, 7), delete("g", "t", 1)])
            .unwrap();
        log.append(&[commit("h", "u", 2, 8)]).unwrap();
        drop(log);
        let (log, live) = OffsetsLog::open(dir.path()).unwrap();
        assert_eq!(live, vec![commit("g", "t", 0, 7), commit("h", "u", 2, 8)]);
        assert_eq!(log.records, 2);
        // The file was rewritten with the live records only.
        let size = fs::metadata(dir.path().join(FILE_NAME)).unwrap().len();
        let mut expected = MAGIC.to_vec();
        for r in &live {
            frame(r, &mut expected).unwrap();
        }
        assert_eq!(size, expected.len() as u64);
    }

    #[test]
    fn a_torn_or_corrupt_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = OffsetsLog::open(dir.path()).unwrap();
        log.append(&[commit("g", "t", 0, 1)]).unwrap();
        drop(log);
        let path = dir.path().join(FILE_NAME);
        let mut bytes = fs::read(&path).unwrap();
        let good = bytes.len();
        let mut tail = Vec::new();
        frame(&commit("g", "t", 1, 2), &mut tail).unwrap();
        // A torn frame: only half written.
        bytes.extend_from_slice(&tail[..tail.len() / 2]);
        fs::write(&path, &bytes).unwrap();
        let (_, live) = OffsetsLog::open(dir.path()).unwrap();
        assert_eq!(live, vec![commit("g", "t", 0, 1)]);
        assert_eq!(fs::read(&path).unwrap().len(), good);
        // A frame whose payload no longer matches its CRC, and a valid one after it.
        let mut bytes = fs::read(&path).unwrap();
        let mut bad = tail.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        bytes.extend_from_slice(&bad);
        bytes.extend_from_slice(&tail);
        fs::write(&path, &bytes).unwrap();
        let (_, live) = OffsetsLog::open(dir.path()).unwrap();
        assert_eq!(live, vec![commit("g", "t", 0, 1)]);
    }

    #[test]
    fn long_group_ids_persist() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = OffsetsLog::open(dir.path()).unwrap();
        let long = "g".repeat(100_000);
        log.append(&[commit(&long, "t", 0, 1)]).unwrap();
        drop(log);
        let (_, live) = OffsetsLog::open(dir.path()).unwrap();
        assert_eq!(live, vec![commit(&long, "t", 0, 1)]);
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), b"something else").unwrap();
        assert!(matches!(
            OffsetsLog::open(dir.path()),
            Err(BrokerError::BadMetadata { .. })
        ));
    }

    #[test]
    fn compaction_threshold_and_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = OffsetsLog::open(dir.path()).unwrap();
        for i in 0..1_100 {
            log.append(&[commit("g", "t", 0, i)]).unwrap();
        }
        assert!(log.wants_compaction(1));
        log.rewrite(&[commit("g", "t", 0, 1_099)]).unwrap();
        assert!(!log.wants_compaction(1));
        log.append(&[commit("g", "t", 1, 1)]).unwrap();
        drop(log);
        let (_, live) = OffsetsLog::open(dir.path()).unwrap();
        assert_eq!(
            live,
            vec![commit("g", "t", 0, 1_099), commit("g", "t", 1, 1)]
        );
    }

    #[test]
    fn replay_never_panics_on_garbage() {
        let mut data = Vec::new();
        frame(&commit("g", "t", 0, 1), &mut data).unwrap();
        for cut in 0..data.len() {
            let (live, used) = replay(&data[..cut]);
            assert!(live.is_empty());
            assert_eq!(used, 0);
        }
        let mut x: u32 = 12345;
        for _ in 0..2_000 {
            let n = (x % 64) as usize;
            let junk: Vec<u8> = (0..n)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = replay(&junk);
        }
    }
}
