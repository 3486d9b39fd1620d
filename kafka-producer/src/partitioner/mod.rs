//! Choosing a record's partition.
//!
//! The order is Java's (`KafkaProducer.partition`): an explicit partition wins; then a
//! user's [`Partitioner`], when one is configured (returning `None` hands the choice back);
//! then the key's murmur2 hash ([`partition_for_key`]) unless `partitioner.ignore.keys`;
//! otherwise the uniform sticky partitioner ([`StickyPartitioner`], KIP-794).
//!
//! [`RoundRobinPartitioner`] is Java's `RoundRobinPartitioner`, offered as a ready-made
//! [`Partitioner`]. Everything here is plain computation on its inputs.

mod murmur2;
mod round_robin;
mod sticky;

use std::fmt;
use std::sync::Arc;

use kafka_client::metadata::TopicMetadata;

pub use murmur2::{murmur2, partition_for_key, to_positive};
pub use round_robin::RoundRobinPartitioner;
pub use sticky::StickyPartitioner;

/// A topic's partitions as the metadata shows them, for a [`Partitioner`].
#[derive(Debug, Clone, Copy)]
pub struct Partitions<'a> {
    topic: &'a TopicMetadata,
}

impl<'a> Partitions<'a> {
    pub(crate) fn new(topic: &'a TopicMetadata) -> Self {
        Self { topic }
    }

    /// The topic.
    pub fn topic(&self) -> &'a str {
        &self.topic.name
    }

    /// How many partitions the topic has (available or not).
    pub fn count(&self) -> usize {
        self.topic.partitions.len()
    }

    /// The partitions that have a leader now.
    pub fn available(&self) -> impl Iterator<Item = i32> + 'a {
        self.topic
            .partitions
            .iter()
            .filter(|p| p.leader.is_some_and(|l| l >= 0))
            .map(|p| p.partition)
    }
}

/// Chooses partitions for records, in place of the built-in choice.
///
/// ```
/// use kafka_producer::partitioner::{Partitioner, Partitions};
///
/// /// Everything with a key starting with "vip" goes to partition 0.
/// struct VipFirst;
///
/// impl Partitioner for VipFirst {
///     fn partition(&self, _topic: &str, key: Option<&[u8]>, _value: Option<&[u8]>,
///                  _partitions: Partitions<'_>) -> Option<i32> {
///         key.filter(|k| k.starts_with(b"vip")).map(|_| 0)
///     }
/// }
/// ```
pub trait Partitioner: Send + Sync {
    /// The partition for a record (its serialized key and value), or `None` to let the
    /// built-in partitioner decide. A partition outside the topic fails the send.
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partitions: Partitions<'_>,
    ) -> Option<i32>;
}

/// Which partitioner a producer uses (`partitioner.class`).
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum PartitionerKind {
    /// Java's built-in: murmur2 of the key, uniform sticky without one.
    #[default]
    BuiltIn,
    /// Java's `RoundRobinPartitioner`: each record to the next available partition, keys
    /// ignored.
    RoundRobin,
    /// A user's partitioner.
    Custom(Arc<dyn Partitioner>),
}

impl fmt::Debug for PartitionerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionerKind::BuiltIn => f.write_str("BuiltIn"),
            PartitionerKind::RoundRobin => f.write_str("RoundRobin"),
            PartitionerKind::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl PartialEq for PartitionerKind {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (PartitionerKind::BuiltIn, PartitionerKind::BuiltIn)
            | (PartitionerKind::RoundRobin, PartitionerKind::RoundRobin) => true,
            (PartitionerKind::Custom(a), PartitionerKind::Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// A cheap xorshift source for the sticky draws (seeded per producer; not cryptographic).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub(crate) fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}
