//! The group coordinator: classic consumer groups (JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup) and committed offsets (OffsetCommit, OffsetFetch, OffsetDelete), modelled on
//! Kafka's `GroupCoordinator`, `GroupMetadata` and `GroupMetadataManager`.
//!
//! The design is sans-IO, in the style of quinn: the state machines are plain structs that
//! take the time (`now`, in milliseconds) and an input, and return what to answer. They never
//! sleep, spawn or touch a socket, so the unit tests drive them with simulated time.
//!
//! - [`routing`]: which broker coordinates a group or transactional id (`coordinator_for`);
//! - `member`: one member of a classic group and its protocols;
//! - `classic`: one group's state machine (Empty, PreparingRebalance, CompletingRebalance,
//!   Stable; a deleted group is Dead) with its timers: session timeouts, the rebalance
//!   timeout, the initial rebalance delay and the pending-sync timeout;
//! - `classic_join`: JoinGroup in that state machine (new, pending, static and current
//!   members); `classic_members`: SyncGroup, Heartbeat, LeaveGroup and commit checks;
//! - `requests`: the state machine's inputs and outputs (plain data);
//! - `offsets`: one group's committed offsets and their expiry rules;
//! - `offsets_log`: the CRC-framed append-only file the offsets persist in;
//! - `coordinator`: every group on this broker, the group-level checks of each API, offset
//!   commits and their persistence;
//! - `service`: the async driver: a lock around the coordinator, JoinGroup and SyncGroup
//!   requests parked until their rebalance completes, a timer task, and a watch channel that
//!   tests wait on ([`BrokerHandle::wait_for_group_state`](crate::BrokerHandle::wait_for_group_state)).

mod classic;
mod classic_join;
mod classic_members;
mod coordinator;
mod hooks;
mod member;
mod offsets;
mod offsets_log;
mod requests;
pub mod routing;
mod service;

#[cfg(test)]
mod classic_static_tests;
#[cfg(test)]
mod classic_tests;
#[cfg(test)]
mod coordinator_tests;

use std::time::Duration;

pub(crate) use coordinator::{CLASSIC_TYPE, CommitArgs, NewOffset};
pub(crate) use member::Protocol;
pub(crate) use requests::{JoinArgs, LeavingMember, SyncArgs};
pub(crate) use service::GroupService;

/// Settings of the group coordinator (Kafka's `group.*` and `offsets.*` broker settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupConfig {
    /// How long the first rebalance of an empty group waits for more members before it
    /// completes (Kafka's `group.initial.rebalance.delay.ms`). Kafka defaults to 3 s so that
    /// a fleet of consumers starting together rebalances once; this broker defaults to 0 so
    /// a test's first consumer gets its assignment at once. Each member joining during the
    /// delay extends it by another delay, up to the rebalance timeout.
    pub initial_rebalance_delay: Duration,
    /// Shortest session timeout a member may ask for (`group.min.session.timeout.ms`, 6 s).
    pub min_session_timeout: Duration,
    /// Longest session timeout a member may ask for (`group.max.session.timeout.ms`, 30 min).
    pub max_session_timeout: Duration,
    /// Most members a group may have (`group.max.size`, unlimited).
    pub max_size: usize,
    /// How long committed offsets are kept once the group is empty, or for offsets of topics
    /// a stable consumer group no longer subscribes to (`offsets.retention.minutes`, 7 days).
    pub offsets_retention: Duration,
    /// How often expired offsets are removed (`offsets.retention.check.interval.ms`, 10 min).
    pub offsets_retention_check_interval: Duration,
    /// Longest metadata string an offset commit may carry (`offset.metadata.max.bytes`, 4096).
    pub offset_metadata_max_bytes: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            initial_rebalance_delay: Duration::ZERO,
            min_session_timeout: Duration::from_secs(6),
            max_session_timeout: Duration::from_secs(30 * 60),
            max_size: usize::MAX,
            offsets_retention: Duration::from_secs(7 * 24 * 3600),
            offsets_retention_check_interval: Duration::from_secs(600),
            offset_metadata_max_bytes: 4096,
        }
    }
}

/// Milliseconds of a duration, saturating (settings are durations; the state machines count
/// in milliseconds, as Kafka does).
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The state of a classic group, as DescribeGroups and ListGroups name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupState {
    /// No members (possibly committed offsets).
    Empty,
    /// A rebalance started: waiting for every member to (re)join.
    PreparingRebalance,
    /// Every member joined: waiting for the leader's assignment in SyncGroup.
    CompletingRebalance,
    /// The assignment is distributed; members heartbeat.
    Stable,
    /// The group was deleted (or never existed).
    Dead,
}

impl GroupState {
    /// Kafka's name for the state, as on the wire.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

impl std::fmt::Display for GroupState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A group as seen from outside: what [`BrokerState::group_status`](crate::BrokerState::group_status)
/// returns and what the wait-for hooks test.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupStatus {
    /// The state.
    pub state: GroupState,
    /// The generation (0 before the first rebalance completes).
    pub generation_id: i32,
    /// The member ids, in the order they joined.
    pub members: Vec<String>,
    /// The leader's member id, if the group has members.
    pub leader: Option<String>,
    /// The protocol chosen in the current generation.
    pub protocol: Option<String>,
}

/// A wait-for hook gave up.
#[derive(Debug, thiserror::Error)]
#[error("group {group:?} did not reach {wanted} within {timeout:?} (last seen: {last:?})")]
pub struct GroupWaitTimeout {
    /// The group waited on.
    pub group: String,
    /// What was waited for.
    pub wanted: String,
    /// How long the wait lasted.
    pub timeout: Duration,
    /// The group's last status, if it exists.
    pub last: Option<GroupStatus>,
}
