//! One classic group's state machine: membership, generations, the rebalance protocol and
//! its timers, after Kafka's `GroupCoordinator` and `GroupMetadata` (3.x, which Kafka 4's
//! classic groups still follow).
//!
//! States: Empty -> PreparingRebalance (a member joined, left or changed) ->
//! CompletingRebalance (every member rejoined, or the rebalance timeout removed those that
//! did not; the generation is bumped and the leader gets the member list) -> Stable (the
//! leader's SyncGroup carried the assignment, which every member's SyncGroup returns) ->
//! PreparingRebalance again on the next change. Deleting an empty group makes it Dead.
//!
//! Inputs are method calls with the current time in milliseconds; parked requests are named
//! by a [`Ticket`](super::member::Ticket), and every answer to one is pushed to an outbox of
//! [`Completion`]s that the caller routes. Requests answered at once are in the outbox too,
//! so a caller always looks in one place. Timers are deadlines the caller honours by calling
//! [`ClassicGroup::tick`] at [`ClassicGroup::next_deadline`]:
//! - each member's session: a member that neither heartbeats nor has a request parked is
//!   removed when it expires (members parked in JoinGroup or SyncGroup are waiting on the
//!   group, so their sessions only restart once answered);
//! - members given an id by MEMBER_ID_REQUIRED that never rejoin expire after their session;
//! - the rebalance timeout: dynamic members that have not rejoined by then are removed;
//! - the initial rebalance delay of a group leaving Empty, extended while members keep
//!   arriving (up to the rebalance timeout);
//! - the pending-sync timeout: members that do not send SyncGroup within the rebalance
//!   timeout after the join completes are removed, and the group rebalances.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use kafka_protocol::ErrorCode;

use super::member::{Member, subscribed_topics};
use super::requests::{
    Completion, DescribedMember, GroupDescription, JoinResult, JoinedMember, SyncResult,
};
use super::{GroupConfig, GroupState, GroupStatus, millis};

/// The protocol type of Kafka consumers, whose member metadata the coordinator can read.
pub(crate) const CONSUMER_PROTOCOL: &str = "consumer";

/// The rebalance timer of a PreparingRebalance group.
#[derive(Debug, Clone, Copy)]
pub(super) struct JoinTimer {
    pub deadline: i64,
    /// Set while the group waits out the initial rebalance delay.
    pub initial: Option<InitialDelay>,
}

/// Kafka's `InitialDelayedJoin`: how much of the rebalance timeout is left to extend the
/// delay into, and whether a member arrived during the current delay.
#[derive(Debug, Clone, Copy)]
pub(super) struct InitialDelay {
    pub remaining: i64,
    pub new_member_added: bool,
}

/// One classic group.
#[derive(Debug)]
pub(crate) struct ClassicGroup {
    pub(super) id: String,
    pub(super) state: GroupState,
    /// When the group entered its state (offsets of an Empty group expire relative to it).
    pub(super) state_since: i64,
    pub(super) generation: i32,
    /// Set by the first member to join; kept when the group empties (as Kafka).
    pub(super) protocol_type: Option<String>,
    /// The protocol chosen for the current generation.
    pub(super) protocol_name: Option<String>,
    pub(super) leader: Option<String>,
    /// In the order they joined.
    pub(super) members: Vec<Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with when they expire.
    pub(super) pending: BTreeMap<String, i64>,
    /// Members that have not sent SyncGroup since the join completed.
    pub(super) pending_sync: BTreeSet<String>,
    pub(super) sync_deadline: Option<i64>,
    pub(super) join_timer: Option<JoinTimer>,
    /// Union of the consumer members' subscriptions in the current generation; `None` when
    /// not a consumer group or a subscription does not parse.
    pub(super) subscribed: Option<BTreeSet<String>>,
    pub(super) initial_delay: i64,
    pub(super) max_size: usize,
    /// Set when the state or generation changed (the driver publishes it to waiters).
    pub(super) changed: bool,
}

