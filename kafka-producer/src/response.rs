//! What to do with a batch once its Produce request is answered (or failed): complete it,
//! retry it, split it, or fail it. Plain decisions on the answer, the batch and the clock,
//! applied by the sender.

use std::time::{Duration, Instant};

use kafka_protocol::ErrorCode;

use crate::batch::ProducerBatch;
use crate::delivery::BatchAck;
use crate::error::ProducerError;
use crate::idempotence::Idempotence;

/// The outcome for one batch.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Written (or recognised as already written).
    Success(BatchAck),
    /// Send again after the backoff.
    Retry {
        /// The error means the leader moved or is unknown: refresh metadata.
        stale_metadata: bool,
        /// The broker lost the producer's state (UNKNOWN_PRODUCER_ID): re-sequence the
        /// partition under a new epoch first.
        rewrite: bool,
        /// The attempt's error, kept for a later timeout message.
        error: ProducerError,
    },
    /// Too large for the broker but more than one record: split into smaller batches.
    Split,
    /// Failed for good.
    Fail {
        error: ProducerError,
        /// The producer's epoch is stale or fenced: ask for a new producer id.
        reset_id: bool,
    },
}

/// The settings and state decisions depend on.
pub(crate) struct Context<'a> {
    pub now: Instant,
    pub retries: u32,
    pub delivery_timeout: Duration,
    pub idempotence: &'a Idempotence,
}

/// A partition's answer in a Produce response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PartitionAnswer<'a> {
    pub code: ErrorCode,
    pub base_offset: i64,
    pub log_append_time: i64,
    pub message: Option<&'a str>,
}

/// Decides on a batch the broker answered for.
pub(crate) fn on_answer(
    batch: &ProducerBatch,
    answer: PartitionAnswer<'_>,
    cx: &Context<'_>,
) -> Decision {
    let ack = BatchAck {
        base_offset: answer.base_offset,
        log_append_time: answer.log_append_time,
    };
    let error = || {
        ProducerError::broker(
            answer.code,
            answer.message.map(str::to_owned),
            &batch.topic,
            batch.partition,
        )
    };
    match answer.code {
        ErrorCode::None => Decision::Success(ack),
        // An old broker's way of saying "already written": success, offset possibly unknown.
        ErrorCode::DuplicateSequenceNumber => Decision::Success(ack),
        ErrorCode::MessageTooLarge | ErrorCode::RecordListTooLarge if batch.records > 1 => {
            Decision::Split
        }
        ErrorCode::OutOfOrderSequenceNumber => {
            let next = batch
                .stamp
                .is_some_and(|s| cx.idempotence.is_next(&batch.topic, batch.partition, s));
            if next {
                // The broker expected exactly this batch and still refused it: its sequence
                // is lost.
                Decision::Fail {
                    error: error(),
                    reset_id: false,
                }
            } else {
                // An earlier batch failed or is being retried; this one follows it.
                retry_or_fail(batch, error(), false, false, cx)
            }
        }
        ErrorCode::UnknownProducerId => retry_or_fail(batch, error(), false, true, cx),
        ErrorCode::InvalidProducerEpoch | ErrorCode::ProducerFenced => Decision::Fail {
            error: error(),
            reset_id: true,
        },
        code if code.is_retriable() => retry_or_fail(
            batch,
            error(),
            kafka_client::metadata::is_stale_metadata_error(code),
            false,
            cx,
        ),
        _ => Decision::Fail {
            error: error(),
            reset_id: false,
        },
    }
}

/// Decides on a batch whose request failed as a whole (connection lost, timeout, ...).
pub(crate) fn on_request_error(
    batch: &ProducerBatch,
    e: &kafka_client::Error,
    cx: &Context<'_>,
) -> Decision {
    let error = ProducerError::Client(e.clone());
    if e.is_retriable() {
        // A lost connection may mean a lost leader.
        retry_or_fail(batch, error, true, false, cx)
    } else {
        Decision::Fail {
            error,
            reset_id: false,
        }
    }
}

fn retry_or_fail(
    batch: &ProducerBatch,
    error: ProducerError,
    stale_metadata: bool,
    rewrite: bool,
    cx: &Context<'_>,
) -> Decision {
    let elapsed = cx.now.saturating_duration_since(batch.created);
    if elapsed >= cx.delivery_timeout {
        return Decision::Fail {
            error: ProducerError::DeliveryTimeout {
                topic: batch.topic.to_string(),
                partition: batch.partition,
                elapsed,
                attempts: batch.attempts,
                last_error: Some(Box::new(error)),
            },
            reset_id: false,
        };
    }
    // `attempts` counts the first try: retries are the attempts after it.
    if batch.attempts > cx.retries {
        return Decision::Fail {
            error,
            reset_id: false,
        };
    }
    Decision::Retry {
        stale_metadata,
        rewrite,
        error,
    }
}

#[cfg(test)]
mod tests;
