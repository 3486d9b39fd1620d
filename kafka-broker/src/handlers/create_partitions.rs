//! CreatePartitions (key 37), versions 0-3.
//!
//! Raises a topic's partition count; the count can only grow (INVALID_PARTITIONS for the same
//! or a lower count, or beyond the broker's per-topic limit). Unknown topics get
//! UNKNOWN_TOPIC_OR_PARTITION, a topic named twice INVALID_REQUEST. Explicit assignments must
//! give exactly one entry per new partition, each placing it on this broker alone
//! (INVALID_REPLICA_ASSIGNMENT). `validate_only` checks without changing anything. New
//! partitions start empty and take the topic's configs.

use std::collections::HashMap;

use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsRequest, CreatePartitionsTopic,
};
use kafka_protocol::messages::create_partitions_response::{
    CreatePartitionsResponse, CreatePartitionsTopicResult,
};
use kafka_protocol::{ErrorCode, KStr};

use crate::state::{AdminError, BrokerState};

pub(crate) fn handle(
    state: &BrokerState,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for t in &req.topics {
        *count.entry(t.name.as_str()).or_default() += 1;
    }
    let results = req
        .topics
        .iter()
        .map(|t| {
            let result = if count.get(t.name.as_str()).copied().unwrap_or(0) > 1 {
                Err(AdminError::new(
                    ErrorCode::InvalidRequest,
                    "Duplicate topic in the request.",
                ))
            } else {
                grow(state, t, req.validate_only)
            };
            let (error_code, error_message) = match result {
                Ok(()) => (0, None),
                Err(e) => (e.code.code(), Some(KStr::from(e.message))),
            };
            CreatePartitionsTopicResult {
                name: t.name.clone(),
                error_code,
                error_message,
                ..Default::default()
            }
        })
        .collect();
    CreatePartitionsResponse {
        results,
        ..Default::default()
    }
}

fn grow(
    state: &BrokerState,
    t: &CreatePartitionsTopic,
    validate_only: bool,
) -> Result<(), AdminError> {
    let node = state.node_id();
    let Some(topic) = state.topic(&t.name) else {
        return Err(AdminError::new(
            ErrorCode::UnknownTopicOrPartition,
            format!("The topic '{}' does not exist.", t.name),
        ));
    };
    let current = topic.partition_count();
    if let (Some(assignments), true) = (&t.assignments, t.count > current) {
        let added = i64::from(t.count) - i64::from(current);
        if i64::try_from(assignments.len()).unwrap_or(i64::MAX) != added {
            return Err(AdminError::new(
                ErrorCode::InvalidReplicaAssignment,
                format!(
                    "Attempted to add {added} additional partition(s), but {} assignment(s) were specified.",
                    assignments.len()
                ),
            ));
        }
        if assignments.iter().any(|a| a.broker_ids != [node]) {
            return Err(AdminError::new(
                ErrorCode::InvalidReplicaAssignment,
                format!(
                    "New partitions must be assigned to broker {node} alone: it is the only broker."
                ),
            ));
        }
    }
    state.create_partitions(&t.name, t.count, validate_only)?;
    if !validate_only {
        tracing::info!(topic = %t.name, from = current, to = t.count, "added partitions");
    }
    Ok(())
}
