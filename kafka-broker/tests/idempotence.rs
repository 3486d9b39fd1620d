//! Idempotent producers over a real socket: InitProducerId, Produce with sequence numbers,
//! resends answered with the original offset and never appended twice, and producer state
//! surviving a restart on a data directory.
//!
//! Everything asserted here is what Kafka answers too, so the file also runs against an
//! external cluster (`KAFKA_TEST_BOOTSTRAP`); restarts need the broker's internals and are
//! skipped there.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use common::{
    Client, TestBroker, create_topic, fetch, list_offset, produce, produce_request, unique_topic,
};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use kafka_protocol::messages::init_producer_id_response::InitProducerIdResponse;
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::records::{BatchOptions, RecordBatchBuilder, RecordSetReader};
use kafka_protocol::{ErrorCode, KStr};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// An idempotent batch of `n` records from `pid` at `epoch`, first sequence `seq`, stamped
/// with the current time (an old timestamp would let the producer state expire).
fn idempotent(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
    let mut b = RecordBatchBuilder::new(BatchOptions {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        ..Default::default()
    });
    let ts = now_ms();
    for i in 0..n {
        let value = format!("{pid}-{epoch}-{}", i64::from(seq) + i as i64);
        b.append(ts + i as i64, Some(b"k"), Some(value.as_bytes()), &[])
            .unwrap();
    }
    b.build().unwrap()
}

/// InitProducerId at `version`, retrying while a real cluster's coordinator loads.
async fn init(c: &mut Client, version: i16, req: InitProducerIdRequest) -> InitProducerIdResponse {
    for _ in 0..50 {
        let resp = c.call(version, req.clone()).await;
        let code = ErrorCode::from_code(resp.error_code);
        if code.is_retriable() || code == ErrorCode::NotCoordinator {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        return resp;
    }
    panic!("InitProducerId kept failing with a retriable error");
}

fn idempotent_init() -> InitProducerIdRequest {
    InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: 60_000,
        ..Default::default()
    }
}

fn transactional_init(tid: &str, producer_id: i64, producer_epoch: i16) -> InitProducerIdRequest {
    InitProducerIdRequest {
        transactional_id: Some(KStr::from(tid)),
        transaction_timeout_ms: 60_000,
        producer_id,
        producer_epoch,
        ..Default::default()
    }
}

/// A fresh producer id (epoch 0).
async fn new_producer(c: &mut Client) -> i64 {
    let v = c.version(ApiKey::InitProducerId, 5);
    let r = init(c, v, idempotent_init()).await;
    assert_eq!((r.error_code, r.producer_epoch), (0, 0), "{r:?}");
    assert!(r.producer_id >= 0);
    r.producer_id
}

fn code(p: &PartitionProduceResponse) -> ErrorCode {
    ErrorCode::from_code(p.error_code)
}

async fn log_end(c: &mut Client, topic: &str) -> i64 {
    let (e, offset, _) = list_offset(c, topic, 0, -1).await;
    assert_eq!(e, 0);
    offset
}

#[tokio::test]
async fn init_producer_id_grants_ids_and_bumps_transactional_epochs() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let range = c.range(ApiKey::InitProducerId);
    assert!(
        range.is_some_and(|(lo, hi)| lo <= 0 && hi >= 4),
        "advertised: {range:?}"
    );

    // Idempotent producers: a new id each time, epoch 0, at every version.
    let mut ids = Vec::new();
    for v in 0..=5 {
        let r = init(&mut c, v, idempotent_init()).await;
        assert_eq!((r.error_code, r.producer_epoch), (0, 0), "v{v}: {r:?}");
        ids.push(r.producer_id);
    }
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len(), "ids are never reused: {ids:?}");

    // A transactional id keeps its producer id; each init bumps the epoch.
    let tid = unique_topic("txn");
    let first = init(&mut c, 5, transactional_init(&tid, -1, -1)).await;
    assert_eq!(first.error_code, 0, "{first:?}");
    let pid = first.producer_id;
    let second = init(&mut c, 5, transactional_init(&tid, -1, -1)).await;
    assert_eq!(
        (second.error_code, second.producer_id, second.producer_epoch),
        (0, pid, first.producer_epoch + 1)
    );
    // KIP-360: resuming with the current epoch bumps it; a stale epoch is fenced.
    let e = second.producer_epoch;
    let third = init(&mut c, 5, transactional_init(&tid, pid, e)).await;
    assert_eq!(
        (third.error_code, third.producer_id, third.producer_epoch),
        (0, pid, e + 1)
    );
    let fenced = init(&mut c, 5, transactional_init(&tid, pid + 1_000_000, e + 1)).await;
    assert_eq!(
        ErrorCode::from_code(fenced.error_code),
        ErrorCode::ProducerFenced
    );
    assert_eq!((fenced.producer_id, fenced.producer_epoch), (-1, -1));
    // Below v4 the same refusal is INVALID_PRODUCER_EPOCH.
    let old = init(&mut c, 3, transactional_init(&tid, pid + 1_000_000, e + 1)).await;
    assert_eq!(
        ErrorCode::from_code(old.error_code),
        ErrorCode::InvalidProducerEpoch
    );

    // Malformed requests.
    let empty = init(&mut c, 5, transactional_init("", -1, -1)).await;
    assert_eq!(
        ErrorCode::from_code(empty.error_code),
        ErrorCode::InvalidRequest
    );
    let mut long = transactional_init(&tid, -1, -1);
    long.transaction_timeout_ms = 24 * 3_600_000;
    let r = init(&mut c, 5, long).await;
    assert_eq!(
        ErrorCode::from_code(r.error_code),
        ErrorCode::InvalidTransactionTimeout
    );
    tb.shutdown().await;
}

