//! Building one v2 record batch, as a producer (or a broker writing markers) does.
//!
//! Records are written straight into one growing buffer behind a reserved 61-byte header,
//! so an append costs no allocation beyond the buffer's own growth. `build` fills in the
//! header, compresses the records section when asked, and computes the CRC-32C.

use bytes::{Bytes, BytesMut};

use super::record::{RecordFields, RecordHeader};
use super::{
    BatchHeader, MAGIC_V2, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID,
    NO_SEQUENCE, NO_TIMESTAMP, TimestampType, attributes,
};
use crate::codec::encode::varint_size;
use crate::compression::{self, Compression};
use crate::error::EncodeError;

/// Batch-level settings for [`RecordBatchBuilder`] (and [`LegacyBuilder`](super::LegacyBuilder),
/// which uses the fields legacy messages have).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Codec for the records section.
    pub compression: Compression,
    /// Codec level (gzip 0-9, zstd levels); `None` for the codec's default.
    pub compression_level: Option<i32>,
    /// Create time (producers) or log-append time (brokers).
    pub timestamp_type: TimestampType,
    /// Offset of the first record (0 from producers; the broker assigns offsets).
    pub base_offset: i64,
    /// Leader epoch stamped by the broker; -1 from producers.
    pub partition_leader_epoch: i32,
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence of the first record, or -1.
    pub base_sequence: i32,
    /// Whether the batch is part of a transaction.
    pub transactional: bool,
    /// Whether the batch holds control records.
    pub control: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            compression: Compression::None,
            compression_level: None,
            timestamp_type: TimestampType::CreateTime,
            base_offset: 0,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            transactional: false,
            control: false,
        }
    }
}

impl BatchOptions {
    /// The v2 attributes these options produce.
    pub fn attributes(&self) -> i16 {
        let mut a = i16::from(self.compression.id()) | self.timestamp_type.attribute_bits();
        if self.transactional {
            a |= attributes::TRANSACTIONAL;
        }
        if self.control {
            a |= attributes::CONTROL;
        }
        a
    }
}

/// Builds one v2 record batch.
#[derive(Debug)]
pub struct RecordBatchBuilder {
    options: BatchOptions,
    /// Reserved header, then the records.
    buf: BytesMut,
    count: i32,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    /// CRC-32C of the records up to `crc_upto`, kept for an uncompressed batch (whose
    /// records are what the batch CRC covers after the header) in chunks of at least
    /// [`CRC_CHUNK`] bytes as records are appended: `build` then reads at most the last
    /// chunk and the header, and most of the reading is done by the appending thread.
    records_crc: u32,
    crc_upto: usize,
}

/// Bytes of records checksummed at once while appending: large enough that the CRC runs at
/// full speed and its call costs nothing per record, small enough to leave `build` little.
const CRC_CHUNK: usize = 4096;

/// The widest record framing: length (5), attributes (1), timestamp delta (10), offset
/// delta (5), header count (5).
const MAX_RECORD_OVERHEAD: usize = 5 + 1 + 10 + 5 + 5;

impl RecordBatchBuilder {
    /// A builder for a batch with `options`.
    pub fn new(options: BatchOptions) -> Self {
        Self::with_capacity(options, 1024)
    }

    /// A builder whose buffer first holds `capacity` bytes (header included), for callers
    /// that know the batch size they aim for.
    pub fn with_capacity(options: BatchOptions, capacity: usize) -> Self {
        Self::with_buffer(
            options,
            BytesMut::with_capacity(capacity.max(BatchHeader::SIZE)),
        )
    }

    /// A builder writing into `buf` (cleared first): a producer reuses the buffers of
    /// batches already sent instead of allocating fresh ones.
    pub fn with_buffer(options: BatchOptions, mut buf: BytesMut) -> Self {
        buf.clear();
        buf.resize(BatchHeader::SIZE, 0);
        Self {
            options,
            buf,
            count: 0,
            last_offset_delta: 0,
            base_timestamp: NO_TIMESTAMP,
            max_timestamp: NO_TIMESTAMP,
            records_crc: 0,
            crc_upto: BatchHeader::SIZE,
        }
    }

