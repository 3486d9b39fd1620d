//! Building legacy (magic 0/1) message sets, for brokers and clients that talk to peers
//! older than Kafka 0.11 (Produce v0-v2, Fetch v0-v3) and for down-conversion.
//!
//! Uncompressed, each record is its own message with its absolute offset. Compressed, the
//! records are written as an inner message set (offsets absolute in magic 0, relative in
//! magic 1, as Java writes them), compressed, and wrapped in one message whose offset is
//! the last record's and whose timestamp is the largest.

use bytes::{BufMut, Bytes, BytesMut};

use super::legacy::{MIN_SIZE_V0, MIN_SIZE_V1};
use super::{BatchOptions, LOG_OVERHEAD, MAGIC_V0, MAGIC_V1, NO_TIMESTAMP};
use super::{NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE};
use crate::compression::{Compression, compress_for_magic};
use crate::error::EncodeError;

/// Builds a magic 0 or 1 message set.
#[derive(Debug)]
pub struct LegacyBuilder {
    magic: i8,
    options: BatchOptions,
    /// The messages (the inner set, when compressing).
    buf: BytesMut,
    count: i64,
    max_timestamp: i64,
}

impl LegacyBuilder {
    /// A builder for format `magic` (0 or 1). Of `options`, compression (not zstd), level,
    /// timestamp type (magic 1) and base offset apply; the producer, leader epoch,
    /// transactional and control fields must keep their defaults, as legacy messages
    /// cannot carry them.
    pub fn new(magic: i8, options: BatchOptions) -> Result<Self, EncodeError> {
        if magic != MAGIC_V0 && magic != MAGIC_V1 {
            return Err(EncodeError::Records("legacy messages have magic 0 or 1"));
        }
        if options.compression == Compression::Zstd {
            return Err(EncodeError::Records("zstd compression needs magic 2"));
        }
        if options.producer_id != NO_PRODUCER_ID
            || options.producer_epoch != NO_PRODUCER_EPOCH
            || options.base_sequence != NO_SEQUENCE
            || options.transactional
            || options.control
            || options.partition_leader_epoch != NO_PARTITION_LEADER_EPOCH
        {
            return Err(EncodeError::Records(
                "legacy messages cannot carry producer state, leader epoch or control flags",
            ));
        }
        Ok(Self {
            magic,
            options,
            buf: BytesMut::with_capacity(1024),
            count: 0,
            max_timestamp: NO_TIMESTAMP,
        })
    }

    /// The attribute byte of every message: the timestamp type bit (magic 1) plus `codec`.
    fn attributes(&self, codec: Compression) -> i8 {
        let ts = if self.magic == MAGIC_V1 {
            self.options.timestamp_type.attribute_bits()
        } else {
            0
        };
        (ts | i16::from(codec.id())) as i8
    }

    /// Bytes one message with this key and value takes, offset and size fields included.
    pub fn message_size(magic: i8, key: Option<&[u8]>, value: Option<&[u8]>) -> usize {
        let base = if magic == MAGIC_V0 {
            MIN_SIZE_V0
        } else {
            MIN_SIZE_V1
        };
        LOG_OVERHEAD + base + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len)
    }

    /// Appends a record at the next offset and returns that offset. Magic 0 has no
    /// timestamps: `timestamp` is dropped (records read back with -1).
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<i64, EncodeError> {
        let absolute = self.options.base_offset.wrapping_add(self.count);
        // Inner messages of a compressed magic 1 set carry relative offsets.
        let written = if self.options.compression != Compression::None && self.magic == MAGIC_V1 {
            self.count
        } else {
            absolute
        };
        let attributes = self.attributes(Compression::None);
        write_message(
            &mut self.buf,
            self.magic,
            written,
            attributes,
            timestamp,
            key,
            value,
        )?;
        self.count += 1;
        if self.magic == MAGIC_V1 {
            self.max_timestamp = if self.count == 1 {
                timestamp
            } else {
                self.max_timestamp.max(timestamp)
            };
        }
        Ok(absolute)
    }

    /// Records appended so far.
    pub fn records_count(&self) -> usize {
        usize::try_from(self.count).unwrap_or(usize::MAX)
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes written so far; exact for an uncompressed set, before compression otherwise.
    pub fn estimated_size(&self) -> usize {
        self.buf.len()
    }

    /// Finishes the message set (empty if nothing was appended).
    pub fn build(self) -> Result<Bytes, EncodeError> {
        let codec = self.options.compression;
        if codec == Compression::None || self.count == 0 {
            return Ok(self.buf.freeze());
        }
        let z = compress_for_magic(codec, &self.buf, self.options.compression_level, self.magic)?;
        let last = self.options.base_offset.wrapping_add(self.count - 1);
        let mut out = BytesMut::with_capacity(Self::message_size(self.magic, None, Some(&z)));
        let attributes = self.attributes(codec);
        write_message(
            &mut out,
            self.magic,
            last,
            attributes,
            self.max_timestamp,
            None,
            Some(&z),
        )?;
        Ok(out.freeze())
    }
}

