//! The client against a three-broker in-process cluster of the companion broker: metadata
//! naming every broker with leaders spread over them, following a leader that moved (after
//! NOT_LEADER_OR_FOLLOWER from the old one), and reconnecting to a restarted broker.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kafka_broker::{Cluster, ClusterHandle};
use kafka_client::metadata::TopicSelection;
use kafka_client::{Client, Target};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use kafka_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::messages::{RequestBody, ResponseBody};
use support::fast_config;

const WAIT: Duration = Duration::from_secs(10);

/// `ClusterHandle::bootstrap` is comma-separated; `bootstrap_servers` takes a list.
fn config(cluster: &ClusterHandle) -> kafka_client::ClientConfig {
    let all = cluster.bootstrap();
    fast_config(&all)
        .to_builder()
        .bootstrap_servers(all.split(','))
        .build()
        .unwrap()
}

async fn start_cluster() -> ClusterHandle {
    support::init_tracing();
    Cluster::builder()
        .brokers(3)
        .default_partitions(3)
        .start()
        .await
        .expect("cluster starts")
}

/// Creates `topic` with `partitions` partitions, each replicated to all three brokers, and
/// waits until every partition has a live leader.
async fn create_topic(client: &Client, cluster: &ClusterHandle, topic: &str, partitions: i32) {
    let body = RequestBody::CreateTopics(CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: topic.into(),
            num_partitions: partitions,
            replication_factor: 3,
            ..Default::default()
        }],
        timeout_ms: 10_000,
        ..Default::default()
    });
    let ResponseBody::CreateTopics(resp) = client.send(Target::Controller, &body).await.unwrap()
    else {
        panic!("wrong response")
    };
    assert_eq!(
        ErrorCode::from_code(resp.topics[0].error_code),
        ErrorCode::None
    );
    for p in 0..partitions {
        cluster.wait_for_leader(topic, p, WAIT).await.unwrap();
        cluster
            .wait_for_isr(topic, p, &[0, 1, 2], WAIT)
            .await
            .unwrap();
    }
}

