//! The client's error type: what went wrong ([`ErrorKind`]), where ([`ErrorContext`]), and
//! whether trying again can help ([`Error::is_retriable`]).
//!
//! Errors a broker returned carry its [`ErrorCode`]; errors the client made up itself (a
//! timeout, a dropped connection) say so through [`Error::is_synthetic`], because "the broker
//! said REQUEST_TIMED_OUT" and "we gave up waiting" call for different reactions. Errors are
//! `Clone` because one broken connection fails every request waiting on it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::{ApiKey, DecodeError, EncodeError, ErrorCode, VersionRange};

use crate::config::ConfigError;

/// A client error. Cheap to move (boxed) and to clone.
#[derive(Clone)]
pub struct Error(Box<Inner>);

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    context: ErrorContext,
}

/// Where an error happened, as far as the client knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorContext {
    /// The API of the request.
    pub api: Option<ApiKey>,
    /// The broker node id (negative for bootstrap addresses, as in the Java client).
    pub broker: Option<i32>,
    /// The topic the error is about.
    pub topic: Option<String>,
    /// The partition the error is about.
    pub partition: Option<i32>,
}

/// What went wrong.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The broker answered with an error code.
    #[error("broker returned {}{}", .code.name(), .message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Broker {
        /// The code.
        code: ErrorCode,
        /// The broker's error message, when the response has one.
        message: Option<String>,
    },
    /// A TCP connection could not be opened.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: String,
        /// Why.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// Connection setup (TCP, TLS, version negotiation, SASL) took longer than
    /// `socket.connection.setup.timeout.ms`.
    #[error("connecting to {addr} took longer than {timeout:?}")]
    ConnectTimeout {
        /// The address.
        addr: String,
        /// The timeout that ran out.
        timeout: Duration,
    },
    /// The connection closed (or broke) before the response arrived.
    #[error("connection closed: {reason}")]
    Disconnected {
        /// What closed it.
        reason: String,
    },
    /// No response within `request.timeout.ms`; the connection is closed, since responses on
    /// it come in order and everything behind this one would be stuck too.
    #[error("no response within {timeout:?}")]
    RequestTimeout {
        /// The timeout that ran out.
        timeout: Duration,
    },
    /// A retrying call ran out of its overall time budget; `last` is the last attempt's error.
    #[error("gave up after {attempts} attempt(s) in {elapsed:?}: {last}")]
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// How long it took.
        elapsed: Duration,
        /// The last error.
        last: Box<Error>,
    },
    /// Neither side can use any version of the API the other knows.
    #[error("{api:?}: {} (this client: v{}-v{})", .broker_range.map(|r| format!("the broker serves only v{}-v{}", r.min, r.max)).unwrap_or_else(|| "the broker does not serve this API (no version)".into()), .client_range.min, .client_range.max)]
    UnsupportedVersion {
        /// The API.
        api: ApiKey,
        /// What the broker advertised (`None`: not at all).
        broker_range: Option<VersionRange>,
        /// What this client implements.
        client_range: VersionRange,
    },
    /// A response could not be decoded.
    #[error("cannot decode {api:?} v{version} response: {source}")]
    Decode {
        /// The API.
        api: ApiKey,
        /// The version it was decoded at.
        version: i16,
        /// The codec's error.
        #[source]
        source: DecodeError,
    },
    /// A request could not be encoded (usually a field set that its version lacks).
    #[error("cannot encode {api:?} v{version} request: {source}")]
    Encode {
        /// The API.
        api: ApiKey,
        /// The version.
        version: i16,
        /// The codec's error.
        #[source]
        source: EncodeError,
    },
    /// The broker broke the protocol (a bad frame, an unknown correlation id, a response of the
    /// wrong API); the connection was closed.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// TLS setup or handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// SASL authentication failed.
    #[error("SASL {mechanism} authentication failed: {message}")]
    Authentication {
        /// The mechanism.
        mechanism: String,
        /// The broker's message or the client's reason.
        message: String,
    },
    /// The broker id is not in the cluster metadata.
    #[error("broker {0} is not in the cluster metadata")]
    UnknownBroker(i32),
    /// The metadata names no controller (yet).
    #[error("no controller known")]
    ControllerNotAvailable,
    /// The metadata names no leader for the partition (yet).
    #[error("no leader known")]
    LeaderNotAvailable,
    /// No bootstrap server or broker could be reached.
    #[error("no broker reachable (tried {tried})")]
    NoBrokerAvailable {
        /// The addresses tried.
        tried: String,
    },
    /// The client was shut down.
    #[error("client closed")]
    Closed,
}

impl Error {
    /// An error with no context yet.
    pub fn new(kind: ErrorKind) -> Self {
        Self(Box::new(Inner {
            kind,
            context: ErrorContext::default(),
        }))
    }

