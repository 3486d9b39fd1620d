//! Producer configuration: [`ProducerConfig`], set through the typed
//! [`ProducerConfigBuilder`] or by Kafka property names.
//!
//! The producer's own properties are the [`PRODUCER_CONFIGS`] table; everything else is
//! handed to the client core's [`ClientConfig`] through [`Configurable`], so a name neither
//! table knows is refused by name, as is a value outside its range.
//!
//! [`ProducerConfig::validate`] applies Java's cross-property rules
//! (`ProducerConfig.postProcessAndValidateIdempotenceConfigs` and the delivery-timeout
//! check): idempotence needs `acks=all`, `retries > 0` and at most 5 requests in flight;
//! when idempotence was asked for explicitly a conflicting setting is an error, when it is
//! only the default it is quietly turned off. `delivery.timeout.ms` must cover
//! `linger.ms + request.timeout.ms`; a default that does not is raised to it.
//!
//! ```
//! use std::time::Duration;
//! use kafka_producer::{Acks, ProducerConfig};
//!
//! let typed = ProducerConfig::builder()
//!     .bootstrap_servers(["localhost:9092"])
//!     .acks(Acks::Leader)
//!     .linger(Duration::from_millis(20))
//!     .build()?;
//! let by_name = ProducerConfig::new()
//!     .set("bootstrap.servers", "localhost:9092")?
//!     .set("acks", "1")?
//!     .set("linger.ms", "20")?;
//! assert_eq!(typed.acks(), by_name.acks());
//! assert!(!typed.idempotence(), "acks=1 turns the default idempotence off");
//! assert!(ProducerConfig::new().set("lingr.ms", "5").is_err());
//! # Ok::<(), kafka_client::config::ConfigError>(())
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use kafka_client::config::{
    ClientConfig, ConfigDef, ConfigError, ConfigType, ConfigValue, Configurable, Importance,
};
use kafka_protocol::compression::Compression;

use crate::partitioner::{PartitionerKind, RoundRobinPartitioner};

/// How many replicas must have a record before the broker acknowledges it (`acks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Acks {
    /// `acks=0`: no acknowledgement; records complete once written to the socket, with
    /// offset -1.
    None,
    /// `acks=1`: the leader wrote it.
    Leader,
    /// `acks=all` (`-1`): every in-sync replica has it.
    #[default]
    All,
}

