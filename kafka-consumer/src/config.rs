//! Consumer configuration: the client core's [`ClientConfig`] plus the consumer's own
//! properties, under Kafka's names and with the Java consumer's defaults.
//!
//! The consumer contributes its property table ([`CONSUMER_CONFIGS`]) through
//! [`Configurable`]: names it owns are parsed here, everything else goes to the client core,
//! which refuses names nobody knows. So `ConsumerConfig::new().set("fetch.min.bytes", "1")`
//! and `.set("request.timeout.ms", "5000")` both work, and a typo is an error naming it.
//!
//! ```
//! use std::time::Duration;
//! use kafka_consumer::{ConsumerConfig, OffsetReset};
//!
//! let config = ConsumerConfig::new()
//!     .set("bootstrap.servers", "localhost:9092")?
//!     .set("group.id", "billing")?
//!     .set("auto.offset.reset", "earliest")?
//!     .with_session_timeout(Duration::from_secs(10));
//! assert_eq!(config.auto_offset_reset(), OffsetReset::Earliest);
//! assert_eq!(config.max_poll_records(), 500);
//! # Ok::<(), kafka_client::config::ConfigError>(())
//! ```

use std::time::Duration;

use kafka_client::ClientConfig;
use kafka_client::config::{
    ConfigDef, ConfigError, ConfigType, ConfigValue, Configurable, Importance,
};

/// What to do when a partition has no committed offset, or its offset is out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OffsetReset {
    /// Start from the log start.
    Earliest,
    /// Start from the log end (only records produced from now on).
    #[default]
    Latest,
    /// Fail: the application gets [`ConsumerError::NoOffset`](crate::ConsumerError::NoOffset)
    /// or [`ConsumerError::OffsetOutOfRange`](crate::ConsumerError::OffsetOutOfRange).
    None,
}

/// Which records of transactions a consumer sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// Every record, including those of open and aborted transactions.
    #[default]
    ReadUncommitted,
    /// Only records of committed transactions (and non-transactional ones), up to the last
    /// stable offset.
    ReadCommitted,
}