    /// An error a broker returned.
    pub fn broker(code: ErrorCode, message: Option<String>) -> Self {
        Self::new(ErrorKind::Broker { code, message })
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// Where it went wrong.
    pub fn context(&self) -> &ErrorContext {
        &self.0.context
    }

    /// The Kafka error code: the broker's, or the one Kafka's clients use for the same
    /// client-side condition (`NETWORK_EXCEPTION` for a dropped connection,
    /// `REQUEST_TIMED_OUT` for a timeout, `UNSUPPORTED_VERSION`, ...).
    pub fn code(&self) -> Option<ErrorCode> {
        Some(match &self.0.kind {
            ErrorKind::Broker { code, .. } => *code,
            ErrorKind::Disconnected { .. } | ErrorKind::Connect { .. } => {
                ErrorCode::NetworkException
            }
            ErrorKind::ConnectTimeout { .. } | ErrorKind::RequestTimeout { .. } => {
                ErrorCode::RequestTimedOut
            }
            ErrorKind::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
            ErrorKind::LeaderNotAvailable => ErrorCode::LeaderNotAvailable,
            ErrorKind::Authentication { .. } => ErrorCode::SaslAuthenticationFailed,
            ErrorKind::RetriesExhausted { last, .. } => return last.code(),
            _ => return None,
        })
    }

    /// Whether the broker sent this error (as opposed to the client making it up).
    pub fn is_from_broker(&self) -> bool {
        match &self.0.kind {
            ErrorKind::Broker { .. } => true,
            ErrorKind::RetriesExhausted { last, .. } => last.is_from_broker(),
            _ => false,
        }
    }

    /// Whether the client synthesised this error (a timeout, a dropped connection, a local
    /// check) rather than a broker returning it.
    pub fn is_synthetic(&self) -> bool {
        !self.is_from_broker()
    }

    /// Whether the same request may succeed if tried again (after a backoff, possibly after a
    /// metadata refresh or on a new connection). Broker codes follow Kafka's table; connection
    /// failures and timeouts are retriable; configuration, codec and authentication errors are
    /// not, and neither is a call that already gave up.
    pub fn is_retriable(&self) -> bool {
        match &self.0.kind {
            ErrorKind::Broker { code, .. } => code.is_retriable(),
            ErrorKind::Connect { .. }
            | ErrorKind::ConnectTimeout { .. }
            | ErrorKind::Disconnected { .. }
            | ErrorKind::RequestTimeout { .. }
            | ErrorKind::LeaderNotAvailable
            | ErrorKind::ControllerNotAvailable
            | ErrorKind::UnknownBroker(_)
            | ErrorKind::NoBrokerAvailable { .. } => true,
            _ => false,
        }
    }

    /// Whether this error means the cached metadata (leaders, partitions, topics) is stale.
    pub fn invalidates_metadata(&self) -> bool {
        match self.code() {
            Some(code) => crate::metadata::is_stale_metadata_error(code),
            None => matches!(self.0.kind, ErrorKind::UnknownBroker(_)),
        }
    }

    /// Sets the API, keeping what is already set.
    pub fn with_api(mut self, api: ApiKey) -> Self {
        self.0.context.api.get_or_insert(api);
        self
    }

    /// Sets the broker, keeping what is already set.
    pub fn with_broker(mut self, broker: i32) -> Self {
        self.0.context.broker.get_or_insert(broker);
        self
    }

    /// Sets the topic and partition.
    pub fn with_partition(mut self, topic: impl Into<String>, partition: Option<i32>) -> Self {
        self.0.context.topic = Some(topic.into());
        self.0.context.partition = partition;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.kind, f)?;
        let c = &self.0.context;
        let mut parts = Vec::new();
        if let Some(api) = c.api {
            parts.push(format!("api {api:?}"));
        }
        if let Some(b) = c.broker {
            parts.push(format!("broker {b}"));
        }
        if let Some(t) = &c.topic {
            match c.partition {
                Some(p) => parts.push(format!("partition {t}-{p}")),
                None => parts.push(format!("topic {t}")),
            }
        }
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("context", &self.0.context)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.kind.source()
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Self::new(ErrorKind::Config(e))
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_errors_carry_code_and_retriability() {
        let e = Error::broker(ErrorCode::NotLeaderOrFollower, None)
            .with_api(ApiKey::Produce)
            .with_broker(2)
            .with_partition("t", Some(3));
        assert!(e.is_retriable() && e.is_from_broker() && !e.is_synthetic());
        assert!(e.invalidates_metadata());
        assert_eq!(e.code(), Some(ErrorCode::NotLeaderOrFollower));
        assert_eq!(
            e.to_string(),
            "broker returned NOT_LEADER_OR_FOLLOWER (api Produce, broker 2, partition t-3)"
        );
        let e = Error::broker(ErrorCode::TopicAuthorizationFailed, Some("no".into()));
        assert!(!e.is_retriable());
        assert!(e.to_string().ends_with(": no"));
    }

    #[test]
    fn client_errors_are_synthetic() {
        let e = Error::new(ErrorKind::RequestTimeout {
            timeout: Duration::from_secs(1),
        });
        assert!(e.is_retriable() && e.is_synthetic());
        assert_eq!(e.code(), Some(ErrorCode::RequestTimedOut));
        let e = Error::new(ErrorKind::Disconnected { reason: "x".into() });
        assert!(e.is_retriable());
        let e = Error::new(ErrorKind::UnsupportedVersion {
            api: ApiKey::Fetch,
            broker_range: None,
            client_range: VersionRange { min: 4, max: 17 },
        });
        assert!(!e.is_retriable());
        assert_eq!(
            e.to_string(),
            "Fetch: the broker does not serve this API (no version) (this client: v4-v17)"
        );
        let wrapped = Error::new(ErrorKind::RetriesExhausted {
            attempts: 3,
            elapsed: Duration::from_secs(1),
            last: Box::new(Error::broker(ErrorCode::LeaderNotAvailable, None)),
        });
        assert!(!wrapped.is_retriable() && wrapped.is_from_broker());
        assert_eq!(wrapped.code(), Some(ErrorCode::LeaderNotAvailable));
    }

    #[test]
    fn context_is_first_writer_wins() {
        let e = Error::new(ErrorKind::Closed).with_broker(1).with_broker(2);
        assert_eq!(e.context().broker, Some(1));
        assert!(std::mem::size_of::<Error>() <= 8);
    }
}
