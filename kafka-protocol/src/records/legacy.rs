//! Decoding legacy messages (magic 0 and 1), the format before record batches.
//!
//! ```text
//! offset i64 | size i32 | crc u32 (CRC-32 of magic..end) | magic i8 | attributes i8
//! [timestamp i64, magic 1 only] | key (i32 length, -1 null) | value (i32 length, -1 null)
//! ```
//!
//! Attribute bits 0-2 name a codec; a compressed message is a wrapper whose value holds a
//! whole inner message set. Inner offsets are absolute in magic 0 and relative (0, 1, ...)
//! in magic 1, where the wrapper's offset is the last inner record's absolute offset. Offsets
//! and timestamps are resolved exactly as Java's `AbstractLegacyRecordBatch` does, including
//! its rule that relative offsets are kept when the computed base would be negative (what
//! producers that leave the wrapper offset at 0 send).

use bytes::Bytes;

use super::TimestampType;
use super::{BatchHeader, MAGIC_V0, MAGIC_V1, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH};
use super::{NO_PRODUCER_ID, NO_SEQUENCE, NO_TIMESTAMP, ReadOptions, Record, RecordBatch};
use crate::codec::PResult;
use crate::codec::decode::{read_i8, read_i32, read_i64, read_u32, take, view};
use crate::compression::{Compression, decompress_for_magic};
use crate::error::{DecodeError, DecodeErrorKind};

/// Smallest magic 0 message after the offset and size: crc, magic, attributes, two lengths.
pub(crate) const MIN_SIZE_V0: usize = 4 + 1 + 1 + 4 + 4;
/// Smallest magic 1 message: a timestamp more.
pub(crate) const MIN_SIZE_V1: usize = MIN_SIZE_V0 + 8;

/// One parsed legacy message, fields borrowed from the buffer.
struct Message<'a> {
    offset: i64,
    size: i32,
    crc: u32,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
}

impl Message<'_> {
    fn compression(&self) -> Result<Compression, DecodeError> {
        let c = Compression::from_attributes(i16::from(self.attributes))?;
        if c == Compression::Zstd {
            return Err(DecodeError::new(DecodeErrorKind::InvalidValue(
                "zstd compression needs magic 2",
            ))
            .in_field("Message", "attributes"));
        }
        Ok(c)
    }
}

fn fail(i: &[u8], kind: DecodeErrorKind) -> nom::Err<DecodeError> {
    nom::Err::Error(DecodeError::at(i, kind).in_field("Message", ""))
}

fn read_nullable<'a>(i: &'a [u8]) -> PResult<'a, Option<&'a [u8]>> {
    let (r, n) = read_i32(i)?;
    match n {
        -1 => Ok((r, None)),
        n if n < 0 => Err(fail(i, DecodeErrorKind::InvalidLength(i64::from(n)))),
        n => {
            let (r, b) = take(r, n.unsigned_abs() as usize)?;
            Ok((r, Some(b)))
        }
    }
}

/// Splits the entry at the start of `i` into its offset and message bytes (crc onwards).
fn frame_entry(i: &[u8]) -> PResult<'_, (i64, &[u8])> {
    let (r, offset) = read_i64(i)?;
    let (r, size) = read_i32(r)?;
    if size < 0 {
        return Err(fail(r, DecodeErrorKind::InvalidLength(i64::from(size))));
    }
    let (rest, msg) = take(r, size.unsigned_abs() as usize)?;
    Ok((rest, (offset, msg)))
}

/// Checks the CRC-32 of a message (the bytes after the offset and size fields), before
/// its fields are trusted.
pub(crate) fn check_crc(msg: &[u8]) -> Result<(), DecodeError> {
    let Some((stored, region)) = msg.split_first_chunk::<4>() else {
        return Err(DecodeError::at(msg, DecodeErrorKind::UnexpectedEof).in_field("Message", "crc"));
    };
    let stored = u32::from_be_bytes(*stored);
    let computed = crc32fast::hash(region);
    if computed == stored {
        Ok(())
    } else {
        Err(
            DecodeError::at(msg, DecodeErrorKind::CrcMismatch { stored, computed })
                .in_field("Message", "crc"),
        )
    }
}

/// Parses the fields of a message (the bytes after the offset and size fields).
fn parse_message(offset: i64, msg: &[u8]) -> Result<Message<'_>, nom::Err<DecodeError>> {
    let size = i32::try_from(msg.len()).unwrap_or(i32::MAX);
    let (r, crc) = read_u32(msg)?;
    let crc_region = r;
    let (r, magic) = read_i8(r)?;
    if magic != MAGIC_V0 && magic != MAGIC_V1 {
        return Err(fail(crc_region, DecodeErrorKind::UnknownMagic(magic)));
    }
    let (r, attributes) = read_i8(r)?;
    let (r, timestamp) = if magic == MAGIC_V1 {
        read_i64(r)?
    } else {
        (r, NO_TIMESTAMP)
    };
    let (r, key) = read_nullable(r)?;
    let (r, value) = read_nullable(r)?;
    if !r.is_empty() {
        return Err(fail(
            r,
            DecodeErrorKind::InvalidValue("message size does not match its fields"),
        ));
    }
    Ok(Message {
        offset,
        size,
        crc,
        magic,
        attributes,
        timestamp,
        key,
        value,
    })
}

