//! Walking a record set: the consecutive batches (and legacy messages) of a Produce request
//! partition or a Fetch response partition.
//!
//! Entries are framed by their i64 offset and i32 length; the magic byte at position 16
//! says which format follows. Brokers cut fetch responses at a byte limit, so the last entry
//! may be partial: the reader then stops without an error and [`RecordSetReader::is_truncated`]
//! says so. Anything else that does not parse is a typed error, after which the reader
//! yields nothing more (there is no way to find the next entry in corrupt data).

use bytes::Bytes;

use super::legacy::{MIN_SIZE_V0, MIN_SIZE_V1, check_crc, decode_entry};
use super::{BatchHeader, LOG_OVERHEAD, MAGIC_V0, MAGIC_V1, MAGIC_V2, RecordBatch};
use crate::compression::{Compression, decompress};
use crate::error::{DecodeError, DecodeErrorKind};

/// How a record set is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Check each batch's CRC-32C (v2) or each message's CRC-32 (v0/v1) before decoding.
    pub verify_crc: bool,
    /// The most bytes one batch may decompress to; more is refused as a decompression
    /// bomb.
    pub max_decompressed_size: usize,
}

impl Default for ReadOptions {
    /// CRCs verified (as Java's consumer does with `check.crcs=true`), 64 MiB per batch.
    fn default() -> Self {
        Self {
            verify_crc: true,
            max_decompressed_size: 64 << 20,
        }
    }
}

/// One entry of a record set, framed but not decoded: what a broker needs to validate,
/// re-stamp and store batches without touching their records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBatch {
    /// The leading offset field: the base offset of a v2 batch; the offset of a legacy
    /// message, which for a compressed wrapper is its last inner record's offset.
    pub offset: i64,
    /// The format: 0, 1 or 2.
    pub magic: i8,
    /// The whole entry, offset and length fields included (a view of the record set).
    pub bytes: Bytes,
}

impl RawBatch {
    /// Checks the entry's checksum: the CRC-32C of a v2 batch, or the CRC-32 of a legacy
    /// message (the wrapper only; inner messages are checked when decoded).
    pub fn verify_crc(&self) -> Result<(), DecodeError> {
        if self.magic == MAGIC_V2 {
            return BatchHeader::verify_crc(&self.bytes);
        }
        check_crc(self.bytes.get(LOG_OVERHEAD..).unwrap_or_default())
            .map_err(|e| e.with_base(&self.bytes))
    }

    /// The v2 batch header (an error for legacy entries).
    pub fn header(&self) -> Result<BatchHeader, DecodeError> {
        BatchHeader::parse(&self.bytes)
    }

