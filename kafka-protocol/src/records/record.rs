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

use std::fmt;

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

/// A record borrowed from its [`RecordBatch`](super::RecordBatch), as
/// [`RecordBatch::records_ref`](super::RecordBatch::records_ref) yields it: offset and
/// timestamp made absolute, key, value and headers as slices of the batch's buffer.
///
/// # Borrowed or owned
///
/// [`Record`] holds its key, value and header fields as [`Bytes`] views, so it can outlive
/// the batch, be sent to another task or kept in a queue; making each view costs an atomic
/// reference-count increment (and its drop a decrement), twice or more per record. A
/// `RecordRef` holds plain slices instead: no reference counting, no allocation, and header
/// keys are checked for UTF-8 only when [`headers`](Self::headers) reaches them.
///
/// - Use `RecordRef` ([`RecordBatch::records_ref`](super::RecordBatch::records_ref)) in hot
///   loops that look at each record while the batch is alive: copying fields out into your
///   own types, deserializing values, aggregating, filtering, counting bytes.
/// - Use [`Record`] ([`RecordBatch::records`](super::RecordBatch::records)) when records
///   outlive the batch or are handed to application code that expects an owned value. A
///   `RecordRef` can be upgraded one at a time with [`to_owned_record`](Self::to_owned_record)
///   (no re-parsing), which is how the owned iterator builds its records anyway.
///
/// Both iterators check the same things, in the same order, and yield the same records with
/// one exception: a header key that is not UTF-8 fails the owned iterator at that record,
/// while the borrowed one yields the record and reports the error from
/// [`headers`](Self::headers) (and [`to_owned_record`](Self::to_owned_record)). Header
/// framing (lengths and count) is still checked when the record is decoded.
///
/// Equality compares the decoded content (offset, timestamp, key, value, header bytes), also
/// against a [`Record`].
///
/// ```
/// use kafka_protocol::records::{BatchOptions, RecordBatchBuilder, RecordHeader, RecordSetReader};
///
/// let mut builder = RecordBatchBuilder::new(BatchOptions::default());
/// let headers = [RecordHeader::new("trace", None)];
/// builder.append(1_700_000_000_000, Some(b"k"), Some(b"hello"), &headers).unwrap();
/// let set = builder.build().unwrap();
///
/// let mut total = 0;
/// for batch in RecordSetReader::new(set) {
///     let batch = batch.unwrap();
///     for record in batch.records_ref() {
///         let record = record.unwrap();
///         total += record.value.map_or(0, <[u8]>::len);
///         for header in record.headers() {
///             let (key, value) = header.unwrap();
///             assert_eq!((key, value), ("trace", None));
///         }
///         // Keep this one beyond the batch: upgrade it (views, no copy of the bytes).
///         let owned = record.to_owned_record().unwrap();
///         assert_eq!(record, owned);
///     }
/// }
/// assert_eq!(total, 5);
/// ```
#[derive(Clone, Copy)]
pub struct RecordRef<'a> {
    /// The record's offset in the partition.
    pub offset: i64,
    /// Create time, or the batch's log-append time when the batch says so; -1 for magic 0.
    pub timestamp: i64,
    /// The key, `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// The value, `None` for a null value (a tombstone).
    pub value: Option<&'a [u8]>,
    source: Source<'a>,
}

/// Where a [`RecordRef`]'s headers are, and the buffer its views can be made from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// A v2 record: the batch's records section, and the record's header entries (after
    /// the count), `count` of them, framing already checked.
    Wire {
        frame: &'a Bytes,
        headers: &'a [u8],
        count: u32,
    },
    /// A record already decoded (legacy entries are decoded when the batch is read).
    Owned(&'a Record),
}

impl<'a> From<&'a Record> for RecordRef<'a> {
    /// A view of an owned record.
    fn from(record: &'a Record) -> Self {
        RecordRef {
            offset: record.offset,
            timestamp: record.timestamp,
            key: record.key.as_deref(),
            value: record.value.as_deref(),
            source: Source::Owned(record),
        }
    }
}

