//! Configs: `describe_configs` (DescribeConfigs) and `incremental_alter_configs`
//! (IncrementalAlterConfigs), with the resource, entry and operation types they use.
//!
//! Routing follows Kafka's admin client: a specific broker's configs (and its loggers) are
//! only known to that broker, so those resources go to it; topics, groups and the cluster-wide
//! broker defaults (a broker resource named "") go to any broker. One request per broker
//! carries all the resources routed to it.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use kafka_client::Target;
use kafka_protocol::messages::RequestBody;
use kafka_protocol::messages::describe_configs_request::{
    DescribeConfigsRequest, DescribeConfigsResource,
};
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResourceResult;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig, IncrementalAlterConfigsRequest,
};
use kafka_protocol::{ApiKey, KStr};

use crate::client::expect_response;
use crate::retry::{Outcome, Policy, join_all, run_rounds};
use crate::{AdminClient, AdminError, AdminOptions};

/// The kind of thing a config belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ConfigResourceType {
    /// A topic.
    Topic,
    /// A broker (by node id), or every broker's dynamic default (empty name).
    Broker,
    /// A broker's log4j loggers.
    BrokerLogger,
    /// A client metrics subscription (KIP-714).
    ClientMetrics,
    /// A consumer group (KIP-848).
    Group,
    /// A wire code this client does not know.
    Unknown(i8),
}

impl ConfigResourceType {
    /// The wire code.
    pub const fn code(self) -> i8 {
        match self {
            ConfigResourceType::Topic => 2,
            ConfigResourceType::Broker => 4,
            ConfigResourceType::BrokerLogger => 8,
            ConfigResourceType::ClientMetrics => 16,
            ConfigResourceType::Group => 32,
            ConfigResourceType::Unknown(c) => c,
        }
    }

    /// The type with wire code `code`.
    pub const fn from_code(code: i8) -> Self {
        match code {
            2 => ConfigResourceType::Topic,
            4 => ConfigResourceType::Broker,
            8 => ConfigResourceType::BrokerLogger,
            16 => ConfigResourceType::ClientMetrics,
            32 => ConfigResourceType::Group,
            other => ConfigResourceType::Unknown(other),
        }
    }
}

/// A thing that has configs: a topic, a broker, ...
///
/// ```
/// use kafka_admin::{ConfigResource, ConfigResourceType};
///
/// let topic = ConfigResource::topic("events");
/// assert_eq!(topic.resource_type, ConfigResourceType::Topic);
/// assert_eq!(ConfigResource::broker(1).name, "1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigResource {
    /// What kind of resource.
    pub resource_type: ConfigResourceType,
    /// Its name (a broker's is its node id).
    pub name: String,
}

impl ConfigResource {
    /// Any resource.
    pub fn new(resource_type: ConfigResourceType, name: impl Into<String>) -> Self {
        Self {
            resource_type,
            name: name.into(),
        }
    }

    /// A topic's configs.
    pub fn topic(name: impl Into<String>) -> Self {
        Self::new(ConfigResourceType::Topic, name)
    }

    /// Broker `node_id`'s configs.
    pub fn broker(node_id: i32) -> Self {
        Self::new(ConfigResourceType::Broker, node_id.to_string())
    }

    /// The dynamic defaults every broker shares.
    pub fn broker_default() -> Self {
        Self::new(ConfigResourceType::Broker, "")
    }

    /// A consumer group's configs.
    pub fn group(group_id: impl Into<String>) -> Self {
        Self::new(ConfigResourceType::Group, group_id)
    }

    /// The broker that must answer for this resource.
    fn target(&self) -> Result<Target, AdminError> {
        let per_broker = matches!(
            self.resource_type,
            ConfigResourceType::Broker | ConfigResourceType::BrokerLogger
        );
        if !per_broker || self.name.is_empty() {
            return Ok(Target::Any);
        }
        self.name.parse::<i32>().map(Target::Broker).map_err(|_| {
            AdminError::InvalidArgument(format!(
                "a broker resource is named by its node id, not `{}`",
                self.name
            ))
        })
    }