#[tokio::test]
async fn sequences_are_checked_and_resends_get_the_original_offset() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("idem");
    let id = create_topic(&mut c, &topic, 1, &[]).await;
    let pid = new_producer(&mut c).await;

    let first = idempotent(pid, 0, 0, 3);
    let second = idempotent(pid, 0, 3, 2);
    let p = produce(&mut c, &topic, 0, first.clone()).await;
    assert_eq!((code(&p), p.base_offset), (ErrorCode::None, 0));
    let p = produce(&mut c, &topic, 0, second.clone()).await;
    assert_eq!((code(&p), p.base_offset), (ErrorCode::None, 3));

    // Resends: success with the original offsets and the stored max timestamp, and nothing
    // appended.
    let max_ts = kafka_protocol::records::BatchHeader::parse(&first)
        .unwrap()
        .max_timestamp;
    let p = produce(&mut c, &topic, 0, first.clone()).await;
    assert_eq!((code(&p), p.base_offset), (ErrorCode::None, 0));
    assert_eq!(
        p.log_append_time_ms, max_ts,
        "Kafka reports the duplicate's timestamp"
    );
    let p = produce(&mut c, &topic, 0, second.clone()).await;
    assert_eq!((code(&p), p.base_offset), (ErrorCode::None, 3));
    assert_eq!(log_end(&mut c, &topic).await, 5);

    // A gap, and a retry behind the last sequence that is not a remembered batch.
    let p = produce(&mut c, &topic, 0, idempotent(pid, 0, 9, 1)).await;
    assert_eq!(code(&p), ErrorCode::OutOfOrderSequenceNumber);
    assert_eq!(p.base_offset, -1);
    let p = produce(&mut c, &topic, 0, idempotent(pid, 0, 1, 1)).await;
    assert_eq!(code(&p), ErrorCode::OutOfOrderSequenceNumber);
    assert_eq!(
        log_end(&mut c, &topic).await,
        5,
        "refused batches are not appended"
    );

    // The producer bumps its own epoch (KIP-360): sequences restart at 0; the old epoch is
    // fenced; a new epoch not starting at 0 is out of order.
    let p = produce(&mut c, &topic, 0, idempotent(pid, 1, 0, 1)).await;
    assert_eq!((code(&p), p.base_offset), (ErrorCode::None, 5));
    let p = produce(&mut c, &topic, 0, idempotent(pid, 0, 5, 1)).await;
    assert_eq!(code(&p), ErrorCode::InvalidProducerEpoch);
    let p = produce(&mut c, &topic, 0, idempotent(pid, 2, 1, 1)).await;
    assert_eq!(code(&p), ErrorCode::OutOfOrderSequenceNumber);
    let p = produce(&mut c, &topic, 0, idempotent(pid, 1, 1, 2)).await;
    assert_eq!((code(&p), p.base_offset), (ErrorCode::None, 6));

    // What is stored: each batch once, with its producer fields.
    let records = fetch(&mut c, &topic, id, 0, 0, 12).await.records.unwrap();
    let mut reader = RecordSetReader::new(records);
    let mut seen = Vec::new();
    while let Some(b) = reader.next_raw() {
        let h = b.unwrap().header().unwrap();
        seen.push((
            h.base_offset,
            h.producer_id,
            h.producer_epoch,
            h.base_sequence,
        ));
    }
    assert_eq!(
        seen,
        vec![
            (0, pid, 0, 0),
            (3, pid, 0, 3),
            (5, pid, 1, 0),
            (6, pid, 1, 1)
        ]
    );
    tb.shutdown().await;
}

