//! The 61-byte header of a v2 record batch, readable and patchable without touching the
//! records.
//!
//! A broker assigns offsets and stamps its leader epoch into every batch it appends; both
//! fields sit before the checksummed region (the CRC-32C covers attributes to the end), so
//! they can be rewritten in place without recomputing the checksum or decoding records.

use bytes::BufMut;

use super::{LOG_OVERHEAD, MAGIC_V2, TimestampType};
use crate::compression::Compression;
use crate::error::{DecodeError, DecodeErrorKind};

/// Bits of the batch attributes (an i16; legacy messages use the low byte the same way
/// for compression and timestamp type).
pub mod attributes {
    /// Bits 0-2: the compression codec id.
    pub const COMPRESSION: i16 = 0x07;
    /// Bit 3: the timestamp type (clear: create time, set: log-append time).
    pub const TIMESTAMP_TYPE: i16 = 0x08;
    /// Bit 4: the batch belongs to a transaction.
    pub const TRANSACTIONAL: i16 = 0x10;
    /// Bit 5: the batch holds control records (transaction markers).
    pub const CONTROL: i16 = 0x20;
    /// Bit 6: the base timestamp is the delete horizon set by log compaction.
    pub const DELETE_HORIZON: i16 = 0x40;
}

// Byte positions of the header fields.
const LEADER_EPOCH_AT: usize = 12;
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
/// Where the checksummed region starts (the attributes).
const CRC_FROM: usize = 21;

/// The fixed header of a v2 record batch.
///
/// For legacy (v0/v1) entries decoded by [`RecordSetReader`](super::RecordSetReader) the
/// same fields are filled in the way Java's legacy batches answer them: no partition leader
/// epoch, no producer state, the message CRC-32 in `crc`, the message size in
/// `batch_length`, and offsets and timestamps taken from the (inner) messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after this field (the batch size minus 12).
    pub batch_length: i32,
    /// Epoch of the partition leader that appended the batch (-1 from producers).
    pub partition_leader_epoch: i32,
    /// Format: 2 for record batches.
    pub magic: i8,
    /// CRC-32C of the bytes from the attributes to the end of the batch.
    pub crc: u32,
    /// Compression, timestamp type, transactional, control and delete-horizon bits.
    pub attributes: i16,
    /// Offset of the last record minus `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp the records' deltas are relative to (the first record's timestamp).
    pub base_timestamp: i64,
    /// Largest record timestamp, or the log-append time.
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the first record, or -1.
    pub base_sequence: i32,
    /// Number of records.
    pub records_count: i32,
}

impl BatchHeader {
    /// Bytes in the header.
    pub const SIZE: usize = 61;

    /// Parses the header at the start of `batch` (which may be longer than the header).
    /// Fails on fewer than 61 bytes or a magic other than 2; nothing else is checked.
    pub fn parse(batch: &[u8]) -> Result<Self, DecodeError> {
        let Some(h) = batch.first_chunk::<{ Self::SIZE }>() else {
            return Err(DecodeError::at(batch, DecodeErrorKind::UnexpectedEof)
                .in_field("RecordBatch", "header"));
        };
        let mut r = Fields(h);
        let header = BatchHeader {
            base_offset: i64::from_be_bytes(r.take()),
            batch_length: i32::from_be_bytes(r.take()),
            partition_leader_epoch: i32::from_be_bytes(r.take()),
            magic: i8::from_be_bytes(r.take()),
            crc: u32::from_be_bytes(r.take()),
            attributes: i16::from_be_bytes(r.take()),
            last_offset_delta: i32::from_be_bytes(r.take()),
            base_timestamp: i64::from_be_bytes(r.take()),
            max_timestamp: i64::from_be_bytes(r.take()),
            producer_id: i64::from_be_bytes(r.take()),
            producer_epoch: i16::from_be_bytes(r.take()),
            base_sequence: i32::from_be_bytes(r.take()),
            records_count: i32::from_be_bytes(r.take()),
        };
        if header.magic != MAGIC_V2 {
            return Err(DecodeError::at(
                &batch[MAGIC_AT..],
                DecodeErrorKind::UnknownMagic(header.magic),
            )
            .in_field("RecordBatch", "magic"));
        }
        Ok(header)
    }

