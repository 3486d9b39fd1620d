//! Tests of whole record sets: mixed formats, truncated tails, corruption, hostile input.

use bytes::{Bytes, BytesMut};

use super::*;
use crate::compression::Compression;
use crate::error::DecodeErrorKind;

/// A batch of `n` records in format `magic` with `codec`, offsets from `base`.
fn build(magic: i8, codec: Compression, base: i64, n: usize) -> Bytes {
    let opts = BatchOptions {
        compression: codec,
        base_offset: base,
        ..Default::default()
    };
    let value = |i: usize| format!("value-{i}-{}", "x".repeat(i % 50)).into_bytes();
    if magic == MAGIC_V2 {
        let mut b = RecordBatchBuilder::new(opts);
        for i in 0..n {
            let h = [RecordHeader::new(
                format!("h{i}"),
                Some(Bytes::from(vec![i as u8; i % 4])),
            )];
            b.append(
                1_000 + i as i64,
                Some(format!("k{i}").as_bytes()),
                Some(&value(i)),
                &h,
            )
            .unwrap();
        }
        b.build().unwrap()
    } else {
        let mut b = LegacyBuilder::new(magic, opts).unwrap();
        for i in 0..n {
            b.append(
                1_000 + i as i64,
                Some(format!("k{i}").as_bytes()),
                Some(&value(i)),
            )
            .unwrap();
        }
        b.build().unwrap()
    }
}

fn concat(parts: &[Bytes]) -> Bytes {
    let mut out = BytesMut::new();
    for p in parts {
        out.extend_from_slice(p);
    }
    out.freeze()
}

fn legacy_codecs() -> [Compression; 4] {
    [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
    ]
}

/// Every (magic, codec) pair Kafka allows.
fn formats() -> Vec<(i8, Compression)> {
    let mut v = Vec::new();
    for magic in [MAGIC_V0, MAGIC_V1] {
        v.extend(legacy_codecs().map(|c| (magic, c)));
    }
    v.extend(Compression::ALL.map(|c| (MAGIC_V2, c)));
    v
}

/// All records of a record set, in order.
fn all_records(set: Bytes) -> Vec<Record> {
    let mut out = Vec::new();
    for batch in RecordSetReader::new(set) {
        out.extend(batch.unwrap().records().map(Result::unwrap));
    }
    out
}

/// Asserts that the borrowed and owned iterations of `batch` agree: the same records, the
/// same error at the same place, the same end. The one difference allowed is a header key
/// that is not UTF-8: the owned iteration fails at that record, the borrowed one yields it
/// and reports the key from `headers()` and `to_owned_record()`, then goes on.
pub(super) fn assert_views_agree(batch: &RecordBatch) {
    let mut owned = batch.records();
    let mut refs = batch.records_ref();
    loop {
        match (owned.next(), refs.next()) {
            (None, None) => return,
            (Some(Ok(o)), Some(Ok(r))) => {
                assert_eq!(r, o);
                assert_eq!(r.to_owned_record().as_ref(), Ok(&o));
                assert_eq!(r.header_count(), o.headers.len());
                let got: Vec<_> = r.headers().map(Result::unwrap).collect();
                let want: Vec<_> = o
                    .headers
                    .iter()
                    .map(|h| (h.key.as_str(), h.value.as_deref()))
                    .collect();
                assert_eq!(got, want);
            }
            (Some(Err(e)), Some(Ok(r))) if e.kind == DecodeErrorKind::InvalidUtf8 => {
                assert_eq!(r.to_owned_record(), Err(e.clone()));
                assert!(r.headers().any(|h| h == Err(e.clone())));
                assert!(owned.next().is_none());
                refs.for_each(drop);
                return;
            }
            (Some(Err(a)), Some(Err(b))) => {
                assert_eq!(a, b);
                assert!(owned.next().is_none() && refs.next().is_none());
                return;
            }
            (o, r) => panic!("owned {o:?}, borrowed {r:?}"),
        }
    }
}

