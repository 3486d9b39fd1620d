//! Tests of the file log through the `Log` trait: rolls, lookups, retention, deletion,
//! truncation and reopening.

use bytes::Bytes;
use kafka_protocol::records::{BatchHeader, RecordSetReader};

use super::super::test_util::{batch, batch_at, config};
use super::*;

/// `(base offset, last offset)` of every batch in `records`.
fn spans(records: &Bytes) -> Vec<(i64, i64)> {
    let mut r = RecordSetReader::new(records.clone());
    std::iter::from_fn(|| r.next_raw())
        .map(|b| {
            let h = b.unwrap().header().unwrap();
            (h.base_offset, h.last_offset())
        })
        .collect()
}

fn everything(log: &FileLog) -> Bytes {
    log.read(log.log_start_offset(), usize::MAX, i64::MAX)
        .unwrap()
        .records
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn appends_roll_segments_and_reads_span_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::open(dir.path(), config(500, 64)).unwrap();
    let mut stored = Vec::new();
    for i in 0..30 {
        let b = batch(1 + i % 3, 1_000 + i as i64, 40);
        let info = log.append(&b, 7, None).unwrap();
        assert_eq!(
            info.base_offset,
            stored
                .iter()
                .map(|(_, n): &(Bytes, usize)| *n as i64)
                .sum::<i64>()
        );
        assert_eq!(info.last_offset - info.base_offset, (i % 3) as i64);
        stored.push((b, 1 + i % 3));
    }
    let bases = log.segment_base_offsets();
    assert!(bases.len() > 5, "{bases:?}");
    // Every segment but the active one is full: adding its next batch would pass 500 bytes.
    assert!(
        log.segments
            .iter()
            .all(|s| s.size() <= 500 && s.size() > 250)
    );

    // Files: 20-digit names, three per segment.
    let names = file_names(dir.path());
    for base in &bases {
        for suffix in [".log", ".index", ".timeindex"] {
            assert!(names.contains(&format!("{base:020}{suffix}")), "{names:?}");
        }
    }
    assert_eq!(names.len(), 3 * bases.len());

    // The batches come back byte-identical but for the stamped offset and leader epoch.
    let all = everything(&log);
    let mut r = RecordSetReader::new(all.clone());
    let mut next = 0;
    for (b, n) in &stored {
        let raw = r.next_raw().unwrap().unwrap();
        assert_eq!(raw.bytes[BatchHeader::SIZE..], b[BatchHeader::SIZE..]);
        let h = raw.header().unwrap();
        assert_eq!((h.base_offset, h.partition_leader_epoch), (next, 7));
        raw.verify_crc().unwrap();
        next += *n as i64;
    }
    assert!(r.next_raw().is_none());
    assert_eq!(log.size_bytes(), all.len() as u64);

    // From every offset: the batch holding it first, then everything after.
    let all_spans = spans(&all);
    for offset in 0..log.log_end_offset() {
        let got = log.read(offset, usize::MAX, i64::MAX).unwrap().records;
        let first = all_spans
            .iter()
            .position(|&(b, l)| b <= offset && offset <= l)
            .unwrap();
        assert_eq!(spans(&got), all_spans[first..]);
    }
    assert!(
        log.read(log.log_end_offset(), 100, i64::MAX)
            .unwrap()
            .records
            .is_empty()
    );
    assert!(matches!(
        log.read(log.log_end_offset() + 1, 100, i64::MAX),
        Err(LogError::OffsetOutOfRange { .. })
    ));

    // max_bytes and the upper bound cut at batch boundaries, across segments too.
    for max_bytes in [0, 100, 499, 500, 1000, 2500] {
        for upper in [1, 5, 17, 40, i64::MAX] {
            let got = log.read(2, max_bytes, upper).unwrap().records;
            let s = spans(&got);
            assert!(s.iter().all(|&(b, _)| b < upper));
            if upper > 1 {
                assert!(!s.is_empty());
                assert!(got.len() <= max_bytes || s.len() == 1);
            }
        }
    }
}