fn list_offsets(topic: &str, partition: i32) -> RequestBody {
    RequestBody::ListOffsets(ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: topic.into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: partition,
                timestamp: -1, // latest
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// The partition error code of a ListOffsets for one partition sent to `target`.
async fn list_offsets_code(client: &Client, target: Target, topic: &str, p: i32) -> ErrorCode {
    let resp = client
        .send(target, &list_offsets(topic, p))
        .await
        .expect("ListOffsets is answered");
    let ResponseBody::ListOffsets(resp) = resp else {
        panic!("wrong response")
    };
    ErrorCode::from_code(resp.topics[0].partitions[0].error_code)
}

/// Polls the client's cached leader until it is `want` (the refresh runs in the background).
async fn wait_for_client_leader(client: &Client, topic: &str, p: i32, want: i32) -> i32 {
    let started = Instant::now();
    loop {
        let (leader, epoch) = client.leader_for(topic, p).await.unwrap();
        if leader.id == want {
            return epoch;
        }
        assert!(
            started.elapsed() < WAIT,
            "client still names {} as the leader of {topic}-{p}, not {want}",
            leader.id
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn metadata_names_three_brokers_and_spreads_leaders() {
    let cluster = start_cluster().await;
    let client = Client::connect(config(&cluster)).await.unwrap();
    let topic = "spread";
    create_topic(&client, &cluster, topic, 6).await;

    let meta = client
        .refresh_metadata(TopicSelection::topics([topic]))
        .await
        .unwrap();
    let ids: BTreeSet<i32> = meta.brokers().map(|b| b.id).collect();
    assert_eq!(ids, BTreeSet::from([0, 1, 2]));
    for b in meta.brokers() {
        let addr = cluster.broker_addr(b.id).unwrap();
        assert_eq!(
            b.port,
            addr.port(),
            "broker {} advertises its own port",
            b.id
        );
    }
    assert_eq!(meta.controller_id(), Some(cluster.controller_id()));
    assert_eq!(meta.partition_count(topic), Some(6));

    let mut leaders = BTreeSet::new();
    for p in 0..6 {
        let (leader, _) = client.leader_for(topic, p).await.unwrap();
        let truth = cluster.partition(topic, p).unwrap();
        assert_eq!(Some(leader.id), truth.leader, "partition {p}");
        let md = meta.partition(topic, p).unwrap();
        let mut replicas = md.replicas.clone();
        replicas.sort_unstable();
        assert_eq!(replicas, vec![0, 1, 2], "partition {p} replicas");
        leaders.insert(leader.id);
    }
    assert_eq!(
        leaders.len(),
        3,
        "six partitions led by every broker: {leaders:?}"
    );

    // Every broker answers Metadata itself with the same three brokers.
    for id in 0..3 {
        let ResponseBody::Metadata(m) = client
            .send(
                Target::Broker(id),
                &RequestBody::Metadata(MetadataRequest::default()),
            )
            .await
            .unwrap()
        else {
            panic!("wrong response")
        };
        assert_eq!(m.brokers.len(), 3, "broker {id}");
    }
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_moved_leader_is_found_after_not_leader_or_follower() {
    let cluster = start_cluster().await;
    let client = Client::connect(config(&cluster)).await.unwrap();
    let topic = "moving";
    create_topic(&client, &cluster, topic, 1).await;
    let (old, old_epoch) = client.leader_for(topic, 0).await.unwrap();
    assert_eq!(
        list_offsets_code(&client, Target::leader(topic, 0), topic, 0).await,
        ErrorCode::None
    );

    let moved = cluster.move_leader(topic, 0, None).unwrap();
    let new = moved.leader.expect("a new leader");
    assert_ne!(new, old.id);
    assert!(moved.leader_epoch > old_epoch);

    // The client still believes the old leader (no refresh yet).
    let (cached, _) = client.leader_for(topic, 0).await.unwrap();
    assert_eq!(cached.id, old.id, "nothing told the client yet");

    // The old leader refuses.
    let code = list_offsets_code(&client, Target::Broker(old.id), topic, 0).await;
    assert_eq!(code, ErrorCode::NotLeaderOrFollower);
    assert!(
        client.report_error(code),
        "a stale-metadata error schedules a refresh"
    );
    let epoch = wait_for_client_leader(&client, topic, 0, new).await;
    assert_eq!(epoch, moved.leader_epoch);

    // Requests to the leader now go to the new one and succeed.
    assert_eq!(
        list_offsets_code(&client, Target::leader(topic, 0), topic, 0).await,
        ErrorCode::None
    );
    assert_eq!(
        list_offsets_code(&client, Target::Broker(new), topic, 0).await,
        ErrorCode::None
    );
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stopped_leader_is_replaced_and_the_client_follows() {
    let cluster = start_cluster().await;
    let client = Client::connect(config(&cluster)).await.unwrap();
    let topic = "failover";
    create_topic(&client, &cluster, topic, 1).await;
    let (old, _) = client.leader_for(topic, 0).await.unwrap();

    cluster.stop_broker(old.id).await.unwrap();
    let info = cluster
        .wait_for_partition(topic, 0, "a leader other than the stopped one", WAIT, |p| {
            p.leader.is_some_and(|l| l != old.id)
        })
        .await
        .unwrap();
    let new = info.leader.unwrap();

    // Sending to the leader first hits the dead broker (or a stale answer), then follows the
    // refreshed metadata to the new one.
    let code = list_offsets_code(&client, Target::leader(topic, 0), topic, 0).await;
    if code != ErrorCode::None {
        assert!(client.report_error(code), "{code}");
    }
    client
        .refresh_metadata(TopicSelection::topics([topic]))
        .await
        .unwrap();
    wait_for_client_leader(&client, topic, 0, new).await;
    assert!(
        client.metadata().broker(old.id).is_none(),
        "a stopped broker leaves the metadata"
    );
    assert_eq!(
        list_offsets_code(&client, Target::leader(topic, 0), topic, 0).await,
        ErrorCode::None
    );

    cluster.start_broker(old.id).await.unwrap();
    cluster
        .wait_for_isr(topic, 0, &[0, 1, 2], WAIT)
        .await
        .unwrap();
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn reconnects_to_a_restarted_broker() {
    let cluster = start_cluster().await;
    let client = Client::connect(config(&cluster)).await.unwrap();
    let metadata = RequestBody::Metadata(MetadataRequest::default());
    let id = 1;
    client.send(Target::Broker(id), &metadata).await.unwrap();

    cluster.stop_broker(id).await.unwrap();
    let started = Instant::now();
    let e = client
        .send_with(
            Target::Broker(id),
            kafka_protocol::ApiKey::Metadata,
            &kafka_client::SendOptions::new().timeout(Duration::from_millis(800)),
            |_| std::borrow::Cow::Borrowed(&metadata),
        )
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "gave up in time: {e}"
    );
    // Other brokers keep serving.
    client.send(Target::Broker(0), &metadata).await.unwrap();
    client.send(Target::Any, &metadata).await.unwrap();

    cluster.start_broker(id).await.unwrap();
    // The next send reconnects (the broker may first need to reappear in the metadata).
    let started = Instant::now();
    loop {
        match client.send(Target::Broker(id), &metadata).await {
            Ok(ResponseBody::Metadata(m)) => {
                assert_eq!(m.brokers.len(), 3);
                break;
            }
            Ok(_) => panic!("wrong response"),
            Err(e) => {
                assert!(started.elapsed() < WAIT, "no reconnect to broker {id}: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    // Connections dropped by the broker are reopened too.
    cluster.drop_connections(id).unwrap();
    let started = Instant::now();
    loop {
        match client.send(Target::Broker(id), &metadata).await {
            Ok(_) => break,
            Err(e) => {
                assert!(started.elapsed() < WAIT, "no reconnect after a drop: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    cluster.shutdown().await.unwrap();
}

/// With no live connection to a node yet (a fresh client only holds its bootstrap
/// connection), `Target::Any` may pick a stopped broker from the cached metadata;
/// `Client::connection` / `api_version_for` must then fail over to a live one within the
/// timeout instead of failing with `Connect` (a regression test for that bug).
#[tokio::test]
async fn any_target_connection_skips_a_stopped_broker() {
    let cluster = start_cluster().await;
    let mut clients = Vec::new();
    for _ in 0..10 {
        clients.push(Client::connect(config(&cluster)).await.unwrap());
    }
    cluster.stop_broker(2).await.unwrap();
    let mut failures = Vec::new();
    for client in &clients {
        if let Err(e) = client.api_version(kafka_protocol::ApiKey::Metadata).await {
            failures.push(e.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 10 failed: {failures:?}",
        failures.len()
    );
    cluster.shutdown().await.unwrap();
}
