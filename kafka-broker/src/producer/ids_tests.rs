//! InitProducerId's coordinator rules, driven directly.

use super::*;

fn idempotent() -> InitRequest<'static> {
    InitRequest {
        transactional_id: None,
        transaction_timeout_ms: -1,
        producer_id: -1,
        producer_epoch: -1,
    }
}

fn txn(tid: &str) -> InitRequest<'_> {
    InitRequest {
        transactional_id: Some(tid),
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
    }
}

fn resume(tid: &str, producer_id: i64, producer_epoch: i16) -> InitRequest<'_> {
    InitRequest {
        producer_id,
        producer_epoch,
        ..txn(tid)
    }
}

fn grant(m: &mut ProducerIdManager, req: &InitRequest<'_>) -> (i64, i16) {
    let o = m.init(req).unwrap();
    (o.granted.producer_id, o.granted.epoch)
}

fn code(m: &mut ProducerIdManager, req: &InitRequest<'_>) -> ErrorCode {
    m.init(req).map_or_else(|e| e.code(), |_| ErrorCode::None)
}

#[test]
fn idempotent_producers_get_fresh_ids_at_epoch_zero() {
    let mut m = ProducerIdManager::default();
    let first = m.init(&idempotent()).unwrap();
    assert_eq!((first.granted.producer_id, first.granted.epoch), (0, 0));
    assert!(first.persist, "the first id claims a block");
    assert_eq!(m.high_water(), BLOCK_SIZE);
    let second = m.init(&idempotent()).unwrap();
    assert_eq!(second.granted.producer_id, 1);
    assert!(!second.persist, "inside the block nothing is persisted");
    // A resuming idempotent producer still gets a new id (Kafka ignores id and epoch).
    let again = m
        .init(&InitRequest {
            producer_id: 1,
            producer_epoch: 0,
            ..idempotent()
        })
        .unwrap();
    assert_eq!((again.granted.producer_id, again.granted.epoch), (2, 0));
}

#[test]
fn ids_continue_above_the_high_water_mark_after_a_restart() {
    let mut m = ProducerIdManager::default();
    for _ in 0..BLOCK_SIZE + 3 {
        m.init(&idempotent()).unwrap();
    }
    assert_eq!(m.high_water(), 2 * BLOCK_SIZE);
    let mut restarted = ProducerIdManager::restore(m.high_water(), BTreeMap::new());
    let o = restarted.init(&idempotent()).unwrap();
    assert_eq!(o.granted.producer_id, 2 * BLOCK_SIZE, "never reused");
    assert!(o.persist);
    assert_eq!(restarted.high_water(), 3 * BLOCK_SIZE);
}

#[test]
fn undo_takes_a_change_back() {
    let mut m = ProducerIdManager::default();
    let before = m.clone();
    let o = m.init(&idempotent()).unwrap();
    m.undo(o.undo);
    assert_eq!(m, before);
    grant(&mut m, &txn("a"));
    let before = m.clone();
    let o = m.init(&txn("a")).unwrap();
    m.undo(o.undo);
    assert_eq!(m, before);
    let o = m.init(&txn("b")).unwrap();
    m.undo(o.undo);
    assert_eq!(m, before, "a new binding is removed again");
}

#[test]
fn a_transactional_id_keeps_its_id_and_bumps_its_epoch() {
    let mut m = ProducerIdManager::default();
    let (pid, e0) = grant(&mut m, &txn("t"));
    assert_eq!(e0, 0);
    assert_eq!(grant(&mut m, &txn("t")), (pid, 1));
    assert_eq!(grant(&mut m, &txn("t")), (pid, 2));
    let (other, _) = grant(&mut m, &txn("u"));
    assert_ne!(other, pid);
    let b = m.transactional()["t"];
    assert_eq!((b.producer_id, b.epoch, b.timeout_ms), (pid, 2, 60_000));
}

#[test]
fn bad_transactional_requests() {
    let mut m = ProducerIdManager::default();
    assert_eq!(code(&mut m, &txn("")), ErrorCode::InvalidRequest);
    for t in [0, -5, TRANSACTION_MAX_TIMEOUT_MS + 1] {
        let req = InitRequest {
            transaction_timeout_ms: t,
            ..txn("t")
        };
        assert_eq!(code(&mut m, &req), ErrorCode::InvalidTransactionTimeout);
    }
    let req = InitRequest {
        transaction_timeout_ms: TRANSACTION_MAX_TIMEOUT_MS,
        ..txn("t")
    };
    assert_eq!(code(&mut m, &req), ErrorCode::None);
    // Only one of producer id and epoch.
    assert_eq!(code(&mut m, &resume("t", 5, -1)), ErrorCode::InvalidRequest);
    assert_eq!(code(&mut m, &resume("t", -1, 0)), ErrorCode::InvalidRequest);
    assert_eq!(
        code(
            &mut m,
            &InitRequest {
                producer_epoch: 3,
                ..idempotent()
            }
        ),
        ErrorCode::InvalidRequest
    );
    // Refusals allocate nothing.
    let next = grant(&mut m, &idempotent()).0;
    assert_eq!(next, 1);
}