impl IsolationLevel {
    /// The value on the wire (Fetch, ListOffsets).
    pub fn wire(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

fn strategies(v: &ConfigValue) -> Result<(), String> {
    let ConfigValue::List(items) = v else {
        return Ok(());
    };
    if items.is_empty() {
        return Err("at least one assignor".into());
    }
    match items
        .iter()
        .find(|s| crate::assignor::builtin(s).is_none() && !s.contains('.'))
    {
        Some(bad) => Err(format!(
            "range, roundrobin, sticky, cooperative-sticky or a Java class name (`{bad}` is none)"
        )),
        None => Ok(()),
    }
}

const fn int(min: i32) -> ConfigType {
    ConfigType::Int { min, max: i32::MAX }
}

/// Every property the consumer adds to the client core's.
pub const CONSUMER_CONFIGS: &[ConfigDef] = &[
    ConfigDef::new(
        "group.id",
        ConfigType::String,
        "The consumer group; needed for subscribe() and for committing offsets.",
    )
    .importance(Importance::High),
    ConfigDef::new(
        "group.instance.id",
        ConfigType::String,
        "A stable identity that makes the member static (KIP-345): restarting within the session timeout rejoins without a rebalance.",
    ),
    ConfigDef::new(
        "session.timeout.ms",
        ConfigType::NON_NEGATIVE_INT_DURATION,
        "How long the coordinator waits for heartbeats before removing the member.",
    )
    .default_value("45000")
    .importance(Importance::High),
    ConfigDef::new(
        "heartbeat.interval.ms",
        ConfigType::NON_NEGATIVE_INT_DURATION,
        "How often the member heartbeats (independently of polling).",
    )
    .default_value("3000"),
    ConfigDef::new(
        "max.poll.interval.ms",
        ConfigType::NON_NEGATIVE_INT_DURATION,
        "The longest the application may go without polling before the member leaves the group; also the rebalance timeout.",
    )
    .default_value("300000"),
    ConfigDef::new(
        "max.poll.records",
        int(1),
        "Most records one poll() returns.",
    )
    .default_value("500"),
    ConfigDef::new(
        "enable.auto.commit",
        ConfigType::Bool,
        "Commit the positions of processed records in the background, on revocation and on close.",
    )
    .default_value("true"),
    ConfigDef::new(
        "auto.commit.interval.ms",
        ConfigType::NON_NEGATIVE_INT_DURATION,
        "How often positions are committed when enable.auto.commit is on.",
    )
    .default_value("5000"),
    ConfigDef::new(
        "auto.offset.reset",
        ConfigType::Enum(&["latest", "earliest", "none"]),
        "Where to start without a committed offset, or after an out-of-range offset.",
    )
    .default_value("latest")
    .importance(Importance::High),
    ConfigDef::new(
        "fetch.min.bytes",
        int(0),
        "Bytes a fetch waits for (up to fetch.max.wait.ms) before the broker answers.",
    )
    .default_value("1"),
    ConfigDef::new(
        "fetch.max.bytes",
        int(0),
        "Most bytes one fetch response holds (at least one batch is always returned).",
    )
    .default_value("52428800"),
    ConfigDef::new(
        "fetch.max.wait.ms",
        ConfigType::NON_NEGATIVE_INT_DURATION,
        "Longest a broker holds a fetch while fewer than fetch.min.bytes are available.",
    )
    .default_value("500"),
    ConfigDef::new(
        "max.partition.fetch.bytes",
        int(0),
        "Most bytes per partition in one fetch response.",
    )
    .default_value("1048576"),
    ConfigDef::new(
        "queued.max.messages.kbytes",
        int(1),
        "Kilobytes of fetched data buffered ahead of the application before fetching pauses (librdkafka's name).",
    )
    .default_value("65536"),
    ConfigDef::new(
        "isolation.level",
        ConfigType::Enum(&["read_uncommitted", "read_committed"]),
        "read_committed hides records of aborted and open transactions.",
    )
    .default_value("read_uncommitted"),
    ConfigDef::new(
        "check.crcs",
        ConfigType::Bool,
        "Verify the checksum of every fetched batch.",
    )
    .default_value("true"),
    ConfigDef::new(
        "partition.assignment.strategy",
        ConfigType::List,
        "Assignors in order of preference: range, roundrobin, sticky, cooperative-sticky (Java class names accepted). The group uses the first every member supports.",
    )
    .default_value("range,cooperative-sticky")
    .validator(strategies),
    ConfigDef::new(
        "exclude.internal.topics",
        ConfigType::Bool,
        "Whether pattern subscriptions skip internal topics such as __consumer_offsets.",
    )
    .default_value("true"),
    ConfigDef::new(
        "allow.auto.create.topics",
        ConfigType::Bool,
        "Whether metadata requests for subscribed or assigned topics let the broker create missing ones (when its auto.create.topics.enable allows).",
    )
    .default_value("true"),
];

/// The consumer's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    pub(crate) client: ClientConfig,
    pub(crate) group_id: Option<String>,
    pub(crate) group_instance_id: Option<String>,
    pub(crate) session_timeout: Duration,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) max_poll_interval: Duration,
    pub(crate) max_poll_records: usize,
    pub(crate) enable_auto_commit: bool,
    pub(crate) auto_commit_interval: Duration,
    pub(crate) auto_offset_reset: OffsetReset,
    pub(crate) fetch_min_bytes: i32,
    pub(crate) fetch_max_bytes: i32,
    pub(crate) fetch_max_wait: Duration,
    pub(crate) max_partition_fetch_bytes: i32,
    pub(crate) queued_max_bytes: usize,
    pub(crate) isolation_level: IsolationLevel,
    pub(crate) check_crcs: bool,
    pub(crate) assignment_strategy: Vec<String>,
    pub(crate) exclude_internal_topics: bool,
    pub(crate) allow_auto_create_topics: bool,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl ConsumerConfig {
    /// Kafka's defaults, with no bootstrap servers and no group.
    pub fn new() -> Self {
        Self::from_client(ClientConfig::new())
    }

    /// The consumer defaults on top of an existing client configuration.
    pub fn from_client(client: ClientConfig) -> Self {
        let ms = Duration::from_millis;
        Self {
            client,
            group_id: None,
            group_instance_id: None,
            session_timeout: ms(45_000),
            heartbeat_interval: ms(3_000),
            max_poll_interval: ms(300_000),
            max_poll_records: 500,
            enable_auto_commit: true,
            auto_commit_interval: ms(5_000),
            auto_offset_reset: OffsetReset::Latest,
            fetch_min_bytes: 1,
            fetch_max_bytes: 52_428_800,
            fetch_max_wait: ms(500),
            max_partition_fetch_bytes: 1_048_576,
            queued_max_bytes: 65_536 * 1024,
            isolation_level: IsolationLevel::ReadUncommitted,
            check_crcs: true,
            assignment_strategy: vec!["range".into(), "cooperative-sticky".into()],
            exclude_internal_topics: true,
            allow_auto_create_topics: true,
        }
    }

    /// Sets one property by its Kafka name (consumer or client core).
    pub fn set(mut self, name: &str, value: &str) -> Result<Self, ConfigError> {
        self.set_property(name, value)?;
        Ok(self)
    }

    /// Kafka's defaults overridden by Java properties text.
    pub fn from_properties_str(text: &str) -> Result<Self, ConfigError> {
        let mut c = Self::new();
        c.apply_properties(text)?;
        Ok(c)
    }

    /// Checks what no single property can.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.client.validate()?;
        let invalid = |name: &str, value: String, expected: &str| ConfigError::InvalidValue {
            name: name.into(),
            value,
            expected: expected.into(),
        };
        if self.group_id.is_some() && self.heartbeat_interval >= self.session_timeout {
            return Err(invalid(
                "heartbeat.interval.ms",
                self.heartbeat_interval.as_millis().to_string(),
                "less than session.timeout.ms",
            ));
        }
        if self.group_instance_id.is_some() && self.group_id.is_none() {
            return Err(ConfigError::Missing {
                name: "group.id".into(),
                reason: "when group.instance.id is set".into(),
            });
        }
        Ok(())
    }