impl ClassicGroup {
    /// A new, empty group.
    pub fn new(id: impl Into<String>, now: i64, config: &GroupConfig) -> Self {
        Self {
            id: id.into(),
            state: GroupState::Empty,
            state_since: now,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: Vec::new(),
            pending: BTreeMap::new(),
            pending_sync: BTreeSet::new(),
            sync_deadline: None,
            join_timer: None,
            subscribed: None,
            initial_delay: millis(config.initial_rebalance_delay),
            max_size: config.max_size,
            changed: true,
        }
    }

    pub fn state(&self) -> GroupState {
        self.state
    }

    pub fn state_since(&self) -> i64 {
        self.state_since
    }

    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    /// Whether members are waiting for an id from an earlier MEMBER_ID_REQUIRED.
    pub fn has_pending_members(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether a consumer group's current generation subscribes to `topic`.
    pub fn is_subscribed_to(&self, topic: &str) -> bool {
        self.subscribed.as_ref().is_some_and(|t| t.contains(topic))
    }

    /// The topics the current generation subscribes to, if known.
    pub fn subscribed_topics(&self) -> Option<&BTreeSet<String>> {
        self.subscribed.as_ref()
    }

    /// Returns and clears the "state or generation changed" flag.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    pub fn status(&self) -> GroupStatus {
        GroupStatus {
            state: self.state,
            generation_id: self.generation,
            members: self.members.iter().map(|m| m.id.clone()).collect(),
            leader: self.leader.clone(),
            protocol: self.protocol_name.clone(),
        }
    }

    pub fn describe(&self) -> GroupDescription {
        let stable = self.state == GroupState::Stable;
        let protocol = if stable {
            self.protocol_name.clone().unwrap_or_default()
        } else {
            String::new()
        };
        GroupDescription {
            state: self.state,
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            members: self
                .members
                .iter()
                .map(|m| DescribedMember {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
            protocol,
        }
    }

    /// Marks the group deleted.
    pub fn mark_dead(&mut self, now: i64) {
        self.transition(now, GroupState::Dead);
    }

    pub(super) fn member_index(&self, id: &str) -> Option<usize> {
        self.members.iter().position(|m| m.id == id)
    }

    /// The member id a static member's instance id currently maps to.
    pub(super) fn static_member_id(&self, instance_id: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.instance_id.as_deref() == Some(instance_id))
            .map(|m| m.id.as_str())
    }

    pub(super) fn is_leader(&self, id: &str) -> bool {
        self.leader.as_deref() == Some(id)
    }

    /// Kafka's `validateCurrentMember`: a static member's instance id must map to this member
    /// id (else FENCED_INSTANCE_ID, or UNKNOWN_MEMBER_ID for an unknown instance), and the
    /// member must exist.
    pub(super) fn validate_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<usize, ErrorCode> {
        if let Some(instance) = instance_id {
            match self.static_member_id(instance) {
                Some(current) if current != member_id => return Err(ErrorCode::FencedInstanceId),
                Some(_) => {}
                None => return Err(ErrorCode::UnknownMemberId),
            }
        }
        self.member_index(member_id)
            .ok_or(ErrorCode::UnknownMemberId)
    }

    pub(super) fn transition(&mut self, now: i64, to: GroupState) {
        if self.state != to {
            tracing::debug!(group = %self.id, from = %self.state, %to, generation = self.generation, "group state");
            self.state = to;
            self.state_since = now;
        }
        self.changed = true;
    }

    /// The longest rebalance timeout of the members: how long a rebalance waits.
    pub(super) fn rebalance_timeout(&self) -> i64 {
        self.members
            .iter()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(0)
            .max(0)
    }

    /// Starts a rebalance if the group is in a state that can start one.
    pub(super) fn maybe_prepare_rebalance(&mut self, now: i64, out: &mut Vec<Completion>) {
        if matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
        ) {
            self.prepare_rebalance(now, out);
        }
    }

