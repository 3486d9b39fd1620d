//! Coordinator lookup and routing against the mock: batched and single-key FindCoordinator,
//! retriable lookup errors, and NOT_COORDINATOR invalidation on a coordinator target.

mod support;

use kafka_client::connection::VersionCaps;
use kafka_client::metadata::CoordinatorType;
use kafka_client::{Client, ErrorKind, Target};
use kafka_protocol::messages::heartbeat_request::HeartbeatRequest;
use kafka_protocol::messages::{RequestBody, ResponseBody};
use kafka_protocol::{ApiKey, ErrorCode, VersionRange};
use support::fast_config;
use support::mock::{MockBroker, MockConfig};

fn find_count(mock: &MockBroker) -> usize {
    mock.count(ApiKey::FindCoordinator)
}

#[tokio::test]
async fn batched_lookup_is_one_request_and_is_cached() {
    let mock = MockBroker::start(MockConfig::default()).await;
    let client = Client::connect(fast_config(&mock.bootstrap()))
        .await
        .unwrap();
    let found = client
        .find_coordinators(CoordinatorType::Group, &["a", "b", "c"])
        .await
        .unwrap();
    assert_eq!(found.len(), 3);
    for b in found.values() {
        assert_eq!(b.as_ref().unwrap().id, mock.node_id());
    }
    assert_eq!(find_count(&mock), 1);
    let v = mock
        .requests()
        .into_iter()
        .find(|(a, _)| *a == ApiKey::FindCoordinator)
        .unwrap()
        .1;
    assert!(v >= 4);
    // Cached.
    client
        .coordinator("b", CoordinatorType::Group)
        .await
        .unwrap();
    assert_eq!(find_count(&mock), 1);
    // Types are separate keys.
    client
        .coordinator("b", CoordinatorType::Transaction)
        .await
        .unwrap();
    assert_eq!(find_count(&mock), 2);
}

#[tokio::test]
async fn older_brokers_get_one_request_per_key() {
    let mock = MockBroker::start(MockConfig::default()).await;
    let caps = VersionCaps::codec().cap(ApiKey::FindCoordinator, VersionRange { min: 0, max: 3 });
    let client = Client::builder(fast_config(&mock.bootstrap()))
        .version_caps(caps)
        .connect()
        .await
        .unwrap();
    let found = client
        .find_coordinators(CoordinatorType::Transaction, &["x", "y"])
        .await
        .unwrap();
    assert!(found.values().all(|r| r.is_ok()));
    assert_eq!(find_count(&mock), 2);

    let mock = MockBroker::start(MockConfig::default()).await;
    let caps = VersionCaps::codec().cap(ApiKey::FindCoordinator, VersionRange { min: 0, max: 0 });
    let client = Client::builder(fast_config(&mock.bootstrap()))
        .version_caps(caps)
        .connect()
        .await
        .unwrap();
    let e = client
        .coordinator("tx", CoordinatorType::Transaction)
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::UnsupportedVersion { .. }),
        "{e}"
    );
    client
        .coordinator("g", CoordinatorType::Group)
        .await
        .unwrap();
}

#[tokio::test]
async fn retriable_lookup_errors_are_retried() {
    let mock = MockBroker::start(MockConfig::default()).await;
    let client = Client::connect(fast_config(&mock.bootstrap()))
        .await
        .unwrap();
    mock.script().find_coordinator.extend([
        ErrorCode::CoordinatorNotAvailable,
        ErrorCode::CoordinatorLoadInProgress,
    ]);
    let b = client
        .coordinator("g", CoordinatorType::Group)
        .await
        .unwrap();
    assert_eq!(b.id, mock.node_id());
    assert_eq!(find_count(&mock), 3);

    mock.script()
        .find_coordinator
        .push_back(ErrorCode::GroupAuthorizationFailed);
    let e = client
        .coordinator("h", CoordinatorType::Group)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::GroupAuthorizationFailed));
    assert!(!e.is_retriable());
}

#[tokio::test]
async fn not_coordinator_invalidates_and_the_request_is_retried() {
    support::init_tracing();
    let mock = MockBroker::start(MockConfig::default()).await;
    let client = Client::connect(fast_config(&mock.bootstrap()))
        .await
        .unwrap();
    mock.script().heartbeat.push_back(ErrorCode::NotCoordinator);
    let body = RequestBody::Heartbeat(HeartbeatRequest {
        group_id: "g".into(),
        generation_id: 1,
        member_id: "m".into(),
        ..Default::default()
    });
    let ResponseBody::Heartbeat(resp) = client.send(Target::group("g"), &body).await.unwrap()
    else {
        panic!("wrong response")
    };
    assert_eq!(resp.error_code, 0);
    assert_eq!(mock.count(ApiKey::Heartbeat), 2);
    assert_eq!(find_count(&mock), 2, "the coordinator was looked up again");

    // Coordinator traffic has its own connection to the broker (bootstrap connection closed
    // after the first metadata, then one regular and one coordinator connection).
    client
        .send(Target::Broker(mock.node_id()), &body)
        .await
        .unwrap();
    assert!(mock.connections() >= 3, "{}", mock.connections());

    // Errors the client does not handle are the caller's.
    mock.script()
        .heartbeat
        .push_back(ErrorCode::RebalanceInProgress);
    let ResponseBody::Heartbeat(resp) = client.send(Target::group("g"), &body).await.unwrap()
    else {
        panic!("wrong response")
    };
    assert_eq!(resp.error_code, ErrorCode::RebalanceInProgress.code());
    client.invalidate_coordinator("g", CoordinatorType::Group);
}
