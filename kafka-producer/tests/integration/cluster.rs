//! Against several brokers with injected faults (the companion broker's `Cluster`):
//! dropped responses (the producer resends batches already written), retriable and fatal
//! errors, leaders that move, and a leader that stops. Exactly once and in order, each time.
//! Skipped against an external cluster, which cannot inject faults.

use std::time::Duration;

use kafka_broker::{Cluster, ClusterHandle, Fault};
use kafka_producer::{Acks, Producer, ProducerError, ProducerRecord};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::ApiKey;

use crate::support::{TestCluster, external, skip, text, unique};

async fn start(brokers: usize) -> Option<(ClusterHandle, TestCluster)> {
    if external().is_some() {
        skip("fault injection");
        return None;
    }
    let handle = Cluster::builder()
        .brokers(brokers)
        .start()
        .await
        .expect("cluster starts");
    let view = TestCluster::external_view(handle.bootstrap()).await;
    Some((handle, view))
}

/// Sends `n` records `"0".."n-1"` to partition 0 one after another and checks every
/// delivery; returns the offsets.
async fn send_all(producer: &Producer, topic: &str, n: usize) -> Vec<i64> {
    let mut ds = Vec::new();
    for i in 0..n {
        ds.push(
            producer
                .send(ProducerRecord::new(topic, format!("{i}")).with_partition(0))
                .await
                .unwrap(),
        );
    }
    let mut offsets = Vec::new();
    for d in ds {
        offsets.push(d.await.unwrap().offset);
    }
    offsets
}

/// The partition holds exactly `"0".."n-1"`, in order.
async fn assert_exactly_once_in_order(view: &TestCluster, topic: &str, n: usize) {
    let values: Vec<String> = view.read(topic, 0).await.iter().map(text).collect();
    let want: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    assert_eq!(values.len(), n, "records written: {}", values.len());
    assert_eq!(values, want);
}