    fn key(&self) -> (i8, &str) {
        (self.resource_type.code(), self.name.as_str())
    }
}

/// Where a config's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigSource {
    /// A topic override.
    DynamicTopic,
    /// A dynamic setting of this broker.
    DynamicBroker,
    /// A dynamic default every broker shares.
    DynamicDefaultBroker,
    /// The broker's startup configuration.
    StaticBroker,
    /// Kafka's default.
    Default,
    /// A dynamic broker logger level.
    DynamicBrokerLogger,
    /// A client metrics subscription.
    ClientMetrics,
    /// A group override.
    Group,
    /// Not said (DescribeConfigs v0 for a non-default value) or a code this client does not
    /// know.
    Unknown(i8),
}

impl ConfigSource {
    /// The source with wire code `code`.
    pub const fn from_code(code: i8) -> Self {
        match code {
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            7 => ConfigSource::ClientMetrics,
            8 => ConfigSource::Group,
            other => ConfigSource::Unknown(other),
        }
    }
}

/// A config's type, as DescribeConfigs v3+ reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigDataType {
    /// Boolean.
    Boolean,
    /// String.
    String,
    /// 32-bit integer.
    Int,
    /// 16-bit integer.
    Short,
    /// 64-bit integer.
    Long,
    /// Floating point.
    Double,
    /// Comma-separated list.
    List,
    /// Java class name.
    Class,
    /// Secret.
    Password,
    /// Not reported (before v3) or a code this client does not know.
    Unknown(i8),
}

impl ConfigDataType {
    /// The type with wire code `code`.
    pub const fn from_code(code: i8) -> Self {
        match code {
            1 => ConfigDataType::Boolean,
            2 => ConfigDataType::String,
            3 => ConfigDataType::Int,
            4 => ConfigDataType::Short,
            5 => ConfigDataType::Long,
            6 => ConfigDataType::Double,
            7 => ConfigDataType::List,
            8 => ConfigDataType::Class,
            9 => ConfigDataType::Password,
            other => ConfigDataType::Unknown(other),
        }
    }
}

/// A setting a config falls back to (or overrides), most specific first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigSynonym {
    /// The setting's name (a broker setting may be named differently from the topic config).
    pub name: String,
    /// Its value (`None` for sensitive values).
    pub value: Option<String>,
    /// Where it is set.
    pub source: ConfigSource,
}

/// One config and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigEntry {
    /// Name.
    pub name: String,
    /// Value in effect (`None` for sensitive values).
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether it cannot be changed dynamically.
    pub is_read_only: bool,
    /// Whether the value is a secret.
    pub is_sensitive: bool,
    /// The settings it falls back to, when asked for ([`AdminOptions::include_synonyms`]).
    pub synonyms: Vec<ConfigSynonym>,
    /// The config's type (DescribeConfigs v3+).
    pub data_type: ConfigDataType,
    /// Documentation, when asked for ([`AdminOptions::include_documentation`]).
    pub documentation: Option<String>,
}

impl ConfigEntry {
    /// Whether the value is Kafka's default.
    pub fn is_default(&self) -> bool {
        self.source == ConfigSource::Default
    }

    pub(crate) fn from_parts(
        name: &KStr,
        value: Option<&KStr>,
        source: ConfigSource,
        is_read_only: bool,
        is_sensitive: bool,
    ) -> Self {
        Self {
            name: name.to_string(),
            value: value.map(|v| v.to_string()),
            source,
            is_read_only,
            is_sensitive,
            synonyms: Vec::new(),
            data_type: ConfigDataType::Unknown(0),
            documentation: None,
        }
    }

