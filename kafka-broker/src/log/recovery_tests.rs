//! Tests of opening a damaged directory: torn and corrupt tails, bad indexes, leftovers.

use std::fs;
use std::path::Path;

use bytes::Bytes;

use super::super::test_util::{batch, config};
use super::super::{FileLog, Log, LogConfig};
use super::*;

fn cfg() -> LogConfig {
    config(700, 100)
}

/// A log in `dir` with a few segments; returns every appended batch's `(base, last)`.
fn fill(dir: &Path, batches: usize) -> Vec<(i64, i64)> {
    let mut log = FileLog::open(dir, cfg()).unwrap();
    let mut spans = Vec::new();
    for i in 0..batches {
        let info = log
            .append(&batch(1 + i % 4, 1_000 + i as i64, 30), 0, None)
            .unwrap();
        spans.push((info.base_offset, info.last_offset));
    }
    spans
}

/// Everything the log serves, as one buffer.
fn contents(log: &FileLog) -> Bytes {
    log.read(log.log_start_offset(), usize::MAX, i64::MAX)
        .unwrap()
        .records
}

fn last_log_file(dir: &Path) -> std::path::PathBuf {
    let mut logs: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// The position of the last batch in a log file.
fn last_batch_position(path: &Path) -> u64 {
    let f = fs::File::open(path).unwrap();
    let size = f.metadata().unwrap().len();
    let mut walk = FileBatches::new(&f, 0, size, 1 << 16);
    let mut last = 0;
    while let Some(b) = walk.next_header().unwrap() {
        last = b.position;
    }
    last
}

/// Opens a damaged copy and checks it serves exactly the batches before the damage and
/// appends at the right offset, now and after another (unclean) reopen.
fn check_recovers_to(dir: &Path, before: &Bytes, next_offset: i64) {
    let mut log = FileLog::open(dir, cfg()).unwrap();
    assert_eq!(log.log_end_offset(), next_offset);
    assert_eq!(contents(&log), *before);
    let info = log.append(&batch(2, 9_999, 5), 0, None).unwrap();
    assert_eq!(info.base_offset, next_offset);
    drop(log);
    let log = FileLog::open(dir, cfg()).unwrap();
    assert_eq!(log.log_end_offset(), next_offset + 2);
    assert_eq!(contents(&log).slice(..before.len()), *before);
}

#[test]
fn a_tail_cut_at_every_byte_of_the_last_batch_is_dropped() {
    let root = tempfile::tempdir().unwrap();
    let orig = root.path().join("orig");
    let spans = fill(&orig, 9);
    let (last_base, _) = *spans.last().unwrap();
    let path = last_log_file(&orig);
    let size = fs::metadata(&path).unwrap().len();
    let pos = last_batch_position(&path);
    let before = {
        let log = FileLog::open(&orig, cfg()).unwrap();
        contents(&log).slice(..contents(&log).len() - (size - pos) as usize)
    };
    for cut in pos..size {
        for marker in [false, true] {
            let dir = root.path().join(format!("cut-{cut}-{marker}"));
            copy_dir(&orig, &dir);
            let log_file = dir.join(path.file_name().unwrap());
            fs::OpenOptions::new()
                .write(true)
                .open(&log_file)
                .unwrap()
                .set_len(cut)
                .unwrap();
            if marker {
                // A marker that lies must not make a torn tail trusted.
                fs::write(dir.join(".kafka_cleanshutdown"), b"").unwrap();
            }
            check_recovers_to(&dir, &before, last_base);
            fs::remove_dir_all(&dir).unwrap();
        }
    }
}

#[test]
fn a_corrupt_byte_in_the_last_batch_drops_it() {
    let root = tempfile::tempdir().unwrap();
    let orig = root.path().join("orig");
    let spans = fill(&orig, 7);
    let (last_base, _) = *spans.last().unwrap();
    let path = last_log_file(&orig);
    let size = fs::metadata(&path).unwrap().len();
    let pos = last_batch_position(&path);
    let all = contents(&FileLog::open(&orig, cfg()).unwrap());
    let before = all.slice(..all.len() - (size - pos) as usize);
    for at in pos..size {
        // Bytes 12-15 are the partition leader epoch, outside the CRC: Kafka cannot tell a
        // damaged one either.
        if (12..16).contains(&(at - pos)) {
            continue;
        }
        let dir = root.path().join(format!("flip-{at}"));
        copy_dir(&orig, &dir);
        let log_file = dir.join(path.file_name().unwrap());
        let mut bytes = fs::read(&log_file).unwrap();
        bytes[at as usize] ^= 0x5a;
        fs::write(&log_file, &bytes).unwrap();
        check_recovers_to(&dir, &before, last_base);
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn missing_or_garbage_indexes_are_rebuilt() {
    let root = tempfile::tempdir().unwrap();
    let orig = root.path().join("orig");
    fill(&orig, 30);
    let mut log = FileLog::open(&orig, cfg()).unwrap();
    log.close().unwrap();
    let all = contents(&log);
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 3, "{bases:?}");
    drop(log);
    let index_bytes =
        |dir: &Path, base: i64, suffix: &str| fs::read(dir.join(file_name(base, suffix))).unwrap();

    type Damage = fn(&Path);
    let damages: [(&str, Damage); 6] = [
        ("missing", |p| fs::remove_file(p).unwrap()),
        ("empty", |p| fs::write(p, b"").unwrap()),
        ("partial entry", |p| fs::write(p, [0u8; 5]).unwrap()),
        ("garbage", |p| fs::write(p, [0x7fu8; 48]).unwrap()),
        ("zeros", |p| {
            let n = fs::metadata(p).unwrap().len() + 24;
            fs::write(p, vec![0u8; n as usize]).unwrap()
        }),
        ("last entry mid-batch", |p| {
            // Only meaningful for the offset index (see below).
            let mut b = fs::read(p).unwrap();
            let n = b.len();
            if n >= 8 {
                let pos = i32::from_be_bytes(b[n - 4..].try_into().unwrap()) + 3;
                b[n - 4..].copy_from_slice(&pos.to_be_bytes());
            } else {
                b = vec![0, 0, 0, 1, 0, 0, 0, 3];
            }
            fs::write(p, b).unwrap()
        }),
    ];
    for (name, damage) in damages {
        for &base in &bases {
            for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
                // An empty offset index is a valid (if slow) one. A time index with a nudged
                // timestamp may still be sane, and only sends searches a little earlier.
                // Only the last offset-index entry is checked against the log (a cheap
                // plausibility check, as Kafka's); damage to earlier ones goes unnoticed.
                if (name == "empty" && suffix == INDEX_SUFFIX)
                    || (name == "last entry mid-batch" && suffix == TIME_INDEX_SUFFIX)
                {
                    continue;
                }
                let dir = root.path().join(format!("{name}-{base}{suffix}"));
                copy_dir(&orig, &dir);
                damage(&dir.join(file_name(base, suffix)));
                // With the clean marker: only the sanity checks stand between the damage
                // and the reads.
                fs::write(dir.join(".kafka_cleanshutdown"), b"").unwrap();
                let mut log = FileLog::open(&dir, cfg()).unwrap();
                assert_eq!(contents(&log), all, "{name} {base}{suffix}");
                for offset in log.log_start_offset()..log.log_end_offset() {
                    let r = log.read(offset, 1, i64::MAX).unwrap().records;
                    let h = kafka_protocol::records::BatchHeader::parse(&r).unwrap();
                    assert!(h.base_offset <= offset && offset <= h.last_offset());
                }
                log.close().unwrap();
                drop(log);
                for s in [INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
                    assert_eq!(
                        index_bytes(&dir, base, s),
                        index_bytes(&orig, base, s),
                        "{name} {base}{s}"
                    );
                }
                fs::remove_dir_all(&dir).unwrap();
            }
        }
    }
}

#[test]
fn leftovers_and_orphans_are_removed_and_other_files_kept() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 3);
    let junk = [
        "00000000000000000000.log.deleted",
        "00000000000000000000.index.deleted",
        "00000000000000000000.log.cleaned",
        "00000000000000000000.log.swap",
        "log-start-offset.tmp",
        "00000000000000099999.index",
        "00000000000000099999.timeindex",
    ];
    for name in junk {
        fs::write(dir.path().join(name), b"junk").unwrap();
    }
    let keep = ["leader-epoch-checkpoint", "partition.metadata"];
    for name in keep {
        fs::write(dir.path().join(name), b"kept").unwrap();
    }
    let log = FileLog::open(dir.path(), cfg()).unwrap();
    assert_eq!(log.log_end_offset(), 1 + 2 + 3);
    for name in junk {
        assert!(!dir.path().join(name).exists(), "{name}");
    }
    for name in keep {
        assert!(dir.path().join(name).exists(), "{name}");
    }
}

