//! AlterConfigs (key 33), versions 0-2: the legacy, replace-everything config update.
//!
//! For a topic, the configs given become its whole set of overrides (anything not given
//! reverts to the broker default). Every config must be one the broker honours, with a valid
//! value, else INVALID_CONFIG and nothing changes; a key given twice is INVALID_REQUEST.
//! Broker resources (named by this node id, or empty) are read-only: a non-empty update is
//! INVALID_CONFIG. Unknown topics get UNKNOWN_TOPIC_OR_PARTITION, a resource named twice and
//! other resource types INVALID_REQUEST. `validate_only` checks without changing anything.
//! Changes apply at once to the topic's partition logs and persist in a data directory.

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::messages::alter_configs_request::{AlterConfigsRequest, AlterConfigsResource};
use kafka_protocol::messages::alter_configs_response::{
    AlterConfigsResourceResponse, AlterConfigsResponse,
};
use kafka_protocol::{ErrorCode, KStr};

use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::config;
use crate::state::{AdminError, BrokerState};

pub(crate) fn handle(state: &BrokerState, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let seen = resource_counts(
        req.resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.as_str())),
    );
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let result = unless_duplicate(&seen, r.resource_type, &r.resource_name, || {
                alter(state, r, req.validate_only)
            });
            let (error_code, error_message) = error_fields(result);
            AlterConfigsResourceResponse {
                error_code,
                error_message,
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                ..Default::default()
            }
        })
        .collect();
    AlterConfigsResponse {
        responses,
        ..Default::default()
    }
}

/// How often each (resource type, name) appears in a request: Kafka refuses every copy of a
/// resource named more than once.
pub(crate) fn resource_counts<'a>(
    keys: impl Iterator<Item = (i8, &'a str)>,
) -> HashMap<(i8, &'a str), usize> {
    let mut seen = HashMap::new();
    for k in keys {
        *seen.entry(k).or_default() += 1;
    }
    seen
}

/// INVALID_REQUEST for a resource named more than once, else `apply()`.
pub(crate) fn unless_duplicate(
    seen: &HashMap<(i8, &str), usize>,
    resource_type: i8,
    name: &KStr,
    apply: impl FnOnce() -> Result<(), AdminError>,
) -> Result<(), AdminError> {
    if seen
        .get(&(resource_type, name.as_str()))
        .copied()
        .unwrap_or(0)
        > 1
    {
        Err(AdminError::new(
            ErrorCode::InvalidRequest,
            "Duplicate resource in the request.",
        ))
    } else {
        apply()
    }
}

/// The response's error code and message for a resource's outcome.
pub(crate) fn error_fields(result: Result<(), AdminError>) -> (i16, Option<KStr>) {
    match result {
        Ok(()) => (0, None),
        Err(e) => (e.code.code(), Some(KStr::from(e.message))),
    }
}

fn alter(
    state: &BrokerState,
    r: &AlterConfigsResource,
    validate_only: bool,
) -> Result<(), AdminError> {
    match r.resource_type {
        RESOURCE_TOPIC => {}
        RESOURCE_BROKER => return broker(state, &r.resource_name, r.configs.is_empty()),
        other => {
            return Err(AdminError::new(
                ErrorCode::InvalidRequest,
                format!("Unsupported resource type {other}"),
            ));
        }
    }
    let name = r.resource_name.as_str();
    if state.topic(name).is_none() {
        return Err(AdminError::new(
            ErrorCode::UnknownTopicOrPartition,
            format!("Topic '{name}' does not exist."),
        ));
    }
    let mut overrides = BTreeMap::new();
    for c in &r.configs {
        let value = config::validate(&c.name, c.value.as_deref())
            .map_err(|e| AdminError::new(ErrorCode::InvalidConfig, e.to_string()))?;
        if overrides.insert(c.name.to_string(), value).is_some() {
            return Err(AdminError::new(
                ErrorCode::InvalidRequest,
                format!("Config {} is given more than once.", c.name.as_str()),
            ));
        }
    }
    if validate_only {
        return Ok(());
    }
    state.set_topic_configs(name, overrides)?;
    tracing::info!(topic = name, "replaced topic configs");
    Ok(())
}

/// Broker configs are fixed at startup: only an empty update of this broker (or of the
/// cluster default) is accepted.
pub(crate) fn broker(state: &BrokerState, name: &KStr, empty: bool) -> Result<(), AdminError> {
    if !name.is_empty() && name.as_str() != state.node_id().to_string() {
        return Err(AdminError::new(
            ErrorCode::InvalidRequest,
            format!("Unexpected broker id, expected {}", state.node_id()),
        ));
    }
    if empty {
        Ok(())
    } else {
        Err(AdminError::new(
            ErrorCode::InvalidConfig,
            "Broker configs cannot be changed while this broker runs; set them at startup.",
        ))
    }
}
