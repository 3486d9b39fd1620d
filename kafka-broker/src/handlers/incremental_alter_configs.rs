//! IncrementalAlterConfigs (key 44), versions 0-1.
//!
//! Per topic config: SET (0) validates and stores a value, DELETE (1) reverts to the broker
//! default, APPEND (2) and SUBTRACT (3) edit list configs (`cleanup.policy`). As in Kafka:
//! APPEND/SUBTRACT on a non-list config, a null value, an unknown operation or a key given
//! twice is INVALID_REQUEST; a config the broker does not honour or an invalid value is
//! INVALID_CONFIG. A resource is changed all or nothing. Broker resources are read-only (see
//! AlterConfigs); unknown topics get UNKNOWN_TOPIC_OR_PARTITION. `validate_only` checks
//! without changing anything.

use std::collections::{BTreeMap, HashSet};

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig, IncrementalAlterConfigsRequest,
};
use kafka_protocol::messages::incremental_alter_configs_response::{
    AlterConfigsResourceResponse, IncrementalAlterConfigsResponse,
};

use super::alter_configs::{broker, error_fields, resource_counts, unless_duplicate};
use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::config::{self, TopicConfigDef};
use crate::state::{AdminError, BrokerState};

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

pub(crate) fn handle(
    state: &BrokerState,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
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
    IncrementalAlterConfigsResponse {
        responses,
        ..Default::default()
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
    let topic = state.topic(name).ok_or_else(|| {
        AdminError::new(
            ErrorCode::UnknownTopicOrPartition,
            format!("Topic '{name}' does not exist."),
        )
    })?;
    let mut keys = HashSet::new();
    if let Some(c) = r.configs.iter().find(|c| !keys.insert(c.name.as_str())) {
        return Err(AdminError::new(
            ErrorCode::InvalidRequest,
            format!("Error due to duplicate config keys: {}", c.name.as_str()),
        ));
    }
    let defaults = &state.config().log_config;
    let mut overrides = topic.overrides.clone();
    for c in &r.configs {
        apply(&mut overrides, c, defaults)?;
    }
    if validate_only {
        return Ok(());
    }
    state.set_topic_configs(name, overrides)?;
    tracing::info!(topic = name, "altered topic configs");
    Ok(())
}

/// Applies one operation to a topic's overrides.
fn apply(
    overrides: &mut BTreeMap<String, String>,
    c: &AlterableConfig,
    defaults: &crate::log::LogConfig,
) -> Result<(), AdminError> {
    let name = c.name.as_str();
    let def: &TopicConfigDef = config::topic_config(name).ok_or_else(|| {
        AdminError::new(
            ErrorCode::InvalidConfig,
            format!("Unknown or unsupported topic config name: {name}"),
        )
    })?;
    let invalid_config =
        |e: config::ConfigError| AdminError::new(ErrorCode::InvalidConfig, e.to_string());
    match c.config_operation {
        SET => {
            let value = c.value.as_deref().ok_or_else(|| null_value(name))?;
            overrides.insert(
                name.to_string(),
                config::validate(name, Some(value)).map_err(invalid_config)?,
            );
        }
        DELETE => {
            overrides.remove(name);
        }
        APPEND | SUBTRACT => {
            if !def.is_list() {
                let verb = if c.config_operation == APPEND {
                    "append"
                } else {
                    "subtract"
                };
                return Err(AdminError::new(
                    ErrorCode::InvalidRequest,
                    format!("Config value {verb} is not allowed for config key: {name}"),
                ));
            }
            let value = c.value.as_deref().ok_or_else(|| null_value(name))?;
            let current = overrides
                .get(name)
                .cloned()
                .unwrap_or_else(|| config::default_value(def, defaults));
            let mut items = config::split_list(&current);
            let given = config::split_list(value);
            if c.config_operation == APPEND {
                for g in given {
                    if !items.contains(&g) {
                        items.push(g);
                    }
                }
            } else {
                items.retain(|i| !given.contains(i));
            }
            let joined = items.join(",");
            overrides.insert(
                name.to_string(),
                config::validate(name, Some(&joined)).map_err(invalid_config)?,
            );
        }
        other => {
            return Err(AdminError::new(
                ErrorCode::InvalidRequest,
                format!("Unknown config operation {other} for {name}"),
            ));
        }
    }
    Ok(())
}

fn null_value(name: &str) -> AdminError {
    AdminError::new(
        ErrorCode::InvalidRequest,
        format!("Null value not supported for : {name}"),
    )
}