    /// The header as it goes on the wire.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        let mut w = &mut out[..];
        w.put_i64(self.base_offset);
        w.put_i32(self.batch_length);
        w.put_i32(self.partition_leader_epoch);
        w.put_i8(self.magic);
        w.put_u32(self.crc);
        w.put_i16(self.attributes);
        w.put_i32(self.last_offset_delta);
        w.put_i64(self.base_timestamp);
        w.put_i64(self.max_timestamp);
        w.put_i64(self.producer_id);
        w.put_i16(self.producer_epoch);
        w.put_i32(self.base_sequence);
        w.put_i32(self.records_count);
        out
    }

    /// The compression codec in the attributes.
    pub fn compression(&self) -> Result<Compression, DecodeError> {
        Compression::from_attributes(self.attributes)
    }

    /// The timestamp type in the attributes.
    pub const fn timestamp_type(&self) -> TimestampType {
        TimestampType::from_attributes(self.magic, self.attributes)
    }

    /// Whether the batch belongs to a transaction.
    pub const fn is_transactional(&self) -> bool {
        self.attributes & attributes::TRANSACTIONAL != 0
    }

    /// Whether the batch holds control records.
    pub const fn is_control(&self) -> bool {
        self.attributes & attributes::CONTROL != 0
    }

    /// Whether the base timestamp is a compaction delete horizon.
    pub const fn has_delete_horizon(&self) -> bool {
        self.attributes & attributes::DELETE_HORIZON != 0
    }

    /// Offset of the last record (wrapping on hostile values rather than panicking).
    pub const fn last_offset(&self) -> i64 {
        self.base_offset.wrapping_add(self.last_offset_delta as i64)
    }

    /// The offset after the last record.
    pub const fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// Total bytes of the batch including the offset and length fields, or `None` if the
    /// length is negative.
    pub fn total_size(&self) -> Option<usize> {
        usize::try_from(self.batch_length)
            .ok()
            .map(|n| n + LOG_OVERHEAD)
    }

    /// Computes the CRC-32C a v2 `batch` should carry (over the attributes to the end).
    pub fn compute_crc(batch: &[u8]) -> Result<u32, DecodeError> {
        let region = batch.get(CRC_FROM..).ok_or_else(|| {
            DecodeError::at(batch, DecodeErrorKind::UnexpectedEof).in_field("RecordBatch", "crc")
        })?;
        Ok(crc32c::crc32c(region))
    }

    /// Checks the CRC-32C stored in a v2 `batch` (exactly one batch, as framed by its
    /// length) against its contents.
    pub fn verify_crc(batch: &[u8]) -> Result<(), DecodeError> {
        let header = Self::parse(batch)?;
        let computed = Self::compute_crc(batch)?;
        if computed == header.crc {
            Ok(())
        } else {
            Err(DecodeError::at(
                &batch[CRC_AT..],
                DecodeErrorKind::CrcMismatch {
                    stored: header.crc,
                    computed,
                },
            )
            .in_field("RecordBatch", "crc")
            .with_base(batch))
        }
    }

    /// Recomputes and stores the CRC of a v2 `batch` after its checksummed fields changed.
    pub fn update_crc(batch: &mut [u8]) -> Result<(), DecodeError> {
        let crc = Self::compute_crc(batch)?;
        Self::patch(batch, CRC_AT, &crc.to_be_bytes())
    }

    /// Rewrites the base offset of a v2 `batch` in place (not covered by the CRC).
    pub fn set_base_offset(batch: &mut [u8], base_offset: i64) -> Result<(), DecodeError> {
        Self::patch(batch, 0, &base_offset.to_be_bytes())
    }

    /// Rewrites the partition leader epoch of a v2 `batch` in place (not covered by the CRC).
    pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) -> Result<(), DecodeError> {
        Self::patch(batch, LEADER_EPOCH_AT, &epoch.to_be_bytes())
    }

    /// Marks a v2 `batch` as log-append time with `timestamp` as its max timestamp, as a
    /// broker configured with `message.timestamp.type=LogAppendTime` does, and updates the
    /// CRC (both fields are checksummed).
    pub fn set_log_append_time(batch: &mut [u8], timestamp: i64) -> Result<(), DecodeError> {
        let header = Self::parse(batch)?;
        let attrs = header.attributes | attributes::TIMESTAMP_TYPE;
        Self::patch(batch, CRC_FROM, &attrs.to_be_bytes())?;
        Self::patch(batch, 35, &timestamp.to_be_bytes())?;
        Self::update_crc(batch)
    }

    /// Writes `bytes` at `at` in a batch that must hold a whole header with magic 2.
    fn patch(batch: &mut [u8], at: usize, bytes: &[u8]) -> Result<(), DecodeError> {
        if batch.len() < Self::SIZE {
            return Err(DecodeError::at(batch, DecodeErrorKind::UnexpectedEof)
                .in_field("RecordBatch", "header"));
        }
        if batch[MAGIC_AT] as i8 != MAGIC_V2 {
            return Err(
                DecodeError::new(DecodeErrorKind::UnknownMagic(batch[MAGIC_AT] as i8))
                    .in_field("RecordBatch", "magic"),
            );
        }
        if let Some(dst) = batch.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        Ok(())
    }

    /// The byte position of the magic byte, the same in every format.
    pub(crate) const MAGIC_AT: usize = MAGIC_AT;
    /// Where the CRC-32C region starts.
    pub(crate) const CRC_FROM: usize = CRC_FROM;
}

