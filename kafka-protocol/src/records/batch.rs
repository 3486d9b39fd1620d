//! A decoded batch (v2 batch, or legacy message entry) and the iterator over its records.
//!
//! v2 records are decoded lazily from the (decompressed) records section, so a consumer pays
//! only for the records it reads; [`RecordBatch::records`] yields them owned and
//! [`RecordBatch::records_ref`] borrowed (see [`RecordRef`] for which to use when). Legacy
//! entries are decoded eagerly when the batch is read: a v1 wrapper's inner offsets can only
//! be made absolute once the last one is known, and legacy data is rare enough that the
//! simpler path wins (its borrowed records are views of the stored owned ones).

use bytes::Bytes;

use super::record::{Record, RecordContext, RecordRef, decode_record_ref, nom_error};
use super::{BatchHeader, TimestampType};
use crate::compression::Compression;
use crate::error::{DecodeError, DecodeErrorKind};

/// One entry of a record set: a v2 record batch, or a legacy (v0/v1) message, which for a
/// compressed wrapper stands for all its inner messages (as in Java's legacy batches).
#[derive(Debug, Clone)]
pub struct RecordBatch {
    header: BatchHeader,
    compression: Compression,
    raw: Bytes,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    /// The records section of a v2 batch, decompressed.
    V2(Bytes),
    /// The messages of a legacy entry, already decoded.
    Legacy(Vec<Record>),
}

impl RecordBatch {
    /// A v2 batch with its (decompressed) records section.
    pub(crate) fn v2(
        header: BatchHeader,
        compression: Compression,
        raw: Bytes,
        records: Bytes,
    ) -> Self {
        Self {
            header,
            compression,
            raw,
            body: Body::V2(records),
        }
    }

    /// A legacy entry with its decoded messages.
    pub(crate) fn legacy(
        header: BatchHeader,
        compression: Compression,
        raw: Bytes,
        records: Vec<Record>,
    ) -> Self {
        Self {
            header,
            compression,
            raw,
            body: Body::Legacy(records),
        }
    }

    /// The header fields (synthesized as Java does for legacy entries; see [`BatchHeader`]).
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The entry exactly as it was in the record set (offset and length fields included).
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Format of the entry: 0, 1 or 2.
    pub fn magic(&self) -> i8 {
        self.header.magic
    }

    /// The codec the entry was compressed with.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Offset of the first record.
    pub fn base_offset(&self) -> i64 {
        self.header.base_offset
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.header.last_offset()
    }

    /// The offset after the last record.
    pub fn next_offset(&self) -> i64 {
        self.header.next_offset()
    }

    /// Epoch of the leader that appended the batch; -1 for legacy entries.
    pub fn partition_leader_epoch(&self) -> i32 {
        self.header.partition_leader_epoch
    }

    /// What record timestamps mean.
    pub fn timestamp_type(&self) -> TimestampType {
        self.header.timestamp_type()
    }

    /// The largest timestamp in the batch (or its log-append time); -1 for magic 0.
    pub fn max_timestamp(&self) -> i64 {
        self.header.max_timestamp
    }

    /// Producer id, or -1 (always for legacy entries).
    pub fn producer_id(&self) -> i64 {
        self.header.producer_id
    }

    /// Producer epoch, or -1.
    pub fn producer_epoch(&self) -> i16 {
        self.header.producer_epoch
    }

    /// Sequence number of the first record, or -1.
    pub fn base_sequence(&self) -> i32 {
        self.header.base_sequence
    }

    /// The sequence number of `record` of this batch, or -1 when the batch has none.
    /// Sequences wrap from `i32::MAX` to 0, as in Java.
    pub fn sequence_of(&self, record: &Record) -> i32 {
        if self.header.base_sequence < 0 {
            return -1;
        }
        let delta = record.offset.wrapping_sub(self.header.base_offset);
        let seq = i64::from(self.header.base_sequence).wrapping_add(delta);
        // Reduce into 0..=i32::MAX, the range sequences live in.
        seq.rem_euclid(i64::from(i32::MAX) + 1) as i32
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.header.is_transactional()
    }

    /// Whether the batch holds control records (see [`control`](super::control)).
    pub fn is_control(&self) -> bool {
        self.header.is_control()
    }

    /// The number of records the entry declares.
    pub fn records_count(&self) -> i32 {
        self.header.records_count
    }

    /// Bytes of the entry in the record set.
    pub fn size_in_bytes(&self) -> usize {
        self.raw.len()
    }

