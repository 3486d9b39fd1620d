//! The public producer: [`Producer`] and its [`ProducerBuilder`].
//!
//! `send` does the work Java's `KafkaProducer.send` does in the caller's thread: run the
//! interceptors, wait for the topic's metadata, serialize, choose the partition and append
//! to the accumulator, waiting for room in `buffer.memory` when there is none. Everything
//! after that belongs to the sender task, and the caller gets a [`DeliveryFuture`] (or its
//! callback is called) when the record's batch completes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use kafka_client::Client;
use kafka_client::backoff::Jitter;
use kafka_client::connection::VersionCaps;
use kafka_protocol::{ApiKey, VersionRange};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::accumulator::{AccumulatorConfig, RecordAccumulator};
use crate::batch::{AckListener, NoCallback};
use crate::config::ProducerConfig;
use crate::delivery::DeliveryFuture;
use crate::error::{ProducerError, Result};
use crate::idempotence::Idempotence;
use crate::interceptor::{Interceptors, ProducerInterceptor};
use crate::metrics::{Metrics, ProducerMetrics};
use crate::partitioner::RoundRobinPartitioner;
use crate::record::{ProducerRecord, RecordMetadata};
use crate::sender::{self, Shared, State};
use crate::serializer::{BytesSerializer, Serializer};

mod send;
mod topics;

use self::send::Now;
use self::topics::Topics;

/// Sends records to Kafka. Cheap to clone; share it between tasks.
///
/// ```no_run
/// use kafka_producer::{Producer, ProducerConfig, ProducerRecord};
///
/// # async fn run() -> Result<(), kafka_producer::ProducerError> {
/// let config = ProducerConfig::new().set("bootstrap.servers", "localhost:9092")?;
/// let producer = Producer::connect(config).await?;
/// let delivery = producer
///     .send(ProducerRecord::new("events", "hello").with_key("user-1"))
///     .await?;
/// let metadata = delivery.await?;
/// println!("written at {metadata}");
/// producer.close(std::time::Duration::from_secs(30)).await?;
/// # Ok(()) }
/// ```
pub struct Producer<K = Bytes, V = Bytes> {
    handle: Arc<Handle<K, V>>,
}

impl<K, V> Clone for Producer<K, V> {
    fn clone(&self) -> Self {
        Self {
            handle: self.handle.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for Producer<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("client", &self.handle.shared.client)
            .finish_non_exhaustive()
    }
}

struct Handle<K, V> {
    shared: Arc<Shared>,
    key_serializer: Arc<dyn Serializer<K>>,
    value_serializer: Arc<dyn Serializer<V>>,
    interceptors: Option<Arc<Interceptors<K, V>>>,
    round_robin: RoundRobinPartitioner,
    /// The topics sent to, and their partition counts (guarded inside).
    topics: Topics,
}

impl<K, V> Drop for Handle<K, V> {
    fn drop(&mut self) {
        // The last handle is gone: accept nothing more, let the sender deliver what it holds
        // (within delivery.timeout.ms) and stop.
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.state.lock().acc.begin_close();
        self.shared.wake.notify_one();
    }
}

/// Builds a [`Producer`] with serializers and interceptors.
#[must_use]
pub struct ProducerBuilder<K, V> {
    config: ProducerConfig,
    key_serializer: Arc<dyn Serializer<K>>,
    value_serializer: Arc<dyn Serializer<V>>,
    interceptors: Vec<Arc<dyn ProducerInterceptor<K, V>>>,
}

impl<K, V> std::fmt::Debug for ProducerBuilder<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerBuilder")
            .field("config", &self.config)
            .field("interceptors", &self.interceptors.len())
            .finish_non_exhaustive()
    }
}

