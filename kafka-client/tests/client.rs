//! Client behaviour against the mock: bootstrap fallback, the background refresh, idle
//! connections, and closing.

mod support;

use std::time::{Duration, Instant};

use kafka_client::{Client, ErrorKind, Target};
use kafka_protocol::messages::RequestBody;
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::{ApiKey, ErrorCode};
use support::fast_config;
use support::mock::{MockBroker, MockConfig};

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn bootstrap_tries_each_server() {
    let mock = MockBroker::start(MockConfig::default()).await;
    // Port 1 on loopback refuses connections.
    let config = fast_config("127.0.0.1:1")
        .set(
            "bootstrap.servers",
            &format!("127.0.0.1:1,{}", mock.bootstrap()),
        )
        .unwrap();
    let client = Client::connect(config).await.unwrap();
    assert_eq!(
        client.metadata().brokers().next().unwrap().id,
        mock.node_id()
    );
}

#[tokio::test]
async fn metadata_is_refreshed_in_the_background() {
    let mock = MockBroker::start(MockConfig::default()).await;
    let config = fast_config(&mock.bootstrap())
        .set("metadata.max.age.ms", "100")
        .unwrap();
    let client = Client::connect(config).await.unwrap();
    let after_connect = mock.count(ApiKey::Metadata);
    wait_until("two periodic refreshes", || {
        mock.count(ApiKey::Metadata) >= after_connect + 2
    })
    .await;
    drop(client);
}

#[tokio::test]
async fn a_stale_metadata_error_triggers_a_refresh_soon() {
    let mock = MockBroker::start(MockConfig::default()).await;
    let client = Client::connect(fast_config(&mock.bootstrap()))
        .await
        .unwrap();
    let before = mock.count(ApiKey::Metadata);
    assert!(!client.report_error(ErrorCode::MessageTooLarge));
    assert!(client.report_error(ErrorCode::NotLeaderOrFollower));
    wait_until("a refresh", || mock.count(ApiKey::Metadata) > before).await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let mock = MockBroker::start(MockConfig::default()).await;
    let config = fast_config(&mock.bootstrap())
        .set("connections.max.idle.ms", "200")
        .unwrap();
    let client = Client::connect(config).await.unwrap();
    let conn = client.connection(&Target::Any).await.unwrap();
    wait_until("the idle connection closes", || conn.is_closed()).await;
    // And a new one is opened on demand.
    client
        .send(
            Target::Any,
            &RequestBody::ListGroups(ListGroupsRequest::default()),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_closed_client_refuses_requests() {
    let mock = MockBroker::start(MockConfig::default()).await;
    let client = Client::connect(fast_config(&mock.bootstrap()))
        .await
        .unwrap();
    let other = client.clone();
    let conn = client.connection(&Target::Any).await.unwrap();
    client.close();
    assert!(conn.is_closed());
    let e = other
        .send(
            Target::Any,
            &RequestBody::ListGroups(ListGroupsRequest::default()),
        )
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Closed), "{e}");
}