    /// The options the batch is built with.
    pub fn options(&self) -> &BatchOptions {
        &self.options
    }

    /// Sets the idempotent producer's fields the batch is built with (a producer learns the
    /// base sequence only when it sends the batch; setting them before [`build`](Self::build)
    /// spares rewriting the header and computing the CRC twice).
    pub fn set_producer(&mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) {
        self.options.producer_id = producer_id;
        self.options.producer_epoch = producer_epoch;
        self.options.base_sequence = base_sequence;
    }

    /// Appends a record at the next offset (`base_offset` + records so far) and returns that
    /// offset. The first record's timestamp becomes the batch's base timestamp.
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[RecordHeader],
    ) -> Result<i64, EncodeError> {
        let delta = if self.count == 0 {
            0
        } else {
            self.last_offset_delta
                .checked_add(1)
                .ok_or(EncodeError::Records("offset delta overflows i32"))?
        };
        self.append_at(delta, timestamp, key, value, headers)?;
        Ok(self.options.base_offset.wrapping_add(i64::from(delta)))
    }

    /// Appends a record at `offset`, which must be above the last record's (gaps are allowed,
    /// as after compaction) and within `i32::MAX` of the base offset.
    pub fn append_with_offset(
        &mut self,
        offset: i64,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[RecordHeader],
    ) -> Result<(), EncodeError> {
        let delta = offset
            .checked_sub(self.options.base_offset)
            .and_then(|d| i32::try_from(d).ok())
            .filter(|&d| d >= 0)
            .ok_or(EncodeError::Records(
                "offset is not within i32 above the base offset",
            ))?;
        if self.count > 0 && delta <= self.last_offset_delta {
            return Err(EncodeError::Records("offsets must increase within a batch"));
        }
        self.append_at(delta, timestamp, key, value, headers)
    }

    fn append_at(
        &mut self,
        offset_delta: i32,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[RecordHeader],
    ) -> Result<(), EncodeError> {
        let count = self
            .count
            .checked_add(1)
            .ok_or(EncodeError::Records("too many records"))?;
        let base_timestamp = if self.count == 0 {
            timestamp
        } else {
            self.base_timestamp
        };
        let timestamp_delta = timestamp
            .checked_sub(base_timestamp)
            .ok_or(EncodeError::Records("timestamp delta overflows i64"))?;
        let fields = RecordFields {
            timestamp_delta,
            offset_delta,
            key,
            value,
            headers,
        };
        let body = fields.body_size()?;
        // The whole batch length must fit its i32 field.
        let total = self.buf.len() + varint_size(i32::try_from(body).unwrap_or(i32::MAX)) + body;
        if total - super::LOG_OVERHEAD > i32::MAX as usize {
            return Err(EncodeError::TooLong {
                message: "RecordBatch",
                field: "records",
                len: total,
            });
        }
        fields.write(&mut self.buf, body)?;
        if self.options.compression == Compression::None
            && self.buf.len() - self.crc_upto >= CRC_CHUNK
        {
            self.checksum_written();
        }
        self.count = count;
        self.last_offset_delta = offset_delta;
        self.base_timestamp = base_timestamp;
        self.max_timestamp = if count == 1 {
            timestamp
        } else {
            self.max_timestamp.max(timestamp)
        };
        Ok(())
    }

    /// Brings `records_crc` up to the end of the buffer.
    fn checksum_written(&mut self) {
        let pending = self.buf.get(self.crc_upto..).unwrap_or_default();
        self.records_crc = crc32c::crc32c_append(self.records_crc, pending);
        self.crc_upto = self.buf.len();
    }

    /// Records appended so far.
    pub fn records_count(&self) -> usize {
        self.count.unsigned_abs() as usize
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The offset the next [`append`](Self::append) gets.
    pub fn next_offset(&self) -> i64 {
        if self.count == 0 {
            self.options.base_offset
        } else {
            self.options
                .base_offset
                .wrapping_add(i64::from(self.last_offset_delta))
                .wrapping_add(1)
        }
    }

    /// Bytes of the batch with the records appended so far, uncompressed. Exact for an
    /// uncompressed batch; for a compressed one an estimate (compression usually shrinks it).
    pub fn estimated_size(&self) -> usize {
        self.buf.len()
    }

    /// Bytes of the records section before compression.
    pub fn uncompressed_records_size(&self) -> usize {
        self.buf.len() - BatchHeader::SIZE
    }

    /// An upper bound on the bytes a record with these fields adds to a batch, whatever its
    /// offset and timestamp deltas: for deciding whether it still fits.
    pub fn record_size_upper_bound(
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[RecordHeader],
    ) -> usize {
        let field = |b: Option<&[u8]>| {
            b.map_or(1, |b| {
                varint_size(b.len().min(i32::MAX as usize) as i32) + b.len()
            })
        };
        let mut n = MAX_RECORD_OVERHEAD + field(key) + field(value);
        for h in headers {
            n += field(Some(h.key.as_bytes())) + field(h.value.as_deref());
        }
        n
    }

    /// Finishes the batch: header filled in, records compressed if asked, CRC computed.
    ///
    /// An empty builder gives a valid batch with no records (as log compaction can leave),
    /// with base and max timestamps of -1.
    pub fn build(mut self) -> Result<Bytes, EncodeError> {
        if self.options.compression == Compression::None {
            self.checksum_written();
        }
        let opts = self.options;
        let mut buf = if opts.compression == Compression::None {
            self.buf
        } else {
            let records = self.buf.get(BatchHeader::SIZE..).unwrap_or_default();
            let z = compression::compress(opts.compression, records, opts.compression_level)?;
            let mut out = BytesMut::with_capacity(BatchHeader::SIZE + z.len());
            out.resize(BatchHeader::SIZE, 0);
            out.extend_from_slice(&z);
            out
        };
        let batch_length =
            i32::try_from(buf.len() - super::LOG_OVERHEAD).map_err(|_| EncodeError::TooLong {
                message: "RecordBatch",
                field: "length",
                len: buf.len(),
            })?;
        let header = BatchHeader {
            base_offset: opts.base_offset,
            batch_length,
            partition_leader_epoch: opts.partition_leader_epoch,
            magic: MAGIC_V2,
            crc: 0,
            attributes: opts.attributes(),
            last_offset_delta: self.last_offset_delta,
            base_timestamp: self.base_timestamp,
            max_timestamp: self.max_timestamp,
            producer_id: opts.producer_id,
            producer_epoch: opts.producer_epoch,
            base_sequence: opts.base_sequence,
            records_count: self.count,
        };
        let mut bytes = header.to_bytes();
        let header_crc = crc32c::crc32c(bytes.get(BatchHeader::CRC_FROM..).unwrap_or_default());
        let records = buf.get(BatchHeader::SIZE..).unwrap_or_default();
        let crc = if opts.compression == Compression::None {
            super::crc::combine(header_crc, self.records_crc, records.len())
        } else {
            crc32c::crc32c_append(header_crc, records)
        };
        if let Some(dst) = bytes.get_mut(17..21) {
            dst.copy_from_slice(&crc.to_be_bytes());
        }
        if let Some(dst) = buf.get_mut(..BatchHeader::SIZE) {
            dst.copy_from_slice(&bytes);
        }
        Ok(buf.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::RecordSetReader;

    #[test]
    fn sizes_are_exact_when_uncompressed() {
        let mut b = RecordBatchBuilder::new(BatchOptions::default());
        assert_eq!(b.estimated_size(), 61);
        let h = [RecordHeader::new("k", Some(Bytes::from_static(b"v")))];
        for i in 0..10 {
            let before = b.estimated_size();
            b.append(i * 1000, Some(b"key"), Some(&[0; 100]), &h)
                .unwrap();
            let added = b.estimated_size() - before;
            assert!(
                added
                    <= RecordBatchBuilder::record_size_upper_bound(
                        Some(b"key"),
                        Some(&[0; 100]),
                        &h
                    )
            );
        }
        let n = b.estimated_size();
        let built = b.build().unwrap();
        assert_eq!(built.len(), n);
        BatchHeader::verify_crc(&built).unwrap();
    }

    #[test]
    fn crc_kept_while_appending_matches_one_pass_at_every_size() {
        // Sizes on both sides of the chunk the builder checksums while appending, with and
        // without the idempotent fields set before building.
        for records in [0usize, 1, 39, 40, 41, 200, 1000] {
            for stamped in [false, true] {
                let mut b = RecordBatchBuilder::new(BatchOptions::default());
                for i in 0..records {
                    let value = vec![i as u8; 37 + i % 90];
                    b.append(i as i64, None, Some(&value), &[]).unwrap();
                }
                if stamped {
                    b.set_producer(77, 3, 1_000);
                }
                let built = b.build().unwrap();
                let header = BatchHeader::parse(&built).unwrap();
                assert_eq!(
                    header.crc,
                    crc32c::crc32c(&built[21..]),
                    "{records} records, stamped {stamped}"
                );
            }
        }
    }

    #[test]
    fn header_fields_are_filled_in() {
        let opts = BatchOptions {
            compression: Compression::Gzip,
            base_offset: 50,
            partition_leader_epoch: 3,
            producer_id: 7,
            producer_epoch: 2,
            base_sequence: 11,
            transactional: true,
            ..Default::default()
        };
        let mut b = RecordBatchBuilder::new(opts);
        b.append(500, None, Some(b"a"), &[]).unwrap();
        b.append(400, None, Some(b"b"), &[]).unwrap();
        b.append_with_offset(60, 900, None, Some(b"c"), &[])
            .unwrap();
        assert_eq!(b.next_offset(), 61);
        assert!(b.append_with_offset(60, 0, None, None, &[]).is_err());
        assert!(b.append_with_offset(49, 0, None, None, &[]).is_err());
        let built = b.build().unwrap();
        let h = BatchHeader::parse(&built).unwrap();
        assert_eq!(h.base_offset, 50);
        assert_eq!(h.partition_leader_epoch, 3);
        assert_eq!(h.compression().unwrap(), Compression::Gzip);
        assert!(h.is_transactional() && !h.is_control());
        assert_eq!((h.last_offset_delta, h.records_count), (10, 3));
        assert_eq!((h.base_timestamp, h.max_timestamp), (500, 900));
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (7, 2, 11)
        );
        assert_eq!(h.total_size(), Some(built.len()));
        BatchHeader::verify_crc(&built).unwrap();

        let batch = RecordSetReader::new(built).next().unwrap().unwrap();
        let offsets: Vec<_> = batch.records().map(|r| r.unwrap().offset).collect();
        assert_eq!(offsets, [50, 51, 60]);
    }

    #[test]
    fn empty_batch_is_valid() {
        for c in Compression::ALL {
            let built = RecordBatchBuilder::new(BatchOptions {
                compression: c,
                ..Default::default()
            })
            .build()
            .unwrap();
            let batch = RecordSetReader::new(built).next().unwrap().unwrap();
            assert_eq!(batch.records_count(), 0);
            assert_eq!(batch.records().count(), 0);
        }
    }

    #[test]
    fn extreme_timestamps_are_refused_not_wrapped() {
        let mut b = RecordBatchBuilder::new(BatchOptions::default());
        b.append(i64::MIN, None, None, &[]).unwrap();
        assert!(b.append(i64::MAX, None, None, &[]).is_err());
        assert_eq!(b.records_count(), 1);
    }
}