impl<K: 'static, V: 'static> ProducerBuilder<K, V> {
    /// A builder for a producer of `K` keys and `V` values.
    ///
    /// ```no_run
    /// use kafka_producer::{ProducerBuilder, ProducerConfig, ProducerRecord};
    /// use kafka_producer::serializer::StringSerializer;
    ///
    /// # async fn run() -> Result<(), kafka_producer::ProducerError> {
    /// let config = ProducerConfig::new().set("bootstrap.servers", "localhost:9092")?;
    /// let producer = ProducerBuilder::<String, String>::new(config, StringSerializer, StringSerializer)
    ///     .connect()
    ///     .await?;
    /// producer
    ///     .send(ProducerRecord::typed("greetings", "hello".to_owned()).with_key("en"))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn new(
        config: ProducerConfig,
        key_serializer: impl Serializer<K> + 'static,
        value_serializer: impl Serializer<V> + 'static,
    ) -> Self {
        Self {
            config,
            key_serializer: Arc::new(key_serializer),
            value_serializer: Arc::new(value_serializer),
            interceptors: Vec::new(),
        }
    }

    /// Adds an interceptor (they run in the order added).
    pub fn interceptor(mut self, interceptor: impl ProducerInterceptor<K, V> + 'static) -> Self {
        self.interceptors.push(Arc::new(interceptor));
        self
    }

    /// Validates the configuration, connects to the cluster and starts the sender task.
    pub async fn connect(self) -> Result<Producer<K, V>> {
        let mut config = self.config;
        config.validate()?;
        // Produce v0-2 carry the legacy message formats this producer does not write.
        let caps = VersionCaps::codec().cap(ApiKey::Produce, VersionRange { min: 3, max: 11 });
        let client = Client::builder(config.client.clone())
            .version_caps(caps)
            // As Java's producer: sending to a missing topic creates it where the broker
            // allows auto-creation.
            .allow_auto_topic_creation(true)
            .connect()
            .await?;
        let interceptors = (!self.interceptors.is_empty()).then(|| {
            Arc::new(Interceptors {
                list: self.interceptors,
            })
        });
        let acc = RecordAccumulator::new(
            AccumulatorConfig {
                batch_size: config.batch_size,
                linger: config.linger,
                buffer_memory: config.buffer_memory,
                compression: config.compression,
                compression_level: config.compression_level(),
                delivery_timeout: config.delivery_timeout,
                retry_backoff: kafka_client::backoff::ExponentialBackoff::new(
                    config.client.retry_backoff(),
                    config.client.retry_backoff_max(),
                ),
                max_request_size: config.max_request_size,
                one_in_flight: config.max_in_flight == 1,
                adaptive: config.adaptive,
                availability_timeout: config.availability_timeout,
                track_timestamps: interceptors.is_some(),
            },
            Jitter::new().unit().to_bits(),
        );
        let listener = interceptors.clone().map(|i| i as Arc<dyn AckListener>);
        let completing = acc.completing();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                acc,
                idem: Idempotence::new(config.idempotence),
                jitter: Jitter::new(),
                force_close: false,
                stopped: false,
            }),
            config,
            client,
            wake: Notify::new(),
            memory: Notify::new(),
            progress: Notify::new(),
            metrics: Metrics::default(),
            closed: Default::default(),
            listener,
            fatal: Default::default(),
            completing,
        });
        tokio::spawn(sender::run(shared.clone()));
        Ok(Producer {
            handle: Arc::new(Handle {
                shared,
                key_serializer: self.key_serializer,
                value_serializer: self.value_serializer,
                interceptors,
                round_robin: RoundRobinPartitioner::new(),
                topics: Topics::default(),
            }),
        })
    }
}

impl Producer {
    /// Connects a producer of [`Bytes`] keys and values (anything `Into<Bytes>` goes into a
    /// [`ProducerRecord`]: `&'static str`, `String`, `Vec<u8>`, ...).
    pub async fn connect(config: ProducerConfig) -> Result<Producer> {
        Self::builder(config).connect().await
    }

    /// A builder for a producer of [`Bytes`], to add interceptors.
    pub fn builder(config: ProducerConfig) -> ProducerBuilder<Bytes, Bytes> {
        ProducerBuilder::new(config, BytesSerializer, BytesSerializer)
    }
}

