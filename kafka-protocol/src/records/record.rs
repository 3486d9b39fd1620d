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
//! into the batch buffer.

use bytes::{BufMut, Bytes, BytesMut};

use crate::KStr;
use crate::codec::PResult;
use crate::codec::decode::{read_i8, read_varint, read_varlong, take, view};
use crate::codec::encode::{Scratch, varint_size, varlong_size};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError};

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

/// What records need from their batch to become absolute.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordContext {
    pub base_offset: i64,
    pub base_timestamp: i64,
    /// `Some(max timestamp)` when the batch is log-append time.
    pub log_append_time: Option<i64>,
}

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
#[inline]
fn read_nullable_len(i: &[u8]) -> PResult<'_, Option<usize>> {
    let (r, n) = varint(i)?;
    match n {
        -1 => Ok((r, None)),
        n if n < 0 => Err(fail(i, DecodeErrorKind::InvalidLength(i64::from(n)))),
        n => Ok((r, Some(n.unsigned_abs() as usize))),
    }
}

#[inline]
fn read_nullable_bytes<'a>(frame: &Bytes, i: &'a [u8]) -> PResult<'a, Option<Bytes>> {
    match read_nullable_len(i)? {
        (r, None) => Ok((r, None)),
        (r, Some(n)) => {
            let (r, b) = take(r, n)?;
            Ok((r, Some(view(frame, b))))
        }
    }
}

/// Decodes one record at `i`, a slice of `frame` (the batch's records section).
#[inline]
pub(crate) fn decode_record<'a>(
    frame: &Bytes,
    i: &'a [u8],
    ctx: &RecordContext,
) -> PResult<'a, Record> {
    let (rest, len) = varint(i)?;
    if len < 0 {
        return Err(fail(i, DecodeErrorKind::InvalidLength(i64::from(len))));
    }
    let (rest, body) = take(rest, len.unsigned_abs() as usize)?;

    let (r, _attributes) = read_i8(body)?;
    let (r, timestamp_delta) = read_varlong(r)?;
    let (r, offset_delta) = varint(r)?;
    let (r, key) = read_nullable_bytes(frame, r)?;
    let (r, value) = read_nullable_bytes(frame, r)?;
    let (mut r, count) = varint(r)?;
    if count < 0 {
        return Err(fail(r, DecodeErrorKind::InvalidLength(i64::from(count))));
    }
    let headers = if count == 0 {
        Vec::new()
    } else {
        // A header takes at least two bytes, so the count is bounded by the bytes left
        // before anything is allocated for it.
        let count = count.unsigned_abs() as usize;
        if count > r.len() / 2 {
            return Err(fail(
                r,
                DecodeErrorKind::LengthTooLarge {
                    declared: count as u64,
                    remaining: r.len(),
                },
            ));
        }
        let mut headers = Vec::with_capacity(count);
        for _ in 0..count {
            let (r2, key_len) = read_nullable_len(r)?;
            let Some(key_len) = key_len else {
                return Err(fail(r, DecodeErrorKind::InvalidLength(-1)));
            };
            let (r2, key) = take(r2, key_len)?;
            if std::str::from_utf8(key).is_err() {
                return Err(fail(r, DecodeErrorKind::InvalidUtf8));
            }
            let key = KStr::from_utf8_unchecked_bytes(view(frame, key));
            let (r2, value) = read_nullable_bytes(frame, r2)?;
            headers.push(RecordHeader { key, value });
            r = r2;
        }
        headers
    };
    if !r.is_empty() {
        return Err(fail(
            r,
            DecodeErrorKind::InvalidValue("record length does not match its fields"),
        ));
    }
    let timestamp = match ctx.log_append_time {
        Some(t) => t,
        None => ctx.base_timestamp.wrapping_add(timestamp_delta),
    };
    let record = Record {
        offset: ctx.base_offset.wrapping_add(i64::from(offset_delta)),
        timestamp,
        key,
        value,
        headers,
    };
    Ok((rest, record))
}

/// The fields of a record to encode, borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordFields<'a> {
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [RecordHeader],
}

/// A length that fits a varint prefix, or an error naming the field.
fn varint_len(len: usize, field: &'static str) -> Result<i32, EncodeError> {
    i32::try_from(len).map_err(|_| EncodeError::TooLong {
        message: "Record",
        field,
        len,
    })
}

