//! Sends a few records with delivery callbacks and with futures, then prints the producer's
//! metrics.
//!
//! ```text
//! cargo run -p kafka-producer --example producer -- localhost:9092 my-topic 10
//! ```
//!
//! Without arguments it starts nothing and expects a broker on `localhost:9092` (run
//! `cargo run -p kafka-broker` in another terminal); the topic must exist (or the broker
//! must create topics on first use).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kafka_producer::{Producer, ProducerConfig, ProducerError, ProducerRecord};

#[tokio::main]
async fn main() -> Result<(), ProducerError> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "localhost:9092".into());
    let topic = args.next().unwrap_or_else(|| "example".into());
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);

    let config = ProducerConfig::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .client_id("producer-example")
        .linger(Duration::from_millis(5))
        .build()?;
    let producer = Producer::connect(config).await?;

    // Callbacks run on the producer's sender task once each record is acknowledged.
    let delivered = Arc::new(AtomicUsize::new(0));
    for i in 0..count {
        let delivered = delivered.clone();
        let record = ProducerRecord::new(topic.as_str(), format!("callback record {i}"))
            .with_key(format!("key-{}", i % 3))
            .with_header("source", "example");
        producer
            .send_with_callback(record, move |result| match result {
                Ok(meta) => {
                    delivered.fetch_add(1, Ordering::Relaxed);
                    println!("delivered {meta} (timestamp {})", meta.timestamp);
                }
                Err(e) => eprintln!("failed: {e}"),
            })
            .await?;
    }

    // Futures: `send` resolves once the record is buffered; the future once it is written.
    let mut futures = Vec::new();
    for i in 0..count {
        let record = ProducerRecord::new(topic.as_str(), format!("future record {i}"));
        futures.push(producer.send(record).await?);
    }
    for f in futures {
        let meta = f.await?;
        println!("written at {meta}");
    }

    producer.flush().await;
    println!(
        "{} callbacks reported delivery",
        delivered.load(Ordering::Relaxed)
    );
    println!("{:#?}", producer.metrics());
    producer.close(Duration::from_secs(10)).await
}
