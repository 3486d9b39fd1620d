//! One record of a v2 batch: its decoded form, and the varint wire format it is read from
//! and written to.
//!
//! ```text
//! length varint | attributes i8 | timestampDelta varlong | offsetDelta varint
//! key (varint length, -1 null) | value (varint length, -1 null)
//! headers: count varint, then per header key (varint length, UTF-8) and value (nullable)
//! ```
//!
//! Decoding is the hot path of every consumer, so it allocates at most once per record (the
//! headers vector, only when there are headers); keys, values and header fields are views
//! into the batch buffer.//!
//! Modules: `borrowed` ([`RecordRef`] and its header iterator, [`HeaderRefs`]), `encode`
//! (writing a record, `RecordFields`), `tests`. The owned forms and the decoder are here.

mod borrowed;
mod encode;
#[cfg(test)]
mod tests;

use bytes::Bytes;

use crate::KStr;
use crate::codec::PResult;
use crate::codec::decode::{read_i8, read_varint, read_varlong, take};
use crate::error::{DecodeError, DecodeErrorKind};

use borrowed::Source;
pub use borrowed::{HeaderRefs, RecordRef};
pub(crate) use encode::RecordFields;

/// A decoded record with absolute offset and timestamp.
///
/// Batch-level fields (producer id and epoch, leader epoch, timestamp type, transactional
/// and control flags) are on the [`RecordBatch`](super::RecordBatch) the record came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// The record's offset in the partition.
    pub offset: i64,
    /// Create time, or the batch's log-append time when the batch says so; -1 for magic 0.
    pub timestamp: i64,
    /// The key, `None` for a null key.
    pub key: Option<Bytes>,
    /// The value, `None` for a null value (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in wire order (always empty for magic 0/1).
    pub headers: Vec<RecordHeader>,
}

/// A record header: a UTF-8 key and an optional value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RecordHeader {
    /// The header key.
    pub key: KStr,
    /// The header value, `None` for null.
    pub value: Option<Bytes>,
}

impl RecordHeader {
    /// A header from a key and an optional value.
    pub fn new(key: impl Into<KStr>, value: Option<Bytes>) -> Self {
        Self {
            key: key.into(),
            value,
        }
    }
}

/// The error of a failed parse (`Incomplete` cannot happen with complete input).
pub(crate) fn nom_error(e: nom::Err<DecodeError>) -> DecodeError {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => DecodeError::new(DecodeErrorKind::UnexpectedEof),
    }
}

/// What records need from their batch to become absolute.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordContext {
    pub base_offset: i64,
    pub base_timestamp: i64,
    /// `Some(max timestamp)` when the batch is log-append time.
    pub log_append_time: Option<i64>,
}

impl RecordContext {
    /// The context of the records of the batch with `header`.
    pub fn of(header: &super::BatchHeader) -> Self {
        Self {
            base_offset: header.base_offset,
            base_timestamp: header.base_timestamp,
            log_append_time: (header.timestamp_type() == super::TimestampType::LogAppendTime)
                .then_some(header.max_timestamp),
        }
    }
}

#[cold]
fn fail(i: &[u8], kind: DecodeErrorKind) -> nom::Err<DecodeError> {
    nom::Err::Error(DecodeError::at(i, kind).in_field("Record", ""))
}

/// A zig-zag varint, with a fast path for the one-byte values most record fields hold.
#[inline(always)]
fn varint(i: &[u8]) -> PResult<'_, i32> {
    match i.split_first() {
        Some((&b, rest)) if b < 0x80 => Ok((rest, i32::from(b >> 1) ^ -i32::from(b & 1))),
        _ => read_varint(i),
    }
}

/// Reads a varint length prefix: `None` for -1, an error below -1.
#[inline(always)]
fn read_nullable_len(i: &[u8]) -> PResult<'_, Option<usize>> {
    let (r, n) = varint(i)?;
    match n {
        -1 => Ok((r, None)),
        n if n < 0 => Err(fail(i, DecodeErrorKind::InvalidLength(i64::from(n)))),
        n => Ok((r, Some(n.unsigned_abs() as usize))),
    }
}

