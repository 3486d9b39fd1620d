//! Every group this broker coordinates, and the group-level rules of each group API: group id
//! validity, coordinator ownership, session timeout bounds, which groups a request may
//! create, committed offsets and their persistence, listing, describing and deletion.
//!
//! Still sans-IO: the time comes in as `now` (milliseconds), answers to parked requests
//! collect in an outbox ([`Coordinator::take_completions`]), and offset changes go through an
//! [`OffsetSink`] *before* they are applied in memory, so a failed write changes nothing.
//!
//! A group exists while it has members, pending members or committed offsets; an Empty group
//! with none of those is dropped by the periodic offsets sweep (as Kafka's cleanup does), and
//! DeleteGroups drops an Empty group with its offsets.

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::ErrorCode;

use super::classic::{CONSUMER_PROTOCOL, ClassicGroup};
use super::member::Ticket;
use super::offsets::{CommittedOffset, ExpiryBase, GroupOffsets};
use super::offsets_log::{OffsetRecord, OffsetSink};
use super::requests::{
    Completion, GroupDescription, JoinArgs, JoinResult, LeavingMember, SyncArgs, SyncResult,
};
use super::routing::{self, KeyType};
use super::{GroupConfig, GroupState, GroupStatus, millis};

/// The membership part of an OffsetCommit.
#[derive(Debug, Clone, Default)]
pub(crate) struct CommitArgs {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub generation_id: i32,
    /// The request version (v9 answers an unknown group with GROUP_ID_NOT_FOUND).
    pub version: i16,
    /// OffsetCommit v2-4's retention; -1 (and every later version) means the broker's.
    pub retention_ms: i64,
}

/// One partition's offset in an OffsetCommit (its topic and partition already checked).
#[derive(Debug, Clone)]
pub(crate) struct NewOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// A group in ListGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub group_id: String,
    pub protocol_type: String,
    pub state: GroupState,
}

/// The only group type this broker has (ListGroups v5's `group_type`).
pub(crate) const CLASSIC_TYPE: &str = "classic";

#[derive(Debug)]
struct Entry {
    group: ClassicGroup,
    offsets: GroupOffsets,
}

/// All groups of this broker.
#[derive(Debug)]
pub(crate) struct Coordinator {
    config: GroupConfig,
    node_id: i32,
    /// The brokers coordinators are spread over (only this one today).
    nodes: Vec<i32>,
    groups: HashMap<String, Entry>,
    next_sweep: i64,
    out: Vec<Completion>,
    changed: bool,
}

impl Coordinator {
    pub fn new(config: GroupConfig, node_id: i32, now: i64) -> Self {
        Self {
            config,
            node_id,
            nodes: vec![node_id],
            groups: HashMap::new(),
            next_sweep: now.saturating_add(millis(config.offsets_retention_check_interval)),
            out: Vec::new(),
            changed: false,
        }
    }

    /// Loads the commits replayed from the offsets file: their groups start Empty.
    pub fn restore(&mut self, now: i64, records: Vec<OffsetRecord>) {
        for r in records {
            if let OffsetRecord::Commit {
                group,
                topic,
                partition,
                offset,
            } = r
            {
                self.entry(&group, now)
                    .offsets
                    .insert(topic, partition, offset);
            }
        }
    }

    /// The node coordinating `key` (FindCoordinator).
    pub fn coordinator_for(&self, key: &str, key_type: KeyType) -> Option<i32> {
        routing::coordinator_for(key, key_type, &self.nodes)
    }

    /// Whether this broker coordinates `group_id`.
    pub fn owns(&self, group_id: &str) -> bool {
        self.coordinator_for(group_id, KeyType::Group) == Some(self.node_id)
    }

    /// Kafka's `validateGroupStatus`: offset APIs, DescribeGroups and DeleteGroups accept the
    /// empty group id (for old clients and tools); membership APIs need a real one.
    fn check_group_id(&self, group_id: &str, empty_allowed: bool) -> Result<(), ErrorCode> {
        if group_id.is_empty() && !empty_allowed {
            Err(ErrorCode::InvalidGroupId)
        } else if !self.owns(group_id) {
            Err(ErrorCode::NotCoordinator)
        } else {
            Ok(())
        }
    }

