//! The broker's settings, and the topic configs it honours.
//!
//! [`BrokerConfig`] is what the builder and the command line set. The topic-config table
//! below is the one place that knows each honoured topic config: its Kafka name, the broker
//! setting it defaults to (its synonym), how its value is validated, and how it maps onto the
//! [`LogConfig`] a partition log runs with. CreateTopics, DescribeConfigs, AlterConfigs and
//! IncrementalAlterConfigs all go through it, so they can never disagree about a config.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::log::LogConfig;

/// How a broker is set up (see [`BrokerBuilder`](crate::BrokerBuilder) for each setting).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BrokerConfig {
    /// Address to listen on, `HOST:PORT` (port 0 picks a free port).
    pub listen: String,
    /// Where topics and their data persist; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Partitions of auto-created topics and of CreateTopics with `num_partitions = -1`
    /// (Kafka's `num.partitions`).
    pub default_partitions: i32,
    /// Whether Metadata creates unknown topics (Kafka's `auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// `HOST:PORT` given to clients in Metadata and DescribeCluster; the bound address when
    /// `None`.
    pub advertised: Option<String>,
    /// This broker's node id (also the controller id).
    pub node_id: i32,
    /// The cluster id; generated (and persisted in a data dir) when `None`.
    pub cluster_id: Option<String>,
    /// Largest request frame accepted; a larger size prefix closes the connection
    /// (Kafka's `socket.request.max.bytes`).
    pub socket_request_max_bytes: usize,
    /// Defaults of every topic's log settings (Kafka's `log.*` broker settings).
    pub log_config: LogConfig,
    /// How often retention runs (Kafka's `log.retention.check.interval.ms`).
    pub retention_check_interval: Duration,
    /// TLS on the listener; `None`: plaintext.
    pub tls: Option<crate::TlsConfig>,
    /// SASL on the listener; `None`: no authentication.
    pub sasl: Option<crate::SaslConfig>,
    /// The group coordinator's settings (Kafka's `group.*` and `offsets.*`).
    pub groups: crate::group::GroupConfig,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:0".into(),
            data_dir: None,
            default_partitions: 1,
            auto_create_topics: true,
            advertised: None,
            node_id: 0,
            cluster_id: None,
            socket_request_max_bytes: 100 * 1024 * 1024,
            log_config: LogConfig::default(),
            retention_check_interval: Duration::from_secs(300),
            tls: None,
            sasl: None,
            groups: crate::group::GroupConfig::default(),
        }
    }
}

/// Most partitions one topic may have. Kafka has no such limit, but every partition costs
/// memory (and files), and a hostile request must not exhaust the broker.
pub(crate) const MAX_PARTITIONS: i32 = 10_000;

/// Largest response a fetch builds (Kafka's `fetch.max.bytes` broker setting, 55 MiB); a
/// request's own `max_bytes` only lowers it.
pub(crate) const FETCH_MAX_BYTES: usize = 55 * 1024 * 1024;

/// DescribeConfigs `config_source`: a topic override.
pub(crate) const SOURCE_DYNAMIC_TOPIC: i8 = 1;
/// DescribeConfigs `config_source`: a broker setting given at startup.
pub(crate) const SOURCE_STATIC_BROKER: i8 = 4;
/// DescribeConfigs `config_source`: Kafka's default.
pub(crate) const SOURCE_DEFAULT: i8 = 5;

/// DescribeConfigs `config_type` codes.
mod config_type {
    pub const STRING: i8 = 2;
    pub const INT: i8 = 3;
    pub const LONG: i8 = 5;
    pub const LIST: i8 = 7;
}

/// How a topic config's value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An i64 at least `min`.
    Long { min: i64 },
    /// An i32 at least `min`.
    Int { min: i32 },
    /// `cleanup.policy`: a list whose only accepted element is `delete`.
    CleanupPolicy,
    /// `message.timestamp.type`: `CreateTime` or `LogAppendTime`.
    TimestampType,
}