impl Acks {
    /// The value of the Produce request's `acks` field.
    pub fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

const ROUND_ROBIN_CLASS: &str = "org.apache.kafka.clients.producer.RoundRobinPartitioner";
const BUILT_IN_CLASSES: [&str; 3] = [
    "",
    "org.apache.kafka.clients.producer.internals.DefaultPartitioner",
    "org.apache.kafka.clients.producer.UniformStickyPartitioner",
];

fn partitioner_class(v: &ConfigValue) -> Result<(), String> {
    match v {
        ConfigValue::String(s)
            if s != ROUND_ROBIN_CLASS && !BUILT_IN_CLASSES.contains(&s.as_str()) =>
        {
            Err(format!(
                "empty (the built-in partitioner) or {ROUND_ROBIN_CLASS}; other partitioners are set through ProducerConfigBuilder::partitioner"
            ))
        }
        _ => Ok(()),
    }
}

/// Every property the producer adds to the client core's.
pub const PRODUCER_CONFIGS: &[ConfigDef] = &[
    ConfigDef::new(
        "acks",
        ConfigType::Enum(&["all", "-1", "0", "1"]),
        "Acknowledgements the leader must have before answering: 0 (none), 1 (the leader), all/-1 (every in-sync replica).",
    )
    .default_value("all")
    .importance(Importance::High),
    ConfigDef::new(
        "batch.size",
        ConfigType::NON_NEGATIVE_INT,
        "Bytes a partition's batch collects before it is sent (a larger record gets a batch of its own).",
    )
    .default_value("16384"),
    ConfigDef::new(
        "linger.ms",
        ConfigType::NON_NEGATIVE_INT_DURATION,
        "How long a batch waits for more records before it is sent even if not full.",
    )
    .default_value("5"),
    ConfigDef::new(
        "buffer.memory",
        ConfigType::Long { min: 0, max: i64::MAX },
        "Bytes of records the producer holds before send waits for room (up to max.block.ms).",
    )
    .default_value("33554432")
    .importance(Importance::High),
    ConfigDef::new(
        "max.block.ms",
        ConfigType::NON_NEGATIVE_DURATION,
        "How long send may wait for metadata or for room in buffer.memory before failing.",
    )
    .default_value("60000"),
    ConfigDef::new(
        "max.in.flight.requests.per.connection",
        ConfigType::Int { min: 1, max: i32::MAX },
        "Produce requests sent to one broker and not answered yet (at most 5 with idempotence).",
    )
    .default_value("5")
    .importance(Importance::Low),
    ConfigDef::new(
        "retries",
        ConfigType::NON_NEGATIVE_INT,
        "How often a batch that failed with a retriable error is sent again (within delivery.timeout.ms).",
    )
    .default_value("2147483647")
    .importance(Importance::High),
    ConfigDef::new(
        "delivery.timeout.ms",
        ConfigType::NON_NEGATIVE_INT_DURATION,
        "Upper bound on the time from send to success or failure; at least linger.ms + request.timeout.ms.",
    )
    .default_value("120000"),
    ConfigDef::new(
        "enable.idempotence",
        ConfigType::Bool,
        "Exactly one copy of each record per partition, in order, despite retries (needs acks=all, retries > 0, max.in.flight <= 5).",
    )
    .default_value("true"),
    ConfigDef::new(
        "compression.type",
        ConfigType::Enum(&["none", "gzip", "snappy", "lz4", "zstd"]),
        "Codec for record batches.",
    )
    .default_value("none")
    .importance(Importance::High),
    ConfigDef::new(
        "compression.gzip.level",
        ConfigType::Int { min: -1, max: 9 },
        "gzip level, 1-9, or -1 for the codec's default.",
    )
    .default_value("-1")
    .importance(Importance::Low),
    ConfigDef::new(
        "compression.lz4.level",
        ConfigType::Int { min: 1, max: 17 },
        "lz4 level (the pure-Rust lz4 codec writes one level; accepted for compatibility).",
    )
    .default_value("9")
    .importance(Importance::Low),
    ConfigDef::new(
        "compression.zstd.level",
        ConfigType::Int { min: -131072, max: 22 },
        "zstd level.",
    )
    .default_value("3")
    .importance(Importance::Low),
    ConfigDef::new(
        "max.request.size",
        ConfigType::Int { min: 0, max: i32::MAX },
        "Largest Produce request; also the largest record accepted.",
    )
    .default_value("1048576"),
    ConfigDef::new(
        "partitioner.class",
        ConfigType::String,
        "Empty for the built-in partitioner, or org.apache.kafka.clients.producer.RoundRobinPartitioner.",
    )
    .default_value("")
    .validator(partitioner_class),
    ConfigDef::new(
        "partitioner.ignore.keys",
        ConfigType::Bool,
        "Spread keyed records like unkeyed ones instead of hashing their keys.",
    )
    .default_value("false"),
    ConfigDef::new(
        "partitioner.adaptive.partitioning.enable",
        ConfigType::Bool,
        "Send more unkeyed records to partitions whose brokers keep up (shorter queues).",
    )
    .default_value("true")
    .importance(Importance::Low),
    ConfigDef::new(
        "partitioner.availability.timeout.ms",
        ConfigType::NON_NEGATIVE_DURATION,
        "Leave out partitions whose broker has not taken a request for this long (0: never).",
    )
    .default_value("0")
    .importance(Importance::Low),
    ConfigDef::new(
        "transactional.id",
        ConfigType::String,
        "Transactions are not implemented yet; only the empty value is accepted.",
    )
    .default_value(""),
];

/// The producer's configuration: the client core's plus the producer's own settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ProducerConfig {
    pub(crate) client: ClientConfig,
    pub(crate) acks: Acks,
    pub(crate) batch_size: usize,
    pub(crate) linger: Duration,
    pub(crate) buffer_memory: usize,
    pub(crate) max_block: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) retries: u32,
    pub(crate) delivery_timeout: Duration,
    pub(crate) idempotence: bool,
    pub(crate) compression: Compression,
    pub(crate) gzip_level: i32,
    pub(crate) lz4_level: i32,
    pub(crate) zstd_level: i32,
    pub(crate) max_request_size: usize,
    pub(crate) partitioner: PartitionerKind,
    pub(crate) ignore_keys: bool,
    pub(crate) adaptive: bool,
    pub(crate) availability_timeout: Duration,
    /// Properties set explicitly, for Java's "explicit conflicts are errors, defaults adapt".
    pub(crate) explicit: BTreeSet<&'static str>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl ProducerConfig {
    /// Kafka's defaults (no bootstrap servers yet).
    pub fn new() -> Self {
        Self {
            client: ClientConfig::new(),
            acks: Acks::All,
            batch_size: 16_384,
            linger: Duration::from_millis(5),
            buffer_memory: 32 << 20,
            max_block: Duration::from_millis(60_000),
            max_in_flight: 5,
            retries: i32::MAX as u32,
            delivery_timeout: Duration::from_millis(120_000),
            idempotence: true,
            compression: Compression::None,
            gzip_level: -1,
            lz4_level: 9,
            zstd_level: 3,
            max_request_size: 1 << 20,
            partitioner: PartitionerKind::BuiltIn,
            ignore_keys: false,
            adaptive: true,
            availability_timeout: Duration::ZERO,
            explicit: BTreeSet::new(),
        }
    }

    /// A typed builder from Kafka's defaults.
    pub fn builder() -> ProducerConfigBuilder {
        ProducerConfigBuilder {
            config: Self::new(),
            error: None,
        }
    }

    /// Sets one property by its Kafka name (the producer's or the client core's).
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

    /// Checks the whole configuration and settles what depends on several properties, as
    /// Java does before a producer starts. Run by [`ProducerConfigBuilder::build`] and
    /// [`Producer::connect`](crate::Producer::connect).
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        self.client.validate()?;
        let explicit = |name| self.explicit.contains(name);
        if self.idempotence {
            let conflict = if self.max_in_flight > 5 {
                Some((
                    "max.in.flight.requests.per.connection",
                    self.max_in_flight.to_string(),
                    "must be at most 5 when using the idempotent producer",
                ))
            } else if self.retries == 0 {
                Some((
                    "retries",
                    "0".to_owned(),
                    "must be non-zero when using the idempotent producer",
                ))
            } else if self.acks != Acks::All {
                Some((
                    "acks",
                    self.acks.wire().to_string(),
                    "must be all (-1) when using the idempotent producer, otherwise idempotence cannot be guaranteed",
                ))
            } else {
                None
            };
            if let Some((name, value, why)) = conflict {
                if explicit("enable.idempotence") {
                    return Err(ConfigError::InvalidValue {
                        name: name.into(),
                        value,
                        expected: format!("a value that {why} (enable.idempotence=true)"),
                    });
                }
                tracing::info!(
                    property = name,
                    "idempotence disabled: it was not asked for and {name} conflicts with it"
                );
                self.idempotence = false;
            }
        }
        let floor = self.linger + self.client.request_timeout();
        if self.delivery_timeout < floor {
            if explicit("delivery.timeout.ms") {
                return Err(ConfigError::InvalidValue {
                    name: "delivery.timeout.ms".into(),
                    value: self.delivery_timeout.as_millis().to_string(),
                    expected: format!(
                        "at least linger.ms + request.timeout.ms ({} ms)",
                        floor.as_millis()
                    ),
                });
            }
            self.delivery_timeout = floor;
        }
        let duration_ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        for (name, d) in [
            ("linger.ms", self.linger),
            ("delivery.timeout.ms", self.delivery_timeout),
        ] {
            if duration_ms(d) > i64::from(i32::MAX) {
                return Err(ConfigError::InvalidValue {
                    name: name.into(),
                    value: duration_ms(d).to_string(),
                    expected: ConfigType::NON_NEGATIVE_INT_DURATION.to_string(),
                });
            }
        }
        for (name, v, lo, hi) in [
            ("compression.gzip.level", self.gzip_level, -1, 9),
            ("compression.lz4.level", self.lz4_level, 1, 17),
            ("compression.zstd.level", self.zstd_level, -131_072, 22),
        ] {
            if v < lo || v > hi {
                return Err(ConfigError::InvalidValue {
                    name: name.into(),
                    value: v.to_string(),
                    expected: format!("an integer in [{lo}, {hi}]"),
                });
            }
        }
        if self.max_in_flight == 0 {
            return Err(ConfigError::InvalidValue {
                name: "max.in.flight.requests.per.connection".into(),
                value: "0".into(),
                expected: "at least 1".into(),
            });
        }
        Ok(())
    }

    /// The client core's settings.
    pub fn client(&self) -> &ClientConfig {
        &self.client
    }
    /// `acks`.
    pub fn acks(&self) -> Acks {
        self.acks
    }
    /// `batch.size`.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
    /// `linger.ms`.
    pub fn linger(&self) -> Duration {
        self.linger
    }
    /// `buffer.memory`.
    pub fn buffer_memory(&self) -> usize {
        self.buffer_memory
    }
    /// `max.block.ms`.
    pub fn max_block(&self) -> Duration {
        self.max_block
    }
    /// `max.in.flight.requests.per.connection`.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }
    /// `retries`.
    pub fn retries(&self) -> u32 {
        self.retries
    }
    /// `delivery.timeout.ms` (after [`validate`](Self::validate): at least linger plus the
    /// request timeout).
    pub fn delivery_timeout(&self) -> Duration {
        self.delivery_timeout
    }
    /// Whether the producer is idempotent (after [`validate`](Self::validate): whether it
    /// will be).
    pub fn idempotence(&self) -> bool {
        self.idempotence
    }
    /// `compression.type`.
    pub fn compression(&self) -> Compression {
        self.compression
    }
    /// The level for the configured codec (`None`: the codec's default).
    pub fn compression_level(&self) -> Option<i32> {
        match self.compression {
            Compression::Gzip if self.gzip_level >= 0 => Some(self.gzip_level),
            Compression::Lz4 => Some(self.lz4_level),
            Compression::Zstd => Some(self.zstd_level),
            _ => None,
        }
    }
    /// `max.request.size`.
    pub fn max_request_size(&self) -> usize {
        self.max_request_size
    }
    /// The partitioner.
    pub fn partitioner(&self) -> &PartitionerKind {
        &self.partitioner
    }
    /// `partitioner.ignore.keys`.
    pub fn partitioner_ignore_keys(&self) -> bool {
        self.ignore_keys
    }
    /// `partitioner.adaptive.partitioning.enable`.
    pub fn adaptive_partitioning(&self) -> bool {
        self.adaptive
    }
    /// `partitioner.availability.timeout.ms` (zero: off).
    pub fn availability_timeout(&self) -> Duration {
        self.availability_timeout
    }

    fn apply(&mut self, name: &'static str, value: ConfigValue) -> Result<(), ConfigError> {
        use ConfigValue as V;
        let size = |v: i64| usize::try_from(v).unwrap_or(usize::MAX);
        match (name, value) {
            ("acks", V::Enum(v)) => {
                self.acks = match v {
                    "0" => Acks::None,
                    "1" => Acks::Leader,
                    _ => Acks::All,
                }
            }
            ("batch.size", V::Int(v)) => self.batch_size = size(v.into()),
            ("linger.ms", V::Duration(v)) => self.linger = v,
            ("buffer.memory", V::Long(v)) => self.buffer_memory = size(v),
            ("max.block.ms", V::Duration(v)) => self.max_block = v,
            ("max.in.flight.requests.per.connection", V::Int(v)) => {
                self.max_in_flight = size(v.into())
            }
            ("retries", V::Int(v)) => self.retries = v.unsigned_abs(),
            ("delivery.timeout.ms", V::Duration(v)) => self.delivery_timeout = v,
            ("enable.idempotence", V::Bool(v)) => self.idempotence = v,
            ("compression.type", V::Enum(v)) => {
                self.compression = match v {
                    "gzip" => Compression::Gzip,
                    "snappy" => Compression::Snappy,
                    "lz4" => Compression::Lz4,
                    "zstd" => Compression::Zstd,
                    _ => Compression::None,
                }
            }
            ("compression.gzip.level", V::Int(v)) => {
                if v == 0 {
                    return Err(ConfigError::InvalidValue {
                        name: name.into(),
                        value: "0".into(),
                        expected: "1-9, or -1 for the default".into(),
                    });
                }
                self.gzip_level = v
            }
            ("compression.lz4.level", V::Int(v)) => self.lz4_level = v,
            ("compression.zstd.level", V::Int(v)) => self.zstd_level = v,
            ("max.request.size", V::Int(v)) => self.max_request_size = size(v.into()),
            ("partitioner.class", V::String(v)) => {
                self.partitioner = if v == ROUND_ROBIN_CLASS {
                    PartitionerKind::Custom(std::sync::Arc::new(RoundRobinPartitioner::new()))
                } else {
                    PartitionerKind::BuiltIn
                }
            }
            ("partitioner.ignore.keys", V::Bool(v)) => self.ignore_keys = v,
            ("partitioner.adaptive.partitioning.enable", V::Bool(v)) => self.adaptive = v,
            ("partitioner.availability.timeout.ms", V::Duration(v)) => {
                self.availability_timeout = v
            }
            ("transactional.id", V::String(v)) => {
                if !v.is_empty() {
                    return Err(ConfigError::Unsupported {
                        name: name.into(),
                        value: v,
                        reason: "transactions are not implemented yet; use the idempotent producer"
                            .into(),
                    });
                }
            }
            (name, value) => {
                // The table and this match are kept in step by the `every_property_applies`
                // test; reaching here means a definition was added without its field.
                debug_assert!(false, "unhandled property {name} = {value:?}");
            }
        }
        self.explicit.insert(name);
        Ok(())
    }
}

