//! DescribeConfigs (key 32), versions 1-4.
//!
//! - Topic resources (type 2): every topic config the broker honours (see `config`), with
//!   the value in effect and its source: DYNAMIC_TOPIC_CONFIG for an override, otherwise
//!   DEFAULT_CONFIG, or STATIC_BROKER_CONFIG when the broker default was changed at startup.
//!   Synonyms (when asked for) list the override, then the broker setting it falls back to,
//!   as Kafka does. Unknown topics get UNKNOWN_TOPIC_OR_PARTITION, invalid names
//!   INVALID_TOPIC_EXCEPTION.
//! - The broker resource (type 4), named by this broker's node id: the startup settings, all
//!   read-only (STATIC_BROKER_CONFIG). An empty name (cluster-wide dynamic defaults) has no
//!   configs; another node id is INVALID_REQUEST.
//! - Other resource types get INVALID_REQUEST.
//!
//! `configuration_keys` filters by name; `include_documentation` (v3+) adds the docs; the
//! config type is given from v3.

use kafka_protocol::messages::describe_configs_request::{
    DescribeConfigsRequest, DescribeConfigsResource,
};
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult,
    DescribeConfigsSynonym,
};
use kafka_protocol::{ErrorCode, KStr};

use crate::config::{self, SOURCE_DYNAMIC_TOPIC, SOURCE_STATIC_BROKER};
use crate::state::{AdminError, BrokerState};

/// Resource type of topics.
pub(crate) const RESOURCE_TOPIC: i8 = 2;
/// Resource type of brokers.
pub(crate) const RESOURCE_BROKER: i8 = 4;

pub(crate) fn handle(
    state: &BrokerState,
    req: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let opts = Options {
        synonyms: req.include_synonyms,
        docs: version >= 3 && req.include_documentation,
    };
    let results = req
        .resources
        .iter()
        .map(|r| {
            let configs = match r.resource_type {
                RESOURCE_TOPIC => topic_configs(state, r, opts),
                RESOURCE_BROKER => broker_configs(state, r, opts),
                other => Err(AdminError::new(
                    ErrorCode::InvalidRequest,
                    format!("Unsupported resource type {other}"),
                )),
            };
            let (error_code, error_message, configs) = match configs {
                Ok(c) => (0, None, c),
                Err(e) => (e.code.code(), Some(KStr::from(e.message)), Vec::new()),
            };
            DescribeConfigsResult {
                error_code,
                error_message,
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                configs,
                ..Default::default()
            }
        })
        .collect();
    DescribeConfigsResponse {
        results,
        ..Default::default()
    }
}

#[derive(Debug, Clone, Copy)]
struct Options {
    synonyms: bool,
    docs: bool,
}

fn wanted(r: &DescribeConfigsResource, name: &str) -> bool {
    r.configuration_keys
        .as_ref()
        .is_none_or(|keys| keys.iter().any(|k| k.as_str() == name))
}

fn synonym(name: &str, value: &str, source: i8) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym {
        name: KStr::from(name),
        value: Some(KStr::from(value)),
        source,
        ..Default::default()
    }
}

fn topic_configs(
    state: &BrokerState,
    r: &DescribeConfigsResource,
    opts: Options,
) -> Result<Vec<DescribeConfigsResourceResult>, AdminError> {
    config::validate_topic_name(&r.resource_name)
        .map_err(|m| AdminError::new(ErrorCode::InvalidTopicException, m))?;
    let topic = state.topic(&r.resource_name).ok_or_else(|| {
        AdminError::new(
            ErrorCode::UnknownTopicOrPartition,
            format!("Topic '{}' does not exist.", r.resource_name.as_str()),
        )
    })?;
    Ok(
        config::describe_topic(&state.config().log_config, &topic.overrides)
            .into_iter()
            .filter(|e| wanted(r, e.def.name))
            .map(|e| {
                let mut synonyms = Vec::new();
                if opts.synonyms {
                    if e.source == SOURCE_DYNAMIC_TOPIC {
                        synonyms.push(synonym(e.def.name, &e.value, e.source));
                    }
                    synonyms.push(synonym(e.def.broker_name, &e.default, e.default_source));
                }
                DescribeConfigsResourceResult {
                    name: KStr::from_static(e.def.name),
                    value: Some(KStr::from(e.value)),
                    read_only: false,
                    config_source: e.source,
                    is_sensitive: false,
                    synonyms,
                    config_type: e.def.config_type,
                    documentation: opts.docs.then(|| KStr::from_static(e.def.doc)),
                    ..Default::default()
                }
            })
            .collect(),
    )
}

fn broker_configs(
    state: &BrokerState,
    r: &DescribeConfigsResource,
    opts: Options,
) -> Result<Vec<DescribeConfigsResourceResult>, AdminError> {
    if r.resource_name.is_empty() {
        return Ok(Vec::new());
    }
    if r.resource_name.as_str() != state.node_id().to_string() {
        return Err(AdminError::new(
            ErrorCode::InvalidRequest,
            format!("Unexpected broker id, expected {}", state.node_id()),
        ));
    }
    let (host, port) = state.advertised();
    let advertised = format!("{host}:{port}");
    let settings = state.cluster().settings();
    Ok(config::broker_configs(state.config(), &advertised)
        .into_iter()
        .map(|(name, value)| match name {
            "default.replication.factor" => (name, settings.default_replication_factor.to_string()),
            _ => (name, value),
        })
        .chain([(
            "replica.lag.time.max.ms",
            settings.replica_lag_time_max.as_millis().to_string(),
        )])
        .filter(|(name, _)| wanted(r, name))
        .map(|(name, value)| DescribeConfigsResourceResult {
            name: KStr::from_static(name),
            synonyms: if opts.synonyms {
                vec![synonym(name, &value, SOURCE_STATIC_BROKER)]
            } else {
                Vec::new()
            },
            value: Some(KStr::from(value)),
            read_only: true,
            config_source: SOURCE_STATIC_BROKER,
            is_sensitive: false,
            config_type: 2,
            documentation: opts
                .docs
                .then(|| KStr::from_static("Set at broker startup; read-only.")),
            ..Default::default()
        })
        .collect())
}
