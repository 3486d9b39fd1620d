//! The sequence state machine, driven directly: in-order appends, duplicates of each of the
//! last five batches, older retries, gaps, epochs and wraparound.

use super::*;

const PID: i64 = 7;

/// A batch of `n` records from [`PID`] at `epoch` starting at `seq`.
fn batch(epoch: i16, seq: i32, n: i32) -> ProducerBatch {
    ProducerBatch::new(PID, epoch, seq, n - 1)
}

/// Checks and, when told to append, records at the next offset; returns the verdict.
struct Log {
    state: ProducerStateManager,
    next_offset: i64,
}

impl Log {
    fn new() -> Self {
        Self {
            state: ProducerStateManager::default(),
            next_offset: 0,
        }
    }

    fn produce(&mut self, b: ProducerBatch) -> Result<Verdict, SequenceError> {
        let v = self.state.check(&b)?;
        if v == Verdict::Append {
            self.state
                .record(&b, self.next_offset, 1_000 + self.next_offset);
            self.next_offset += i64::from(b.offset_delta) + 1;
        }
        Ok(v)
    }

    /// Produces and expects an append at the offset it gets; returns that offset.
    fn append(&mut self, b: ProducerBatch) -> i64 {
        let at = self.next_offset;
        assert_eq!(self.produce(b), Ok(Verdict::Append), "{b:?}");
        at
    }
}

fn duplicate_offset(v: Result<Verdict, SequenceError>) -> i64 {
    match v {
        Ok(Verdict::Duplicate(d)) => d.first_offset,
        other => panic!("expected a duplicate, got {other:?}"),
    }
}

fn code(v: Result<Verdict, SequenceError>) -> ErrorCode {
    v.map(|_| ErrorCode::None).unwrap_or_else(|e| e.code())
}

#[test]
fn in_order_batches_append() {
    let mut log = Log::new();
    assert_eq!(log.append(batch(0, 0, 3)), 0);
    assert_eq!(log.append(batch(0, 3, 1)), 3);
    assert_eq!(log.append(batch(0, 4, 10)), 4);
    let e = log.state.entry(PID).unwrap();
    assert_eq!((e.epoch, e.last_seq(), e.batches.len()), (0, 13, 3));
    assert_eq!(e.last_timestamp, 1_004);
}

