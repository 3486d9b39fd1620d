//! Hostile and malformed input: each case closes (or answers) only the offending connection,
//! and the broker keeps serving others with its data intact.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{
    Client, TestBroker, batch, create_topic, fetch, list_offset, produce, produce_request,
    unique_topic,
};
use kafka_broker::{Broker, CloseReason, Reply};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::api_versions_request::ApiVersionsRequest;
use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::{ErrorCode, Uuid};

/// A second connection still gets answers, and the topic's data is unchanged.
async fn still_serving(tb: &TestBroker, topic: &str, id: Uuid, end: i64) {
    let mut other = tb.connect().await;
    let (err, latest, _) = list_offset(&mut other, topic, 0, -1).await;
    assert_eq!((err, latest), (0, end));
    let p = fetch(&mut other, topic, id, 0, 0, 12).await;
    assert_eq!(p.error_code, 0);
    assert_eq!(p.high_watermark, end);
}

async fn setup() -> (TestBroker, String, Uuid) {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("bad");
    let id = create_topic(&mut c, &topic, 1, &[]).await;
    produce(&mut c, &topic, 0, batch(&["keep", "me"], 1)).await;
    (tb, topic, id)
}

#[tokio::test]
async fn oversized_and_negative_sizes_close_only_that_connection() {
    let (tb, topic, id) = setup().await;
    let mut c = Client::connect_raw(tb.bootstrap()).await;
    c.write_raw(&i32::MAX.to_be_bytes()).await;
    assert!(
        c.is_closed().await,
        "oversized size prefix closes the connection"
    );
    let mut c = Client::connect_raw(tb.bootstrap()).await;
    c.write_raw(&(-1i32).to_be_bytes()).await;
    assert!(
        c.is_closed().await,
        "negative size prefix closes the connection"
    );
    still_serving(&tb, &topic, id, 2).await;
}

#[tokio::test]
async fn small_request_limit_is_enforced() {
    if common::external().is_some() {
        common::skip("socket.request.max.bytes set through the builder");
        return;
    }
    let tb = TestBroker::start_with(|b| b.socket_request_max_bytes(1024)).await;
    let mut c = tb.connect().await;
    let topic = unique_topic("limit");
    create_topic(&mut c, &topic, 1, &[]).await;
    let big = "x".repeat(4096);
    c.send(11, produce_request(&topic, 0, 1, batch(&[&big], 1)))
        .await;
    assert!(c.is_closed().await);
    let mut c = tb.connect().await;
    assert_eq!(list_offset(&mut c, &topic, 0, -1).await.1, 0);
}

#[tokio::test]
async fn garbage_bodies_unknown_apis_and_versions_close_the_connection() {
    let (tb, topic, id) = setup().await;
    let frames: Vec<Vec<u8>> = vec![
        // Too short for a header.
        vec![0, 3],
        // Unknown API key 1000.
        vec![0x03, 0xe8, 0, 0, 0, 0, 0, 1, 0xff, 0xff],
        // Metadata v12 with a topic count far beyond the frame.
        vec![
            0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0x7f,
        ],
        // Produce v9 whose body is random bytes.
        vec![
            0, 0, 0, 9, 0, 0, 0, 2, 0, 1, b'x', 0, 0x13, 0x37, 0xca, 0xfe, 0xba, 0xbe, 0x01,
        ],
        // Produce v2: below the versions served (Kafka 4 removed v0-2).
        vec![
            0, 0, 0, 2, 0, 0, 0, 3, 0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        // A known API the broker does not serve (DescribeAcls).
        vec![0, 29, 0, 1, 0, 0, 0, 4, 0xff, 0xff],
    ];
    for f in frames {
        let mut c = Client::connect_raw(tb.bootstrap()).await;
        let mut wire = (f.len() as u32).to_be_bytes().to_vec();
        wire.extend_from_slice(&f);
        c.write_raw(&wire).await;
        assert!(
            c.is_closed().await,
            "frame {f:?} should close the connection"
        );
    }
    still_serving(&tb, &topic, id, 2).await;
}

#[tokio::test]
async fn corrupt_crc_is_refused_and_nothing_is_appended() {
    let (tb, topic, id) = setup().await;
    let mut c = tb.connect().await;
    let mut bad = batch(&["corrupt"], 5).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x55;
    let v = c.version(ApiKey::Produce, 11);
    let r = c
        .call(v, produce_request(&topic, 0, 1, Bytes::from(bad)))
        .await;
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::CorruptMessage.code()
    );
    // Two batches in one partition's data (Kafka allows exactly one).
    let mut two = batch(&["a"], 1).to_vec();
    two.extend_from_slice(&batch(&["b"], 1));
    let r = c
        .call(v, produce_request(&topic, 0, 1, Bytes::from(two)))
        .await;
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::InvalidRecord.code()
    );
    // A non-zero base offset.
    let mut shifted = batch(&["a"], 1).to_vec();
    shifted[7] = 9;
    let r = c
        .call(v, produce_request(&topic, 0, 1, Bytes::from(shifted)))
        .await;
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::InvalidRecord.code()
    );
    // The same connection still works, and the log is as it was.
    let resp = c.call(3, ApiVersionsRequest::default()).await;
    assert_eq!(resp.error_code, ErrorCode::InvalidRequest.code());
    still_serving(&tb, &topic, id, 2).await;
}