fn nullable_size(b: Option<&[u8]>, field: &'static str) -> Result<usize, EncodeError> {
    Ok(match b {
        None => 1,
        Some(b) => varint_size(varint_len(b.len(), field)?) + b.len(),
    })
}

impl RecordFields<'_> {
    /// Bytes after the length prefix.
    pub fn body_size(&self) -> Result<usize, EncodeError> {
        let mut n = 1
            + varlong_size(self.timestamp_delta)
            + varint_size(self.offset_delta)
            + nullable_size(self.key, "key")?
            + nullable_size(self.value, "value")?
            + varint_size(varint_len(self.headers.len(), "headers")?);
        for h in self.headers {
            n += nullable_size(Some(h.key.as_bytes()), "headerKey")?;
            n += nullable_size(h.value.as_deref(), "headerValue")?;
        }
        Ok(n)
    }

    /// Writes the record, length prefix included; returns the bytes written. `body_size` must
    /// be what [`Self::body_size`] returned (lengths were checked there).
    pub fn write(&self, buf: &mut BytesMut, body_size: usize) -> Result<usize, EncodeError> {
        let len = varint_len(body_size, "length")?;
        let total = varint_size(len) + body_size;
        buf.reserve(total);
        // Every `BytesMut` append is an out-of-line call with a `memcpy`: the framing fields
        // (and a short key) are assembled on the stack and appended together, so a record
        // with a short key costs three appends instead of one per field.
        let mut s = Scratch::<SCRATCH>::new();
        s.put_varint(len);
        s.put_u8(0); // attributes
        s.put_varlong(self.timestamp_delta);
        s.put_varint(self.offset_delta);
        put_nullable_staged(buf, &mut s, self.key);
        put_nullable_staged(buf, &mut s, self.value);
        s.put_varint(self.headers.len() as i32);
        for h in self.headers {
            put_nullable_staged(buf, &mut s, Some(h.key.as_bytes()));
            put_nullable_staged(buf, &mut s, h.value.as_deref());
        }
        s.flush_to(buf);
        Ok(total)
    }
}

/// Bytes of [`RecordFields::write`]'s stack buffer: the framing before the key takes at most
/// 26 (length 5, attributes 1, timestamp delta 10, offset delta 5, key length 5).
const SCRATCH: usize = 64;
/// Fields up to this long are copied into the stack buffer with the framing around them.
const STAGE_MAX: usize = 16;

