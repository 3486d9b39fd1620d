//! The consumer's error type.
//!
//! Errors from the client core (connections, retries, broker codes) are wrapped whole, so the
//! Kafka error code and retriability stay reachable through [`ConsumerError::code`]. Conditions
//! only a consumer has (an offset out of range with `auto.offset.reset=none`, a commit refused
//! because the group rebalanced, a fenced static member) get their own variants, since an
//! application reacts to each differently.

use kafka_client::config::ConfigError;
use kafka_protocol::{DecodeError, ErrorCode};

use crate::record::TopicPartition;

/// Why a deserializer refused a key or value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot deserialize {what} of {topic}: {reason}")]
#[non_exhaustive]
pub struct DeserializeError {
    /// The topic of the record.
    pub topic: String,
    /// `key` or `value`.
    pub what: &'static str,
    /// What was wrong.
    pub reason: String,
}

impl DeserializeError {
    /// An error for `what` (`"key"` or `"value"`) of a record of `topic`.
    pub fn new(topic: &str, what: &'static str, reason: impl Into<String>) -> Self {
        Self {
            topic: topic.to_owned(),
            what,
            reason: reason.into(),
        }
    }
}

/// A consumer error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumerError {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A request failed (connection, timeout, broker error code); see
    /// [`kafka_client::Error`] for the code and retriability.
    #[error(transparent)]
    Client(#[from] kafka_client::Error),
    /// A fetch offset is outside the partition's log and `auto.offset.reset` is `none`. Seek
    /// to continue.
    #[error("offset {offset} is out of range for {partition} and auto.offset.reset is none")]
    OffsetOutOfRange {
        /// The partition.
        partition: TopicPartition,
        /// The offset that was asked for.
        offset: i64,
    },
    /// The partition has no committed offset and `auto.offset.reset` is `none`. Seek to
    /// continue.
    #[error("{partition} has no committed offset and auto.offset.reset is none")]
    NoOffset {
        /// The partition.
        partition: TopicPartition,
    },
    /// Fetched data failed its checksum or did not decode. The position stays at `offset`;
    /// seek past it to continue.
    #[error("corrupt record data in {partition} at offset {offset}: {source}")]
    Corrupt {
        /// The partition.
        partition: TopicPartition,
        /// The first offset that could not be read.
        offset: i64,
        /// The codec's error.
        #[source]
        source: DecodeError,
    },
    /// An offset commit was refused because the group rebalanced (or this member left it);
    /// the partitions may now belong to another member.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// Another consumer joined with the same `group.instance.id`; this one is fenced for
    /// good.
    #[error("fenced: another member uses group.instance.id {0:?}")]
    FencedInstanceId(String),
    /// The group coordinator refused this member for a reason retrying cannot fix
    /// (inconsistent protocols, authorization, an invalid session timeout, a full group).
    #[error("group {group:?}: {}{}", .code.name(), .message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Group {
        /// The group.
        group: String,
        /// The broker's code.
        code: ErrorCode,
        /// Details.
        message: Option<String>,
    },
    /// An assignor failed to assign (as group leader).
    #[error("assignor {assignor}: {reason}")]
    Assignor {
        /// The assignor's protocol name.
        assignor: String,
        /// What went wrong.
        reason: String,
    },
    /// A key or value did not deserialize.
    #[error(transparent)]
    Deserialize(#[from] DeserializeError),
    /// The call makes no sense in the consumer's current state (e.g. committing without a
    /// `group.id`, seeking a partition that is not assigned, subscribing while assigned).
    #[error("{0}")]
    IllegalState(String),
    /// An argument was refused (e.g. a pattern that is not a valid regular expression).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The call did not complete in time.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The consumer was closed.
    #[error("consumer closed")]
    Closed,
}

impl ConsumerError {
    /// The Kafka error code behind the error, when there is one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ConsumerError::Client(e) => e.code(),
            ConsumerError::OffsetOutOfRange { .. } => Some(ErrorCode::OffsetOutOfRange),
            ConsumerError::Corrupt { .. } => Some(ErrorCode::CorruptMessage),
            ConsumerError::FencedInstanceId(_) => Some(ErrorCode::FencedInstanceId),
            ConsumerError::Group { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the consumer cannot go on after this error (it should be closed).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ConsumerError::FencedInstanceId(_)
                | ConsumerError::Group { .. }
                | ConsumerError::Config(_)
                | ConsumerError::Closed
        )
    }

    pub(crate) fn illegal(msg: impl Into<String>) -> Self {
        ConsumerError::IllegalState(msg.into())
    }
}

/// The consumer's result type.
pub type Result<T, E = ConsumerError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_fatality() {
        let e = ConsumerError::OffsetOutOfRange {
            partition: TopicPartition::new("t", 1),
            offset: 9,
        };
        assert_eq!(e.code(), Some(ErrorCode::OffsetOutOfRange));
        assert!(!e.is_fatal());
        assert_eq!(
            e.to_string(),
            "offset 9 is out of range for t-1 and auto.offset.reset is none"
        );
        let g = ConsumerError::Group {
            group: "g".into(),
            code: ErrorCode::InconsistentGroupProtocol,
            message: None,
        };
        assert!(g.is_fatal());
        assert!(g.to_string().contains("INCONSISTENT_GROUP_PROTOCOL"));
        let c: ConsumerError = kafka_client::Error::broker(ErrorCode::NotCoordinator, None).into();
        assert_eq!(c.code(), Some(ErrorCode::NotCoordinator));
    }
}
