//! One group's committed offsets, and which of them have expired.
//!
//! Kafka's expiry rules (`GroupMetadata.removeExpiredOffsets`): an offset committed with an
//! explicit retention (OffsetCommit v2-4) expires at its own expiry time; otherwise it expires
//! `offsets.retention` after a base time that depends on the group:
//! - an Empty group with a protocol type: the time the group became Empty (so offsets live
//!   as long as consumers are around, and for the retention after the last one left);
//! - a Stable consumer group: the commit time, but only for topics nobody subscribes to;
//! - a group that only stores offsets (no protocol type, "simple" consumers): the commit time;
//! - any other group (rebalancing, or not a consumer group): nothing expires, not even
//!   offsets with an explicit expiry time.

use std::collections::{BTreeMap, BTreeSet};

/// An offset as committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommittedOffset {
    pub offset: i64,
    /// -1 when the committer did not know it.
    pub leader_epoch: i32,
    /// Never null: a null commit metadata is stored as "", as Kafka does.
    pub metadata: String,
    pub commit_timestamp: i64,
    /// An explicit expiry (OffsetCommit v2-4 with a retention time).
    pub expire_timestamp: Option<i64>,
}

/// A topic and partition.
pub(crate) type TopicPartition = (String, i32);

/// What offsets of a group are measured against when expiring.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ExpiryBase<'a> {
    /// Every offset, from this time (the group became Empty).
    Since(i64),
    /// Each offset from its commit time, except those of these (subscribed) topics.
    CommitTime {
        keep_topics: Option<&'a BTreeSet<String>>,
    },
    /// Nothing expires.
    Never,
}

/// The committed offsets of one group.
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupOffsets {
    by_partition: BTreeMap<TopicPartition, CommittedOffset>,
}

impl GroupOffsets {
    pub fn get(&self, topic: &str, partition: i32) -> Option<&CommittedOffset> {
        self.by_partition.get(&(topic.to_string(), partition))
    }

    pub fn insert(&mut self, topic: String, partition: i32, offset: CommittedOffset) {
        self.by_partition.insert((topic, partition), offset);
    }

    pub fn remove(&mut self, topic: &str, partition: i32) -> Option<CommittedOffset> {
        self.by_partition.remove(&(topic.to_string(), partition))
    }

    pub fn is_empty(&self) -> bool {
        self.by_partition.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_partition.len()
    }

    /// Every committed offset, by topic then partition.
    pub fn iter(&self) -> impl Iterator<Item = (&TopicPartition, &CommittedOffset)> {
        self.by_partition.iter()
    }

    /// The partitions whose offsets have expired at `now`.
    pub fn expired(&self, now: i64, retention: i64, base: ExpiryBase<'_>) -> Vec<TopicPartition> {
        if matches!(base, ExpiryBase::Never) {
            return Vec::new();
        }
        self.by_partition
            .iter()
            .filter(|((topic, _), o)| match o.expire_timestamp {
                Some(at) => now >= at,
                None => match base {
                    ExpiryBase::Since(since) => now.saturating_sub(since) >= retention,
                    ExpiryBase::CommitTime { keep_topics } => {
                        !keep_topics.is_some_and(|k| k.contains(topic))
                            && now.saturating_sub(o.commit_timestamp) >= retention
                    }
                    ExpiryBase::Never => false,
                },
            })
            .map(|(tp, _)| tp.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(commit: i64, expire: Option<i64>) -> CommittedOffset {
        CommittedOffset {
            offset: 1,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp: commit,
            expire_timestamp: expire,
        }
    }

    #[test]
    fn expiry_rules() {
        let mut g = GroupOffsets::default();
        g.insert("a".into(), 0, offset(100, None));
        g.insert("b".into(), 0, offset(500, None));
        g.insert("c".into(), 0, offset(100, Some(150)));
        // Explicit expiry times apply whenever the group's offsets can expire at all.
        assert_eq!(g.expired(10_000, 1000, ExpiryBase::Never), vec![]);
        let simple = ExpiryBase::CommitTime { keep_topics: None };
        assert_eq!(g.expired(149, 1000, simple), vec![]);
        assert_eq!(g.expired(150, 1000, simple), vec![("c".into(), 0)]);
        // Empty group: everything, relative to when it became empty.
        assert_eq!(g.expired(1099, 1000, ExpiryBase::Since(100)).len(), 1);
        assert_eq!(g.expired(1100, 1000, ExpiryBase::Since(100)).len(), 3);
        // Stable consumer group: by commit time, sparing subscribed topics.
        let keep: BTreeSet<String> = ["a".to_string()].into();
        let stable = ExpiryBase::CommitTime {
            keep_topics: Some(&keep),
        };
        assert_eq!(g.expired(10_000, 1000, stable).len(), 2);
        assert_eq!(
            g.expired(1200, 1000, ExpiryBase::CommitTime { keep_topics: None }),
            vec![("a".into(), 0), ("c".into(), 0)]
        );
    }
}
