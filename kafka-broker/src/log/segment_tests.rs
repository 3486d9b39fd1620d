//! Tests of one segment: naming, index entries, lookups, reads and truncation.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::BatchHeader;

use super::super::batches::stamp;
use super::super::recovery::recover_segment;
use super::super::test_util::{batch, batch_at};
use super::*;

/// Appends `b` at the segment's end, as the file log does.
fn append(seg: &mut Segment, b: &[u8], interval: u64) {
    let (buf, spans) = stamp(b, seg.next_offset(), 0, None).unwrap();
    seg.append(&buf, &spans, interval).unwrap();
}

/// A segment at base 100 holding 40 batches of 1-3 records with wandering timestamps.
fn filled(dir: &Path, interval: u64) -> (Segment, Vec<Bytes>) {
    let mut seg = Segment::create(dir, 100).unwrap();
    let mut stored = Vec::new();
    for i in 0..40i64 {
        let ts = 1_000 + (i * 37) % 23 * 10;
        let b = batch_at(&vec![ts; 1 + (i % 3) as usize], 20 + (i as usize * 7) % 50);
        append(&mut seg, &b, interval);
        stored.push(b);
    }
    (seg, stored)
}

#[test]
fn file_names_are_twenty_digits() {
    assert_eq!(file_name(0, LOG_SUFFIX), "00000000000000000000.log");
    assert_eq!(file_name(1234, INDEX_SUFFIX), "00000000000000001234.index");
    assert_eq!(
        file_name(i64::MAX, TIME_INDEX_SUFFIX),
        "09223372036854775807.timeindex"
    );
    assert_eq!(
        parse_file_name("00000000000000001234.log", LOG_SUFFIX),
        Some(1234)
    );
    assert_eq!(parse_file_name("0000000000000001234.log", LOG_SUFFIX), None);
    assert_eq!(
        parse_file_name("0000000000000000123x.log", LOG_SUFFIX),
        None
    );
    assert_eq!(
        parse_file_name("00000000000000001234.index", LOG_SUFFIX),
        None
    );
    assert_eq!(
        parse_file_name("99999999999999999999.log", LOG_SUFFIX),
        None
    );
}

#[test]
fn index_entries_follow_kafkas_rule_and_point_at_batches() {
    let dir = tempfile::tempdir().unwrap();
    let (seg, _) = filled(dir.path(), 150);
    let entries = seg.offset_index.entries().to_vec();
    assert!(entries.len() > 5, "{entries:?}");
    let mut last_pos = 0u64;
    for e in &entries {
        // More than the interval since the previous entry, and exactly one batch's worth of
        // slack: the entry goes on the first batch starting past it.
        assert!(u64::from(e.position) - last_pos > 150);
        let b = FileBatches::new(&seg.log, u64::from(e.position), seg.size, 61)
            .next_header()
            .unwrap()
            .unwrap();
        assert_eq!(
            b.header.last_offset(),
            e.offset,
            "entries map a batch's last offset"
        );
        last_pos = u64::from(e.position);
    }
    let times = seg.time_index.entries();
    assert!(!times.is_empty());
    assert!(
        times
            .windows(2)
            .all(|w| w[0].timestamp < w[1].timestamp && w[0].offset <= w[1].offset)
    );

    // The file holds exactly the entries, in Kafka's layout.
    let bytes = std::fs::read(dir.path().join(file_name(100, INDEX_SUFFIX))).unwrap();
    assert_eq!(bytes.len(), entries.len() * 8);
    let rel = i32::from_be_bytes(bytes[..4].try_into().unwrap());
    let pos = i32::from_be_bytes(bytes[4..8].try_into().unwrap());
    assert_eq!(
        (i64::from(rel) + 100, pos as u32),
        (entries[0].offset, entries[0].position)
    );
}

#[test]
fn locate_finds_the_batch_holding_every_offset() {
    let dir = tempfile::tempdir().unwrap();
    for interval in [0, 1, 100, 4096] {
        let sub = dir.path().join(interval.to_string());
        std::fs::create_dir(&sub).unwrap();
        let (seg, _) = filled(&sub, interval);
        for offset in 90..seg.next_offset() {
            let b = seg.locate(offset).unwrap().unwrap();
            let h = b.header;
            let first = offset.max(100);
            assert!(
                h.base_offset <= first && first <= h.last_offset(),
                "{interval} {offset}"
            );
        }
        assert!(seg.locate(seg.next_offset()).unwrap().is_none());
    }
}

#[test]
fn rebuilt_indexes_equal_the_appended_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (mut seg, _) = filled(dir.path(), 120);
    seg.finish().unwrap();
    let (index, time) = (
        seg.offset_index.entries().to_vec(),
        seg.time_index.entries().to_vec(),
    );
    let tracker = seg.tracker.clone();
    drop(seg);
    let rebuilt = recover_segment(dir.path(), 100, 120).unwrap();
    assert_eq!(rebuilt.offset_index.entries(), index);
    assert_eq!(rebuilt.time_index.entries(), time);
    assert_eq!(rebuilt.tracker.next_offset, tracker.next_offset);
    assert_eq!(rebuilt.tracker.max, tracker.max);
    assert_eq!(rebuilt.tracker.first_timestamp, tracker.first_timestamp);
}

