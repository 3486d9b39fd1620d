//! The Kafka producer: records batched per partition, partitioned as the Java client does,
//! delivered idempotently with retries, compressed, with back-pressure.
//!
//! - [`Producer`]: `send` a [`ProducerRecord`] and await its [`DeliveryFuture`] (or pass a
//!   callback), `flush`, `close`; cheap to clone and share between tasks.
//! - [`ProducerConfig`]: Kafka's producer properties, by name or through a typed builder.
//! - [`serializer`]: keys and values to bytes; [`partitioner`]: where records go (Java's
//!   murmur2 for keys, KIP-794 uniform sticky without, round robin, or your own);
//!   [`ProducerInterceptor`]: hooks on every record; [`ProducerMetrics`].
//!
//! How it works: `send` appends the record to its partition's open batch in the record
//! accumulator (`accumulator.rs`, plain data structures driven with explicit time), waiting
//! for room when `buffer.memory` is full. One sender task per producer (`sender.rs`) drains
//! ready batches - full ones, or those older than `linger.ms` - into one Produce request per
//! broker carrying a batch for every partition that broker leads, keeps up to
//! `max.in.flight.requests.per.connection` requests in flight per broker, and retries
//! failures in order, with the idempotent producer's sequence numbers (`idempotence.rs`)
//! so that retries never duplicate or reorder records.
//!
//! ```no_run
//! use std::time::Duration;
//! use kafka_producer::{Acks, Producer, ProducerConfig, ProducerRecord};
//!
//! # async fn run() -> Result<(), kafka_producer::ProducerError> {
//! let config = ProducerConfig::builder()
//!     .bootstrap_servers(["localhost:9092"])
//!     .acks(Acks::All)
//!     .linger(Duration::from_millis(5))
//!     .build()?;
//! let producer = Producer::connect(config).await?;
//! let mut deliveries = Vec::new();
//! for i in 0..100 {
//!     let record = ProducerRecord::new("events", format!("event {i}")).with_key("k");
//!     deliveries.push(producer.send(record).await?);
//! }
//! for d in deliveries {
//!     let meta = d.await?;
//!     assert!(meta.offset >= 0);
//! }
//! producer.close(Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod accumulator;
mod batch;
pub mod config;
mod delivery;
mod error;
mod idempotence;
mod interceptor;
mod metrics;
pub mod partitioner;
mod producer;
mod record;
mod response;
mod sender;
pub mod serializer;

pub use config::{Acks, ProducerConfig, ProducerConfigBuilder};
pub use delivery::DeliveryFuture;
pub use error::{ProducerError, Result};
pub use interceptor::ProducerInterceptor;
pub use kafka_client::TopicPartition;
pub use kafka_protocol::compression::Compression;
pub use kafka_protocol::records::RecordHeader;
pub use metrics::ProducerMetrics;
pub use producer::{Producer, ProducerBuilder};
pub use record::{ProducerRecord, RecordMetadata};
