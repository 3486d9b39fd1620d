//! LZ4 in the frame format, as Java's `KafkaLZ4BlockOutputStream` writes it.
//!
//! Java writes 64 KiB independent blocks with no block or content checksums and no content
//! size; Java only reads independent blocks, so that is what is written here. Reading
//! accepts every frame option (kafka-python and librdkafka store the content size, for
//! instance).
//!
//! Kafka 0.8/0.9 computed the frame header checksum over the frame magic as well as the
//! descriptor. Magic 0 messages keep that quirk: they are written with the broken checksum
//! (what old brokers and kafka-python expect) and read without checking it (as Java does).

use std::io::{Read, Write};

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};
use twox_hash::XxHash32;

use super::{corrupt, encode_failed, read_bounded};
use crate::error::{DecodeError, EncodeError};

/// Frame magic number (little-endian on the wire).
const FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
/// FLG bit: the descriptor holds an 8-byte content size.
const FLG_CONTENT_SIZE: u8 = 0x08;
/// FLG bit: the descriptor holds a 4-byte dictionary id.
const FLG_DICT_ID: u8 = 0x01;

/// Compresses into one frame; with `broken_header_checksum` the header checksum is computed
/// the Kafka 0.8/0.9 way.
pub(super) fn compress(data: &[u8], broken_header_checksum: bool) -> Result<Vec<u8>, EncodeError> {
    let info = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Independent);
    let mut enc = FrameEncoder::with_frame_info(info, Vec::with_capacity(data.len() / 2 + 64));
    enc.write_all(data).map_err(|e| encode_failed("lz4", e))?;
    let mut out = enc.finish().map_err(|e| encode_failed("lz4", e))?;
    if broken_header_checksum {
        // No content size and no dictionary id were asked for, so the header is magic, FLG,
        // BD and the checksum byte at index 6.
        let hc = out
            .get(..6)
            .map(header_checksum)
            .ok_or_else(|| encode_failed("lz4", "frame shorter than its header"))?;
        if let Some(b) = out.get_mut(6) {
            *b = hc;
        }
    }
    Ok(out)
}

/// Decompresses every frame in `data`; with `ignore_header_checksum` the first frame's
/// header checksum is replaced by the correct one before decoding, so whatever was stored
/// (the 0.8/0.9 quirk or a correct one) is accepted.
pub(super) fn decompress(
    data: &[u8],
    max_size: usize,
    ignore_header_checksum: bool,
) -> Result<Vec<u8>, DecodeError> {
    if ignore_header_checksum {
        let (head, rest) = fixed_header(data)?;
        read_bounded(
            FrameDecoder::new(head.as_slice().chain(rest)),
            "lz4",
            data.len(),
            max_size,
        )
    } else {
        read_bounded(FrameDecoder::new(data), "lz4", data.len(), max_size)
    }
}

/// The checksum byte the frame format defines over `descriptor`.
fn header_checksum(descriptor: &[u8]) -> u8 {
    // The second byte of the xxHash32, as the spec says.
    (XxHash32::oneshot(0, descriptor) >> 8) as u8
}

/// Splits a frame into its header with a correct checksum, and the bytes after the header.
fn fixed_header(data: &[u8]) -> Result<(Vec<u8>, &[u8]), DecodeError> {
    if data.get(..4) != Some(&FRAME_MAGIC[..]) {
        return Err(corrupt("lz4", "not an LZ4 frame"));
    }
    let flg = *data
        .get(4)
        .ok_or_else(|| corrupt("lz4", "truncated frame header"))?;
    let descriptor_len = 2
        + if flg & FLG_CONTENT_SIZE != 0 { 8 } else { 0 }
        + if flg & FLG_DICT_ID != 0 { 4 } else { 0 };
    let hc_at = 4 + descriptor_len;
    let descriptor = data
        .get(4..hc_at)
        .ok_or_else(|| corrupt("lz4", "truncated frame header"))?;
    let rest = data
        .get(hc_at + 1..)
        .ok_or_else(|| corrupt("lz4", "truncated frame header"))?;
    let mut head = Vec::with_capacity(hc_at + 1);
    head.extend_from_slice(&FRAME_MAGIC);
    head.extend_from_slice(descriptor);
    head.push(header_checksum(descriptor));
    Ok((head, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_java_writes() {
        let z = compress(&[1; 100_000], false).unwrap();
        assert_eq!(&z[..4], &FRAME_MAGIC);
        // Version 01, independent blocks, no checksums, no content size; 64 KiB blocks.
        assert_eq!(z[4], 0x60);
        assert_eq!(z[5], 0x40);
        assert_eq!(z[6], header_checksum(&z[4..6]));
    }

    #[test]
    fn legacy_header_checksum() {
        let data = b"old kafka lz4 frame".repeat(10);
        let z = compress(&data, true).unwrap();
        assert_eq!(z[6], header_checksum(&z[..6]));
        assert_ne!(z[6], header_checksum(&z[4..6]));
        // A strict reader refuses it; the magic-0 reader accepts it, and correct ones too.
        assert!(decompress(&z, 1000, false).is_err());
        assert_eq!(decompress(&z, 1000, true).unwrap(), data);
        let ok = compress(&data, false).unwrap();
        assert_eq!(decompress(&ok, 1000, true).unwrap(), data);
    }

    #[test]
    fn reads_content_size_and_checksums() {
        let data = b"frame with options".repeat(1000);
        let info = FrameInfo::new()
            .content_size(Some(data.len() as u64))
            .content_checksum(true)
            .block_checksums(true)
            .block_mode(BlockMode::Linked);
        let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(&data).unwrap();
        let z = enc.finish().unwrap();
        assert_eq!(decompress(&z, data.len(), false).unwrap(), data);
        assert_eq!(decompress(&z, data.len(), true).unwrap(), data);
    }

    #[test]
    fn short_headers_are_errors() {
        for n in 0..7 {
            assert!(decompress(&FRAME_MAGIC[..n.min(4)], 10, true).is_err());
        }
        assert!(decompress(&[0x04, 0x22, 0x4d, 0x18, 0x68, 0x40, 0, 0], 10, true).is_err());
    }
}