/// One honoured topic config.
#[derive(Debug)]
pub(crate) struct TopicConfigDef {
    /// The topic config name.
    pub name: &'static str,
    /// The broker setting that supplies its default.
    pub broker_name: &'static str,
    kind: Kind,
    /// DescribeConfigs `config_type`.
    pub config_type: i8,
    /// DescribeConfigs documentation.
    pub doc: &'static str,
}

impl TopicConfigDef {
    /// Whether IncrementalAlterConfigs may APPEND to or SUBTRACT from it.
    pub fn is_list(&self) -> bool {
        self.kind == Kind::CleanupPolicy
    }
}

/// Every topic config the broker honours; any other name is refused with INVALID_CONFIG.
pub(crate) const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    TopicConfigDef {
        name: "cleanup.policy",
        broker_name: "log.cleanup.policy",
        kind: Kind::CleanupPolicy,
        config_type: config_type::LIST,
        doc: "Retention policy for old log segments; only \"delete\" is supported (no compaction).",
    },
    TopicConfigDef {
        name: "max.message.bytes",
        broker_name: "message.max.bytes",
        kind: Kind::Int { min: 0 },
        config_type: config_type::INT,
        doc: "Largest record batch size allowed for the topic.",
    },
    TopicConfigDef {
        name: "message.timestamp.type",
        broker_name: "log.message.timestamp.type",
        kind: Kind::TimestampType,
        config_type: config_type::STRING,
        doc: "CreateTime keeps the producer's timestamps; LogAppendTime stamps the append time.",
    },
    TopicConfigDef {
        name: "min.insync.replicas",
        broker_name: "min.insync.replicas",
        kind: Kind::Int { min: 1 },
        config_type: config_type::INT,
        doc: "Fewest in-sync replicas an acks=all produce needs (NOT_ENOUGH_REPLICAS below it).",
    },
    TopicConfigDef {
        name: "retention.bytes",
        broker_name: "log.retention.bytes",
        kind: Kind::Long { min: i64::MIN },
        config_type: config_type::LONG,
        doc: "Largest size a partition may grow to before old segments are deleted (-1: no limit).",
    },
    TopicConfigDef {
        name: "retention.ms",
        broker_name: "log.retention.ms",
        kind: Kind::Long { min: -1 },
        config_type: config_type::LONG,
        doc: "How long a segment is kept after its newest record (-1: forever).",
    },
    TopicConfigDef {
        name: "segment.bytes",
        broker_name: "log.segment.bytes",
        // Kafka 3.x's lower bound (the smallest legacy record); Kafka 4 raised it to 1 MiB,
        // but small segments make retention testable, which is what this broker is for.
        kind: Kind::Int { min: 14 },
        config_type: config_type::INT,
        doc: "Size at which a new log segment is rolled.",
    },
    TopicConfigDef {
        name: "segment.ms",
        broker_name: "log.roll.ms",
        kind: Kind::Long { min: 1 },
        config_type: config_type::LONG,
        doc: "Age of a segment's first record at which a new segment is rolled.",
    },
];