#[test]
fn timestamp_queries_cross_segments_and_respect_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::open(dir.path(), config(400, 0)).unwrap();
    // (offset, timestamp, last offset of its batch)
    let mut records = Vec::new();
    for i in 0..25i64 {
        let ts: Vec<i64> = (0..3)
            .map(|j| 1_000 + ((i * 7 + j * 13) % 31) * 10)
            .collect();
        let info = log.append(&batch_at(&ts, 20), 0, None).unwrap();
        records.extend(
            ts.iter()
                .enumerate()
                .map(|(j, &t)| (info.base_offset + j as i64, t, info.last_offset)),
        );
    }
    assert!(log.segment_base_offsets().len() > 3);
    let check = |log: &FileLog, start: i64| {
        for target in (900..1_400).step_by(5) {
            let expected = records
                .iter()
                .find(|&&(o, t, _)| o >= start && t >= target)
                .map(|&(o, t, _)| (o, t));
            assert_eq!(
                log.offset_for_timestamp(target).unwrap(),
                expected,
                "{target}"
            );
        }
        // Over the batches holding offsets at or past the start: the largest timestamp, and
        // the first record carrying it in the first batch reaching it.
        let visible: Vec<_> = records
            .iter()
            .filter(|&&(_, _, last)| last >= start)
            .collect();
        let best = visible.iter().map(|&&(_, t, _)| t).max().unwrap();
        let first = visible.iter().find(|&&&(_, t, _)| t == best).unwrap().0;
        assert_eq!(log.max_timestamp(), Some((best, first)));
    };
    check(&log, 0);
    log.delete_records_before(31).unwrap();
    check(&log, 31);
    // Reopened, the time index serves the same answers.
    log.close().unwrap();
    drop(log);
    let log = FileLog::open(dir.path(), config(400, 0)).unwrap();
    check(&log, 31);
}

#[test]
fn log_append_time_is_stamped() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::open(dir.path(), config(1 << 20, 4096)).unwrap();
    let info = log
        .append(&batch_at(&[5, 9, 7], 3), 2, Some(123_456))
        .unwrap();
    assert_eq!(info.max_timestamp, 123_456);
    assert_eq!(log.max_timestamp(), Some((123_456, 0)));
    let b = RecordSetReader::new(everything(&log))
        .next()
        .unwrap()
        .unwrap();
    assert!(b.records().all(|r| r.unwrap().timestamp == 123_456));
    assert_eq!(
        log.offset_for_timestamp(100_000).unwrap(),
        Some((0, 123_456))
    );
}

#[test]
fn retention_by_time_deletes_old_segments_and_moves_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(300, 4096);
    let mut log = FileLog::open(dir.path(), cfg.clone()).unwrap();
    for i in 0..20i64 {
        log.append(&batch(2, 10_000 + i * 100, 40), 0, None)
            .unwrap();
    }
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 4, "{bases:?}");
    assert_eq!(
        log.apply_retention(i64::MAX).unwrap(),
        0,
        "retention.ms -1 keeps everything"
    );

    cfg.retention_ms = 1_000;
    log.set_config(cfg.clone());
    // Segments whose newest record is older than now - 1000: those below the one holding
    // offset 20 (timestamp 11000) when now is 12000.
    let holding = log.segment_for(20);
    let n = log.apply_retention(12_000).unwrap();
    assert_eq!(n, holding);
    assert_eq!(log.segment_base_offsets(), bases[holding..]);
    assert_eq!(log.log_start_offset(), bases[holding]);
    assert!(matches!(
        log.read(0, 100, i64::MAX),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    for name in file_names(dir.path()) {
        let base: i64 = name[..20].parse().unwrap();
        assert!(base >= bases[holding], "{name}");
    }

    // Everything old: the active segment goes too, after an empty one is rolled.
    let end = log.log_end_offset();
    let before = log.segment_base_offsets().len();
    assert_eq!(log.apply_retention(1_000_000).unwrap(), before);
    assert_eq!(log.segment_base_offsets(), [end]);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (end, end));
    assert_eq!(log.size_bytes(), 0);
    assert_eq!(
        log.append(&batch(1, 1, 1), 0, None).unwrap().base_offset,
        end
    );
    // An empty active segment is never deleted.
    log.truncate_to(end).unwrap();
    assert_eq!(log.apply_retention(1_000_000).unwrap(), 0);
    drop(log);
    let log = FileLog::open(dir.path(), cfg).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (end, end));
}

