use super::*;
use std::sync::Arc;

fn ready(epoch: i16) -> Idempotence {
    let mut i = Idempotence::new(true);
    assert!(i.start_init());
    assert!(!i.start_init(), "one InitProducerId at a time");
    i.init_done(Ok(ProducerIdAndEpoch { id: 5, epoch }));
    i
}

#[test]
fn disabled_producers_sequence_nothing() {
    let mut i = Idempotence::new(false);
    assert!(!i.enabled() && !i.start_init());
    assert!(i.assign(&Arc::from("t"), 0, 3).is_none());
}

#[test]
fn sequences_are_per_partition_and_acks_advance() {
    let mut i = ready(0);
    let t: Arc<str> = "t".into();
    assert!(i.can_send_new(&t, 0));
    let a = i.assign(&t, 0, 3).unwrap();
    let b = i.assign(&t, 0, 2).unwrap();
    let c = i.assign(&t, 1, 4).unwrap();
    assert_eq!(
        (a.base_sequence, b.base_sequence, c.base_sequence),
        (0, 3, 0)
    );
    assert!(i.is_next(&t, 0, a));
    assert!(!i.is_next(&t, 0, b));
    assert!(i.can_send_retry(&t, 0, a));
    assert!(
        !i.can_send_retry(&t, 0, b),
        "only the oldest incomplete batch is resent"
    );
    i.on_success(&t, 0, a, 2);
    assert!(i.is_next(&t, 0, b));
    assert!(i.can_send_retry(&t, 0, b));
}

#[test]
fn retriable_init_errors_try_again_and_fatal_ones_stick() {
    let mut i = Idempotence::new(true);
    i.start_init();
    i.init_done(Err(ProducerError::Client(kafka_client::Error::broker(
        kafka_protocol::ErrorCode::CoordinatorNotAvailable,
        None,
    ))));
    assert!(i.start_init(), "retriable: asks again");
    i.init_done(Err(ProducerError::Client(kafka_client::Error::broker(
        kafka_protocol::ErrorCode::ClusterAuthorizationFailed,
        None,
    ))));
    assert!(i.fatal().is_some());
    assert!(!i.start_init());
}

#[test]
fn a_fatal_batch_bumps_the_epoch_and_rewrites_its_partition_when_idle() {
    let mut i = ready(7);
    let t: Arc<str> = "t".into();
    let a = i.assign(&t, 0, 1).unwrap();
    let b = i.assign(&t, 0, 1).unwrap();
    let other = i.assign(&t, 1, 1).unwrap();
    i.on_sent(&t, 0);
    i.on_sent(&t, 0);
    i.on_sent(&t, 1);
    i.on_answered(&t, 0);
    i.on_fatal_failure(&t, 0, a);
    i.maybe_bump();
    assert!(!i.can_send_new(&t, 0), "rewrite pending");
    assert!(!i.take_rewrite(&t, 0), "b is still on the wire");
    i.on_answered(&t, 0);
    assert!(i.take_rewrite(&t, 0));
    let b2 = i.restamp(&t, 0, 1).unwrap();
    assert_eq!((b2.epoch, b2.base_sequence), (8, 0));
    assert_ne!(b, b2);
    // Partition 1 keeps its old epoch while its batch is out, then starts over at 0.
    assert!(!i.can_send_new(&t, 1));
    i.on_answered(&t, 1);
    i.on_success(&t, 1, other, 0);
    assert!(i.can_send_new(&t, 1));
    let n = i.assign(&t, 1, 1).unwrap();
    assert_eq!((n.epoch, n.base_sequence), (8, 0));
}

#[test]
fn an_exhausted_epoch_asks_for_a_new_producer_id() {
    let mut i = ready(i16::MAX);
    let t: Arc<str> = "t".into();
    let a = i.assign(&t, 0, 1).unwrap();
    i.on_fatal_failure(&t, 0, a);
    i.maybe_bump();
    assert!(i.start_init());
    i.init_done(Ok(ProducerIdAndEpoch { id: 6, epoch: 0 }));
    assert!(i.take_rewrite(&t, 0));
    let s = i.assign(&t, 0, 1).unwrap();
    assert_eq!((s.producer_id, s.epoch, s.base_sequence), (6, 0, 0));
}

#[test]
fn splits_take_their_parents_place() {
    let mut i = ready(0);
    let t: Arc<str> = "t".into();
    let a = i.assign(&t, 0, 10).unwrap();
    let b = i.assign(&t, 0, 1).unwrap();
    i.on_split(&t, 0, a.base_sequence, &[0, 4, 7]);
    assert!(i.can_send_retry(
        &t,
        0,
        ProducerStamp {
            base_sequence: 0,
            ..a
        }
    ));
    i.on_success(
        &t,
        0,
        ProducerStamp {
            base_sequence: 0,
            ..a
        },
        3,
    );
    assert!(i.can_send_retry(
        &t,
        0,
        ProducerStamp {
            base_sequence: 4,
            ..a
        }
    ));
    assert!(!i.can_send_retry(&t, 0, b));
}

#[test]
fn sequence_order_allows_for_wrapping() {
    assert!(sequence_after(1, 0));
    assert!(sequence_after(0, i32::MAX));
    assert!(!sequence_after(i32::MAX, 0));
    assert!(!sequence_after(3, 3));
}
