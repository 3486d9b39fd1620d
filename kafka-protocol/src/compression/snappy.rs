//! Snappy in the xerial block framing that Java's `SnappyOutputStream` writes.
//!
//! The stream is a 16-byte header (`\x82SNAPPY\0`, then version and minimum compatible
//! version as big-endian i32s, both 1) followed by blocks, each a big-endian i32 length and
//! a raw snappy block compressing up to 32 KiB of input. Some producers (old librdkafka,
//! other clients) send a single raw snappy block instead, so input without the header is
//! read as one raw block. The version fields are not checked: some producers write them
//! little-endian, and Java and kafka-python ignore them too.

use super::{corrupt, encode_failed, too_large};
use crate::error::{DecodeError, EncodeError};

/// The xerial magic.
const MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Magic, version 1, minimum compatible version 1.
const HEADER: [u8; 16] = [
    0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
];
/// Uncompressed bytes per block: snappy-java's default, which Kafka uses.
const BLOCK_SIZE: usize = 32 * 1024;

/// Compresses into the xerial framing, 32 KiB of input per block.
pub(super) fn compress(data: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let blocks = data.len().div_ceil(BLOCK_SIZE);
    let mut out = Vec::with_capacity(
        HEADER.len() + blocks * 4 + snap::raw::max_compress_len(data.len().min(BLOCK_SIZE)),
    );
    out.extend_from_slice(&HEADER);
    let mut enc = snap::raw::Encoder::new();
    for chunk in data.chunks(BLOCK_SIZE) {
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let start = out.len();
        out.resize(start + snap::raw::max_compress_len(chunk.len()), 0);
        let n = enc
            .compress(chunk, &mut out[start..])
            .map_err(|e| encode_failed("snappy", e))?;
        out.truncate(start + n);
        // A block of at most 32 KiB input compresses to well under 2 GiB.
        let n = i32::try_from(n).map_err(|e| encode_failed("snappy", e))?;
        out[len_at..start].copy_from_slice(&n.to_be_bytes());
    }
    Ok(out)
}

/// Decompresses the xerial framing, or a single raw snappy block.
pub(super) fn decompress(data: &[u8], max_size: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    let mut dec = snap::raw::Decoder::new();
    match data.strip_prefix(&MAGIC) {
        // kafka-python requires more than the header; an empty xerial stream is still valid.
        Some(rest) if rest.len() >= 8 => {
            let mut rest = rest.get(8..).unwrap_or_default();
            while !rest.is_empty() {
                let (len, tail) = rest
                    .split_first_chunk::<4>()
                    .ok_or_else(|| corrupt("snappy", "truncated xerial block length"))?;
                let len = usize::try_from(i32::from_be_bytes(*len))
                    .map_err(|_| corrupt("snappy", "negative xerial block length"))?;
                if len > tail.len() {
                    return Err(corrupt("snappy", "xerial block longer than the input"));
                }
                let (block, tail) = tail.split_at(len);
                decompress_block(&mut dec, block, &mut out, max_size)?;
                rest = tail;
            }
        }
        _ => decompress_block(&mut dec, data, &mut out, max_size)?,
    }
    Ok(out)
}

/// Appends one raw block's output, checking its declared size against what the limit leaves
/// before allocating for it.
fn decompress_block(
    dec: &mut snap::raw::Decoder,
    block: &[u8],
    out: &mut Vec<u8>,
    max_size: usize,
) -> Result<(), DecodeError> {
    let n = snap::raw::decompress_len(block).map_err(|e| corrupt("snappy", e))?;
    if n > max_size.saturating_sub(out.len()) {
        return Err(too_large("snappy", max_size));
    }
    let start = out.len();
    out.resize(start + n, 0);
    let written = dec
        .decompress(block, &mut out[start..])
        .map_err(|e| corrupt("snappy", e))?;
    out.truncate(start + written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_xerial_framing_in_32k_blocks() {
        let data = vec![7u8; BLOCK_SIZE * 2 + 10];
        let z = compress(&data).unwrap();
        assert_eq!(&z[..16], &HEADER);
        // Three blocks: walk the length prefixes.
        let mut rest = &z[16..];
        let mut blocks = 0;
        while !rest.is_empty() {
            let len = i32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            rest = &rest[4 + len..];
            blocks += 1;
        }
        assert_eq!(blocks, 3);
        assert_eq!(decompress(&z, data.len()).unwrap(), data);
    }

    #[test]
    fn reads_a_raw_block() {
        let raw = snap::raw::Encoder::new()
            .compress_vec(b"raw snappy data")
            .unwrap();
        assert_eq!(decompress(&raw, 100).unwrap(), b"raw snappy data");
    }

    #[test]
    fn ignores_the_version_fields() {
        let mut z = compress(b"little-endian header").unwrap();
        z[8..16].copy_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(decompress(&z, 100).unwrap(), b"little-endian header");
    }

    #[test]
    fn hostile_block_lengths_are_refused() {
        let mut z = HEADER.to_vec();
        z.extend_from_slice(&i32::MAX.to_be_bytes());
        z.extend_from_slice(&[0; 8]);
        assert!(decompress(&z, 1 << 20).is_err());
        let mut z = HEADER.to_vec();
        z.extend_from_slice(&(-5i32).to_be_bytes());
        assert!(decompress(&z, 1 << 20).is_err());
        let mut z = HEADER.to_vec();
        z.extend_from_slice(&[0, 0]);
        assert!(decompress(&z, 1 << 20).is_err());
        // A raw block that declares 4 GiB of output is refused before allocating.
        assert!(decompress(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0], 1 << 20).is_err());
    }
}
