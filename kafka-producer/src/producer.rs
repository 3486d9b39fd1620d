//! The public producer: [`Producer`] and its [`ProducerBuilder`].
//!
//! `send` does the work Java's `KafkaProducer.send` does in the caller's thread: run the
//! interceptors, wait for the topic's metadata, serialize, choose the partition and append
//! to the accumulator, waiting for room in `buffer.memory` when there is none. Everything
//! after that belongs to the sender task, and the caller gets a [`DeliveryFuture`] (or its
//! callback is called) when the record's batch completes.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_client::backoff::Jitter;
use kafka_client::connection::VersionCaps;
use kafka_client::metadata::{Cluster, TopicSelection};
use kafka_client::{Client, ErrorKind};
use kafka_protocol::records::BatchHeader;
use kafka_protocol::{ApiKey, VersionRange};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::accumulator::{AccumulatorConfig, AppendError, FxBuildHasher, RecordAccumulator};
use crate::batch::{AckListener, DeliveryCallback, NoCallback, RecordInput};
use crate::config::ProducerConfig;
use crate::delivery::{BatchShared, DeliveryFuture};
use crate::error::{ProducerError, Result};
use crate::idempotence::Idempotence;
use crate::interceptor::{Interceptors, ProducerInterceptor};
use crate::metrics::{Metrics, ProducerMetrics};
use crate::partitioner::{
    Partitioner, PartitionerKind, Partitions, RoundRobinPartitioner, partition_for_key,
};
use crate::record::{ProducerRecord, RecordMetadata};
use crate::sender::{self, Shared, State};
use crate::serializer::{BytesSerializer, SerializeError, Serializer};

/// The clock of one send, read only when needed: a send whose topic is known and whose
/// record joins an open batch never reads it (`max.block.ms` counts from the first read,
/// microseconds after the call).
struct SendClock {
    started: Option<Instant>,
    max_block: Duration,
}

impl SendClock {
    fn new(max_block: Duration) -> Self {
        Self {
            started: None,
            max_block,
        }
    }

    fn started(&mut self) -> Instant {
        *self.started.get_or_insert_with(Instant::now)
    }

