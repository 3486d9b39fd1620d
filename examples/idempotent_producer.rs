//! An idempotent producer: retries never write a record twice nor reorder a partition.
//!
//! ```sh
//! cargo run --example idempotent_producer
//! ```
//!
//! With `enable.idempotence=true` (Kafka's default since 3.0) the producer gets a producer id
//! from the cluster and numbers each partition's batches, and the broker drops a batch it has
//! already written: a retry after a lost acknowledgement cannot duplicate records. It needs
//! `acks=all`, `retries > 0` and at most 5 requests in flight per connection, which this
//! example sets explicitly so a conflicting setting is an error rather than silently turning
//! idempotence off. These are the settings transactions build on (a `transactional.id` adds
//! atomic writes across partitions; this SDK does not implement transactions yet).
//!
//! The example produces interleaved keys, reads the topic back, and checks that each key's
//! records are there exactly once and in order.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_admin::{AdminClient, AdminOptions, NewTopic};
use kafka_client::config::ClientConfig;
use kafka_consumer::{Consumer, ConsumerConfig, TopicPartition};
use kafka_producer::{Producer, ProducerConfig, ProducerRecord};
use support::{ExampleCluster, unique_topic};

const KEYS: u64 = 4;
const PER_KEY: u64 = 500;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = ExampleCluster::start(None).await?;
    println!("using the {}", cluster.describe());
    let topic = unique_topic("idempotent");
    let admin =
        AdminClient::connect(ClientConfig::new().set("bootstrap.servers", cluster.bootstrap())?)
            .await?;
    let mut new_topic = NewTopic::with_defaults(&topic);
    new_topic.num_partitions = Some(2);
    for (_, created) in admin.create_topics([new_topic], &AdminOptions::new()).await {
        created?;
    }

    let config = ProducerConfig::new()
        .set("bootstrap.servers", cluster.bootstrap())?
        .set("enable.idempotence", "true")?
        .set("acks", "all")?
        .set("retries", "2147483647")?
        .set("delivery.timeout.ms", "120000")?
        // Up to 5 requests in flight per connection keep ordering with idempotence.
        .set("max.in.flight.requests.per.connection", "5")?;
    let producer = Producer::connect(config).await?;
    let mut deliveries = Vec::new();
    for seq in 0..PER_KEY {
        for key in 0..KEYS {
            let record =
                ProducerRecord::new(topic.clone(), format!("{seq}")).with_key(format!("key-{key}"));
            deliveries.push(producer.send(record).await?);
        }
    }
    for d in deliveries {
        d.await?;
    }
    let metrics = producer.metrics();
    println!(
        "produced {} records ({} retried by the producer, none duplicated by the broker)",
        metrics.records_sent, metrics.record_retries
    );
    producer.close(Duration::from_secs(10)).await?;

    // Read everything back (no group: assign both partitions from the start).
    let mut consumer = Consumer::new(
        ConsumerConfig::new()
            .set("bootstrap.servers", cluster.bootstrap())?
            .set("enable.auto.commit", "false")?,
    )
    .await?;
    let partitions = [
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    ];
    consumer.assign(partitions.clone())?;
    consumer.seek_to_beginning(partitions.clone())?;
    let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut total = 0;
    while total < KEYS * PER_KEY {
        for r in consumer.poll(Duration::from_secs(1)).await? {
            let key = String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned();
            let value: u64 =
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).parse()?;
            per_key.entry(key).or_default().push(value);
            total += 1;
        }
    }
    for (key, values) in &per_key {
        let expected: Vec<u64> = (0..PER_KEY).collect();
        assert_eq!(values, &expected, "{key}: every record once, in order");
        println!("{key}: {} records, exactly once and in order", values.len());
    }
    consumer.close().await?;
    admin.close();
    cluster.stop().await?;
    Ok(())
}
