//! Manual assignment: fetching, seeking, pausing, offset resets, commits and offset look-ups,
//! the stream, against the companion broker (or `KAFKA_TEST_BOOTSTRAP`).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use kafka_consumer::{Consumer, ConsumerError, OffsetAndMetadata, OffsetReset, TopicPartition};
use support::{TestCluster, unique, value};

async fn recv_n(consumer: &mut Consumer, n: usize) -> Vec<kafka_consumer::ConsumerRecord> {
    let mut out = Vec::new();
    while out.len() < n {
        let r = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
            .await
            .expect("records arrive in time")
            .expect("no error");
        out.push(r);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assign_seek_pause_resume() {
    let cluster = TestCluster::start().await;
    let topic = unique("manual");
    cluster.create_topic(&topic, 2, 1).await;
    cluster.fill(&topic, 2, 20).await;
    let p0 = TopicPartition::new(&topic, 0);
    let p1 = TopicPartition::new(&topic, 1);

    let mut consumer = Consumer::new(cluster.consumer_config(None)).await.unwrap();
    consumer.assign([p0.clone()]).unwrap();
    let first = recv_n(&mut consumer, 20).await;
    let offsets: Vec<i64> = first.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (0..20).collect::<Vec<_>>());
    assert_eq!(value(&first[3]), "0-3");
    assert_eq!(first[3].key.as_deref(), Some(&b"k3"[..]));
    assert_eq!(&*first[0].topic, topic.as_str());
    assert_eq!(consumer.current_position(&p0), Some(20));
    support::eventually("lag is known", || async { consumer.lag(&p0) == Some(0) }).await;

    // Seek back into the middle of the batch.
    consumer.seek(&p0, 15).unwrap();
    let again = recv_n(&mut consumer, 5).await;
    assert_eq!(again[0].offset, 15);
    assert_eq!(again[4].offset, 19);

    // Both partitions; pause p0 after seeking it back to the start.
    consumer.assign([p0.clone(), p1.clone()]).unwrap();
    consumer.seek(&p0, 0).unwrap();
    consumer.pause([p0.clone()]).unwrap();
    assert!(consumer.paused().iter().eq([&p0]));
    let from_p1 = recv_n(&mut consumer, 20).await;
    assert!(
        from_p1.iter().all(|r| r.partition == 1),
        "paused partitions deliver nothing"
    );
    let nothing = consumer.poll(Duration::from_millis(300)).await.unwrap();
    assert!(nothing.is_empty());
    consumer.resume([p0.clone()]).unwrap();
    let from_p0 = recv_n(&mut consumer, 20).await;
    assert!(from_p0.iter().all(|r| r.partition == 0));
    assert_eq!(from_p0[0].offset, 0);

    // Seek to end, then new records arrive.
    consumer.seek_to_end([]).unwrap();
    assert_eq!(consumer.position(&p1).await.unwrap(), 20);
    cluster.produce(&topic, 1, &["late".to_string()]).await;
    let late = recv_n(&mut consumer, 1).await;
    assert_eq!(
        (late[0].partition, late[0].offset, value(&late[0]).as_str()),
        (1, 20, "late")
    );
    consumer.seek_to_beginning([p1.clone()]).unwrap();
    assert_eq!(recv_n(&mut consumer, 1).await[0].offset, 0);

    assert!(matches!(
        consumer.seek(&TopicPartition::new(&topic, 9), 0),
        Err(ConsumerError::IllegalState(_))
    ));
    consumer.close().await.unwrap();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_offset_reset_variants() {
    let cluster = TestCluster::start().await;
    let topic = unique("reset");
    cluster.create_topic(&topic, 1, 1).await;
    cluster.fill(&topic, 1, 10).await;
    let tp = TopicPartition::new(&topic, 0);

    // earliest: everything.
    let mut c = Consumer::new(cluster.consumer_config(Some(&unique("g"))))
        .await
        .unwrap();
    c.assign([tp.clone()]).unwrap();
    assert_eq!(recv_n(&mut c, 10).await[0].offset, 0);
    c.close().await.unwrap();

    // latest: only what comes after.
    let config = cluster
        .consumer_config(Some(&unique("g")))
        .with_offset_reset(OffsetReset::Latest);
    let mut c = Consumer::new(config).await.unwrap();
    c.assign([tp.clone()]).unwrap();
    assert_eq!(c.position(&tp).await.unwrap(), 10);
    cluster.produce(&topic, 0, &["new".to_string()]).await;
    let r = recv_n(&mut c, 1).await;
    assert_eq!((r[0].offset, value(&r[0]).as_str()), (10, "new"));

    // Out of range: reset by policy (latest).
    c.seek(&tp, 1_000).unwrap();
    support::eventually("reset to the end", || async {
        c.current_position(&tp) == Some(11)
    })
    .await;
    c.close().await.unwrap();

    // none: an error without a committed offset, and when out of range.
    let config = cluster
        .consumer_config(Some(&unique("g")))
        .with_offset_reset(OffsetReset::None);
    let mut c = Consumer::new(config).await.unwrap();
    c.assign([tp.clone()]).unwrap();
    let e = tokio::time::timeout(Duration::from_secs(20), c.recv())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, ConsumerError::NoOffset { .. }), "{e}");
    c.seek(&tp, 5).unwrap();
    assert_eq!(recv_n(&mut c, 1).await[0].offset, 5);
    c.seek(&tp, 500).unwrap();
    let e = tokio::time::timeout(Duration::from_secs(20), c.recv())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(e, ConsumerError::OffsetOutOfRange { offset: 500, .. }),
        "{e}"
    );
    c.close().await.unwrap();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_and_offset_lookups() {
    let cluster = TestCluster::start().await;
    let topic = unique("commits");
    cluster.create_topic(&topic, 2, 1).await;
    let before = support::now_ms();
    cluster.fill(&topic, 2, 5).await;
    let p0 = TopicPartition::new(&topic, 0);
    let p1 = TopicPartition::new(&topic, 1);
    let group = unique("g");

    let config = cluster
        .consumer_config(Some(&group))
        .with_auto_commit(false);
    let mut c = Consumer::new(config.clone()).await.unwrap();
    c.assign([p0.clone(), p1.clone()]).unwrap();
    let got = recv_n(&mut c, 10).await;
    assert_eq!(got.len(), 10);
    c.commit_sync().await.unwrap();
    let committed = c.committed([p0.clone(), p1.clone()]).await.unwrap();
    assert_eq!(committed[&p0].as_ref().unwrap().offset, 5);
    assert_eq!(committed[&p1].as_ref().unwrap().offset, 5);

    let explicit = BTreeMap::from([(
        p0.clone(),
        OffsetAndMetadata::new(2).with_metadata("why not"),
    )]);
    c.commit_offsets_async(explicit).await.unwrap();
    let committed = c.committed([p0.clone()]).await.unwrap();
    let o = committed[&p0].as_ref().unwrap();
    assert_eq!((o.offset, o.metadata.as_str()), (2, "why not"));

    let begin = c.beginning_offsets([p0.clone(), p1.clone()]).await.unwrap();
    let end = c.end_offsets([p0.clone(), p1.clone()]).await.unwrap();
    assert_eq!((begin[&p0], end[&p0], end[&p1]), (0, 5, 5));
    let by_time = c
        .offsets_for_times([
            (p0.clone(), before),
            (p1.clone(), support::now_ms() + 60_000),
        ])
        .await
        .unwrap();
    assert_eq!(by_time[&p0].unwrap().offset, 0);
    assert!(by_time[&p1].is_none(), "nothing that late");
    c.close().await.unwrap();

    // A new consumer of the group starts at the committed offsets.
    let mut c = Consumer::new(config).await.unwrap();
    c.assign([p0.clone()]).unwrap();
    assert_eq!(recv_n(&mut c, 1).await[0].offset, 2);
    c.close().await.unwrap();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_of_records() {
    let cluster = TestCluster::start().await;
    let topic = unique("stream");
    cluster.create_topic(&topic, 3, 1).await;
    let expected = cluster.fill(&topic, 3, 30).await;
    let mut c = Consumer::new(cluster.consumer_config(None)).await.unwrap();
    c.assign((0..3).map(|p| TopicPartition::new(&topic, p)))
        .unwrap();
    let values: Vec<String> = c
        .stream()
        .take(expected.len())
        .map(|r| value(&r.unwrap()))
        .collect()
        .await;
    let mut sorted = values.clone();
    sorted.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(sorted, want);
    // Nothing was lost by dropping the stream: the next record is the next produced.
    cluster.produce(&topic, 0, &["after".to_string()]).await;
    assert_eq!(value(&recv_n(&mut c, 1).await[0]), "after");
    c.close().await.unwrap();
    cluster.stop().await;
}
