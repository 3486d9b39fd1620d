//! Primitive decoders: nom parsers over a slice of the received frame.
//!
//! Every parser takes the frame (`&Bytes`) it slices into, so byte fields and strings come
//! out as views (`Bytes::slice_ref`) rather than copies. Every length or count prefix is
//! checked against the bytes left before anything is sliced or allocated.

use bytes::Bytes;
use nom::number::complete as num;

use super::PResult;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::{KStr, Uuid};

fn eof(i: &[u8]) -> nom::Err<DecodeError> {
    nom::Err::Error(DecodeError::at(i, DecodeErrorKind::UnexpectedEof))
}

fn fail(i: &[u8], kind: DecodeErrorKind) -> nom::Err<DecodeError> {
    nom::Err::Error(DecodeError::at(i, kind))
}

/// A view of `sub` inside `frame` without copying; copies only if `sub` is not inside `frame`
/// (a caller that decodes from a buffer it did not pass as the frame), so misuse cannot panic.
#[inline]
pub fn view(frame: &Bytes, sub: &[u8]) -> Bytes {
    // One range check here, then `slice` (not `slice_ref`, which checks the pointers again):
    // this runs twice per record (key and value) on the consumer's hot path.
    let off = (sub.as_ptr() as usize).wrapping_sub(frame.as_ptr() as usize);
    if sub.is_empty() {
        Bytes::new()
    } else if off <= frame.len() && sub.len() <= frame.len() - off {
        frame.slice(off..off + sub.len())
    } else {
        Bytes::copy_from_slice(sub)
    }
}

/// Takes `n` bytes, refusing a length longer than the input.
#[inline]
pub fn take(i: &[u8], n: usize) -> PResult<'_, &[u8]> {
    if n > i.len() {
        return Err(fail(
            i,
            DecodeErrorKind::LengthTooLarge {
                declared: n as u64,
                remaining: i.len(),
            },
        ));
    }
    Ok((&i[n..], &i[..n]))
}

#[inline]
pub fn read_i8(i: &[u8]) -> PResult<'_, i8> {
    num::be_i8(i)
}
#[inline]
pub fn read_i16(i: &[u8]) -> PResult<'_, i16> {
    num::be_i16(i)
}
#[inline]
pub fn read_u16(i: &[u8]) -> PResult<'_, u16> {
    num::be_u16(i)
}
#[inline]
pub fn read_i32(i: &[u8]) -> PResult<'_, i32> {
    num::be_i32(i)
}
#[inline]
pub fn read_u32(i: &[u8]) -> PResult<'_, u32> {
    num::be_u32(i)
}
#[inline]
pub fn read_i64(i: &[u8]) -> PResult<'_, i64> {
    num::be_i64(i)
}
#[inline]
pub fn read_f64(i: &[u8]) -> PResult<'_, f64> {
    num::be_f64(i)
}
#[inline]
pub fn read_bool(i: &[u8]) -> PResult<'_, bool> {
    let (i, b) = num::be_u8(i)?;
    Ok((i, b != 0))
}
#[inline]
pub fn read_uuid(i: &[u8]) -> PResult<'_, Uuid> {
    let (rest, b) = take(i, 16).map_err(|_| eof(i))?;
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    Ok((rest, Uuid(a)))
}

/// Unsigned LEB128 varint of at most 5 bytes (32 bits).
#[inline]
pub fn read_uvarint(i: &[u8]) -> PResult<'_, u32> {
    // Fast paths: record lengths, deltas and key/value lengths are mostly 1 or 2 bytes.
    match i {
        [b0, rest @ ..] if *b0 < 0x80 => return Ok((rest, u32::from(*b0))),
        [b0, b1, rest @ ..] if *b1 < 0x80 => {
            return Ok((rest, u32::from(b0 & 0x7f) | (u32::from(*b1) << 7)));
        }
        _ => {}
    }
    read_uvarint_slow(i)
}

