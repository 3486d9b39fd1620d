//! Metadata against the companion broker (or `KAFKA_TEST_BOOTSTRAP`): bootstrap, topics,
//! leaders, topic ids, and many requests in flight on one connection.

mod support;

use std::time::Duration;

use kafka_client::metadata::TopicSelection;
use kafka_client::{Client, ErrorKind, Target};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use kafka_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kafka_protocol::messages::{RequestBody, ResponseBody};
use kafka_protocol::{ErrorCode, Uuid};
use support::{TestBroker, fast_config};

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{nanos}")
}

async fn create_topic(client: &Client, name: &str, partitions: i32) {
    let body = RequestBody::CreateTopics(CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 10_000,
        ..Default::default()
    });
    let ResponseBody::CreateTopics(resp) = client.send(Target::Controller, &body).await.unwrap()
    else {
        panic!("wrong response")
    };
    let code = ErrorCode::from_code(resp.topics[0].error_code);
    assert!(
        code == ErrorCode::None || code == ErrorCode::TopicAlreadyExists,
        "{code}"
    );
}

#[tokio::test]
async fn bootstrap_topics_leaders_and_ids() {
    let broker = TestBroker::start().await;
    let client = Client::connect(fast_config(&broker.bootstrap()))
        .await
        .unwrap();
    let cluster = client.metadata();
    assert!(cluster.brokers().count() >= 1);
    let controller = cluster.controller_id().expect("a controller");
    assert!(cluster.broker(controller).is_some());

    let topic = unique("meta");
    create_topic(&client, &topic, 3).await;
    let cluster = client
        .refresh_metadata(TopicSelection::topics([topic.as_str()]))
        .await
        .unwrap();
    assert_eq!(cluster.partition_count(&topic), Some(3));
    for p in 0..3 {
        let (leader, epoch) = client.leader_for(&topic, p).await.unwrap();
        assert!(cluster.broker(leader.id).is_some());
        assert!(epoch >= 0 || epoch == -1);
    }
    if client
        .api_version(kafka_protocol::ApiKey::Metadata)
        .await
        .unwrap()
        >= 10
    {
        let id = cluster.topic_id(&topic).expect("topic id");
        assert_ne!(id, Uuid::ZERO);
        assert_eq!(cluster.topic_name(id), Some(topic.as_str()));
    }
    // Kept fresh from now on: the background refresh includes it.
    assert!(client.metadata().topic(&topic).is_some());
    broker.stop().await;
}

#[tokio::test]
async fn unknown_topics_report_the_brokers_error() {
    let broker = TestBroker::start().await;
    let client = Client::connect(fast_config(&broker.bootstrap()))
        .await
        .unwrap();
    let e = client.leader_for(&unique("missing"), 0).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::UnknownTopicOrPartition), "{e}");
    assert!(e.is_from_broker());
    assert!(e.context().topic.is_some());
    // Sending to the leader of a missing topic retries (it may be being created) and then
    // gives up with the broker's error.
    let body = RequestBody::Metadata(MetadataRequest::default());
    let e = client
        .send_with(
            Target::leader(unique("missing"), 0),
            kafka_protocol::ApiKey::Metadata,
            &kafka_client::SendOptions::new().timeout(Duration::from_millis(500)),
            |_| std::borrow::Cow::Borrowed(&body),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::RetriesExhausted { attempts, .. } if *attempts >= 2),
        "{e}"
    );
    assert_eq!(e.code(), Some(ErrorCode::UnknownTopicOrPartition));
    broker.stop().await;
}

#[tokio::test]
async fn hundreds_of_requests_in_flight_are_matched_to_their_responses() {
    let broker = TestBroker::start().await;
    let client = Client::connect(fast_config(&broker.bootstrap()))
        .await
        .unwrap();
    let conn = client.connection(&Target::Any).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("no-such-topic-{i}");
            let body = RequestBody::Metadata(MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    name: Some(name.as_str().into()),
                    ..Default::default()
                }]),
                allow_auto_topic_creation: false,
                ..Default::default()
            });
            let ResponseBody::Metadata(resp) = conn.send(&body).await.unwrap() else {
                panic!("wrong response")
            };
            assert_eq!(resp.topics.len(), 1);
            assert_eq!(resp.topics[0].name.as_deref(), Some(name.as_str()));
        }));
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(conn.in_flight(), 0);
    assert!(!conn.is_closed());
    broker.stop().await;
}

#[tokio::test]
async fn broker_and_controller_targets() {
    let broker = TestBroker::start().await;
    let client = Client::connect(fast_config(&broker.bootstrap()))
        .await
        .unwrap();
    let id = client.metadata().brokers().next().unwrap().id;
    let body = RequestBody::Metadata(MetadataRequest::default());
    client.send(Target::Broker(id), &body).await.unwrap();
    client.send(Target::Controller, &body).await.unwrap();
    let e = client
        .send_with(
            Target::Broker(9999),
            kafka_protocol::ApiKey::Metadata,
            &kafka_client::SendOptions::new().timeout(Duration::from_millis(300)),
            |_| std::borrow::Cow::Borrowed(&body),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("9999"), "{e}");
    broker.stop().await;
}
