//! A group consumer that commits by hand, after processing, so that a crash re-delivers only
//! what was not finished: at-least-once, with the window chosen by the application.
//!
//! ```sh
//! cargo run --example group_consumer_manual_commit
//! ```
//!
//! With `enable.auto.commit=false` nothing is committed unless the application says so. The
//! example's first consumer processes batches and commits each one's offsets (the next
//! offset to read, per partition) once the batch is done; it then "crashes" holding a
//! processed but uncommitted batch. A second consumer in the same group resumes from the
//! committed offsets: it sees that last batch again and nothing before it. A rebalance
//! listener logs partitions as they come and go (the place to commit or flush state).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_admin::{AdminClient, AdminOptions, NewTopic};
use kafka_client::config::ClientConfig;
use kafka_consumer::{
    BoxFuture, Consumer, ConsumerConfig, ConsumerRecord, Offsets, RebalanceContext,
    RebalanceListener, TopicPartition,
};
use kafka_producer::{Producer, ProducerConfig, ProducerRecord};
use support::{ExampleCluster, unique_topic};

const RECORDS: usize = 300;

/// Logs assignment changes.
#[derive(Debug)]
struct LogRebalances(&'static str);

impl RebalanceListener for LogRebalances {
    fn on_partitions_assigned<'a>(
        &'a self,
        _ctx: &'a RebalanceContext,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        let names: Vec<i32> = partitions.iter().map(|tp| tp.partition).collect();
        Box::pin(async move { println!("{}: assigned partitions {names:?}", self.0) })
    }

    fn on_partitions_revoked<'a>(
        &'a self,
        _ctx: &'a RebalanceContext,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        let names: Vec<i32> = partitions.iter().map(|tp| tp.partition).collect();
        Box::pin(async move { println!("{}: revoked partitions {names:?}", self.0) })
    }
}

/// The offsets to commit once `batch` is processed: per partition, after its last record.
fn offsets_after(batch: &[ConsumerRecord]) -> Offsets {
    let mut offsets = Offsets::new();
    for r in batch {
        offsets.insert(r.topic_partition(), r.next_offset());
    }
    offsets
}

async fn member(
    bootstrap: &str,
    group: &str,
    topic: &str,
    name: &'static str,
) -> Result<Consumer, Box<dyn std::error::Error>> {
    let config = ConsumerConfig::new()
        .set("bootstrap.servers", bootstrap)?
        .set("group.id", group)?
        .set("enable.auto.commit", "false")?
        .set("auto.offset.reset", "earliest")?
        .set("max.poll.records", "50")?
        // A crashed member holds its partitions until its session expires: keep it short
        // (6 s is the broker's minimum) so the example does not wait Kafka's 45 s.
        .set("session.timeout.ms", "6000")?
        .set("heartbeat.interval.ms", "1000")?;
    let mut consumer = Consumer::builder(config)
        .listener(LogRebalances(name))
        .build()
        .await?;
    consumer.subscribe([topic])?;
    Ok(consumer)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = ExampleCluster::start(None).await?;
    println!("using the {}", cluster.describe());
    let bootstrap = cluster.bootstrap().to_owned();
    let topic = unique_topic("orders");
    let group = format!("{topic}-billing");
    let admin =
        AdminClient::connect(ClientConfig::new().set("bootstrap.servers", &bootstrap)?).await?;
    let mut new_topic = NewTopic::with_defaults(&topic);
    new_topic.num_partitions = Some(3);
    for (_, created) in admin.create_topics([new_topic], &AdminOptions::new()).await {
        created?;
    }
    let producer =
        Producer::connect(ProducerConfig::new().set("bootstrap.servers", &bootstrap)?).await?;
    let mut written = Vec::new();
    for i in 0..RECORDS {
        let record = ProducerRecord::new(topic.clone(), format!("order {i}"))
            .with_key(format!("customer-{}", i % 7));
        written.push(producer.send(record).await?);
    }
    for delivery in written {
        delivery.await?;
    }
    producer.close(Duration::from_secs(10)).await?;

    // The first member: commit after each processed batch, until half is done; then one more
    // batch is processed but never committed before the "crash".
    let mut first = member(&bootstrap, &group, &topic, "first").await?;
    let mut processed = 0;
    while processed < RECORDS / 2 {
        let batch = first.poll(Duration::from_secs(1)).await?;
        processed += batch.len();
        first.commit_offsets_sync(offsets_after(&batch)).await?;
    }
    let uncommitted = loop {
        let batch = first.poll(Duration::from_secs(1)).await?;
        if !batch.is_empty() {
            processed += batch.len();
            break batch.len();
        }
    };
    println!("first: processed {processed}, committed all but the last {uncommitted}; crashing");
    drop(first); // no close: no commit, no clean leave

    // What the group has committed.
    let committed = admin
        .list_consumer_group_offsets(&group, None, &AdminOptions::new())
        .await?;
    let committed: BTreeMap<i32, i64> = committed
        .into_iter()
        .filter_map(|(tp, o)| Some((tp.partition, o.ok()??.offset)))
        .collect();
    println!("committed offsets: {committed:?}");

    // The second member resumes from the commits, once the crashed member's session expired
    // and the group rebalanced (a few seconds).
    let mut second = member(&bootstrap, &group, &topic, "second").await?;
    let mut again = 0;
    while processed - uncommitted + again < RECORDS {
        let batch = second.poll(Duration::from_secs(1)).await?;
        again += batch.len();
        if !batch.is_empty() {
            second.commit_offsets_sync(offsets_after(&batch)).await?;
        }
    }
    println!(
        "second: read {again} records: the {} the first never committed were delivered again",
        uncommitted
    );
    second.close().await?;
    admin.close();
    cluster.stop().await?;
    Ok(())
}