    /// Iterates the records in their owned form, [`Record`]: each can outlive the batch and
    /// be handed to other code. v2 records are decoded as the iterator advances; an error
    /// ends the iteration. The iterator shares the batch's buffer, so it outlives the borrow.
    ///
    /// Each record's key, value and header fields are [`Bytes`] views of the batch's buffer:
    /// cheap, but every view is an atomic reference-count increment (and decrement on drop).
    /// A loop that only reads the records while the batch is alive is faster with
    /// [`Self::records_ref`].
    pub fn records(&self) -> Records {
        match &self.body {
            Body::V2(b) => Records::v2(b.clone(), &self.header),
            Body::Legacy(v) => Records(Inner::Legacy(v.clone().into_iter())),
        }
    }

    /// Iterates the records borrowed from the batch, [`RecordRef`]: offset, timestamp, and
    /// key, value and headers as slices of the batch's buffer. No reference counting and no
    /// allocation per record, so this is the iterator for hot loops that copy fields out,
    /// deserialize values or aggregate while the batch is alive; use [`Self::records`] (or
    /// [`RecordRef::to_owned_record`] for a few of them) for records that must outlive it.
    ///
    /// v2 records are decoded as the iterator advances, with the same checks as
    /// [`Self::records`] except that header keys are checked for UTF-8 only when
    /// [`RecordRef::headers`] reaches them. An error ends the iteration. Legacy (magic 0/1)
    /// entries, decoded when the batch was read, yield views of their stored records.
    pub fn records_ref(&self) -> RecordRefs<'_> {
        RecordRefs(match &self.body {
            Body::V2(body) => RefsInner::V2 {
                body,
                rest: body,
                left: self.header.records_count,
                ctx: RecordContext::of(&self.header),
            },
            Body::Legacy(v) => RefsInner::Legacy(v.iter()),
        })
    }

    /// Like [`Self::records`], consuming the batch.
    pub fn into_records(self) -> Records {
        match self.body {
            Body::V2(b) => Records::v2(b, &self.header),
            Body::Legacy(v) => Records(Inner::Legacy(v.into_iter())),
        }
    }
}

impl IntoIterator for RecordBatch {
    type Item = Result<Record, DecodeError>;
    type IntoIter = Records;

    fn into_iter(self) -> Records {
        self.into_records()
    }
}

/// Iterator over the records of a [`RecordBatch`], owned: see [`RecordBatch::records`].
#[derive(Debug)]
pub struct Records(Inner);

#[derive(Debug)]
enum Inner {
    V2 {
        body: Bytes,
        pos: usize,
        left: i32,
        ctx: RecordContext,
    },
    Legacy(std::vec::IntoIter<Record>),
    Done,
}

impl Records {
    fn v2(body: Bytes, header: &BatchHeader) -> Self {
        Records(Inner::V2 {
            body,
            pos: 0,
            left: header.records_count,
            ctx: RecordContext::of(header),
        })
    }
}

/// Decodes the v2 record at `rest` (a slice of `body`, the records section) when `left`
/// records are still declared, or checks that nothing follows the last one. Returns the
/// bytes after the record with it. Both record iterators are this function.
#[inline(always)]
fn next_v2<'a>(
    body: &'a Bytes,
    rest: &'a [u8],
    left: i32,
    ctx: &RecordContext,
) -> Option<Result<(&'a [u8], RecordRef<'a>), DecodeError>> {
    if left <= 0 {
        if rest.is_empty() {
            return None;
        }
        // As in Java: the records section must end with the declared count.
        return Some(Err(DecodeError::at(
            rest,
            DecodeErrorKind::InvalidValue("bytes left after the declared record count"),
        )
        .in_field("RecordBatch", "records")
        .with_base(body)));
    }
    Some(decode_record_ref(body, rest, ctx).map_err(|e| {
        nom_error(e)
            .in_field("RecordBatch", "records")
            .with_base(body)
    }))
}

/// The most records `bytes` can still hold (every record takes at least 7 bytes), whatever
/// the batch declares.
fn records_hint(left: i32, bytes: usize) -> (usize, Option<usize>) {
    let max = usize::try_from(left).unwrap_or(0);
    (0, Some(max.min(bytes / 7 + 1)))
}

impl Iterator for Records {
    type Item = Result<Record, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let item = match &mut self.0 {
            Inner::V2 {
                body,
                pos,
                left,
                ctx,
            } => {
                let rest = body.get(*pos..).unwrap_or_default();
                match next_v2(body, rest, *left, ctx) {
                    Some(Ok((after, record))) => {
                        *pos += rest.len() - after.len();
                        *left -= 1;
                        Some(record.to_owned_record())
                    }
                    Some(Err(e)) => Some(Err(e)),
                    None => None,
                }
            }
            Inner::Legacy(it) => return it.next().map(Ok),
            Inner::Done => return None,
        };
        if !matches!(item, Some(Ok(_))) {
            self.0 = Inner::Done;
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            Inner::V2 {
                left, body, pos, ..
            } => records_hint(*left, body.len().saturating_sub(*pos)),
            Inner::Legacy(it) => it.size_hint(),
            Inner::Done => (0, Some(0)),
        }
    }
}

