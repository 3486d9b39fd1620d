//! Retriable errors are retried within the call's timeout: calls about a topic that does
//! not exist yet succeed once another client creates it.

use std::time::{Duration, Instant};

use kafka_admin::{AdminOptions, OffsetSpec, TopicPartition};

use crate::support::{TestCluster, create_topic, unique};

/// Creates `topic` after `delay`, from another task.
fn create_later(
    admin: &kafka_admin::AdminClient,
    topic: &str,
    delay: Duration,
) -> tokio::task::JoinHandle<()> {
    let (admin, topic) = (admin.clone(), topic.to_owned());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        create_topic(&admin, &topic, 2).await;
    })
}

#[tokio::test]
async fn list_offsets_waits_for_a_topic_being_created() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let topic = unique("late-offsets");
    let delay = Duration::from_millis(500);
    let creator = create_later(&admin, &topic, delay);
    let started = Instant::now();
    let (p0, p1) = (
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    );
    let results = admin
        .list_offsets(
            [
                (p0.clone(), OffsetSpec::Latest),
                (p1.clone(), OffsetSpec::Earliest),
            ],
            &AdminOptions::new().timeout(Duration::from_secs(10)),
        )
        .await;
    creator.await.unwrap();
    assert!(
        started.elapsed() >= delay,
        "answered before the topic existed"
    );
    assert_eq!(results[&p0].as_ref().unwrap().offset, 0);
    assert_eq!(results[&p1].as_ref().unwrap().offset, 0);
    cluster.stop().await;
}

#[tokio::test]
async fn delete_records_waits_for_a_topic_being_created() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let topic = unique("late-records");
    let delay = Duration::from_millis(500);
    let creator = create_later(&admin, &topic, delay);
    let started = Instant::now();
    let p0 = TopicPartition::new(&topic, 0);
    let results = admin
        .delete_records(
            [(p0.clone(), 0)],
            &AdminOptions::new().timeout(Duration::from_secs(10)),
        )
        .await;
    creator.await.unwrap();
    assert!(
        started.elapsed() >= delay,
        "answered before the topic existed"
    );
    assert_eq!(*results[&p0].as_ref().unwrap(), 0);
    cluster.stop().await;
}
