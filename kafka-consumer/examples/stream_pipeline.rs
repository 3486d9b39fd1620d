//! A streaming pipeline: the consumer as a `futures` `Stream`, with deserialization,
//! filtering and a running aggregate, printed every second.
//!
//! ```text
//! cargo run -p kafka-consumer --example stream_pipeline -- [BOOTSTRAP TOPIC]
//! ```
//!
//! Without arguments it starts a companion broker in process with a demo topic. Partitions are
//! assigned by hand (no rebalancing), records read with `read_committed`, and positions
//! committed automatically for the group `stream-pipeline` (processed records only: a record
//! counts as processed once the stream is asked for the next one). Stop with Ctrl-C.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use kafka_consumer::deserializer::{StrDeserializer, StringDeserializer};
use kafka_consumer::{Consumer, ConsumerConfig};

#[path = "support/demo.rs"]
mod demo;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (_demo, bootstrap, topic) = match args.as_slice() {
        [b, t] => (None, b.clone(), t.clone()),
        _ => {
            let demo = demo::start().await?;
            let bootstrap = demo.bootstrap();
            (Some(demo), bootstrap, demo::TOPIC.to_owned())
        }
    };
    let config = ConsumerConfig::new()
        .set("bootstrap.servers", &bootstrap)?
        .set("group.id", "stream-pipeline")?
        .set("isolation.level", "read_committed")?
        .set("auto.offset.reset", "earliest")?;
    let mut consumer = Consumer::new(config).await?;
    // Every partition of the topic, assigned by hand.
    let partitions = consumer.partitions_for(&topic).await?;
    consumer.assign(partitions)?;

    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut records = consumer
        .stream()
        // Deserialize: keys as zero-copy strings, values as owned strings.
        .map(|r| r.map(|r| r.deserialize(&StrDeserializer, &StringDeserializer)))
        // Keep the ones with a key and a value that mention an order.
        .filter_map(|r| async move {
            match r {
                Ok(Ok(t)) => match (t.key, t.value) {
                    (Some(k), Some(v)) if v.contains("order") => Some((k.to_string(), v)),
                    _ => None,
                },
                Ok(Err(e)) => {
                    eprintln!("skipping a record: {e}");
                    None
                }
                Err(e) => {
                    eprintln!("consumer error: {e}");
                    None
                }
            }
        })
        .boxed();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick() => println!("orders per customer so far: {per_key:?}"),
            next = records.next() => match next {
                Some((key, value)) => {
                    println!("{key}: {value}");
                    *per_key.entry(key).or_default() += 1;
                }
                None => break,
            },
        }
    }
    drop(records);
    consumer.close().await?;
    Ok(())
}