/// Stages a nullable field's length in `s`, and its bytes too when short and there is room;
/// otherwise flushes `s` and appends the bytes directly.
#[inline]
fn put_nullable_staged(buf: &mut BytesMut, s: &mut Scratch<SCRATCH>, b: Option<&[u8]>) {
    // Room for this length prefix (5) and the next field's framing (5).
    if s.len() > SCRATCH - 10 {
        s.flush_to(buf);
    }
    match b {
        None => s.put_varint(-1),
        Some(b) => {
            s.put_varint(b.len() as i32);
            if b.len() <= STAGE_MAX && s.len() + b.len() <= SCRATCH - 10 {
                s.put_slice(b);
            } else {
                s.flush_to(buf);
                buf.put_slice(b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: RecordContext = RecordContext {
        base_offset: 100,
        base_timestamp: 1000,
        log_append_time: None,
    };

    fn encode(f: &RecordFields<'_>) -> Bytes {
        let mut buf = BytesMut::new();
        let n = f.body_size().unwrap();
        let written = f.write(&mut buf, n).unwrap();
        assert_eq!(written, buf.len());
        buf.freeze()
    }

    #[test]
    fn round_trip_with_views() {
        let headers = [
            RecordHeader::new("a", Some(Bytes::from_static(b"1"))),
            RecordHeader::new("bé", None),
        ];
        let f = RecordFields {
            timestamp_delta: -5,
            offset_delta: 3,
            key: Some(b"key"),
            value: None,
            headers: &headers,
        };
        let b = encode(&f);
        let (rest, r) = decode_record(&b, &b, &CTX).unwrap();
        assert!(rest.is_empty());
        assert_eq!(r.offset, 103);
        assert_eq!(r.timestamp, 995);
        assert_eq!(r.key.as_deref(), Some(&b"key"[..]));
        assert_eq!(r.value, None);
        assert_eq!(r.headers, headers);
        // The key is a view into the buffer, not a copy.
        let key = r.key.unwrap();
        assert!(b.as_ptr_range().contains(&key.as_ptr()));

        let ctx = RecordContext {
            log_append_time: Some(7),
            ..CTX
        };
        assert_eq!(decode_record(&b, &b, &ctx).unwrap().1.timestamp, 7);
    }

    #[test]
    fn staged_writes_round_trip_at_every_field_size() {
        // Field sizes around the stack buffer's staging limits, many headers, extreme deltas.
        let sizes = [0usize, 1, 15, 16, 17, 40, 63, 64, 200];
        let data = [b'x'; 200];
        for &k in &sizes {
            for &v in &sizes {
                let headers: Vec<RecordHeader> = sizes
                    .iter()
                    .map(|&n| {
                        let key = "h".repeat(n.min(30));
                        RecordHeader::new(key, (n % 2 == 0).then(|| Bytes::from(vec![b'v'; n])))
                    })
                    .collect();
                for (ts, off) in [(0i64, 0i32), (i64::MIN, i32::MAX), (i64::MAX, -1)] {
                    let f = RecordFields {
                        timestamp_delta: ts,
                        offset_delta: off,
                        key: Some(&data[..k]),
                        value: (v != 63).then(|| &data[..v]),
                        headers: &headers,
                    };
                    let b = encode(&f);
                    let (rest, r) = decode_record(&b, &b, &CTX).unwrap();
                    assert!(rest.is_empty());
                    assert_eq!(r.key.as_deref(), Some(&data[..k]));
                    assert_eq!(r.value.as_deref(), (v != 63).then(|| &data[..v]));
                    assert_eq!(r.headers, headers);
                    assert_eq!(r.timestamp, CTX.base_timestamp.wrapping_add(ts));
                }
            }
        }
    }

    #[test]
    fn no_headers_no_allocation() {
        let f = RecordFields {
            timestamp_delta: 0,
            offset_delta: 0,
            key: None,
            value: Some(b"v"),
            headers: &[],
        };
        let b = encode(&f);
        let (_, r) = decode_record(&b, &b, &CTX).unwrap();
        assert_eq!(r.headers.capacity(), 0);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let headers = [RecordHeader::new("h", Some(Bytes::from_static(b"vv")))];
        let f = RecordFields {
            timestamp_delta: 300,
            offset_delta: 70000,
            key: Some(b"k"),
            value: Some(b"value"),
            headers: &headers,
        };
        let b = encode(&f);
        for n in 0..b.len() {
            let cut = b.slice(..n);
            assert!(decode_record(&cut, &cut, &CTX).is_err(), "{n}");
        }
    }

    #[test]
    fn hostile_fields_are_refused() {
        let dec = |bytes: &'static [u8]| {
            let b = Bytes::from_static(bytes);
            match decode_record(&b, &b, &CTX) {
                Err(nom::Err::Error(e)) => e.kind,
                other => panic!("{other:?}"),
            }
        };
        // Negative length.
        assert_eq!(dec(&[0x01]), DecodeErrorKind::InvalidLength(-1));
        // Length beyond the input.
        assert!(matches!(
            dec(&[0xfe, 0xff, 0xff, 0xff, 0x07]),
            DecodeErrorKind::LengthTooLarge { .. }
        ));
        // Key length -2.
        assert_eq!(
            dec(&[0x0a, 0, 0, 0, 0x03, 0, 0, 0, 0, 0, 0]),
            DecodeErrorKind::InvalidLength(-2)
        );
        // Header count 2^30 with 2 bytes left.
        assert!(matches!(
            dec(&[0x14, 0, 0, 0, 0x01, 0x01, 0x80, 0x80, 0x80, 0x80, 0x08]),
            DecodeErrorKind::LengthTooLarge {
                declared: 0x4000_0000,
                remaining: 0
            }
        ));
        // Null header key.
        assert_eq!(
            dec(&[0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x01, 0x01]),
            DecodeErrorKind::InvalidLength(-1)
        );
        // Header key not UTF-8.
        assert_eq!(
            dec(&[0x12, 0, 0, 0, 0x01, 0x01, 0x02, 0x02, 0xff, 0x01]),
            DecodeErrorKind::InvalidUtf8
        );
        // Length longer than the fields.
        assert!(matches!(
            dec(&[0x10, 0, 0, 0, 0x01, 0x01, 0x00, 0x00, 0x00]),
            DecodeErrorKind::InvalidValue(_)
        ));
        // Negative header count.
        assert_eq!(
            dec(&[0x0c, 0, 0, 0, 0x01, 0x01, 0x01]),
            DecodeErrorKind::InvalidLength(-1)
        );
    }
}
