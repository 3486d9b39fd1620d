//! Timeouts: connection setup against a listener that never answers, request timeouts
//! against a broker that leaves requests unanswered, and the overall retry budget.

mod support;

use std::time::{Duration, Instant};

use kafka_client::config::ClientConfig;
use kafka_client::{Client, ErrorKind, SendOptions, Target};
use kafka_protocol::messages::RequestBody;
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::{ApiKey, ErrorCode};
use support::fast_config;
use support::mock::{MockBroker, MockConfig, black_hole};

fn list_groups() -> RequestBody {
    RequestBody::ListGroups(ListGroupsRequest::default())
}

#[tokio::test]
async fn connection_setup_times_out_against_a_silent_listener() {
    support::init_tracing();
    let (addr, listener) = black_hole().await;
    let config = ClientConfig::builder()
        .bootstrap_servers([addr.as_str()])
        .connection_setup_timeout(Duration::from_millis(200), Duration::from_millis(400))
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .default_api_timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    let started = Instant::now();
    let e = Client::connect(config).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    let ErrorKind::RetriesExhausted { attempts, last, .. } = e.kind() else {
        panic!("{e}")
    };
    assert!(*attempts >= 2, "retried: {attempts}");
    assert!(
        matches!(last.kind(), ErrorKind::ConnectTimeout { .. }),
        "{last}"
    );
    assert!(last.is_retriable() && last.is_synthetic());
    assert_eq!(e.code(), Some(ErrorCode::RequestTimedOut));
    listener.abort();
}

#[tokio::test]
async fn an_unanswered_request_times_out_and_fails_everything_behind_it() {
    support::init_tracing();
    let mock = MockBroker::start(MockConfig {
        silent: vec![ApiKey::ListGroups],
        ..Default::default()
    })
    .await;
    let mut config = fast_config(&mock.bootstrap());
    config = config.set("request.timeout.ms", "300").unwrap();
    let client = Client::connect(config).await.unwrap();
    let conn = client.connection(&Target::Any).await.unwrap();

    let started = Instant::now();
    let waiting: Vec<_> = (0..3)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move { conn.send(&list_groups()).await })
        })
        .collect();
    for w in waiting {
        let e = w.await.unwrap().unwrap_err();
        assert!(e.is_retriable(), "{e}");
        assert!(
            matches!(
                e.kind(),
                ErrorKind::RequestTimeout { .. } | ErrorKind::Disconnected { .. }
            ),
            "{e}"
        );
        assert_eq!(e.context().api, Some(ApiKey::ListGroups));
        assert_eq!(e.context().broker, Some(mock.node_id()));
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert!(
        conn.is_closed(),
        "a timed-out request closes its connection"
    );
    assert!(matches!(
        conn.close_reason().unwrap().kind(),
        ErrorKind::RequestTimeout { .. }
    ));

    // The next request opens a new connection.
    let before = mock.connections();
    client
        .send(
            Target::Any,
            &RequestBody::Metadata(MetadataRequest::default()),
        )
        .await
        .unwrap();
    assert!(mock.connections() > before);
}

#[tokio::test]
async fn retries_stop_at_the_overall_budget() {
    let mock = MockBroker::start(MockConfig {
        silent: vec![ApiKey::ListGroups],
        ..Default::default()
    })
    .await;
    let client = Client::connect(fast_config(&mock.bootstrap()))
        .await
        .unwrap();
    let options = SendOptions::new()
        .timeout(Duration::from_millis(1200))
        .request_timeout(Duration::from_millis(200));
    let started = Instant::now();
    let e = client
        .send_with(Target::Any, ApiKey::ListGroups, &options, |_| {
            std::borrow::Cow::Owned(list_groups())
        })
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let ErrorKind::RetriesExhausted { attempts, last, .. } = e.kind() else {
        panic!("{e}")
    };
    assert!(*attempts >= 2, "{attempts}");
    assert!(
        matches!(last.kind(), ErrorKind::RequestTimeout { .. }),
        "{last}"
    );
    assert!(!e.is_retriable(), "a call that gave up is final");
    assert!(mock.count(ApiKey::ListGroups) >= 2);

    // Without retries: one attempt.
    let before = mock.count(ApiKey::ListGroups);
    let e = client
        .send_with(
            Target::Any,
            ApiKey::ListGroups,
            &options.clone().no_retry(),
            |_| std::borrow::Cow::Owned(list_groups()),
        )
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::RequestTimeout { .. }), "{e}");
    assert_eq!(mock.count(ApiKey::ListGroups), before + 1);
}
