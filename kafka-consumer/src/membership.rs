//! Sans-IO group membership (the classic protocol): the JoinGroup / SyncGroup / Heartbeat /
//! LeaveGroup state machine of one member, with no sockets and no clock of its own.
//!
//! Two drivers share one [`Membership`] (behind a mutex, see `consumer_group`): the group
//! task asks [`Membership::next_step`] what to do (revoke, join, sync, apply an assignment,
//! leave) and reports outcomes back; the heartbeat task asks [`Membership::heartbeat_step`]
//! when to heartbeat and reports responses. They are separate so that heartbeats go on while
//! the group task waits on a slow rebalance listener, and both take `now` so the state
//! machine is tested with a hand-driven clock.
//!
//! The rules follow the Java consumer's `AbstractCoordinator` / `ConsumerCoordinator`:
//!
//! - A new member joins with an empty id; from JoinGroup v4 the coordinator answers
//!   MEMBER_ID_REQUIRED with an id to rejoin with.
//! - Eager protocol: everything owned is revoked (listener, commit) before each JoinGroup.
//!   Cooperative protocol: nothing is revoked before joining; after SyncGroup, partitions
//!   missing from the new assignment are revoked and the member rejoins at once, so the
//!   partitions it keeps are consumed throughout.
//! - UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION (from any request) mean the group went on without
//!   this member: what it owned is *lost* (no commit, the listener's `on_lost`) and it
//!   rejoins, with a new member id only after UNKNOWN_MEMBER_ID.
//! - A member that does not poll within `max.poll.interval.ms` leaves the group (dynamic
//!   members send LeaveGroup; static ones just stop heartbeating), loses its partitions and
//!   rejoins when the application polls again.
//! - FENCED_INSTANCE_ID and configuration-type errors are fatal.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kafka_protocol::ErrorCode;

use crate::assignor::RebalanceProtocol;
use crate::error::ConsumerError;
use crate::record::TopicPartition;

/// Settings the state machine needs.
#[derive(Debug, Clone)]
pub(crate) struct MembershipConfig {
    pub group_id: String,
    pub instance_id: Option<String>,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub retry_backoff: Duration,
    pub protocol: RebalanceProtocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not in the group and not trying to be (no subscription yet, or left).
    Idle,
    /// Wants to (re)join.
    Unjoined,
    /// JoinGroup in flight.
    Joining,
    /// Joined; SyncGroup to send.
    AwaitingSync,
    /// SyncGroup in flight.
    Syncing,
    /// Has an assignment for the current generation.
    Stable,
    /// Closed or failed; nothing more happens.
    Closed,
}

/// A member of the JoinGroup response, as the leader's assignor needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinedMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub metadata: bytes::Bytes,
}

/// A JoinGroup answer, reduced to what the state machine uses.
#[derive(Debug, Clone, Default)]
pub(crate) struct JoinOutcome {
    pub error: Option<ErrorCode>,
    pub member_id: String,
    pub generation: i32,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub skip_assignment: bool,
    pub members: Vec<JoinedMember>,
}

/// What the group task should do next.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Nothing until this time (or until woken).
    Wait(Instant),
    /// Give up partitions: commit (unless `lost`), tell the listener, stop fetching them;
    /// then call [`Membership::revoke_done`].
    Revoke {
        partitions: Vec<TopicPartition>,
        lost: bool,
    },
    /// Send JoinGroup; then call [`Membership::on_join`].
    Join(JoinArgs),
    /// Send SyncGroup (computing the assignment first when `leader` is set); then call
    /// [`Membership::on_sync`].
    Sync(SyncArgs),
    /// Stop consuming `revoked` (cooperative only; commit first), start consuming `added`.
    Apply {
        added: Vec<TopicPartition>,
        revoked: Vec<TopicPartition>,
    },
    /// The member left: send LeaveGroup when `member_id` is set (dynamic members only).
    Leave { member_id: Option<String> },
    /// Stop: the error goes to the application.
    Fatal(ConsumerError),
}