#[test]
fn retention_by_bytes_keeps_at_least_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(300, 4096);
    let mut log = FileLog::open(dir.path(), cfg.clone()).unwrap();
    for _ in 0..20 {
        log.append(&batch(2, 10_000, 40), 0, None).unwrap();
    }
    let sizes: Vec<u64> = log.all().map(Segment::size).collect();
    let total: u64 = sizes.iter().sum();
    let limit = total / 2;
    cfg.retention_bytes = limit as i64;
    log.set_config(cfg);
    let mut expected = 0;
    let mut left = total;
    while left - sizes[expected] >= limit {
        left -= sizes[expected];
        expected += 1;
    }
    assert_eq!(log.apply_retention(0).unwrap(), expected);
    assert_eq!(log.size_bytes(), left);
    assert!(log.size_bytes() >= limit);
    assert_eq!(log.log_start_offset(), log.segment_base_offsets()[0]);
    assert_eq!(log.apply_retention(0).unwrap(), 0);
}

#[test]
fn segment_ms_rolls_by_record_time_and_by_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(1 << 20, 4096);
    cfg.segment_ms = 1_000;
    let mut log = FileLog::open(dir.path(), cfg).unwrap();
    log.append(&batch(1, 5_000, 5), 0, None).unwrap();
    log.append(&batch(1, 5_900, 5), 0, None).unwrap();
    log.append(&batch(1, 6_000, 5), 0, None).unwrap();
    assert_eq!(
        log.segment_base_offsets(),
        [0],
        "6000 - 5000 is not past 1000"
    );
    log.append(&batch(1, 6_001, 5), 0, None).unwrap();
    assert_eq!(log.segment_base_offsets(), [0, 3]);
    // A quiet segment rolls when retention runs past its age, so it can age out.
    assert_eq!(log.apply_retention(7_001).unwrap(), 0);
    assert_eq!(log.segment_base_offsets(), [0, 3]);
    assert_eq!(log.apply_retention(7_002).unwrap(), 0);
    assert_eq!(log.segment_base_offsets(), [0, 3, 4]);
    // An empty active segment does not roll.
    assert_eq!(log.apply_retention(100_000).unwrap(), 0);
    assert_eq!(log.segment_base_offsets(), [0, 3, 4]);
}

#[test]
fn delete_records_moves_the_start_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(300, 4096);
    let mut log = FileLog::open(dir.path(), cfg.clone()).unwrap();
    for _ in 0..20 {
        log.append(&batch(3, 1_000, 30), 0, None).unwrap();
    }
    let bases = log.segment_base_offsets();
    assert!(matches!(
        log.delete_records_before(61),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(log.delete_records_before(-1).unwrap(), 0);
    // Inside the third segment, inside its first batch.
    let target = bases[2] + 1;
    assert_eq!(log.delete_records_before(target).unwrap(), target);
    assert_eq!(log.segment_base_offsets(), bases[2..]);
    assert_eq!(
        log.delete_records_before(5).unwrap(),
        target,
        "never moves back"
    );
    let got = log.read(target, 1, i64::MAX).unwrap().records;
    assert_eq!(spans(&got), [(target - 1, target + 1)]);
    assert!(log.read(target - 1, 1, i64::MAX).is_err());
    drop(log);

    let mut log = FileLog::open(dir.path(), cfg.clone()).unwrap();
    assert_eq!(log.log_start_offset(), target);
    assert_eq!(log.delete_records_before(60).unwrap(), 60);
    assert_eq!(log.segment_base_offsets().len(), 1);
    assert!(log.read(60, 100, i64::MAX).unwrap().records.is_empty());
    assert_eq!(log.max_timestamp(), None);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), None);
    log.close().unwrap();
    drop(log);
    let log = FileLog::open(dir.path(), cfg).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (60, 60));
}

