//! Two ways to learn what became of a record: a callback, or a future to await.
//!
//! ```sh
//! cargo run --example producer_callbacks
//! ```
//!
//! `send_with_callback` suits fire-and-forget code that still wants to log failures: the
//! callback runs on the producer's sender task once the broker answers, so it must be quick
//! and must not block. `send` returns a `DeliveryFuture` instead, for code that wants to
//! await (or collect and await later) each delivery. Either way `send` itself only waits
//! for the record to be buffered; `flush` waits for everything buffered to be answered.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kafka_admin::{AdminClient, AdminOptions, NewTopic};
use kafka_client::config::ClientConfig;
use kafka_producer::{Producer, ProducerConfig, ProducerRecord};
use support::{ExampleCluster, unique_topic};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = ExampleCluster::start(None).await?;
    println!("using the {}", cluster.describe());
    let topic = unique_topic("callbacks");
    let admin =
        AdminClient::connect(ClientConfig::new().set("bootstrap.servers", cluster.bootstrap())?)
            .await?;
    let mut new_topic = NewTopic::with_defaults(&topic);
    new_topic.num_partitions = Some(3);
    for (_, created) in admin.create_topics([new_topic], &AdminOptions::new()).await {
        created?;
    }

    let producer = Producer::connect(
        ProducerConfig::new()
            .set("bootstrap.servers", cluster.bootstrap())?
            .set("linger.ms", "10")?,
    )
    .await?;

    // 1. Callbacks: count outcomes without awaiting each record.
    let delivered = Arc::new(AtomicU64::new(0));
    for i in 0..10 {
        let delivered = delivered.clone();
        let record = ProducerRecord::new(topic.clone(), format!("callback record {i}"))
            .with_key(format!("user-{}", i % 3));
        producer
            .send_with_callback(record, move |result| match result {
                Ok(meta) => {
                    delivered.fetch_add(1, Ordering::Relaxed);
                    println!(
                        "callback: record {i} -> partition {} offset {}",
                        meta.partition, meta.offset
                    );
                }
                Err(e) => eprintln!("callback: record {i} failed: {e}"),
            })
            .await?;
    }
    producer.flush().await;
    println!(
        "{} of 10 delivered through callbacks",
        delivered.load(Ordering::Relaxed)
    );

    // 2. Futures: send many, then await them all (in send order).
    let mut deliveries = Vec::new();
    for i in 0..5 {
        let record = ProducerRecord::new(topic.clone(), format!("future record {i}"))
            .with_key("user-0")
            .with_header("origin", "producer_callbacks");
        deliveries.push(producer.send(record).await?);
    }
    for (i, delivery) in deliveries.into_iter().enumerate() {
        let meta = delivery.await?;
        // The same key: the same partition, and offsets in send order.
        println!(
            "future: record {i} -> partition {} offset {}",
            meta.partition, meta.offset
        );
    }

    // 3. A failure is reported the same ways: this partition does not exist.
    match producer
        .send(ProducerRecord::new(topic.clone(), "lost").with_partition(99))
        .await
    {
        Ok(delivery) => println!("unexpected: {:?}", delivery.await),
        Err(e) => println!("refused as expected: {e}"),
    }

    let metrics = producer.metrics();
    println!(
        "metrics: {} records in {} batches, {} requests",
        metrics.records_sent, metrics.batches_sent, metrics.requests_sent
    );
    producer.close(Duration::from_secs(10)).await?;
    admin.close();
    cluster.stop().await?;
    Ok(())
}