    /// Kafka's `prepareRebalance`: members waiting in SyncGroup are told to rejoin, and the
    /// group waits for every member to (re)join, out of Empty with the initial delay.
    pub(super) fn prepare_rebalance(&mut self, now: i64, out: &mut Vec<Completion>) {
        if self.state == GroupState::CompletingRebalance {
            self.propagate_assignment(now, None, ErrorCode::RebalanceInProgress, out);
        }
        self.pending_sync.clear();
        self.sync_deadline = None;
        let timeout = self.rebalance_timeout();
        self.join_timer = Some(
            if self.state == GroupState::Empty && self.initial_delay > 0 {
                JoinTimer {
                    deadline: now.saturating_add(self.initial_delay),
                    initial: Some(InitialDelay {
                        remaining: (timeout - self.initial_delay).max(0),
                        new_member_added: false,
                    }),
                }
            } else {
                JoinTimer {
                    deadline: now.saturating_add(timeout),
                    initial: None,
                }
            },
        );
        self.transition(now, GroupState::PreparingRebalance);
        tracing::info!(group = %self.id, generation = self.generation, members = self.members.len(), "preparing to rebalance");
        self.maybe_complete_join(now, out);
    }

    /// Completes the join once every member (and every member given an id) has rejoined;
    /// during the initial delay the group always waits for the timer.
    pub(super) fn maybe_complete_join(&mut self, now: i64, out: &mut Vec<Completion>) {
        let waiting_initial = self.join_timer.is_some_and(|t| t.initial.is_some());
        if self.state == GroupState::PreparingRebalance
            && !waiting_initial
            && self.pending.is_empty()
            && self.members.iter().all(|m| m.awaiting_join.is_some())
        {
            self.complete_join(now, out);
        }
    }

    /// Kafka's `onCompleteJoin`: drop dynamic members that did not rejoin, make sure the
    /// leader rejoined, start the next generation and answer every parked JoinGroup.
    fn complete_join(&mut self, now: i64, out: &mut Vec<Completion>) {
        self.join_timer = None;
        let mut i = 0;
        while i < self.members.len() {
            let m = &self.members[i];
            if m.awaiting_join.is_none() && m.instance_id.is_none() {
                tracing::info!(group = %self.id, member = %m.id, "removing a member that did not rejoin in time");
                self.remove_member(i, ErrorCode::UnknownMemberId, out);
            } else {
                i += 1;
            }
        }
        if !self.elect_joined_leader() && !self.members.is_empty() {
            // Only static members that have not rejoined are left: wait another rebalance
            // timeout (at least a second, so a zero timeout cannot spin) for them to rejoin
            // or for their sessions to expire.
            tracing::warn!(group = %self.id, "no member rejoined; waiting another rebalance timeout");
            self.join_timer = Some(JoinTimer {
                deadline: now.saturating_add(self.rebalance_timeout().max(1000)),
                initial: None,
            });
            return;
        }
        self.init_next_generation(now);
        if self.state == GroupState::Empty {
            return;
        }
        tracing::info!(group = %self.id, generation = self.generation, members = self.members.len(), protocol = ?self.protocol_name, "group stabilising");
        let everyone = self.current_member_metadata();
        let leader = self.leader.clone().unwrap_or_default();
        for m in &mut self.members {
            let result = JoinResult {
                error: ErrorCode::None,
                member_id: m.id.clone(),
                generation_id: self.generation,
                protocol_type: self.protocol_type.clone(),
                protocol_name: self.protocol_name.clone(),
                leader: leader.clone(),
                skip_assignment: false,
                members: if m.id == leader {
                    everyone.clone()
                } else {
                    Vec::new()
                },
            };
            if let Some(ticket) = m.awaiting_join.take() {
                out.push(Completion::Join(ticket, result));
            }
            m.touch(now);
            m.is_new = false;
            self.pending_sync.insert(m.id.clone());
        }
        self.sync_deadline = Some(now.saturating_add(self.rebalance_timeout()));
    }