#[test]
fn a_log_file_of_garbage_recovers_to_empty() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(file_name(40, LOG_SUFFIX)), [0xabu8; 300]).unwrap();
    let mut log = FileLog::open(dir.path(), cfg()).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (40, 40));
    assert_eq!(
        fs::metadata(dir.path().join(file_name(40, LOG_SUFFIX)))
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        log.append(&batch(2, 1, 1), 0, None).unwrap().base_offset,
        40
    );
}

#[test]
fn an_overlapping_segment_is_cut_at_the_next_base() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::open(dir.path(), config(1 << 20, 100)).unwrap();
    for _ in 0..6 {
        log.append(&batch(2, 1, 10), 0, None).unwrap();
    }
    log.close().unwrap();
    drop(log);
    let first = dir.path().join(file_name(0, LOG_SUFFIX));
    let batch_size = fs::metadata(&first).unwrap().len() / 6;
    // A second segment starting at 6 while the first runs to 12.
    fs::write(dir.path().join(file_name(6, LOG_SUFFIX)), b"").unwrap();
    let log = FileLog::open(dir.path(), config(1 << 20, 100)).unwrap();
    assert_eq!(log.segment_base_offsets(), [0, 6]);
    assert_eq!(log.log_end_offset(), 6);
    assert_eq!(fs::metadata(&first).unwrap().len(), 3 * batch_size);
}
