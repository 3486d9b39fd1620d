//! Partition data: list offsets (earliest, latest, by timestamp, max timestamp) and delete
//! records.

use kafka_admin::{
    AdminError, AdminOptions, DELETE_ALL_RECORDS, IsolationLevel, OffsetSpec, TopicPartition,
};
use kafka_protocol::ErrorCode;

use crate::support::{TestCluster, create_topic, now_ms, produce, short, unique};

#[tokio::test]
async fn list_offsets_by_every_spec() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let topic = unique("offsets");
    create_topic(&admin, &topic, 2).await;
    // Recent timestamps, so an external cluster's retention and timestamp checks keep them.
    let t = now_ms() - 100_000;
    produce(
        admin.client(),
        &topic,
        0,
        &[t + 1_000, t + 3_000, t + 2_000],
    )
    .await;
    let (p0, p1) = (
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    );

    let lookup = async |spec: OffsetSpec| {
        let results = admin
            .list_offsets(
                [(p0.clone(), spec), (p1.clone(), spec)],
                &AdminOptions::new(),
            )
            .await;
        let found = |tp: &TopicPartition| *results[tp].as_ref().unwrap();
        (found(&p0), found(&p1))
    };
    let (earliest, empty) = lookup(OffsetSpec::Earliest).await;
    assert_eq!((earliest.offset, empty.offset), (0, 0));
    let (latest, empty) = lookup(OffsetSpec::Latest).await;
    assert_eq!((latest.offset, empty.offset), (3, 0));
    let (by_time, empty) = lookup(OffsetSpec::Timestamp(t + 1_500)).await;
    assert_eq!((by_time.offset, by_time.timestamp), (1, Some(t + 3_000)));
    assert_eq!(empty.offset, -1, "no record at or after the timestamp");
    let (after_end, _) = lookup(OffsetSpec::Timestamp(t + 10_000)).await;
    assert_eq!(after_end.offset, -1);
    let (max, empty) = lookup(OffsetSpec::MaxTimestamp).await;
    assert_eq!((max.offset, max.timestamp), (1, Some(t + 3_000)));
    assert_eq!(empty.offset, -1);

    let committed = admin
        .list_offsets(
            [(p0.clone(), OffsetSpec::Latest)],
            &AdminOptions::new().isolation_level(IsolationLevel::ReadCommitted),
        )
        .await;
    assert_eq!(
        committed[&p0].as_ref().unwrap().offset,
        3,
        "no open transactions"
    );
    cluster.stop().await;
}

#[tokio::test]
async fn list_offsets_fails_only_the_unknown_partitions() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let topic = unique("offsets-some");
    create_topic(&admin, &topic, 1).await;
    let good = TopicPartition::new(&topic, 0);
    let no_partition = TopicPartition::new(&topic, 7);
    let no_topic = TopicPartition::new(unique("offsets-none"), 0);
    let results = admin
        .list_offsets(
            [
                (good.clone(), OffsetSpec::Latest),
                (no_partition.clone(), OffsetSpec::Latest),
                (no_topic.clone(), OffsetSpec::Latest),
            ],
            &short(),
        )
        .await;
    assert_eq!(results[&good].as_ref().unwrap().offset, 0);
    for tp in [&no_partition, &no_topic] {
        // Retried (a new topic may not have reached every broker) until the timeout.
        let err = results[tp].as_ref().unwrap_err();
        assert!(matches!(err, AdminError::TimedOut { .. }), "{tp}: {err}");
        assert_eq!(err.code(), Some(ErrorCode::UnknownTopicOrPartition), "{tp}");
    }

    let dup = admin
        .list_offsets(
            [
                (good.clone(), OffsetSpec::Latest),
                (good.clone(), OffsetSpec::Earliest),
            ],
            &AdminOptions::new(),
        )
        .await;
    assert!(matches!(dup[&good], Err(AdminError::InvalidArgument(_))));
    cluster.stop().await;
}

#[tokio::test]
async fn delete_records_moves_the_log_start() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let topic = unique("deleted");
    create_topic(&admin, &topic, 3).await;
    for p in 0..3 {
        let t = now_ms();
        produce(admin.client(), &topic, p, &[t, t, t, t]).await;
    }
    let tp = |p| TopicPartition::new(&topic, p);
    let missing = TopicPartition::new(unique("deleted-none"), 0);
    let results = admin
        .delete_records(
            [
                (tp(0), 2),
                (tp(1), DELETE_ALL_RECORDS),
                // Beyond the high watermark.
                (tp(2), 100),
                (missing.clone(), 1),
            ],
            &short(),
        )
        .await;
    assert_eq!(*results[&tp(0)].as_ref().unwrap(), 2);
    assert_eq!(*results[&tp(1)].as_ref().unwrap(), 4);
    assert_eq!(
        results[&tp(2)].as_ref().unwrap_err().code(),
        Some(ErrorCode::OffsetOutOfRange)
    );
    assert_eq!(
        results[&missing].as_ref().unwrap_err().code(),
        Some(ErrorCode::UnknownTopicOrPartition)
    );

    let starts = admin
        .list_offsets(
            (0..3).map(|p| (tp(p), OffsetSpec::Earliest)),
            &AdminOptions::new(),
        )
        .await;
    let start = |p| starts[&tp(p)].as_ref().unwrap().offset;
    assert_eq!((start(0), start(1), start(2)), (2, 4, 0));
    cluster.stop().await;
}