impl<'a> RecordRef<'a> {
    /// The headers in wire order, as (key, value) pairs; `None` for a null value.
    ///
    /// Keys are checked for UTF-8 as the iterator reaches them: a key that is not is an
    /// `Err` for that header only ([`DecodeErrorKind::InvalidUtf8`]), and the iterator goes
    /// on with the next one. Nothing is allocated. Always empty for magic 0/1 records.
    pub fn headers(&self) -> HeaderRefs<'a> {
        match self.source {
            Source::Wire {
                frame,
                headers,
                count,
            } => HeaderRefs(HeadersInner::Wire {
                frame,
                rest: headers,
                left: count,
            }),
            Source::Owned(r) => HeaderRefs(HeadersInner::Owned(r.headers.iter())),
        }
    }

    /// The number of headers.
    pub fn header_count(&self) -> usize {
        match self.source {
            Source::Wire { count, .. } => count as usize,
            Source::Owned(r) => r.headers.len(),
        }
    }

    /// The owned form of the record, without parsing it again: key, value and header fields
    /// become [`Bytes`] views of the batch's buffer (reference-count increments, no copies);
    /// one allocation for the headers vector when there are headers.
    ///
    /// Fails only when a header key is not UTF-8 (which [`Record`] cannot hold), with the
    /// error [`headers`](Self::headers) gives for it.
    #[inline]
    pub fn to_owned_record(&self) -> Result<Record, DecodeError> {
        let frame = match self.source {
            Source::Wire { frame, .. } => frame,
            Source::Owned(r) => return Ok(r.clone()),
        };
        let headers = if self.header_count() == 0 {
            Vec::new()
        } else {
            // The count was checked against the record's bytes when it was decoded.
            let mut headers = Vec::with_capacity(self.header_count());
            for h in self.headers() {
                let (key, value) = h?;
                headers.push(RecordHeader {
                    key: KStr::from_utf8_unchecked_bytes(view(frame, key.as_bytes())),
                    value: value.map(|v| view(frame, v)),
                });
            }
            headers
        };
        Ok(Record {
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.map(|k| view(frame, k)),
            value: self.value.map(|v| view(frame, v)),
            headers,
        })
    }

    /// Whether the headers hold the same bytes as `other`'s.
    fn headers_eq(&self, mut other: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)>) -> bool {
        let mut mine = self.headers();
        loop {
            match (mine.next_raw(), other.next()) {
                (None, None) => return true,
                (Some(Ok((_, k, v))), Some(o)) if (k, v) == o => {}
                _ => return false,
            }
        }
    }

    fn same_fields(
        &self,
        offset: i64,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> bool {
        self.offset == offset
            && self.timestamp == timestamp
            && self.key == key
            && self.value == value
    }
}

impl PartialEq for RecordRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        if !self.same_fields(other.offset, other.timestamp, other.key, other.value)
            || self.header_count() != other.header_count()
        {
            return false;
        }
        let mut theirs = other.headers();
        let mut mine = self.headers();
        loop {
            match (mine.next_raw(), theirs.next_raw()) {
                (None, None) => return true,
                (Some(Ok((_, k1, v1))), Some(Ok((_, k2, v2)))) if (k1, v1) == (k2, v2) => {}
                _ => return false,
            }
        }
    }
}

impl Eq for RecordRef<'_> {}

impl PartialEq<Record> for RecordRef<'_> {
    fn eq(&self, other: &Record) -> bool {
        self.same_fields(
            other.offset,
            other.timestamp,
            other.key.as_deref(),
            other.value.as_deref(),
        ) && self.header_count() == other.headers.len()
            && self.headers_eq(
                other
                    .headers
                    .iter()
                    .map(|h| (h.key.as_bytes(), h.value.as_deref())),
            )
    }
}

impl PartialEq<RecordRef<'_>> for Record {
    fn eq(&self, other: &RecordRef<'_>) -> bool {
        other == self
    }
}

