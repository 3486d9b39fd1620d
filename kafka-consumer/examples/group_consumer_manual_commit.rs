//! A group member that commits by hand: offsets are committed only after records are
//! processed, every 100 records and, through a rebalance listener, for partitions about to be
//! taken away, so a crash or rebalance re-delivers at most the last unfinished stretch.
//!
//! ```text
//! cargo run -p kafka-consumer --example group_consumer_manual_commit -- [BOOTSTRAP TOPIC GROUP]
//! ```
//!
//! Without arguments it starts a companion broker in process, writes a few records to a demo
//! topic and consumes them. Stop with Ctrl-C (the consumer then commits, leaves the group and
//! closes).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_consumer::{
    BoxFuture, Consumer, ConsumerConfig, ConsumerRecord, OffsetAndMetadata, RebalanceContext,
    RebalanceListener, TopicPartition,
};
use parking_lot::Mutex;

/// Offsets of processed records (the next offset to read per partition), not yet committed.
type Pending = Arc<Mutex<BTreeMap<TopicPartition, OffsetAndMetadata>>>;

/// Commits what was processed on partitions that are about to be revoked.
#[derive(Debug)]
struct CommitOnRevoke(Pending);

impl RebalanceListener for CommitOnRevoke {
    fn on_partitions_revoked<'a>(
        &'a self,
        ctx: &'a RebalanceContext,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let offsets: BTreeMap<_, _> = {
                let mut pending = self.0.lock();
                partitions
                    .iter()
                    .filter_map(|tp| Some((tp.clone(), pending.remove(tp)?)))
                    .collect()
            };
            if let Err(e) = ctx.commit(offsets).await {
                eprintln!("commit on revocation failed: {e}");
            }
            println!("revoked {partitions:?}");
        })
    }

    fn on_partitions_assigned<'a>(
        &'a self,
        _ctx: &'a RebalanceContext,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move { println!("assigned {partitions:?}") })
    }

    fn on_partitions_lost<'a>(
        &'a self,
        _ctx: &'a RebalanceContext,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        // Another member owns them now: committing would overwrite its progress.
        let mut pending = self.0.lock();
        for tp in partitions {
            pending.remove(tp);
        }
        println!("lost {partitions:?}");
        Box::pin(async {})
    }
}

fn process(record: &ConsumerRecord) {
    println!(
        "{}-{}@{}: {}",
        record.topic(),
        record.partition,
        record.offset,
        String::from_utf8_lossy(record.value.as_deref().unwrap_or_default())
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (_demo, bootstrap, topic, group) = match args.as_slice() {
        [b, t, g] => (None, b.clone(), t.clone(), g.clone()),
        _ => {
            let demo = demo::start().await?;
            let bootstrap = demo.bootstrap();
            (
                Some(demo),
                bootstrap,
                demo::TOPIC.to_owned(),
                "demo-group".to_owned(),
            )
        }
    };
    let config = ConsumerConfig::new()
        .set("bootstrap.servers", &bootstrap)?
        .set("group.id", &group)?
        .set("enable.auto.commit", "false")?
        .set("auto.offset.reset", "earliest")?;
    let pending: Pending = Arc::default();
    let mut consumer = Consumer::builder(config)
        .listener(CommitOnRevoke(pending.clone()))
        .build()
        .await?;
    consumer.subscribe([topic])?;

    let mut processed = 0u64;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            batch = consumer.poll(Duration::from_millis(500)) => {
                for record in batch? {
                    process(&record);
                    pending.lock().insert(record.topic_partition(), record.next_offset());
                    processed += 1;
                    if processed.is_multiple_of(100) {
                        let offsets = std::mem::take(&mut *pending.lock());
                        consumer.commit_offsets_sync(offsets).await?;
                    }
                }
            }
        }
    }
    let offsets = std::mem::take(&mut *pending.lock());
    consumer.commit_offsets_sync(offsets).await?;
    consumer.close().await?;
    println!("processed {processed} records");
    Ok(())
}

#[path = "support/demo.rs"]
mod demo;
