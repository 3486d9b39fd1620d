//! [`TopicPartition`]: one partition of one topic, the key the consumer, the admin client and
//! the consumer protocol share (one type, so a partition from one of them is usable in the
//! others as it is).

use std::fmt;

/// One partition of one topic.
///
/// ```
/// use kafka_client::TopicPartition;
///
/// let tp = TopicPartition::new("events", 3);
/// assert_eq!(tp.to_string(), "events-3");
/// assert_eq!(TopicPartition::from(("events", 3)), tp);
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
