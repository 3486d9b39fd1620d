//! OffsetFetch (key 9), versions 1-9.
//!
//! Committed offsets of the partitions asked for, or of every partition the group has
//! offsets for when the topic list is null (v2+). A partition without one gets offset -1,
//! leader epoch -1 and metadata "" with no error, as does every partition of a group that
//! does not exist. From v8 several groups are fetched at once, each with its own error.
//! `require_stable` (v7+) is accepted and ignored: without transactions no offset is ever
//! pending. The v9 member id and epoch are for KIP-848 groups; classic groups ignore them.

use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequest;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponse, OffsetFetchResponseGroup, OffsetFetchResponsePartition,
    OffsetFetchResponsePartitions, OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::{ErrorCode, KStr};

use crate::state::BrokerState;

/// Offsets found for one group, or its error.
type Fetched = Result<Vec<(String, Vec<(i32, Option<(i64, i32, String)>)>)>, ErrorCode>;

fn fetch(state: &BrokerState, group: &str, topics: Option<Vec<(String, Vec<i32>)>>) -> Fetched {
    let found = state.groups().fetch_offsets(group, topics)?;
    Ok(found
        .into_iter()
        .map(|(topic, partitions)| {
            let partitions = partitions
                .into_iter()
                .map(|(p, o)| (p, o.map(|o| (o.offset, o.leader_epoch, o.metadata))))
                .collect();
            (topic, partitions)
        })
        .collect())
}

pub(crate) fn handle(
    state: &BrokerState,
    req: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    if version >= 8 {
        let groups = req
            .groups
            .into_iter()
            .map(|g| {
                let wanted = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name.to_string(), t.partition_indexes))
                        .collect()
                });
                match fetch(state, &g.group_id, wanted) {
                    Ok(found) => OffsetFetchResponseGroup {
                        group_id: g.group_id,
                        topics: found
                            .into_iter()
                            .map(|(name, partitions)| OffsetFetchResponseTopics {
                                name: KStr::from(name),
                                partitions: partitions
                                    .into_iter()
                                    .map(|(p, o)| {
                                        let (offset, epoch, metadata) =
                                            o.unwrap_or((-1, -1, String::new()));
                                        OffsetFetchResponsePartitions {
                                            partition_index: p,
                                            committed_offset: offset,
                                            committed_leader_epoch: epoch,
                                            metadata: Some(KStr::from(metadata)),
                                            error_code: 0,
                                            ..Default::default()
                                        }
                                    })
                                    .collect(),
                                ..Default::default()
                            })
                            .collect(),
                        error_code: 0,
                        ..Default::default()
                    },
                    Err(e) => OffsetFetchResponseGroup {
                        group_id: g.group_id,
                        error_code: e.code(),
                        ..Default::default()
                    },
                }
            })
            .collect();
        return OffsetFetchResponse {
            groups,
            ..Default::default()
        };
    }
    let wanted: Option<Vec<(String, Vec<i32>)>> = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.to_string(), t.partition_indexes))
            .collect()
    });
    let (found, error) = match fetch(state, &req.group_id, wanted.clone()) {
        Ok(found) => (found, ErrorCode::None),
        // v1 has no top-level error: every partition asked for carries it instead.
        Err(e) => (Vec::new(), e),
    };
    let partition = |p: i32, o: Option<(i64, i32, String)>, e: ErrorCode| {
        let (offset, epoch, metadata) = o.unwrap_or((-1, -1, String::new()));
        OffsetFetchResponsePartition {
            partition_index: p,
            committed_offset: offset,
            committed_leader_epoch: epoch,
            metadata: Some(KStr::from(metadata)),
            error_code: e.code(),
            ..Default::default()
        }
    };
    let topics = if error.is_ok() || version >= 2 {
        found
            .into_iter()
            .map(|(name, ps)| OffsetFetchResponseTopic {
                name: KStr::from(name),
                partitions: ps
                    .into_iter()
                    .map(|(p, o)| partition(p, o, ErrorCode::None))
                    .collect(),
                ..Default::default()
            })
            .collect()
    } else {
        wanted
            .unwrap_or_default()
            .into_iter()
            .map(|(name, ps)| OffsetFetchResponseTopic {
                name: KStr::from(name),
                partitions: ps.into_iter().map(|p| partition(p, None, error)).collect(),
                ..Default::default()
            })
            .collect()
    };
    OffsetFetchResponse {
        topics,
        error_code: error.code(),
        ..Default::default()
    }
}
