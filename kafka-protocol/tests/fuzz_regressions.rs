//! Inputs from fuzzing (`scripts/fuzz.sh`, targets in `fuzz/`), kept as plain tests: each
//! must decode to a typed error, never a panic, an unbounded allocation or a hang.
//!
//! Crashes the fuzzers find go here as inline byte arrays, minimised, with the target that
//! found them. The first fuzzing runs (request_frame, response_frame and record_set, several
//! million executions each) found no crash; the cases below pin the hostile shapes the
//! fuzzers kept generating at the limits the decoders enforce (varint widths, counts and
//! sizes beyond the frame, decompression caps, nested compression), so a regression there
//! fails here without a fuzzer.

use bytes::Bytes;
use kafka_protocol::compression::Compression;
use kafka_protocol::frame::{decode_request, decode_response};
use kafka_protocol::records::{
    BatchHeader, BatchOptions, LegacyBuilder, ReadOptions, RecordBatchBuilder, RecordSetReader,
};
use kafka_protocol::{ApiKey, DecodeError, DecodeErrorKind};

fn request_err(frame: &'static [u8]) -> DecodeError {
    decode_request(&Bytes::from_static(frame)).expect_err("must not decode")
}

/// Reads a whole record set the way the `record_set` target does; returns the first error.
fn record_set_err(set: Bytes, max_decompressed_size: usize) -> DecodeError {
    let options = ReadOptions {
        verify_crc: true,
        max_decompressed_size,
    };
    for batch in RecordSetReader::with_options(set, options) {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => return e,
        };
        for record in batch.records() {
            if let Err(e) = record {
                return e;
            }
        }
    }
    panic!("the record set read without an error");
}

// ---- request_frame ----