#[tokio::test]
async fn each_of_the_last_five_batches_is_deduplicated() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("idem5");
    create_topic(&mut c, &topic, 1, &[]).await;
    let pid = new_producer(&mut c).await;
    let batches: Vec<_> = (0..7).map(|i| idempotent(pid, 0, i * 2, 2)).collect();
    for (i, b) in batches.iter().enumerate() {
        let p = produce(&mut c, &topic, 0, b.clone()).await;
        assert_eq!((code(&p), p.base_offset), (ErrorCode::None, i as i64 * 2));
    }
    // Resent newest first: the order of resends does not matter.
    for i in (2..7).rev() {
        let p = produce(&mut c, &topic, 0, batches[i].clone()).await;
        assert_eq!(
            (code(&p), p.base_offset),
            (ErrorCode::None, i as i64 * 2),
            "batch {i}"
        );
    }
    for old in &batches[..2] {
        let p = produce(&mut c, &topic, 0, old.clone()).await;
        assert_eq!(code(&p), ErrorCode::OutOfOrderSequenceNumber);
    }
    assert_eq!(log_end(&mut c, &topic).await, 14);

    // acks=0: a duplicate succeeds silently (no response, no close) and appends nothing.
    let pv = c.version(ApiKey::Produce, 11);
    c.send(pv, produce_request(&topic, 0, 0, batches[6].clone()))
        .await;
    assert_eq!(log_end(&mut c, &topic).await, 14);
    tb.shutdown().await;
}

#[tokio::test]
async fn producer_state_survives_a_restart() {
    if common::external().is_some() {
        common::skip("restart on a data directory");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let start = || TestBroker::start_with(|b| b.data_dir(dir.path()));
    let tb = start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("idem-restart");
    create_topic(&mut c, &topic, 1, &[]).await;
    let pid = new_producer(&mut c).await;
    let batches: Vec<_> = (0..6).map(|i| idempotent(pid, 0, i * 3, 3)).collect();
    for b in &batches {
        assert_eq!(
            code(&produce(&mut c, &topic, 0, b.clone()).await),
            ErrorCode::None
        );
    }
    drop(c);
    tb.shutdown().await;
    let snapshot = dir.path().join(format!("{topic}-0")).join("producer-state");
    assert!(
        snapshot.is_file(),
        "a clean shutdown saves the producer state"
    );

    // After a clean restart (from the snapshot) and after one without it (a crash: the
    // state is replayed from the log), resends are still deduplicated.
    for round in 0..2usize {
        let extra = round as i64;
        if round == 1 {
            std::fs::remove_file(&snapshot).unwrap();
        }
        let tb = start().await;
        let mut c = tb.connect().await;
        // The last five batches: round 1 remembers round 0's extra batch instead of the oldest.
        for (i, b) in batches.iter().enumerate().skip(1 + round) {
            let p = produce(&mut c, &topic, 0, b.clone()).await;
            assert_eq!(
                (code(&p), p.base_offset),
                (ErrorCode::None, i as i64 * 3),
                "round {round}, batch {i}"
            );
        }
        let p = produce(&mut c, &topic, 0, idempotent(pid, 0, 30, 1)).await;
        assert_eq!(
            code(&p),
            ErrorCode::OutOfOrderSequenceNumber,
            "round {round}"
        );
        assert_eq!(log_end(&mut c, &topic).await, 18 + extra);
        // The next sequence appends.
        let p = produce(&mut c, &topic, 0, idempotent(pid, 0, 18 + extra as i32, 1)).await;
        assert_eq!((code(&p), p.base_offset), (ErrorCode::None, 18 + extra));
        drop(c);
        tb.shutdown().await;
    }

    // Producer ids are never reused after a restart, and a transactional id keeps its id.
    let tb = start().await;
    let mut c = tb.connect().await;
    let tid = "restart-txn";
    let before = init(&mut c, 5, transactional_init(tid, -1, -1)).await;
    drop(c);
    tb.shutdown().await;
    let tb = start().await;
    let mut c = tb.connect().await;
    let next = new_producer(&mut c).await;
    assert!(
        next > pid && next != before.producer_id,
        "{next} after {pid}"
    );
    let after = init(&mut c, 5, transactional_init(tid, -1, -1)).await;
    assert_eq!(
        (after.producer_id, after.producer_epoch),
        (before.producer_id, before.producer_epoch + 1)
    );
    drop(c);
    tb.shutdown().await;
}