    fn described(c: &DescribeConfigsResourceResult, version: i16) -> Self {
        // v0 has no source, only whether the value is the default.
        let source = if version >= 1 {
            ConfigSource::from_code(c.config_source)
        } else if c.is_default {
            ConfigSource::Default
        } else {
            ConfigSource::Unknown(0)
        };
        let mut entry = Self::from_parts(
            &c.name,
            c.value.as_ref(),
            source,
            c.read_only,
            c.is_sensitive,
        );
        entry.synonyms = c
            .synonyms
            .iter()
            .map(|s| ConfigSynonym {
                name: s.name.to_string(),
                value: s.value.as_ref().map(|v| v.to_string()),
                source: ConfigSource::from_code(s.source),
            })
            .collect();
        entry.data_type = ConfigDataType::from_code(c.config_type);
        entry.documentation = c.documentation.as_ref().map(|d| d.to_string());
        entry
    }
}

/// How an [`AlterConfigOp`] changes a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlterConfigOpType {
    /// Set the value.
    Set,
    /// Remove the override, reverting to the default.
    Delete,
    /// Add items to a list config.
    Append,
    /// Remove items from a list config.
    Subtract,
}

impl AlterConfigOpType {
    /// The wire code.
    pub const fn code(self) -> i8 {
        match self {
            AlterConfigOpType::Set => 0,
            AlterConfigOpType::Delete => 1,
            AlterConfigOpType::Append => 2,
            AlterConfigOpType::Subtract => 3,
        }
    }
}

/// One change to one config.
///
/// ```
/// use kafka_admin::{AlterConfigOp, AlterConfigOpType};
///
/// let op = AlterConfigOp::set("retention.ms", "3600000");
/// assert_eq!(op.op_type, AlterConfigOpType::Set);
/// assert_eq!(AlterConfigOp::delete("retention.ms").value, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlterConfigOp {
    /// The config.
    pub name: String,
    /// The change.
    pub op_type: AlterConfigOpType,
    /// The value (for `Delete`, none).
    pub value: Option<String>,
}

impl AlterConfigOp {
    fn new(name: impl Into<String>, op_type: AlterConfigOpType, value: Option<String>) -> Self {
        Self {
            name: name.into(),
            op_type,
            value,
        }
    }

    /// Sets `name` to `value`.
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(name, AlterConfigOpType::Set, Some(value.into()))
    }

    /// Reverts `name` to its default.
    pub fn delete(name: impl Into<String>) -> Self {
        Self::new(name, AlterConfigOpType::Delete, None)
    }

    /// Adds the comma-separated `items` to list config `name`.
    pub fn append(name: impl Into<String>, items: impl Into<String>) -> Self {
        Self::new(name, AlterConfigOpType::Append, Some(items.into()))
    }

    /// Removes the comma-separated `items` from list config `name`.
    pub fn subtract(name: impl Into<String>, items: impl Into<String>) -> Self {
        Self::new(name, AlterConfigOpType::Subtract, Some(items.into()))
    }
}

/// Resources by the broker that must answer them, and those that cannot be routed.
type Routed<'a> = (
    BTreeMap<TargetKey, Vec<&'a ConfigResource>>,
    Vec<(ConfigResource, AdminError)>,
);

/// Splits resources by the broker that must answer them; unroutable ones are answered at once.
fn by_target(resources: &[ConfigResource]) -> Routed<'_> {
    let mut groups: BTreeMap<TargetKey, Vec<&ConfigResource>> = BTreeMap::new();
    let mut failed = Vec::new();
    for r in resources {
        match r.target() {
            Ok(Target::Broker(id)) => groups.entry(Some(id)).or_default().push(r),
            Ok(_) => groups.entry(None).or_default().push(r),
            Err(e) => failed.push((r.clone(), e)),
        }
    }
    (groups, failed)
}

/// A broker by id, or any broker.
type TargetKey = Option<i32>;

fn target_of(key: TargetKey) -> Target {
    key.map_or(Target::Any, Target::Broker)
}

/// The final answer for resources that never reached a broker.
fn unroutable<T>(failed: Vec<(ConfigResource, AdminError)>) -> Vec<(ConfigResource, Outcome<T>)> {
    failed
        .into_iter()
        .map(|(r, e)| (r, Outcome::Done(Err(e))))
        .collect()
}