#[test]
fn truncation_removes_the_tail_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(300, 0);
    let mut log = FileLog::open(dir.path(), cfg.clone()).unwrap();
    for i in 0..20 {
        log.append(&batch(3, 1_000 + i, 30), 0, None).unwrap();
    }
    let all = everything(&log);
    let reopen = |log: FileLog| {
        drop(log);
        FileLog::open(dir.path(), cfg.clone()).unwrap()
    };

    // Past the end: nothing happens.
    log.truncate_to(100).unwrap();
    assert_eq!(log.log_end_offset(), 60);

    // At a batch boundary inside the active segment, then into earlier segments.
    for (target, kept) in [(57, 57), (42, 42), (30, 30)] {
        log.truncate_to(target).unwrap();
        assert_eq!(log.log_end_offset(), target);
        let got = everything(&log);
        assert_eq!(got, all.slice(..got.len()));
        assert_eq!(spans(&got).last().unwrap().1, kept - 1);
        log = reopen(log);
        assert_eq!(log.log_end_offset(), target);
    }
    assert!(log.segment_base_offsets().iter().all(|&b| b < 30));

    // Inside a batch: the batch goes whole and the log ends at the target.
    log.truncate_to(25).unwrap();
    assert_eq!(log.log_end_offset(), 25);
    assert_eq!(spans(&everything(&log)).last().unwrap().1, 23);
    assert!(log.read(24, 100, i64::MAX).unwrap().records.is_empty());
    log = reopen(log);
    assert_eq!(log.log_end_offset(), 25);
    let info = log.append(&batch(2, 5_000, 5), 0, None).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (25, 26));
    let got = log.read(24, usize::MAX, i64::MAX).unwrap().records;
    assert_eq!(spans(&got), [(25, 26)]);
    assert_eq!(log.offset_for_timestamp(4_000).unwrap(), Some((25, 5_000)));
    assert_eq!(log.max_timestamp(), Some((5_000, 25)));

    // Below the start offset: empty, ending at the start.
    log.delete_records_before(10).unwrap();
    log.truncate_to(4).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (10, 10));
    assert!(everything(&log).is_empty());
    assert_eq!(log.segment_base_offsets(), [10]);
    log = reopen(log);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (10, 10));
    assert_eq!(
        log.append(&batch(1, 1, 1), 0, None).unwrap().base_offset,
        10
    );
}

#[test]
fn a_clean_close_reopens_identically_and_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(600, 100);
    let mut log = FileLog::open(dir.path(), cfg.clone()).unwrap();
    for i in 0..40 {
        log.append(&batch_at(&[i * 3, i * 2, 500 - i], 25), 0, None)
            .unwrap();
    }
    log.delete_records_before(7).unwrap();
    log.close().unwrap();
    assert!(dir.path().join(".kafka_cleanshutdown").exists());
    let files: Vec<(String, Vec<u8>)> = file_names(dir.path())
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .map(|n| (n.clone(), fs::read(dir.path().join(&n)).unwrap()))
        .collect();
    let state = |log: &FileLog| {
        (
            everything(log),
            log.log_start_offset(),
            log.log_end_offset(),
            log.max_timestamp(),
            log.offset_for_timestamp(250).unwrap(),
            log.segment_base_offsets(),
            log.size_bytes(),
        )
    };
    let before = state(&log);
    drop(log);

    let mut log = FileLog::open(dir.path(), cfg.clone()).unwrap();
    assert!(
        !dir.path().join(".kafka_cleanshutdown").exists(),
        "taken at open"
    );
    assert_eq!(state(&log), before);
    for (name, bytes) in &files {
        assert_eq!(
            &fs::read(dir.path().join(name)).unwrap(),
            bytes,
            "{name} unchanged"
        );
    }
    // Appending after close withdraws the marker.
    log.close().unwrap();
    log.append(&batch(1, 1, 1), 0, None).unwrap();
    assert!(!dir.path().join(".kafka_cleanshutdown").exists());
    drop(log);

    // Unclean: the last segment is recovered, with the same result.
    let log = FileLog::open(dir.path(), cfg).unwrap();
    assert_eq!(log.log_end_offset(), before.2 + 1);
}