#[tokio::test]
async fn resends_after_dropped_responses_are_written_once() {
    let Some((cluster, view)) = start(1).await else {
        return;
    };
    let topic = unique("dup");
    view.create_topic(&topic, 1, &[]).await;
    let producer = Producer::connect(view.config().build().unwrap())
        .await
        .unwrap();
    send_all(&producer, &topic, 10).await;
    // The broker appends the next three Produce requests and never answers them: the
    // producer resends the same batches with the same sequence numbers.
    cluster
        .inject(Fault::drop_response(ApiKey::Produce).times(3))
        .unwrap();
    let offsets = send_all(&producer, &topic, 1000).await;
    assert!(cluster.faults().is_empty(), "every drop was used");
    assert!(producer.metrics().record_retries > 0);
    let mut sorted = offsets.clone();
    sorted.sort();
    assert_eq!(offsets, sorted, "offsets follow send order");
    assert_eq!(offsets.last(), Some(&1009));
    let values: Vec<String> = view.read(&topic, 0).await.iter().map(text).collect();
    assert_eq!(values.len(), 1010, "no duplicates");
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn retriable_errors_are_retried_in_order() {
    let Some((cluster, view)) = start(1).await else {
        return;
    };
    let topic = unique("retriable");
    view.create_topic(&topic, 1, &[]).await;
    let producer = Producer::connect(view.config().build().unwrap())
        .await
        .unwrap();
    send_all(&producer, &topic, 1).await;
    for code in [
        ErrorCode::NotLeaderOrFollower,
        ErrorCode::NotEnoughReplicas,
        ErrorCode::RequestTimedOut,
    ] {
        cluster
            .inject(Fault::error(ApiKey::Produce, code).times(2))
            .unwrap();
    }
    cluster
        .inject(Fault::disconnect(ApiKey::Produce).times(2))
        .unwrap();
    let mut ds = Vec::new();
    for i in 1..2000 {
        ds.push(
            producer
                .send(ProducerRecord::new(topic.as_str(), format!("{i}")).with_partition(0))
                .await
                .unwrap(),
        );
    }
    for d in ds {
        d.await.unwrap();
    }
    assert!(producer.metrics().record_retries > 0);
    assert_exactly_once_in_order(&view, &topic, 2000).await;
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn retries_zero_fails_at_the_first_error() {
    let Some((cluster, view)) = start(1).await else {
        return;
    };
    let topic = unique("no-retries");
    view.create_topic(&topic, 1, &[]).await;
    let config = view.config().retries(0).acks(Acks::Leader).build().unwrap();
    let producer = Producer::connect(config).await.unwrap();
    send_all(&producer, &topic, 1).await;
    cluster
        .inject(Fault::error(ApiKey::Produce, ErrorCode::NotEnoughReplicas))
        .unwrap();
    let r = producer
        .send(ProducerRecord::new(topic.as_str(), "x"))
        .await
        .unwrap()
        .await;
    match r {
        Err(ProducerError::Broker { code, .. }) => assert_eq!(code, ErrorCode::NotEnoughReplicas),
        other => panic!("{other:?}"),
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_lost_sequence_bumps_the_epoch_and_later_records_go_through() {
    let Some((cluster, view)) = start(1).await else {
        return;
    };
    let topic = unique("epoch");
    view.create_topic(&topic, 1, &[]).await;
    let producer = Producer::connect(view.config().build().unwrap())
        .await
        .unwrap();
    send_all(&producer, &topic, 5).await;
    // A non-retriable refusal of an idempotent batch: its sequence numbers are lost.
    cluster
        .inject(Fault::error(ApiKey::Produce, ErrorCode::InvalidRecord))
        .unwrap();
    let r = producer
        .send(ProducerRecord::new(topic.as_str(), "lost").with_partition(0))
        .await
        .unwrap()
        .await;
    assert!(
        matches!(
            r,
            Err(ProducerError::Broker {
                code: ErrorCode::InvalidRecord,
                ..
            })
        ),
        "{r:?}"
    );
    // The next batch would be out of sequence under the old epoch; with the bumped epoch it
    // starts again at 0 and is accepted.
    let m = producer
        .send(ProducerRecord::new(topic.as_str(), "5").with_partition(0))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(m.offset, 5);
    cluster
        .inject(Fault::error(
            ApiKey::Produce,
            ErrorCode::OutOfOrderSequenceNumber,
        ))
        .unwrap();
    let r = producer
        .send(ProducerRecord::new(topic.as_str(), "lost again").with_partition(0))
        .await
        .unwrap()
        .await;
    assert!(
        matches!(
            r,
            Err(ProducerError::Broker {
                code: ErrorCode::OutOfOrderSequenceNumber,
                ..
            })
        ),
        "the expected batch refused as out of order is lost: {r:?}"
    );
    send_all(&producer, &topic, 3).await;
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn records_follow_a_moving_leader_exactly_once() {
    let Some((cluster, view)) = start(3).await else {
        return;
    };
    let topic = unique("move");
    view.create_topic(&topic, 1, &[]).await;
    let producer = Producer::connect(view.config().build().unwrap())
        .await
        .unwrap();
    let p = producer.clone();
    let t = topic.clone();
    let sending = tokio::spawn(async move { send_all(&p, &t, 3000).await });
    let first = cluster.partition(&topic, 0).unwrap().leader;
    // Four moves over three replicas: it ends up elsewhere.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        cluster.move_leader(&topic, 0, None).unwrap();
    }
    let offsets = sending.await.unwrap();
    assert_eq!(offsets.last(), Some(&2999));
    assert_ne!(cluster.partition(&topic, 0).unwrap().leader, first);
    assert_exactly_once_in_order(&view, &topic, 3000).await;
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn records_survive_the_leader_stopping_with_acks_all() {
    let Some((cluster, view)) = start(3).await else {
        return;
    };
    let topic = unique("failover");
    view.create_topic(&topic, 1, &[]).await;
    let config = view
        .config()
        .request_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let producer = Producer::connect(config).await.unwrap();
    send_all(&producer, &topic, 100).await;
    let leader = cluster.partition(&topic, 0).unwrap().leader.unwrap();
    let p = producer.clone();
    let t = topic.clone();
    let sending = tokio::spawn(async move {
        let mut ds = Vec::new();
        for i in 100..1100 {
            ds.push(
                p.send(ProducerRecord::new(t.as_str(), format!("{i}")).with_partition(0))
                    .await
                    .unwrap(),
            );
            if i % 100 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        for d in ds {
            d.await.unwrap();
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    cluster.stop_broker(leader).await.unwrap();
    // Well within the client's 60 s default budget: the producer notices the lost leader
    // through the failed requests and connection attempts, not by running out of time.
    tokio::time::timeout(Duration::from_secs(20), sending)
        .await
        .expect("records delivered after the failover")
        .unwrap();
    assert_ne!(cluster.partition(&topic, 0).unwrap().leader, Some(leader));
    assert_exactly_once_in_order(&view, &topic, 1100).await;
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.shutdown().await.unwrap();
}
