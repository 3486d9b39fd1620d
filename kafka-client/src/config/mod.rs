//! Client configuration: one typed [`ClientConfig`], reachable three ways.
//!
//! - A typed builder: [`ClientConfig::builder`] (the main API; durations are `Duration`s,
//!   protocols are enums).
//! - Kafka's property names as strings: [`ClientConfig::set`], e.g.
//!   `ClientConfig::new().set("request.timeout.ms", "5000")?`.
//! - A Java-style properties file: [`ClientConfig::from_properties_file`].
//!
//! All three land in the same struct, and strings are checked against the [`ConfigDef`] table
//! ([`CLIENT_CONFIGS`]), so an unknown name or a bad value is refused with the property named.
//! Defaults are Kafka's.
//!
//! Producer, consumer and admin configs extend this one through [`Configurable`]: each owns a
//! `ClientConfig`, answers its own table's names, and hands the rest to
//! [`ClientConfig::set_property`], which refuses names nobody knows.

mod builder;
mod def;
mod defs;
mod error;
pub mod properties;
mod security;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use builder::ClientConfigBuilder;
pub use def::{ConfigDef, ConfigType, ConfigValue, Importance, Validator, describe};
pub use defs::CLIENT_CONFIGS;
pub use error::ConfigError;
pub use security::{
    EndpointIdentification, Password, SaslMechanism, SaslSettings, SecurityProtocol, SslSettings,
};

pub(crate) use defs::split_host_port;

/// A configuration that Kafka property strings parse into.
///
/// Implement [`Configurable::definitions`] and [`Configurable::set_property`]; the properties
/// text and file readers come for free.
pub trait Configurable {
    /// Every property this configuration accepts, its own first, then those it delegates.
    fn definitions(&self) -> Vec<&'static ConfigDef>;

    /// Sets one property from its string form; unknown names and bad values are errors naming
    /// the property.
    fn set_property(&mut self, name: &str, value: &str) -> Result<(), ConfigError>;

    /// Applies every entry of Java properties text, in order; errors carry the line.
    fn apply_properties(&mut self, text: &str) -> Result<(), ConfigError> {
        apply_properties(self, text, None)
    }

    /// Reads a Java properties file and applies it; errors carry the file and line.
    fn apply_properties_file(&mut self, path: impl AsRef<Path>) -> Result<(), ConfigError>
    where
        Self: Sized,
    {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.to_owned(),
            source: Arc::new(e),
        })?;
        apply_properties(self, &text, Some(path))
    }
}

fn apply_properties<C: Configurable + ?Sized>(
    config: &mut C,
    text: &str,
    path: Option<&Path>,
) -> Result<(), ConfigError> {
    for p in properties::parse(text) {
        config
            .set_property(&p.key, &p.value)
            .map_err(|e| ConfigError::AtLine {
                path: path.map(Path::to_path_buf),
                line: p.line,
                source: Box::new(e),
            })?;
    }
    Ok(())
}