impl AdminClient {
    /// Describes the configs of `resources` (topics, brokers, ...), each resource answered
    /// separately. Synonyms and documentation are included when `options` ask for them.
    pub async fn describe_configs(
        &self,
        resources: impl IntoIterator<Item = ConfigResource>,
        options: &AdminOptions,
    ) -> HashMap<ConfigResource, Result<Vec<ConfigEntry>, AdminError>> {
        let deadline = self.deadline(options);
        let resources: Vec<ConfigResource> = resources.into_iter().collect();
        run_rounds(
            self,
            deadline,
            resources,
            |pending: Vec<ConfigResource>| async move {
                let (groups, failed) = by_target(&pending);
                let mut out = unroutable(failed);
                // One request per broker, in parallel, so a broker that cannot be reached
                // does not hold up the others' answers.
                let (synonyms, docs) = (options.include_synonyms, options.include_documentation);
                let requests = groups.into_iter().map(|(key, group)| {
                    let admin = self.clone();
                    let group: Vec<ConfigResource> = group.into_iter().cloned().collect();
                    async move {
                        admin
                            .describe_configs_at(key, &group, synonyms, docs, deadline)
                            .await
                    }
                });
                for answers in join_all(requests.collect::<Vec<_>>()).await {
                    out.extend(answers);
                }
                Ok(out)
            },
        )
        .await
    }