impl fmt::Debug for RecordRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordRef")
            .field("offset", &self.offset)
            .field("timestamp", &self.timestamp)
            .field("key", &self.key.map(ByteStr))
            .field("value", &self.value.map(ByteStr))
            .field("headers", &self.headers())
            .finish()
    }
}

/// Bytes shown as a `b"..."` literal, as `Bytes` shows itself.
struct ByteStr<'a>(&'a [u8]);

impl fmt::Debug for ByteStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// Iterator over the headers of a [`RecordRef`]: `(key, value)` pairs borrowed from the
/// batch, keys checked for UTF-8 one at a time (see [`RecordRef::headers`]).
#[derive(Clone)]
pub struct HeaderRefs<'a>(HeadersInner<'a>);

#[derive(Clone)]
enum HeadersInner<'a> {
    Wire {
        /// The records section, to resolve error offsets against.
        frame: &'a [u8],
        rest: &'a [u8],
        left: u32,
    },
    Owned(std::slice::Iter<'a, RecordHeader>),
}

impl<'a> HeaderRefs<'a> {
    /// The next header: where it starts, its key bytes and its value.
    #[allow(clippy::type_complexity)]
    fn next_raw(&mut self) -> Option<Result<(&'a [u8], &'a [u8], Option<&'a [u8]>), DecodeError>> {
        match &mut self.0 {
            HeadersInner::Wire { frame, rest, left } => {
                if *left == 0 {
                    return None;
                }
                let at = *rest;
                match read_header(at) {
                    Ok((r, (key, value))) => {
                        *rest = r;
                        *left -= 1;
                        Some(Ok((at, key, value)))
                    }
                    // Not reached: the framing was checked when the record was decoded.
                    // Still one item per header left, as `ExactSizeIterator` promises.
                    Err(e) => {
                        *rest = &[];
                        *left -= 1;
                        Some(Err(nom_error(e).with_base(frame)))
                    }
                }
            }
            HeadersInner::Owned(it) => it
                .next()
                .map(|h| Ok((&[][..], h.key.as_bytes(), h.value.as_deref()))),
        }
    }
}

