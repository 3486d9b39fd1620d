//! Sending: futures and callbacks, acks settings, ordering, headers and timestamps, flush
//! and close.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kafka_producer::{Acks, Producer, ProducerError, ProducerRecord};

use crate::support::{TestCluster, text, unique};

#[tokio::test]
async fn records_land_in_order_with_their_offsets() {
    let cluster = TestCluster::start().await;
    let topic = unique("order");
    cluster.create_topic(&topic, 1, &[]).await;
    let producer = Producer::connect(cluster.config().build().unwrap())
        .await
        .unwrap();
    let mut deliveries = Vec::new();
    for i in 0..1000 {
        let record = ProducerRecord::new(topic.as_str(), format!("v{i}")).with_partition(0);
        deliveries.push(producer.send(record).await.unwrap());
    }
    for (i, d) in deliveries.into_iter().enumerate() {
        let m = d.await.unwrap();
        assert_eq!((m.partition, m.offset), (0, i as i64));
        assert_eq!(&*m.topic, topic);
    }
    let records = cluster.read(&topic, 0).await;
    assert_eq!(records.len(), 1000);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(text(r), format!("v{i}"));
    }
    let metrics = producer.metrics();
    assert_eq!(metrics.records_sent, 1000);
    assert!(
        metrics.batches_sent >= 1 && metrics.records_per_batch_avg > 1.0,
        "{metrics:?}"
    );
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.stop().await;
}

#[tokio::test]
async fn every_acks_setting_delivers() {
    let cluster = TestCluster::start().await;
    for acks in [Acks::None, Acks::Leader, Acks::All] {
        let topic = unique("acks");
        cluster.create_topic(&topic, 1, &[]).await;
        let config = cluster.config().acks(acks).build().unwrap();
        assert_eq!(
            config.idempotence(),
            acks == Acks::All,
            "idempotence follows acks"
        );
        let producer = Producer::connect(config).await.unwrap();
        let mut ds = Vec::new();
        for i in 0..50 {
            ds.push(
                producer
                    .send(ProducerRecord::new(topic.as_str(), format!("{i}")))
                    .await
                    .unwrap(),
            );
        }
        for (i, d) in ds.into_iter().enumerate() {
            let m = d.await.unwrap();
            if acks == Acks::None {
                assert_eq!(m.offset, -1, "acks=0 has no offsets");
            } else {
                assert_eq!(m.offset, i as i64);
            }
        }
        producer.flush().await;
        assert_eq!(cluster.read(&topic, 0).await.len(), 50, "{acks:?}");
        producer.close(Duration::from_secs(5)).await.unwrap();
    }
    cluster.stop().await;
}

#[tokio::test]
async fn callbacks_run_once_per_record() {
    let cluster = TestCluster::start().await;
    let topic = unique("callbacks");
    cluster.create_topic(&topic, 3, &[]).await;
    let producer = Producer::connect(cluster.config().build().unwrap())
        .await
        .unwrap();
    let ok = Arc::new(AtomicUsize::new(0));
    for i in 0..300 {
        let ok = ok.clone();
        producer
            .send_with_callback(
                ProducerRecord::new(topic.as_str(), "x").with_key(format!("k{i}")),
                move |r| {
                    assert!(r.unwrap().offset >= 0);
                    ok.fetch_add(1, Ordering::SeqCst);
                },
            )
            .await
            .unwrap();
    }
    producer.flush().await;
    assert_eq!(ok.load(Ordering::SeqCst), 300);
    // A send that fails at once also calls the callback.
    let failed = Arc::new(AtomicUsize::new(0));
    let f = failed.clone();
    let r = producer
        .send_with_callback(
            ProducerRecord::new(topic.as_str(), "x").with_partition(7),
            move |r| {
                assert!(matches!(r, Err(ProducerError::InvalidPartition { .. })));
                f.fetch_add(1, Ordering::SeqCst);
            },
        )
        .await;
    assert!(matches!(
        r,
        Err(ProducerError::InvalidPartition { partitions: 3, .. })
    ));
    assert_eq!(failed.load(Ordering::SeqCst), 1);
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.stop().await;
}

