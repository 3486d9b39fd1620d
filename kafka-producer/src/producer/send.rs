//! The send path: what `send` does in the caller's task, as Java's `KafkaProducer.send` does
//! in the caller's thread: run the interceptors, find the topic's metadata, serialize,
//! choose the partition and append to the accumulator.
//!
//! A send to a topic whose metadata is known, whose record finds room in `buffer.memory`,
//! runs start to end without awaiting ([`Producer::enqueue_now`]). Only a send that must
//! wait, for the topic's metadata or for room, takes the slow path, and that path is boxed:
//! an `.await` on a large future copies it, and the slow path's state (timers, the metadata
//! fetch) would make every send's future large.

use std::cell::OnceCell;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_client::metadata::{Cluster, TopicSelection};
use kafka_client::{Client, ErrorKind};
use kafka_protocol::records::{BatchHeader, RecordHeader};

use super::Producer;
use crate::accumulator::{AppendError, Appended, ClusterView};
use crate::batch::{AckListener, DeliveryCallback, RecordInput};
use crate::delivery::{BatchShared, DeliveryFuture};
use crate::error::{ProducerError, Result};
use crate::partitioner::{Partitioner, PartitionerKind, Partitions, partition_for_key};
use crate::record::ProducerRecord;
use crate::serializer::SerializeError;

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

/// The metadata snapshot, taken from the client on first use: a send to a known topic with
/// the default partitioner needs it only when the sticky partitioner moves on.
struct LazyCluster<'a> {
    client: &'a Client,
    cluster: OnceCell<Arc<Cluster>>,
}

impl<'a> LazyCluster<'a> {
    fn new(client: &'a Client) -> Self {
        Self {
            client,
            cluster: OnceCell::new(),
        }
    }

    fn with(client: &'a Client, cluster: Arc<Cluster>) -> Self {
        Self {
            client,
            cluster: OnceCell::from(cluster),
        }
    }

    fn get(&self) -> &Cluster {
        self.cluster.get_or_init(|| self.client.metadata())
    }
}

impl ClusterView for LazyCluster<'_> {
    fn partition_count(&self, topic: &str) -> Option<usize> {
        ClusterView::partition_count(self.get(), topic)
    }

    fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        ClusterView::leader(self.get(), topic, partition)
    }

    fn available(&self, topic: &str) -> Vec<i32> {
        ClusterView::available(self.get(), topic)
    }
}

/// A record ready to append: serialized, checked, its partition chosen (`None`: the sticky
/// partitioner's).
pub(super) struct Prepared {
    key: Option<Bytes>,
    value: Option<Bytes>,
    timestamp: i64,
    partition: Option<i32>,
}

impl Prepared {
    /// The record as the accumulator takes it.
    fn input<'a>(&'a self, headers: &'a [RecordHeader]) -> RecordInput<'a> {
        RecordInput {
            timestamp: self.timestamp,
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            headers,
        }
    }
}

/// How far the non-waiting path got.
pub(super) enum Now<K, V> {
    /// Appended, or failed for good.
    Done(Result<Sent>),
    /// Must wait: for the topic's metadata (no prepared record yet), or for room for the
    /// prepared record. The record (after the interceptors) goes along, boxed: a rare path
    /// should not make the common one's value larger.
    Wait(Box<ProducerRecord<K, V>>, Option<Prepared>),
}

/// The record's batch (when a future was asked for), its index there and its timestamp.
pub(super) type Sent = (Option<Arc<BatchShared>>, u32, i64);

