//! Produce, Fetch, ListOffsets and DeleteRecords over a real socket.

mod common;

use std::time::{Duration, Instant};

use common::{
    TestBroker, batch, create_topic, fetch, fetch_request, list_offset, only_partition, produce,
    produce_request, stored_part, unique_topic,
};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic,
};
use kafka_protocol::messages::fetch_request::FetchRequest;
use kafka_protocol::records::RecordSetReader;
use kafka_protocol::{ErrorCode, Uuid};

#[tokio::test]
async fn produce_with_each_acks_then_fetch_returns_the_same_bytes() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("pf");
    let id = create_topic(&mut c, &topic, 1, &[]).await;
    let pv = c.version(ApiKey::Produce, 11);
    let batches = [
        batch(&["a", "b"], 1_000),
        batch(&["c"], 2_000),
        batch(&["d", "e", "f"], 3_000),
    ];

    // acks=1 and acks=-1 are answered with the base offset.
    let r = c
        .call(pv, produce_request(&topic, 0, 1, batches[0].clone()))
        .await;
    let p = &r.responses[0].partition_responses[0];
    assert_eq!((p.error_code, p.base_offset), (0, 0));
    assert_eq!(p.log_append_time_ms, -1);
    assert_eq!(p.log_start_offset, 0);
    let r = c
        .call(pv, produce_request(&topic, 0, -1, batches[1].clone()))
        .await;
    assert_eq!(r.responses[0].partition_responses[0].base_offset, 2);

    // acks=0: no response at all; the next request's response comes next.
    let sent = c
        .send(pv, produce_request(&topic, 0, 0, batches[2].clone()))
        .await;
    let (_, latest, _) = list_offset(&mut c, &topic, 0, -1).await;
    assert_eq!(latest, 6);
    let _ = sent;

    for want in [12, 17] {
        let p = fetch(&mut c, &topic, id, 0, 0, want).await;
        assert_eq!(p.error_code, 0);
        assert_eq!(p.high_watermark, 6);
        assert_eq!(p.last_stable_offset, 6);
        assert_eq!(p.log_start_offset, 0);
        let records = p.records.clone().unwrap();
        let mut reader = RecordSetReader::new(records);
        let mut base = 0;
        for b in &batches {
            let raw = reader.next_raw().unwrap().unwrap();
            assert_eq!(raw.offset, base);
            assert_eq!(
                stored_part(&raw.bytes),
                stored_part(b),
                "stored bytes differ"
            );
            raw.verify_crc().unwrap();
            base = raw.header().unwrap().next_offset();
        }
        assert!(reader.next_raw().is_none());
    }
    // From the middle of a batch: the whole batch holding the offset comes back.
    let p = fetch(&mut c, &topic, id, 0, 4, 12).await;
    let first = RecordSetReader::new(p.records.clone().unwrap())
        .next_raw()
        .unwrap()
        .unwrap();
    assert_eq!(first.offset, 3);
    // At the end: nothing, no error.
    let p = fetch(&mut c, &topic, id, 0, 6, 12).await;
    assert_eq!(
        (p.error_code, p.records.as_ref().map(|r| r.len())),
        (0, Some(0))
    );
}

#[tokio::test]
async fn fetch_by_topic_id_and_errors() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("ids");
    let id = create_topic(&mut c, &topic, 1, &[]).await;
    produce(&mut c, &topic, 0, batch(&["x"], 5)).await;
    if c.version(ApiKey::Fetch, 13) == 13 {
        // v13+ goes by id only: a wrong name does not matter, an unknown id does.
        let p = fetch(&mut c, "not-the-name", id, 0, 0, 13).await;
        assert_eq!(p.error_code, 0);
        assert!(!p.records.unwrap().is_empty());
        let p = fetch(&mut c, &topic, Uuid::from_u64_pair(1, 2), 0, 0, 13).await;
        assert_eq!(p.error_code, ErrorCode::UnknownTopicId.code());
    }
    let p = fetch(&mut c, &unique_topic("nope"), Uuid::ZERO, 0, 0, 12).await;
    assert_eq!(p.error_code, ErrorCode::UnknownTopicOrPartition.code());
    let p = fetch(&mut c, &topic, id, 7, 0, 12).await;
    assert_eq!(p.error_code, ErrorCode::UnknownTopicOrPartition.code());
    let p = fetch(&mut c, &topic, id, 0, 2, 12).await;
    assert_eq!(p.error_code, ErrorCode::OffsetOutOfRange.code());
    assert_eq!(p.high_watermark, -1);
    let p = fetch(&mut c, &topic, id, 0, -5, 12).await;
    assert_eq!(p.error_code, ErrorCode::OffsetOutOfRange.code());
    // An incremental fetch session the broker never created.
    let v = c.version(ApiKey::Fetch, 12);
    let resp = c
        .call(
            v,
            FetchRequest {
                session_id: 1234,
                session_epoch: 3,
                ..fetch_request(&topic, id, 0, 0, 0, 0)
            },
        )
        .await;
    assert_eq!(resp.error_code, ErrorCode::FetchSessionIdNotFound.code());
    // Full requests get session id 0 (sessionless) from this broker.
    let resp = c
        .call(
            v,
            FetchRequest {
                session_epoch: 0,
                ..fetch_request(&topic, id, 0, 0, 0, 0)
            },
        )
        .await;
    assert_eq!(resp.error_code, 0);
    if !tb.is_external() {
        assert_eq!(resp.session_id, 0);
    }
}