#[test]
fn borrowed_and_owned_records_agree_in_every_format() {
    for (magic, codec) in formats() {
        let set = build(magic, codec, 7, 12);
        let mut n = 0;
        for batch in RecordSetReader::new(set.clone()) {
            let batch = batch.unwrap();
            assert_views_agree(&batch);
            let refs = batch.records_ref();
            assert_eq!(refs.size_hint(), batch.records().size_hint());
            for (r, o) in refs.zip(batch.records()) {
                let (r, o) = (r.unwrap(), o.unwrap());
                assert_eq!(r.offset, 7 + n);
                assert_eq!(r.header_count(), usize::from(magic == MAGIC_V2));
                // Borrowed from the batch's (decompressed) records, not copied per record.
                if codec == Compression::None {
                    let raw = batch.raw().as_ptr_range();
                    assert!(raw.contains(&r.value.unwrap().as_ptr()), "{magic} {codec}");
                }
                assert_eq!(
                    r.value.unwrap().as_ptr(),
                    o.value.as_ref().unwrap().as_ptr(),
                    "{magic} {codec}: both forms view the same bytes"
                );
                n += 1;
            }
        }
        assert_eq!(n, 12, "{magic} {codec}");
    }
}

#[test]
fn borrowed_iteration_ends_after_an_error() {
    // After an error the borrowed iterator ends, as the owned one does.
    let set = build(MAGIC_V2, Compression::None, 0, 3);
    let mut bad = set.to_vec();
    // Claim 2 records where there are 3: the third is "bytes left after the count".
    bad[57..61].copy_from_slice(&2i32.to_be_bytes());
    BatchHeader::update_crc(&mut bad).unwrap();
    let batch = RecordSetReader::new(Bytes::from(bad))
        .next()
        .unwrap()
        .unwrap();
    assert_views_agree(&batch);
    let mut refs = batch.records_ref();
    assert!(refs.next().unwrap().is_ok());
    assert!(refs.next().unwrap().is_ok());
    let e = refs.next().unwrap().unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::InvalidValue(_)), "{e}");
    assert!(e.offset.is_some());
    assert!(refs.next().is_none());
    assert_eq!(refs.size_hint(), (0, Some(0)));
    assert!(format!("{refs:?}").contains("done"));
}

#[test]
fn records_section_cut_at_every_byte_is_an_error_in_both_forms() {
    // A v2 batch whose entry length (and so its records section) is cut short, CRC not
    // checked: every cut inside the records gives an error, the same in both forms.
    let opts = ReadOptions {
        verify_crc: false,
        ..ReadOptions::default()
    };
    let set = build(MAGIC_V2, Compression::None, 0, 4);
    for end in BatchHeader::SIZE..set.len() {
        let mut cut = set[..end].to_vec();
        cut[8..12].copy_from_slice(&((end - LOG_OVERHEAD) as i32).to_be_bytes());
        let batch = RecordSetReader::with_options(Bytes::from(cut), opts)
            .next()
            .unwrap()
            .unwrap();
        assert_views_agree(&batch);
        let results: Vec<_> = batch.records_ref().collect();
        assert!(results.last().unwrap().is_err(), "cut at {end}");
        assert!(results.iter().rev().skip(1).all(Result::is_ok));
    }
}

