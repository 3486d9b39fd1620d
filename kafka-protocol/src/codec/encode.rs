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

#[inline]
pub fn put_uvarint(buf: &mut impl BufMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

#[inline]
pub fn put_uvarlong(buf: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
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
    let max = if flexible {
        u32::MAX as usize - 1
    } else if short {
        i16::MAX as usize
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
        for v in [0u32, 1, 127, 128, 16383, 16384, 2_097_151, 2_097_152, u32::MAX] {
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
}
