//! The producer's error type.
//!
//! One error can fail every record of a batch, so [`ProducerError`] is `Clone` (its sources
//! are shared through `Arc`). Variants say which phase failed: configuration, enqueueing a
//! record (`send` itself: metadata, buffer space, size, serialization), or delivering it
//! (the broker's answer, timeouts, a closed producer).

use std::sync::Arc;
use std::time::Duration;

use kafka_client::config::ConfigError;
use kafka_protocol::ErrorCode;

/// Why a record was not accepted or not delivered.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ProducerError {
    /// The configuration was refused (unknown property, bad value, conflicting settings).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The client core failed (bootstrap, connection, metadata, version negotiation).
    #[error(transparent)]
    Client(#[from] kafka_client::Error),
    /// The broker refused the record's batch with a non-retriable error, or retries ran out.
    #[error("{topic}-{partition}: broker returned {}{}", .code.name(), .message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Broker {
        /// The error code.
        code: ErrorCode,
        /// The broker's error message, when the response carried one.
        message: Option<String>,
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },
    /// The record is larger than a limit it can never fit in.
    #[error("the record is {size} bytes when serialized, larger than {setting} ({limit})")]
    RecordTooLarge {
        /// Its size in a batch (key, value, headers and framing).
        size: usize,
        /// The limit.
        limit: usize,
        /// The property that sets the limit (`max.request.size`, `buffer.memory`) or the
        /// broker's `max.message.bytes` for a record refused by the broker.
        setting: &'static str,
    },
    /// `send` waited `max.block.ms` for room in `buffer.memory` and found none: the producer
    /// is receiving records faster than the brokers take them.
    #[error(
        "no room for the record in buffer.memory ({buffer_memory} bytes) after waiting {waited:?} (max.block.ms): records are produced faster than the brokers accept them"
    )]
    BufferExhausted {
        /// How long `send` waited.
        waited: Duration,
        /// The configured `buffer.memory`.
        buffer_memory: usize,
    },
    /// The topic (or the partition) did not appear in the metadata within `max.block.ms`.
    #[error("{} not present in metadata after {waited:?} (max.block.ms){}", match .partition { Some(p) => format!("partition {p} of topic `{topic}`"), None => format!("topic `{topic}`") }, .last_error.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    MetadataTimeout {
        /// The topic.
        topic: String,
        /// The explicit partition asked for, if any.
        partition: Option<i32>,
        /// How long `send` waited.
        waited: Duration,
        /// The last error seen while fetching metadata.
        last_error: Option<Box<ProducerError>>,
    },
    /// The record was not acknowledged within `delivery.timeout.ms` of being accepted.
    #[error("delivery to {topic}-{partition} timed out after {elapsed:?} (delivery.timeout.ms) in {attempts} attempt(s){}", .last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default())]
    DeliveryTimeout {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Time since the record's batch was created.
        elapsed: Duration,
        /// Produce attempts made for the batch.
        attempts: u32,
        /// The last attempt's error, if there was one.
        last_error: Option<Box<ProducerError>>,
    },
    /// The explicit partition does not exist.
    #[error("partition {partition} of topic `{topic}` does not exist (the topic has {partitions})")]
    InvalidPartition {
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: i32,
        /// Partitions the topic has.
        partitions: usize,
    },
    /// A key or value serializer failed.
    #[error("cannot serialize the record's {part}: {source}")]
    Serialization {
        /// `"key"` or `"value"`.
        part: &'static str,
        /// Why.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// Building the record batch failed (a record the batch format cannot hold).
    #[error("cannot encode the record batch: {0}")]
    Encode(#[from] kafka_protocol::EncodeError),
    /// The idempotent producer hit an error it cannot recover from (e.g. it is not authorized
    /// to get a producer id); every later send fails with it.
    #[error("the producer is in a fatal state: {0}")]
    Fatal(Arc<ProducerError>),
    /// The producer was closed before the record could be delivered.
    #[error("the producer was closed{}", if *.forced { " before the record was delivered" } else { "" })]
    Closed {
        /// Whether a record still in the producer was abandoned (close timed out).
        forced: bool,
    },
}

impl ProducerError {
    /// The Kafka error code for this error, when there is one (the broker's, or the one the
    /// Java client reports for the same condition).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ProducerError::Broker { code, .. } => Some(*code),
            ProducerError::Client(e) => e.code(),
            ProducerError::RecordTooLarge { .. } => Some(ErrorCode::MessageTooLarge),
            ProducerError::DeliveryTimeout { .. }
            | ProducerError::MetadataTimeout { .. }
            | ProducerError::BufferExhausted { .. } => Some(ErrorCode::RequestTimedOut),
            ProducerError::Fatal(e) => e.code(),
            _ => None,
        }
    }

    /// Whether this is a timeout (buffer space, metadata, or delivery).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            ProducerError::DeliveryTimeout { .. }
                | ProducerError::MetadataTimeout { .. }
                | ProducerError::BufferExhausted { .. }
        )
    }

    pub(crate) fn broker(
        code: ErrorCode,
        message: Option<String>,
        topic: &str,
        partition: i32,
    ) -> Self {
        ProducerError::Broker {
            code,
            message,
            topic: topic.to_owned(),
            partition,
        }
    }

    /// Whether a failed produce attempt with this error may be tried again.
    pub(crate) fn is_retriable(&self) -> bool {
        match self {
            ProducerError::Broker { code, .. } => code.is_retriable(),
            ProducerError::Client(e) => e.is_retriable(),
            _ => false,
        }
    }
}

/// The producer's result type.
pub type Result<T, E = ProducerError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_cause() {
        let e = ProducerError::BufferExhausted {
            waited: Duration::from_millis(50),
            buffer_memory: 1024,
        };
        assert!(e.to_string().contains("buffer.memory (1024 bytes)"), "{e}");
        assert!(e.is_timeout());
        let e = ProducerError::broker(ErrorCode::MessageTooLarge, None, "t", 3);
        assert_eq!(e.to_string(), "t-3: broker returned MESSAGE_TOO_LARGE");
        assert!(!e.is_retriable());
        let e = ProducerError::MetadataTimeout {
            topic: "t".into(),
            partition: Some(9),
            waited: Duration::from_secs(1),
            last_error: None,
        };
        assert!(e.to_string().starts_with("partition 9 of topic `t`"), "{e}");
    }
}
