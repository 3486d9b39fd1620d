//! Compression codecs for record batches.
//!
//! Kafka compresses the records section of a v2 batch, or the value of a legacy (v0/v1)
//! wrapper message, with one of four codecs named by bits 0-2 of the attributes. This module
//! writes each codec the way the Java client does (so Java, librdkafka and every other client
//! can read it) and reads what they write:
//!
//! - gzip: a gzip stream (several concatenated members are accepted, as Java's
//!   `GZIPInputStream` does).
//! - snappy: the xerial block framing Java writes (`\x82SNAPPY\0`, version, compat, then
//!   length-prefixed raw snappy blocks of 32 KiB input), or a bare raw snappy block.
//! - lz4: the LZ4 frame format with independent blocks. Magic 0 messages carry the header
//!   checksum Kafka 0.8/0.9 computed wrongly; [`compress_for_magic`] writes it that way and
//!   [`decompress_for_magic`] ignores it, as Java does.
//! - zstd: a zstd stream (several concatenated frames are accepted).
//!
//! Decompression is bounded: output beyond `max_size` bytes is refused, and the output is
//! read incrementally, so a small hostile input cannot make the decoder allocate more than
//! the limit (a decompression bomb).

mod gzip;
mod lz4;
mod snappy;
mod zstd;

use std::fmt;
use std::io::Read;

use bytes::Bytes;

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};

/// A record compression codec, as stored in bits 0-2 of batch or message attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (id 0).
    #[default]
    None,
    /// gzip (id 1).
    Gzip,
    /// Snappy, in the xerial framing (id 2).
    Snappy,
    /// LZ4 frame format (id 3).
    Lz4,
    /// Zstandard (id 4; record batch v2 only).
    Zstd,
}

impl Compression {
    /// The attribute bits that hold the codec id.
    pub const ATTRIBUTE_MASK: i16 = 0x07;

    /// Every codec, in id order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec id written in attribute bits 0-2.
    pub const fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec with this id, or `None` for ids 5-7 (and anything above 7).
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The codec named by bits 0-2 of batch or message attributes.
    pub fn from_attributes(attributes: i16) -> Result<Self, DecodeError> {
        let id = (attributes & Self::ATTRIBUTE_MASK) as u8;
        Self::from_id(id).ok_or_else(|| DecodeError::new(DecodeErrorKind::UnknownCompression(id)))
    }