#[test]
fn request_header_tagged_field_count_varint_overflow() {
    // ApiVersions v3 (header v2), null client id, then a tagged-field count of six 0xff bytes.
    let e = request_err(&[
        0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
    assert_eq!(e.kind, DecodeErrorKind::VarintOverflow);
}

#[test]
fn request_huge_tagged_field_count_with_no_fields() {
    // A tagged-field count of u32::MAX and nothing after it: an error, without looping.
    let e = request_err(&[
        0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f,
    ]);
    assert_eq!(e.kind, DecodeErrorKind::UnexpectedEof);
}

#[test]
fn request_tagged_field_longer_than_the_frame() {
    // One header tagged field, tag 9, declared 0x7f bytes long with 2 present.
    let e = request_err(&[0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 1, 9, 0x7f, 1, 2]);
    assert!(
        matches!(
            e.kind,
            DecodeErrorKind::LengthTooLarge {
                declared: 0x7f,
                remaining: 2
            }
        ),
        "{e}"
    );
}

#[test]
fn request_compact_array_count_near_u32_max() {
    // Metadata v12 (flexible): empty header tags, then a topics count of u32::MAX - 1.
    let e = request_err(&[
        0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0xff, 0x0f,
    ]);
    assert!(
        matches!(e.kind, DecodeErrorKind::LengthTooLarge { .. }),
        "{e}"
    );
    assert_eq!(e.message, "MetadataRequest");
}

#[test]
fn request_unknown_version_and_negative_string_length() {
    // Metadata v99: the body version does not exist.
    let e = request_err(&[0, 3, 0, 99, 0, 0, 0, 1, 0xff, 0xff, 0]);
    assert_eq!(e.kind, DecodeErrorKind::UnsupportedVersion(99));
    // Produce v3 with a transactional id length of -2.
    let e = request_err(&[0, 0, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe]);
    assert_eq!(e.kind, DecodeErrorKind::InvalidLength(-2));
}

// ---- response_frame ----

#[test]
fn truncated_and_garbage_response_bodies_of_every_api_and_version() {
    // What the response_frame target starts from, for every (api, version): an empty frame
    // (no correlation id: an error), a bare correlation id, and 0xff bytes (errors, or a
    // value for bodies of a few fixed-width fields). Never a panic.
    let empty = Bytes::new();
    let short = Bytes::from_static(&[0, 0, 0, 1]);
    let ff = Bytes::from_static(&[0xff; 32]);
    for &api in ApiKey::ALL {
        let r = api.versions();
        for v in r.min..=r.max {
            let e = decode_response(&empty, api, v).expect_err("empty frame");
            assert!(
                matches!(
                    e.kind,
                    DecodeErrorKind::UnexpectedEof | DecodeErrorKind::Parser(_)
                ),
                "{e}"
            );
            let _ = decode_response(&short, api, v);
            let _ = decode_response(&ff, api, v);
        }
    }
}

// ---- record_set ----

#[test]
fn record_set_entry_sizes_below_the_format_minimum() {
    // offset 0, size 0: below the smallest legacy message.
    let e = record_set_err(Bytes::from_static(&[0; 12]), 1 << 20);
    assert_eq!(
        e.kind,
        DecodeErrorKind::InvalidValue("entry size below the smallest message size")
    );
    // size 14 (a magic 0 minimum) but magic 2, whose header needs 49.
    let mut set = vec![0u8; 26];
    set[11] = 14;
    set[16] = 2;
    let e = record_set_err(Bytes::from(set), 1 << 20);
    assert_eq!(
        e.kind,
        DecodeErrorKind::InvalidValue("entry size below the header size of its format")
    );
}

#[test]
fn record_set_huge_records_count_is_refused_without_allocating() {
    let mut b = RecordBatchBuilder::new(BatchOptions::default());
    b.append(1, Some(b"k"), Some(b"v"), &[]).unwrap();
    let mut batch = b.build().unwrap().to_vec();
    // records_count is the last header field.
    batch[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    BatchHeader::update_crc(&mut batch).unwrap();
    let e = record_set_err(Bytes::from(batch.clone()), 1 << 20);
    assert!(
        matches!(
            e.kind,
            DecodeErrorKind::UnexpectedEof | DecodeErrorKind::Parser(_)
        ),
        "{e}"
    );
    batch[57..61].copy_from_slice(&(-7i32).to_be_bytes());
    BatchHeader::update_crc(&mut batch).unwrap();
    let e = record_set_err(Bytes::from(batch), 1 << 20);
    assert_eq!(e.kind, DecodeErrorKind::InvalidLength(-7));
}

#[test]
fn record_set_decompression_is_capped_for_every_codec() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut b = RecordBatchBuilder::new(BatchOptions {
            compression: codec,
            ..Default::default()
        });
        let zeros = vec![0u8; 64 * 1024];
        for _ in 0..40 {
            b.append(1, None, Some(&zeros), &[]).unwrap();
        }
        let set = b.build().unwrap();
        assert!(set.len() < 1 << 20, "{codec:?} compressed to {}", set.len());
        // 2.5 MiB of records against a 1 MiB cap (what the record_set target uses).
        let e = record_set_err(set, 1 << 20);
        assert!(
            matches!(e.kind, DecodeErrorKind::Decompression(_)),
            "{codec:?}: {e}"
        );
    }
}

#[test]
fn record_set_snappy_block_declaring_a_huge_length() {
    // A raw snappy block whose preamble claims 0x0fff_ffff bytes: refused before allocating.
    let mut b = RecordBatchBuilder::new(BatchOptions {
        compression: Compression::Snappy,
        ..Default::default()
    });
    b.append(1, None, Some(b"v"), &[]).unwrap();
    let good = b.build().unwrap();
    let mut batch = good[..BatchHeader::SIZE].to_vec();
    batch.extend_from_slice(&[0xff, 0xff, 0xff, 0x7f, 0x00]);
    let len = (batch.len() - 12) as i32;
    batch[8..12].copy_from_slice(&len.to_be_bytes());
    BatchHeader::update_crc(&mut batch).unwrap();
    let e = record_set_err(Bytes::from(batch), 1 << 20);
    assert!(matches!(e.kind, DecodeErrorKind::Decompression(_)), "{e}");
}

#[test]
fn record_set_legacy_wrapper_inside_a_wrapper_is_refused() {
    // A gzip magic 1 message set whose single inner message is itself a gzip wrapper.
    let opts = BatchOptions {
        compression: Compression::Gzip,
        ..Default::default()
    };
    let mut inner = LegacyBuilder::new(1, opts).unwrap();
    inner.append(5, None, Some(b"x")).unwrap();
    let inner = inner.build().unwrap();
    // Wrap the already-compressed set (offset + size + message) by hand in another gzip
    // wrapper: compress it and frame a magic 1 message with attributes = gzip.
    let z = kafka_protocol::compression::compress(Compression::Gzip, &inner, None).unwrap();
    let mut msg = Vec::new();
    msg.push(1u8); // magic
    msg.push(1u8); // attributes: gzip
    msg.extend_from_slice(&5i64.to_be_bytes()); // timestamp
    msg.extend_from_slice(&(-1i32).to_be_bytes()); // null key
    msg.extend_from_slice(&(z.len() as i32).to_be_bytes());
    msg.extend_from_slice(&z);
    let mut set = Vec::new();
    set.extend_from_slice(&0i64.to_be_bytes());
    set.extend_from_slice(&((msg.len() + 4) as i32).to_be_bytes());
    set.extend_from_slice(&crc32(&msg).to_be_bytes());
    set.extend_from_slice(&msg);
    let e = record_set_err(Bytes::from(set), 1 << 20);
    assert_eq!(
        e.kind,
        DecodeErrorKind::InvalidValue("compressed message inside a compressed message")
    );
}

/// CRC-32 (IEEE), bitwise: legacy messages' checksum, without a dependency for one test.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Compact strings longer than i16::MAX are refused, as Kafka's decoder refuses them.
#[test]
fn compact_string_longer_than_i16_max_is_refused() {
    use bytes::Bytes;
    use kafka_protocol::codec::decode::read_string;
    // uvarint(32768 + 1) followed by 32768 bytes of 'a'.
    let mut v = vec![0x81, 0x80, 0x02];
    v.extend(std::iter::repeat_n(b'a', 32768));
    let frame = Bytes::from(v);
    assert!(read_string(&frame, &frame, true).is_err());
    let mut ok = vec![0x80, 0x80, 0x02];
    ok.extend(std::iter::repeat_n(b'a', 32767));
    let frame = Bytes::from(ok);
    assert_eq!(read_string(&frame, &frame, true).unwrap().1.len(), 32767);
    assert!(kafka_protocol::codec::encode::check_len(32768, true, true, "M", "f").is_err());
}
