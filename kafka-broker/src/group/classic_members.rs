//! The requests of a classic group's current members, after Kafka's `GroupCoordinator`:
//! SyncGroup (followers wait for the leader's assignment), Heartbeat, LeaveGroup, and the
//! membership checks of an OffsetCommit.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::ErrorCode;

use super::GroupState;
use super::classic::ClassicGroup;
use super::member::Ticket;
use super::requests::{Completion, LeavingMember, SyncArgs, SyncResult};

impl ClassicGroup {
    /// A SyncGroup: followers park until the leader's arrives with the assignment.
    pub fn sync(&mut self, now: i64, ticket: Ticket, args: SyncArgs, out: &mut Vec<Completion>) {
        match self.sync_inner(now, ticket, args, out) {
            Ok(()) => {}
            Err(error) => out.push(Completion::Sync(ticket, SyncResult::error(error))),
        }
    }

    fn sync_inner(
        &mut self,
        now: i64,
        ticket: Ticket,
        args: SyncArgs,
        out: &mut Vec<Completion>,
    ) -> Result<(), ErrorCode> {
        if self.state == GroupState::Dead {
            return Err(ErrorCode::CoordinatorNotAvailable);
        }
        let index = self.validate_member(&args.member_id, args.instance_id.as_deref())?;
        if args.generation_id != self.generation {
            return Err(ErrorCode::IllegalGeneration);
        }
        if args
            .protocol_type
            .as_ref()
            .is_some_and(|t| self.protocol_type.as_ref() != Some(t))
            || args
                .protocol_name
                .as_ref()
                .is_some_and(|n| self.protocol_name.as_ref() != Some(n))
        {
            return Err(ErrorCode::InconsistentGroupProtocol);
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => Err(ErrorCode::UnknownMemberId),
            GroupState::PreparingRebalance => Err(ErrorCode::RebalanceInProgress),
            GroupState::CompletingRebalance => {
                if let Some(old) = self.members[index].awaiting_sync.replace(ticket) {
                    out.push(Completion::Sync(
                        old,
                        SyncResult::error(ErrorCode::RebalanceInProgress),
                    ));
                }
                self.remove_pending_sync(&args.member_id);
                if self.is_leader(&args.member_id) {
                    let assignments: BTreeMap<&str, Bytes> = args
                        .assignments
                        .iter()
                        .map(|(id, a)| (id.as_str(), a.clone()))
                        .collect();
                    tracing::info!(group = %self.id, generation = self.generation, "assignment received from the leader");
                    self.propagate_assignment(now, Some(&assignments), ErrorCode::None, out);
                    self.transition(now, GroupState::Stable);
                }
                Ok(())
            }
            GroupState::Stable => {
                self.remove_pending_sync(&args.member_id);
                let m = &mut self.members[index];
                out.push(Completion::Sync(
                    ticket,
                    SyncResult {
                        error: ErrorCode::None,
                        protocol_type: self.protocol_type.clone(),
                        protocol_name: self.protocol_name.clone(),
                        assignment: m.assignment.clone(),
                    },
                ));
                m.touch(now);
                Ok(())
            }
        }
    }

    fn remove_pending_sync(&mut self, member_id: &str) {
        self.pending_sync.remove(member_id);
        if self.pending_sync.is_empty() {
            self.sync_deadline = None;
        }
    }

    /// A Heartbeat: restarts the member's session; REBALANCE_IN_PROGRESS tells it to rejoin.
    pub fn heartbeat(
        &mut self,
        now: i64,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> ErrorCode {
        if self.state == GroupState::Dead {
            return ErrorCode::CoordinatorNotAvailable;
        }
        let index = match self.validate_member(member_id, instance_id) {
            Ok(i) => i,
            Err(e) => return e,
        };
        if generation_id != self.generation {
            return ErrorCode::IllegalGeneration;
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => ErrorCode::UnknownMemberId,
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.members[index].touch(now);
                ErrorCode::None
            }
            GroupState::PreparingRebalance => {
                self.members[index].touch(now);
                ErrorCode::RebalanceInProgress
            }
        }
    }

    /// A LeaveGroup: one error per member named (static members may be named by instance id
    /// alone, which is how admins remove them).
    pub fn leave(
        &mut self,
        now: i64,
        leaving: &[LeavingMember],
        out: &mut Vec<Completion>,
    ) -> Vec<ErrorCode> {
        let mut errors = Vec::with_capacity(leaving.len());
        for l in leaving {
            let error = if l.member_id.is_empty() {
                let current = l
                    .instance_id
                    .as_deref()
                    .and_then(|i| self.static_member_id(i))
                    .and_then(|id| self.member_index(id));
                match current {
                    Some(index) => {
                        self.remove_member_and_update(now, index, out);
                        ErrorCode::None
                    }
                    None => ErrorCode::UnknownMemberId,
                }
            } else if self.pending.remove(&l.member_id).is_some() {
                if self.state == GroupState::PreparingRebalance {
                    self.maybe_complete_join(now, out);
                }
                ErrorCode::None
            } else {
                match self.validate_member(&l.member_id, l.instance_id.as_deref()) {
                    Ok(index) => {
                        tracing::info!(group = %self.id, member = %l.member_id, "member left");
                        self.remove_member_and_update(now, index, out);
                        ErrorCode::None
                    }
                    Err(e) => e,
                }
            };
            errors.push(error);
        }
        errors
    }

    /// The membership checks of an OffsetCommit (Kafka's `validateOffsetCommit` and
    /// `doCommitOffsets`): generation -1 commits to an Empty group freely (simple consumers,
    /// admin tools); otherwise the member and generation must be current, and a commit while
    /// CompletingRebalance gets REBALANCE_IN_PROGRESS. A valid member commit restarts the
    /// member's session.
    pub fn validate_commit(
        &mut self,
        now: i64,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), ErrorCode> {
        if self.state == GroupState::Dead {
            return Err(ErrorCode::CoordinatorNotAvailable);
        }
        if generation_id < 0 && self.state == GroupState::Empty {
            return Ok(());
        }
        let index = if generation_id >= 0 || !member_id.is_empty() || instance_id.is_some() {
            let index = self.validate_member(member_id, instance_id)?;
            if generation_id != self.generation {
                return Err(ErrorCode::IllegalGeneration);
            }
            Some(index)
        } else if self.state != GroupState::Empty {
            return Err(ErrorCode::UnknownMemberId);
        } else {
            None
        };
        match self.state {
            GroupState::CompletingRebalance => Err(ErrorCode::RebalanceInProgress),
            GroupState::Stable | GroupState::PreparingRebalance => {
                if let Some(m) = index.and_then(|i| self.members.get_mut(i)) {
                    m.touch(now);
                }
                Ok(())
            }
            GroupState::Empty | GroupState::Dead => Ok(()),
        }
    }
}