#[tokio::test]
async fn fetch_long_poll_wakes_on_produce() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("poll");
    let id = create_topic(&mut c, &topic, 1, &[]).await;
    let mut consumer = tb.connect().await;
    let v = consumer.version(ApiKey::Fetch, 12);
    let started = Instant::now();
    let id_sent = consumer
        .send(v, fetch_request(&topic, id, 0, 0, 8_000, 1))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    produce(&mut c, &topic, 0, batch(&["wake"], 1)).await;
    let frame = consumer.read_frame().await.expect("fetch answered");
    let resp = common::decode::<FetchRequest>(&frame, v, id_sent);
    let elapsed = started.elapsed();
    let p = only_partition(&resp);
    assert_eq!(p.error_code, 0);
    assert!(!p.records.as_ref().unwrap().is_empty(), "woken with data");
    assert!(elapsed < Duration::from_millis(5_000), "took {elapsed:?}");
}

#[tokio::test]
async fn fetch_long_poll_honours_max_wait() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("wait");
    let id = create_topic(&mut c, &topic, 1, &[]).await;
    let v = c.version(ApiKey::Fetch, 12);
    let started = Instant::now();
    let resp = c.call(v, fetch_request(&topic, id, 0, 0, 400, 1)).await;
    let elapsed = started.elapsed();
    assert_eq!(
        only_partition(&resp).records.as_ref().map(|r| r.len()),
        Some(0)
    );
    assert!(
        elapsed >= Duration::from_millis(350),
        "answered after {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(5_000),
        "answered after {elapsed:?}"
    );
    // min_bytes already satisfied: no waiting.
    produce(&mut c, &topic, 0, batch(&["x"], 1)).await;
    let started = Instant::now();
    let resp = c.call(v, fetch_request(&topic, id, 0, 0, 5_000, 1)).await;
    assert!(!only_partition(&resp).records.as_ref().unwrap().is_empty());
    assert!(started.elapsed() < Duration::from_millis(2_000));
}

#[tokio::test]
async fn fetch_honours_byte_limits_but_returns_one_batch() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("limits");
    let id = create_topic(&mut c, &topic, 2, &[]).await;
    for p in 0..2 {
        for i in 0..3 {
            produce(&mut c, &topic, p, batch(&["0123456789"; 5], i)).await;
        }
    }
    let v = c.version(ApiKey::Fetch, 12);
    let mut req = fetch_request(&topic, id, 0, 0, 0, 0);
    req.max_bytes = 1;
    let mut p1 = req.topics[0].partitions[0].clone();
    p1.partition = 1;
    req.topics[0].partitions.push(p1);
    let resp = c.call(v, req).await;
    let parts = &resp.responses[0].partitions;
    let batches = |p: &kafka_protocol::messages::fetch_response::PartitionData| {
        let mut r = RecordSetReader::new(p.records.clone().unwrap_or_default());
        std::iter::from_fn(|| r.next_raw()).count()
    };
    // The first partition gets exactly one batch despite max_bytes=1, the next nothing.
    assert_eq!(batches(&parts[0]), 1);
    assert_eq!(batches(&parts[1]), 0);
    assert_eq!(parts[1].high_watermark, 15);
}

#[tokio::test]
async fn produce_errors_per_partition() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("perr");
    create_topic(&mut c, &topic, 1, &[("max.message.bytes", "200")]).await;
    let pv = c.version(ApiKey::Produce, 11);
    let r = c
        .call(
            pv,
            produce_request(&unique_topic("missing"), 0, 1, batch(&["a"], 1)),
        )
        .await;
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    let r = c
        .call(pv, produce_request(&topic, 3, 1, batch(&["a"], 1)))
        .await;
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    let big = "x".repeat(500);
    let r = c
        .call(pv, produce_request(&topic, 0, 1, batch(&[&big], 1)))
        .await;
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::MessageTooLarge.code()
    );
    let r = c
        .call(pv, produce_request(&topic, 0, 2, batch(&["a"], 1)))
        .await;
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::InvalidRequiredAcks.code()
    );
    let (_, latest, _) = list_offset(&mut c, &topic, 0, -1).await;
    assert_eq!(latest, 0, "nothing appended");
    // acks=0 with an error: the broker closes the connection so the producer notices.
    c.send(pv, produce_request(&topic, 0, 0, batch(&[&big], 1)))
        .await;
    assert!(c.is_closed().await);
}

