//! The byte format of a partition's producer-state snapshot.
//!
//! Kafka writes `<offset>.snapshot` files holding only the *last* batch of each producer,
//! so after a restart it deduplicates a retry of that batch alone. This broker keeps all
//! five batches per producer, so its snapshot has its own format, in a file Kafka does not
//! look at (see `partition.rs`). Big-endian, like Kafka's:
//!
//! ```text
//! version        i16   1
//! crc            u32   CRC-32C of everything after this field
//! offset         i64   the log end offset the state is as of
//! producers      i32   count, then per producer:
//!   producer_id    i64
//!   epoch          i16
//!   last_timestamp i64
//!   batches        i8  count (at most 5), then per batch:
//!     first_seq i32, last_seq i32, first_offset i64, last_offset i64, timestamp i64
//! ```
//!
//! Decoding checks the version, the checksum, every count against the bytes left, and
//! rejects trailing bytes: a damaged file is a typed error, never a panic or a huge
//! allocation.

use std::collections::VecDeque;

use bytes::{Buf, BufMut};

use super::sequence::{BatchMetadata, NUM_BATCHES_TO_RETAIN, ProducerEntry, ProducerStateManager};

const VERSION: i16 = 1;
/// Version and checksum.
const HEADER: usize = 2 + 4;
const PRODUCER_BYTES: usize = 8 + 2 + 8 + 1;
const BATCH_BYTES: usize = 4 + 4 + 8 + 8 + 8;

/// Why snapshot bytes were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SnapshotError {
    /// Fewer bytes than the fields need.
    #[error("the snapshot is truncated")]
    Truncated,
    /// A version this broker does not write.
    #[error("unknown snapshot version {0}")]
    UnknownVersion(i16),
    /// The checksum does not match.
    #[error("snapshot checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum { stored: u32, computed: u32 },
    /// A field holds an impossible value.
    #[error("invalid snapshot: {0}")]
    Invalid(&'static str),
}

/// A partition's producer state as of a log offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// The log end offset when it was taken: batches from here on are not in it.
    pub offset: i64,
    pub state: ProducerStateManager,
}

/// Encodes `state` as of log offset `offset`.
pub(crate) fn encode(state: &ProducerStateManager, offset: i64) -> Vec<u8> {
    let mut body = Vec::with_capacity(12 + state.len() * (PRODUCER_BYTES + 2 * BATCH_BYTES));
    body.put_i64(offset);
    // Sorted, so equal states give equal files.
    let mut producers: Vec<_> = state.entries().collect();
    producers.sort_by_key(|(id, _)| *id);
    // A partition never holds 2^31 producers; saturate rather than wrap, then stop there.
    let count = i32::try_from(producers.len()).unwrap_or(i32::MAX);
    body.put_i32(count);
    for (id, entry) in producers.into_iter().take(count as usize) {
        body.put_i64(id);
        body.put_i16(entry.epoch);
        body.put_i64(entry.last_timestamp);
        let batches = entry.batches.len().min(NUM_BATCHES_TO_RETAIN);
        body.put_i8(batches as i8);
        for b in entry.batches.iter().take(batches) {
            body.put_i32(b.first_seq);
            body.put_i32(b.last_seq);
            body.put_i64(b.first_offset);
            body.put_i64(b.last_offset);
            body.put_i64(b.timestamp);
        }
    }
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.put_i16(VERSION);
    out.put_u32(crc32c::crc32c(&body));
    out.extend_from_slice(&body);
    out
}

/// Decodes a snapshot written by [`encode`].
pub(crate) fn decode(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
    let mut buf = bytes;
    if buf.len() < HEADER {
        return Err(SnapshotError::Truncated);
    }
    let version = buf.get_i16();
    if version != VERSION {
        return Err(SnapshotError::UnknownVersion(version));
    }
    let stored = buf.get_u32();
    let computed = crc32c::crc32c(buf);
    if stored != computed {
        return Err(SnapshotError::Checksum { stored, computed });
    }
    need(buf, 12)?;
    let offset = buf.get_i64();
    if offset < 0 {
        return Err(SnapshotError::Invalid("negative offset"));
    }
    let count = usize::try_from(buf.get_i32())
        .map_err(|_| SnapshotError::Invalid("negative producer count"))?;
    if count > buf.len() / PRODUCER_BYTES {
        return Err(SnapshotError::Truncated);
    }
    let mut state = ProducerStateManager::default();
    for _ in 0..count {
        need(buf, PRODUCER_BYTES)?;
        let producer_id = buf.get_i64();
        let epoch = buf.get_i16();
        let last_timestamp = buf.get_i64();
        let batches = usize::try_from(buf.get_i8())
            .ok()
            .filter(|&n| n <= NUM_BATCHES_TO_RETAIN)
            .ok_or(SnapshotError::Invalid("batch count out of range"))?;
        if producer_id < 0 {
            return Err(SnapshotError::Invalid("negative producer id"));
        }
        need(buf, batches * BATCH_BYTES)?;
        let mut list = VecDeque::with_capacity(batches);
        for _ in 0..batches {
            list.push_back(BatchMetadata {
                first_seq: buf.get_i32(),
                last_seq: buf.get_i32(),
                first_offset: buf.get_i64(),
                last_offset: buf.get_i64(),
                timestamp: buf.get_i64(),
            });
        }
        state.insert(
            producer_id,
            ProducerEntry {
                epoch,
                batches: list,
                last_timestamp,
            },
        );
    }
    if !buf.is_empty() {
        return Err(SnapshotError::Invalid("trailing bytes"));
    }
    Ok(Snapshot { offset, state })
}

fn need(buf: &[u8], n: usize) -> Result<(), SnapshotError> {
    if buf.len() < n {
        Err(SnapshotError::Truncated)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::producer::sequence::ProducerBatch;

    fn sample() -> ProducerStateManager {
        let mut s = ProducerStateManager::default();
        for i in 0..7 {
            s.record(
                &ProducerBatch::new(1, 0, i * 2, 1),
                i64::from(i) * 2,
                100 + i64::from(i),
            );
        }
        s.record(&ProducerBatch::new(2, 3, i32::MAX, 1), 20, 7);
        s
    }

    #[test]
    fn round_trips() {
        let s = sample();
        let bytes = encode(&s, 22);
        let snap = decode(&bytes).unwrap();
        assert_eq!(snap.offset, 22);
        assert_eq!(snap.state, s);
        assert_eq!(snap.state.entry(1).unwrap().batches.len(), 5);
        assert_eq!(encode(&snap.state, 22), bytes, "deterministic");
        let empty = decode(&encode(&ProducerStateManager::default(), 0)).unwrap();
        assert_eq!(empty.state.len(), 0);
    }

    #[test]
    fn damaged_bytes_are_errors() {
        let bytes = encode(&sample(), 22);
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "truncated to {n}");
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(decode(&bad).is_err(), "byte {i} flipped");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode(&long).is_err());
        // A huge count with a valid checksum is refused before allocating.
        let mut body = Vec::new();
        body.put_i64(0);
        body.put_i32(i32::MAX);
        let mut forged = Vec::new();
        forged.put_i16(VERSION);
        forged.put_u32(crc32c::crc32c(&body));
        forged.extend_from_slice(&body);
        assert_eq!(decode(&forged), Err(SnapshotError::Truncated));
    }
}
