//! [`TopicPartition`], the key of every per-partition result, and [`PartitionResults`].

use std::collections::HashMap;

use crate::AdminError;

/// One partition of one topic (the client core's type, shared with the consumer).
pub use kafka_client::TopicPartition;

/// Per-partition answers: one partition failing does not hide the others.
pub type PartitionResults<T> = HashMap<TopicPartition, Result<T, AdminError>>;
