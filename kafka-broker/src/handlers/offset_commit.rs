//! OffsetCommit (key 8), versions 2-9.
//!
//! Partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION; the rest go to the group
//! coordinator, which checks the membership (see `ClassicGroup::validate_commit`):
//! generation -1 commits freely to an Empty (or new, "simple") group; otherwise the member,
//! instance id (v7+) and generation must be current (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
//! ILLEGAL_GENERATION; REBALANCE_IN_PROGRESS while the group awaits its assignment). A
//! generation commit to a group that does not exist is ILLEGAL_GENERATION, or
//! GROUP_ID_NOT_FOUND from v9. Metadata longer than `offset_metadata_max_bytes` is
//! OFFSET_METADATA_TOO_LARGE; a null metadata is stored as "". v2-4's `retention_time_ms`
//! (when not -1) gives the offset its own expiry time. The commit is written to the offsets
//! file before it is acknowledged.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::offset_commit_request::OffsetCommitRequest;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponse, OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};

use crate::group::{CommitArgs, NewOffset};
use crate::state::BrokerState;

pub(crate) fn handle(
    state: &BrokerState,
    req: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    let mut offsets = Vec::new();
    // Where each offset sent to the coordinator answers: (topic index, partition index).
    let mut slots = Vec::new();
    for (ti, t) in req.topics.iter().enumerate() {
        let topic = state.topic(&t.name);
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for (pi, p) in t.partitions.iter().enumerate() {
            let known = topic
                .as_ref()
                .is_some_and(|t| t.partition(p.partition_index).is_some());
            let error = if known {
                offsets.push(NewOffset {
                    topic: t.name.to_string(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                });
                slots.push((ti, pi));
                ErrorCode::None
            } else {
                ErrorCode::UnknownTopicOrPartition
            };
            partitions.push(OffsetCommitResponsePartition {
                partition_index: p.partition_index,
                error_code: error.code(),
                ..Default::default()
            });
        }
        topics.push(OffsetCommitResponseTopic {
            name: t.name.clone(),
            partitions,
            ..Default::default()
        });
    }
    if !offsets.is_empty() {
        let args = CommitArgs {
            member_id: req.member_id.to_string(),
            instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
            generation_id: req.generation_id_or_member_epoch,
            version,
            retention_ms: if (2..=4).contains(&version) {
                req.retention_time_ms
            } else {
                -1
            },
        };
        let errors = state.groups().commit(&req.group_id, &args, offsets);
        for ((ti, pi), e) in slots.into_iter().zip(errors) {
            if let Some(p) = topics.get_mut(ti).and_then(|t| t.partitions.get_mut(pi)) {
                p.error_code = e.code();
            }
        }
    }
    OffsetCommitResponse {
        topics,
        ..Default::default()
    }
}
