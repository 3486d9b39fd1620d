//! Consume, transform, produce: a stream processor reading one topic and writing another,
//! committing its input only after its output is safely written.
//!
//! ```sh
//! cargo run --example stream_pipeline
//! ```
//!
//! The consumer is read as a `Stream` (`futures_util::StreamExt`). Each input record is
//! transformed (here: a sentence becomes its word count) and sent to the output topic; the
//! input offsets are committed only once the output records they produced are acknowledged,
//! so a crash at any point re-processes input rather than losing output (at-least-once;
//! exactly-once would need transactions). The output keeps the input key, so per-key order
//! carries through.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use kafka_admin::{AdminClient, AdminOptions, NewTopic};
use kafka_client::config::ClientConfig;
use kafka_consumer::{Consumer, ConsumerConfig, Offsets};
use kafka_producer::{DeliveryFuture, Producer, ProducerConfig, ProducerRecord};
use support::{ExampleCluster, unique_topic};

const SENTENCES: &[&str] = &[
    "the quick brown fox",
    "jumps over the lazy dog",
    "kafka in pure rust",
    "no jvm and no librdkafka",
    "consume transform produce",
];
/// How many input records to process between commits.
const COMMIT_EVERY: usize = 20;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = ExampleCluster::start(None).await?;
    println!("using the {}", cluster.describe());
    let bootstrap = cluster.bootstrap().to_owned();
    let input = unique_topic("sentences");
    let output = format!("{input}-word-counts");
    let admin =
        AdminClient::connect(ClientConfig::new().set("bootstrap.servers", &bootstrap)?).await?;
    let topics = [&input, &output].map(|t| {
        let mut nt = NewTopic::with_defaults(t.as_str());
        nt.num_partitions = Some(2);
        nt
    });
    for (_, created) in admin.create_topics(topics, &AdminOptions::new()).await {
        created?;
    }
    let producer =
        Producer::connect(ProducerConfig::new().set("bootstrap.servers", &bootstrap)?).await?;
    let total = 100;
    let mut written = Vec::new();
    for i in 0..total {
        let text = SENTENCES[i % SENTENCES.len()];
        let record = ProducerRecord::new(input.clone(), text).with_key(format!("doc-{}", i % 10));
        written.push(producer.send(record).await?);
    }
    for delivery in written {
        delivery.await?;
    }

    // The processor.
    let mut consumer = Consumer::new(
        ConsumerConfig::new()
            .set("bootstrap.servers", &bootstrap)?
            .set("group.id", &format!("{input}-processor"))?
            .set("enable.auto.commit", "false")?
            .set("auto.offset.reset", "earliest")?,
    )
    .await?;
    consumer.subscribe([input.as_str()])?;
    let mut processed = 0;
    while processed < total {
        // A chunk of the stream at a time: the stream borrows the consumer, and committing
        // needs it back between chunks.
        let mut pending: Vec<DeliveryFuture> = Vec::new();
        let mut offsets = Offsets::new();
        let mut chunk = consumer.stream().take(COMMIT_EVERY.min(total - processed));
        while let Some(record) = chunk.next().await {
            let record = record?;
            let text = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default());
            let words = text.split_whitespace().count();
            let mut out = ProducerRecord::new(output.clone(), format!("{words} words: {text}"));
            if let Some(key) = record.key.clone() {
                out = out.with_key(key);
            }
            pending.push(producer.send(out).await?);
            offsets.insert(record.topic_partition(), record.next_offset());
            processed += 1;
        }
        drop(chunk);
        // The output first, then the input offsets that produced it.
        for delivery in pending {
            delivery.await?;
        }
        consumer.commit_offsets_sync(offsets).await?;
    }
    println!("processed {processed} sentences into {output}");
    consumer.close().await?;

    // Show a few results.
    let mut reader = Consumer::new(
        ConsumerConfig::new()
            .set("bootstrap.servers", &bootstrap)?
            .set("group.id", &format!("{output}-reader"))?
            .set("auto.offset.reset", "earliest")?,
    )
    .await?;
    reader.subscribe([output.as_str()])?;
    let mut shown = 0;
    while shown < 5 {
        for r in reader
            .poll(Duration::from_secs(1))
            .await?
            .iter()
            .take(5 - shown)
        {
            println!(
                "  {}",
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
            );
            shown += 1;
        }
    }
    reader.close().await?;
    producer.close(Duration::from_secs(10)).await?;
    admin.close();
    cluster.stop().await?;
    Ok(())
}
