//! One TCP (or TLS) connection to one broker, with many requests in flight.
//!
//! [`Connection::connect`] opens the socket, negotiates API versions, authenticates, and
//! starts the reader and writer tasks (see `mux`); the whole setup is bounded by one timeout.
//! A [`Connection`] is a cheap handle: clone it freely; the socket closes when the last clone
//! is dropped, when [`Connection::close`] is called, or when anything goes wrong on it, and
//! then every request still waiting fails with a retriable [`ErrorKind::Disconnected`].
//! Connections never reconnect themselves; the client's pool opens a new one.

mod handshake;
mod inflight;
mod mux;
mod settings;
mod transport;
mod versions;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::ApiKey;
use kafka_protocol::messages::{RequestBody, ResponseBody};
use tracing::Instrument;

use crate::error::{Error, ErrorKind};
pub(crate) use mux::Mux;
pub(crate) use settings::SaslCredentials;

pub use settings::ConnectionSettings;
pub use versions::{BrokerVersions, VersionCaps};

/// Where a broker listens, and its node id (negative for bootstrap addresses, whose ids are
/// not known yet, as in the Java client).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BrokerAddress {
    /// The node id.
    pub id: i32,
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl BrokerAddress {
    /// A broker address.
    pub fn new(id: i32, host: impl Into<String>, port: u16) -> Self {
        Self {
            id,
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for BrokerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A handle to an open, multiplexed connection.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    mux: Mux,
    broker: BrokerAddress,
    versions: BrokerVersions,
    caps: Arc<VersionCaps>,
    request_timeout: Duration,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("broker", &self.inner.broker)
            .field("mux", &self.inner.mux)
            .finish()
    }
}

impl Connection {
    /// Opens a connection: TCP (and TLS), ApiVersions, then SASL, all within `setup_timeout`.
    pub async fn connect(
        broker: BrokerAddress,
        settings: &ConnectionSettings,
        setup_timeout: Duration,
    ) -> Result<Self, Error> {
        let span = tracing::info_span!(
            "kafka.connect",
            broker = broker.id,
            addr = %broker,
            api_versions = tracing::field::Empty,
        );
        let id = broker.id;
        let addr = broker.to_string();
        async move {
            let started = Instant::now();
            let result = tokio::time::timeout(setup_timeout, Self::establish(broker, settings))
                .await
                .unwrap_or_else(|_| {
                    Err(Error::new(ErrorKind::ConnectTimeout {
                        addr,
                        timeout: setup_timeout,
                    }))
                });
            match &result {
                Ok(c) => {
                    tracing::Span::current().record("api_versions", c.inner.versions.len());
                    tracing::debug!(elapsed = ?started.elapsed(), "connected");
                }
                Err(e) => tracing::debug!(error = %e, "connect failed"),
            }
            result.map_err(|e| e.with_broker(id))
        }
        .instrument(span)
        .await
    }

    async fn establish(
        broker: BrokerAddress,
        settings: &ConnectionSettings,
    ) -> Result<Self, Error> {
        let stream = transport::Transport::open(
            &broker.host,
            broker.port,
            settings.socket,
            settings.tls.as_ref(),
        )
        .await?;
        let mux = Mux::start(stream, &settings.client_id, settings.max_frame);
        let versions = handshake::negotiate(
            &mux,
            &settings.caps,
            &settings.software,
            settings.request_timeout,
        )
        .await?;
        if let Some(creds) = &settings.sasl {
            crate::security::sasl::authenticate(
                &mux,
                &versions,
                &settings.caps,
                creds,
                settings.request_timeout,
            )
            .await?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                mux,
                broker,
                versions,
                caps: settings.caps.clone(),
                request_timeout: settings.request_timeout,
            }),
        })
    }

    /// The broker this connection reaches.
    pub fn broker(&self) -> &BrokerAddress {
        &self.inner.broker
    }

    /// What the broker advertised in ApiVersions.
    pub fn broker_versions(&self) -> &BrokerVersions {
        &self.inner.versions
    }

    /// The version of `api` to use with this broker: the highest both sides implement.
    pub fn api_version(&self, api: ApiKey) -> Result<i16, Error> {
        self.inner
            .versions
            .negotiate(api, &self.inner.caps)
            .map_err(|e| e.with_broker(self.inner.broker.id))
    }

    /// Sends `body` at the negotiated version and waits up to `request.timeout.ms`.
    pub async fn send(&self, body: &RequestBody) -> Result<ResponseBody, Error> {
        let version = self.api_version(body.api_key())?;
        self.send_at(version, body, None).await
    }

    /// Sends `body` at `version` (which both sides must support) and waits up to `timeout`
    /// (default `request.timeout.ms`). A timeout closes the connection.
    pub async fn send_at(
        &self,
        version: i16,
        body: &RequestBody,
        timeout: Option<Duration>,
    ) -> Result<ResponseBody, Error> {
        let api = body.api_key();
        let broker = self.inner.broker.id;
        self.check_version(api, version)?;
        let span = tracing::debug_span!(
            "kafka.request",
            api = api.name(),
            version,
            broker,
            latency_us = tracing::field::Empty,
            error = tracing::field::Empty,
        );
        let timeout = timeout.unwrap_or(self.inner.request_timeout);
        async move {
            let started = Instant::now();
            let result = self.inner.mux.call(version, body, timeout).await;
            let span = tracing::Span::current();
            span.record("latency_us", started.elapsed().as_micros() as u64);
            if let Err(e) = &result {
                span.record("error", tracing::field::display(e));
            }
            tracing::trace!("request done");
            result.map_err(|e| e.with_api(api).with_broker(broker))
        }
        .instrument(span)
        .await
    }

    /// Sends a request the broker does not answer (Produce with `acks=0`) at `version`;
    /// resolves once the frame is written to the socket.
    pub async fn send_no_response(&self, version: i16, body: &RequestBody) -> Result<(), Error> {
        let api = body.api_key();
        let broker = self.inner.broker.id;
        self.check_version(api, version)?;
        let span = tracing::debug_span!(
            "kafka.request",
            api = api.name(),
            version,
            broker,
            no_response = true
        );
        self.inner
            .mux
            .send_only(version, body, self.inner.request_timeout)
            .instrument(span)
            .await
            .map_err(|e| e.with_api(api).with_broker(broker))
    }

    /// Refuses a version outside either side's range before anything is sent (a broker
    /// would close the connection on it, failing everything else in flight).
    fn check_version(&self, api: ApiKey, version: i16) -> Result<(), Error> {
        let broker = self.inner.versions.get(api);
        let ours = self.inner.caps.get(api);
        if broker.is_some_and(|r| r.contains(version)) && ours.is_some_and(|r| r.contains(version))
        {
            return Ok(());
        }
        Err(Error::new(ErrorKind::UnsupportedVersion {
            api,
            broker_range: broker,
            client_range: ours.unwrap_or(kafka_protocol::VersionRange { min: 0, max: -1 }),
        })
        .with_api(api)
        .with_broker(self.inner.broker.id))
    }

    /// Requests sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.inner.mux.in_flight()
    }

    /// Whether the connection has closed (it never reopens).
    pub fn is_closed(&self) -> bool {
        self.inner.mux.is_closed()
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<Error> {
        self.inner.mux.close_reason()
    }

    /// Closes the connection; requests in flight fail with [`ErrorKind::Disconnected`].
    pub fn close(&self) {
        self.inner.mux.close("closed by the client");
    }

    /// Time since the last request or response on this connection.
    pub fn idle_for(&self) -> Duration {
        self.inner.mux.idle_for()
    }
}