#[tokio::test(start_paused = true)]
async fn handle_frame_survives_arbitrary_frames() {
    if common::external().is_some() {
        common::skip("driving BrokerState::handle_frame in-process");
        return;
    }
    // The entry point a fuzz target drives: every generated request, truncated and flipped,
    // must give a reply or a close, never a panic.
    let state = Broker::builder().build_state().unwrap();
    let mut g = kafka_protocol::codec::arbitrary::Gen::new(7);
    let mut answered = 0;
    for (api, range) in kafka_broker::SUPPORTED_APIS {
        for version in range.min..=range.max {
            for round in 0..40u8 {
                let body = kafka_protocol::messages::RequestBody::arbitrary(*api, &mut g, version);
                let header = kafka_protocol::messages::request_header::RequestHeader {
                    request_api_key: api.key(),
                    request_api_version: version,
                    correlation_id: 1,
                    ..Default::default()
                };
                let Ok(wire) = kafka_protocol::frame::encode_request(&header, &body) else {
                    continue;
                };
                let mut frame = wire[4..].to_vec();
                match round % 4 {
                    1 => frame.truncate(frame.len() / 2),
                    2 => {
                        let i = (usize::from(round) * 31) % frame.len();
                        frame[i] ^= 0xa5;
                    }
                    _ => {}
                }
                // Fetches may wait up to their max_wait_ms: time is paused, so the wait
                // costs nothing, and it must end on its own.
                let reply = tokio::time::timeout(
                    Duration::from_secs(30 * 86_400),
                    state.handle_frame(Bytes::from(frame)),
                );
                match reply.await {
                    Ok(Reply::Send(_)) => answered += 1,
                    Ok(Reply::Close(CloseReason::Encode(e))) => {
                        panic!(
                            "{} v{version}: the response does not encode: {e}",
                            api.name()
                        )
                    }
                    Ok(_) => {}
                    Err(_) => panic!("{} v{version} never answered", api.name()),
                }
            }
        }
    }
    assert!(answered > 100, "only {answered} frames answered");
    // Still healthy.
    let frame = {
        let header = kafka_protocol::messages::request_header::RequestHeader {
            request_api_key: ApiKey::Metadata.key(),
            request_api_version: 12,
            correlation_id: 9,
            ..Default::default()
        };
        let body = kafka_protocol::messages::RequestBody::Metadata(MetadataRequest {
            topics: None,
            ..Default::default()
        });
        kafka_protocol::frame::encode_request(&header, &body)
            .unwrap()
            .split_off(4)
            .freeze()
    };
    assert!(matches!(state.handle_frame(frame).await, Reply::Send(_)));
}
