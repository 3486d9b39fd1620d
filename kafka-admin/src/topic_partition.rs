//! [`TopicPartition`], the key of every per-partition result, and [`PartitionResults`].

use std::collections::HashMap;
use std::fmt;

use crate::AdminError;

/// One partition of one topic.
///
/// ```
/// use kafka_admin::TopicPartition;
///
/// let tp = TopicPartition::new("events", 3);
/// assert_eq!(tp.to_string(), "events-3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// `topic`-`partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    /// Kafka's `topic-partition` form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

impl<T: Into<String>> From<(T, i32)> for TopicPartition {
    fn from((topic, partition): (T, i32)) -> Self {
        Self::new(topic, partition)
    }
}

/// Per-partition answers: one partition failing does not hide the others.
pub type PartitionResults<T> = HashMap<TopicPartition, Result<T, AdminError>>;
