use super::*;
use crate::batch::{ProducerStamp, RecordInput};
use crate::idempotence::ProducerIdAndEpoch;
use kafka_protocol::records::BatchOptions;

fn batch(records: usize) -> ProducerBatch {
    let mut b = ProducerBatch::new(
        0,
        "t".into(),
        0,
        BatchOptions::default(),
        1 << 20,
        0,
        false,
        Instant::now(),
        None,
    );
    for _ in 0..records {
        b.try_append(&RecordInput {
            timestamp: 0,
            key: None,
            value: Some(b"v"),
            headers: &[],
        })
        .unwrap();
    }
    b.attempts = 1;
    b
}

fn answer(code: ErrorCode) -> PartitionAnswer<'static> {
    PartitionAnswer {
        code,
        base_offset: if code == ErrorCode::None { 10 } else { -1 },
        log_append_time: -1,
        message: None,
    }
}

fn cx(idem: &Idempotence, now: Instant) -> Context<'_> {
    Context {
        now,
        retries: 3,
        delivery_timeout: Duration::from_secs(10),
        idempotence: idem,
    }
}

#[test]
fn success_duplicate_and_split() {
    let idem = Idempotence::new(false);
    let b = batch(2);
    let now = Instant::now();
    assert!(matches!(
        on_answer(&b, answer(ErrorCode::None), &cx(&idem, now)),
        Decision::Success(BatchAck {
            base_offset: 10,
            ..
        })
    ));
    assert!(matches!(
        on_answer(
            &b,
            answer(ErrorCode::DuplicateSequenceNumber),
            &cx(&idem, now)
        ),
        Decision::Success(_)
    ));
    assert!(matches!(
        on_answer(&b, answer(ErrorCode::MessageTooLarge), &cx(&idem, now)),
        Decision::Split
    ));
    assert!(matches!(
        on_answer(
            &batch(1),
            answer(ErrorCode::MessageTooLarge),
            &cx(&idem, now)
        ),
        Decision::Fail { .. }
    ));
}

#[test]
fn retriable_errors_retry_until_retries_or_the_deadline_run_out() {
    let idem = Idempotence::new(false);
    let mut b = batch(1);
    let now = Instant::now();
    match on_answer(&b, answer(ErrorCode::NotLeaderOrFollower), &cx(&idem, now)) {
        Decision::Retry { stale_metadata, .. } => assert!(stale_metadata),
        other => panic!("{other:?}"),
    }
    b.attempts = 4;
    assert!(matches!(
        on_answer(&b, answer(ErrorCode::NotEnoughReplicas), &cx(&idem, now)),
        Decision::Fail { .. }
    ));
    b.attempts = 1;
    match on_answer(
        &b,
        answer(ErrorCode::NotEnoughReplicas),
        &cx(&idem, now + Duration::from_secs(10)),
    ) {
        Decision::Fail {
            error: ProducerError::DeliveryTimeout { last_error, .. },
            ..
        } => assert!(last_error.is_some()),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        on_answer(
            &b,
            answer(ErrorCode::TopicAuthorizationFailed),
            &cx(&idem, now)
        ),
        Decision::Fail {
            reset_id: false,
            ..
        }
    ));
    let lost =
        kafka_client::Error::new(kafka_client::ErrorKind::Disconnected { reason: "x".into() });
    assert!(matches!(
        on_request_error(&b, &lost, &cx(&idem, now)),
        Decision::Retry {
            stale_metadata: true,
            ..
        }
    ));
}

#[test]
fn sequence_errors_depend_on_whether_the_batch_was_next() {
    let mut idem = Idempotence::new(true);
    idem.start_init();
    idem.init_done(Ok(ProducerIdAndEpoch { id: 1, epoch: 0 }));
    let topic: std::sync::Arc<str> = "t".into();
    let first = idem.assign(&topic, 0, 1).unwrap();
    let second = idem.assign(&topic, 0, 1).unwrap();
    let now = Instant::now();
    let mut b = batch(1);
    b.stamp = Some(second);
    assert!(
        matches!(
            on_answer(
                &b,
                answer(ErrorCode::OutOfOrderSequenceNumber),
                &cx(&idem, now)
            ),
            Decision::Retry { .. }
        ),
        "behind a failed batch: retry"
    );
    b.stamp = Some(first);
    assert!(
        matches!(
            on_answer(
                &b,
                answer(ErrorCode::OutOfOrderSequenceNumber),
                &cx(&idem, now)
            ),
            Decision::Fail { .. }
        ),
        "the expected batch refused: its sequence is lost"
    );
    assert!(matches!(
        on_answer(&b, answer(ErrorCode::UnknownProducerId), &cx(&idem, now)),
        Decision::Retry { rewrite: true, .. }
    ));
    assert!(matches!(
        on_answer(&b, answer(ErrorCode::InvalidProducerEpoch), &cx(&idem, now)),
        Decision::Fail { reset_id: true, .. }
    ));
    let _ = ProducerStamp {
        producer_id: 0,
        epoch: 0,
        base_sequence: 0,
    };
}