    /// One DescribeConfigs request to one broker.
    async fn describe_configs_at(
        &self,
        key: TargetKey,
        resources: &[ConfigResource],
        synonyms: bool,
        docs: bool,
        deadline: Instant,
    ) -> Vec<(ConfigResource, Outcome<Vec<ConfigEntry>>)> {
        let mut version = 0;
        let sent = self
            .send(
                target_of(key),
                ApiKey::DescribeConfigs,
                deadline,
                true,
                |v| {
                    version = v;
                    Cow::Owned(RequestBody::DescribeConfigs(DescribeConfigsRequest {
                        resources: resources
                            .iter()
                            .map(|r| DescribeConfigsResource {
                                resource_type: r.resource_type.code(),
                                resource_name: r.name.as_str().into(),
                                configuration_keys: None,
                                ..Default::default()
                            })
                            .collect(),
                        include_synonyms: v >= 1 && synonyms,
                        include_documentation: v >= 3 && docs,
                        ..Default::default()
                    }))
                },
            )
            .await
            .and_then(|r| expect_response!(r, DescribeConfigs));
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                return resources
                    .iter()
                    .map(|r| (r.clone(), Policy::Lookup.error(e.clone())))
                    .collect();
            }
        };
        let index: HashMap<(i8, &str), &ConfigResource> =
            resources.iter().map(|r| (r.key(), r)).collect();
        resp.results
            .iter()
            .filter_map(|res| {
                let r = index.get(&(res.resource_type, res.resource_name.as_str()))?;
                let outcome =
                    Policy::Lookup.outcome(res.error_code, res.error_message.as_ref(), || {
                        res.configs
                            .iter()
                            .map(|c| ConfigEntry::described(c, version))
                            .collect()
                    });
                Some(((*r).clone(), outcome))
            })
            .collect()
    }

    /// Changes configs incrementally: each resource's operations are applied together (all or
    /// nothing) and each resource is answered separately. Operations given for the same
    /// resource twice are merged. With [`AdminOptions::validate_only`] nothing changes.
    pub async fn incremental_alter_configs(
        &self,
        changes: impl IntoIterator<Item = (ConfigResource, Vec<AlterConfigOp>)>,
        options: &AdminOptions,
    ) -> HashMap<ConfigResource, Result<(), AdminError>> {
        let deadline = self.deadline(options);
        let mut ops: HashMap<ConfigResource, Vec<AlterConfigOp>> = HashMap::new();
        let mut order = Vec::new();
        for (resource, changes) in changes {
            if !ops.contains_key(&resource) {
                order.push(resource.clone());
            }
            ops.entry(resource).or_default().extend(changes);
        }
        let ops = &ops;
        run_rounds(
            self,
            deadline,
            order,
            |pending: Vec<ConfigResource>| async move {
                let (groups, failed) = by_target(&pending);
                let mut out = unroutable(failed);
                let validate_only = options.validate_only;
                let requests = groups.into_iter().map(|(key, group)| {
                    let admin = self.clone();
                    let changes: Vec<(ConfigResource, Vec<AlterConfigOp>)> = group
                        .into_iter()
                        .map(|r| (r.clone(), ops.get(r).cloned().unwrap_or_default()))
                        .collect();
                    async move {
                        admin
                            .alter_configs_at(key, &changes, validate_only, deadline)
                            .await
                    }
                });
                for answers in join_all(requests.collect::<Vec<_>>()).await {
                    out.extend(answers);
                }
                Ok(out)
            },
        )
        .await
    }

    /// One IncrementalAlterConfigs request to one broker.
    async fn alter_configs_at(
        &self,
        key: TargetKey,
        changes: &[(ConfigResource, Vec<AlterConfigOp>)],
        validate_only: bool,
        deadline: Instant,
    ) -> Vec<(ConfigResource, Outcome<()>)> {
        let body = RequestBody::IncrementalAlterConfigs(IncrementalAlterConfigsRequest {
            resources: changes
                .iter()
                .map(|(r, ops)| AlterConfigsResource {
                    resource_type: r.resource_type.code(),
                    resource_name: r.name.as_str().into(),
                    configs: ops
                        .iter()
                        .map(|op| AlterableConfig {
                            name: op.name.as_str().into(),
                            config_operation: op.op_type.code(),
                            value: op.value.as_deref().map(KStr::from),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            validate_only,
            ..Default::default()
        });
        let sent = self
            .send(
                target_of(key),
                ApiKey::IncrementalAlterConfigs,
                deadline,
                true,
                |_| Cow::Borrowed(&body),
            )
            .await
            .and_then(|r| expect_response!(r, IncrementalAlterConfigs));
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                return changes
                    .iter()
                    .map(|(r, _)| (r.clone(), Policy::Lookup.error(e.clone())))
                    .collect();
            }
        };
        let index: HashMap<(i8, &str), &ConfigResource> =
            changes.iter().map(|(r, _)| (r.key(), r)).collect();
        resp.responses
            .iter()
            .filter_map(|res| {
                let r = index.get(&(res.resource_type, res.resource_name.as_str()))?;
                let outcome =
                    Policy::Lookup.outcome(res.error_code, res.error_message.as_ref(), || ());
                Some(((*r).clone(), outcome))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing() {
        assert_eq!(ConfigResource::topic("t").target().unwrap(), Target::Any);
        assert_eq!(
            ConfigResource::broker(3).target().unwrap(),
            Target::Broker(3)
        );
        assert_eq!(
            ConfigResource::broker_default().target().unwrap(),
            Target::Any
        );
        let bad = ConfigResource::new(ConfigResourceType::Broker, "b1");
        assert!(matches!(bad.target(), Err(AdminError::InvalidArgument(_))));
        let resources = [
            ConfigResource::topic("a"),
            ConfigResource::broker(1),
            ConfigResource::topic("b"),
            bad,
        ];
        let (groups, failed) = by_target(&resources);
        assert_eq!(groups[&None].len(), 2);
        assert_eq!(groups[&Some(1)].len(), 1);
        assert_eq!(failed.len(), 1);
    }

    #[test]
    fn codes_round_trip() {
        for code in [2, 4, 8, 16, 32, 5] {
            assert_eq!(ConfigResourceType::from_code(code).code(), code);
        }
        assert_eq!(ConfigSource::from_code(1), ConfigSource::DynamicTopic);
        assert_eq!(ConfigDataType::from_code(7), ConfigDataType::List);
    }
}
