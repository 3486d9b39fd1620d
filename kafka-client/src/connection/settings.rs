//! Everything a new connection needs, prepared once per client from its configuration.
//!
//! Loading certificates and building the rustls configuration reads files and parses keys, so
//! it happens here, once, rather than on every reconnect; a bad file is reported when the
//! client is created, naming the property that points at it.

use std::sync::Arc;
use std::time::Duration;

use super::handshake::SoftwareInfo;
use super::transport::SocketOptions;
use super::versions::VersionCaps;
use crate::config::{ClientConfig, Password, SaslMechanism};
use crate::error::Error;

/// SASL credentials for a connection.
#[derive(Debug, Clone)]
pub(crate) struct SaslCredentials {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: Password,
}

/// How to open and use connections: client id, timeouts, socket options, TLS, SASL and the
/// API versions this client implements.
#[derive(Clone)]
pub struct ConnectionSettings {
    pub(crate) client_id: String,
    pub(crate) software: SoftwareInfo,
    pub(crate) request_timeout: Duration,
    pub(crate) max_frame: usize,
    pub(crate) socket: SocketOptions,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) sasl: Option<SaslCredentials>,
    pub(crate) caps: Arc<VersionCaps>,
}

impl std::fmt::Debug for ConnectionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionSettings")
            .field("client_id", &self.client_id)
            .field("request_timeout", &self.request_timeout)
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl.as_ref().map(|s| s.mechanism))
            .finish_non_exhaustive()
    }
}

impl ConnectionSettings {
    /// Prepares settings from a configuration (validating it and loading TLS files).
    pub fn new(config: &ClientConfig, caps: VersionCaps) -> Result<Self, Error> {
        config.validate()?;
        let tls = if config.security_protocol().uses_tls() {
            Some(Arc::new(crate::security::tls::client_config(config.ssl())?))
        } else {
            None
        };
        let sasl = if config.security_protocol().uses_sasl() {
            let s = config.sasl();
            // `validate` has checked both are present.
            Some(SaslCredentials {
                mechanism: s.mechanism,
                username: s.username.clone().unwrap_or_default(),
                password: s.password.clone().unwrap_or_default(),
            })
        } else {
            None
        };
        Ok(Self {
            client_id: config.client_id().to_owned(),
            software: SoftwareInfo {
                name: config.client_software_name().to_owned(),
                version: config.client_software_version().to_owned(),
            },
            request_timeout: config.request_timeout(),
            max_frame: config.receive_message_max_bytes(),
            socket: SocketOptions {
                send_buffer: config.socket_send_buffer_bytes(),
                receive_buffer: config.socket_receive_buffer_bytes(),
            },
            tls,
            sasl,
            caps: Arc::new(caps),
        })
    }

    /// The API versions this client sends.
    pub fn caps(&self) -> &VersionCaps {
        &self.caps
    }

    /// `request.timeout.ms`.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
}
