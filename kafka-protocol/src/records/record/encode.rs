//! Writing one record: `RecordFields` computes a record's exact size and writes it with
//! its varint framing, staging short fields on the stack so a record costs few appends.

use bytes::{BufMut, BytesMut};

use super::RecordHeader;
use crate::codec::encode::{Scratch, varint_size, varlong_size};
use crate::error::EncodeError;

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