    /// Decodes the entry: checks the CRC if `options` say so, decompresses, and prepares the
    /// records for iteration.
    pub fn decode(&self, options: &ReadOptions) -> Result<RecordBatch, DecodeError> {
        if self.magic != MAGIC_V2 {
            return decode_entry(&self.bytes, options);
        }
        let header = BatchHeader::parse(&self.bytes)?;
        if options.verify_crc {
            BatchHeader::verify_crc(&self.bytes)?;
        }
        if header.records_count < 0 {
            return Err(DecodeError::new(DecodeErrorKind::InvalidLength(i64::from(
                header.records_count,
            )))
            .in_field("RecordBatch", "recordsCount"));
        }
        let compression = header
            .compression()
            .map_err(|e| e.in_field("RecordBatch", "attributes"))?;
        let section = self.bytes.slice(BatchHeader::SIZE.min(self.bytes.len())..);
        let records = if compression == Compression::None {
            section
        } else {
            decompress(compression, &section, options.max_decompressed_size)
                .map_err(|e| e.in_field("RecordBatch", "records"))?
        };
        Ok(RecordBatch::v2(
            header,
            compression,
            self.bytes.clone(),
            records,
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    /// Stopped at a partial entry.
    Truncated,
    /// Stopped at an error.
    Failed,
}

/// Iterates the batches of a record set (v2 batches and legacy messages, in any mix).
///
/// Entries are framed by their i64 offset and i32 length. A partial entry at the end (a
/// fetch response cut at its byte limit) ends the iteration without an error, and
/// [`is_truncated`](Self::is_truncated) then says so. Anything else that does not parse is
/// a typed error; the iterator yields `Err` at most once, then ends, since corrupt data
/// gives no way to find the next entry.
#[derive(Debug, Clone)]
pub struct RecordSetReader {
    data: Bytes,
    pos: usize,
    options: ReadOptions,
    state: State,
}

impl RecordSetReader {
    /// A reader with the default options (CRCs checked, 64 MiB decompression limit).
    pub fn new(data: Bytes) -> Self {
        Self::with_options(data, ReadOptions::default())
    }

    /// A reader with `options`.
    pub fn with_options(data: Bytes, options: ReadOptions) -> Self {
        Self {
            data,
            pos: 0,
            options,
            state: State::Reading,
        }
    }

    /// Whether reading stopped at a partial entry at the end of the data (normal for fetch
    /// responses); the bytes from [`position`](Self::position) on are that partial entry.
    pub fn is_truncated(&self) -> bool {
        self.state == State::Truncated
    }

    /// Bytes of complete entries read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// The next entry, framed but not decoded. `None` at the end of the data or at a
    /// partial entry; CRCs are not checked here (see [`RawBatch::verify_crc`]).
    pub fn next_raw(&mut self) -> Option<Result<RawBatch, DecodeError>> {
        if self.state != State::Reading {
            return None;
        }
        match self.frame() {
            Ok(Some(raw)) => Some(Ok(raw)),
            Ok(None) => None,
            Err(e) => {
                self.state = State::Failed;
                Some(Err(e.with_base(&self.data)))
            }
        }
    }

    /// Frames the entry at the current position.
    fn frame(&mut self) -> Result<Option<RawBatch>, DecodeError> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(None);
        }
        let Some((offset, after)) = rest.split_first_chunk::<8>() else {
            return self.truncated();
        };
        let Some((size, _)) = after.split_first_chunk::<4>() else {
            return self.truncated();
        };
        let offset = i64::from_be_bytes(*offset);
        let size = i32::from_be_bytes(*size);
        // Java's rule: any entry must at least hold the smallest (magic 0) message.
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| s >= MIN_SIZE_V0)
            .ok_or_else(|| {
                DecodeError::at(
                    after,
                    DecodeErrorKind::InvalidValue("entry size below the smallest message size"),
                )
                .in_field("RecordSet", "length")
            })?;
        let Some(&magic) = rest.get(BatchHeader::MAGIC_AT) else {
            return self.truncated();
        };
        let magic = magic as i8;
        let min = match magic {
            MAGIC_V0 => MIN_SIZE_V0,
            MAGIC_V1 => MIN_SIZE_V1,
            MAGIC_V2 => BatchHeader::SIZE - LOG_OVERHEAD,
            other => {
                return Err(DecodeError::at(
                    rest.get(BatchHeader::MAGIC_AT..).unwrap_or_default(),
                    DecodeErrorKind::UnknownMagic(other),
                )
                .in_field("RecordSet", "magic"));
            }
        };
        if size < min {
            return Err(DecodeError::at(
                after,
                DecodeErrorKind::InvalidValue("entry size below the header size of its format"),
            )
            .in_field("RecordSet", "length"));
        }
        let total = LOG_OVERHEAD + size;
        if total > rest.len() {
            return self.truncated();
        }
        let bytes = self.data.slice(self.pos..self.pos + total);
        self.pos += total;
        Ok(Some(RawBatch {
            offset,
            magic,
            bytes,
        }))
    }

    fn truncated(&mut self) -> Result<Option<RawBatch>, DecodeError> {
        self.state = State::Truncated;
        Ok(None)
    }
}

impl Iterator for RecordSetReader {
    type Item = Result<RecordBatch, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let raw = match self.next_raw()? {
            Ok(raw) => raw,
            Err(e) => return Some(Err(e)),
        };
        let batch = raw.decode(&self.options);
        if batch.is_err() {
            self.state = State::Failed;
        }
        Some(batch)
    }
}

impl std::iter::FusedIterator for RecordSetReader {}
