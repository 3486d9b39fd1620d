//! Rebuilding a partition's producer state from a file log: snapshot, replay after it, and
//! the fallbacks when the snapshot is missing, damaged or ahead of the log.

use std::fs;

use bytes::Bytes;
use kafka_protocol::records::{BatchOptions, RecordBatchBuilder};

use super::*;
use crate::log::{FileLog, LogConfig, MemoryLog};

const NOW: i64 = 1_700_000_000_000;

/// An idempotent batch of `n` records from `pid` at `epoch` starting at `seq`.
fn idempotent(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
    let mut b = RecordBatchBuilder::new(BatchOptions {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        ..Default::default()
    });
    for i in 0..n {
        b.append(NOW + i as i64, Some(b"k"), Some(b"v"), &[])
            .unwrap();
    }
    b.build().unwrap()
}

/// Appends a batch the way Produce does: check, append, record.
fn produce(log: &mut dyn Log, producers: &mut PartitionProducers, bytes: &Bytes) {
    let header = BatchHeader::parse(bytes).unwrap();
    let batch = ProducerBatch::of(&header).unwrap();
    assert_eq!(producers.check(&batch), Ok(Verdict::Append));
    let info = log.append(bytes, 0, None).unwrap();
    producers.record(&batch, info.base_offset, info.max_timestamp);
}

fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 400,
        ..LogConfig::default()
    }
}

/// Writes 3 producers' batches (7 from pid 1 across an epoch bump) to a fresh log.
fn fill(log: &mut dyn Log, producers: &mut PartitionProducers) {
    for i in 0..6 {
        produce(log, producers, &idempotent(1, 0, i * 2, 2));
    }
    produce(log, producers, &idempotent(2, 5, 100, 3));
    produce(log, producers, &idempotent(1, 1, 0, 1));
    produce(log, producers, &idempotent(3, 0, 0, 1));
    // A plain batch in between carries no producer state.
    log.append(&idempotent(-1, -1, -1, 2), 0, None).unwrap();
    produce(log, producers, &idempotent(1, 1, 1, 4));
}

#[test]
fn an_empty_log_has_no_producers() {
    let dir = tempfile::tempdir().unwrap();
    let log = FileLog::open(dir.path(), LogConfig::default()).unwrap();
    let p = PartitionProducers::load(Some(dir.path().into()), &log, NOW);
    assert_eq!(p.state().len(), 0);
    let mem = MemoryLog::new(LogConfig::default());
    assert_eq!(PartitionProducers::load(None, &mem, NOW).state().len(), 0);
}

#[test]
fn a_clean_shutdown_snapshot_restores_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::open(dir.path(), small_segments()).unwrap();
    let mut producers = PartitionProducers::empty(Some(dir.path().into()));
    fill(&mut log, &mut producers);
    log.close().unwrap();
    producers.save(log.log_end_offset()).unwrap();
    let expected = producers.state().clone();
    drop(log);

    let log = FileLog::open(dir.path(), small_segments()).unwrap();
    assert!(
        log.segment_base_offsets().len() > 1,
        "the test spans segments"
    );
    let loaded = PartitionProducers::load(Some(dir.path().into()), &log, NOW);
    assert_eq!(loaded.state(), &expected);
    // The rebuilt state deduplicates a resend of the last batch and of an older one.
    let last = ProducerBatch::new(1, 1, 1, 3);
    assert!(matches!(loaded.check(&last), Ok(Verdict::Duplicate(_))));
    assert!(matches!(
        loaded.check(&ProducerBatch::new(2, 5, 100, 2)),
        Ok(Verdict::Duplicate(_))
    ));
}

#[test]
fn appends_after_the_snapshot_are_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::open(dir.path(), small_segments()).unwrap();
    let mut producers = PartitionProducers::empty(Some(dir.path().into()));
    produce(&mut log, &mut producers, &idempotent(4, 0, 0, 2));
    producers.save(log.log_end_offset()).unwrap();
    // More appends, then a crash: no new snapshot.
    fill(&mut log, &mut producers);
    log.flush().unwrap();
    let expected = producers.state().clone();
    drop(log);
    let log = FileLog::open(dir.path(), small_segments()).unwrap();
    let loaded = PartitionProducers::load(Some(dir.path().into()), &log, NOW);
    // Producer 4 came from the snapshot, the rest from the log.
    assert_eq!(loaded.state(), &expected);
}

#[test]
fn without_a_usable_snapshot_the_whole_log_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::open(dir.path(), small_segments()).unwrap();
    let mut producers = PartitionProducers::empty(Some(dir.path().into()));
    fill(&mut log, &mut producers);
    log.flush().unwrap();
    let expected = producers.state().clone();
    let path = dir.path().join(SNAPSHOT_FILE);

    // None at all.
    let loaded = PartitionProducers::load(Some(dir.path().into()), &log, NOW);
    assert_eq!(loaded.state(), &expected);

    // Damaged.
    producers.save(log.log_end_offset()).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let loaded = PartitionProducers::load(Some(dir.path().into()), &log, NOW);
    assert_eq!(loaded.state(), &expected);

    // Ahead of the log (data was lost after it was written): its state cannot be trusted.
    let mut bogus = ProducerStateManager::default();
    bogus.record(&ProducerBatch::new(99, 0, 0, 0), 0, NOW);
    fs::write(&path, snapshot::encode(&bogus, 1_000_000)).unwrap();
    let loaded = PartitionProducers::load(Some(dir.path().into()), &log, NOW);
    assert_eq!(loaded.state(), &expected);
}

#[test]
fn expired_producers_are_dropped_on_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::open(dir.path(), LogConfig::default()).unwrap();
    let mut producers = PartitionProducers::empty(Some(dir.path().into()));
    produce(&mut log, &mut producers, &idempotent(1, 0, 0, 1));
    producers.save(log.log_end_offset()).unwrap();
    produce(&mut log, &mut producers, &idempotent(2, 0, 0, 1));
    let later = NOW + crate::producer::sequence::PRODUCER_ID_EXPIRATION_MS + 10;
    let loaded = PartitionProducers::load(Some(dir.path().into()), &log, later);
    assert_eq!(loaded.state().len(), 0);
}

#[test]
fn deleted_records_keep_their_producers() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::open(dir.path(), small_segments()).unwrap();
    let mut producers = PartitionProducers::empty(Some(dir.path().into()));
    fill(&mut log, &mut producers);
    let expected = producers.state().clone();
    producers.save(log.log_end_offset()).unwrap();
    let end = log.log_end_offset();
    log.delete_records_before(end).unwrap();
    log.close().unwrap();
    drop(log);
    let log = FileLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.log_start_offset(), end);
    let loaded = PartitionProducers::load(Some(dir.path().into()), &log, NOW);
    assert_eq!(loaded.state(), &expected);
}