#[test]
fn kip_360_resume_bumps_the_current_epoch() {
    let mut m = ProducerIdManager::default();
    let (pid, _) = grant(&mut m, &txn("t"));
    assert_eq!(grant(&mut m, &resume("t", pid, 0)), (pid, 1));
    // A retry of that request (its answer was lost) gets the same answer, no second bump.
    assert_eq!(grant(&mut m, &resume("t", pid, 0)), (pid, 1));
    assert_eq!(grant(&mut m, &resume("t", pid, 1)), (pid, 2));
    // An older epoch, or another id, is fenced.
    assert_eq!(
        m.init(&resume("t", pid, 0)),
        Err(InitError::ProducerFenced {
            producer_id: pid,
            epoch: 0
        })
    );
    assert_eq!(
        code(&mut m, &resume("t", pid + 50, 2)),
        ErrorCode::ProducerFenced
    );
    // A fresh transactional id accepts whatever the client remembers.
    let (fresh, e) = grant(&mut m, &resume("new", 12_345, 7));
    assert_eq!(e, 0);
    assert_ne!(fresh, 12_345);
    // Without KIP-360 fields a new producer always wins and fences the old epoch.
    assert_eq!(grant(&mut m, &txn("t")), (pid, 3));
    assert_eq!(
        code(&mut m, &resume("t", pid, 2)),
        ErrorCode::ProducerFenced
    );
}

#[test]
fn an_exhausted_epoch_rotates_to_a_new_id() {
    let exhausted = i16::MAX - 1;
    let mut tx = BTreeMap::new();
    tx.insert(
        "t".to_string(),
        TxnProducer {
            producer_id: 5,
            epoch: exhausted,
            prev_producer_id: 5,
            last_epoch: exhausted - 1,
            timeout_ms: 1_000,
        },
    );
    let mut m = ProducerIdManager::restore(100, tx.clone());
    assert_eq!(grant(&mut m, &resume("t", 5, exhausted)), (100, 0));
    // The retry of that rotation names the old id and exhausted epoch: same answer.
    assert_eq!(grant(&mut m, &resume("t", 5, exhausted)), (100, 0));
    assert_eq!(grant(&mut m, &resume("t", 100, 0)), (100, 1));

    // Without KIP-360 fields it rotates too.
    let mut m = ProducerIdManager::restore(100, tx);
    assert_eq!(grant(&mut m, &txn("t")), (100, 0));
    let b = m.transactional()["t"];
    assert_eq!((b.prev_producer_id, b.last_epoch), (5, -1));
    // The old id is fenced now: its epoch is no retry of this rotation.
    assert_eq!(
        code(&mut m, &resume("t", 5, exhausted)),
        ErrorCode::ProducerFenced
    );
}

#[test]
fn epochs_never_reach_i16_max() {
    assert!(!is_epoch_exhausted(0));
    assert!(!is_epoch_exhausted(i16::MAX - 2));
    assert!(is_epoch_exhausted(i16::MAX - 1));
    assert!(is_epoch_exhausted(i16::MAX));
    let mut tx = BTreeMap::new();
    tx.insert(
        "t".to_string(),
        TxnProducer {
            producer_id: 5,
            epoch: i16::MAX - 2,
            prev_producer_id: 5,
            last_epoch: -1,
            timeout_ms: 1_000,
        },
    );
    let mut m = ProducerIdManager::restore(10, tx);
    assert_eq!(grant(&mut m, &txn("t")), (5, i16::MAX - 1));
    assert_eq!(grant(&mut m, &txn("t")), (10, 0));
}

#[test]
fn running_out_of_ids_is_an_error_not_a_panic() {
    let mut m = ProducerIdManager::restore(i64::MAX - 1, BTreeMap::new());
    assert_eq!(m.init(&idempotent()), Err(InitError::IdsExhausted));
    assert_eq!(code(&mut m, &txn("t")), ErrorCode::UnknownServerError);
    assert!(m.transactional().is_empty());
}