#[tokio::test]
async fn headers_timestamps_keys_and_tombstones_round_trip() {
    let cluster = TestCluster::start().await;
    let topic = unique("fields");
    cluster.create_topic(&topic, 1, &[]).await;
    let producer = Producer::connect(cluster.config().build().unwrap())
        .await
        .unwrap();
    let m = producer
        .send(
            ProducerRecord::new(topic.as_str(), "value")
                .with_key("key")
                .with_header("h1", "a")
                .with_header("h2", "b")
                .with_timestamp(1_600_000_000_123),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(m.timestamp, 1_600_000_000_123);
    producer
        .send(ProducerRecord::tombstone(topic.as_str()).with_key("key"))
        .await
        .unwrap()
        .await
        .unwrap();
    let records = cluster.read(&topic, 0).await;
    assert_eq!(records[0].key.as_deref(), Some(&b"key"[..]));
    assert_eq!(records[0].timestamp, 1_600_000_000_123);
    let headers: Vec<(&str, &[u8])> = records[0]
        .headers
        .iter()
        .map(|h| (h.key.as_str(), h.value.as_deref().unwrap()))
        .collect();
    assert_eq!(headers, [("h1", &b"a"[..]), ("h2", &b"b"[..])]);
    assert!(records[1].value.is_none(), "tombstone");
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.stop().await;
}

#[tokio::test]
async fn flush_sends_without_waiting_for_linger_and_close_refuses_new_records() {
    let cluster = TestCluster::start().await;
    let topic = unique("flush");
    cluster.create_topic(&topic, 1, &[]).await;
    let config = cluster
        .config()
        .linger(Duration::from_secs(60))
        .delivery_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let producer = Producer::connect(config).await.unwrap();
    let d = producer
        .send(ProducerRecord::new(topic.as_str(), "lingering"))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    producer.flush().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "flush did not wait for linger"
    );
    assert_eq!(d.await.unwrap().offset, 0);
    let clone = producer.clone();
    producer.close(Duration::from_secs(5)).await.unwrap();
    let r = clone
        .send(ProducerRecord::new(topic.as_str(), "late"))
        .await;
    assert!(
        matches!(r, Err(ProducerError::Closed { forced: false })),
        "{r:?}"
    );
    cluster.stop().await;
}

/// On a multi-threaded runtime requests to a broker must still leave in the order they were
/// made, or the broker sees idempotent batches out of sequence (a regression test: requests
/// once ran as separately spawned tasks that could start in any order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_pipelining_on_a_multi_threaded_runtime_keeps_sequences() {
    let cluster = TestCluster::start().await;
    let topic = unique("pipelined");
    cluster.create_topic(&topic, 6, &[]).await;
    let config = cluster.config().batch_size(2048).build().unwrap();
    assert!(config.idempotence());
    let producer = Producer::connect(config).await.unwrap();
    let failed = Arc::new(AtomicUsize::new(0));
    for i in 0..60_000u32 {
        let failed = failed.clone();
        producer
            .send_with_callback(
                ProducerRecord::new(topic.as_str(), format!("{i}")).with_partition((i % 6) as i32),
                move |r| {
                    if let Err(e) = r
                        && failed.fetch_add(1, Ordering::SeqCst) == 0
                    {
                        eprintln!("first failure: {e}");
                    }
                },
            )
            .await
            .unwrap();
    }
    producer.flush().await;
    assert_eq!(failed.load(Ordering::SeqCst), 0);
    for p in 0..6 {
        let values: Vec<u32> = cluster
            .read(&topic, p)
            .await
            .iter()
            .map(|r| text(r).parse().unwrap())
            .collect();
        assert_eq!(values.len(), 10_000);
        assert!(
            values.windows(2).all(|w| w[0] + 6 == w[1]),
            "partition {p} in order"
        );
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_returns_after_every_callback_ran() {
    // Slow callbacks on several partitions: a flush woken by one batch's completion must not
    // end while a later batch, already acknowledged, still has callbacks to run.
    let cluster = TestCluster::start().await;
    let topic = unique("flush-callbacks");
    cluster.create_topic(&topic, 3, &[]).await;
    let producer = Producer::connect(cluster.config().build().unwrap())
        .await
        .unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let mut sent = 0;
    // 10 KiB records: one per batch, so a round takes several requests, each completion
    // waking the flush while later batches are being answered.
    let value = bytes::Bytes::from(vec![b'x'; 10 << 10]);
    for round in 0..20 {
        for i in 0..30 {
            let ran = ran.clone();
            producer
                .send_with_callback(
                    ProducerRecord::new(topic.as_str(), value.clone()).with_partition(i % 3),
                    move |r| {
                        r.unwrap();
                        std::thread::sleep(Duration::from_micros(50));
                        ran.fetch_add(1, Ordering::SeqCst);
                    },
                )
                .await
                .unwrap();
            sent += 1;
        }
        producer.flush().await;
        assert_eq!(ran.load(Ordering::SeqCst), sent, "round {round}");
    }
    producer.close(Duration::from_secs(10)).await.unwrap();
}