/// What a JoinGroup carries besides the subscription's topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinArgs {
    pub member_id: String,
    /// Partitions owned now (sent in the subscription for cooperative rebalancing).
    pub owned: Vec<TopicPartition>,
    /// The last assignment received (for sticky user data) and its generation.
    pub previous_assignment: Vec<TopicPartition>,
    pub generation: i32,
    pub reason: String,
}

/// What a SyncGroup carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncArgs {
    pub member_id: String,
    pub generation: i32,
    pub protocol_name: Option<String>,
    /// Set when this member must compute the assignment.
    pub leader: Option<Vec<JoinedMember>>,
}

/// What the heartbeat task should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeartbeatStep {
    Wait(Instant),
    Send {
        member_id: String,
        generation: i32,
    },
    /// The application stopped polling: leave (dynamic members send LeaveGroup).
    LeaveForPollTimeout {
        member_id: Option<String>,
    },
}

/// One member's state in one group.
#[derive(Debug)]
pub(crate) struct Membership {
    cfg: MembershipConfig,
    phase: Phase,
    member_id: String,
    generation: i32,
    protocol_name: Option<String>,
    /// Partitions owned now.
    owned: BTreeSet<TopicPartition>,
    /// The last assignment received (kept through eager revocation for sticky user data).
    previous_assignment: Vec<TopicPartition>,
    previous_generation: i32,
    /// Set when a (re)join is needed, with the reason.
    rejoin: Option<String>,
    /// Partitions to give up as lost before anything else.
    lost: Vec<TopicPartition>,
    /// The assignment change to apply after SyncGroup.
    pending_apply: Option<(Vec<TopicPartition>, Vec<TopicPartition>)>,
    /// No JoinGroup before this (backoff after an error).
    retry_at: Option<Instant>,
    /// The member left because the application stopped polling; no rejoin until it polls.
    poll_expired: bool,
    fatal: Option<ConsumerError>,
    leave_requested: bool,
    /// The JoinGroup members when this member must assign.
    leader_members: Option<Vec<JoinedMember>>,
    next_heartbeat: Instant,
    heartbeat_in_flight: bool,
    last_heartbeat_ok: Instant,
}

impl Membership {
    pub fn new(cfg: MembershipConfig, now: Instant) -> Self {
        Self {
            cfg,
            phase: Phase::Idle,
            member_id: String::new(),
            generation: -1,
            protocol_name: None,
            owned: BTreeSet::new(),
            previous_assignment: Vec::new(),
            previous_generation: -1,
            rejoin: None,
            lost: Vec::new(),
            pending_apply: None,
            retry_at: None,
            poll_expired: false,
            fatal: None,
            leave_requested: false,
            leader_members: None,
            next_heartbeat: now,
            heartbeat_in_flight: false,
            last_heartbeat_ok: now,
        }
    }