#[test]
fn mixed_formats_read_in_order() {
    let mut parts = Vec::new();
    let mut base = 0;
    for (magic, codec) in formats() {
        parts.push(build(magic, codec, base, 3));
        base += 3;
    }
    let set = concat(&parts);
    let mut reader = RecordSetReader::new(set.clone());
    let mut seen = Vec::new();
    for batch in reader.by_ref() {
        let batch = batch.unwrap();
        seen.push((batch.magic(), batch.compression()));
        assert_eq!(batch.raw().len(), batch.size_in_bytes());
        for r in batch.records() {
            r.unwrap();
        }
    }
    assert!(!reader.is_truncated());
    assert_eq!(reader.position(), set.len());
    // Uncompressed legacy sets are one entry per record.
    let expected: Vec<_> = formats()
        .into_iter()
        .flat_map(|(m, c)| {
            let n = if m != MAGIC_V2 && c == Compression::None {
                3
            } else {
                1
            };
            std::iter::repeat_n((m, c), n)
        })
        .collect();
    assert_eq!(seen, expected);
    let records = all_records(set);
    let offsets: Vec<_> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (0..base).collect::<Vec<_>>());
    for (i, r) in records.iter().enumerate() {
        let j = i % 3;
        assert_eq!(r.key.as_deref(), Some(format!("k{j}").as_bytes()));
        // Magic 0 (the first 8 entries' records) has no timestamps.
        let want_ts = if i < 12 { -1 } else { 1_000 + j as i64 };
        assert_eq!(r.timestamp, want_ts, "record {i}");
    }
}

#[test]
fn truncated_tails_stop_cleanly_at_every_byte() {
    for (magic, codec) in formats() {
        let first = build(magic, codec, 0, 2);
        let second = build(MAGIC_V2, Compression::None, 2, 2);
        let last = build(magic, codec, 4, 3);
        let set = concat(&[first.clone(), second.clone(), last.clone()]);
        let start = first.len() + second.len();
        let complete = |r: &RecordSetReader| r.position();
        for cut in start..set.len() {
            let mut reader = RecordSetReader::new(set.slice(..cut));
            let mut records = 0;
            for batch in reader.by_ref() {
                let batch = batch.unwrap_or_else(|e| panic!("{magic} {codec} cut {cut}: {e}"));
                records += batch.records().map(Result::unwrap).count();
                assert_views_agree(&batch);
            }
            // The first two batches, plus any complete uncompressed legacy messages of the last.
            assert!(records >= 4, "{magic} {codec} cut {cut}");
            assert!(complete(&reader) >= start);
            assert_eq!(
                reader.is_truncated(),
                cut > complete(&reader),
                "{magic} {codec} cut {cut}"
            );
            assert!(reader.next().is_none());
        }
    }
}

#[test]
fn corrupted_bytes_fail_the_crc() {
    for (magic, codec) in formats() {
        let set = build(magic, codec, 0, 2);
        // The CRC covers bytes from the attributes (v2) or the magic (v0/v1) to the end of
        // the first entry.
        let first_len = RecordSetReader::new(set.clone())
            .next_raw()
            .unwrap()
            .unwrap()
            .bytes
            .len();
        let from = if magic == MAGIC_V2 { 21 } else { 16 };
        for at in from..first_len {
            let mut bad = set.to_vec();
            bad[at] ^= 0x40;
            let err = RecordSetReader::new(Bytes::from(bad)).next().unwrap();
            let e = err.expect_err(&format!("{magic} {codec} byte {at}"));
            // Flipping the magic changes the format: that may be caught before the CRC.
            if at != 16 {
                assert!(
                    matches!(e.kind, DecodeErrorKind::CrcMismatch { .. }),
                    "{magic} {codec} byte {at}: {e}"
                );
            }
        }
    }
}

#[test]
fn without_crc_checks_corruption_still_never_panics() {
    let opts = ReadOptions {
        verify_crc: false,
        ..ReadOptions::default()
    };
    for (magic, codec) in formats() {
        let set = build(magic, codec, 0, 3);
        for at in 0..set.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = set.to_vec();
                bad[at] ^= flip;
                for batch in RecordSetReader::with_options(Bytes::from(bad), opts) {
                    let Ok(batch) = batch else { continue };
                    assert_views_agree(&batch);
                }
            }
        }
    }
}