impl<K, V> Producer<K, V> {
    /// What a send ends with: the record's future when no callback was given, or the
    /// error, which the interceptors and the callback (not taken, as it was not registered)
    /// hear of too.
    pub(super) fn finish<C: DeliveryCallback>(
        &self,
        sent: Result<Sent>,
        callback: Option<C>,
    ) -> Result<Option<DeliveryFuture>> {
        match sent {
            Ok((batch, index, timestamp)) => {
                Ok(batch.map(|batch| DeliveryFuture::new(batch, index, timestamp)))
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

    /// Everything of a send that needs no waiting. A callback is taken (registered with the
    /// batch) only on success.
    pub(super) fn enqueue_now<C: DeliveryCallback>(
        &self,
        record: ProducerRecord<K, V>,
        callback: &mut Option<C>,
    ) -> Now<K, V> {
        let record = match &self.handle.interceptors {
            Some(i) => i.on_send(record),
            None => record,
        };
        if let Err(e) = self.check_open() {
            return Now::Done(Err(e));
        }
        let shared = &self.handle.shared;
        let Some(count) = self.handle.topics.known(&shared.client, &record.topic) else {
            return Now::Wait(Box::new(record), None);
        };
        if record
            .partition
            .is_some_and(|p| p < 0 || p as usize >= count)
        {
            // The slow path refreshes the metadata before refusing the partition.
            return Now::Wait(Box::new(record), None);
        }
        let cluster = LazyCluster::new(&shared.client);
        let prepared = match self.prepare(&record, count, &cluster) {
            Ok(p) => p,
            Err(e) => return Now::Done(Err(e)),
        };
        let mut clock = SendClock::new(shared.config.max_block);
        let attempt = self.append(&record, &prepared, callback, &cluster, || clock.started());
        match attempt {
            Ok(a) => Now::Done(Ok(self.appended(a, &prepared))),
            Err(AppendError::NoMemory) => Now::Wait(Box::new(record), Some(prepared)),
            Err(AppendError::Encode(e)) => Now::Done(Err(ProducerError::Encode(e))),
        }
    }

    /// The rest of a send that has to wait: for the topic's metadata (when `prepared` is
    /// `None`), then for room in `buffer.memory`, up to `max.block.ms` in all.
    pub(super) async fn enqueue_waiting<C: DeliveryCallback>(
        &self,
        record: Box<ProducerRecord<K, V>>,
        prepared: Option<Prepared>,
        callback: &mut Option<C>,
    ) -> Result<Sent> {
        let shared = &self.handle.shared;
        let mut clock = SendClock::new(shared.config.max_block);
        let (prepared, cluster, fetched) = match prepared {
            Some(p) => (p, LazyCluster::new(&shared.client), false),
            None => {
                let (cluster, count, fetched) = self
                    .wait_for_topic(&record.topic, record.partition, &mut clock)
                    .await?;
                let cluster = LazyCluster::with(&shared.client, cluster);
                (self.prepare(&record, count, &cluster)?, cluster, fetched)
            }
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
                // A send that waited reads the clock again for a batch it starts.
                let fresh = waiting || fetched;
                let now = || {
                    if fresh {
                        Instant::now()
                    } else {
                        clock.started()
                    }
                };
                match self.append(&record, &prepared, callback, &cluster, now) {
                    Ok(a) => {
                        stop_waiting(waiting);
                        return Ok(self.appended(a, &prepared));
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
                    buffer_memory: shared.config.buffer_memory,
                });
            }
        }
    }

    /// Fails a send to a closed producer, or to one the idempotence state made fatal.
    fn check_open(&self) -> Result<()> {
        let shared = &self.handle.shared;
        if shared.closed.load(Ordering::Relaxed) {
            return Err(ProducerError::Closed { forced: false });
        }
        if let Some(e) = shared.fatal.get() {
            return Err(ProducerError::Fatal(Arc::new(e.clone())));
        }
        Ok(())
    }

    /// Serializes `record`, checks its size and chooses its partition.
    fn prepare(
        &self,
        record: &ProducerRecord<K, V>,
        count: usize,
        cluster: &LazyCluster<'_>,
    ) -> Result<Prepared> {
        let h = &*self.handle;
        let topic = record.topic.as_str();
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
        let mut prepared = Prepared {
            key,
            value,
            timestamp: record.timestamp.unwrap_or_else(now_ms),
            partition: None,
        };
        let size = prepared.input(&record.headers).size() + BatchHeader::SIZE;
        let config = &h.shared.config;
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
        prepared.partition = self.choose_partition(
            cluster,
            count,
            record,
            prepared.key.as_deref(),
            prepared.value.as_deref(),
        )?;
        Ok(prepared)
    }

    /// One attempt to append a prepared record, registering its callback in the same
    /// critical section (the sender cannot take the batch in between). The clock is read
    /// only when the record starts a batch.
    fn append<C: DeliveryCallback>(
        &self,
        record: &ProducerRecord<K, V>,
        prepared: &Prepared,
        callback: &mut Option<C>,
        cluster: &LazyCluster<'_>,
        now: impl FnOnce() -> Instant,
    ) -> std::result::Result<Appended, AppendError> {
        let input = prepared.input(&record.headers);
        let mut st = self.handle.shared.lock_state();
        st.acc.append_with(
            &record.topic,
            prepared.partition,
            &input,
            callback,
            cluster,
            now,
        )
    }

    /// After an append: wakes the sender when it should look.
    fn appended(&self, a: Appended, prepared: &Prepared) -> Sent {
        if a.wake_sender {
            self.handle.shared.wake.notify_one();
        }
        (a.shared, a.index, prepared.timestamp)
    }

    /// The partition for a record: explicit, the user's partitioner, the key's hash, or
    /// `None` for the sticky partitioner.
    fn choose_partition(
        &self,
        cluster: &LazyCluster<'_>,
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
            let topic = cluster.get().topic(&record.topic)?;
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
        let registered = self.handle.topics.is_registered(topic);
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
                    self.handle.topics.register(topic);
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

/// The wall clock in milliseconds since the epoch (a record's default create time).
fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| {
        i64::try_from(d.as_secs())
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000)
            .saturating_add(i64::from(d.subsec_millis()))
    })
}
