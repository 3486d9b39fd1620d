//! JoinGroup in a classic group's state machine, after Kafka's `handleJoinGroup`:
//!
//! - a member without an id is new: from v4 a dynamic member is first given an id with
//!   MEMBER_ID_REQUIRED and must rejoin with it (so a client that never receives the answer
//!   cannot leave a ghost member behind); a static member (`group.instance.id`, v5+) is
//!   added at once, or, if its instance id is known, replaces the old member id (fencing the
//!   old one). A static member rejoining a Stable group without changing the chosen protocol
//!   gets the current generation back without a rebalance; a v9+ static leader is told to
//!   skip the assignment (KIP-814), an older one is told the old leader id so it does not
//!   assign;
//! - a member with an id rejoins: during PreparingRebalance it is counted as rejoined; in
//!   CompletingRebalance or Stable a follower with unchanged protocols just gets the current
//!   generation, while the leader or a member with new protocols starts a rebalance;
//! - the protocol type must match the group's and some protocol must be shared by every
//!   member (INCONSISTENT_GROUP_PROTOCOL); a full group refuses new members
//!   (GROUP_MAX_SIZE_REACHED).
//!
//! The session timeout range and the group id are checked by the coordinator.

use bytes::Bytes;
use kafka_protocol::ErrorCode;

use super::GroupState;
use super::classic::{ClassicGroup, InitialDelay};
use super::member::{Member, NEW_MEMBER_JOIN_TIMEOUT, Protocol, Ticket, new_member_id};
use super::requests::{Completion, JoinArgs, JoinResult, SyncResult};

impl ClassicGroup {
    /// A JoinGroup; the answer (now, or when the rebalance completes) goes to `out`.
    pub fn join(&mut self, now: i64, ticket: Ticket, args: JoinArgs, out: &mut Vec<Completion>) {
        if !self.accepts_joining_member(&args.member_id) {
            if let Some(index) = self.member_index(&args.member_id) {
                self.remove_member(index, ErrorCode::GroupMaxSizeReached, out);
            }
            out.push(Completion::Join(
                ticket,
                JoinResult::error("", ErrorCode::GroupMaxSizeReached),
            ));
        } else if args.member_id.is_empty() {
            self.join_new_member(now, ticket, args, out);
        } else {
            self.join_current_member(now, ticket, args, out);
        }
        if self.state == GroupState::PreparingRebalance {
            self.maybe_complete_join(now, out);
        }
    }

    /// Kafka's `acceptJoiningMember`: while preparing, members already rejoined count against
    /// the limit (so the last to rejoin of an oversized group are the ones turned away).
    fn accepts_joining_member(&self, member_id: &str) -> bool {
        match self.state {
            GroupState::Empty | GroupState::Dead => true,
            GroupState::PreparingRebalance => {
                let rejoined = self.members.iter().filter(|m| m.awaiting_join.is_some());
                self.members
                    .iter()
                    .any(|m| m.id == member_id && m.awaiting_join.is_some())
                    || rejoined.count() < self.max_size
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.member_index(member_id).is_some() || self.members.len() < self.max_size
            }
        }
    }