#[inline(never)]
fn read_uvarint_slow(i: &[u8]) -> PResult<'_, u32> {
    let mut value: u32 = 0;
    for (n, &b) in i.iter().enumerate().take(5) {
        if n == 4 && b > 0x0f {
            return Err(fail(i, DecodeErrorKind::VarintOverflow));
        }
        value |= u32::from(b & 0x7f) << (7 * n);
        if b & 0x80 == 0 {
            return Ok((&i[n + 1..], value));
        }
    }
    if i.len() >= 5 {
        Err(fail(i, DecodeErrorKind::VarintOverflow))
    } else {
        Err(eof(i))
    }
}

/// Unsigned LEB128 varint of at most 10 bytes (64 bits).
#[inline]
pub fn read_uvarlong(i: &[u8]) -> PResult<'_, u64> {
    match i {
        [b0, rest @ ..] if *b0 < 0x80 => return Ok((rest, u64::from(*b0))),
        [b0, b1, rest @ ..] if *b1 < 0x80 => {
            return Ok((rest, u64::from(b0 & 0x7f) | (u64::from(*b1) << 7)));
        }
        _ => {}
    }
    read_uvarlong_slow(i)
}

#[inline(never)]
fn read_uvarlong_slow(i: &[u8]) -> PResult<'_, u64> {
    let mut value: u64 = 0;
    for (n, &b) in i.iter().enumerate().take(10) {
        if n == 9 && b > 0x01 {
            return Err(fail(i, DecodeErrorKind::VarintOverflow));
        }
        value |= u64::from(b & 0x7f) << (7 * n);
        if b & 0x80 == 0 {
            return Ok((&i[n + 1..], value));
        }
    }
    if i.len() >= 10 {
        Err(fail(i, DecodeErrorKind::VarintOverflow))
    } else {
        Err(eof(i))
    }
}

/// Zig-zag signed varint (32 bits), as used inside records.
#[inline]
pub fn read_varint(i: &[u8]) -> PResult<'_, i32> {
    let (i, u) = read_uvarint(i)?;
    Ok((i, ((u >> 1) as i32) ^ -((u & 1) as i32)))
}

/// Zig-zag signed varlong (64 bits), as used inside records.
#[inline]
pub fn read_varlong(i: &[u8]) -> PResult<'_, i64> {
    let (i, u) = read_uvarlong(i)?;
    Ok((i, ((u >> 1) as i64) ^ -((u & 1) as i64)))
}

/// Reads a length prefix: `Ok(None)` for null. Classic prefixes are i16 (strings) or i32
/// (bytes, arrays) with -1 for null; compact prefixes are uvarint(len + 1) with 0 for null.
#[inline]
fn read_len(i: &[u8], flexible: bool, short: bool) -> PResult<'_, Option<usize>> {
    if flexible {
        let (r, n) = read_uvarint(i)?;
        // Strings are at most i16::MAX bytes in every encoding, as Kafka's own decoder
        // insists; a longer compact string is refused rather than accepted here and
        // rejected by a Java peer later.
        if short && n > i16::MAX as u32 + 1 {
            return Err(fail(i, DecodeErrorKind::InvalidLength(i64::from(n) - 1)));
        }
        Ok((r, if n == 0 { None } else { Some(n as usize - 1) }))
    } else {
        let (r, n) = if short {
            let (r, n) = read_i16(i)?;
            (r, i32::from(n))
        } else {
            read_i32(i)?
        };
        match n {
            -1 => Ok((r, None)),
            n if n < 0 => Err(fail(i, DecodeErrorKind::InvalidLength(i64::from(n)))),
            n => Ok((r, Some(n as usize))),
        }
    }
}

fn not_null<T>(i: &[u8], v: Option<T>) -> Result<T, nom::Err<DecodeError>> {
    v.ok_or_else(|| fail(i, DecodeErrorKind::InvalidLength(-1)))
}

#[inline]
pub fn read_nullable_string<'a>(
    frame: &Bytes,
    i: &'a [u8],
    flexible: bool,
) -> PResult<'a, Option<KStr>> {
    let (r, len) = read_len(i, flexible, true)?;
    match len {
        None => Ok((r, None)),
        Some(n) => {
            let (r, s) = take(r, n)?;
            if std::str::from_utf8(s).is_err() {
                return Err(fail(i, DecodeErrorKind::InvalidUtf8));
            }
            Ok((r, Some(KStr::from_utf8_unchecked_bytes(view(frame, s)))))
        }
    }
}