impl Configurable for ProducerConfig {
    fn definitions(&self) -> Vec<&'static ConfigDef> {
        let mut defs: Vec<&'static ConfigDef> = PRODUCER_CONFIGS.iter().collect();
        defs.extend(self.client.definitions());
        defs
    }

    fn set_property(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        match ConfigDef::find(PRODUCER_CONFIGS, name) {
            Some(def) => {
                let parsed = def.parse(value)?;
                self.apply(def.name, parsed)
            }
            // Not ours: the client core's table, which refuses names nobody knows.
            None => self.client.set_property(name, value),
        }
    }
}

/// Builds a [`ProducerConfig`] with Rust types; every setting starts at Kafka's default.
#[derive(Debug, Clone)]
#[must_use]
pub struct ProducerConfigBuilder {
    config: ProducerConfig,
    /// The first refused client-core setting, reported by `build`.
    error: Option<ConfigError>,
}

macro_rules! setter {
    ($(#[$doc:meta])* $fn:ident, $field:ident, $ty:ty, $name:literal) => {
        $(#[$doc])*
        pub fn $fn(mut self, value: $ty) -> Self {
            self.config.$field = value;
            self.config.explicit.insert($name);
            self
        }
    };
}

impl ProducerConfigBuilder {
    /// Sets a property by its Kafka name (the producer's or the client core's).
    pub fn set(mut self, name: &str, value: &str) -> Result<Self, ConfigError> {
        self.config.set_property(name, value)?;
        Ok(self)
    }

    /// The client core's settings (connection, security, timeouts), replacing those set so
    /// far.
    pub fn client(mut self, client: ClientConfig) -> Self {
        self.config.client = client;
        self
    }

    /// `bootstrap.servers`.
    pub fn bootstrap_servers<I, S>(self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list: Vec<String> = servers.into_iter().map(Into::into).collect();
        self.client_property("bootstrap.servers", &list.join(","))
    }

    /// `client.id`.
    pub fn client_id(self, id: &str) -> Self {
        self.client_property("client.id", id)
    }

    /// `request.timeout.ms`.
    pub fn request_timeout(self, timeout: Duration) -> Self {
        self.client_property("request.timeout.ms", &timeout.as_millis().to_string())
    }

    /// `retry.backoff.ms` and `retry.backoff.max.ms`.
    pub fn retry_backoff(self, initial: Duration, max: Duration) -> Self {
        self.client_property("retry.backoff.ms", &initial.as_millis().to_string())
            .client_property("retry.backoff.max.ms", &max.as_millis().to_string())
    }

    /// Sets a client-core property through its parser (the core's fields are its own); a
    /// refusal is kept and reported by [`build`](Self::build).
    fn client_property(mut self, name: &str, value: &str) -> Self {
        if let Err(e) = self.config.client.set_property(name, value) {
            self.error.get_or_insert(e);
        }
        self
    }

    setter!(
        /// `acks`.
        acks, acks, Acks, "acks"
    );
    setter!(
        /// `batch.size` in bytes.
        batch_size, batch_size, usize, "batch.size"
    );
    setter!(
        /// `linger.ms`.
        linger, linger, Duration, "linger.ms"
    );
    setter!(
        /// `buffer.memory` in bytes.
        buffer_memory, buffer_memory, usize, "buffer.memory"
    );
    setter!(
        /// `max.block.ms`.
        max_block, max_block, Duration, "max.block.ms"
    );
    setter!(
        /// `max.in.flight.requests.per.connection`.
        max_in_flight_requests_per_connection, max_in_flight, usize,
        "max.in.flight.requests.per.connection"
    );
    setter!(
        /// `retries`.
        retries, retries, u32, "retries"
    );
    setter!(
        /// `delivery.timeout.ms`.
        delivery_timeout, delivery_timeout, Duration, "delivery.timeout.ms"
    );
    setter!(
        /// `enable.idempotence`.
        enable_idempotence, idempotence, bool, "enable.idempotence"
    );
    setter!(
        /// `compression.type`.
        compression, compression, Compression, "compression.type"
    );
    setter!(
        /// `compression.gzip.level` (1-9, -1 for the default).
        gzip_level, gzip_level, i32, "compression.gzip.level"
    );
    setter!(
        /// `compression.lz4.level`.
        lz4_level, lz4_level, i32, "compression.lz4.level"
    );
    setter!(
        /// `compression.zstd.level`.
        zstd_level, zstd_level, i32, "compression.zstd.level"
    );
    setter!(
        /// `max.request.size` in bytes.
        max_request_size, max_request_size, usize, "max.request.size"
    );
    setter!(
        /// The partitioner: built-in, round robin, or a user's [`Partitioner`](crate::partitioner::Partitioner).
        partitioner, partitioner, PartitionerKind, "partitioner.class"
    );
    setter!(
        /// `partitioner.ignore.keys`.
        partitioner_ignore_keys, ignore_keys, bool, "partitioner.ignore.keys"
    );
    setter!(
        /// `partitioner.adaptive.partitioning.enable`.
        adaptive_partitioning, adaptive, bool, "partitioner.adaptive.partitioning.enable"
    );
    setter!(
        /// `partitioner.availability.timeout.ms` (zero: off).
        availability_timeout, availability_timeout, Duration,
        "partitioner.availability.timeout.ms"
    );

    /// Checks and settles the configuration ([`ProducerConfig::validate`]).
    pub fn build(self) -> Result<ProducerConfig, ConfigError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut c = self.config;
        c.validate()?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests;