impl<K, V> Producer<K, V> {
    /// Sends a record: resolves once it is in the producer's buffer (after waiting up to
    /// `max.block.ms` for the topic's metadata and for room in `buffer.memory`), with a
    /// [`DeliveryFuture`] that resolves when the broker acknowledged it.
    ///
    /// Records sent one after another to the same partition are written in that order.
    pub async fn send(&self, record: ProducerRecord<K, V>) -> Result<DeliveryFuture> {
        let mut callback = None::<NoCallback>;
        let sent = match self.enqueue_now(record, &mut callback) {
            Now::Done(r) => r,
            Now::Wait(record, prepared) => {
                Box::pin(self.enqueue_waiting(record, prepared, &mut callback)).await
            }
        };
        self.finish(sent, callback).map(|f| {
            f.unwrap_or_else(|| DeliveryFuture::ready(Err(ProducerError::Closed { forced: false })))
        })
    }

    /// Sends a record and calls `callback` exactly once with its outcome: on the sender task
    /// when the record is acknowledged or fails, or right away when `send` itself fails (the
    /// error is then also returned). The callback must not block.
    pub async fn send_with_callback<F>(
        &self,
        record: ProducerRecord<K, V>,
        callback: F,
    ) -> Result<()>
    where
        F: FnOnce(Result<RecordMetadata>) + Send + 'static,
    {
        // The waiting path is boxed and everything else is a plain call, so this future
        // holds little more than the record: it is copied at every `.await` above it.
        let mut callback = Some(callback);
        let sent = match self.enqueue_now(record, &mut callback) {
            Now::Done(r) => r,
            Now::Wait(record, prepared) => {
                Box::pin(self.enqueue_waiting(record, prepared, &mut callback)).await
            }
        };
        self.finish(sent, callback).map(|_| ())
    }

    /// Sends every record buffered so far without waiting for `linger.ms`, and waits until
    /// all of them completed (successfully or not).
    pub async fn flush(&self) {
        let shared = &self.handle.shared;
        let marker = shared.state.lock().acc.begin_flush();
        let _end = FlushGuard(shared);
        shared.wake.notify_one();
        loop {
            let notified = shared.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let st = shared.state.lock();
                if st.stopped || st.acc.flushed(marker) {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Stops accepting records, waits up to `timeout` for those buffered to be delivered,
    /// then fails whatever is left with [`ProducerError::Closed`] and closes the connections.
    /// Returns that error when records had to be abandoned. Every clone of the producer is
    /// closed.
    pub async fn close(&self, timeout: Duration) -> Result<()> {
        let shared = &self.handle.shared;
        shared.closed.store(true, Ordering::SeqCst);
        shared.state.lock().acc.begin_close();
        shared.wake.notify_one();
        let stopped = tokio::time::timeout(timeout, self.wait_stopped())
            .await
            .is_ok();
        if !stopped {
            shared.state.lock().force_close = true;
            shared.wake.notify_one();
            self.wait_stopped().await;
        }
        shared.client.close();
        if stopped {
            Ok(())
        } else {
            Err(ProducerError::Closed { forced: true })
        }
    }

    async fn wait_stopped(&self) {
        let shared = &self.handle.shared;
        loop {
            let notified = shared.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if shared.state.lock().stopped {
                return;
            }
            notified.await;
        }
    }

    /// A snapshot of the producer's metrics.
    pub fn metrics(&self) -> ProducerMetrics {
        let shared = &self.handle.shared;
        let available = shared.state.lock().acc.available_memory();
        shared
            .metrics
            .snapshot(shared.config.buffer_memory, available)
    }

    /// The configuration (after validation).
    pub fn config(&self) -> &ProducerConfig {
        &self.handle.shared.config
    }

    /// The client core the producer runs on (metadata, connections).
    pub fn client(&self) -> &Client {
        &self.handle.shared.client
    }
}

/// Ends a flush however `flush` returns (also when its future is dropped).
struct FlushGuard<'a>(&'a Shared);

impl Drop for FlushGuard<'_> {
    fn drop(&mut self) {
        self.0.state.lock().acc.end_flush();
    }
}