    /// The client core's settings.
    pub fn client(&self) -> &ClientConfig {
        &self.client
    }
    /// `group.id`.
    pub fn group_id(&self) -> Option<&str> {
        self.group_id.as_deref()
    }
    /// `group.instance.id`.
    pub fn group_instance_id(&self) -> Option<&str> {
        self.group_instance_id.as_deref()
    }
    /// `session.timeout.ms`.
    pub fn session_timeout(&self) -> Duration {
        self.session_timeout
    }
    /// `heartbeat.interval.ms`.
    pub fn heartbeat_interval(&self) -> Duration {
        self.heartbeat_interval
    }
    /// `max.poll.interval.ms`.
    pub fn max_poll_interval(&self) -> Duration {
        self.max_poll_interval
    }
    /// `max.poll.records`.
    pub fn max_poll_records(&self) -> usize {
        self.max_poll_records
    }
    /// `enable.auto.commit`.
    pub fn enable_auto_commit(&self) -> bool {
        self.enable_auto_commit
    }
    /// `auto.commit.interval.ms`.
    pub fn auto_commit_interval(&self) -> Duration {
        self.auto_commit_interval
    }
    /// `auto.offset.reset`.
    pub fn auto_offset_reset(&self) -> OffsetReset {
        self.auto_offset_reset
    }
    /// `isolation.level`.
    pub fn isolation_level(&self) -> IsolationLevel {
        self.isolation_level
    }
    /// `partition.assignment.strategy`.
    pub fn assignment_strategy(&self) -> &[String] {
        &self.assignment_strategy
    }

