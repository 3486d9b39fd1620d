//! Primitive encoders and their exact sizes.
//!
//! Generated code first sums the `*_size` functions to reserve the whole frame once, then
//! writes with the `put_*` functions; the two sets must agree byte for byte (checked by the
//! round-trip property tests, which compare the computed size with the bytes written).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::EncodeError;
use crate::{KStr, Uuid};

/// Bytes a uvarint takes.
#[inline]
pub const fn uvarint_size(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0x0fff_ffff => 4,
        _ => 5,
    }
}

/// Bytes a 64-bit uvarint takes.
#[inline]
pub const fn uvarlong_size(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Bytes a zig-zag varint takes.
#[inline]
pub const fn varint_size(v: i32) -> usize {
    uvarint_size(((v << 1) ^ (v >> 31)) as u32)
}

/// Bytes a zig-zag varlong takes.
#[inline]
pub const fn varlong_size(v: i64) -> usize {
    uvarlong_size(((v << 1) ^ (v >> 63)) as u64)
}

/// Writes the uvarint `v` at the start of `out` and returns the bytes written (1 to 5).
#[inline]
pub fn encode_uvarint(out: &mut [u8; 5], mut v: u32) -> usize {
    let mut n = 0;
    while v >= 0x80 && n < 4 {
        out[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    out[n] = v as u8;
    n + 1
}

/// Writes the 64-bit uvarint `v` at the start of `out` and returns the bytes written (1 to 10).
#[inline]
pub fn encode_uvarlong(out: &mut [u8; 10], mut v: u64) -> usize {
    let mut n = 0;
    while v >= 0x80 && n < 9 {
        out[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    out[n] = v as u8;
    n + 1
}

// Each `put_*` call on a `BytesMut` is an out-of-line `extend_from_slice` (capacity check and
// a `memcpy`), so a varint is assembled on the stack and appended with one call, not one per
// byte: the record encoders write several per record.

#[inline]
pub fn put_uvarint(buf: &mut impl BufMut, v: u32) {
    if v < 0x80 {
        buf.put_u8(v as u8);
    } else {
        let mut tmp = [0u8; 5];
        let n = encode_uvarint(&mut tmp, v);
        buf.put_slice(&tmp[..n]);
    }
}

#[inline]
pub fn put_uvarlong(buf: &mut impl BufMut, v: u64) {
    if v < 0x80 {
        buf.put_u8(v as u8);
    } else {
        let mut tmp = [0u8; 10];
        let n = encode_uvarlong(&mut tmp, v);
        buf.put_slice(&tmp[..n]);
    }
}

/// A few short fields (varints, small integers) assembled on the stack and appended to a
/// buffer with one copy; for hot encoders that write several per item (record framing).
/// Writing past `N` bytes panics, so size `N` for the widest sequence written.
#[derive(Debug, Clone, Copy)]
pub struct Scratch<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Default for Scratch<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Scratch<N> {
    /// An empty scratch buffer.
    #[inline]
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

    /// Appends a byte.
    #[inline]
    pub fn put_u8(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// Appends an unsigned varint.
    #[inline]
    pub fn put_uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.put_u8(v as u8);
    }

    /// Appends an unsigned 64-bit varint.
    #[inline]
    pub fn put_uvarlong(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.put_u8(v as u8);
    }

    /// Appends a zig-zag varint.
    #[inline]
    pub fn put_varint(&mut self, v: i32) {
        self.put_uvarint(((v << 1) ^ (v >> 31)) as u32);
    }

    /// Appends a zig-zag varlong.
    #[inline]
    pub fn put_varlong(&mut self, v: i64) {
        self.put_uvarlong(((v << 1) ^ (v >> 63)) as u64);
    }

    /// Appends bytes.
    #[inline]
    pub fn put_slice(&mut self, b: &[u8]) {
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    /// The bytes assembled so far.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Bytes assembled so far.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was assembled.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends the assembled bytes to `buf` (one copy) and empties the scratch buffer.
    #[inline]
    pub fn flush_to(&mut self, buf: &mut impl BufMut) {
        buf.put_slice(&self.buf[..self.len]);
        self.len = 0;
    }
}

#[inline]
pub fn put_varint(buf: &mut impl BufMut, v: i32) {
    put_uvarint(buf, ((v << 1) ^ (v >> 31)) as u32);
}

#[inline]
pub fn put_varlong(buf: &mut impl BufMut, v: i64) {
    put_uvarlong(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Size of a length prefix for `len` items/bytes (`None` = null).
#[inline]
pub fn len_prefix_size(len: Option<usize>, flexible: bool, short: bool) -> usize {
    if flexible {
        uvarint_size(len.map_or(0, |n| n as u32 + 1))
    } else if short {
        2
    } else {
        4
    }
}

/// Checks that a length fits its prefix.
#[inline]
pub fn check_len(
    len: usize,
    flexible: bool,
    short: bool,
    message: &'static str,
    field: &'static str,
) -> Result<(), EncodeError> {
    // Strings are limited to i16::MAX bytes even in compact form, as in Kafka.
    let max = if short {
        i16::MAX as usize
    } else if flexible {
        u32::MAX as usize - 1
    } else {
        i32::MAX as usize
    };
    if len > max {
        Err(EncodeError::TooLong {
            message,
            field,
            len,
        })
    } else {
        Ok(())
    }
}

#[inline]
pub fn put_len(buf: &mut BytesMut, len: Option<usize>, flexible: bool, short: bool) {
    if flexible {
        put_uvarint(buf, len.map_or(0, |n| n as u32 + 1));
    } else if short {
        buf.put_i16(len.map_or(-1, |n| n as i16));
    } else {
        buf.put_i32(len.map_or(-1, |n| n as i32));
    }
}

#[inline]
pub fn string_size(s: Option<&KStr>, flexible: bool) -> usize {
    let n = s.map(|s| s.len());
    len_prefix_size(n, flexible, true) + n.unwrap_or(0)
}

#[inline]
pub fn put_string(buf: &mut BytesMut, s: Option<&KStr>, flexible: bool) {
    put_len(buf, s.map(|s| s.len()), flexible, true);
    if let Some(s) = s {
        buf.put_slice(s.as_bytes());
    }
}

#[inline]
pub fn bytes_size(b: Option<&Bytes>, flexible: bool) -> usize {
    let n = b.map(|b| b.len());
    len_prefix_size(n, flexible, false) + n.unwrap_or(0)
}

#[inline]
pub fn put_bytes(buf: &mut BytesMut, b: Option<&Bytes>, flexible: bool) {
    put_len(buf, b.map(|b| b.len()), flexible, false);
    if let Some(b) = b {
        buf.put_slice(b);
    }
}

#[inline]
pub fn put_uuid(buf: &mut BytesMut, u: &Uuid) {
    buf.put_slice(&u.0);
}

#[inline]
pub fn put_bool(buf: &mut BytesMut, b: bool) {
    buf.put_u8(u8::from(b));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode::{read_uvarint, read_uvarlong, read_varint, read_varlong};

    #[test]
    fn varint_sizes_match_encoding() {
        for v in [
            0u32,
            1,
            127,
            128,
            16383,
            16384,
            2_097_151,
            2_097_152,
            u32::MAX,
        ] {
            let mut b = BytesMut::new();
            put_uvarint(&mut b, v);
            assert_eq!(b.len(), uvarint_size(v), "{v}");
            assert_eq!(read_uvarint(&b).unwrap().1, v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, 300, -300] {
            let mut b = BytesMut::new();
            put_varlong(&mut b, v);
            assert_eq!(b.len(), varlong_size(v), "{v}");
            assert_eq!(read_varlong(&b).unwrap().1, v);
        }
        for v in [0i32, -1, 1, i32::MIN, i32::MAX] {
            let mut b = BytesMut::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), varint_size(v));
            assert_eq!(read_varint(&b).unwrap().1, v);
        }
        let mut b = BytesMut::new();
        put_uvarlong(&mut b, u64::MAX);
        assert_eq!(read_uvarlong(&b).unwrap().1, u64::MAX);
    }

    #[test]
    fn scratch_matches_the_buffer_writers() {
        let mut s = Scratch::<64>::new();
        let mut b = BytesMut::new();
        for v in [
            0i64,
            -1,
            1,
            63,
            64,
            -65,
            300,
            i64::from(i32::MAX),
            i64::MIN,
            i64::MAX,
        ] {
            s.put_varlong(v);
            put_varlong(&mut b, v);
            s.put_varint(v as i32);
            put_varint(&mut b, v as i32);
        }
        s.put_slice(b"abc");
        b.extend_from_slice(b"abc");
        s.put_uvarint(u32::MAX);
        put_uvarint(&mut b, u32::MAX);
        assert_eq!(s.as_slice(), &b[..]);
        let mut out = BytesMut::new();
        s.flush_to(&mut out);
        assert_eq!(out, b);
        assert!(s.is_empty());
    }
}
