//! Record batches (v2) and legacy message sets (v0/v1): the payload of Produce requests and
//! Fetch responses.
//!
//! A record set is a run of consecutive entries, each starting with an i64 offset and an
//! i32 length, with the format's magic byte at byte 16 of every entry:
//!
//! - magic 2: a [record batch](BatchHeader) of 61 header bytes followed by varint-framed
//!   records, CRC-32C protected, optionally compressed as a whole;
//! - magic 0/1: a legacy message, CRC-32 protected; a compressed "wrapper" message holds a
//!   whole inner message set in its value.
//!
//! Reading: [`RecordSetReader`] walks a record set of any mix of formats, stops cleanly at a
//! partial entry at the end (a fetch response may be cut mid-batch), checks checksums when
//! asked, decompresses with a size limit, and yields [`RecordBatch`]es whose records are
//! zero-copy views into the received (or decompressed) buffer, in two forms:
//!
//! - [`RecordBatch::records_ref`] yields [`RecordRef`]s, borrowed from the batch (plain
//!   slices: no reference counting, no allocation): for loops that read, copy out or
//!   aggregate records while the batch is alive, the usual consumer loop;
//! - [`RecordBatch::records`] yields [`Record`]s, owned ([`Bytes`](bytes::Bytes) views that
//!   keep the buffer alive): for records that outlive the batch or go to application code.
//!
//! A broker that must not decode records can split entries with
//! [`RecordSetReader::next_raw`] and read or patch the header with [`BatchHeader`].
//!
//! Writing: [`RecordBatchBuilder`] builds one v2 batch, [`LegacyBuilder`] a v0/v1 message
//! set; [`control`] builds and parses transaction markers.
//!
//! ```
//! use bytes::Bytes;
//! use kafka_protocol::compression::Compression;
//! use kafka_protocol::records::{BatchOptions, RecordBatchBuilder, RecordHeader, RecordSetReader};
//!
//! let mut builder = RecordBatchBuilder::new(BatchOptions {
//!     compression: Compression::Lz4,
//!     base_offset: 100,
//!     ..Default::default()
//! });
//! builder.append(1_700_000_000_000, Some(b"key"), Some(b"value"), &[]).unwrap();
//! let headers = [RecordHeader::new("trace", Some(Bytes::from_static(b"abc")))];
//! builder.append(1_700_000_000_001, None, Some(b"second"), &headers).unwrap();
//! let set: Bytes = builder.build().unwrap();
//!
//! let mut offsets = Vec::new();
//! let mut value_bytes = 0;
//! let mut kept = Vec::new();
//! for batch in RecordSetReader::new(set) {
//!     let batch = batch.unwrap();
//!     assert_eq!(batch.compression(), Compression::Lz4);
//!     // Borrowed: read each record in place.
//!     for record in batch.records_ref() {
//!         let record = record.unwrap();
//!         offsets.push(record.offset);
//!         value_bytes += record.value.map_or(0, <[u8]>::len);
//!     }
//!     // Owned: records that outlive the batch.
//!     kept.extend(batch.records().map(Result::unwrap));
//! }
//! assert_eq!(offsets, [100, 101]);
//! assert_eq!(value_bytes, 11);
//! assert_eq!(kept[1].headers[0].key.as_str(), "trace");
//! ```

mod batch;
mod builder;
pub mod control;
mod crc;
mod header;
mod legacy;
mod legacy_builder;
mod reader;
mod record;
#[cfg(test)]
mod tests;

pub use batch::{RecordBatch, RecordRefs, Records};
pub use builder::{BatchOptions, RecordBatchBuilder};
pub use header::{BatchHeader, attributes};
pub use legacy_builder::LegacyBuilder;
pub use reader::{RawBatch, ReadOptions, RecordSetReader};
pub use record::{HeaderRefs, Record, RecordHeader, RecordRef};

/// Magic byte of the original message format (Kafka 0.8-0.9).
pub const MAGIC_V0: i8 = 0;
/// Magic byte of the message format with timestamps (Kafka 0.10).
pub const MAGIC_V1: i8 = 1;
/// Magic byte of record batches (Kafka 0.11 and later).
pub const MAGIC_V2: i8 = 2;

/// The timestamp value meaning "none" (magic 0 messages, empty batches).
pub const NO_TIMESTAMP: i64 = -1;
/// The producer id meaning "not idempotent".
pub const NO_PRODUCER_ID: i64 = -1;
/// The producer epoch meaning "not idempotent".
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// The base sequence meaning "not idempotent".
pub const NO_SEQUENCE: i32 = -1;
/// The partition leader epoch producers write (the broker fills it in).
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;

/// Bytes in front of every entry of a record set: the i64 offset and i32 length.
pub const LOG_OVERHEAD: usize = 12;

/// What a record's timestamp means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Magic 0 messages carry no timestamp.
    NoTimestamp,
    /// Set by the producer (attribute bit 3 clear).
    #[default]
    CreateTime,
    /// Set by the broker when appending to the log (attribute bit 3 set); every record of
    /// the batch then has the batch's max timestamp.
    LogAppendTime,
}

impl TimestampType {
    /// The type stored in `attributes` for format `magic`.
    pub const fn from_attributes(magic: i8, attributes: i16) -> Self {
        if magic == MAGIC_V0 {
            TimestampType::NoTimestamp
        } else if attributes & attributes::TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// The attribute bit for this type (0 unless log-append time).
    pub const fn attribute_bits(self) -> i16 {
        match self {
            TimestampType::LogAppendTime => attributes::TIMESTAMP_TYPE,
            _ => 0,
        }
    }
}
