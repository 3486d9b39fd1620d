//! Tagged fields (KIP-482) that this codec does not know, kept so they are written back.

use bytes::{BufMut, Bytes, BytesMut};

use super::encode::{put_uvarint, uvarint_size};

/// A tagged field whose tag this codec does not know: kept as received and written back
/// unchanged (in tag order, among the known ones).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawTaggedField {
    /// The tag.
    pub tag: u32,
    /// The field's bytes, a view into the frame it came from.
    pub data: Bytes,
}

impl RawTaggedField {
    /// Bytes this field takes on the wire, with its tag and size.
    #[inline]
    pub fn wire_size(&self) -> usize {
        uvarint_size(self.tag) + uvarint_size(self.data.len() as u32) + self.data.len()
    }

    /// Writes the field with its tag and size.
    #[inline]
    pub fn put(&self, buf: &mut BytesMut) {
        put_uvarint(buf, self.tag);
        put_uvarint(buf, self.data.len() as u32);
        buf.put_slice(&self.data);
    }
}

/// Writes the unknown fields whose tag is below `below` and returns how many were written;
/// `start` is how many of `fields` (sorted by tag) were already written.
#[inline]
pub fn put_unknown_below(
    buf: &mut BytesMut,
    fields: &[RawTaggedField],
    start: usize,
    below: u64,
) -> usize {
    let mut n = start;
    while n < fields.len() && u64::from(fields[n].tag) < below {
        fields[n].put(buf);
        n += 1;
    }
    n
}