    fn entry(&mut self, group_id: &str, now: i64) -> &mut Entry {
        let config = self.config;
        self.groups
            .entry(group_id.to_string())
            .or_insert_with(|| Entry {
                group: ClassicGroup::new(group_id, now, &config),
                offsets: GroupOffsets::default(),
            })
    }

    /// Notes whether the group's state or generation changed.
    fn note(&mut self, group_id: &str) {
        if let Some(e) = self.groups.get_mut(group_id) {
            self.changed |= e.group.take_changed();
        }
    }

    /// Answers to parked (and immediate) JoinGroup and SyncGroup requests.
    pub fn take_completions(&mut self) -> Vec<Completion> {
        std::mem::take(&mut self.out)
    }

    /// Whether any group's state or generation changed since the last call.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// A JoinGroup. Only a member without an id may create the group.
    pub fn join(&mut self, now: i64, ticket: Ticket, group_id: &str, args: JoinArgs) {
        if let Err(e) = self.check_group_id(group_id, false) {
            self.out.push(Completion::Join(
                ticket,
                JoinResult::error(args.member_id, e),
            ));
            return;
        }
        let (min, max) = (
            millis(self.config.min_session_timeout),
            millis(self.config.max_session_timeout),
        );
        if args.session_timeout < min || args.session_timeout > max {
            self.out.push(Completion::Join(
                ticket,
                JoinResult::error(args.member_id, ErrorCode::InvalidSessionTimeout),
            ));
            return;
        }
        if args.member_id.is_empty() {
            self.entry(group_id, now);
        }
        let Some(entry) = self.groups.get_mut(group_id) else {
            self.out.push(Completion::Join(
                ticket,
                JoinResult::error(args.member_id, ErrorCode::UnknownMemberId),
            ));
            return;
        };
        entry.group.join(now, ticket, args, &mut self.out);
        self.note(group_id);
    }

    /// A SyncGroup.
    pub fn sync(&mut self, now: i64, ticket: Ticket, group_id: &str, args: SyncArgs) {
        let found = self.check_group_id(group_id, false).and_then(|()| {
            self.groups
                .get_mut(group_id)
                .ok_or(ErrorCode::UnknownMemberId)
        });
        match found {
            Ok(entry) => entry.group.sync(now, ticket, args, &mut self.out),
            Err(e) => self
                .out
                .push(Completion::Sync(ticket, SyncResult::error(e))),
        }
        self.note(group_id);
    }