    fn deadline(&mut self) -> Instant {
        self.started() + self.max_block
    }
}

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
    /// Guards the topics already registered with the metadata refresh.
    topics: Mutex<HashSet<Arc<str>, FxBuildHasher>>,
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
        });
        tokio::spawn(sender::run(shared.clone()));
        Ok(Producer {
            handle: Arc::new(Handle {
                shared,
                key_serializer: self.key_serializer,
                value_serializer: self.value_serializer,
                interceptors,
                round_robin: RoundRobinPartitioner::new(),
                topics: Mutex::new(HashSet::default()),
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
        self.enqueue(record, None::<NoCallback>).await.map(|f| {
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
        self.enqueue(record, Some(callback)).await.map(|_| ())
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

    /// Sends `record`; with no `callback`, returns the record's future. The callback is
    /// generic, not boxed: the batch keeps it without an allocation per record.
    async fn enqueue<C: DeliveryCallback>(
        &self,
        record: ProducerRecord<K, V>,
        mut callback: Option<C>,
    ) -> Result<Option<DeliveryFuture>> {
        let record = match &self.handle.interceptors {
            Some(i) => i.on_send(record),
            None => record,
        };
        let wants_future = callback.is_none();
        match self.try_enqueue(&record, &mut callback).await {
            Ok((batch, index, timestamp)) => {
                Ok(wants_future.then(|| DeliveryFuture::new(batch, index, timestamp)))
            }
            Err(e) => {
                if let Some(i) = &self.handle.interceptors {
                    i.on_ack(Err(&e));
                }
                if let Some(cb) = callback {
                    cb(Err(e.clone()));
                }
                Err(e)
            }
        }
    }

    /// Everything of `send` up to the append; returns the record's batch, its index there
    /// and its timestamp. A callback is taken (registered with the batch) only on success.
    async fn try_enqueue<C: DeliveryCallback>(
        &self,
        record: &ProducerRecord<K, V>,
        callback: &mut Option<C>,
    ) -> Result<(Arc<BatchShared>, u32, i64)> {
        let h = &*self.handle;
        let shared = &h.shared;
        if shared.closed.load(Ordering::Relaxed) {
            return Err(ProducerError::Closed { forced: false });
        }
        if let Some(e) = shared.fatal.get() {
            return Err(ProducerError::Fatal(Arc::new(e.clone())));
        }
        let mut clock = SendClock::new(shared.config.max_block);
        let topic = record.topic.as_str();
        let (cluster, count, fetched) = self
            .wait_for_topic(topic, record.partition, &mut clock)
            .await?;
        let serialize = |part, r: std::result::Result<Bytes, SerializeError>| {
            r.map_err(|e| ProducerError::Serialization {
                part,
                source: Arc::from(e),
            })
        };
        let key = match &record.key {
            Some(k) => Some(serialize("key", h.key_serializer.serialize(topic, k))?),
            None => None,
        };
        let value = match &record.value {
            Some(v) => Some(serialize("value", h.value_serializer.serialize(topic, v))?),
            None => None,
        };
        let timestamp = record.timestamp.unwrap_or_else(now_ms);
        let input = RecordInput {
            timestamp,
            key: key.as_deref(),
            value: value.as_deref(),
            headers: &record.headers,
        };
        let size = input.size() + BatchHeader::SIZE;
        let config = &shared.config;
        for (limit, setting) in [
            (config.max_request_size, "max.request.size"),
            (config.buffer_memory, "buffer.memory"),
        ] {
            if size > limit {
                return Err(ProducerError::RecordTooLarge {
                    size,
                    limit,
                    setting,
                });
            }
        }
        let partition =
            self.choose_partition(&cluster, count, record, key.as_deref(), value.as_deref())?;
        // The append, and the callback's registration in the same critical section (the
        // sender cannot take the batch in between).
        // A send that had to wait reads the clock again for a batch it starts.
        let attempt = |callback: &mut Option<C>, clock: &mut SendClock, fresh: bool| {
            let mut st = shared.state.lock();
            st.acc
                .append_with(topic, partition, &input, callback, &*cluster, || {
                    if fresh {
                        Instant::now()
                    } else {
                        clock.started()
                    }
                })
        };
        let mut waiting = false;
        let stop_waiting = |waiting: bool| {
            if waiting {
                shared.state.lock().acc.memory_waiter(false);
            }
        };
        loop {
            let mut listening = None;
            for _ in 0..2 {
                match attempt(callback, &mut clock, waiting || fetched) {
                    Ok(a) => {
                        stop_waiting(waiting);
                        if a.wake_sender {
                            shared.wake.notify_one();
                        }
                        return Ok((a.shared, a.index, timestamp));
                    }
                    Err(AppendError::Encode(e)) => {
                        stop_waiting(waiting);
                        return Err(ProducerError::Encode(e));
                    }
                    Err(AppendError::NoMemory) if listening.is_some() => break,
                    Err(AppendError::NoMemory) => {}
                }
                // No room: wait for the sender to free some. Listen before looking again, so
                // a release in between is not missed.
                if !waiting {
                    waiting = true;
                    // While anyone waits for memory, every batch counts as ready.
                    shared.state.lock().acc.memory_waiter(true);
                    shared.wake.notify_one();
                }
                let mut notified = Box::pin(shared.memory.notified());
                notified.as_mut().enable();
                listening = Some(notified);
            }
            let Some(notified) = listening else {
                continue;
            };
            let timed_out = tokio::time::timeout_at(clock.deadline().into(), notified)
                .await
                .is_err();
            if shared.closed.load(Ordering::Relaxed) {
                stop_waiting(waiting);
                return Err(ProducerError::Closed { forced: false });
            }
            if timed_out {
                stop_waiting(waiting);
                return Err(ProducerError::BufferExhausted {
                    waited: clock.started().elapsed(),
                    buffer_memory: config.buffer_memory,
                });
            }
        }
    }

    /// The partition for a record: explicit, the user's partitioner, the key's hash, or
    /// `None` for the sticky partitioner.
    fn choose_partition(
        &self,
        cluster: &Cluster,
        count: usize,
        record: &ProducerRecord<K, V>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<Option<i32>> {
        let check = |p: i32| {
            if p < 0 || p as usize >= count {
                Err(ProducerError::InvalidPartition {
                    topic: record.topic.clone(),
                    partition: p,
                    partitions: count,
                })
            } else {
                Ok(Some(p))
            }
        };
        if let Some(p) = record.partition {
            return check(p);
        }
        let config = &self.handle.shared.config;
        let user = |p: &dyn Partitioner| {
            let topic = cluster.topic(&record.topic)?;
            p.partition(&record.topic, key, value, Partitions::new(topic))
        };
        let chosen = match &config.partitioner {
            PartitionerKind::Custom(p) => user(p.as_ref()),
            PartitionerKind::RoundRobin => user(&self.handle.round_robin),
            _ => None,
        };
        if let Some(p) = chosen {
            return check(p);
        }
        match key {
            Some(k) if !config.ignore_keys => Ok(Some(partition_for_key(k, count))),
            _ => Ok(None),
        }
    }

    /// The metadata with `topic` (and `partition`) in it, fetching it until `deadline`; also
    /// the topic's partition count and whether it had to be fetched.
    async fn wait_for_topic(
        &self,
        topic: &str,
        partition: Option<i32>,
        clock: &mut SendClock,
    ) -> Result<(Arc<Cluster>, usize, bool)> {
        let shared = &self.handle.shared;
        let client = &shared.client;
        let registered = self.handle.topics.lock().contains(topic);
        let mut last_error: Option<ProducerError> = None;
        let mut refreshed = false;
        loop {
            if registered || refreshed {
                let cluster = client.metadata();
                if let Some(t) = cluster.topic(topic)
                    && t.error.is_none()
                    && !t.partitions.is_empty()
                {
                    if let Some(p) = partition
                        && (p < 0 || p as usize >= t.partitions.len())
                        && refreshed
                    {
                        return Err(ProducerError::InvalidPartition {
                            topic: topic.to_owned(),
                            partition: p,
                            partitions: t.partitions.len(),
                        });
                    }
                    if partition.is_none_or(|p| (p as usize) < t.partitions.len() && p >= 0) {
                        let count = t.partitions.len();
                        return Ok((cluster, count, refreshed));
                    }
                }
            }
            let deadline = clock.deadline();
            let now = Instant::now();
            if now >= deadline {
                return Err(ProducerError::MetadataTimeout {
                    topic: topic.to_owned(),
                    partition,
                    waited: now - clock.started(),
                    last_error: last_error.map(Box::new),
                });
            }
            // Registers the topic for the periodic refresh too.
            let fetch = client.refresh_metadata(TopicSelection::topics([topic]));
            match tokio::time::timeout_at(deadline.into(), fetch).await {
                Err(_) => continue,
                Ok(Ok(cluster)) => {
                    refreshed = true;
                    self.handle.topics.lock().insert(Arc::from(topic));
                    match cluster.topic(topic).and_then(|t| t.error) {
                        Some(code) => {
                            last_error = Some(ProducerError::Client(
                                kafka_client::Error::broker(code, None).with_partition(topic, None),
                            ));
                        }
                        None => continue,
                    }
                }
                Ok(Err(e)) => {
                    if !e.is_retriable() && !matches!(e.kind(), ErrorKind::RetriesExhausted { .. })
                    {
                        return Err(e.into());
                    }
                    last_error = Some(e.into());
                }
            }
            // The topic may be being created: look again after the backoff.
            let wait = shared.config.client.retry_backoff();
            let until = (Instant::now() + wait).min(deadline);
            tokio::time::sleep_until(until.into()).await;
        }
    }
}

/// Ends a flush however `flush` returns (also when its future is dropped).
struct FlushGuard<'a>(&'a Shared);

impl Drop for FlushGuard<'_> {
    fn drop(&mut self) {
        self.0.state.lock().acc.end_flush();
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