impl<'a> Iterator for HeaderRefs<'a> {
    type Item = Result<(&'a str, Option<&'a [u8]>), DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (at, key, value) = match self.next_raw()? {
            Ok(h) => h,
            Err(e) => return Some(Err(e)),
        };
        match std::str::from_utf8(key) {
            Ok(key) => Some(Ok((key, value))),
            Err(_) => {
                let frame = match &self.0 {
                    HeadersInner::Wire { frame, .. } => *frame,
                    HeadersInner::Owned(_) => &[],
                };
                Some(Err(DecodeError::at(at, DecodeErrorKind::InvalidUtf8)
                    .in_field("Record", "headerKey")
                    .with_base(frame)))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.0 {
            HeadersInner::Wire { left, .. } => *left as usize,
            HeadersInner::Owned(it) => it.len(),
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for HeaderRefs<'_> {}

impl std::iter::FusedIterator for HeaderRefs<'_> {}

impl fmt::Debug for HeaderRefs<'_> {
    /// The headers left, as `(key, value)` pairs (`Err` for a key that is not UTF-8).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for h in self.clone() {
            match h {
                Ok((k, v)) => list.entry(&(k, v.map(ByteStr))),
                Err(e) => list.entry(&Err::<(), _>(e.kind)),
            };
        }
        list.finish()
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
        // Both decodes refuse the same inputs with the same error (the header key's UTF-8
        // aside, checked in `borrowed_header_keys_are_checked_lazily`).
        let dec = |bytes: &'static [u8]| {
            let b = Bytes::from_static(bytes);
            let owned = match decode_record(&b, &b, &CTX) {
                Err(nom::Err::Error(e)) => e,
                other => panic!("{other:?}"),
            };
            if owned.kind != DecodeErrorKind::InvalidUtf8 {
                match decode_record_ref(&b, &b, &CTX) {
                    Err(nom::Err::Error(e)) => assert_eq!(e, owned),
                    other => panic!("{other:?}"),
                }
            }
            owned.kind
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

    /// A record with `headers`, encoded.
    fn with_headers(headers: &[RecordHeader]) -> Bytes {
        encode(&RecordFields {
            timestamp_delta: 7,
            offset_delta: 2,
            key: Some(b"key"),
            value: Some(b"value"),
            headers,
        })
    }

    #[test]
    fn borrowed_decode_matches_owned() {
        let headers = [
            RecordHeader::new("a", Some(Bytes::from_static(b"1"))),
            RecordHeader::new("", None),
            RecordHeader::new("bé", Some(Bytes::new())),
        ];
        for hs in [&headers[..], &[]] {
            let b = with_headers(hs);
            let (rest, r) = decode_record_ref(&b, &b, &CTX).unwrap();
            assert!(rest.is_empty());
            let (_, owned) = decode_record(&b, &b, &CTX).unwrap();
            assert_eq!(r, owned);
            assert_eq!(owned, r);
            assert_eq!(r.to_owned_record().unwrap(), owned);
            assert_eq!((r.offset, r.timestamp), (102, 1007));
            assert_eq!((r.key, r.value), (Some(&b"key"[..]), Some(&b"value"[..])));
            assert_eq!(r.header_count(), hs.len());
            assert_eq!(r.headers().len(), hs.len());
            let got: Vec<_> = r.headers().map(Result::unwrap).collect();
            let want: Vec<_> = hs
                .iter()
                .map(|h| (h.key.as_str(), h.value.as_deref()))
                .collect();
            assert_eq!(got, want);
            // Views, not copies: the borrowed slices and the upgraded `Bytes` point into `b`.
            let range = b.as_ptr_range();
            assert!(range.contains(&r.value.unwrap().as_ptr()));
            let up = r.to_owned_record().unwrap();
            assert!(range.contains(&up.value.unwrap().as_ptr()));
            if let Some(h) = up.headers.first() {
                assert!(range.contains(&h.key.as_bytes().as_ptr()));
            }
        }
        // Equality is by content, whatever buffer the record is in.
        let b = with_headers(&headers);
        let copy = Bytes::copy_from_slice(&b);
        let x = decode_record_ref(&b, &b, &CTX).unwrap().1;
        let y = decode_record_ref(&copy, &copy, &CTX).unwrap().1;
        assert_eq!(x, y);
        let other = with_headers(&headers[..2]);
        let z = decode_record_ref(&other, &other, &CTX).unwrap().1;
        assert_ne!(x, z);
        // Log-append time replaces the record's own timestamp in both.
        let ctx = RecordContext {
            log_append_time: Some(9),
            ..CTX
        };
        assert_eq!(decode_record_ref(&b, &b, &ctx).unwrap().1.timestamp, 9);
    }

    #[test]
    fn borrowed_header_keys_are_checked_lazily() {
        // Headers "ok" -> "1", then a key of one 0xff byte -> null, then "z" -> "2".
        let b = Bytes::from_static(&[
            0x24, 0, 0, 0, 0x01, 0x01, 0x06, 0x04, b'o', b'k', 0x02, b'1', 0x02, 0xff, 0x01, 0x02,
            b'z', 0x02, b'2',
        ]);
        assert_eq!(b[0] as usize / 2, b.len() - 1);
        let owned = match decode_record(&b, &b, &CTX) {
            Err(nom::Err::Error(e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(owned.kind, DecodeErrorKind::InvalidUtf8);
        let (rest, r) = decode_record_ref(&b, &b, &CTX).unwrap();
        assert!(rest.is_empty());
        assert_eq!(r.header_count(), 3);
        let hs: Vec<_> = r.headers().collect();
        assert_eq!(hs.len(), 3);
        assert_eq!(hs[0], Ok(("ok", Some(&b"1"[..]))));
        let e = hs[1].clone().unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::InvalidUtf8);
        assert_eq!(e.offset, Some(12), "{e}");
        assert_eq!((e.message, e.field), ("Record", "headerKey"));
        // The key's framing was checked, so the iterator goes on with the next header.
        assert_eq!(hs[2], Ok(("z", Some(&b"2"[..]))));
        // Upgrading reports what the owned decode reports, at the same place.
        assert_eq!(r.to_owned_record().unwrap_err(), e);
        assert_eq!(owned.with_base(&b), e);
        // Debug shows the error rather than failing.
        let dbg = format!("{r:?}");
        assert!(
            dbg.contains("InvalidUtf8") && dbg.contains("(\"ok\", Some(b\"1\"))"),
            "{dbg}"
        );
    }

    #[test]
    fn borrowed_decode_refuses_every_truncation() {
        let headers = [
            RecordHeader::new("h", Some(Bytes::from_static(b"vv"))),
            RecordHeader::new("i", None),
        ];
        let b = with_headers(&headers);
        for n in 0..b.len() {
            let cut = b.slice(..n);
            assert!(decode_record_ref(&cut, &cut, &CTX).is_err(), "{n}");
        }
        // A record whose length prefix is kept but whose header bytes are short or long: an
        // error, never a header iterator that runs off its record.
        let mut shorter = b.to_vec();
        shorter[0] -= 2; // one byte less (zig-zag)
        let shorter = Bytes::from(shorter);
        let r = decode_record_ref(&shorter, &shorter, &CTX);
        assert!(r.is_err() || !r.unwrap().0.is_empty());
    }

    #[test]
    fn hostile_header_counts_are_refused_without_walking() {
        // A record whose header count is i32::MAX (and 2^30, and 2) with only a few bytes of
        // headers: refused from the count alone, in both forms, before any header is read.
        for count in [i32::MAX, 1 << 30, 3] {
            let mut body = vec![0u8, 0, 0, 0x01, 0x01];
            let mut c = ((count << 1) ^ (count >> 31)) as u32;
            while c >= 0x80 {
                body.push((c as u8) | 0x80);
                c >>= 7;
            }
            body.push(c as u8);
            body.extend_from_slice(&[0x02, b'k', 0x01]); // one header: "k" -> null
            let mut rec = vec![(body.len() as u8) << 1];
            rec.extend_from_slice(&body);
            let b = Bytes::from(rec);
            let e = match decode_record_ref(&b, &b, &CTX) {
                Err(nom::Err::Error(e)) => e,
                other => panic!("{count}: {other:?}"),
            };
            if count == 3 {
                // Small enough to walk: the missing headers are a length error.
                assert!(
                    matches!(e.kind, DecodeErrorKind::LengthTooLarge { .. }),
                    "{e}"
                );
            } else {
                assert_eq!(
                    e.kind,
                    DecodeErrorKind::LengthTooLarge {
                        declared: count as u64,
                        remaining: 3
                    }
                );
            }
            match decode_record(&b, &b, &CTX) {
                Err(nom::Err::Error(o)) => assert_eq!(o, e),
                other => panic!("{count}: {other:?}"),
            }
        }
    }

    #[test]
    fn views_of_owned_records() {
        let owned = Record {
            offset: 5,
            timestamp: 6,
            key: None,
            value: Some(Bytes::from_static(b"v")),
            headers: vec![RecordHeader::new("k", None)],
        };
        let r = RecordRef::from(&owned);
        assert_eq!(r, owned);
        assert_eq!(r.header_count(), 1);
        assert_eq!(r.headers().collect::<Vec<_>>(), [Ok(("k", None))]);
        assert_eq!(r.to_owned_record().unwrap(), owned);
        let mut other = owned.clone();
        other.headers[0] = RecordHeader::new("k", Some(Bytes::new()));
        assert_ne!(r, other);
        assert_ne!(other, r);
    }
}
