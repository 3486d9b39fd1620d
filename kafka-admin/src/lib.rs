//! The Kafka admin client: manage topics, partitions, configs, consumer groups and their
//! offsets, and look up or delete partition data.
//!
//! [`AdminClient`] is built on the client core (`kafka-client`), which owns connections,
//! version negotiation, metadata and coordinator caches. On top of it each operation:
//!
//! - routes each request to the broker that must answer it: the controller for topic
//!   changes, each partition's leader for ListOffsets and DeleteRecords (one request per
//!   leader carrying all its partitions), the group's coordinator for group operations, a
//!   specific broker for its own configs;
//! - retries retriable errors within the call's timeout ([`AdminOptions::timeout`], by
//!   default `default.api.timeout.ms`), refreshing metadata when an error says it is stale
//!   (NOT_CONTROLLER, NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION for routed requests);
//! - answers per item (topic, partition, resource, group), so one item failing does not hide
//!   the others; every error carries the broker's Kafka error code and message
//!   ([`AdminError::code`], [`AdminError::message`]).
//!
//! Module map, one operation family per file:
//! - `topics`: `create_topics`, `delete_topics`, `delete_topics_by_id`, `create_partitions`;
//! - `topic_descriptions`: `list_topics`, `describe_topics`;
//! - `cluster`: `describe_cluster`;
//! - `configs`: `describe_configs`, `incremental_alter_configs`;
//! - `groups`: `list_consumer_groups`, `describe_consumer_groups`, `delete_consumer_groups`;
//! - `offsets`: `list_consumer_group_offsets`, `alter_consumer_group_offsets`,
//!   `delete_consumer_group_offsets`;
//! - `records`: `list_offsets`, `delete_records`;
//! - [`consumer_protocol`]: the consumer protocol's member subscription and assignment data;
//! - `client` (the handle and its plumbing), `retry` (per-item retry rounds), `metadata`
//!   (fresh look-ups and leader routing), `error`, `options`, `acl`, `topic_partition`.
//!
//! ```no_run
//! use kafka_admin::{AdminClient, AdminOptions, OffsetSpec, TopicPartition};
//! use kafka_client::config::ClientConfig;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let admin = AdminClient::connect(
//!     ClientConfig::new().set("bootstrap.servers", "localhost:9092")?,
//! )
//! .await?;
//! let ends = admin
//!     .list_offsets([(TopicPartition::new("events", 0), OffsetSpec::Latest)], &AdminOptions::new())
//!     .await;
//! for (tp, result) in ends {
//!     match result {
//!         Ok(found) => println!("{tp}: ends at {}", found.offset),
//!         Err(e) => println!("{tp}: {e}"),
//!     }
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod acl;
mod client;
mod cluster;
mod configs;
/// The consumer protocol's member data (the client core's codec, shared with the consumer).
pub use kafka_client::consumer_protocol;
mod error;
mod groups;
mod metadata;
mod offsets;
mod options;
mod records;
mod retry;
mod topic_descriptions;
mod topic_partition;
mod topics;

pub use acl::AclOperation;
pub use client::{AdminClient, admin_version_caps};
pub use cluster::ClusterDescription;
pub use configs::{
    AlterConfigOp, AlterConfigOpType, ConfigDataType, ConfigEntry, ConfigResource,
    ConfigResourceType, ConfigSource, ConfigSynonym,
};
pub use consumer_protocol::{Assignment as MemberAssignment, Subscription as MemberSubscription};
pub use error::AdminError;
pub use groups::{
    ConsumerGroupDescription, ConsumerGroupListing, ConsumerGroupListings, GroupState,
    MemberDescription,
};
pub use offsets::OffsetAndMetadata;
pub use options::{AdminOptions, IsolationLevel};
pub use records::{DELETE_ALL_RECORDS, ListedOffset, OffsetSpec};
pub use topic_descriptions::{TopicDescription, TopicListing, TopicPartitionInfo};
pub use topic_partition::{PartitionResults, TopicPartition};
pub use topics::{CreatedTopic, NewPartitions, NewTopic};