#[inline]
pub fn read_string<'a>(frame: &Bytes, i: &'a [u8], flexible: bool) -> PResult<'a, KStr> {
    let (r, s) = read_nullable_string(frame, i, flexible)?;
    Ok((r, not_null(i, s)?))
}

#[inline]
pub fn read_nullable_bytes<'a>(
    frame: &Bytes,
    i: &'a [u8],
    flexible: bool,
) -> PResult<'a, Option<Bytes>> {
    let (r, len) = read_len(i, flexible, false)?;
    match len {
        None => Ok((r, None)),
        Some(n) => {
            let (r, s) = take(r, n)?;
            Ok((r, Some(view(frame, s))))
        }
    }
}

#[inline]
pub fn read_bytes<'a>(frame: &Bytes, i: &'a [u8], flexible: bool) -> PResult<'a, Bytes> {
    let (r, s) = read_nullable_bytes(frame, i, flexible)?;
    Ok((r, not_null(i, s)?))
}

/// Reads an array; `Ok(None)` for a null array. The count is refused if it exceeds the bytes
/// left (as Kafka's own decoder does), and the initial allocation never exceeds them either.
#[inline]
pub fn read_nullable_array<'a, T>(
    frame: &Bytes,
    i: &'a [u8],
    flexible: bool,
    mut elem: impl FnMut(&Bytes, &'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Option<Vec<T>>> {
    let (mut r, len) = read_len(i, flexible, false)?;
    let Some(n) = len else {
        return Ok((r, None));
    };
    if n > r.len() {
        return Err(fail(
            i,
            DecodeErrorKind::LengthTooLarge {
                declared: n as u64,
                remaining: r.len(),
            },
        ));
    }
    let cap = n.min(r.len() / std::mem::size_of::<T>().max(1));
    let mut v = Vec::with_capacity(cap);
    for _ in 0..n {
        let (rest, x) = elem(frame, r)?;
        r = rest;
        v.push(x);
    }
    Ok((r, Some(v)))
}

#[inline]
pub fn read_array<'a, T>(
    frame: &Bytes,
    i: &'a [u8],
    flexible: bool,
    elem: impl FnMut(&Bytes, &'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    let (r, v) = read_nullable_array(frame, i, flexible, elem)?;
    Ok((r, not_null(i, v)?))
}

/// Reads the marker byte in front of a nullable struct: `true` when a value follows.
#[inline]
pub fn read_struct_marker(i: &[u8]) -> PResult<'_, bool> {
    let (r, m) = read_i8(i)?;
    Ok((r, m >= 0))
}

/// Reads one tagged-field header: (tag, data).
#[inline]
pub fn read_tagged_field(i: &[u8]) -> PResult<'_, (u32, &[u8])> {
    let (r, tag) = read_uvarint(i)?;
    let (r, size) = read_uvarint(r)?;
    let (r, data) = take(r, size as usize)?;
    Ok((r, (tag, data)))
}

/// A nullable string field: null is accepted only when the version allows it.
#[inline]
pub fn read_opt_string<'a>(
    frame: &Bytes,
    i: &'a [u8],
    flexible: bool,
    nullable: bool,
) -> PResult<'a, Option<KStr>> {
    let (r, s) = read_nullable_string(frame, i, flexible)?;
    if s.is_none() && !nullable {
        return Err(fail(i, DecodeErrorKind::InvalidLength(-1)));
    }
    Ok((r, s))
}

/// A nullable bytes (or records) field: null is accepted only when the version allows it.
#[inline]
pub fn read_opt_bytes<'a>(
    frame: &Bytes,
    i: &'a [u8],
    flexible: bool,
    nullable: bool,
) -> PResult<'a, Option<Bytes>> {
    let (r, b) = read_nullable_bytes(frame, i, flexible)?;
    if b.is_none() && !nullable {
        return Err(fail(i, DecodeErrorKind::InvalidLength(-1)));
    }
    Ok((r, b))
}

