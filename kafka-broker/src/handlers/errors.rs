//! Whole-request error answers: the response a request gets when it fails as a whole, with
//! `code` in every place the API reports errors (each partition, topic, group or key of
//! the request). Used for injected faults (`cluster::faults`) and for group requests sent
//! to a broker that does not coordinate the group (NOT_COORDINATOR). Nothing is applied.
//!
//! Metadata is not answered here: an injected Metadata error is set on the topics of the
//! real answer, so that clients still learn the brokers.

use kafka_protocol::messages::{ApiKey, RequestBody, ResponseBody};
use kafka_protocol::{ErrorCode, KStr};

use kafka_protocol::messages::{
    api_versions_response, create_partitions_response, create_topics_response,
    delete_groups_response, delete_records_response, delete_topics_response,
    describe_groups_response, fetch_response, find_coordinator_response, heartbeat_response,
    init_producer_id_response, join_group_response, leave_group_response, list_groups_response,
    list_offsets_response, offset_commit_response, offset_delete_response, offset_fetch_response,
    produce_response, sync_group_response,
};

/// The APIs [`error_response`] can answer.
pub(crate) const FAILABLE: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::SyncGroup,
    ApiKey::DescribeGroups,
    ApiKey::ListGroups,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::DeleteRecords,
    ApiKey::InitProducerId,
    ApiKey::CreatePartitions,
    ApiKey::DeleteGroups,
    ApiKey::OffsetDelete,
];