/// Decodes one record at `i`, a slice of `frame` (the batch's records section), into its
/// owned form: the borrowed decode, then [`RecordRef::to_owned_record`], so both forms read
/// records the same way (the owned one also checks header keys are UTF-8).
#[cfg(test)]
pub(crate) fn decode_record<'a>(
    frame: &'a Bytes,
    i: &'a [u8],
    ctx: &RecordContext,
) -> PResult<'a, Record> {
    let (rest, record) = decode_record_ref(frame, i, ctx)?;
    match record.to_owned_record() {
        Ok(record) => Ok((rest, record)),
        Err(e) => Err(nom::Err::Error(e)),
    }
}

/// Decodes one record at `i`, a slice of `frame` (the batch's records section), as a view.
///
/// Everything but the header keys' UTF-8 is checked here: the record's length against its
/// fields, and the framing of every header (so a hostile header count is refused before
/// anything trusts it, and iterating the headers later cannot fail on framing).
#[inline(always)]
pub(crate) fn decode_record_ref<'a>(
    frame: &'a Bytes,
    i: &'a [u8],
    ctx: &RecordContext,
) -> PResult<'a, RecordRef<'a>> {
    let (rest, len) = varint(i)?;
    if len < 0 {
        return Err(fail(i, DecodeErrorKind::InvalidLength(i64::from(len))));
    }
    let (rest, body) = take(rest, len.unsigned_abs() as usize)?;

    let (r, _attributes) = read_i8(body)?;
    let (r, timestamp_delta) = read_varlong(r)?;
    let (r, offset_delta) = varint(r)?;
    let (r, key) = read_nullable_slice(r)?;
    let (r, value) = read_nullable_slice(r)?;
    let (headers, count) = varint(r)?;
    if count < 0 {
        return Err(fail(
            headers,
            DecodeErrorKind::InvalidLength(i64::from(count)),
        ));
    }
    let count = count.unsigned_abs();
    let mut r = headers;
    if count > 0 {
        // A header takes at least two bytes: refuse a count the bytes left cannot hold
        // before walking it.
        if count as usize > r.len() / 2 {
            return Err(fail(
                r,
                DecodeErrorKind::LengthTooLarge {
                    declared: u64::from(count),
                    remaining: r.len(),
                },
            ));
        }
        for _ in 0..count {
            let (r2, _) = read_header(r)?;
            r = r2;
        }
    }
    if !r.is_empty() {
        return Err(fail(
            r,
            DecodeErrorKind::InvalidValue("record length does not match its fields"),
        ));
    }
    let headers = &headers[..headers.len() - r.len()];
    let timestamp = match ctx.log_append_time {
        Some(t) => t,
        None => ctx.base_timestamp.wrapping_add(timestamp_delta),
    };
    let record = RecordRef {
        offset: ctx.base_offset.wrapping_add(i64::from(offset_delta)),
        timestamp,
        key,
        value,
        source: Source::Wire {
            frame,
            headers,
            count,
        },
    };
    Ok((rest, record))
}

#[inline(always)]
fn read_nullable_slice(i: &[u8]) -> PResult<'_, Option<&[u8]>> {
    match read_nullable_len(i)? {
        (r, None) => Ok((r, None)),
        (r, Some(n)) => {
            let (r, b) = take(r, n)?;
            Ok((r, Some(b)))
        }
    }
}

/// One header's key (not checked for UTF-8 here) and value.
#[inline]
fn read_header(i: &[u8]) -> PResult<'_, (&[u8], Option<&[u8]>)> {
    let (r, key_len) = read_nullable_len(i)?;
    let Some(key_len) = key_len else {
        return Err(fail(i, DecodeErrorKind::InvalidLength(-1)));
    };
    let (r, key) = take(r, key_len)?;
    let (r, value) = read_nullable_slice(r)?;
    Ok((r, (key, value)))
}