/// Looks up an honoured topic config.
pub(crate) fn topic_config(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Why a topic config was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The broker does not know or does not honour this config.
    #[error("unknown or unsupported topic config {0}")]
    Unknown(String),
    /// A null value where one is needed.
    #[error("null value not supported for topic config {0}")]
    Null(String),
    /// The value does not parse or is out of range.
    #[error("invalid value {value:?} for topic config {name}: {reason}")]
    Invalid {
        /// The config.
        name: String,
        /// The value given.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Checks a topic config and returns its value as stored (lists without blanks).
pub(crate) fn validate(name: &str, value: Option<&str>) -> Result<String, ConfigError> {
    let def = topic_config(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
    let value = value.ok_or_else(|| ConfigError::Null(name.to_string()))?;
    let invalid = |reason| ConfigError::Invalid {
        name: name.to_string(),
        value: value.to_string(),
        reason,
    };
    match def.kind {
        Kind::Long { min } => match value.trim().parse::<i64>() {
            Ok(v) if v >= min => Ok(v.to_string()),
            Ok(_) => Err(invalid("below the minimum")),
            Err(_) => Err(invalid("not a 64-bit integer")),
        },
        Kind::Int { min } => match value.trim().parse::<i32>() {
            Ok(v) if v >= min => Ok(v.to_string()),
            Ok(_) => Err(invalid("below the minimum")),
            Err(_) => Err(invalid("not a 32-bit integer")),
        },
        Kind::CleanupPolicy => {
            let items = split_list(value);
            if items.is_empty() {
                return Err(invalid("an empty policy is not supported"));
            }
            if items.iter().any(|i| i != "delete") {
                return Err(invalid("only \"delete\" is supported (no log compaction)"));
            }
            Ok("delete".to_string())
        }
        Kind::TimestampType => match value.trim() {
            "CreateTime" | "LogAppendTime" => Ok(value.trim().to_string()),
            _ => Err(invalid("must be CreateTime or LogAppendTime")),
        },
    }
}

/// The elements of a comma-separated list config, trimmed, blanks dropped.
pub(crate) fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// What a topic runs with: its log settings and its timestamp type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicSettings {
    /// The partition logs' configuration.
    pub log: LogConfig,
    /// `message.timestamp.type=LogAppendTime`.
    pub log_append_time: bool,
    /// `min.insync.replicas`: the in-sync replicas an acks=all produce needs.
    pub min_insync_replicas: i32,
}

impl TopicSettings {
    /// The settings of a topic with `overrides` (already validated) on top of the broker
    /// defaults.
    pub fn resolve(defaults: &LogConfig, overrides: &BTreeMap<String, String>) -> Self {
        let mut log = defaults.clone();
        let mut log_append_time = false;
        let mut min_insync_replicas = 1;
        for (name, value) in overrides {
            let long = value.parse::<i64>().ok();
            match (name.as_str(), long) {
                ("retention.ms", Some(v)) => log.retention_ms = v,
                ("retention.bytes", Some(v)) => log.retention_bytes = v,
                ("segment.ms", Some(v)) => log.segment_ms = v,
                ("segment.bytes", Some(v)) => log.segment_bytes = u64::try_from(v).unwrap_or(0),
                ("max.message.bytes", Some(v)) => {
                    log.max_message_bytes = u64::try_from(v).unwrap_or(0);
                }
                ("message.timestamp.type", _) => log_append_time = value == "LogAppendTime",
                ("min.insync.replicas", Some(v)) => {
                    min_insync_replicas = i32::try_from(v).unwrap_or(i32::MAX);
                }
                _ => {}
            }
        }
        Self {
            log,
            log_append_time,
            min_insync_replicas,
        }
    }
}

/// The broker default of a topic config, as a string.
pub(crate) fn default_value(def: &TopicConfigDef, defaults: &LogConfig) -> String {
    match def.name {
        "retention.ms" => defaults.retention_ms.to_string(),
        "retention.bytes" => defaults.retention_bytes.to_string(),
        "segment.ms" => defaults.segment_ms.to_string(),
        "segment.bytes" => defaults.segment_bytes.to_string(),
        "max.message.bytes" => defaults.max_message_bytes.to_string(),
        "message.timestamp.type" => "CreateTime".to_string(),
        "min.insync.replicas" => "1".to_string(),
        _ => "delete".to_string(),
    }
}

/// Where a topic's default comes from: Kafka's own default, or a broker setting changed at
/// startup.
pub(crate) fn default_source(def: &TopicConfigDef, defaults: &LogConfig) -> i8 {
    if default_value(def, defaults) == default_value(def, &LogConfig::default()) {
        SOURCE_DEFAULT
    } else {
        SOURCE_STATIC_BROKER
    }
}

/// One entry of a topic's described configuration.
#[derive(Debug, Clone)]
pub(crate) struct ConfigEntry {
    pub def: &'static TopicConfigDef,
    /// The value in effect.
    pub value: String,
    /// Where it comes from (`SOURCE_*`).
    pub source: i8,
    /// The broker default (the synonym below a topic override).
    pub default: String,
    /// Where the default comes from.
    pub default_source: i8,
}

/// Every honoured config of a topic with `overrides`, in name order.
pub(crate) fn describe_topic(
    defaults: &LogConfig,
    overrides: &BTreeMap<String, String>,
) -> Vec<ConfigEntry> {
    TOPIC_CONFIGS
        .iter()
        .map(|def| {
            let default = default_value(def, defaults);
            let default_source = default_source(def, defaults);
            match overrides.get(def.name) {
                Some(v) => ConfigEntry {
                    def,
                    value: v.clone(),
                    source: SOURCE_DYNAMIC_TOPIC,
                    default,
                    default_source,
                },
                None => ConfigEntry {
                    def,
                    value: default.clone(),
                    source: default_source,
                    default,
                    default_source,
                },
            }
        })
        .collect()
}

/// The broker settings DescribeConfigs shows for the broker resource (all read-only).
pub(crate) fn broker_configs(
    config: &BrokerConfig,
    advertised: &str,
) -> Vec<(&'static str, String)> {
    let log = &config.log_config;
    vec![
        (
            "advertised.listeners",
            format!("{}://{advertised}", config.security_protocol()),
        ),
        (
            "auto.create.topics.enable",
            config.auto_create_topics.to_string(),
        ),
        ("default.replication.factor", "1".to_string()),
        ("log.cleanup.policy", "delete".to_string()),
        (
            "log.dirs",
            config
                .data_dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        ),
        ("log.message.timestamp.type", "CreateTime".to_string()),
        ("log.retention.bytes", log.retention_bytes.to_string()),
        (
            "log.retention.check.interval.ms",
            config.retention_check_interval.as_millis().to_string(),
        ),
        ("log.retention.ms", log.retention_ms.to_string()),
        ("log.roll.ms", log.segment_ms.to_string()),
        ("log.segment.bytes", log.segment_bytes.to_string()),
        ("message.max.bytes", log.max_message_bytes.to_string()),
        ("node.id", config.node_id.to_string()),
        ("num.partitions", config.default_partitions.to_string()),
        (
            "socket.request.max.bytes",
            config.socket_request_max_bytes.to_string(),
        ),
    ]
}

/// Checks a topic name as Kafka's `Topic.validate` does.
pub(crate) fn validate_topic_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("topic name is empty");
    }
    if name == "." || name == ".." {
        return Err("topic name cannot be \".\" or \"..\"");
    }
    if name.len() > 249 {
        return Err("topic name is longer than 249 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("topic name may only contain ASCII alphanumerics, '.', '_' and '-'");
    }
    Ok(())
}

/// The form under which Kafka finds two topic names colliding ('.' and '_' are the same in
/// metric names).
pub(crate) fn unify_topic_name(name: &str) -> String {
    name.replace('.', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_follows_the_table() {
        assert_eq!(validate("retention.ms", Some(" 1000 ")), Ok("1000".into()));
        assert!(matches!(
            validate("retention.ms", Some("-2")),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            validate("segment.bytes", Some("1e9")),
            Err(ConfigError::Invalid { .. })
        ));
        assert_eq!(
            validate("cleanup.policy", Some("delete, delete")),
            Ok("delete".into())
        );
        assert!(validate("cleanup.policy", Some("compact")).is_err());
        assert!(matches!(
            validate("unclean.leader.election.enable", Some("true")),
            Err(ConfigError::Unknown(_))
        ));
        assert!(matches!(
            validate("retention.ms", None),
            Err(ConfigError::Null(_))
        ));
    }

    #[test]
    fn overrides_resolve_onto_defaults() {
        let mut o = BTreeMap::new();
        o.insert("retention.ms".to_string(), "5".to_string());
        o.insert(
            "message.timestamp.type".to_string(),
            "LogAppendTime".to_string(),
        );
        let s = TopicSettings::resolve(&LogConfig::default(), &o);
        assert_eq!(s.log.retention_ms, 5);
        assert!(s.log_append_time);
        assert_eq!(s.log.segment_bytes, LogConfig::default().segment_bytes);
    }

    #[test]
    fn topic_names() {
        assert!(validate_topic_name("a.b_c-D9").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("a b").is_err());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
    }
}