impl std::iter::FusedIterator for Records {}

/// Iterator over the records of a [`RecordBatch`], borrowed: see [`RecordBatch::records_ref`].
#[derive(Clone)]
pub struct RecordRefs<'a>(RefsInner<'a>);

#[derive(Clone)]
enum RefsInner<'a> {
    V2 {
        body: &'a Bytes,
        rest: &'a [u8],
        left: i32,
        ctx: RecordContext,
    },
    Legacy(std::slice::Iter<'a, Record>),
    Done,
}

impl<'a> Iterator for RecordRefs<'a> {
    type Item = Result<RecordRef<'a>, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let item = match &mut self.0 {
            RefsInner::V2 {
                body,
                rest,
                left,
                ctx,
            } => match next_v2(body, rest, *left, ctx) {
                Some(Ok((after, record))) => {
                    *rest = after;
                    *left -= 1;
                    return Some(Ok(record));
                }
                Some(Err(e)) => Some(Err(e)),
                None => None,
            },
            RefsInner::Legacy(it) => return it.next().map(|r| Ok(RecordRef::from(r))),
            RefsInner::Done => return None,
        };
        // The end, or an error: nothing follows either.
        self.0 = RefsInner::Done;
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            RefsInner::V2 { left, rest, .. } => records_hint(*left, rest.len()),
            RefsInner::Legacy(it) => it.size_hint(),
            RefsInner::Done => (0, Some(0)),
        }
    }
}

impl std::iter::FusedIterator for RecordRefs<'_> {}

impl std::fmt::Debug for RecordRefs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("RecordRefs");
        match &self.0 {
            RefsInner::V2 { rest, left, .. } => d
                .field("declared_left", left)
                .field("bytes_left", &rest.len()),
            RefsInner::Legacy(it) => d.field("legacy_left", &it.len()),
            RefsInner::Done => d.field("done", &true),
        };
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{BatchOptions, RecordBatchBuilder, RecordSetReader};

    fn batch(opts: BatchOptions, n: usize) -> RecordBatch {
        let mut b = RecordBatchBuilder::new(opts);
        for i in 0..n {
            b.append(1000 + i as i64, None, Some(format!("v{i}").as_bytes()), &[])
                .unwrap();
        }
        RecordSetReader::new(b.build().unwrap())
            .next()
            .unwrap()
            .unwrap()
    }

    #[test]
    fn sequences_follow_offsets_and_wrap() {
        let b = batch(
            BatchOptions {
                producer_id: 5,
                producer_epoch: 1,
                base_sequence: i32::MAX - 1,
                base_offset: 10,
                ..Default::default()
            },
            4,
        );
        let seqs: Vec<i32> = b.records().map(|r| b.sequence_of(&r.unwrap())).collect();
        assert_eq!(seqs, [i32::MAX - 1, i32::MAX, 0, 1]);
        let none = batch(BatchOptions::default(), 1);
        assert_eq!(
            none.sequence_of(&none.records().next().unwrap().unwrap()),
            -1
        );
    }

    #[test]
    fn count_mismatches_are_errors() {
        let b = batch(BatchOptions::default(), 3);
        // Claim fewer records than there are: the leftover bytes are an error.
        let mut h = *b.header();
        h.records_count = 2;
        let Body::V2(body) = &b.body else { panic!() };
        let short = RecordBatch::v2(h, Compression::None, b.raw().clone(), body.clone());
        let r: Vec<_> = short.records().collect();
        assert_eq!(r.len(), 3);
        assert!(r[2].is_err());
        // Claim more: the missing record is an error, then the iterator stops.
        h.records_count = i32::MAX;
        let long = RecordBatch::v2(h, Compression::None, b.raw().clone(), body.clone());
        let r: Vec<_> = long.records().collect();
        assert_eq!(r.len(), 4);
        assert!(r[3].is_err());
        assert!(long.records().size_hint().1.unwrap() < 10);
    }

    #[test]
    fn log_append_time_replaces_record_timestamps() {
        let b = batch(
            BatchOptions {
                timestamp_type: TimestampType::LogAppendTime,
                ..Default::default()
            },
            3,
        );
        assert_eq!(b.max_timestamp(), 1002);
        assert!(b.records().all(|r| r.unwrap().timestamp == 1002));
    }
}