    /// Kafka's `supportsProtocols`: an empty group takes any non-empty protocol type and list;
    /// otherwise the type must match and some offered protocol be supported by every member.
    fn supports_protocols(&self, protocol_type: &str, protocols: &[Protocol]) -> bool {
        if self.state == GroupState::Empty || self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|p| self.members.iter().all(|m| m.supports(&p.name)))
    }

    fn join_new_member(
        &mut self,
        now: i64,
        ticket: Ticket,
        args: JoinArgs,
        out: &mut Vec<Completion>,
    ) {
        if self.state == GroupState::Dead {
            out.push(Completion::Join(
                ticket,
                JoinResult::error("", ErrorCode::CoordinatorNotAvailable),
            ));
            return;
        }
        if !self.supports_protocols(&args.protocol_type, &args.protocols) {
            out.push(Completion::Join(
                ticket,
                JoinResult::error("", ErrorCode::InconsistentGroupProtocol),
            ));
            return;
        }
        let prefix = args.instance_id.as_deref().unwrap_or(&args.client_id);
        let new_id = new_member_id(prefix);
        match args.instance_id.clone() {
            Some(instance) => match self.static_member_id(&instance).map(str::to_string) {
                Some(old_id) => self.replace_static_member(now, ticket, &old_id, new_id, args, out),
                None => self.add_member_and_rebalance(now, ticket, new_id, args, out),
            },
            None if args.require_known_member_id => {
                tracing::debug!(group = %self.id, member = %new_id, "new member must rejoin with its id");
                let expires = now.saturating_add(args.session_timeout);
                self.pending.insert(new_id.clone(), expires);
                out.push(Completion::Join(
                    ticket,
                    JoinResult::error(new_id, ErrorCode::MemberIdRequired),
                ));
            }
            None => self.add_member_and_rebalance(now, ticket, new_id, args, out),
        }
    }

    fn join_current_member(
        &mut self,
        now: i64,
        ticket: Ticket,
        args: JoinArgs,
        out: &mut Vec<Completion>,
    ) {
        let fail = |out: &mut Vec<Completion>, id: &str, e| {
            out.push(Completion::Join(ticket, JoinResult::error(id, e)));
        };
        if self.state == GroupState::Dead {
            return fail(out, &args.member_id, ErrorCode::CoordinatorNotAvailable);
        }
        if !self.supports_protocols(&args.protocol_type, &args.protocols) {
            return fail(out, &args.member_id, ErrorCode::InconsistentGroupProtocol);
        }
        if self.pending.contains_key(&args.member_id) {
            if args.instance_id.is_some() {
                // Ids handed out with MEMBER_ID_REQUIRED are for dynamic members only; Kafka
                // fails such a request with an internal error.
                return fail(out, &args.member_id, ErrorCode::UnknownMemberId);
            }
            let id = args.member_id.clone();
            return self.add_member_and_rebalance(now, ticket, id, args, out);
        }
        let index = match self.validate_member(&args.member_id, args.instance_id.as_deref()) {
            Ok(i) => i,
            Err(e) => return fail(out, &args.member_id, e),
        };
        match self.state {
            GroupState::PreparingRebalance => {
                self.update_member_and_rebalance(now, index, ticket, args, out)
            }
            GroupState::CompletingRebalance => {
                if self.members[index].matches(&args.protocols) {
                    // Probably a retry of a join whose answer was lost: answer it again.
                    let leader = self.is_leader(&args.member_id);
                    out.push(Completion::Join(
                        ticket,
                        self.current_join_result(&args.member_id, leader),
                    ));
                } else {
                    self.update_member_and_rebalance(now, index, ticket, args, out);
                }
            }
            GroupState::Stable => {
                // The leader rejoining forces a rebalance: that is how a consumer leader
                // reacts to changes that do not show in the metadata (new partitions).
                if self.is_leader(&args.member_id) || !self.members[index].matches(&args.protocols)
                {
                    self.update_member_and_rebalance(now, index, ticket, args, out);
                } else {
                    out.push(Completion::Join(
                        ticket,
                        self.current_join_result(&args.member_id, false),
                    ));
                }
            }
            GroupState::Empty | GroupState::Dead => {
                fail(out, &args.member_id, ErrorCode::UnknownMemberId)
            }
        }
    }

    /// Kafka's `addMemberAndRebalance`.
    fn add_member_and_rebalance(
        &mut self,
        now: i64,
        ticket: Ticket,
        id: String,
        args: JoinArgs,
        out: &mut Vec<Completion>,
    ) {
        if self.members.is_empty() {
            self.protocol_type = Some(args.protocol_type.clone());
        }
        if self.state == GroupState::PreparingRebalance {
            // A member arriving during the initial delay extends it.
            if let Some(InitialDelay {
                new_member_added, ..
            }) = self.join_timer.as_mut().and_then(|t| t.initial.as_mut())
            {
                *new_member_added = true;
            }
        }
        self.pending.remove(&id);
        tracing::info!(group = %self.id, member = %id, instance = ?args.instance_id, "member joins");
        if self.leader.is_none() {
            self.leader = Some(id.clone());
        }
        self.members.push(Member {
            id,
            instance_id: args.instance_id,
            client_id: args.client_id,
            client_host: args.client_host,
            session_timeout: args.session_timeout,
            rebalance_timeout: args.rebalance_timeout,
            protocols: args.protocols,
            assignment: Bytes::new(),
            awaiting_join: Some(ticket),
            awaiting_sync: None,
            is_new: true,
            deadline: now.saturating_add(NEW_MEMBER_JOIN_TIMEOUT),
        });
        self.changed = true;
        self.maybe_prepare_rebalance(now, out);
    }

    /// Kafka's `updateMemberAndRebalance`: new protocols and timeouts, and the member is
    /// counted as rejoined.
    fn update_member_and_rebalance(
        &mut self,
        now: i64,
        index: usize,
        ticket: Ticket,
        args: JoinArgs,
        out: &mut Vec<Completion>,
    ) {
        let m = &mut self.members[index];
        m.protocols = args.protocols;
        m.session_timeout = args.session_timeout;
        m.rebalance_timeout = args.rebalance_timeout;
        if let Some(old) = m.awaiting_join.replace(ticket) {
            // The member re-sent its JoinGroup (a retry): the older request is superseded.
            out.push(Completion::Join(
                old,
                JoinResult::error(m.id.clone(), ErrorCode::RebalanceInProgress),
            ));
        }
        self.maybe_prepare_rebalance(now, out);
    }

    /// Kafka's `updateStaticMemberAndRebalance`: a known static member rejoined without its
    /// member id (typically restarted). The old member id is fenced: its parked requests get
    /// FENCED_INSTANCE_ID, and the member continues under the new id with its assignment.
    fn replace_static_member(
        &mut self,
        now: i64,
        ticket: Ticket,
        old_id: &str,
        new_id: String,
        args: JoinArgs,
        out: &mut Vec<Completion>,
    ) {
        let Some(index) = self.member_index(old_id) else {
            return;
        };
        let old_leader = self.leader.clone().unwrap_or_default();
        let m = &mut self.members[index];
        if let Some(t) = m.awaiting_join.take() {
            out.push(Completion::Join(
                t,
                JoinResult::error(old_id, ErrorCode::FencedInstanceId),
            ));
        }
        if let Some(t) = m.awaiting_sync.take() {
            out.push(Completion::Sync(
                t,
                SyncResult::error(ErrorCode::FencedInstanceId),
            ));
        }
        tracing::info!(group = %self.id, old = %old_id, new = %new_id, instance = ?args.instance_id, "static member rejoins with a new member id");
        m.id = new_id.clone();
        m.protocols = args.protocols;
        m.session_timeout = args.session_timeout;
        m.rebalance_timeout = args.rebalance_timeout;
        m.awaiting_join = Some(ticket);
        m.touch(now);
        if self.leader.as_deref() == Some(old_id) {
            self.leader = Some(new_id.clone());
        }
        if self.pending_sync.remove(old_id) {
            self.pending_sync.insert(new_id.clone());
        }
        self.changed = true;
        match self.state {
            GroupState::Stable => {
                if self.protocol_name.as_deref() == Some(self.select_protocol().as_str()) {
                    self.members[index].awaiting_join = None;
                    let result = if args.supports_skip_assignment {
                        let leader = self.is_leader(&new_id);
                        let mut r = self.current_join_result(&new_id, leader);
                        r.skip_assignment = leader;
                        r
                    } else {
                        // Before v9 a static leader must not see itself as leader, or it would
                        // compute an assignment a Stable group never distributes.
                        let mut r = self.current_join_result(&new_id, false);
                        r.leader = old_leader;
                        r
                    };
                    tracing::info!(group = %self.id, member = %new_id, "static member rejoined without a rebalance");
                    out.push(Completion::Join(ticket, result));
                } else {
                    self.maybe_prepare_rebalance(now, out);
                }
            }
            // The leader may already have been given the old member id to assign to.
            GroupState::CompletingRebalance => self.prepare_rebalance(now, out),
            GroupState::PreparingRebalance | GroupState::Empty | GroupState::Dead => {}
        }
    }
}
