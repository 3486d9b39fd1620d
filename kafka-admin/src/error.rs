//! [`AdminError`]: why one item of an admin call (a topic, a partition, a group, a config
//! resource) failed.
//!
//! Admin calls answer per item, so most errors are the broker's code and message for that
//! item; the rest say the request carrying the item failed, that a retriable error outlived the
//! call's timeout, or that the call could not be made as asked. [`AdminError::code`] gives the
//! Kafka error code in every case that has one, so callers can match on codes whatever the path.

use kafka_protocol::{ApiKey, ErrorCode, KStr};

/// Why an admin operation, or one item of it, failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The broker answered this item with an error code (and, when the API has one, a
    /// message).
    #[error("{}{}", .code.name(), .message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Broker {
        /// The code.
        code: ErrorCode,
        /// The broker's message, when the response carries one.
        message: Option<String>,
    },
    /// The request carrying this item failed as a whole: no connection, no response in time,
    /// no API version both sides know, a response that does not decode.
    #[error(transparent)]
    Client(#[from] kafka_client::Error),
    /// A retriable error persisted until the call's timeout ran out; `last` is the last one.
    #[error("timed out after {attempts} attempt(s): {last}")]
    TimedOut {
        /// How many rounds were tried.
        attempts: u32,
        /// The error of the last round.
        last: Box<AdminError>,
    },
    /// The call cannot be made as asked (a duplicate item, a broker resource whose name is
    /// not a node id, ...); nothing was sent for the item.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The broker's version of the API cannot express what was asked (e.g. deleting topics by
    /// id before DeleteTopics v6).
    #[error("{} v{version} cannot {what}", .api.name())]
    UnsupportedVersion {
        /// The API.
        api: ApiKey,
        /// The version negotiated with the broker.
        version: i16,
        /// What it cannot do.
        what: &'static str,
    },
    /// The response does not answer what was asked: an item missing from it, or member data
    /// that does not decode.
    #[error("unexpected response: {0}")]
    Protocol(String),
}

impl AdminError {
    /// An error a broker returned for an item.
    pub fn broker(code: ErrorCode, message: Option<String>) -> Self {
        AdminError::Broker { code, message }
    }

    /// From a response's raw code and optional message.
    pub(crate) fn from_response(code: i16, message: Option<&KStr>) -> Self {
        Self::broker(
            ErrorCode::from_code(code),
            message.filter(|m| !m.is_empty()).map(|m| m.to_string()),
        )
    }

    /// The Kafka error code: the broker's, or the one Kafka's clients use for a client-side
    /// failure (`REQUEST_TIMED_OUT`, `NETWORK_EXCEPTION`, `UNSUPPORTED_VERSION`). For a call
    /// that timed out retrying, the code of the last error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            AdminError::Broker { code, .. } => Some(*code),
            AdminError::Client(e) => e.code(),
            AdminError::TimedOut { last, .. } => last.code(),
            AdminError::UnsupportedVersion { .. } => Some(ErrorCode::UnsupportedVersion),
            AdminError::InvalidArgument(_) | AdminError::Protocol(_) => None,
        }
    }

    /// The broker's message for the item, if it sent one.
    pub fn message(&self) -> Option<&str> {
        match self {
            AdminError::Broker { message, .. } => message.as_deref(),
            AdminError::TimedOut { last, .. } => last.message(),
            _ => None,
        }
    }

    /// Whether the same request may succeed if tried again. Admin calls retry these
    /// themselves within their timeout, so an error returned to the caller is retriable only
    /// when the operation's policy chose not to retry it.
    pub fn is_retriable(&self) -> bool {
        match self {
            AdminError::Broker { code, .. } => code.is_retriable(),
            AdminError::Client(e) => e.is_retriable(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages_pass_through() {
        let e = AdminError::from_response(36, Some(&KStr::from("Topic 't' already exists.")));
        assert_eq!(e.code(), Some(ErrorCode::TopicAlreadyExists));
        assert_eq!(e.message(), Some("Topic 't' already exists."));
        assert_eq!(
            e.to_string(),
            "TOPIC_ALREADY_EXISTS: Topic 't' already exists."
        );
        assert!(!e.is_retriable());

        let empty = AdminError::from_response(6, Some(&KStr::from("")));
        assert_eq!(empty.message(), None);
        assert!(empty.is_retriable());

        let timed_out = AdminError::TimedOut {
            attempts: 3,
            last: Box::new(empty),
        };
        assert_eq!(timed_out.code(), Some(ErrorCode::NotLeaderOrFollower));
        assert!(!timed_out.is_retriable());

        let v = AdminError::UnsupportedVersion {
            api: ApiKey::DeleteTopics,
            version: 5,
            what: "delete topics by id",
        };
        assert_eq!(v.code(), Some(ErrorCode::UnsupportedVersion));
        assert_eq!(v.to_string(), "DeleteTopics v5 cannot delete topics by id");
    }
}
