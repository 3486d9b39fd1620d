//! The Kafka consumer: consumer groups (the classic protocol) with Java- and
//! librdkafka-compatible assignors, background fetching with incremental fetch sessions,
//! transactions-aware reading, and offset commits.
//!
//! ```no_run
//! use std::time::Duration;
//! use kafka_consumer::{Consumer, ConsumerConfig};
//!
//! # async fn run() -> Result<(), kafka_consumer::ConsumerError> {
//! let config = ConsumerConfig::new()
//!     .set("bootstrap.servers", "localhost:9092")?
//!     .set("group.id", "billing")?
//!     .set("enable.auto.commit", "false")?;
//! let mut consumer = Consumer::new(config).await?;
//! consumer.subscribe(["invoices"])?;
//! loop {
//!     let batch = consumer.poll(Duration::from_secs(1)).await?;
//!     for record in &batch {
//!         println!("{}-{}@{}", record.topic(), record.partition, record.offset);
//!     }
//!     consumer.commit_sync().await?;
//! }
//! # }
//! ```
//!
//! # How it works
//!
//! A [`Consumer`] is a handle on background tasks sharing one client core connection pool:
//!
//! - a **fetch task per leader broker** (`source`) keeps one Fetch in flight for the assigned
//!   partitions it leads, ahead of the application, bounded by `fetch.max.bytes`,
//!   `max.partition.fetch.bytes` and `queued.max.messages.kbytes`; the application decodes
//!   records from the queued response bytes (keys and values stay views into them);
//! - the **fetch manager** (`fetcher`) starts fetch tasks, and looks up where partitions
//!   start (committed offsets, `auto.offset.reset`, seeks to the beginning or end);
//! - the **group task** (`consumer_group`) runs JoinGroup / SyncGroup, the leader's
//!   [`assignor`], the rebalance listener and commits on revocation, and the **heartbeat
//!   task** (`heartbeat`) heartbeats independently of the application and enforces
//!   `max.poll.interval.ms`;
//! - the **committer** (`offsets`) sends commits one at a time, in order.
//!
//! The logic lives in sans-IO state machines driven with `now` and tested with a simulated
//! clock: `membership` (the group protocol), `positions` (positions and fetch offsets),
//! `fetch_session` (KIP-227), `completed_fetch` (reading records, transaction filtering),
//! the [`assignor`]s.
//!
//! # Delivery
//!
//! Each delivery call ([`Consumer::recv`], [`Consumer::poll`], the [`Consumer::stream`])
//! marks the records handed out by the previous call as processed. Automatic commits (and
//! commits when partitions are revoked) commit processed offsets, so with
//! `enable.auto.commit` a crash re-delivers at most what was being processed: at-least-once.
//! [`Consumer::commit_sync`] commits everything handed out so far.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod assignor;
mod builder;
mod completed_fetch;
mod config;
mod consumer;
mod consumer_group;
mod consumer_offsets;
pub mod deserializer;
mod error;
mod fetch_buffer;
mod fetch_session;
mod fetcher;
mod heartbeat;
mod list_offsets;
mod listener;
mod membership;
mod offsets;
mod positions;
// The consumer protocol codec is the client core's (the admin client reads it too).
use kafka_client::consumer_protocol as protocol;
mod record;
mod source;
mod state;
mod stream;

pub use builder::ConsumerBuilder;
pub use config::{CONSUMER_CONFIGS, ConsumerConfig, IsolationLevel, OffsetReset};
pub use consumer::{Consumer, GroupMetadata};
pub use consumer_offsets::CommitHandle;
pub use error::{ConsumerError, DeserializeError, Result};
pub use listener::{BoxFuture, RebalanceContext, RebalanceListener};
pub use offsets::Offsets;
pub use protocol::{Assignment, Subscription};
pub use record::{
    ConsumerRecord, OffsetAndMetadata, OffsetAndTimestamp, RecordHeader, TimestampType,
    TopicPartition,
};
pub use stream::RecordStream;
