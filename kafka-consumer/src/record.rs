//! What the consumer hands out: records, partitions, committed offsets.
//!
//! A [`ConsumerRecord`]'s key, value and header values are views into the fetch response
//! they arrived in (`Bytes`), so receiving a record copies none of its data; the topic name
//! is shared by every record of the partition.

use std::sync::Arc;

use bytes::Bytes;
pub use kafka_protocol::records::{RecordHeader, TimestampType};

/// A topic and a partition of it (the client core's type, shared with the admin client).
pub use kafka_client::TopicPartition;

/// One record as the consumer delivers it.
///
/// ```
/// # fn show(record: &kafka_consumer::ConsumerRecord) {
/// println!(
///     "{}-{}@{}: {:?}",
///     record.topic(),
///     record.partition,
///     record.offset,
///     record.value.as_deref().map(String::from_utf8_lossy)
/// );
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerRecord {
    /// The topic (shared by all records of the partition).
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// The timestamp in milliseconds since the epoch (-1 when the record has none).
    pub timestamp: i64,
    /// What the timestamp means.
    pub timestamp_type: TimestampType,
    /// The key (`None`: null key).
    pub key: Option<Bytes>,
    /// The value (`None`: null value, a tombstone).
    pub value: Option<Bytes>,
    /// Headers in the order the producer wrote them.
    pub headers: Vec<RecordHeader>,
    /// The epoch of the leader that appended the record, when the log format records it.
    pub leader_epoch: Option<i32>,
}

impl ConsumerRecord {
    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The topic and partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(&*self.topic, self.partition)
    }

    /// The first header with `key`, if any.
    pub fn header(&self, key: &str) -> Option<&RecordHeader> {
        self.headers.iter().find(|h| h.key.as_str() == key)
    }

    /// The offset to commit once this record is processed (its offset plus one, with its
    /// leader epoch).
    pub fn next_offset(&self) -> OffsetAndMetadata {
        OffsetAndMetadata {
            offset: self.offset + 1,
            leader_epoch: self.leader_epoch,
            metadata: String::new(),
        }
    }
}

/// An offset to commit, or one that was committed (the client core's type, shared with the
/// admin client).
pub use kafka_client::OffsetAndMetadata;

/// An offset found by timestamp ([`Consumer::offsets_for_times`](crate::Consumer::offsets_for_times)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OffsetAndTimestamp {
    /// The earliest offset whose timestamp is at least the one asked for.
    pub offset: i64,
    /// That record's timestamp.
    pub timestamp: i64,
    /// The leader epoch of that record, when known.
    pub leader_epoch: Option<i32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_partition_orders_and_displays() {
        let mut v = [
            TopicPartition::new("b", 0),
            TopicPartition::new("a", 2),
            ("a", 1).into(),
        ];
        v.sort();
        assert_eq!(v[0].to_string(), "a-1");
        assert_eq!(v[2], TopicPartition::new("b", 0));
    }
}