    #[cfg(test)]
    pub fn phase(&self) -> Phase {
        self.phase
    }
    pub fn member_id(&self) -> &str {
        &self.member_id
    }
    pub fn generation(&self) -> i32 {
        self.generation
    }
    pub fn group_id(&self) -> &str {
        &self.cfg.group_id
    }
    pub fn instance_id(&self) -> Option<&str> {
        self.cfg.instance_id.as_deref()
    }
    pub fn protocol(&self) -> RebalanceProtocol {
        self.cfg.protocol
    }
    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }
    pub fn is_stable(&self) -> bool {
        self.phase == Phase::Stable && self.rejoin.is_none() && self.pending_apply.is_none()
    }

    /// The generation and member id to commit offsets with: valid only while stable (or
    /// rebalancing with the generation still current).
    pub fn commit_identity(&self) -> (i32, String) {
        (self.generation, self.member_id.clone())
    }

    /// Starts taking part (after subscribe) or asks for a rejoin (subscription or metadata
    /// changed).
    pub fn request_rejoin(&mut self, reason: impl Into<String>) {
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        if self.phase == Phase::Idle {
            self.phase = Phase::Unjoined;
        }
        self.rejoin.get_or_insert_with(|| reason.into());
    }

    /// The application polled again after the member left for a poll timeout.
    pub fn poll_resumed(&mut self) {
        if self.poll_expired {
            self.poll_expired = false;
            self.request_rejoin("the application polled again after a poll timeout");
        }
    }

    /// Leave the group (unsubscribe or close): what is owned gets revoked first, then
    /// LeaveGroup goes out.
    pub fn request_leave(&mut self) {
        self.leave_requested = true;
    }

    /// Stop for good with `error` (reported once by [`Self::next_step`]).
    pub fn fail(&mut self, error: ConsumerError) {
        self.fatal.get_or_insert(error);
    }

    /// Forgets the generation after the group moved on without us.
    fn reset_generation(&mut self, reset_member_id: bool, why: &str) {
        tracing::info!(group = %self.cfg.group_id, member = %self.member_id, generation = self.generation, why, "rejoining the group");
        if !self.owned.is_empty() {
            self.lost.extend(std::mem::take(&mut self.owned));
        }
        self.generation = -1;
        self.protocol_name = None;
        if reset_member_id {
            self.member_id.clear();
        }
        self.pending_apply = None;
        self.phase = Phase::Unjoined;
        self.rejoin.get_or_insert_with(|| why.to_owned());
    }

    fn backoff(&mut self, now: Instant) {
        self.retry_at = Some(now + self.cfg.retry_backoff);
        self.phase = Phase::Unjoined;
    }

    /// The group task's next step.
    pub fn next_step(&mut self, now: Instant) -> Step {
        if let Some(e) = self.fatal.take() {
            self.phase = Phase::Closed;
            return Step::Fatal(e);
        }
        if self.phase == Phase::Closed {
            return Step::Wait(now + Duration::from_secs(3600));
        }
        if !self.lost.is_empty() {
            return Step::Revoke {
                partitions: std::mem::take(&mut self.lost),
                lost: true,
            };
        }
        if let Some((added, revoked)) = self.pending_apply.take() {
            return Step::Apply { added, revoked };
        }
        if self.leave_requested {
            if !self.owned.is_empty() {
                return Step::Revoke {
                    partitions: self.owned.iter().cloned().collect(),
                    lost: false,
                };
            }
            self.leave_requested = false;
            let member_id = std::mem::take(&mut self.member_id);
            let was_member = self.generation >= 0 || !member_id.is_empty();
            self.generation = -1;
            self.protocol_name = None;
            self.rejoin = None;
            self.phase = Phase::Idle;
            // Static members never send LeaveGroup: the session timeout removes them, so a
            // restart within it gets the old assignment back without a rebalance.
            let send = was_member && self.cfg.instance_id.is_none() && !member_id.is_empty();
            return Step::Leave {
                member_id: send.then_some(member_id),
            };
        }
        match self.phase {
            Phase::Idle | Phase::Joining | Phase::Syncing => {
                Step::Wait(now + Duration::from_secs(3600))
            }
            Phase::Closed => Step::Wait(now + Duration::from_secs(3600)),
            Phase::Stable if self.rejoin.is_none() => Step::Wait(now + Duration::from_secs(3600)),
            Phase::AwaitingSync => {
                self.phase = Phase::Syncing;
                Step::Sync(SyncArgs {
                    member_id: self.member_id.clone(),
                    generation: self.generation,
                    protocol_name: self.protocol_name.clone(),
                    leader: self.leader_members.take(),
                })
            }
            Phase::Stable | Phase::Unjoined => self.start_join(now),
        }
    }

    /// Revokes first (eager protocol), then joins. A stable member stays stable (and keeps
    /// heartbeating) until the JoinGroup goes out, so a slow revocation listener does not
    /// cost it its session.
    fn start_join(&mut self, now: Instant) -> Step {
        if self.poll_expired {
            return Step::Wait(now + Duration::from_secs(3600));
        }
        if let Some(at) = self.retry_at {
            if now < at {
                return Step::Wait(at);
            }
            self.retry_at = None;
        }
        if self.cfg.protocol == RebalanceProtocol::Eager && !self.owned.is_empty() {
            return Step::Revoke {
                partitions: self.owned.iter().cloned().collect(),
                lost: false,
            };
        }
        self.phase = Phase::Joining;
        Step::Join(JoinArgs {
            member_id: self.member_id.clone(),
            owned: self.owned.iter().cloned().collect(),
            previous_assignment: self.previous_assignment.clone(),
            generation: self.previous_generation,
            reason: self.rejoin.take().unwrap_or_default(),
        })
    }

    /// The partitions of a [`Step::Revoke`] are given up.
    pub fn revoke_done(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.owned.remove(tp);
        }
        // A commit during the revocation may have found the member fenced, turning these
        // into "lost": they are gone either way.
        self.lost.retain(|tp| !partitions.contains(tp));
    }

    /// The JoinGroup answer (`Err`: the request failed).
    pub fn on_join(&mut self, now: Instant, outcome: Result<JoinOutcome, ()>) {
        if self.phase != Phase::Joining {
            return;
        }
        let Ok(r) = outcome else {
            self.backoff(now);
            return;
        };
        match r.error {
            None => {
                self.member_id = r.member_id;
                self.generation = r.generation;
                self.protocol_name = r.protocol_name;
                let leader = r.leader == self.member_id && !r.skip_assignment;
                self.leader_members = leader.then_some(r.members);
                self.phase = Phase::AwaitingSync;
            }
            Some(ErrorCode::MemberIdRequired) => {
                self.member_id = r.member_id;
                self.phase = Phase::Unjoined;
            }
            Some(ErrorCode::UnknownMemberId) => {
                self.reset_generation(true, "unknown member id");
            }
            Some(ErrorCode::IllegalGeneration) => {
                self.reset_generation(false, "illegal generation");
            }
            Some(ErrorCode::FencedInstanceId) => {
                self.fail(ConsumerError::FencedInstanceId(
                    self.cfg.instance_id.clone().unwrap_or_default(),
                ));
            }
            Some(
                code @ (ErrorCode::InconsistentGroupProtocol
                | ErrorCode::InvalidSessionTimeout
                | ErrorCode::GroupAuthorizationFailed
                | ErrorCode::GroupMaxSizeReached
                | ErrorCode::InvalidGroupId
                | ErrorCode::UnsupportedVersion),
            ) => {
                self.fail(ConsumerError::Group {
                    group: self.cfg.group_id.clone(),
                    code,
                    message: None,
                });
            }
            Some(_) => self.backoff(now),
        }
    }

    /// The SyncGroup answer: the decoded assignment, or the error.
    pub fn on_sync(
        &mut self,
        now: Instant,
        outcome: Result<Vec<TopicPartition>, Option<ErrorCode>>,
    ) {
        if self.phase != Phase::Syncing {
            return;
        }
        match outcome {
            Ok(assigned) => {
                let new: BTreeSet<TopicPartition> = assigned.into_iter().collect();
                let revoked: Vec<TopicPartition> = self.owned.difference(&new).cloned().collect();
                let added: Vec<TopicPartition> = new.difference(&self.owned).cloned().collect();
                tracing::info!(group = %self.cfg.group_id, member = %self.member_id, generation = self.generation, assigned = new.len(), added = added.len(), revoked = revoked.len(), "joined the group");
                if !revoked.is_empty() {
                    // Cooperative: give these up, then rejoin so they can move.
                    self.rejoin
                        .get_or_insert_with(|| "partitions were revoked".to_owned());
                }
                self.previous_assignment = new.iter().cloned().collect();
                self.previous_generation = self.generation;
                self.owned = new;
                self.pending_apply = Some((added, revoked));
                self.phase = Phase::Stable;
                self.last_heartbeat_ok = now;
                self.next_heartbeat = now + self.cfg.heartbeat_interval;
            }
            Err(Some(ErrorCode::RebalanceInProgress)) => {
                self.phase = Phase::Unjoined;
                self.rejoin
                    .get_or_insert_with(|| "rebalance in progress".into());
            }
            Err(Some(ErrorCode::UnknownMemberId)) => {
                self.reset_generation(true, "unknown member id")
            }
            Err(Some(ErrorCode::IllegalGeneration)) => {
                self.reset_generation(false, "illegal generation")
            }
            Err(Some(ErrorCode::FencedInstanceId)) => self.fail(ConsumerError::FencedInstanceId(
                self.cfg.instance_id.clone().unwrap_or_default(),
            )),
            Err(Some(code @ ErrorCode::GroupAuthorizationFailed)) => {
                self.fail(ConsumerError::Group {
                    group: self.cfg.group_id.clone(),
                    code,
                    message: None,
                })
            }
            Err(_) => {
                self.rejoin.get_or_insert_with(|| "sync failed".into());
                self.backoff(now);
            }
        }
    }

    /// An OffsetCommit (or other request) answered with a code that says the group moved on.
    pub fn on_group_error(&mut self, code: ErrorCode) {
        if !matches!(
            self.phase,
            Phase::Stable | Phase::Syncing | Phase::AwaitingSync
        ) {
            return;
        }
        match code {
            ErrorCode::UnknownMemberId => self.reset_generation(true, "unknown member id"),
            ErrorCode::IllegalGeneration => self.reset_generation(false, "illegal generation"),
            ErrorCode::RebalanceInProgress if self.phase == Phase::Stable => {
                self.rejoin
                    .get_or_insert_with(|| "rebalance in progress".into());
            }
            ErrorCode::FencedInstanceId => self.fail(ConsumerError::FencedInstanceId(
                self.cfg.instance_id.clone().unwrap_or_default(),
            )),
            _ => {}
        }
    }

    /// The heartbeat task's next step; `last_poll` is when the application last polled.
    pub fn heartbeat_step(&mut self, now: Instant, last_poll: Instant) -> HeartbeatStep {
        let active = matches!(
            self.phase,
            Phase::Stable | Phase::Syncing | Phase::AwaitingSync
        );
        if !active || self.fatal.is_some() {
            return HeartbeatStep::Wait(now + self.cfg.heartbeat_interval);
        }
        let poll_deadline = last_poll + self.cfg.rebalance_timeout;
        if now >= poll_deadline {
            tracing::warn!(group = %self.cfg.group_id, member = %self.member_id, max_poll_interval = ?self.cfg.rebalance_timeout, "the application did not poll in time; leaving the group");
            let static_member = self.cfg.instance_id.is_some();
            let member_id = (!static_member).then(|| self.member_id.clone());
            self.reset_generation(!static_member, "poll timeout");
            self.poll_expired = true;
            return HeartbeatStep::LeaveForPollTimeout { member_id };
        }
        if self.heartbeat_in_flight {
            return HeartbeatStep::Wait(poll_deadline.min(now + self.cfg.heartbeat_interval));
        }
        if now >= self.next_heartbeat {
            self.heartbeat_in_flight = true;
            return HeartbeatStep::Send {
                member_id: self.member_id.clone(),
                generation: self.generation,
            };
        }
        HeartbeatStep::Wait(self.next_heartbeat.min(poll_deadline))
    }

    /// The answer to a heartbeat sent for `generation` (`Err`: the request failed).
    pub fn on_heartbeat(&mut self, now: Instant, generation: i32, outcome: Result<ErrorCode, ()>) {
        self.heartbeat_in_flight = false;
        let current = generation == self.generation
            && matches!(
                self.phase,
                Phase::Stable | Phase::Syncing | Phase::AwaitingSync
            );
        match outcome {
            Ok(ErrorCode::None) => {
                self.last_heartbeat_ok = now;
                self.next_heartbeat = now + self.cfg.heartbeat_interval;
            }
            Ok(code) => {
                self.last_heartbeat_ok = now;
                self.next_heartbeat = now + self.cfg.heartbeat_interval;
                if current {
                    match code {
                        ErrorCode::RebalanceInProgress => {
                            self.rejoin
                                .get_or_insert_with(|| "the group is rebalancing".into());
                        }
                        ErrorCode::NotCoordinator
                        | ErrorCode::CoordinatorNotAvailable
                        | ErrorCode::CoordinatorLoadInProgress => {
                            self.next_heartbeat = now + self.cfg.retry_backoff;
                        }
                        other => self.on_group_error(other),
                    }
                }
            }
            Err(()) => {
                self.next_heartbeat = now + self.cfg.retry_backoff;
                if now.duration_since(self.last_heartbeat_ok) > self.cfg.session_timeout {
                    tracing::warn!(group = %self.cfg.group_id, "no heartbeat answered within the session timeout; the coordinator may have removed this member");
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "membership_tests.rs"]
mod tests;