#[test]
fn hostile_framing_is_refused_without_allocating() {
    let mut set = build(MAGIC_V2, Compression::None, 0, 1).to_vec();
    // A length of i32::MAX with a handful of bytes: a partial entry, not an allocation.
    set[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
    let mut r = RecordSetReader::new(Bytes::from(set.clone()));
    assert!(r.next().is_none());
    assert!(r.is_truncated());
    assert_eq!(r.position(), 0);

    for bad_len in [-1i32, i32::MIN, 0, 13] {
        set[8..12].copy_from_slice(&bad_len.to_be_bytes());
        let mut r = RecordSetReader::new(Bytes::from(set.clone()));
        let e = r.next().unwrap().unwrap_err();
        assert!(
            matches!(e.kind, DecodeErrorKind::InvalidValue(_)),
            "{bad_len}: {e}"
        );
        assert_eq!(e.offset, Some(8));
        assert!(r.next().is_none(), "the reader stops after an error");
        assert!(!r.is_truncated());
    }
    // A v2 length too short for the v2 header.
    set[8..12].copy_from_slice(&30i32.to_be_bytes());
    assert!(
        RecordSetReader::new(Bytes::from(set.clone()))
            .next()
            .unwrap()
            .is_err()
    );

    // Unknown magic.
    let mut set = build(MAGIC_V2, Compression::None, 0, 1).to_vec();
    set[16] = 3;
    let e = RecordSetReader::new(Bytes::from(set))
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnknownMagic(3));
    assert_eq!(e.offset, Some(16));
}

#[test]
fn hostile_record_counts_are_refused_lazily() {
    let set = build(MAGIC_V2, Compression::None, 0, 2);
    for count in [i32::MAX, -1] {
        let mut bad = set.to_vec();
        bad[57..61].copy_from_slice(&count.to_be_bytes());
        BatchHeader::update_crc(&mut bad).unwrap();
        match RecordSetReader::new(Bytes::from(bad)).next().unwrap() {
            Ok(batch) => {
                let results: Vec<_> = batch.records().collect();
                assert_eq!(results.len(), 3);
                assert!(results[2].is_err());
            }
            Err(e) => assert_eq!(count, -1, "{e}"),
        }
    }
}

#[test]
fn decompression_bombs_are_refused() {
    let mut b = RecordBatchBuilder::new(BatchOptions {
        compression: Compression::Zstd,
        ..Default::default()
    });
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..8 {
        b.append(0, None, Some(&zeros), &[]).unwrap();
    }
    let set = b.build().unwrap();
    assert!(set.len() < 4096);
    let opts = ReadOptions {
        max_decompressed_size: 1 << 20,
        ..ReadOptions::default()
    };
    let e = RecordSetReader::with_options(set.clone(), opts)
        .next()
        .unwrap()
        .unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::Decompression(_)), "{e}");
    assert_eq!(
        RecordSetReader::new(set)
            .next()
            .unwrap()
            .unwrap()
            .records()
            .count(),
        8
    );

    // The same through a legacy wrapper.
    let mut b = LegacyBuilder::new(
        1,
        BatchOptions {
            compression: Compression::Gzip,
            ..Default::default()
        },
    )
    .unwrap();
    for _ in 0..4 {
        b.append(0, None, Some(&zeros)).unwrap();
    }
    let e = RecordSetReader::with_options(b.build().unwrap(), opts)
        .next()
        .unwrap()
        .unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::Decompression(_)), "{e}");
}

#[test]
fn broker_patches_without_decoding() {
    let set = concat(&[
        build(MAGIC_V2, Compression::Snappy, 0, 3),
        build(MAGIC_V2, Compression::None, 0, 2),
    ]);
    let mut reader = RecordSetReader::new(set);
    let mut next = 1000;
    let mut stored = Vec::new();
    while let Some(raw) = reader.next_raw() {
        let raw = raw.unwrap();
        raw.verify_crc().unwrap();
        let header = raw.header().unwrap();
        let mut bytes = raw.bytes.to_vec();
        BatchHeader::set_base_offset(&mut bytes, next).unwrap();
        BatchHeader::set_partition_leader_epoch(&mut bytes, 9).unwrap();
        next = header.last_offset_delta as i64 + next + 1;
        stored.extend(bytes);
    }
    let mut offsets = Vec::new();
    for batch in RecordSetReader::new(Bytes::from(stored)) {
        let batch = batch.unwrap();
        assert_eq!(batch.partition_leader_epoch(), 9);
        offsets.extend(batch.records().map(|r| r.unwrap().offset));
    }
    assert_eq!(offsets, [1000, 1001, 1002, 1003, 1004]);
}