#[test]
fn opening_creates_the_directory_and_an_empty_log() {
    let root = tempfile::tempdir().unwrap();
    let dir = FileLog::partition_dir(root.path(), "orders", 3);
    assert!(dir.ends_with("orders-3"));
    let mut log = FileLog::open(&dir, LogConfig::default()).unwrap();
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.size_bytes()
        ),
        (0, 0, 0)
    );
    assert_eq!(log.max_timestamp(), None);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), None);
    assert!(log.read(0, 100, i64::MAX).unwrap().records.is_empty());
    assert_eq!(
        file_names(&dir),
        [
            "00000000000000000000.index",
            "00000000000000000000.log",
            "00000000000000000000.timeindex"
        ]
    );
    assert!(matches!(
        log.append(b"nonsense", 0, None),
        Err(LogError::InvalidBatch(_))
    ));
    assert_eq!(log.log_end_offset(), 0);
    log.flush().unwrap();
    log.delete().unwrap();
    assert!(!dir.exists());
}

#[test]
fn replicated_appends_keep_offsets_and_epochs_and_survive_reopen() {
    let leader_dir = tempfile::tempdir().unwrap();
    let follower_dir = tempfile::tempdir().unwrap();
    let mut leader = FileLog::open(leader_dir.path(), config(400, 64)).unwrap();
    for i in 0..12 {
        leader
            .append(
                &batch(1 + i % 3, 1_000 + i as i64, 30),
                3 + (i as i32 / 4),
                None,
            )
            .unwrap();
    }
    let mut follower = FileLog::open(follower_dir.path(), config(400, 64)).unwrap();
    let mut memory = crate::log::MemoryLog::new(config(400, 64));
    // Copy in a few chunks, as a follower fetching with a byte limit would.
    while follower.log_end_offset() < leader.log_end_offset() {
        let chunk = leader
            .read(follower.log_end_offset(), 150, leader.log_end_offset())
            .unwrap()
            .records;
        follower.append_replicated(&chunk).unwrap();
        memory.append_replicated(&chunk).unwrap();
    }
    assert_eq!(everything(&follower), everything(&leader));
    assert_eq!(
        memory.read(0, usize::MAX, i64::MAX).unwrap().records,
        everything(&leader)
    );
    // A gap or an overlap is refused.
    let again = leader.read(0, 1, 1).unwrap().records;
    assert!(follower.append_replicated(&again).is_err());
    assert!(memory.append_replicated(&again).is_err());
    drop(follower);
    let follower = FileLog::open(follower_dir.path(), config(400, 64)).unwrap();
    assert_eq!(everything(&follower), everything(&leader));
    let h = BatchHeader::parse(&everything(&follower)).unwrap();
    assert_eq!(h.partition_leader_epoch, 3);
}

#[test]
fn truncate_fully_and_start_at_restarts_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::open(dir.path(), config(300, 64)).unwrap();
    for i in 0..10 {
        log.append(&batch(2, 1_000 + i, 30), 0, None).unwrap();
    }
    log.truncate_fully_and_start_at(57).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (57, 57));
    assert_eq!(log.segment_base_offsets(), vec![57]);
    let info = log.append(&batch(3, 2_000, 30), 1, None).unwrap();
    assert_eq!(info.base_offset, 57);
    drop(log);
    let mut log = FileLog::open(dir.path(), config(300, 64)).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (57, 60));
    // Restarting at the active segment's own base offset empties it in place.
    log.truncate_fully_and_start_at(57).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (57, 57));
    let mut memory = crate::log::MemoryLog::new(config(300, 64));
    memory.append(&batch(2, 1, 1), 0, None).unwrap();
    memory.truncate_fully_and_start_at(9).unwrap();
    assert_eq!((memory.log_start_offset(), memory.log_end_offset()), (9, 9));
}