/// Writes one message (offset, size, crc, magic, attributes, [timestamp], key, value).
fn write_message(
    buf: &mut BytesMut,
    magic: i8,
    offset: i64,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<(), EncodeError> {
    let total = LegacyBuilder::message_size(magic, key, value);
    let size = i32::try_from(total - LOG_OVERHEAD).map_err(|_| EncodeError::TooLong {
        message: "Message",
        field: "value",
        len: total,
    })?;
    buf.reserve(total);
    buf.put_i64(offset);
    buf.put_i32(size);
    let crc_at = buf.len();
    buf.put_u32(0);
    buf.put_i8(magic);
    buf.put_i8(attributes);
    if magic == MAGIC_V1 {
        buf.put_i64(timestamp);
    }
    for field in [key, value] {
        match field {
            None => buf.put_i32(-1),
            Some(b) => {
                // Fits: the whole message size fit an i32 above.
                buf.put_i32(b.len() as i32);
                buf.put_slice(b);
            }
        }
    }
    let crc = crc32fast::hash(buf.get(crc_at + 4..).unwrap_or_default());
    if let Some(dst) = buf.get_mut(crc_at..crc_at + 4) {
        dst.copy_from_slice(&crc.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{RecordSetReader, TimestampType};

    #[test]
    fn option_checks() {
        assert!(LegacyBuilder::new(2, BatchOptions::default()).is_err());
        let zstd = BatchOptions {
            compression: Compression::Zstd,
            ..Default::default()
        };
        assert!(LegacyBuilder::new(1, zstd).is_err());
        let pid = BatchOptions {
            producer_id: 1,
            ..Default::default()
        };
        assert!(LegacyBuilder::new(1, pid).is_err());
    }

    #[test]
    fn compressed_v1_uses_relative_inner_offsets() {
        let opts = BatchOptions {
            compression: Compression::Gzip,
            base_offset: 1000,
            ..Default::default()
        };
        let mut b = LegacyBuilder::new(1, opts).unwrap();
        for i in 0..3 {
            assert_eq!(b.append(10 + i, Some(b"k"), Some(b"v"),).unwrap(), 1000 + i);
        }
        let set = b.build().unwrap();
        // The wrapper carries the last offset and the max timestamp.
        assert_eq!(&set[..8], &1002i64.to_be_bytes());
        let batch = RecordSetReader::new(set).next().unwrap().unwrap();
        assert_eq!(
            (
                batch.base_offset(),
                batch.last_offset(),
                batch.max_timestamp()
            ),
            (1000, 1002, 12)
        );
        let offsets: Vec<_> = batch.records().map(|r| r.unwrap().offset).collect();
        assert_eq!(offsets, [1000, 1001, 1002]);
    }

    #[test]
    fn uncompressed_sets_are_one_message_per_record() {
        let opts = BatchOptions {
            base_offset: 5,
            ..Default::default()
        };
        let mut b = LegacyBuilder::new(0, opts).unwrap();
        b.append(123, None, Some(b"a")).unwrap();
        b.append(456, Some(b"b"), None).unwrap();
        assert_eq!(b.estimated_size(), 2 * LOG_OVERHEAD + 2 * MIN_SIZE_V0 + 2);
        let batches: Vec<_> = RecordSetReader::new(b.build().unwrap())
            .map(Result::unwrap)
            .collect();
        assert_eq!(batches.len(), 2);
        let r = batches[1].records().next().unwrap().unwrap();
        assert_eq!(
            (r.offset, r.timestamp, r.key.as_deref()),
            (6, -1, Some(&b"b"[..]))
        );
        assert_eq!(batches[1].timestamp_type(), TimestampType::NoTimestamp);
    }
}