#[test]
fn legacy_wrapper_offsets_follow_java() {
    // A v1 wrapper left at offset 0 by a producer: relative inner offsets stay as they are.
    let mut b = LegacyBuilder::new(
        1,
        BatchOptions {
            compression: Compression::Gzip,
            ..Default::default()
        },
    )
    .unwrap();
    for i in 0..3 {
        b.append(i, None, Some(b"v")).unwrap();
    }
    let mut set = b.build().unwrap().to_vec();
    assert_eq!(&set[..8], &2i64.to_be_bytes());
    set[..8].copy_from_slice(&0i64.to_be_bytes());
    // The offset field is outside the CRC.
    let offsets: Vec<_> = all_records(Bytes::from(set.clone()))
        .iter()
        .map(|r| r.offset)
        .collect();
    assert_eq!(offsets, [0, 1, 2]);
    // The broker assigns the last offset to the wrapper: the inner ones follow.
    set[..8].copy_from_slice(&52i64.to_be_bytes());
    let offsets: Vec<_> = all_records(Bytes::from(set))
        .iter()
        .map(|r| r.offset)
        .collect();
    assert_eq!(offsets, [50, 51, 52]);

    // Magic 0 inner offsets are absolute.
    let mut b = LegacyBuilder::new(
        0,
        BatchOptions {
            compression: Compression::Lz4,
            base_offset: 7,
            ..Default::default()
        },
    )
    .unwrap();
    b.append(0, None, Some(b"a")).unwrap();
    b.append(0, None, Some(b"b")).unwrap();
    let offsets: Vec<_> = all_records(b.build().unwrap())
        .iter()
        .map(|r| r.offset)
        .collect();
    assert_eq!(offsets, [7, 8]);
}

#[test]
fn legacy_log_append_time_applies_to_inner_records() {
    let opts = BatchOptions {
        compression: Compression::Snappy,
        timestamp_type: TimestampType::LogAppendTime,
        ..Default::default()
    };
    let mut b = LegacyBuilder::new(1, opts).unwrap();
    b.append(5, None, Some(b"a")).unwrap();
    b.append(9, None, Some(b"b")).unwrap();
    let batch = RecordSetReader::new(b.build().unwrap())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
    assert!(batch.records().all(|r| r.unwrap().timestamp == 9));
}

#[test]
fn legacy_structure_errors() {
    // Inner message compressed again, and an inner magic differing from the wrapper's.
    let inner_v1 = build(MAGIC_V1, Compression::Gzip, 0, 2);
    let inner_v0 = build(MAGIC_V0, Compression::None, 0, 1);
    for (inner, what) in [
        (inner_v1, "compressed message inside"),
        (inner_v0, "magic differs"),
    ] {
        let z = crate::compression::compress(Compression::Gzip, &inner, None).unwrap();
        let mut msg = BytesMut::new();
        let body_len = 4 + 1 + 1 + 8 + 4 + 4 + z.len();
        msg.extend_from_slice(&1i64.to_be_bytes());
        msg.extend_from_slice(&(body_len as i32).to_be_bytes());
        let mut body = vec![1u8, 1];
        body.extend_from_slice(&0i64.to_be_bytes());
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&(z.len() as i32).to_be_bytes());
        body.extend_from_slice(&z);
        msg.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
        msg.extend_from_slice(&body);
        let e = RecordSetReader::new(msg.freeze())
            .next()
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(e.kind, DecodeErrorKind::InvalidValue(m) if m.contains(what)),
            "{e}"
        );
    }
}