/// The settings every Kafka client shares. Build with [`ClientConfig::builder`], or start from
/// [`ClientConfig::new`] (Kafka's defaults) and [`ClientConfig::set`] properties by name.
///
/// ```
/// use std::time::Duration;
/// use kafka_client::config::{ClientConfig, SecurityProtocol};
///
/// let typed = ClientConfig::builder()
///     .bootstrap_servers(["localhost:9092"])
///     .request_timeout(Duration::from_secs(5))
///     .build()?;
/// let by_name = ClientConfig::new()
///     .set("bootstrap.servers", "localhost:9092")?
///     .set("request.timeout.ms", "5000")?;
/// assert_eq!(typed, by_name);
/// assert_eq!(typed.security_protocol(), SecurityProtocol::Plaintext);
/// # Ok::<(), kafka_client::config::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    pub(crate) bootstrap_servers: Vec<String>,
    pub(crate) client_id: String,
    pub(crate) client_rack: String,
    pub(crate) request_timeout: Duration,
    pub(crate) default_api_timeout: Duration,
    pub(crate) metadata_max_age: Duration,
    pub(crate) reconnect_backoff: Duration,
    pub(crate) reconnect_backoff_max: Duration,
    pub(crate) retry_backoff: Duration,
    pub(crate) retry_backoff_max: Duration,
    pub(crate) connection_setup_timeout: Duration,
    pub(crate) connection_setup_timeout_max: Duration,
    pub(crate) connections_max_idle: Duration,
    pub(crate) socket_send_buffer_bytes: i32,
    pub(crate) socket_receive_buffer_bytes: i32,
    pub(crate) receive_message_max_bytes: usize,
    pub(crate) security_protocol: SecurityProtocol,
    pub(crate) sasl: SaslSettings,
    pub(crate) ssl: SslSettings,
    pub(crate) client_software_name: String,
    pub(crate) client_software_version: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientConfig {
    /// Kafka's defaults, with no bootstrap servers yet.
    pub fn new() -> Self {
        let ms = Duration::from_millis;
        Self {
            bootstrap_servers: Vec::new(),
            client_id: String::new(),
            client_rack: String::new(),
            request_timeout: ms(30_000),
            default_api_timeout: ms(60_000),
            metadata_max_age: ms(300_000),
            reconnect_backoff: ms(50),
            reconnect_backoff_max: ms(1_000),
            retry_backoff: ms(100),
            retry_backoff_max: ms(1_000),
            connection_setup_timeout: ms(10_000),
            connection_setup_timeout_max: ms(30_000),
            connections_max_idle: ms(540_000),
            socket_send_buffer_bytes: 131_072,
            socket_receive_buffer_bytes: 65_536,
            receive_message_max_bytes: 100_000_000,
            security_protocol: SecurityProtocol::Plaintext,
            sasl: SaslSettings::default(),
            ssl: SslSettings::default(),
            client_software_name: defs::SOFTWARE_NAME.to_owned(),
            client_software_version: defs::SOFTWARE_VERSION.to_owned(),
        }
    }

    /// A typed builder starting from Kafka's defaults.
    pub fn builder() -> ClientConfigBuilder {
        ClientConfigBuilder::new()
    }

    /// A builder starting from this configuration.
    pub fn to_builder(&self) -> ClientConfigBuilder {
        ClientConfigBuilder::from_config(self.clone())
    }

    /// Sets one property by its Kafka name, e.g. `set("request.timeout.ms", "5000")`.
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

    /// Kafka's defaults overridden by a Java properties file.
    pub fn from_properties_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let mut c = Self::new();
        c.apply_properties_file(path)?;
        Ok(c)
    }

    /// Checks what no single property can: required settings and combinations. Run by the
    /// builder and by `Client::connect`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.bootstrap_servers.is_empty() {
            return Err(ConfigError::Missing {
                name: "bootstrap.servers".into(),
                reason: String::new(),
            });
        }
        for name in [
            "request.timeout.ms",
            "default.api.timeout.ms",
            "metadata.max.age.ms",
            "reconnect.backoff.ms",
            "reconnect.backoff.max.ms",
            "retry.backoff.ms",
            "retry.backoff.max.ms",
            "socket.connection.setup.timeout.ms",
            "socket.connection.setup.timeout.max.ms",
            "connections.max.idle.ms",
        ] {
            let def = ConfigDef::find(CLIENT_CONFIGS, name).expect("table has every duration");
            def.check_duration(self.duration_property(name))?;
        }
        if self.security_protocol.uses_sasl() {
            let mechanism = self.sasl.mechanism;
            let why = format!("when security.protocol is {}", self.security_protocol);
            if !mechanism.is_supported() {
                return Err(ConfigError::Unsupported {
                    name: "sasl.mechanism".into(),
                    value: mechanism.name().into(),
                    reason: "use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512".into(),
                });
            }
            if self.sasl.username.is_none() {
                return Err(ConfigError::Missing {
                    name: "sasl.username".into(),
                    reason: why,
                });
            }
            if self.sasl.password.is_none() {
                return Err(ConfigError::Missing {
                    name: "sasl.password".into(),
                    reason: why,
                });
            }
        }
        match (&self.ssl.certificate_location, &self.ssl.key_location) {
            (Some(_), None) => Err(ConfigError::Missing {
                name: "ssl.key.location".into(),
                reason: "when ssl.certificate.location is set".into(),
            }),
            (None, Some(_)) => Err(ConfigError::Missing {
                name: "ssl.certificate.location".into(),
                reason: "when ssl.key.location is set".into(),
            }),
            _ => Ok(()),
        }
    }

    fn duration_property(&self, name: &str) -> Duration {
        match name {
            "request.timeout.ms" => self.request_timeout,
            "default.api.timeout.ms" => self.default_api_timeout,
            "metadata.max.age.ms" => self.metadata_max_age,
            "reconnect.backoff.ms" => self.reconnect_backoff,
            "reconnect.backoff.max.ms" => self.reconnect_backoff_max,
            "retry.backoff.ms" => self.retry_backoff,
            "retry.backoff.max.ms" => self.retry_backoff_max,
            "socket.connection.setup.timeout.ms" => self.connection_setup_timeout,
            "socket.connection.setup.timeout.max.ms" => self.connection_setup_timeout_max,
            _ => self.connections_max_idle,
        }
    }

    /// `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> &[String] {
        &self.bootstrap_servers
    }
    /// `client.id`.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// `client.rack`.
    pub fn client_rack(&self) -> &str {
        &self.client_rack
    }
    /// `request.timeout.ms`.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
    /// `default.api.timeout.ms`.
    pub fn default_api_timeout(&self) -> Duration {
        self.default_api_timeout
    }
    /// `metadata.max.age.ms`.
    pub fn metadata_max_age(&self) -> Duration {
        self.metadata_max_age
    }
    /// `reconnect.backoff.ms`.
    pub fn reconnect_backoff(&self) -> Duration {
        self.reconnect_backoff
    }
    /// `reconnect.backoff.max.ms`.
    pub fn reconnect_backoff_max(&self) -> Duration {
        self.reconnect_backoff_max
    }
    /// `retry.backoff.ms`.
    pub fn retry_backoff(&self) -> Duration {
        self.retry_backoff
    }
    /// `retry.backoff.max.ms`.
    pub fn retry_backoff_max(&self) -> Duration {
        self.retry_backoff_max
    }
    /// `socket.connection.setup.timeout.ms`.
    pub fn connection_setup_timeout(&self) -> Duration {
        self.connection_setup_timeout
    }
    /// `socket.connection.setup.timeout.max.ms`.
    pub fn connection_setup_timeout_max(&self) -> Duration {
        self.connection_setup_timeout_max
    }
    /// `connections.max.idle.ms`.
    pub fn connections_max_idle(&self) -> Duration {
        self.connections_max_idle
    }
    /// `socket.send.buffer.bytes` (-1: the OS default).
    pub fn socket_send_buffer_bytes(&self) -> i32 {
        self.socket_send_buffer_bytes
    }
    /// `socket.receive.buffer.bytes` (-1: the OS default).
    pub fn socket_receive_buffer_bytes(&self) -> i32 {
        self.socket_receive_buffer_bytes
    }
    /// `receive.message.max.bytes`.
    pub fn receive_message_max_bytes(&self) -> usize {
        self.receive_message_max_bytes
    }
    /// `security.protocol`.
    pub fn security_protocol(&self) -> SecurityProtocol {
        self.security_protocol
    }
    /// The `sasl.*` settings.
    pub fn sasl(&self) -> &SaslSettings {
        &self.sasl
    }
    /// The `ssl.*` settings.
    pub fn ssl(&self) -> &SslSettings {
        &self.ssl
    }
    /// `client.software.name`.
    pub fn client_software_name(&self) -> &str {
        &self.client_software_name
    }
    /// `client.software.version`.
    pub fn client_software_version(&self) -> &str {
        &self.client_software_version
    }

    fn apply(&mut self, name: &'static str, value: ConfigValue) {
        use ConfigValue as V;
        let path = |s: String| (!s.is_empty()).then(|| PathBuf::from(s));
        match (name, value) {
            ("bootstrap.servers", V::List(v)) => self.bootstrap_servers = v,
            ("client.id", V::String(v)) => self.client_id = v,
            ("client.rack", V::String(v)) => self.client_rack = v,
            ("request.timeout.ms", V::Duration(v)) => self.request_timeout = v,
            ("default.api.timeout.ms", V::Duration(v)) => self.default_api_timeout = v,
            ("metadata.max.age.ms", V::Duration(v)) => self.metadata_max_age = v,
            ("reconnect.backoff.ms", V::Duration(v)) => self.reconnect_backoff = v,
            ("reconnect.backoff.max.ms", V::Duration(v)) => self.reconnect_backoff_max = v,
            ("retry.backoff.ms", V::Duration(v)) => self.retry_backoff = v,
            ("retry.backoff.max.ms", V::Duration(v)) => self.retry_backoff_max = v,
            ("socket.connection.setup.timeout.ms", V::Duration(v)) => {
                self.connection_setup_timeout = v
            }
            ("socket.connection.setup.timeout.max.ms", V::Duration(v)) => {
                self.connection_setup_timeout_max = v
            }
            ("connections.max.idle.ms", V::Duration(v)) => self.connections_max_idle = v,
            ("socket.send.buffer.bytes", V::Int(v)) => self.socket_send_buffer_bytes = v,
            ("socket.receive.buffer.bytes", V::Int(v)) => self.socket_receive_buffer_bytes = v,
            ("receive.message.max.bytes", V::Int(v)) => self.receive_message_max_bytes = v as usize,
            ("security.protocol", V::Enum(v)) => {
                self.security_protocol = v.parse().unwrap_or_default()
            }
            ("sasl.mechanism", V::Enum(v)) => self.sasl.mechanism = v.parse().unwrap_or_default(),
            ("sasl.username", V::String(v)) => self.sasl.username = Some(v),
            ("sasl.password", V::Password(v)) => self.sasl.password = Some(v),
            ("sasl.jaas.config", V::Password(v)) => {
                let (user, pass) = security::parse_jaas(v.expose());
                if let Some(user) = user {
                    self.sasl.username = Some(user);
                }
                if let Some(pass) = pass {
                    self.sasl.password = Some(Password::new(pass));
                }
            }
            ("ssl.ca.location", V::String(v)) => self.ssl.ca_location = path(v),
            ("ssl.certificate.location", V::String(v)) => self.ssl.certificate_location = path(v),
            ("ssl.key.location", V::String(v)) => self.ssl.key_location = path(v),
            ("ssl.key.password", V::Password(v)) => self.ssl.key_password = Some(v),
            ("ssl.endpoint.identification.algorithm", V::Enum(v)) => {
                self.ssl.endpoint_identification = if v == "none" {
                    EndpointIdentification::None
                } else {
                    EndpointIdentification::Https
                }
            }
            ("client.software.name", V::String(v)) => self.client_software_name = v,
            ("client.software.version", V::String(v)) => self.client_software_version = v,
            (name, value) => {
                // The table and this match are kept in step by the `every_property_applies`
                // test; reaching here means a definition was added without its field.
                debug_assert!(false, "unhandled property {name} = {value:?}");
            }
        }
    }
}

impl Configurable for ClientConfig {
    fn definitions(&self) -> Vec<&'static ConfigDef> {
        CLIENT_CONFIGS.iter().collect()
    }

    fn set_property(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let def =
            ConfigDef::find(CLIENT_CONFIGS, name).ok_or_else(|| ConfigError::UnknownProperty {
                name: name.to_owned(),
            })?;
        let parsed = def.parse(value)?;
        self.apply(def.name, parsed);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
