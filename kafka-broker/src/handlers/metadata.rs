//! Metadata (key 3), versions 0-12.
//!
//! - Brokers: the live brokers of the cluster (this broker alone when it runs alone), at
//!   their advertised hosts and ports; the controller is broker 0 while alive, else the
//!   lowest live id.
//! - All topics for a null topic list (v1+) or an empty one (v0); otherwise the topics asked
//!   for, by name, or by id from v12 (v10-11 may not use ids: INVALID_REQUEST, as Kafka).
//! - Each partition's leader, leader epoch, replicas and ISR as the cluster controller has
//!   them, with the replicas on stopped brokers as offline replicas; a partition with no
//!   live leader has LEADER_NOT_AVAILABLE and leader -1. Any broker answers the same.
//! - An unknown name is created when `auto_create_topics` is on and the request allows it
//!   (always before v4), with `default_partitions` partitions, and returned at once (Kafka
//!   answers LEADER_NOT_AVAILABLE first while its controller creates the topic; clients retry
//!   either way). Otherwise UNKNOWN_TOPIC_OR_PARTITION; an invalid name gets
//!   INVALID_TOPIC_EXCEPTION; an unknown id gets UNKNOWN_TOPIC_ID with a null name.
//! - Authorized operations, when asked for (v8+), are everything a topic or the cluster
//!   supports: there is no authorizer, as in Kafka without one.

use std::collections::BTreeMap;

use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::{ErrorCode, KStr, Uuid};

use crate::config;
use crate::state::{BrokerState, NewTopic, Topic};

/// Bit set of the operations a topic supports (READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE,
/// DESCRIBE_CONFIGS, ALTER_CONFIGS), all allowed without an authorizer.
pub(crate) const TOPIC_OPERATIONS: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);

/// Bit set of the operations the cluster supports (CREATE, ALTER, DESCRIBE, CLUSTER_ACTION,
/// DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE).
pub(crate) const CLUSTER_OPERATIONS: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

pub(crate) fn handle(state: &BrokerState, req: MetadataRequest, version: i16) -> MetadataResponse {
    let mut resp = MetadataResponse {
        brokers: brokers(state)
            .into_iter()
            .map(|(node_id, host, port)| MetadataResponseBroker {
                node_id,
                host: KStr::from(host),
                port,
                rack: None,
                ..Default::default()
            })
            .collect(),
        cluster_id: Some(KStr::from(state.cluster_id())),
        controller_id: controller_id(state),
        ..Default::default()
    };
    if (8..=10).contains(&version) && req.include_cluster_authorized_operations {
        resp.cluster_authorized_operations = CLUSTER_OPERATIONS;
    }
    let ops = version >= 8 && req.include_topic_authorized_operations;
    let auto_create =
        state.config().auto_create_topics && (version < 4 || req.allow_auto_topic_creation);
    let requested = match req.topics {
        None => None,
        Some(t) if version == 0 && t.is_empty() => None,
        Some(t) => Some(t),
    };
    let Some(requested) = requested else {
        resp.topics = state
            .topics()
            .iter()
            .map(|t| describe(state, t, ops))
            .collect();
        return resp;
    };
    for rt in requested {
        let by_id = rt.topic_id != Uuid::ZERO || rt.name.is_none();
        let entry = if by_id && version < 12 {
            error_entry(
                ErrorCode::InvalidRequest,
                Some(rt.name.unwrap_or_default()),
                rt.topic_id,
            )
        } else if by_id {
            match state.topic_by_id(rt.topic_id) {
                Some(t) => describe(state, &t, ops),
                None => error_entry(ErrorCode::UnknownTopicId, None, rt.topic_id),
            }
        } else {
            let name = rt.name.unwrap_or_default();
            by_name(state, name, auto_create, ops)
        };
        resp.topics.push(entry);
    }
    resp
}

fn by_name(state: &BrokerState, name: KStr, auto_create: bool, ops: bool) -> MetadataResponseTopic {
    if let Some(t) = state.topic(&name) {
        return describe(state, &t, ops);
    }
    if config::validate_topic_name(&name).is_err() {
        return error_entry(ErrorCode::InvalidTopicException, Some(name), Uuid::ZERO);
    }
    if !auto_create {
        return error_entry(ErrorCode::UnknownTopicOrPartition, Some(name), Uuid::ZERO);
    }
    let new = NewTopic::new(
        name.to_string(),
        state.config().default_partitions,
        BTreeMap::new(),
    );
    match state.create_topic(new, false) {
        Ok(t) => {
            tracing::info!(topic = %t.name, partitions = t.partition_count(), "auto-created topic");
            describe(state, &t, ops)
        }
        // Another connection created it meanwhile.
        Err(e) if e.code == ErrorCode::TopicAlreadyExists => match state.topic(&name) {
            Some(t) => describe(state, &t, ops),
            None => error_entry(ErrorCode::LeaderNotAvailable, Some(name), Uuid::ZERO),
        },
        Err(e) => error_entry(e.code, Some(name), Uuid::ZERO),
    }
}

/// The live brokers, with this one at its own advertised address (which is what a lone
/// broker has, and what the cluster registered for it).
pub(crate) fn brokers(state: &BrokerState) -> Vec<(i32, String, i32)> {
    let me = state.node_id();
    let mut brokers = state.cluster().live_brokers();
    let (host, port) = state.advertised();
    match brokers.iter_mut().find(|(id, _, _)| *id == me) {
        Some(b) => *b = (me, host.to_string(), port),
        None => brokers.push((me, host.to_string(), port)),
    }
    brokers.sort_by_key(|b| b.0);
    brokers
}

/// The controller id clients are told.
pub(crate) fn controller_id(state: &BrokerState) -> i32 {
    state.cluster().controller_id()
}

fn describe(state: &BrokerState, topic: &Topic, ops: bool) -> MetadataResponseTopic {
    let cluster = state.cluster();
    let mut t = MetadataResponseTopic {
        error_code: 0,
        name: Some(KStr::from(topic.name.as_str())),
        topic_id: topic.id,
        is_internal: false,
        partitions: (0..topic.partition_count())
            .map(|i| {
                let Some(info) = cluster
                    .partition(&topic.name, i)
                    .filter(|c| c.topic_id == topic.id)
                    .map(|c| c.info())
                else {
                    return MetadataResponsePartition {
                        error_code: ErrorCode::LeaderNotAvailable.code(),
                        partition_index: i,
                        leader_id: -1,
                        leader_epoch: -1,
                        ..Default::default()
                    };
                };
                let leader = info.leader.filter(|&l| cluster.is_alive(l));
                MetadataResponsePartition {
                    error_code: if leader.is_some() {
                        0
                    } else {
                        ErrorCode::LeaderNotAvailable.code()
                    },
                    partition_index: i,
                    leader_id: leader.unwrap_or(-1),
                    leader_epoch: info.leader_epoch,
                    offline_replicas: info
                        .replicas
                        .iter()
                        .copied()
                        .filter(|&r| !cluster.is_alive(r))
                        .collect(),
                    replica_nodes: info.replicas,
                    isr_nodes: info.isr,
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    };
    if ops {
        t.topic_authorized_operations = TOPIC_OPERATIONS;
    }
    t
}

fn error_entry(code: ErrorCode, name: Option<KStr>, id: Uuid) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: code.code(),
        name,
        topic_id: id,
        ..Default::default()
    }
}
