//! [`RecordRef`]: a record borrowed from its batch (plain slices, no reference counting),
//! its comparisons with [`Record`], and [`HeaderRefs`], the iterator over its headers that
//! checks header keys for UTF-8 lazily.

use std::fmt;

use bytes::Bytes;

use super::{Record, RecordHeader, nom_error, read_header};
use crate::KStr;
use crate::codec::decode::view;
use crate::error::{DecodeError, DecodeErrorKind};

/// A record borrowed from its [`RecordBatch`](crate::records::RecordBatch), as
/// [`RecordBatch::records_ref`](crate::records::RecordBatch::records_ref) yields it: offset and
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
/// - Use `RecordRef` ([`RecordBatch::records_ref`](crate::records::RecordBatch::records_ref))
///   in hot loops that look at each record while the batch is alive: copying fields out into
///   your own types, deserializing values, aggregating, filtering, counting bytes.
/// - Use [`Record`] ([`RecordBatch::records`](crate::records::RecordBatch::records)) when
///   records outlive the batch or are handed to application code that expects an owned
///   value. A `RecordRef` can be upgraded one at a time with
///   [`to_owned_record`](Self::to_owned_record) (no re-parsing), which is how the owned
///   iterator builds its records anyway.
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
    pub(super) source: Source<'a>,
}

/// Where a [`RecordRef`]'s headers are, and the buffer its views can be made from.
#[derive(Clone, Copy)]
pub(super) enum Source<'a> {
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
