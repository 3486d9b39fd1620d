//! The client core every Kafka client shares: configuration, connections, version
//! negotiation, metadata, coordinators, retries, TLS and SASL.
//!
//! - [`config`]: [`ClientConfig`], settable through a typed builder, Kafka property names or a
//!   Java properties file; client crates extend it with their own property tables.
//! - [`connection`]: one multiplexed connection per broker (many requests in flight, matched
//!   by correlation id), API version negotiation, request timeouts.
//! - [`metadata`]: sans-IO caches of the cluster (brokers, leaders, topic ids) and of
//!   coordinators.
//! - [`backoff`]: sans-IO reconnect, retry and setup-timeout arithmetic.
//! - [`Client`]: all of it tied together, with retries and a background metadata refresh.
//! - [`Error`]: one error type carrying the Kafka error code, retriability and context.
//!
//! ```no_run
//! use kafka_client::{Client, Target};
//! use kafka_client::config::ClientConfig;
//! use kafka_protocol::messages::RequestBody;
//! use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
//!
//! # async fn run() -> Result<(), kafka_client::Error> {
//! let config = ClientConfig::new().set("bootstrap.servers", "localhost:9092")?;
//! let client = Client::connect(config).await?;
//! println!("brokers: {:?}", client.metadata().brokers().collect::<Vec<_>>());
//! let groups = client
//!     .send(Target::Any, &RequestBody::ListGroups(ListGroupsRequest::default()))
//!     .await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backoff;
mod client;
pub mod config;
pub mod connection;
pub mod consumer_protocol;
mod error;
pub mod metadata;
mod offset_and_metadata;
pub mod security;
mod topic_partition;

pub use client::{Client, ClientBuilder, SendOptions, Target};
pub use config::ClientConfig;
pub use error::{Error, ErrorContext, ErrorKind, Result};
pub use offset_and_metadata::OffsetAndMetadata;
pub use topic_partition::TopicPartition;
