//! Limits and failures with a single broker: oversized records, batches the broker finds
//! too large, back-pressure from `buffer.memory`, missing topics, a broker that went away,
//! and closing with records left.

use std::time::{Duration, Instant};

use kafka_producer::{Producer, ProducerError, ProducerRecord};
use kafka_protocol::ErrorCode;

use crate::support::{TestCluster, skip, skip_for, text, unique};

#[tokio::test]
async fn oversized_records_are_refused_before_buffering() {
    let cluster = TestCluster::start().await;
    let topic = unique("oversized");
    cluster.create_topic(&topic, 1, &[]).await;
    let config = cluster
        .config()
        .max_request_size(1000)
        .buffer_memory(100_000)
        .build()
        .unwrap();
    let producer = Producer::connect(config).await.unwrap();
    let r = producer
        .send(ProducerRecord::new(topic.as_str(), vec![0u8; 2000]))
        .await;
    match r {
        Err(
            e @ ProducerError::RecordTooLarge {
                setting: "max.request.size",
                ..
            },
        ) => {
            assert!(e.to_string().contains("max.request.size (1000)"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
    let config = cluster.config().buffer_memory(5000).build().unwrap();
    let producer = Producer::connect(config).await.unwrap();
    let r = producer
        .send(ProducerRecord::new(topic.as_str(), vec![0u8; 8000]))
        .await;
    assert!(
        matches!(
            r,
            Err(ProducerError::RecordTooLarge {
                setting: "buffer.memory",
                ..
            })
        ),
        "{r:?}"
    );
    // A record that fits goes through.
    producer
        .send(ProducerRecord::new(topic.as_str(), "ok"))
        .await
        .unwrap()
        .await
        .unwrap();
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.stop().await;
}

#[tokio::test]
async fn batches_too_large_for_the_broker_are_split_and_single_records_fail() {
    let cluster = TestCluster::start().await;
    let topic = unique("split");
    cluster
        .create_topic(&topic, 1, &[("max.message.bytes", "3000")])
        .await;
    let config = cluster
        .config()
        .linger(Duration::from_millis(200))
        .build()
        .unwrap();
    let producer = Producer::connect(config).await.unwrap();
    let mut ds = Vec::new();
    for i in 0..100 {
        ds.push(
            producer
                .send(ProducerRecord::new(topic.as_str(), format!("{i:0100}")))
                .await
                .unwrap(),
        );
    }
    for (i, d) in ds.into_iter().enumerate() {
        assert_eq!(d.await.unwrap().offset, i as i64);
    }
    let splits = producer.metrics().batch_splits;
    let records = cluster.read(&topic, 0).await;
    assert_eq!(records.len(), 100, "each record exactly once");
    for (i, r) in records.iter().enumerate() {
        assert_eq!(text(r), format!("{i:0100}"));
    }
    // One record over the broker's limit cannot be split: it fails, later ones go on.
    let r = producer
        .send(ProducerRecord::new(topic.as_str(), vec![0u8; 5000]))
        .await
        .unwrap()
        .await;
    if splits == 0 && r.is_ok() {
        // Nothing was refused as too large: a broker that ignores the topic's
        // max.message.bytes, as the record far over it shows.
        skip_for(
            "splitting batches",
            "the broker accepted a record over the topic's max.message.bytes",
        );
        producer.close(Duration::from_secs(5)).await.unwrap();
        cluster.stop().await;
        return;
    }
    assert!(splits >= 1);
    match r {
        Err(ProducerError::Broker { code, .. }) => assert_eq!(code, ErrorCode::MessageTooLarge),
        other => panic!("{other:?}"),
    }
    let m = producer
        .send(ProducerRecord::new(topic.as_str(), "after"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        m.offset, 100,
        "the producer recovered (epoch bumped) and went on"
    );
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.stop().await;
}

#[tokio::test]
async fn a_full_buffer_blocks_send_then_fails_it_with_a_clear_error() {
    let Some(cluster) = TestCluster::start_proxied().await else {
        skip("back-pressure against a paused broker");
        return;
    };
    let topic = unique("backpressure");
    cluster.create_topic(&topic, 1, &[]).await;
    let config = cluster
        .config()
        .batch_size(1000)
        .buffer_memory(3000)
        .max_block(Duration::from_millis(400))
        .build()
        .unwrap();
    let producer = Producer::connect(config).await.unwrap();
    // Warm up (metadata, producer id) before the broker stalls.
    producer
        .send(ProducerRecord::new(topic.as_str(), "warm"))
        .await
        .unwrap()
        .await
        .unwrap();
    cluster.proxy().pause(true);
    let mut accepted = Vec::new();
    let blocked = loop {
        let started = Instant::now();
        match producer
            .send(ProducerRecord::new(topic.as_str(), vec![1u8; 100]))
            .await
        {
            Ok(d) => accepted.push(d),
            Err(e) => break (e, started.elapsed()),
        }
        assert!(accepted.len() < 100, "buffer.memory never filled up");
    };
    let (e, waited) = blocked;
    assert!(
        matches!(
            e,
            ProducerError::BufferExhausted {
                buffer_memory: 3000,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("max.block.ms"), "{e}");
    assert!(
        waited >= Duration::from_millis(350),
        "send blocked for {waited:?}"
    );
    let m = producer.metrics();
    assert!(m.buffer_available_bytes < 1000, "{m:?}");
    // A send blocked when the broker resumes gets through.
    let p2 = producer.clone();
    let t = topic.clone();
    let late = tokio::spawn(async move { p2.send(ProducerRecord::new(t.as_str(), "late")).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    cluster.proxy().pause(false);
    late.await.unwrap().unwrap().await.unwrap();
    for d in accepted {
        d.await.unwrap();
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.stop().await;
}

#[tokio::test]
async fn a_missing_topic_fails_send_after_max_block() {
    // The producer asks for auto-creation, so the broker must refuse it for the topic to stay
    // missing (an external cluster may allow it: then the send succeeds and there is nothing
    // to check).
    let cluster = TestCluster::start_with(|b| b.auto_create_topics(false)).await;
    if cluster.is_external() && cluster.auto_creates_topics().await {
        skip_for("a missing topic", "the external cluster auto-creates it");
        cluster.stop().await;
        return;
    }
    let config = cluster
        .config()
        .max_block(Duration::from_millis(300))
        .build()
        .unwrap();
    let producer = Producer::connect(config).await.unwrap();
    let started = Instant::now();
    let r = producer
        .send(ProducerRecord::new(unique("missing").as_str(), "x"))
        .await;
    match r {
        Err(e @ ProducerError::MetadataTimeout { .. }) => {
            assert!(e.to_string().contains("not present in metadata"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.stop().await;
}

#[tokio::test]
async fn sending_to_a_missing_topic_creates_it_where_the_broker_allows() {
    let cluster = TestCluster::start().await;
    if !cluster.auto_creates_topics().await {
        skip_for(
            "auto-creation",
            "the broker refuses to create a missing topic on Metadata",
        );
        cluster.stop().await;
        return;
    }
    let producer = Producer::connect(cluster.config().build().unwrap())
        .await
        .unwrap();
    let topic = unique("autocreated");
    let meta = producer
        .send(ProducerRecord::new(topic.as_str(), "x"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((&*meta.topic, meta.offset), (topic.as_str(), 0));
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.stop().await;
}

#[tokio::test]
async fn records_time_out_when_the_broker_is_gone_and_close_gives_up() {
    let mut cluster = TestCluster::start().await;
    if cluster.is_external() {
        skip("shutting the broker down");
        return;
    }
    let topic = unique("gone");
    cluster.create_topic(&topic, 1, &[]).await;
    let config = cluster
        .config()
        .request_timeout(Duration::from_millis(500))
        .delivery_timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    let producer = Producer::connect(config).await.unwrap();
    producer
        .send(ProducerRecord::new(topic.as_str(), "before"))
        .await
        .unwrap()
        .await
        .unwrap();
    cluster.stop_broker().await;
    let started = Instant::now();
    let d = producer
        .send(ProducerRecord::new(topic.as_str(), "after"))
        .await
        .unwrap();
    match d.await {
        Err(e @ ProducerError::DeliveryTimeout { .. }) => {
            assert!(e.to_string().contains("delivery.timeout.ms"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(6),
        "{took:?}"
    );
    let stuck = producer
        .send(ProducerRecord::new(topic.as_str(), "stuck"))
        .await
        .unwrap();
    let r = producer.close(Duration::from_millis(200)).await;
    assert!(
        matches!(r, Err(ProducerError::Closed { forced: true })),
        "{r:?}"
    );
    assert!(matches!(
        stuck.await,
        Err(ProducerError::Closed { forced: true })
    ));
}
