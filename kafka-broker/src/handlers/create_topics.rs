//! CreateTopics (key 19), versions 2-7.
//!
//! Checks in Kafka's order: a name given twice in the request (INVALID_REQUEST), an invalid
//! or colliding name (INVALID_TOPIC_EXCEPTION), an existing topic (TOPIC_ALREADY_EXISTS),
//! then the layout: `num_partitions` -1 means `default_partitions`, otherwise at least 1
//! (INVALID_PARTITIONS); `replication_factor` must be -1 (the cluster's default, min(3, N)
//! brokers) or between 1 and the number of live brokers (INVALID_REPLICATION_FACTOR);
//! explicit assignments exclude both, and must number partitions 0..n, each with the same
//! number of distinct, existing brokers (INVALID_REPLICA_ASSIGNMENT). Configs must be ones the
//! broker honours, with valid values (INVALID_CONFIG). `validate_only` checks everything and
//! creates nothing. From v5 a created topic's partitions, replication factor and full config
//! list are returned; from v7 its topic id. `timeout_ms` is moot: creation is synchronous.

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult, CreateTopicsResponse,
};
use kafka_protocol::{ErrorCode, KStr};

use crate::config;
use crate::state::{AdminError, BrokerState, NewTopic, Topic};

pub(crate) fn handle(
    state: &BrokerState,
    req: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for t in &req.topics {
        *count.entry(t.name.as_str()).or_default() += 1;
    }
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let result = if count.get(t.name.as_str()).copied().unwrap_or(0) > 1 {
                Err(AdminError::new(
                    ErrorCode::InvalidRequest,
                    "Create topics request from client contains duplicate topic name.",
                ))
            } else {
                create(state, t, req.validate_only)
            };
            match result {
                Ok((topic, partitions)) => created(state, &topic, partitions, version),
                Err(e) => CreatableTopicResult {
                    name: t.name.clone(),
                    error_code: e.code.code(),
                    error_message: Some(KStr::from(e.message)),
                    num_partitions: -1,
                    replication_factor: -1,
                    configs: None,
                    ..Default::default()
                },
            }
        })
        .collect();
    CreateTopicsResponse {
        topics,
        ..Default::default()
    }
}

/// Creates (or validates) one topic; returns it with its partition count.
fn create(
    state: &BrokerState,
    t: &CreatableTopic,
    validate_only: bool,
) -> Result<(std::sync::Arc<Topic>, i32), AdminError> {
    config::validate_topic_name(&t.name)
        .map_err(|m| AdminError::new(ErrorCode::InvalidTopicException, m))?;
    if state.topic(&t.name).is_some() {
        return Err(AdminError::new(
            ErrorCode::TopicAlreadyExists,
            format!("Topic '{}' already exists.", t.name),
        ));
    }
    let partitions = if t.assignments.is_empty() {
        if t.replication_factor == 0 || t.replication_factor < -1 {
            return Err(AdminError::new(
                ErrorCode::InvalidReplicationFactor,
                "Replication factor must be larger than 0, or -1 to use the default value.",
            ));
        }
        match t.num_partitions {
            -1 => state.config().default_partitions,
            n if n <= 0 => {
                return Err(AdminError::new(
                    ErrorCode::InvalidPartitions,
                    "Number of partitions was set to an invalid non-positive value.",
                ));
            }
            n => n,
        }
    } else {
        if t.num_partitions != -1 || t.replication_factor != -1 {
            return Err(AdminError::new(
                ErrorCode::InvalidRequest,
                "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
            ));
        }
        let mut indexes: Vec<i32> = t.assignments.iter().map(|a| a.partition_index).collect();
        indexes.sort_unstable();
        let consecutive = indexes.iter().zip(0..).all(|(&i, expected)| i == expected);
        if !consecutive {
            return Err(AdminError::new(
                ErrorCode::InvalidReplicaAssignment,
                "Partitions should be numbered consecutively from 0.",
            ));
        }
        let nodes = state.cluster().node_ids();
        let width = t.assignments.first().map_or(0, |a| a.broker_ids.len());
        for a in &t.assignments {
            let mut ids = a.broker_ids.clone();
            ids.sort_unstable();
            ids.dedup();
            let problem = if a.broker_ids.is_empty() {
                Some("has no replicas".to_string())
            } else if ids.len() != a.broker_ids.len() {
                Some("lists a broker twice".to_string())
            } else if a.broker_ids.len() != width {
                Some("has a different replica count from partition 0".to_string())
            } else {
                a.broker_ids
                    .iter()
                    .find(|b| !nodes.contains(b))
                    .map(|b| format!("names broker {b}, which does not exist"))
            };
            if let Some(problem) = problem {
                return Err(AdminError::new(
                    ErrorCode::InvalidReplicaAssignment,
                    format!(
                        "The assignment of partition {} {problem}.",
                        a.partition_index
                    ),
                ));
            }
        }
        i32::try_from(t.assignments.len()).unwrap_or(i32::MAX)
    };
    let assignment: Option<Vec<Vec<i32>>> = (!t.assignments.is_empty()).then(|| {
        let mut a: Vec<_> = t.assignments.iter().collect();
        a.sort_by_key(|a| a.partition_index);
        a.into_iter().map(|a| a.broker_ids.clone()).collect()
    });
    let mut overrides = BTreeMap::new();
    for c in &t.configs {
        let value = config::validate(&c.name, c.value.as_deref())
            .map_err(|e| AdminError::new(ErrorCode::InvalidConfig, e.to_string()))?;
        overrides.insert(c.name.to_string(), value);
    }
    let new = NewTopic {
        name: t.name.to_string(),
        partitions,
        overrides,
        replication_factor: match &assignment {
            Some(a) => a
                .first()
                .map_or(1, |r: &Vec<i32>| i32::try_from(r.len()).unwrap_or(1)),
            None => i32::from(t.replication_factor),
        },
        assignment,
    };
    let topic = state.create_topic(new, validate_only)?;
    if !validate_only {
        tracing::info!(topic = %topic.name, partitions, "created topic");
    }
    Ok((topic, partitions))
}

fn created(
    state: &BrokerState,
    topic: &Topic,
    partitions: i32,
    version: i16,
) -> CreatableTopicResult {
    let configs = (version >= 5).then(|| {
        config::describe_topic(&state.config().log_config, &topic.overrides)
            .into_iter()
            .map(|e| CreatableTopicConfigs {
                name: KStr::from_static(e.def.name),
                value: Some(KStr::from(e.value)),
                read_only: false,
                config_source: e.source,
                is_sensitive: false,
                ..Default::default()
            })
            .collect()
    });
    CreatableTopicResult {
        name: KStr::from(topic.name.as_str()),
        topic_id: topic.id,
        error_code: 0,
        error_message: None,
        num_partitions: partitions,
        replication_factor: state
            .cluster()
            .partition(&topic.name, 0)
            .filter(|c| c.topic_id == topic.id)
            .map_or(1, |c| i16::try_from(c.replicas.len()).unwrap_or(i16::MAX)),
        configs,
        ..Default::default()
    }
}