#[test]
fn a_duplicate_of_each_of_the_last_five_answers_its_original_offset() {
    let mut log = Log::new();
    let batches: Vec<_> = (0..7).map(|i| batch(0, i * 2, 2)).collect();
    let offsets: Vec<_> = batches.iter().map(|b| log.append(*b)).collect();
    // The last five are remembered: each resend is a duplicate with its own offset.
    for i in 2..7 {
        assert_eq!(
            duplicate_offset(log.produce(batches[i])),
            offsets[i],
            "batch {i}"
        );
    }
    // Nothing was appended by the resends.
    assert_eq!(log.next_offset, 14);
    // Older than the last five: out of order, as Kafka answers.
    for old in &batches[..2] {
        assert_eq!(code(log.produce(*old)), ErrorCode::OutOfOrderSequenceNumber);
    }
    // The duplicate carries the stored batch's timestamp.
    match log.produce(batches[6]) {
        Ok(Verdict::Duplicate(d)) => {
            assert_eq!(
                (d.first_offset, d.last_offset, d.timestamp),
                (12, 13, 1_012)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_resend_with_another_length_is_not_a_duplicate() {
    let mut log = Log::new();
    log.append(batch(0, 0, 3));
    log.append(batch(0, 3, 3));
    // Same first sequence, different last: not a duplicate, and behind the last sequence.
    assert_eq!(
        code(log.produce(batch(0, 3, 2))),
        ErrorCode::OutOfOrderSequenceNumber
    );
}

#[test]
fn gaps_are_out_of_order() {
    let mut log = Log::new();
    log.append(batch(0, 0, 5));
    assert_eq!(
        log.produce(batch(0, 6, 1)),
        Err(SequenceError::OutOfOrder {
            producer_id: PID,
            first_seq: 6,
            last_seq: 4
        })
    );
    assert_eq!(
        code(log.produce(batch(0, 4, 1))),
        ErrorCode::OutOfOrderSequenceNumber
    );
    // The refusals changed nothing: the right sequence still appends.
    assert_eq!(log.append(batch(0, 5, 1)), 5);
}

#[test]
fn an_unknown_producer_may_start_anywhere() {
    let mut log = Log::new();
    // As Kafka since KIP-360: its earlier batches may have been deleted by retention.
    assert_eq!(log.append(batch(3, 42, 2)), 0);
    assert_eq!(log.append(batch(3, 44, 1)), 2);
    assert_eq!(
        code(log.produce(batch(3, 46, 1))),
        ErrorCode::OutOfOrderSequenceNumber
    );
    // Another producer id is independent.
    let other = ProducerBatch::new(PID + 1, 0, 0, 0);
    assert_eq!(log.state.check(&other), Ok(Verdict::Append));
}

#[test]
fn stale_epochs_are_refused() {
    let mut log = Log::new();
    log.append(batch(2, 0, 1));
    assert_eq!(
        log.produce(batch(1, 1, 1)),
        Err(SequenceError::StaleEpoch {
            producer_id: PID,
            epoch: 1,
            current: 2
        })
    );
    // A resend of a batch the old epoch wrote is refused too, not deduplicated.
    log.append(batch(3, 0, 1));
    assert_eq!(
        code(log.produce(batch(2, 0, 1))),
        ErrorCode::InvalidProducerEpoch
    );
}

#[test]
fn an_epoch_bump_restarts_sequences_at_zero() {
    let mut log = Log::new();
    log.append(batch(0, 0, 5));
    assert_eq!(
        log.produce(batch(1, 5, 1)),
        Err(SequenceError::NewEpochNotAtZero {
            producer_id: PID,
            epoch: 1,
            first_seq: 5
        })
    );
    assert_eq!(log.append(batch(1, 0, 2)), 5);
    let e = log.state.entry(PID).unwrap();
    assert_eq!((e.epoch, e.batches.len(), e.last_seq()), (1, 1, 1));
    // The old epoch's batches are forgotten: resending one is a stale epoch.
    assert_eq!(
        code(log.produce(batch(0, 0, 5))),
        ErrorCode::InvalidProducerEpoch
    );
    assert_eq!(log.append(batch(1, 2, 1)), 7);
}

#[test]
fn sequences_wrap_at_i32_max() {
    assert_eq!(increment_sequence(i32::MAX, 1), 0);
    assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
    assert_eq!(increment_sequence(5, 0), 5);
    assert_eq!(increment_sequence(5, -3), 5);
    assert!(in_sequence(i32::MAX, 0));
    assert!(in_sequence(-1, 0));
    assert!(!in_sequence(i32::MAX, i32::MIN));

    let mut log = Log::new();
    // A batch ending exactly at i32::MAX, then one starting at 0.
    log.append(batch(0, i32::MAX - 2, 3));
    assert_eq!(log.state.entry(PID).unwrap().last_seq(), i32::MAX);
    assert_eq!(log.append(batch(0, 0, 2)), 3);
    // A batch straddling the wrap: last sequence wraps, and both are deduplicated.
    log.append(batch(0, 2, 1));
    let mut log2 = Log::new();
    let straddling = batch(0, i32::MAX - 1, 4);
    assert_eq!(straddling.last_seq, 1);
    log2.append(straddling);
    assert_eq!(duplicate_offset(log2.produce(straddling)), 0);
    assert_eq!(log2.append(batch(0, 2, 1)), 4);
    assert_eq!(
        code(log2.produce(batch(0, i32::MAX, 1))),
        ErrorCode::OutOfOrderSequenceNumber
    );
}

#[test]
fn replay_rebuilds_what_appends_recorded() {
    let mut log = Log::new();
    for i in 0..8 {
        log.append(batch(0, i * 3, 3));
    }
    log.append(batch(1, 0, 1));
    log.append(batch(1, 1, 2));
    let mut rebuilt = ProducerStateManager::default();
    // Replay the same batches as headers read back from a log.
    let mut offset = 0;
    let mut replay = |epoch: i16, seq: i32, n: i32| {
        let h = BatchHeader {
            base_offset: offset,
            batch_length: 0,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: n - 1,
            base_timestamp: 0,
            max_timestamp: 1_000 + offset,
            producer_id: PID,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: n,
        };
        rebuilt.replay(&h);
        offset += i64::from(n);
    };
    for i in 0..8 {
        replay(0, i * 3, 3);
    }
    replay(1, 0, 1);
    replay(1, 1, 2);
    assert_eq!(rebuilt, log.state);
}

#[test]
fn replayed_markers_and_plain_batches() {
    let mut state = ProducerStateManager::default();
    let mut h = BatchHeader {
        base_offset: 0,
        batch_length: 0,
        partition_leader_epoch: 0,
        magic: 2,
        crc: 0,
        attributes: 0,
        last_offset_delta: 0,
        base_timestamp: 0,
        max_timestamp: 5,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        records_count: 1,
    };
    state.replay(&h);
    assert_eq!(
        state.len(),
        0,
        "batches without a producer id carry no state"
    );
    h.producer_id = PID;
    h.producer_epoch = 0;
    h.base_sequence = 0;
    state.replay(&h);
    h.attributes = kafka_protocol::records::attributes::CONTROL;
    h.producer_epoch = 1;
    h.base_offset = 1;
    state.replay(&h);
    let e = state.entry(PID).unwrap();
    assert_eq!(
        (e.epoch, e.batches.len()),
        (1, 0),
        "a marker moves the epoch"
    );
    // Next batch of epoch 1 must start at 0.
    assert_eq!(state.check(&batch(1, 0, 1)), Ok(Verdict::Append));
    assert_eq!(
        code(state.check(&batch(1, 1, 1))),
        ErrorCode::OutOfOrderSequenceNumber
    );
}

#[test]
fn producers_expire_a_day_after_their_last_batch() {
    let mut state = ProducerStateManager::default();
    state.record(&batch(0, 0, 1), 0, 1_000);
    state.record(&ProducerBatch::new(9, 0, 0, 0), 1, 50_000);
    assert_eq!(
        state.remove_expired(1_000 + PRODUCER_ID_EXPIRATION_MS - 1),
        0
    );
    assert_eq!(state.remove_expired(1_000 + PRODUCER_ID_EXPIRATION_MS), 1);
    assert!(state.entry(PID).is_none());
    assert!(state.entry(9).is_some());
    // An expired producer is unknown again: any sequence is accepted.
    assert_eq!(state.check(&batch(0, 77, 1)), Ok(Verdict::Append));
}

#[test]
fn batches_without_a_producer_id_are_not_idempotent() {
    let h = BatchHeader {
        base_offset: 0,
        batch_length: 0,
        partition_leader_epoch: 0,
        magic: 2,
        crc: 0,
        attributes: 0,
        last_offset_delta: 4,
        base_timestamp: 0,
        max_timestamp: 0,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        records_count: 5,
    };
    assert_eq!(ProducerBatch::of(&h), None);
    let b = ProducerBatch::of(&BatchHeader {
        producer_id: 3,
        producer_epoch: 2,
        base_sequence: 10,
        ..h
    })
    .unwrap();
    assert_eq!((b.first_seq, b.last_seq, b.offset_delta), (10, 14, 4));
}