    /// Sets `bootstrap.servers`.
    pub fn with_bootstrap_servers(
        mut self,
        servers: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, ConfigError> {
        let list: Vec<String> = servers.into_iter().map(Into::into).collect();
        self.client
            .set_property("bootstrap.servers", &list.join(","))?;
        Ok(self)
    }
    /// Sets `group.id`.
    pub fn with_group_id(mut self, group: impl Into<String>) -> Self {
        self.group_id = Some(group.into());
        self
    }
    /// Sets `group.instance.id` (static membership).
    pub fn with_group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group_instance_id = Some(id.into());
        self
    }
    /// Sets `session.timeout.ms`.
    pub fn with_session_timeout(mut self, d: Duration) -> Self {
        self.session_timeout = d;
        self
    }
    /// Sets `heartbeat.interval.ms`.
    pub fn with_heartbeat_interval(mut self, d: Duration) -> Self {
        self.heartbeat_interval = d;
        self
    }
    /// Sets `max.poll.interval.ms`.
    pub fn with_max_poll_interval(mut self, d: Duration) -> Self {
        self.max_poll_interval = d;
        self
    }
    /// Sets `enable.auto.commit`.
    pub fn with_auto_commit(mut self, on: bool) -> Self {
        self.enable_auto_commit = on;
        self
    }
    /// Sets `auto.offset.reset`.
    pub fn with_offset_reset(mut self, reset: OffsetReset) -> Self {
        self.auto_offset_reset = reset;
        self
    }
    /// Sets `isolation.level`.
    pub fn with_isolation_level(mut self, level: IsolationLevel) -> Self {
        self.isolation_level = level;
        self
    }
    /// Sets `partition.assignment.strategy` (protocol names, most preferred first).
    pub fn with_assignors(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.assignment_strategy = names.into_iter().map(Into::into).collect();
        self
    }

    fn apply(&mut self, name: &'static str, value: ConfigValue) {
        use ConfigValue as V;
        let some = |s: String| (!s.is_empty()).then_some(s);
        match (name, value) {
            ("group.id", V::String(v)) => self.group_id = some(v),
            ("group.instance.id", V::String(v)) => self.group_instance_id = some(v),
            ("session.timeout.ms", V::Duration(v)) => self.session_timeout = v,
            ("heartbeat.interval.ms", V::Duration(v)) => self.heartbeat_interval = v,
            ("max.poll.interval.ms", V::Duration(v)) => self.max_poll_interval = v,
            ("max.poll.records", V::Int(v)) => self.max_poll_records = v as usize,
            ("enable.auto.commit", V::Bool(v)) => self.enable_auto_commit = v,
            ("auto.commit.interval.ms", V::Duration(v)) => self.auto_commit_interval = v,
            ("auto.offset.reset", V::Enum(v)) => {
                self.auto_offset_reset = match v {
                    "earliest" => OffsetReset::Earliest,
                    "none" => OffsetReset::None,
                    _ => OffsetReset::Latest,
                }
            }
            ("fetch.min.bytes", V::Int(v)) => self.fetch_min_bytes = v,
            ("fetch.max.bytes", V::Int(v)) => self.fetch_max_bytes = v,
            ("fetch.max.wait.ms", V::Duration(v)) => self.fetch_max_wait = v,
            ("max.partition.fetch.bytes", V::Int(v)) => self.max_partition_fetch_bytes = v,
            ("queued.max.messages.kbytes", V::Int(v)) => {
                self.queued_max_bytes = (v as usize).saturating_mul(1024)
            }
            ("isolation.level", V::Enum(v)) => {
                self.isolation_level = if v == "read_committed" {
                    IsolationLevel::ReadCommitted
                } else {
                    IsolationLevel::ReadUncommitted
                }
            }
            ("check.crcs", V::Bool(v)) => self.check_crcs = v,
            ("partition.assignment.strategy", V::List(v)) => {
                self.assignment_strategy = v
                    .iter()
                    .map(|s| crate::assignor::canonical_name(s).to_owned())
                    .collect()
            }
            ("exclude.internal.topics", V::Bool(v)) => self.exclude_internal_topics = v,
            ("allow.auto.create.topics", V::Bool(v)) => self.allow_auto_create_topics = v,
            (name, value) => debug_assert!(false, "unhandled property {name} = {value:?}"),
        }
    }
}