    /// A Heartbeat.
    pub fn heartbeat(
        &mut self,
        now: i64,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> ErrorCode {
        if let Err(e) = self.check_group_id(group_id, false) {
            return e;
        }
        let Some(entry) = self.groups.get_mut(group_id) else {
            return ErrorCode::UnknownMemberId;
        };
        let e = entry
            .group
            .heartbeat(now, member_id, instance_id, generation_id);
        self.note(group_id);
        e
    }

    /// A LeaveGroup: a group-level error, or one error per member.
    pub fn leave(
        &mut self,
        now: i64,
        group_id: &str,
        members: &[LeavingMember],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        self.check_group_id(group_id, false)?;
        let Some(entry) = self.groups.get_mut(group_id) else {
            return Ok(vec![ErrorCode::UnknownMemberId; members.len()]);
        };
        if entry.group.state() == GroupState::Dead {
            return Err(ErrorCode::CoordinatorNotAvailable);
        }
        let errors = entry.group.leave(now, members, &mut self.out);
        self.note(group_id);
        Ok(errors)
    }

    /// An OffsetCommit of partitions already known to exist: one error per offset. A commit
    /// with generation -1 to an unknown group creates a "simple" group that only stores
    /// offsets.
    pub fn commit(
        &mut self,
        now: i64,
        group_id: &str,
        args: &CommitArgs,
        offsets: Vec<NewOffset>,
        sink: &mut dyn OffsetSink,
    ) -> Vec<ErrorCode> {
        let all = |e: ErrorCode| vec![e; offsets.len()];
        if offsets.is_empty() {
            return Vec::new();
        }
        if let Err(e) = self.check_group_id(group_id, true) {
            return all(e);
        }
        if !self.groups.contains_key(group_id) {
            if args.generation_id < 0 {
                tracing::info!(
                    group = group_id,
                    "creating a simple group from an offset commit"
                );
                self.entry(group_id, now);
            } else if args.version >= 9 {
                return all(ErrorCode::GroupIdNotFound);
            } else {
                return all(ErrorCode::IllegalGeneration);
            }
        }
        let max_metadata = self.config.offset_metadata_max_bytes;
        let Some(entry) = self.groups.get_mut(group_id) else {
            return all(ErrorCode::CoordinatorNotAvailable);
        };
        if let Err(e) = entry.group.validate_commit(
            now,
            &args.member_id,
            args.instance_id.as_deref(),
            args.generation_id,
        ) {
            return all(e);
        }
        let expire = (args.retention_ms >= 0).then(|| now.saturating_add(args.retention_ms));
        let mut errors = Vec::with_capacity(offsets.len());
        let mut records = Vec::with_capacity(offsets.len());
        for o in offsets {
            let metadata = o.metadata.unwrap_or_default();
            if metadata.len() > max_metadata {
                errors.push(ErrorCode::OffsetMetadataTooLarge);
                continue;
            }
            errors.push(ErrorCode::None);
            records.push(OffsetRecord::Commit {
                group: group_id.to_string(),
                topic: o.topic,
                partition: o.partition,
                offset: CommittedOffset {
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata,
                    commit_timestamp: now,
                    expire_timestamp: expire,
                },
            });
        }
        if records.is_empty() {
            return errors;
        }
        if let Err(e) = sink.append(&records) {
            tracing::error!(group = group_id, error = %e, "cannot persist committed offsets");
            for err in errors.iter_mut().filter(|e| e.is_ok()) {
                *err = ErrorCode::CoordinatorNotAvailable;
            }
            return errors;
        }
        for r in records {
            if let OffsetRecord::Commit {
                topic,
                partition,
                offset,
                ..
            } = r
            {
                entry.offsets.insert(topic, partition, offset);
            }
        }
        errors
    }

    /// An OffsetFetch of one group: the offsets asked for (`None`: all the group has), `None`
    /// for partitions without one.
    #[allow(clippy::type_complexity)]
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<Vec<(String, Vec<(i32, Option<CommittedOffset>)>)>, ErrorCode> {
        self.check_group_id(group_id, true)?;
        let offsets = self.groups.get(group_id).map(|e| &e.offsets);
        Ok(match topics {
            Some(topics) => topics
                .into_iter()
                .map(|(topic, partitions)| {
                    let found = partitions
                        .into_iter()
                        .map(|p| (p, offsets.and_then(|o| o.get(&topic, p)).cloned()))
                        .collect();
                    (topic, found)
                })
                .collect(),
            None => {
                let mut by_topic: BTreeMap<String, Vec<(i32, Option<CommittedOffset>)>> =
                    BTreeMap::new();
                for ((topic, p), o) in offsets.into_iter().flat_map(|o| o.iter()) {
                    by_topic
                        .entry(topic.clone())
                        .or_default()
                        .push((*p, Some(o.clone())));
                }
                by_topic.into_iter().collect()
            }
        })
    }

    /// ListGroups, filtered by state and type names (case-insensitive; empty: no filter).
    pub fn list(&self, states: &[String], types: &[String]) -> Vec<Listed> {
        let states: Vec<String> = states.iter().map(|s| s.to_lowercase()).collect();
        let types_ok =
            types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case(CLASSIC_TYPE));
        if !types_ok {
            return Vec::new();
        }
        let mut out: Vec<Listed> = self
            .groups
            .iter()
            .filter(|(_, e)| e.group.state() != GroupState::Dead)
            .filter(|(_, e)| {
                states.is_empty() || states.contains(&e.group.state().name().to_lowercase())
            })
            .map(|(id, e)| Listed {
                group_id: id.clone(),
                protocol_type: e.group.protocol_type().unwrap_or_default().to_string(),
                state: e.group.state(),
            })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// DescribeGroups of one group; an unknown group is described as Dead with no members.
    pub fn describe(&self, group_id: &str) -> Result<GroupDescription, ErrorCode> {
        self.check_group_id(group_id, true)?;
        Ok(match self.groups.get(group_id) {
            Some(e) => e.group.describe(),
            None => GroupDescription {
                state: GroupState::Dead,
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            },
        })
    }

    /// The status of a group, for the wait-for hooks.
    pub fn status(&self, group_id: &str) -> Option<GroupStatus> {
        self.groups.get(group_id).map(|e| e.group.status())
    }

    /// DeleteGroups of one group: only an Empty group can go, with its offsets.
    pub fn delete_group(
        &mut self,
        now: i64,
        group_id: &str,
        sink: &mut dyn OffsetSink,
    ) -> ErrorCode {
        if let Err(e) = self.check_group_id(group_id, true) {
            return e;
        }
        let Some(entry) = self.groups.get_mut(group_id) else {
            return ErrorCode::GroupIdNotFound;
        };
        match entry.group.state() {
            GroupState::Dead => return ErrorCode::GroupIdNotFound,
            GroupState::Empty => {}
            _ => return ErrorCode::NonEmptyGroup,
        }
        let tombstones: Vec<OffsetRecord> = entry
            .offsets
            .iter()
            .map(|((topic, partition), _)| OffsetRecord::Delete {
                group: group_id.to_string(),
                topic: topic.clone(),
                partition: *partition,
            })
            .collect();
        if let Err(e) = sink.append(&tombstones) {
            tracing::error!(group = group_id, error = %e, "cannot persist a group deletion");
            return ErrorCode::CoordinatorNotAvailable;
        }
        entry.group.mark_dead(now);
        self.changed = true;
        self.groups.remove(group_id);
        tracing::info!(
            group = group_id,
            offsets = tombstones.len(),
            "group deleted"
        );
        ErrorCode::None
    }

    /// OffsetDelete of partitions already known to exist: a group-level error, or one error
    /// per partition. A consumer group may not lose the offsets of topics it subscribes to.
    pub fn delete_offsets(
        &mut self,
        group_id: &str,
        partitions: &[(String, i32)],
        sink: &mut dyn OffsetSink,
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        self.check_group_id(group_id, false)?;
        let entry = self
            .groups
            .get_mut(group_id)
            .ok_or(ErrorCode::GroupIdNotFound)?;
        let group = &entry.group;
        let mut errors = match group.state() {
            GroupState::Dead => return Err(ErrorCode::GroupIdNotFound),
            GroupState::Empty => vec![ErrorCode::None; partitions.len()],
            _ if group.protocol_type() == Some(CONSUMER_PROTOCOL) => partitions
                .iter()
                .map(|(topic, _)| {
                    if group.is_subscribed_to(topic) {
                        ErrorCode::GroupSubscribedToTopic
                    } else {
                        ErrorCode::None
                    }
                })
                .collect(),
            _ => return Err(ErrorCode::NonEmptyGroup),
        };
        let doomed: Vec<usize> = (0..partitions.len())
            .filter(|&i| errors[i].is_ok())
            .filter(|&i| {
                let (t, p) = &partitions[i];
                entry.offsets.get(t, *p).is_some()
            })
            .collect();
        let tombstones: Vec<OffsetRecord> = doomed
            .iter()
            .map(|&i| OffsetRecord::Delete {
                group: group_id.to_string(),
                topic: partitions[i].0.clone(),
                partition: partitions[i].1,
            })
            .collect();
        if let Err(e) = sink.append(&tombstones) {
            tracing::error!(group = group_id, error = %e, "cannot persist an offset deletion");
            for &i in &doomed {
                errors[i] = ErrorCode::CoordinatorNotAvailable;
            }
            return Ok(errors);
        }
        for &i in &doomed {
            entry.offsets.remove(&partitions[i].0, partitions[i].1);
        }
        Ok(errors)
    }

    /// Removes every group's offsets of `topic` (the topic was deleted).
    pub fn remove_topic_offsets(&mut self, topic: &str, sink: &mut dyn OffsetSink) {
        let mut tombstones = Vec::new();
        for (id, e) in &self.groups {
            for ((t, partition), _) in e.offsets.iter().filter(|((t, _), _)| t == topic) {
                tombstones.push(OffsetRecord::Delete {
                    group: id.clone(),
                    topic: t.clone(),
                    partition: *partition,
                });
            }
        }
        if tombstones.is_empty() {
            return;
        }
        if let Err(e) = sink.append(&tombstones) {
            // Kept in memory too: memory and file must agree. A re-created topic of the same
            // name would then see these offsets, as it would have before deletion.
            tracing::error!(topic, error = %e, "cannot persist the removal of a deleted topic's offsets");
            return;
        }
        for t in tombstones {
            if let OffsetRecord::Delete {
                group,
                topic,
                partition,
            } = t
                && let Some(e) = self.groups.get_mut(&group)
            {
                e.offsets.remove(&topic, partition);
            }
        }
        tracing::info!(topic, "committed offsets of the deleted topic removed");
    }

    /// The earliest timer of any group, or the next offsets sweep.
    pub fn next_deadline(&self) -> i64 {
        self.groups
            .values()
            .filter_map(|e| e.group.next_deadline())
            .fold(self.next_sweep, i64::min)
    }

    /// Fires every due timer, and the offsets sweep when it is due.
    pub fn tick(&mut self, now: i64, sink: &mut dyn OffsetSink) {
        for e in self.groups.values_mut() {
            if e.group.next_deadline().is_some_and(|d| d <= now) {
                e.group.tick(now, &mut self.out);
            }
            self.changed |= e.group.take_changed();
        }
        if now >= self.next_sweep {
            self.next_sweep =
                now.saturating_add(millis(self.config.offsets_retention_check_interval).max(1));
            self.sweep(now, sink);
        }
    }

    /// Kafka's `cleanupGroupMetadata`: expire offsets, then drop Empty groups left with no
    /// offsets.
    pub fn sweep(&mut self, now: i64, sink: &mut dyn OffsetSink) {
        let retention = millis(self.config.offsets_retention);
        let mut tombstones = Vec::new();
        for (id, e) in &self.groups {
            let g = &e.group;
            let base = match (g.protocol_type(), g.state()) {
                (Some(_), GroupState::Empty) => ExpiryBase::Since(g.state_since()),
                (Some(CONSUMER_PROTOCOL), GroupState::Stable)
                    if g.subscribed_topics().is_some() =>
                {
                    ExpiryBase::CommitTime {
                        keep_topics: g.subscribed_topics(),
                    }
                }
                (None, _) => ExpiryBase::CommitTime { keep_topics: None },
                _ => ExpiryBase::Never,
            };
            for (topic, partition) in e.offsets.expired(now, retention, base) {
                tombstones.push(OffsetRecord::Delete {
                    group: id.clone(),
                    topic,
                    partition,
                });
            }
        }
        if !tombstones.is_empty() {
            if let Err(e) = sink.append(&tombstones) {
                tracing::error!(error = %e, "cannot persist expired offsets; keeping them");
                return;
            }
            tracing::info!(
                offsets = tombstones.len(),
                "expired committed offsets removed"
            );
        }
        for t in tombstones {
            if let OffsetRecord::Delete {
                group,
                topic,
                partition,
            } = t
                && let Some(e) = self.groups.get_mut(&group)
            {
                e.offsets.remove(&topic, partition);
            }
        }
        self.groups.retain(|_, e| {
            e.group.state() != GroupState::Empty
                || !e.offsets.is_empty()
                || e.group.has_pending_members()
        });
    }

    /// How many offsets are committed (live records of the offsets file).
    pub fn offset_count(&self) -> usize {
        self.groups.values().map(|e| e.offsets.len()).sum()
    }

    /// Every committed offset as a record (to rewrite the offsets file).
    pub fn offset_records(&self) -> Vec<OffsetRecord> {
        let mut out = Vec::with_capacity(self.offset_count());
        for (id, e) in &self.groups {
            for ((topic, partition), offset) in e.offsets.iter() {
                out.push(OffsetRecord::Commit {
                    group: id.clone(),
                    topic: topic.clone(),
                    partition: *partition,
                    offset: offset.clone(),
                });
            }
        }
        out
    }
}
