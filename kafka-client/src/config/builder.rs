//! The typed builder for [`ClientConfig`]: the main way to configure a client in code.
//!
//! Each method takes a Rust type (a `Duration`, an enum, a path) rather than a string, and
//! [`ClientConfigBuilder::build`] runs the same checks as the string path, so both routes give
//! the same, validated configuration.

use std::path::PathBuf;
use std::time::Duration;

use super::{
    ClientConfig, ConfigError, Configurable, EndpointIdentification, Password, SaslMechanism,
    SecurityProtocol,
};

/// Builds a [`ClientConfig`]; every setting starts at Kafka's default.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ClientConfigBuilder {
    config: ClientConfig,
}

impl ClientConfigBuilder {
    /// Kafka's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn from_config(config: ClientConfig) -> Self {
        Self { config }
    }

    /// Sets a property by its Kafka name, e.g. from a command-line `-X name=value`.
    pub fn set(mut self, name: &str, value: &str) -> Result<Self, ConfigError> {
        self.config.set_property(name, value)?;
        Ok(self)
    }

    /// `bootstrap.servers`: `host:port` addresses to reach the cluster first. An item may
    /// itself be a comma-separated list (`"a:9092,b:9092"`, as the property is written).
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.bootstrap_servers = servers
            .into_iter()
            .flat_map(|s| {
                let s: String = s.into();
                s.split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        self
    }

    /// `client.id`.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.config.client_id = id.into();
        self
    }

    /// `client.rack`.
    pub fn client_rack(mut self, rack: impl Into<String>) -> Self {
        self.config.client_rack = rack.into();
        self
    }

    /// `request.timeout.ms`.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// `default.api.timeout.ms`: the overall budget of a retrying call.
    pub fn default_api_timeout(mut self, timeout: Duration) -> Self {
        self.config.default_api_timeout = timeout;
        self
    }

    /// `metadata.max.age.ms`.
    pub fn metadata_max_age(mut self, age: Duration) -> Self {
        self.config.metadata_max_age = age;
        self
    }

    /// `reconnect.backoff.ms` and `reconnect.backoff.max.ms`.
    pub fn reconnect_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.reconnect_backoff = initial;
        self.config.reconnect_backoff_max = max;
        self
    }

    /// `retry.backoff.ms` and `retry.backoff.max.ms`.
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.retry_backoff = initial;
        self.config.retry_backoff_max = max;
        self
    }

    /// `socket.connection.setup.timeout.ms` and `socket.connection.setup.timeout.max.ms`.
    pub fn connection_setup_timeout(mut self, initial: Duration, max: Duration) -> Self {
        self.config.connection_setup_timeout = initial;
        self.config.connection_setup_timeout_max = max;
        self
    }

    /// `connections.max.idle.ms`.
    pub fn connections_max_idle(mut self, idle: Duration) -> Self {
        self.config.connections_max_idle = idle;
        self
    }

    /// `socket.send.buffer.bytes` and `socket.receive.buffer.bytes` (`None`: OS default).
    pub fn socket_buffers(mut self, send: Option<u32>, receive: Option<u32>) -> Self {
        let bytes = |b: Option<u32>| b.map_or(-1, |b| b.min(i32::MAX as u32) as i32);
        self.config.socket_send_buffer_bytes = bytes(send);
        self.config.socket_receive_buffer_bytes = bytes(receive);
        self
    }

    /// `receive.message.max.bytes`: the largest response frame accepted.
    pub fn receive_message_max_bytes(mut self, max: usize) -> Self {
        self.config.receive_message_max_bytes = max;
        self
    }

    /// `security.protocol`.
    pub fn security_protocol(mut self, protocol: SecurityProtocol) -> Self {
        self.config.security_protocol = protocol;
        self
    }

    /// SASL credentials and mechanism (`sasl.mechanism`, `sasl.username`, `sasl.password`).
    /// Also set [`security_protocol`](Self::security_protocol) to a SASL protocol.
    pub fn sasl(
        mut self,
        mechanism: SaslMechanism,
        username: impl Into<String>,
        password: impl Into<Password>,
    ) -> Self {
        self.config.sasl.mechanism = mechanism;
        self.config.sasl.username = Some(username.into());
        self.config.sasl.password = Some(password.into());
        self
    }

    /// `ssl.ca.location`: a PEM file of CAs to trust instead of the system's roots.
    pub fn ssl_ca_location(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.ssl.ca_location = Some(path.into());
        self
    }

    /// `ssl.certificate.location` and `ssl.key.location`, for mutual TLS.
    pub fn ssl_client_auth(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.config.ssl.certificate_location = Some(cert.into());
        self.config.ssl.key_location = Some(key.into());
        self
    }

    /// `ssl.endpoint.identification.algorithm`.
    pub fn ssl_endpoint_identification(mut self, check: EndpointIdentification) -> Self {
        self.config.ssl.endpoint_identification = check;
        self
    }

    /// `client.software.name` and `client.software.version` (KIP-511).
    pub fn client_software(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.config.client_software_name = name.into();
        self.config.client_software_version = version.into();
        self
    }

    /// Checks the configuration (the same checks as for strings, plus required settings).
    pub fn build(self) -> Result<ClientConfig, ConfigError> {
        let c = self.config;
        // Typed values skipped the string parser, so re-check what it would have refused.
        for (name, value) in [
            ("client.software.name", &c.client_software_name),
            ("client.software.version", &c.client_software_version),
        ] {
            if !super::defs::software_token(value) {
                return Err(ConfigError::InvalidValue {
                    name: name.into(),
                    value: value.clone(),
                    expected: "letters, digits, '-' and '.' (KIP-511)".into(),
                });
            }
        }
        if let Some(bad) = c
            .bootstrap_servers
            .iter()
            .find(|a| super::split_host_port(a).is_none())
        {
            return Err(ConfigError::InvalidValue {
                name: "bootstrap.servers".into(),
                value: bad.clone(),
                expected: "host:port".into(),
            });
        }
        if c.receive_message_max_bytes < 1000 || c.receive_message_max_bytes > i32::MAX as usize {
            return Err(ConfigError::InvalidValue {
                name: "receive.message.max.bytes".into(),
                value: c.receive_message_max_bytes.to_string(),
                expected: "an integer in [1000, 2147483647]".into(),
            });
        }
        c.validate()?;
        Ok(c)
    }
}
