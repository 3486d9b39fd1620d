//! Producer metrics: counters the send path and the sender task bump with relaxed atomics,
//! read as a [`ProducerMetrics`] snapshot through `Producer::metrics`.
//!
//! The names follow the Java producer's (`record-send-total`, `batch-size-avg`,
//! `request-latency-avg`, `record-retry-total`, `record-error-total`,
//! `buffer-available-bytes`, ...).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counters shared by the producer handles and the sender.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    records_sent: AtomicU64,
    bytes_sent: AtomicU64,
    batches_sent: AtomicU64,
    requests_sent: AtomicU64,
    responses: AtomicU64,
    latency_total_us: AtomicU64,
    latency_max_us: AtomicU64,
    record_retries: AtomicU64,
    record_errors: AtomicU64,
    batch_splits: AtomicU64,
    uncompressed_bytes: AtomicU64,
}

impl Metrics {
    /// A batch went out in a request.
    pub(crate) fn batch_sent(&self, records: u32, bytes: usize, uncompressed: usize) {
        self.records_sent
            .fetch_add(u64::from(records), Ordering::Relaxed);
        self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
        self.uncompressed_bytes
            .fetch_add(uncompressed as u64, Ordering::Relaxed);
        self.batches_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// A Produce request was sent.
    pub(crate) fn request_sent(&self) {
        self.requests_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// A Produce response arrived after `latency`.
    pub(crate) fn response(&self, latency: Duration) {
        let us = latency.as_micros() as u64;
        self.responses.fetch_add(1, Ordering::Relaxed);
        self.latency_total_us.fetch_add(us, Ordering::Relaxed);
        self.latency_max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// A batch of `records` will be retried.
    pub(crate) fn retry(&self, records: u32) {
        self.record_retries
            .fetch_add(u64::from(records), Ordering::Relaxed);
    }

    /// `records` failed for good.
    pub(crate) fn errors(&self, records: u32) {
        self.record_errors
            .fetch_add(u64::from(records), Ordering::Relaxed);
    }

    /// A batch was split after MESSAGE_TOO_LARGE.
    pub(crate) fn split(&self) {
        self.batch_splits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, buffer_total: usize, buffer_available: usize) -> ProducerMetrics {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let batches = get(&self.batches_sent);
        let responses = get(&self.responses);
        let per_batch = |n: u64| {
            if batches == 0 {
                0.0
            } else {
                n as f64 / batches as f64
            }
        };
        let uncompressed = get(&self.uncompressed_bytes);
        ProducerMetrics {
            records_sent: get(&self.records_sent),
            bytes_sent: get(&self.bytes_sent),
            batches_sent: batches,
            requests_sent: get(&self.requests_sent),
            batch_size_avg: per_batch(get(&self.bytes_sent)),
            records_per_batch_avg: per_batch(get(&self.records_sent)),
            compression_rate_avg: if uncompressed == 0 {
                1.0
            } else {
                get(&self.bytes_sent) as f64 / uncompressed as f64
            },
            request_latency_avg: Duration::from_micros(
                get(&self.latency_total_us)
                    .checked_div(responses)
                    .unwrap_or(0),
            ),
            request_latency_max: Duration::from_micros(get(&self.latency_max_us)),
            record_retries: get(&self.record_retries),
            record_errors: get(&self.record_errors),
            batch_splits: get(&self.batch_splits),
            buffer_total_bytes: buffer_total,
            buffer_available_bytes: buffer_available,
        }
    }
}

/// A snapshot of the producer's metrics.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProducerMetrics {
    /// Records sent in Produce requests (`record-send-total`; retries count again).
    pub records_sent: u64,
    /// Bytes of record batches sent (after compression).
    pub bytes_sent: u64,
    /// Batches sent.
    pub batches_sent: u64,
    /// Produce requests sent.
    pub requests_sent: u64,
    /// Average bytes per batch sent (`batch-size-avg`).
    pub batch_size_avg: f64,
    /// Average records per batch sent.
    pub records_per_batch_avg: f64,
    /// Compressed over uncompressed bytes (`compression-rate-avg`; 1.0 uncompressed).
    pub compression_rate_avg: f64,
    /// Average time from sending a Produce request to its response (`request-latency-avg`).
    pub request_latency_avg: Duration,
    /// Longest such time (`request-latency-max`).
    pub request_latency_max: Duration,
    /// Records whose batch was retried (`record-retry-total`).
    pub record_retries: u64,
    /// Records that failed (`record-error-total`).
    pub record_errors: u64,
    /// Batches split after MESSAGE_TOO_LARGE (`batch-split-total`).
    pub batch_splits: u64,
    /// `buffer.memory` (`buffer-total-bytes`).
    pub buffer_total_bytes: usize,
    /// Memory not held by batches (`buffer-available-bytes`).
    pub buffer_available_bytes: usize,
}