impl Configurable for ConsumerConfig {
    fn definitions(&self) -> Vec<&'static ConfigDef> {
        let mut all: Vec<&'static ConfigDef> = CONSUMER_CONFIGS.iter().collect();
        all.extend(self.client.definitions());
        all
    }

    fn set_property(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        match ConfigDef::find(CONSUMER_CONFIGS, name) {
            Some(def) => {
                let parsed = def.parse(value)?;
                self.apply(def.name, parsed);
                Ok(())
            }
            None => self.client.set_property(name, value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_property_applies_and_defaults_match_the_table() {
        let defaults = ConsumerConfig::new();
        for def in CONSUMER_CONFIGS {
            if let Some(d) = def.default {
                let mut c = ConsumerConfig::new();
                c.set_property(def.name, d).unwrap();
                assert_eq!(c, defaults, "default of {} disagrees", def.name);
            }
        }
        let c = ConsumerConfig::from_properties_str(
            "group.id=g\ngroup.instance.id=i\nmax.poll.records=7\nisolation.level=READ_COMMITTED\n\
             partition.assignment.strategy=org.apache.kafka.clients.consumer.CooperativeStickyAssignor, roundrobin\n\
             queued.max.messages.kbytes=2\nauto.offset.reset=none\nrequest.timeout.ms=1234",
        )
        .unwrap();
        assert_eq!(c.group_id(), Some("g"));
        assert_eq!(c.group_instance_id(), Some("i"));
        assert_eq!(c.max_poll_records(), 7);
        assert_eq!(c.isolation_level(), IsolationLevel::ReadCommitted);
        assert_eq!(
            c.assignment_strategy(),
            ["cooperative-sticky", "roundrobin"]
        );
        assert_eq!(c.queued_max_bytes, 2048);
        assert_eq!(c.auto_offset_reset(), OffsetReset::None);
        assert_eq!(c.client().request_timeout(), Duration::from_millis(1234));
    }

    #[test]
    fn bad_names_and_values_are_refused() {
        let e = ConsumerConfig::new()
            .set("fetch.min.byte", "1")
            .unwrap_err();
        assert!(e.to_string().contains("fetch.min.byte"), "{e}");
        let e = ConsumerConfig::new()
            .set("partition.assignment.strategy", "fancy")
            .unwrap_err();
        assert!(e.to_string().contains("fancy"), "{e}");
        assert!(ConsumerConfig::new().set("max.poll.records", "0").is_err());
    }

    #[test]
    fn validate_checks_combinations() {
        let c = ConsumerConfig::new()
            .set("bootstrap.servers", "h:1")
            .unwrap()
            .with_group_id("g")
            .with_heartbeat_interval(Duration::from_secs(50));
        assert!(c.validate().is_err());
        let c = ConsumerConfig::new()
            .set("bootstrap.servers", "h:1")
            .unwrap()
            .with_group_instance_id("x");
        assert!(c.validate().is_err());
        let c = ConsumerConfig::new()
            .with_bootstrap_servers(["a:1", "b:2"])
            .unwrap();
        assert_eq!(c.client().bootstrap_servers(), ["a:1", "b:2"]);
    }
}