#[tokio::test]
async fn log_append_time_topics_stamp_the_batch() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("lat");
    let id = create_topic(
        &mut c,
        &topic,
        1,
        &[("message.timestamp.type", "LogAppendTime")],
    )
    .await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let p = produce(&mut c, &topic, 0, batch(&["a", "b"], 7)).await;
    assert_eq!(p.error_code, 0);
    assert!(
        p.log_append_time_ms >= before - 1_000,
        "{}",
        p.log_append_time_ms
    );
    let f = fetch(&mut c, &topic, id, 0, 0, 12).await;
    let b = RecordSetReader::new(f.records.unwrap())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(b.max_timestamp(), p.log_append_time_ms);
    assert!(
        b.records()
            .all(|r| r.unwrap().timestamp == p.log_append_time_ms)
    );
}

#[tokio::test]
async fn list_offsets_earliest_latest_timestamp_and_max() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("lo");
    create_topic(&mut c, &topic, 1, &[]).await;
    assert_eq!(list_offset(&mut c, &topic, 0, -2).await, (0, 0, -1));
    assert_eq!(list_offset(&mut c, &topic, 0, -1).await, (0, 0, -1));
    assert_eq!(list_offset(&mut c, &topic, 0, 1_000).await, (0, -1, -1));
    produce(&mut c, &topic, 0, batch(&["a", "b"], 1_000)).await; // offsets 0-1, ts 1000-1001
    produce(&mut c, &topic, 0, batch(&["c", "d"], 5_000)).await; // offsets 2-3, ts 5000-5001
    produce(&mut c, &topic, 0, batch(&["e"], 3_000)).await; // offset 4, ts 3000
    assert_eq!(list_offset(&mut c, &topic, 0, -2).await, (0, 0, -1));
    assert_eq!(list_offset(&mut c, &topic, 0, -1).await, (0, 5, -1));
    assert_eq!(list_offset(&mut c, &topic, 0, 1_001).await, (0, 1, 1_001));
    assert_eq!(list_offset(&mut c, &topic, 0, 2_000).await, (0, 2, 5_000));
    assert_eq!(list_offset(&mut c, &topic, 0, 0).await, (0, 0, 1_000));
    assert_eq!(list_offset(&mut c, &topic, 0, 9_999).await, (0, -1, -1));
    if c.version(ApiKey::ListOffsets, 7) >= 7 {
        assert_eq!(list_offset(&mut c, &topic, 0, -3).await, (0, 3, 5_001));
    }
    let (err, _, _) = list_offset(&mut c, &topic, 9, -1).await;
    assert_eq!(err, ErrorCode::UnknownTopicOrPartition.code());
}

#[tokio::test]
async fn delete_records_then_fetch_below_start_is_out_of_range() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("dr");
    let id = create_topic(&mut c, &topic, 1, &[]).await;
    for i in 0..4 {
        produce(&mut c, &topic, 0, batch(&["a", "b"], i)).await; // 8 records
    }
    let v = c.version(ApiKey::DeleteRecords, 2);
    let req = |offset| DeleteRecordsRequest {
        topics: vec![DeleteRecordsTopic {
            name: topic.as_str().into(),
            partitions: vec![DeleteRecordsPartition {
                partition_index: 0,
                offset,
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    };
    let r = c.call(v, req(4)).await;
    let p = &r.topics[0].partitions[0];
    assert_eq!((p.error_code, p.low_watermark), (0, 4));
    let r = c.call(v, req(99)).await;
    assert_eq!(
        r.topics[0].partitions[0].error_code,
        ErrorCode::OffsetOutOfRange.code()
    );
    assert_eq!(list_offset(&mut c, &topic, 0, -2).await.1, 4);
    let f = fetch(&mut c, &topic, id, 0, 2, 12).await;
    assert_eq!(f.error_code, ErrorCode::OffsetOutOfRange.code());
    let f = fetch(&mut c, &topic, id, 0, 4, 12).await;
    assert_eq!(f.error_code, 0);
    assert_eq!(f.log_start_offset, 4);
    // -1: up to the high watermark.
    let r = c.call(v, req(-1)).await;
    assert_eq!(r.topics[0].partitions[0].low_watermark, 8);
    let f = fetch(&mut c, &topic, id, 0, 8, 12).await;
    assert_eq!(
        (f.error_code, f.log_start_offset, f.high_watermark),
        (0, 8, 8)
    );
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("pipe");
    create_topic(&mut c, &topic, 1, &[]).await;
    let pv = c.version(ApiKey::Produce, 11);
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            c.send(pv, produce_request(&topic, 0, 1, batch(&["v"], i)))
                .await,
        );
    }
    for (i, id) in ids.into_iter().enumerate() {
        let frame = c.read_frame().await.unwrap();
        let r = common::decode::<kafka_protocol::messages::produce_request::ProduceRequest>(
            &frame, pv, id,
        );
        assert_eq!(r.responses[0].partition_responses[0].base_offset, i as i64);
    }
}
