//! Where a request goes: a named broker, the least-loaded one, the controller, a partition's
//! leader, or a group's or transaction's coordinator.

use crate::metadata::CoordinatorType;

/// The broker a request is for, resolved through the metadata and coordinator caches on each
/// attempt, so a retry after a leader or coordinator moved goes to the new one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// The broker with the fewest requests in flight (connected brokers first).
    Any,
    /// A broker by node id.
    Broker(i32),
    /// The controller named by the metadata.
    Controller,
    /// The leader of a partition.
    Leader {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
    },
    /// The coordinator of a group, transactional id or share group.
    Coordinator {
        /// What kind of coordinator.
        kind: CoordinatorType,
        /// The group id or transactional id.
        key: String,
    },
}

impl Target {
    /// The leader of `topic`-`partition`.
    pub fn leader(topic: impl Into<String>, partition: i32) -> Self {
        Target::Leader {
            topic: topic.into(),
            partition,
        }
    }

    /// The coordinator of consumer group `group_id`.
    pub fn group(group_id: impl Into<String>) -> Self {
        Target::Coordinator {
            kind: CoordinatorType::Group,
            key: group_id.into(),
        }
    }

    /// The coordinator of `transactional_id`.
    pub fn transaction(transactional_id: impl Into<String>) -> Self {
        Target::Coordinator {
            kind: CoordinatorType::Transaction,
            key: transactional_id.into(),
        }
    }
}
