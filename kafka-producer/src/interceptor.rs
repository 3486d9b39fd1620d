//! Interceptors: user hooks that see every record on its way in and every outcome on its
//! way out (Java's `ProducerInterceptor`), for tracing headers, auditing or counting.
//!
//! `on_send` runs in `send` before the key and value are serialized and may change the
//! record; `on_acknowledgement` runs on the sender task for every record once it is
//! delivered or has failed (including records refused by `send` itself), so it must be quick.

use std::sync::Arc;

use crate::batch::AckListener;
use crate::error::ProducerError;
use crate::record::{ProducerRecord, RecordMetadata};

/// A hook on every record a producer sends.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use kafka_producer::{ProducerError, ProducerInterceptor, ProducerRecord, RecordMetadata};
///
/// #[derive(Default)]
/// struct Stamp(AtomicU64);
///
/// impl<K, V> ProducerInterceptor<K, V> for Stamp {
///     fn on_send(&self, record: ProducerRecord<K, V>) -> ProducerRecord<K, V> {
///         record.with_header("origin", "billing")
///     }
///     fn on_acknowledgement(&self, result: Result<&RecordMetadata, &ProducerError>) {
///         if result.is_ok() {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
/// ```
pub trait ProducerInterceptor<K, V>: Send + Sync {
    /// Sees (and may replace) a record before it is serialized and partitioned.
    fn on_send(&self, record: ProducerRecord<K, V>) -> ProducerRecord<K, V> {
        record
    }

    /// Told where a record landed, or why it failed.
    fn on_acknowledgement(&self, result: Result<&RecordMetadata, &ProducerError>) {
        let _ = result;
    }
}

/// The producer's interceptors, in the order they were added.
pub(crate) struct Interceptors<K, V> {
    pub list: Vec<Arc<dyn ProducerInterceptor<K, V>>>,
}

impl<K, V> Interceptors<K, V> {
    pub(crate) fn on_send(&self, mut record: ProducerRecord<K, V>) -> ProducerRecord<K, V> {
        for i in &self.list {
            record = i.on_send(record);
        }
        record
    }
}

impl<K, V> AckListener for Interceptors<K, V> {
    fn on_ack(&self, result: Result<&RecordMetadata, &ProducerError>) {
        for i in &self.list {
            i.on_acknowledgement(result);
        }
    }
}
