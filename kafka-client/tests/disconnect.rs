//! A broker that disappears: requests in flight fail with a retriable error, and the next
//! request reconnects, including to a broker restarted on the same port.

mod support;

use std::time::{Duration, Instant};

use kafka_client::metadata::TopicSelection;
use kafka_client::{Client, ErrorKind, SendOptions, Target};
use kafka_protocol::ApiKey;
use kafka_protocol::messages::RequestBody;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::messages::metadata_request::MetadataRequest;
use support::fast_config;
use support::mock::{MockBroker, MockConfig};

#[tokio::test]
async fn dropped_connections_fail_in_flight_requests_retriably_then_reconnect() {
    support::init_tracing();
    let mock = MockBroker::start(MockConfig {
        silent: vec![ApiKey::ListGroups],
        ..Default::default()
    })
    .await;
    let client = Client::connect(fast_config(&mock.bootstrap()))
        .await
        .unwrap();
    let conn = client.connection(&Target::Any).await.unwrap();
    let waiting: Vec<_> = (0..5)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move {
                conn.send(&RequestBody::ListGroups(ListGroupsRequest::default()))
                    .await
            })
        })
        .collect();
    // Let the requests reach the broker, then cut every connection.
    while conn.in_flight() < 5 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    mock.drop_connections();
    for w in waiting {
        let e = w.await.unwrap().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Disconnected { .. }), "{e}");
        assert!(e.is_retriable() && e.is_synthetic());
        assert_eq!(e.code(), Some(kafka_protocol::ErrorCode::NetworkException));
    }
    assert!(conn.is_closed());
    let e = conn
        .send(&RequestBody::Metadata(MetadataRequest::default()))
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Disconnected { .. }),
        "a closed connection stays closed"
    );

    let before = mock.connections();
    client
        .send(
            Target::Any,
            &RequestBody::Metadata(MetadataRequest::default()),
        )
        .await
        .unwrap();
    assert!(mock.connections() > before, "the client reconnected");
}

fn fetch(topic: &str, topic_id: kafka_protocol::Uuid, version: i16) -> RequestBody {
    RequestBody::Fetch(FetchRequest {
        max_wait_ms: 20_000,
        min_bytes: 1,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: if version < 13 {
                topic.into()
            } else {
                Default::default()
            },
            topic_id: if version >= 13 {
                topic_id
            } else {
                Default::default()
            },
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: 0,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// Kills the companion broker with a long-polling fetch in flight, restarts it on the same
/// port, and checks the client carries on. Needs an in-process broker (skipped when
/// `KAFKA_TEST_BOOTSTRAP` points elsewhere).
#[tokio::test]
async fn a_broker_restarted_on_the_same_port_is_reconnected() {
    support::init_tracing();
    if std::env::var("KAFKA_TEST_BOOTSTRAP").is_ok_and(|v| !v.is_empty()) {
        eprintln!("skipped: needs an in-process broker");
        return;
    }
    let broker = kafka_broker::Broker::builder().start().await.unwrap();
    let addr = broker.local_addr();
    let client = Client::connect(fast_config(&broker.bootstrap()))
        .await
        .unwrap();
    let topic = "restart";
    client
        .send(
            Target::Controller,
            &RequestBody::CreateTopics(CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: topic.into(),
                    num_partitions: 1,
                    replication_factor: 1,
                    ..Default::default()
                }],
                timeout_ms: 5000,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    let cluster = client
        .refresh_metadata(TopicSelection::topics([topic]))
        .await
        .unwrap();
    let topic_id = cluster.topic_id(topic).unwrap_or_default();

    // A long poll on an empty partition stays in flight until the broker goes away.
    let c = client.clone();
    let in_flight = tokio::spawn(async move {
        c.send_with(
            Target::leader(topic, 0),
            ApiKey::Fetch,
            &SendOptions::new()
                .no_retry()
                .request_timeout(Duration::from_secs(30)),
            |v| std::borrow::Cow::Owned(fetch(topic, topic_id, v)),
        )
        .await
    });
    let conn = client.connection(&Target::leader(topic, 0)).await.unwrap();
    while conn.in_flight() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = Instant::now();
    broker.shutdown().await.unwrap();
    let e = in_flight.await.unwrap().unwrap_err();
    assert!(e.is_retriable(), "{e}");
    assert!(matches!(e.kind(), ErrorKind::Disconnected { .. }), "{e}");
    assert!(killed.elapsed() < Duration::from_secs(5));

    // While it is down, requests fail retriably (within a short budget).
    let e = client
        .send_with(
            Target::Any,
            ApiKey::Metadata,
            &SendOptions::new().timeout(Duration::from_millis(300)),
            |_| std::borrow::Cow::Owned(RequestBody::Metadata(MetadataRequest::default())),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::RetriesExhausted { .. }),
        "{e}"
    );

    // Back on the same port: the next request reconnects (retrying until it is up).
    let restarted = kafka_broker::Broker::builder()
        .listen(addr.to_string())
        .start()
        .await
        .unwrap();
    client
        .send(
            Target::Any,
            &RequestBody::Metadata(MetadataRequest::default()),
        )
        .await
        .unwrap();
    assert!(!client.connection(&Target::Any).await.unwrap().is_closed());
    restarted.shutdown().await.unwrap();
}
