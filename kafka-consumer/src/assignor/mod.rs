//! Partition assignors: how a group leader divides the subscribed partitions among members.
//!
//! The group coordinator does not assign; the member it elects leader runs the assignor the
//! group agreed on (each member lists its assignors in JoinGroup, most preferred first, and the
//! coordinator picks one every member supports) and hands the result back in SyncGroup. So
//! assignors must be wire-compatible with other clients' implementations of the same protocol
//! name: the built-in ones follow the Java consumer's algorithms and user-data formats, which
//! librdkafka follows too.
//!
//! - [`RangeAssignor`] (`range`): per topic, consecutive ranges of partitions per member.
//! - [`RoundRobinAssignor`] (`roundrobin`): all partitions dealt out one at a time.
//! - [`StickyAssignor`] (`sticky`): balanced, moving as few partitions as possible, eager.
//! - [`CooperativeStickyAssignor`] (`cooperative-sticky`): the same, incremental (KIP-429):
//!   a partition that moves is first revoked by its owner, then assigned in a second round.
//!
//! Write your own by implementing [`Assignor`] and passing it to
//! [`ConsumerBuilder::assignor`](crate::ConsumerBuilder::assignor).
//!
//! ```
//! use std::collections::BTreeMap;
//! use kafka_consumer::assignor::{Assignor, GroupMember, RangeAssignor};
//! use kafka_consumer::Subscription;
//!
//! let members = vec![
//!     GroupMember::new("a", Subscription::new(["t"])),
//!     GroupMember::new("b", Subscription::new(["t"])),
//! ];
//! let topics = BTreeMap::from([("t".to_string(), 3)]);
//! let result = RangeAssignor.assign(&topics, &members).unwrap();
//! assert_eq!(result["a"].partitions.len(), 2);
//! assert_eq!(result["b"].partitions.len(), 1);
//! ```

mod cooperative_sticky;
mod range;
mod roundrobin;
mod sticky;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

pub use cooperative_sticky::CooperativeStickyAssignor;
pub use range::RangeAssignor;
pub use roundrobin::RoundRobinAssignor;
pub use sticky::StickyAssignor;

pub use crate::protocol::{Assignment, Subscription};
use crate::record::TopicPartition;

/// How a group using an assignor rebalances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RebalanceProtocol {
    /// Every member gives up all its partitions before rejoining ("stop the world").
    Eager,
    /// Members keep the partitions that do not move; moving ones are revoked first and
    /// assigned in a follow-up rebalance (KIP-429).
    Cooperative,
}

/// A member as the leader's assignor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupMember {
    /// The coordinator-issued member id.
    pub member_id: String,
    /// The static identity (`group.instance.id`), if any.
    pub group_instance_id: Option<String>,
    /// What it subscribed to.
    pub subscription: Subscription,
}

impl GroupMember {
    /// A dynamic member.
    pub fn new(member_id: impl Into<String>, subscription: Subscription) -> Self {
        Self {
            member_id: member_id.into(),
            group_instance_id: None,
            subscription,
        }
    }

    /// The same member with a static identity.
    pub fn with_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group_instance_id = Some(id.into());
        self
    }

    /// Java's `MemberInfo` order: static members first by instance id, then dynamic members
    /// by member id. Range and round-robin hand out partitions in this order, so following it
    /// keeps assignments identical to a Java leader's.
    pub fn java_order(&self, other: &Self) -> Ordering {
        match (&self.group_instance_id, &other.group_instance_id) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => self.member_id.cmp(&other.member_id),
        }
    }
}

/// What a member knows about itself when it builds its subscription's user data.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct MemberContext<'a> {
    /// The topics it subscribes to.
    pub topics: &'a [String],
    /// The partitions it was last assigned (still owned, or revoked just before an eager
    /// rejoin).
    pub previous_assignment: &'a [TopicPartition],
    /// The generation of that assignment (-1: none).
    pub generation: i32,
}

/// The result of an assignment: member id to assignment.
pub type GroupAssignment = BTreeMap<String, Assignment>;

/// A partition assignor.
///
/// The leader calls [`assign`](Self::assign) with the partition count of every topic some
/// member subscribes to (topics that do not exist are absent) and every member's
/// subscription; every member then gets [`on_assignment`](Self::on_assignment) with its own
/// share.
pub trait Assignor: Send + Sync + fmt::Debug {
    /// The protocol name in JoinGroup (must match other clients' name for the same
    /// algorithm).
    fn name(&self) -> &str;

    /// The rebalance protocol the assignor supports (default eager).
    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    /// User data to put in this member's subscription (default none).
    fn user_data(&self, member: &MemberContext<'_>) -> Option<Bytes> {
        let _ = member;
        None
    }

    /// Assigns partitions. Every member must appear in the result (possibly with nothing).
    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[GroupMember],
    ) -> Result<GroupAssignment, String>;

    /// Called on every member with its assignment (default: nothing).
    fn on_assignment(&self, assignment: &Assignment, generation: i32) {
        let _ = (assignment, generation);
    }
}

/// The protocol name for a Java class name or a librdkafka name; unknown names unchanged.
pub(crate) fn canonical_name(name: &str) -> &str {
    match name.rsplit('.').next().unwrap_or(name) {
        "RangeAssignor" => "range",
        "RoundRobinAssignor" => "roundrobin",
        "StickyAssignor" => "sticky",
        "CooperativeStickyAssignor" => "cooperative-sticky",
        _ => name,
    }
}

/// A built-in assignor by protocol name (or Java class name).
pub fn builtin(name: &str) -> Option<Arc<dyn Assignor>> {
    Some(match canonical_name(name) {
        "range" => Arc::new(RangeAssignor),
        "roundrobin" => Arc::new(RoundRobinAssignor),
        "sticky" => Arc::new(StickyAssignor),
        "cooperative-sticky" => Arc::new(CooperativeStickyAssignor),
        _ => return None,
    })
}

/// The protocol a member with these assignors rebalances with: cooperative only when every
/// assignor supports it (as the Java consumer decides).
pub(crate) fn common_protocol(assignors: &[Arc<dyn Assignor>]) -> RebalanceProtocol {
    assignors
        .iter()
        .map(|a| a.protocol())
        .min()
        .unwrap_or(RebalanceProtocol::Eager)
}

/// Every member, with nothing assigned yet.
pub(crate) fn empty_assignment(members: &[GroupMember]) -> BTreeMap<String, Vec<TopicPartition>> {
    members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect()
}

/// Wraps partition lists as assignments with no user data.
pub(crate) fn finish(assigned: BTreeMap<String, Vec<TopicPartition>>) -> GroupAssignment {
    assigned
        .into_iter()
        .map(|(m, mut ps)| {
            ps.sort();
            (m, Assignment::new(ps))
        })
        .collect()
}

/// Members sorted in Java's `MemberInfo` order.
pub(crate) fn sorted_members(members: &[GroupMember]) -> Vec<&GroupMember> {
    let mut v: Vec<&GroupMember> = members.iter().collect();
    v.sort_by(|a, b| a.java_order(b));
    v
}