/// The answer to `body` (at `version`) failing with `code` everywhere; `None` for an API
/// not in [`FAILABLE`] (and Metadata, see the module docs).
pub(crate) fn error_response(
    body: &RequestBody,
    version: i16,
    code: ErrorCode,
) -> Option<ResponseBody> {
    let e = code.code();
    let msg = || Some(KStr::from_static(code.name()));
    Some(match body {
        RequestBody::Produce(r) => ResponseBody::Produce(produce_response::ProduceResponse {
            responses: r
                .topic_data
                .iter()
                .map(|t| produce_response::TopicProduceResponse {
                    name: t.name.clone(),
                    partition_responses: t
                        .partition_data
                        .iter()
                        .map(|p| produce_response::PartitionProduceResponse {
                            index: p.index,
                            error_code: e,
                            base_offset: -1,
                            log_append_time_ms: -1,
                            log_start_offset: -1,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::Fetch(r) => ResponseBody::Fetch(fetch_response::FetchResponse {
            error_code: 0,
            session_id: 0,
            responses: r
                .topics
                .iter()
                .map(|t| fetch_response::FetchableTopicResponse {
                    topic: if version < 13 {
                        t.topic.clone()
                    } else {
                        KStr::default()
                    },
                    topic_id: t.topic_id,
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| fetch_response::PartitionData {
                            partition_index: p.partition,
                            error_code: e,
                            high_watermark: -1,
                            last_stable_offset: -1,
                            log_start_offset: -1,
                            aborted_transactions: None,
                            preferred_read_replica: -1,
                            records: Some(bytes::Bytes::new()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::ListOffsets(r) => {
            ResponseBody::ListOffsets(list_offsets_response::ListOffsetsResponse {
                topics: r
                    .topics
                    .iter()
                    .map(|t| list_offsets_response::ListOffsetsTopicResponse {
                        name: t.name.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| list_offsets_response::ListOffsetsPartitionResponse {
                                partition_index: p.partition_index,
                                error_code: e,
                                timestamp: -1,
                                offset: -1,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::DeleteRecords(r) => {
            ResponseBody::DeleteRecords(delete_records_response::DeleteRecordsResponse {
                topics: r
                    .topics
                    .iter()
                    .map(|t| delete_records_response::DeleteRecordsTopicResult {
                        name: t.name.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| delete_records_response::DeleteRecordsPartitionResult {
                                partition_index: p.partition_index,
                                low_watermark: -1,
                                error_code: e,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::OffsetCommit(r) => {
            ResponseBody::OffsetCommit(offset_commit_response::OffsetCommitResponse {
                topics: r
                    .topics
                    .iter()
                    .map(|t| offset_commit_response::OffsetCommitResponseTopic {
                        name: t.name.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| offset_commit_response::OffsetCommitResponsePartition {
                                partition_index: p.partition_index,
                                error_code: e,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::OffsetFetch(r) => {
            if version >= 8 {
                ResponseBody::OffsetFetch(offset_fetch_response::OffsetFetchResponse {
                    groups: r
                        .groups
                        .iter()
                        .map(|g| offset_fetch_response::OffsetFetchResponseGroup {
                            group_id: g.group_id.clone(),
                            error_code: e,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
            } else {
                ResponseBody::OffsetFetch(offset_fetch_response::OffsetFetchResponse {
                    // Partition-level errors are only read below v2; set both.
                    topics: r
                        .topics
                        .iter()
                        .flatten()
                        .map(|t| offset_fetch_response::OffsetFetchResponseTopic {
                            name: t.name.clone(),
                            partitions: t
                                .partition_indexes
                                .iter()
                                .map(|&p| offset_fetch_response::OffsetFetchResponsePartition {
                                    partition_index: p,
                                    committed_offset: -1,
                                    committed_leader_epoch: -1,
                                    metadata: Some(KStr::default()),
                                    error_code: e,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    error_code: if version >= 2 { e } else { 0 },
                    ..Default::default()
                })
            }
        }
        RequestBody::FindCoordinator(r) => {
            if version >= 4 {
                ResponseBody::FindCoordinator(find_coordinator_response::FindCoordinatorResponse {
                    coordinators: r
                        .coordinator_keys
                        .iter()
                        .map(|k| find_coordinator_response::Coordinator {
                            key: k.clone(),
                            node_id: -1,
                            host: KStr::default(),
                            port: -1,
                            error_code: e,
                            error_message: msg(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
            } else {
                ResponseBody::FindCoordinator(find_coordinator_response::FindCoordinatorResponse {
                    error_code: e,
                    error_message: if version >= 1 { msg() } else { None },
                    node_id: -1,
                    host: KStr::default(),
                    port: -1,
                    ..Default::default()
                })
            }
        }
        RequestBody::JoinGroup(r) => {
            ResponseBody::JoinGroup(join_group_response::JoinGroupResponse {
                error_code: e,
                generation_id: -1,
                protocol_name: if version < 7 {
                    Some(KStr::default())
                } else {
                    None
                },
                leader: KStr::default(),
                member_id: r.member_id.clone(),
                ..Default::default()
            })
        }
        RequestBody::Heartbeat(_) => {
            ResponseBody::Heartbeat(heartbeat_response::HeartbeatResponse {
                error_code: e,
                ..Default::default()
            })
        }
        RequestBody::LeaveGroup(r) => {
            ResponseBody::LeaveGroup(leave_group_response::LeaveGroupResponse {
                error_code: e,
                members: if version >= 3 {
                    r.members
                        .iter()
                        .map(|m| leave_group_response::MemberResponse {
                            member_id: m.member_id.clone(),
                            group_instance_id: m.group_instance_id.clone(),
                            error_code: e,
                            ..Default::default()
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                ..Default::default()
            })
        }
        RequestBody::SyncGroup(_) => {
            ResponseBody::SyncGroup(sync_group_response::SyncGroupResponse {
                error_code: e,
                ..Default::default()
            })
        }
        RequestBody::DescribeGroups(r) => {
            ResponseBody::DescribeGroups(describe_groups_response::DescribeGroupsResponse {
                groups: r
                    .groups
                    .iter()
                    .map(|g| describe_groups_response::DescribedGroup {
                        error_code: e,
                        group_id: g.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::ListGroups(_) => {
            ResponseBody::ListGroups(list_groups_response::ListGroupsResponse {
                error_code: e,
                ..Default::default()
            })
        }
        RequestBody::ApiVersions(_) => {
            ResponseBody::ApiVersions(api_versions_response::ApiVersionsResponse {
                error_code: e,
                ..Default::default()
            })
        }
        RequestBody::CreateTopics(r) => {
            ResponseBody::CreateTopics(create_topics_response::CreateTopicsResponse {
                topics: r
                    .topics
                    .iter()
                    .map(|t| create_topics_response::CreatableTopicResult {
                        name: t.name.clone(),
                        error_code: e,
                        error_message: msg(),
                        num_partitions: -1,
                        replication_factor: -1,
                        configs: None,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::DeleteTopics(r) => {
            let names: Vec<Option<KStr>> = if version >= 6 {
                r.topics.iter().map(|t| t.name.clone()).collect()
            } else {
                r.topic_names.iter().cloned().map(Some).collect()
            };
            ResponseBody::DeleteTopics(delete_topics_response::DeleteTopicsResponse {
                responses: names
                    .into_iter()
                    .zip(
                        r.topics
                            .iter()
                            .map(|t| t.topic_id)
                            .chain(std::iter::repeat(kafka_protocol::Uuid::ZERO)),
                    )
                    .map(|(name, id)| delete_topics_response::DeletableTopicResult {
                        name,
                        topic_id: if version >= 6 { id } else { Default::default() },
                        error_code: e,
                        error_message: if version >= 5 { msg() } else { None },
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::InitProducerId(_) => {
            ResponseBody::InitProducerId(init_producer_id_response::InitProducerIdResponse {
                error_code: e,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            })
        }
        RequestBody::CreatePartitions(r) => {
            ResponseBody::CreatePartitions(create_partitions_response::CreatePartitionsResponse {
                results: r
                    .topics
                    .iter()
                    .map(
                        |t| create_partitions_response::CreatePartitionsTopicResult {
                            name: t.name.clone(),
                            error_code: e,
                            error_message: msg(),
                            ..Default::default()
                        },
                    )
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::DeleteGroups(r) => {
            ResponseBody::DeleteGroups(delete_groups_response::DeleteGroupsResponse {
                results: r
                    .groups_names
                    .iter()
                    .map(|g| delete_groups_response::DeletableGroupResult {
                        group_id: g.clone(),
                        error_code: e,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::OffsetDelete(_) => {
            ResponseBody::OffsetDelete(offset_delete_response::OffsetDeleteResponse {
                error_code: e,
                ..Default::default()
            })
        }
        _ => return None,
    })
}

/// The group a group-coordinator request is about, for routing (NOT_COORDINATOR): its
/// group id, or with several (DescribeGroups, DeleteGroups, batched OffsetFetch) the ones
/// named. Transactional InitProducerId requests are routed by transactional id.
pub(crate) fn coordinator_keys(body: &RequestBody) -> Vec<(&str, crate::group::routing::KeyType)> {
    use crate::group::routing::KeyType::{Group, Transaction};
    match body {
        RequestBody::JoinGroup(r) => vec![(r.group_id.as_str(), Group)],
        RequestBody::SyncGroup(r) => vec![(r.group_id.as_str(), Group)],
        RequestBody::Heartbeat(r) => vec![(r.group_id.as_str(), Group)],
        RequestBody::LeaveGroup(r) => vec![(r.group_id.as_str(), Group)],
        RequestBody::OffsetCommit(r) => vec![(r.group_id.as_str(), Group)],
        RequestBody::OffsetDelete(r) => vec![(r.group_id.as_str(), Group)],
        RequestBody::OffsetFetch(r) if r.groups.is_empty() => vec![(r.group_id.as_str(), Group)],
        RequestBody::OffsetFetch(r) => r
            .groups
            .iter()
            .map(|g| (g.group_id.as_str(), Group))
            .collect(),
        RequestBody::DescribeGroups(r) => r.groups.iter().map(|g| (g.as_str(), Group)).collect(),
        RequestBody::DeleteGroups(r) => {
            r.groups_names.iter().map(|g| (g.as_str(), Group)).collect()
        }
        RequestBody::InitProducerId(r) => r
            .transactional_id
            .iter()
            .map(|t| (t.as_str(), Transaction))
            .collect(),
        _ => Vec::new(),
    }
}