/// A nullable array field: null is accepted only when the version allows it.
#[inline]
pub fn read_opt_array<'a, T>(
    frame: &Bytes,
    i: &'a [u8],
    flexible: bool,
    nullable: bool,
    elem: impl FnMut(&Bytes, &'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Option<Vec<T>>> {
    let (r, v) = read_nullable_array(frame, i, flexible, elem)?;
    if v.is_none() && !nullable {
        return Err(fail(i, DecodeErrorKind::InvalidLength(-1)));
    }
    Ok((r, v))
}

/// A nullable struct field: an i8 marker (-1 null) precedes it in versions where it is
/// nullable; elsewhere the struct is always present.
#[inline]
pub fn read_opt_struct<'a, T>(
    i: &'a [u8],
    nullable: bool,
    decode: impl FnOnce(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Option<T>> {
    if nullable {
        let (r, present) = read_struct_marker(i)?;
        if !present {
            return Ok((r, None));
        }
        let (r, v) = decode(r)?;
        Ok((r, Some(v)))
    } else {
        let (r, v) = decode(i)?;
        Ok((r, Some(v)))
    }
}

/// Names the message and field in an error (the innermost name wins).
#[inline]
pub fn ctx(
    e: nom::Err<DecodeError>,
    message: &'static str,
    field: &'static str,
) -> nom::Err<DecodeError> {
    e.map(|e| e.in_field(message, field))
}

/// The error for decoding a message at a version it does not have.
#[cold]
pub fn unsupported_version(i: &[u8], version: i16, message: &'static str) -> nom::Err<DecodeError> {
    nom::Err::Error(
        DecodeError::at(i, DecodeErrorKind::UnsupportedVersion(version)).in_field(message, ""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(read_uvarint(&[0x00]).unwrap().1, 0);
        assert_eq!(read_uvarint(&[0x96, 0x01]).unwrap().1, 150);
        assert_eq!(
            read_uvarint(&[0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap().1,
            u32::MAX
        );
        assert!(read_uvarint(&[0xff, 0xff, 0xff, 0xff, 0x1f]).is_err());
        assert!(read_uvarint(&[0xff, 0xff]).is_err());
        assert_eq!(read_varint(&[0x01]).unwrap().1, -1);
        assert_eq!(read_varint(&[0x02]).unwrap().1, 1);
        assert_eq!(read_varlong(&[0x03]).unwrap().1, -2);
    }

    #[test]
    fn huge_length_prefixes_are_refused_without_allocating() {
        let frame = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0]);
        let e = read_bytes(&frame, &frame, false).unwrap_err();
        let nom::Err::Error(e) = e else { panic!() };
        assert!(matches!(e.kind, DecodeErrorKind::LengthTooLarge { .. }));
        let e = read_array(&frame, &frame, false, |_, i| read_i8(i)).unwrap_err();
        let nom::Err::Error(e) = e else { panic!() };
        assert!(matches!(
            e.kind,
            DecodeErrorKind::LengthTooLarge {
                declared: 0x7fff_ffff,
                remaining: 2
            }
        ));
        // compact array count near u32::MAX
        let frame = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(read_array(&frame, &frame, true, |_, i| read_i8(i)).is_err());
        // negative (non -1) lengths are invalid
        let frame = Bytes::from_static(&[0xff, 0xfe]);
        assert!(read_nullable_string(&frame, &frame, false).is_err());
    }

    #[test]
    fn strings_are_views_into_the_frame() {
        let frame = Bytes::from_static(&[0, 3, b'a', b'b', b'c']);
        let (_, s) = read_string(&frame, &frame, false).unwrap();
        assert_eq!(s.as_str(), "abc");
        assert_eq!(s.as_bytes().as_ptr(), frame[2..].as_ptr());
        let bad = Bytes::from_static(&[0, 2, 0xff, 0xfe]);
        assert!(read_string(&bad, &bad, false).is_err());
    }
}