#[test]
fn time_entries_end_with_the_largest_timestamp_once_finished() {
    let dir = tempfile::tempdir().unwrap();
    let (mut seg, _) = filled(dir.path(), 4096);
    let max = seg.max_timestamp().unwrap();
    seg.finish().unwrap();
    let last = seg.time_index.last().unwrap();
    assert_eq!((last.timestamp, last.offset), (max.timestamp, max.offset));
    // The first batch carrying the max: no earlier batch reaches it.
    let before = seg.max_timestamp_from(0).unwrap().unwrap();
    assert_eq!(before, max);
}

#[test]
fn reads_take_whole_batches_within_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let (seg, _) = filled(dir.path(), 100);
    let all = std::fs::read(seg.log_path()).unwrap();
    let sizes: Vec<usize> = {
        let mut walk = FileBatches::new(&seg.log, 0, seg.size, 1 << 10);
        std::iter::from_fn(|| walk.next_header().unwrap().map(|b| b.size)).collect()
    };

    // Everything.
    let mut out = BytesMut::new();
    assert_eq!(
        seg.read_into(0, usize::MAX, i64::MAX, &mut out).unwrap(),
        ReadProgress::ReachedEnd
    );
    assert_eq!(&out[..], &all[..]);

    // A limit inside the third batch: two batches.
    let mut out = BytesMut::new();
    let limit = sizes[0] + sizes[1] + sizes[2] / 2;
    assert_eq!(
        seg.read_into(0, limit, i64::MAX, &mut out).unwrap(),
        ReadProgress::Stopped
    );
    assert_eq!(out.len(), sizes[0] + sizes[1]);

    // A limit below the first batch: still that batch, whatever the limit.
    for limit in [0, 1, 11, 12, 60, sizes[0] - 1] {
        let mut out = BytesMut::new();
        seg.read_into(0, limit, i64::MAX, &mut out).unwrap();
        assert_eq!(&out[..], &all[..sizes[0]], "{limit}");
    }

    // Not the first batch of the read: nothing when it does not fit.
    let mut out = BytesMut::from(&b"x"[..]);
    assert_eq!(
        seg.read_into(0, 10, i64::MAX, &mut out).unwrap(),
        ReadProgress::Stopped
    );
    assert_eq!(&out[..], b"x");

    // The upper bound stops before a batch starting at or past it.
    let second = BatchHeader::parse(&all[sizes[0]..]).unwrap();
    let mut out = BytesMut::new();
    assert_eq!(
        seg.read_into(0, usize::MAX, second.base_offset, &mut out)
            .unwrap(),
        ReadProgress::Stopped
    );
    assert_eq!(out.len(), sizes[0]);
    let mut out = BytesMut::new();
    seg.read_into(0, usize::MAX, 100, &mut out).unwrap();
    assert!(out.is_empty());
}

#[test]
fn truncation_cuts_at_the_batch_holding_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (mut seg, _) = filled(dir.path(), 60);
    let victim = seg.locate(150).unwrap().unwrap();
    let next = victim.header.base_offset;
    seg.truncate_to(150).unwrap();
    assert_eq!(seg.next_offset(), next);
    assert_eq!(seg.size(), victim.position);
    assert_eq!(
        std::fs::metadata(seg.log_path()).unwrap().len(),
        victim.position
    );
    assert!(seg.offset_index.entries().iter().all(|e| e.offset < next));
    assert!(seg.time_index.entries().iter().all(|e| e.offset < next));
    // The largest timestamp is recomputed from what is left.
    let expected = {
        let mut walk = FileBatches::new(&seg.log, 0, seg.size, 1 << 10);
        let mut best: Option<TimestampOffset> = None;
        while let Some(b) = walk.next_header().unwrap() {
            if best.is_none_or(|m| b.header.max_timestamp > m.timestamp) {
                best = Some(TimestampOffset {
                    timestamp: b.header.max_timestamp,
                    offset: b.header.last_offset(),
                });
            }
        }
        best
    };
    assert_eq!(seg.max_timestamp(), expected);

    // Appends go on from there, and the indexes stay consistent with a rebuild.
    append(&mut seg, &batch(3, 5_000, 10), 60);
    assert_eq!(seg.next_offset(), next + 3);
    seg.truncate_to(100).unwrap();
    assert!(seg.is_empty());
    assert_eq!(seg.next_offset(), 100);
    assert_eq!(seg.max_timestamp(), None);
}

#[test]
fn timestamp_queries_find_the_first_record_at_or_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut seg = Segment::create(dir.path(), 0).unwrap();
    // Batches out of timestamp order, records out of order inside a batch.
    for ts in [
        [10, 30, 20],
        [5, 6, 7],
        [40, 35, 50],
        [45, 45, 45],
        [60, 10, 61],
    ] {
        append(&mut seg, &batch_at(&ts, 8), 0);
    }
    let records: Vec<(i64, i64)> = [10, 30, 20, 5, 6, 7, 40, 35, 50, 45, 45, 45, 60, 10, 61]
        .into_iter()
        .enumerate()
        .map(|(i, t)| (i as i64, t))
        .collect();
    for target in 0..70 {
        for min_offset in [0, 4, 8] {
            let expected = records
                .iter()
                .find(|(o, t)| *t >= target && *o >= min_offset)
                .copied();
            assert_eq!(
                seg.find_timestamp(target, min_offset).unwrap(),
                expected,
                "{target} {min_offset}"
            );
        }
    }
}
