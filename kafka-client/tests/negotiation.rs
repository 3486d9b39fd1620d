//! API version negotiation: against the companion broker (or `KAFKA_TEST_BOOTSTRAP`), and
//! against the mock for the ApiVersions fallback and unsupported APIs.

mod support;

use std::borrow::Cow;

use kafka_client::connection::VersionCaps;
use kafka_client::{Client, ErrorKind, SendOptions, Target};
use kafka_protocol::messages::RequestBody;
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::messages::produce_request::ProduceRequest;
use kafka_protocol::{ApiKey, VersionRange};
use support::mock::{MockBroker, MockConfig};
use support::{TestBroker, fast_config};

#[tokio::test]
async fn negotiates_the_highest_common_version_with_the_broker() {
    let broker = TestBroker::start().await;
    let client = Client::connect(fast_config(&broker.bootstrap()))
        .await
        .unwrap();
    let conn = client.connection(&Target::Any).await.unwrap();
    let caps = VersionCaps::codec();
    let advertised = conn.broker_versions().clone();
    assert!(!advertised.is_empty());
    for &api in ApiKey::ALL {
        let (Some(theirs), Some(ours)) = (advertised.get(api), caps.get(api)) else {
            continue;
        };
        if let Some(common) = theirs.intersect(&ours) {
            assert_eq!(conn.api_version(api).unwrap(), common.max, "{api:?}");
        }
    }
    if let TestBroker::Companion(_) = &broker {
        for (api, range) in kafka_broker::SUPPORTED_APIS {
            assert_eq!(advertised.get(*api), Some(*range), "{api:?}");
        }
    }
    let metadata = client.api_version(ApiKey::Metadata).await.unwrap();
    assert!(metadata >= 1);
    broker.stop().await;
}

#[tokio::test]
async fn falls_back_when_the_broker_refuses_our_api_versions_version() {
    support::init_tracing();
    for broker_max in [2, 0] {
        let mock = MockBroker::start(MockConfig {
            max_api_versions: broker_max,
            ..Default::default()
        })
        .await;
        let client = Client::connect(fast_config(&mock.bootstrap()))
            .await
            .unwrap();
        client
            .send(
                Target::Any,
                &RequestBody::ListGroups(ListGroupsRequest::default()),
            )
            .await
            .unwrap();
        let asked: Vec<i16> = mock
            .requests()
            .iter()
            .filter(|(a, _)| *a == ApiKey::ApiVersions)
            .map(|(_, v)| *v)
            .collect();
        // Each connection asks at our newest version first, then at the broker's.
        assert_eq!(asked[0], ApiKey::ApiVersions.versions().max);
        assert_eq!(asked[1], broker_max, "{asked:?}");
    }
}

#[tokio::test]
async fn an_api_the_broker_lacks_is_a_clear_error() {
    let mock = MockBroker::start(MockConfig::default()).await;
    let client = Client::connect(fast_config(&mock.bootstrap()))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let e = client
        .send(
            Target::Any,
            &RequestBody::Produce(ProduceRequest::default()),
        )
        .await
        .unwrap_err();
    assert!(!e.is_retriable());
    match e.kind() {
        ErrorKind::UnsupportedVersion {
            api,
            broker_range,
            client_range,
        } => {
            assert_eq!(*api, ApiKey::Produce);
            assert_eq!(*broker_range, None);
            assert_eq!(client_range.max, ApiKey::Produce.versions().max);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "not retried"
    );
    assert_eq!(e.context().api, Some(ApiKey::Produce));
}

#[tokio::test]
async fn disjoint_ranges_name_both_sides() {
    let mock = MockBroker::start(MockConfig {
        api_versions: vec![
            (ApiKey::ApiVersions, VersionRange { min: 0, max: 3 }),
            (ApiKey::Metadata, VersionRange { min: 1, max: 12 }),
            (ApiKey::ListGroups, VersionRange { min: 4, max: 5 }),
        ],
        ..Default::default()
    })
    .await;
    let caps = VersionCaps::codec().cap(ApiKey::ListGroups, VersionRange { min: 0, max: 2 });
    let client = Client::builder(fast_config(&mock.bootstrap()))
        .version_caps(caps)
        .connect()
        .await
        .unwrap();
    let e = client.api_version(ApiKey::ListGroups).await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("ListGroups") && msg.contains("v4-v5") && msg.contains("v0-v2"),
        "{msg}"
    );
}

#[tokio::test]
async fn version_caps_limit_what_is_sent_and_builders_see_the_version() {
    let mock = MockBroker::start(MockConfig::default()).await;
    let caps = VersionCaps::codec().cap(ApiKey::Metadata, VersionRange { min: 1, max: 4 });
    let client = Client::builder(fast_config(&mock.bootstrap()))
        .version_caps(caps)
        .connect()
        .await
        .unwrap();
    assert_eq!(client.api_version(ApiKey::Metadata).await.unwrap(), 4);
    let mut seen = Vec::new();
    client
        .send_with(Target::Any, ApiKey::Metadata, &SendOptions::new(), |v| {
            seen.push(v);
            Cow::Owned(RequestBody::Metadata(MetadataRequest {
                topics: None,
                allow_auto_topic_creation: false,
                ..Default::default()
            }))
        })
        .await
        .unwrap();
    assert_eq!(seen, [4]);
    assert!(
        mock.requests()
            .iter()
            .filter(|(a, _)| *a == ApiKey::Metadata)
            .all(|(_, v)| *v == 4)
    );
}