fn parse_error(e: nom::Err<DecodeError>, base: &[u8]) -> DecodeError {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e.with_base(base),
        nom::Err::Incomplete(_) => DecodeError::new(DecodeErrorKind::UnexpectedEof),
    }
}

/// Decodes a legacy entry (exactly one message, as framed by the reader) into a batch.
pub(crate) fn decode_entry(
    entry: &Bytes,
    options: &ReadOptions,
) -> Result<RecordBatch, DecodeError> {
    let (rest, (offset, msg)) = frame_entry(entry).map_err(|e| parse_error(e, entry))?;
    if !rest.is_empty() {
        return Err(DecodeError::at(
            rest,
            DecodeErrorKind::InvalidValue("bytes after the message"),
        )
        .in_field("Message", "")
        .with_base(entry));
    }
    if options.verify_crc {
        check_crc(msg).map_err(|e| e.with_base(entry))?;
    }
    let wrapper = parse_message(offset, msg).map_err(|e| parse_error(e, entry))?;
    let compression = wrapper.compression()?;
    let ts_type = TimestampType::from_attributes(wrapper.magic, i16::from(wrapper.attributes));
    let records = if compression == Compression::None {
        vec![Record {
            offset: wrapper.offset,
            timestamp: wrapper.timestamp,
            key: wrapper.key.map(|k| view(entry, k)),
            value: wrapper.value.map(|v| view(entry, v)),
            headers: Vec::new(),
        }]
    } else {
        inner_records(&wrapper, compression, ts_type, options)?
    };
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Err(DecodeError::new(DecodeErrorKind::InvalidValue(
            "compressed message holds no messages",
        ))
        .in_field("Message", "value"));
    };
    let last_offset_delta =
        i32::try_from(last.offset.wrapping_sub(first.offset)).map_err(|_| {
            DecodeError::new(DecodeErrorKind::InvalidValue(
                "inner offsets span more than i32",
            ))
            .in_field("Message", "offset")
        })?;
    let header = BatchHeader {
        base_offset: first.offset,
        batch_length: wrapper.size,
        partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
        magic: wrapper.magic,
        crc: wrapper.crc,
        attributes: i16::from(wrapper.attributes as u8),
        last_offset_delta,
        base_timestamp: first.timestamp,
        max_timestamp: wrapper.timestamp,
        producer_id: NO_PRODUCER_ID,
        producer_epoch: NO_PRODUCER_EPOCH,
        base_sequence: NO_SEQUENCE,
        records_count: i32::try_from(records.len()).unwrap_or(i32::MAX),
    };
    Ok(RecordBatch::legacy(
        header,
        compression,
        entry.clone(),
        records,
    ))
}

/// Decompresses a wrapper's value and decodes the inner message set.
fn inner_records(
    wrapper: &Message<'_>,
    compression: Compression,
    ts_type: TimestampType,
    options: &ReadOptions,
) -> Result<Vec<Record>, DecodeError> {
    let Some(value) = wrapper.value else {
        return Err(DecodeError::new(DecodeErrorKind::InvalidValue(
            "compressed message has a null value",
        ))
        .in_field("Message", "value"));
    };
    let inner = decompress_for_magic(
        compression,
        value,
        options.max_decompressed_size,
        wrapper.magic,
    )
    .map_err(|e| e.in_field("Message", "value"))?;
    let mut records = Vec::new();
    let mut i: &[u8] = &inner;
    while !i.is_empty() {
        let (rest, (offset, msg)) = frame_entry(i).map_err(|e| parse_error(e, &inner))?;
        if options.verify_crc {
            check_crc(msg).map_err(|e| e.with_base(&inner))?;
        }
        let m = parse_message(offset, msg).map_err(|e| parse_error(e, &inner))?;
        if m.magic != wrapper.magic {
            return Err(DecodeError::at(
                msg,
                DecodeErrorKind::InvalidValue("inner message magic differs from the wrapper's"),
            )
            .in_field("Message", "magic")
            .with_base(&inner));
        }
        if m.compression()? != Compression::None {
            return Err(DecodeError::at(
                msg,
                DecodeErrorKind::InvalidValue("compressed message inside a compressed message"),
            )
            .in_field("Message", "attributes")
            .with_base(&inner));
        }
        records.push(Record {
            offset: m.offset,
            timestamp: if ts_type == TimestampType::LogAppendTime {
                wrapper.timestamp
            } else {
                m.timestamp
            },
            key: m.key.map(|k| view(&inner, k)),
            value: m.value.map(|v| view(&inner, v)),
            headers: Vec::new(),
        });
        i = rest;
    }
    if wrapper.magic == MAGIC_V1 {
        // Inner offsets are relative; the wrapper holds the last absolute one. Java keeps
        // them as they are when that would make the base negative.
        if let Some(last) = records.last() {
            let base = wrapper.offset.wrapping_sub(last.offset);
            if base >= 0 {
                for r in &mut records {
                    r.offset = r.offset.wrapping_add(base);
                }
            }
        }
    }
    Ok(records)
}