/// Reads fixed-size fields off a header known to be long enough.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        match self.0.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.0 = rest;
                *head
            }
            // Unreachable: `parse` checked the length, and the field sizes add up to it.
            None => [0; N],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BatchHeader {
        BatchHeader {
            base_offset: 0x0102_0304_0506_0708,
            batch_length: 49,
            partition_leader_epoch: 7,
            magic: 2,
            crc: 0,
            attributes: attributes::TRANSACTIONAL | 3,
            last_offset_delta: 4,
            base_timestamp: 1_700_000_000_000,
            max_timestamp: 1_700_000_000_005,
            producer_id: 99,
            producer_epoch: 3,
            base_sequence: 12,
            records_count: 5,
        }
    }

    #[test]
    fn round_trips_and_reads_attributes() {
        let h = sample();
        let bytes = h.to_bytes();
        assert_eq!(BatchHeader::parse(&bytes).unwrap(), h);
        assert_eq!(h.compression().unwrap(), Compression::Lz4);
        assert!(h.is_transactional());
        assert!(!h.is_control());
        assert!(!h.has_delete_horizon());
        assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
        assert_eq!(h.last_offset(), h.base_offset + 4);
        assert_eq!(h.total_size(), Some(61));
    }

    #[test]
    fn short_or_wrong_magic_is_refused() {
        let bytes = sample().to_bytes();
        for n in 0..BatchHeader::SIZE {
            let e = BatchHeader::parse(&bytes[..n]).unwrap_err();
            assert_eq!(e.kind, DecodeErrorKind::UnexpectedEof);
        }
        let mut bad = bytes;
        bad[16] = 1;
        let e = BatchHeader::parse(&bad).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::UnknownMagic(1));
        assert!(BatchHeader::set_base_offset(&mut bad, 1).is_err());
        assert!(BatchHeader::set_base_offset(&mut [0u8; 10], 1).is_err());
    }

    #[test]
    fn patches_keep_or_update_the_crc() {
        let mut b = sample().to_bytes().to_vec();
        BatchHeader::update_crc(&mut b).unwrap();
        BatchHeader::verify_crc(&b).unwrap();
        BatchHeader::set_base_offset(&mut b, 1000).unwrap();
        BatchHeader::set_partition_leader_epoch(&mut b, 42).unwrap();
        BatchHeader::verify_crc(&b).unwrap();
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!((h.base_offset, h.partition_leader_epoch), (1000, 42));

        BatchHeader::set_log_append_time(&mut b, 1234).unwrap();
        BatchHeader::verify_crc(&b).unwrap();
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(h.max_timestamp, 1234);

        b[40] ^= 1;
        let e = BatchHeader::verify_crc(&b).unwrap_err();
        assert!(matches!(e.kind, DecodeErrorKind::CrcMismatch { .. }));
        assert_eq!(e.offset, Some(17));
    }
}