    /// Kafka's `maybeElectNewJoinedLeader`: keeps the leader if it rejoined, else picks the
    /// first member that did; false when none did.
    fn elect_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader.as_deref() else {
            return false;
        };
        if self
            .members
            .iter()
            .any(|m| m.id == leader && m.awaiting_join.is_some())
        {
            return true;
        }
        match self.members.iter().find(|m| m.awaiting_join.is_some()) {
            Some(m) => {
                self.leader = Some(m.id.clone());
                true
            }
            None => false,
        }
    }

    fn init_next_generation(&mut self, now: i64) {
        self.generation = self.generation.saturating_add(1);
        if self.members.is_empty() {
            self.protocol_name = None;
            self.subscribed = self.compute_subscribed();
            self.transition(now, GroupState::Empty);
        } else {
            self.protocol_name = Some(self.select_protocol());
            self.subscribed = self.compute_subscribed();
            self.transition(now, GroupState::CompletingRebalance);
        }
    }

    /// The protocols every member supports.
    pub(super) fn candidate_protocols(&self) -> BTreeSet<&str> {
        let Some(first) = self.members.first() else {
            return BTreeSet::new();
        };
        first
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| self.members.iter().all(|m| m.supports(name)))
            .collect()
    }

    /// Kafka's `selectProtocol`: each member votes for its most preferred protocol among
    /// those every member supports, and the most votes wins. Kafka breaks ties arbitrarily
    /// (hash-map order); here the leader's preference order breaks them, so the choice is
    /// deterministic.
    pub(super) fn select_protocol(&self) -> String {
        let candidates = self.candidate_protocols();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in &self.members {
            if let Some(v) = m.vote(&candidates) {
                *votes.entry(v).or_default() += 1;
            }
        }
        let most = votes.values().copied().max().unwrap_or(0);
        let preference = self
            .leader
            .as_deref()
            .and_then(|l| self.members.iter().find(|m| m.id == l))
            .or(self.members.first());
        preference
            .into_iter()
            .flat_map(|m| m.protocols.iter())
            .map(|p| p.name.as_str())
            .find(|name| votes.get(name) == Some(&most) && most > 0)
            // Unreachable while joins check that protocols are shared; never panic anyway.
            .or_else(|| {
                self.members
                    .first()
                    .and_then(|m| m.protocols.first())
                    .map(|p| p.name.as_str())
            })
            .unwrap_or_default()
            .to_string()
    }

    /// Kafka's `computeSubscribedTopics`, for consumer groups only.
    fn compute_subscribed(&self) -> Option<BTreeSet<String>> {
        if self.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL) {
            return None;
        }
        if self.members.is_empty() {
            return Some(BTreeSet::new());
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut all = BTreeSet::new();
        for m in &self.members {
            all.extend(subscribed_topics(&m.metadata(protocol))?);
        }
        Some(all)
    }

    /// Every member with its metadata for the chosen protocol: the leader's member list.
    pub(super) fn current_member_metadata(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or_default();
        self.members
            .iter()
            .map(|m| JoinedMember {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                metadata: m.metadata(protocol),
            })
            .collect()
    }

    /// The current generation's join answer for `member_id`.
    pub(super) fn current_join_result(&self, member_id: &str, with_members: bool) -> JoinResult {
        JoinResult {
            error: ErrorCode::None,
            member_id: member_id.to_string(),
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            skip_assignment: false,
            members: if with_members {
                self.current_member_metadata()
            } else {
                Vec::new()
            },
        }
    }

    /// Sets every member's assignment (from the leader, or empty on error) and answers every
    /// parked SyncGroup with it; answered members' sessions restart.
    pub(super) fn propagate_assignment(
        &mut self,
        now: i64,
        assignments: Option<&BTreeMap<&str, Bytes>>,
        error: ErrorCode,
        out: &mut Vec<Completion>,
    ) {
        let (protocol_type, protocol_name) = if error.is_ok() {
            (self.protocol_type.clone(), self.protocol_name.clone())
        } else {
            (None, None)
        };
        for m in &mut self.members {
            m.assignment = assignments
                .and_then(|a| a.get(m.id.as_str()).cloned())
                .unwrap_or_default();
            if let Some(ticket) = m.awaiting_sync.take() {
                out.push(Completion::Sync(
                    ticket,
                    SyncResult {
                        error,
                        protocol_type: protocol_type.clone(),
                        protocol_name: protocol_name.clone(),
                        assignment: m.assignment.clone(),
                    },
                ));
                m.touch(now);
            }
        }
    }

    /// Removes a member; its parked requests are answered with `error`, and the leadership
    /// passes to the earliest remaining member.
    pub(super) fn remove_member(
        &mut self,
        index: usize,
        error: ErrorCode,
        out: &mut Vec<Completion>,
    ) {
        if index >= self.members.len() {
            return;
        }
        let m = self.members.remove(index);
        if let Some(ticket) = m.awaiting_join {
            out.push(Completion::Join(ticket, JoinResult::error("", error)));
        }
        if let Some(ticket) = m.awaiting_sync {
            out.push(Completion::Sync(ticket, SyncResult::error(error)));
        }
        self.pending_sync.remove(&m.id);
        if self.pending_sync.is_empty() {
            self.sync_deadline = None;
        }
        if self.is_leader(&m.id) {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        self.changed = true;
    }

    /// Kafka's `removeMemberAndUpdateGroup`: removing a member rebalances a Stable or
    /// CompletingRebalance group, and may complete a PreparingRebalance one.
    pub(super) fn remove_member_and_update(
        &mut self,
        now: i64,
        index: usize,
        out: &mut Vec<Completion>,
    ) {
        self.remove_member(index, ErrorCode::UnknownMemberId, out);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance(now, out)
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now, out),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// The earliest deadline of any timer, if one is running.
    pub fn next_deadline(&self) -> Option<i64> {
        let mut next: Option<i64> = None;
        let mut consider = |t: i64| next = Some(next.map_or(t, |n| n.min(t)));
        self.pending.values().copied().for_each(&mut consider);
        self.members
            .iter()
            .map(|m| m.deadline)
            .filter(|d| *d != i64::MAX)
            .for_each(&mut consider);
        if self.state == GroupState::PreparingRebalance
            && let Some(t) = self.join_timer
        {
            consider(t.deadline);
        }
        if let Some(d) = self.sync_deadline {
            consider(d);
        }
        next
    }

    /// Fires every timer due at `now`.
    pub fn tick(&mut self, now: i64, out: &mut Vec<Completion>) {
        let expired: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            tracing::info!(group = %self.id, member = %id, "pending member expired");
            self.pending.remove(id);
        }
        if !expired.is_empty() && self.state == GroupState::PreparingRebalance {
            self.maybe_complete_join(now, out);
        }

        let due: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.deadline <= now)
            .map(|m| m.id.clone())
            .collect();
        for id in due {
            let Some(index) = self.member_index(&id) else {
                continue;
            };
            let m = &mut self.members[index];
            let parked = m.awaiting_join.is_some() || m.awaiting_sync.is_some();
            if parked && !m.is_new {
                // Waiting on the group, not failing to heartbeat: the session restarts once
                // the parked request is answered.
                m.deadline = i64::MAX;
            } else {
                tracing::info!(group = %self.id, member = %id, "member session expired");
                self.remove_member_and_update(now, index, out);
            }
        }

        if self.state == GroupState::PreparingRebalance
            && let Some(timer) = self.join_timer.filter(|t| t.deadline <= now)
        {
            self.on_join_timer(now, timer, out);
        }

        if self.sync_deadline.is_some_and(|d| d <= now) {
            self.on_sync_timeout(now, out);
        }
    }

    /// The rebalance timer (or an initial-delay step) fired.
    fn on_join_timer(&mut self, now: i64, timer: JoinTimer, out: &mut Vec<Completion>) {
        if let Some(initial) = timer.initial
            && initial.new_member_added
            && initial.remaining > 0
        {
            let delay = self.initial_delay.min(initial.remaining);
            self.join_timer = Some(JoinTimer {
                deadline: now.saturating_add(delay),
                initial: Some(InitialDelay {
                    remaining: initial.remaining - delay,
                    new_member_added: false,
                }),
            });
            return;
        }
        self.complete_join(now, out);
    }

    /// Kafka's `onExpirePendingSync`: members that never sent SyncGroup are removed and the
    /// group rebalances without them.
    fn on_sync_timeout(&mut self, now: i64, out: &mut Vec<Completion>) {
        self.sync_deadline = None;
        let laggards = std::mem::take(&mut self.pending_sync);
        if laggards.is_empty()
            || !matches!(
                self.state,
                GroupState::CompletingRebalance | GroupState::Stable
            )
        {
            return;
        }
        for id in &laggards {
            if let Some(index) = self.member_index(id) {
                tracing::info!(group = %self.id, member = %id, "removing a member that did not sync in time");
                self.remove_member(index, ErrorCode::UnknownMemberId, out);
            }
        }
        self.prepare_rebalance(now, out);
    }
}