    /// The name Kafka's `compression.type` setting uses.
    pub const fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<u8> for Compression {
    type Error = DecodeError;

    fn try_from(id: u8) -> Result<Self, DecodeError> {
        Self::from_id(id).ok_or_else(|| DecodeError::new(DecodeErrorKind::UnknownCompression(id)))
    }
}

/// Compresses `data` with `codec` as a v1/v2 producer does. `level` is codec-specific
/// (gzip 0-9, zstd's levels; ignored by snappy and lz4); `None` uses the codec's default.
/// [`Compression::None`] returns a copy of `data`.
pub fn compress(codec: Compression, data: &[u8], level: Option<i32>) -> Result<Bytes, EncodeError> {
    compress_for_magic(codec, data, level, 2)
}

/// Like [`compress`], for a message of format `magic`: for magic 0, LZ4 frames carry the
/// header checksum Kafka 0.8/0.9 expected (computed over the frame magic too).
pub fn compress_for_magic(
    codec: Compression,
    data: &[u8],
    level: Option<i32>,
    magic: i8,
) -> Result<Bytes, EncodeError> {
    let out = match codec {
        Compression::None => data.to_vec(),
        Compression::Gzip => gzip::compress(data, level)?,
        Compression::Snappy => snappy::compress(data)?,
        Compression::Lz4 => lz4::compress(data, magic == 0)?,
        Compression::Zstd => zstd::compress(data, level)?,
    };
    Ok(Bytes::from(out))
}

/// Decompresses `data`, refusing more than `max_size` bytes of output.
/// [`Compression::None`] returns a copy of `data` (subject to the same limit).
pub fn decompress(codec: Compression, data: &[u8], max_size: usize) -> Result<Bytes, DecodeError> {
    decompress_for_magic(codec, data, max_size, 2)
}

/// Like [`decompress`], for a message of format `magic`: for magic 0 the LZ4 frame header
/// checksum is not checked, because Kafka 0.8/0.9 wrote it wrongly.
pub fn decompress_for_magic(
    codec: Compression,
    data: &[u8],
    max_size: usize,
    magic: i8,
) -> Result<Bytes, DecodeError> {
    let out = match codec {
        Compression::None => {
            if data.len() > max_size {
                return Err(too_large("none", max_size));
            }
            data.to_vec()
        }
        Compression::Gzip => gzip::decompress(data, max_size)?,
        Compression::Snappy => snappy::decompress(data, max_size)?,
        Compression::Lz4 => lz4::decompress(data, max_size, magic == 0)?,
        Compression::Zstd => zstd::decompress(data, max_size)?,
    };
    Ok(Bytes::from(out))
}

/// The error for output beyond the limit.
fn too_large(codec: &str, max_size: usize) -> DecodeError {
    DecodeError::new(DecodeErrorKind::Decompression(format!(
        "{codec} output exceeds the limit of {max_size} bytes"
    )))
}

/// A decoder failure, with the codec named.
fn corrupt(codec: &str, e: impl fmt::Display) -> DecodeError {
    DecodeError::new(DecodeErrorKind::Decompression(format!("{codec}: {e}")))
}

/// A compressor failure, with the codec named.
fn encode_failed(codec: &str, e: impl fmt::Display) -> EncodeError {
    EncodeError::Compression(format!("{codec}: {e}"))
}

/// First allocation for streaming decoders: a guess from the input size (records compress
/// a few times over), never above the limit, and small enough that a hostile input cannot
/// make the guess itself expensive.
fn initial_capacity(input_len: usize, max_size: usize) -> usize {
    input_len
        .saturating_mul(4)
        .clamp(256, 1 << 20)
        .min(max_size.saturating_add(1))
}

/// Reads a streaming decoder to the end, failing once the output passes `max_size`.
///
/// The reader is wrapped in `take(max_size + 1)`, so at most one byte past the limit is ever
/// produced; seeing that byte is how an over-long stream is told from one that fits exactly.
fn read_bounded(
    reader: impl Read,
    codec: &str,
    input_len: usize,
    max_size: usize,
) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(initial_capacity(input_len, max_size));
    let limit = u64::try_from(max_size)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(codec, e))?;
    if out.len() > max_size {
        return Err(too_large(codec, max_size));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Vec<u8> {
        // Compressible but not trivial: a counter pattern with some text.
        (0..n)
            .map(|i| {
                if i % 7 == 0 {
                    (i / 7) as u8
                } else {
                    b"kafka-records"[i % 13]
                }
            })
            .collect()
    }

    #[test]
    fn ids_round_trip() {
        for c in Compression::ALL {
            assert_eq!(Compression::from_id(c.id()), Some(c));
            assert_eq!(Compression::try_from(c.id()).unwrap(), c);
            assert_eq!(
                Compression::from_attributes(0x30 | i16::from(c.id())).unwrap(),
                c
            );
        }
        for id in 5..=7u8 {
            let e = Compression::try_from(id).unwrap_err();
            assert_eq!(e.kind, DecodeErrorKind::UnknownCompression(id));
            assert!(Compression::from_attributes(i16::from(id)).is_err());
        }
        assert_eq!(Compression::Zstd.to_string(), "zstd");
    }

    #[test]
    fn every_codec_round_trips() {
        for n in [0usize, 1, 100, 32 * 1024, 32 * 1024 + 1, 200_000] {
            let data = sample(n);
            for c in Compression::ALL {
                for magic in [0i8, 1, 2] {
                    let z = compress_for_magic(c, &data, None, magic).unwrap();
                    let back = decompress_for_magic(c, &z, data.len(), magic).unwrap();
                    assert_eq!(back.as_ref(), &data[..], "{c} magic {magic} n {n}");
                }
            }
        }
    }

    #[test]
    fn levels_are_honoured_or_refused() {
        let data = sample(10_000);
        for level in [1, 9] {
            let z = compress(Compression::Gzip, &data, Some(level)).unwrap();
            assert_eq!(decompress(Compression::Gzip, &z, 10_000).unwrap(), data);
        }
        assert!(compress(Compression::Gzip, &data, Some(42)).is_err());
        for level in [1, 3, 19] {
            let z = compress(Compression::Zstd, &data, Some(level)).unwrap();
            assert_eq!(decompress(Compression::Zstd, &z, 10_000).unwrap(), data);
        }
    }

    #[test]
    fn output_over_the_limit_is_refused() {
        // A bomb: 16 MiB of zeros compresses to a few KiB.
        let zeros = vec![0u8; 16 << 20];
        for c in Compression::ALL {
            let z = compress(c, &zeros, None).unwrap();
            let e = decompress(c, &z, 1 << 20).unwrap_err();
            assert!(
                matches!(e.kind, DecodeErrorKind::Decompression(ref m) if m.contains("limit")),
                "{c}: {e}"
            );
            // Exactly at the limit is fine.
            assert_eq!(
                decompress(c, &z, zeros.len()).unwrap().len(),
                zeros.len(),
                "{c}"
            );
        }
    }

    #[test]
    fn garbage_is_a_typed_error() {
        let junk: Vec<u8> = (0..300u32).map(|i| (i * 37 % 251) as u8).collect();
        for c in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            for len in [0, 1, 5, 16, 17, 300] {
                let r = decompress(c, &junk[..len], 1 << 20);
                if let Err(e) = r {
                    assert!(
                        matches!(e.kind, DecodeErrorKind::Decompression(_)),
                        "{c}: {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn truncated_streams_never_panic() {
        let data = sample(70_000);
        for c in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let z = compress(c, &data, None).unwrap();
            for cut in (0..z.len()).step_by(97) {
                let _ = decompress(c, &z[..cut], 1 << 20);
            }
        }
    }
}
