//! What goes in ([`ProducerRecord`]) and what comes back ([`RecordMetadata`]).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::records::RecordHeader;

/// A record to send: the topic, an optional explicit partition, key, value, headers and an
/// optional timestamp (milliseconds since the epoch; the producer's clock when `None`).
///
/// `K` and `V` are whatever the producer's serializers take; the default producer takes
/// [`Bytes`], which `&'static str`, `String`, `Vec<u8>` and `&'static [u8]` convert into.
///
/// ```
/// use kafka_producer::ProducerRecord;
///
/// let record = ProducerRecord::new("events", "payload")
///     .with_key("user-1")
///     .with_header("trace-id", "abc")
///     .with_partition(2);
/// assert_eq!(record.partition, Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerRecord<K = Bytes, V = Bytes> {
    /// The topic.
    pub topic: String,
    /// The partition; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// The key; records with the same key go to the same partition.
    pub key: Option<K>,
    /// The value; `None` is a tombstone.
    pub value: Option<V>,
    /// Headers, in order.
    pub headers: Vec<RecordHeader>,
    /// Create time in milliseconds since the epoch; `None` for now.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record of bytes with a value and no key, for the default [`Producer`](crate::Producer).
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Self::typed(topic, value.into())
    }
}

impl<K, V> ProducerRecord<K, V> {
    /// A record with a value of the producer's value type and no key.
    pub fn typed(topic: impl Into<String>, value: V) -> Self {
        Self {
            topic: topic.into(),
            partition: None,
            key: None,
            value: Some(value),
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// A record with no value (a tombstone, which deletes its key from a compacted topic).
    pub fn tombstone(topic: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            partition: None,
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Sets the key.
    pub fn with_key(mut self, key: impl Into<K>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the value (`None`: a tombstone).
    pub fn with_value(mut self, value: Option<V>) -> Self {
        self.value = value;
        self
    }

    /// Sends to this partition, bypassing the partitioner.
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the create timestamp (milliseconds since the epoch).
    pub fn with_timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, key: &str, value: impl Into<Bytes>) -> Self {
        self.headers
            .push(RecordHeader::new(key, Some(value.into())));
        self
    }
}

/// Where a record landed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordMetadata {
    /// The topic (shared by every record of the batch).
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset; -1 when unknown (`acks=0`, or a resend the broker recognised as a
    /// duplicate without telling the offset).
    pub offset: i64,
    /// The record's timestamp: the broker's log-append time when the topic uses it, else the
    /// create time the producer sent.
    pub timestamp: i64,
}

impl fmt::Display for RecordMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}@{}", self.topic, self.partition, self.offset)
    }
}
