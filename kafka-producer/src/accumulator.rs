//! The record accumulator, sans-IO: per-partition queues of batches, the memory they hold,
//! and the decisions of what is ready to send to which broker.
//!
//! `send` calls [`RecordAccumulator::append`]; the sender task calls
//! [`RecordAccumulator::ready`] to learn which brokers have something to send and when to
//! look again, [`RecordAccumulator::drain`] to take at most one batch per partition for each
//! of them, and the completion methods when answers come back. Time comes in as `now` and
//! metadata through [`ClusterView`], so the tests drive both by hand.
//!
//! Memory: every batch reserves its size limit from `buffer.memory` when it is created and
//! gives it back when it completes. When a new batch does not fit, `append` says so and
//! `send` waits for room (up to `max.block.ms`); meanwhile every batch counts as ready, so
//! the sender frees memory as fast as the brokers take it. A record larger than `batch.size`
//! gets a batch of its own size, so the memory held never exceeds `buffer.memory` by more
//! than that one batch's growth.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kafka_client::backoff::ExponentialBackoff;
use kafka_protocol::EncodeError;
use kafka_protocol::compression::Compression;
use kafka_protocol::records::{BatchHeader, BatchOptions};

mod fxhash;
mod pool;

pub(crate) use self::fxhash::FxBuildHasher;

use self::pool::BufferPool;
use crate::batch::{DeliveryCallback, ProducerBatch, RecordInput};
use crate::delivery::BatchShared;
use crate::idempotence::Idempotence;
use crate::partitioner::{Rng, StickyPartitioner};

/// What the accumulator needs to know about the cluster.
pub(crate) trait ClusterView {
    /// Partitions of `topic`, if it is known.
    fn partition_count(&self, topic: &str) -> Option<usize>;
    /// The leader of a partition, if there is one.
    fn leader(&self, topic: &str, partition: i32) -> Option<i32>;
    /// The partitions of `topic` that have a leader.
    fn available(&self, topic: &str) -> Vec<i32>;
}

impl ClusterView for kafka_client::metadata::Cluster {
    fn partition_count(&self, topic: &str) -> Option<usize> {
        self.partition_count(topic)
    }

    fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.partition(topic, partition)?
            .leader
            .filter(|id| self.broker(*id).is_some())
    }

    fn available(&self, topic: &str) -> Vec<i32> {
        self.topic(topic).map_or_else(Vec::new, |t| {
            t.partitions
                .iter()
                .filter(|p| p.leader.is_some_and(|id| self.broker(id).is_some()))
                .map(|p| p.partition)
                .collect()
        })
    }
}

/// The accumulator's settings (from the producer configuration).
#[derive(Debug, Clone)]
pub(crate) struct AccumulatorConfig {
    pub batch_size: usize,
    pub linger: Duration,
    pub buffer_memory: usize,
    pub compression: Compression,
    pub compression_level: Option<i32>,
    pub delivery_timeout: Duration,
    pub retry_backoff: ExponentialBackoff,
    pub max_request_size: usize,
    /// `max.in.flight.requests.per.connection == 1`: a partition with a request out is not
    /// drained again until it is answered (Java's `guaranteeMessageOrder`).
    pub one_in_flight: bool,
    pub adaptive: bool,
    pub availability_timeout: Duration,
    /// Keep every record's timestamp for interceptors.
    pub track_timestamps: bool,
}

#[derive(Debug, Clone, Copy)]
struct NodeStats {
    ready_at: Instant,
    drained_at: Instant,
}

#[derive(Debug, Default)]
struct PartitionQueue {
    batches: VecDeque<ProducerBatch>,
    /// Requests with a batch of this partition not answered yet.
    on_wire: usize,
    /// The leader as of the last [`RecordAccumulator::ready`].
    leader: Option<i32>,
}

#[derive(Debug)]
struct TopicQueues {
    name: Arc<str>,
    partitions: Vec<PartitionQueue>,
    sticky: StickyPartitioner,
    /// Compressed size over uncompressed, learned from closed batches (Java's
    /// `CompressionRatioEstimator`), so compressed batches come out near `batch.size`.
    ratio: f64,
}

/// Where a record went.
#[derive(Debug)]
pub(crate) struct Appended {
    /// The partition chosen (the sticky partitioner's, when none was given).
    #[cfg_attr(not(test), allow(dead_code))]
    pub partition: i32,
    /// The record's batch, for a delivery future (`None` when a callback was registered:
    /// a callback send needs no handle, and cloning one per record costs an atomic on a
    /// line the sender thread also touches).
    pub shared: Option<Arc<BatchShared>>,
    pub index: u32,
    /// A batch became ready (or a new one started): the sender should look.
    pub wake_sender: bool,
}

/// Why a record was not appended.
#[derive(Debug)]
pub(crate) enum AppendError {
    /// A new batch needs this many bytes and `buffer.memory` has not got them now.
    NoMemory,
    /// The record cannot be encoded.
    Encode(EncodeError),
}

/// What [`RecordAccumulator::ready`] found.
#[derive(Debug, Default)]
pub(crate) struct ReadyCheck {
    /// Brokers leading a partition with a sendable batch.
    pub nodes: Vec<i32>,
    /// When something that is not ready now becomes ready (linger or backoff ending).
    pub next_check: Option<Instant>,
    /// Topics with a queued batch for a partition without a known leader.
    pub unknown_leaders: Vec<Arc<str>>,
}

/// Batches drained per broker, and batches that could not be encoded.
pub(crate) type Drained = (
    Vec<(i32, Vec<ProducerBatch>)>,
    Vec<(ProducerBatch, EncodeError)>,
);

/// Batches and memory, per partition.
#[derive(Debug)]
pub(crate) struct RecordAccumulator {
    config: AccumulatorConfig,
    topics: HashMap<Arc<str>, TopicQueues, FxBuildHasher>,
    used_memory: usize,
    next_id: u64,
    /// Ids of incomplete batches and how many batches carry each (split parts share their
    /// parent's), for `flush`.
    incomplete: BTreeMap<u64, usize>,
    /// `flush` calls in progress: every batch is ready meanwhile.
    flushing: usize,
    closing: bool,
    /// `send` calls waiting for memory: every batch is ready meanwhile.
    memory_waiters: usize,
    rng: Rng,
    /// Rotates the partition drained first, so no partition starves under max.request.size.
    drain_rotation: usize,
    /// When each broker last had something ready and last had a request taken (for
    /// `partitioner.availability.timeout.ms`).
    node_stats: HashMap<i32, NodeStats>,
    /// Buffers of completed batches, for new batches.
    pool: BufferPool,
    /// Batches in requests not answered yet, over all partitions.
    on_wire: usize,
    /// When the sender task looks again at the latest without being told (`None`: only
    /// when told), as it said after its last pass.
    sender_looks_at: Option<Instant>,
    /// Brokers whose connections had all the requests in flight they may have after the
    /// sender's last pass: a batch filling up for one of them needs no wake-up, the next
    /// answer from that broker makes the sender look.
    saturated: Vec<i32>,
    /// Batches released whose futures and callbacks have not run yet: counted up by
    /// `release` (under the state lock), down by the sender task once it ran them (without
    /// it), so a flush does not end between the two.
    completing: Arc<AtomicUsize>,
}

impl RecordAccumulator {
    pub(crate) fn new(config: AccumulatorConfig, seed: u64) -> Self {
        Self {
            config,
            topics: HashMap::default(),
            used_memory: 0,
            next_id: 0,
            incomplete: BTreeMap::new(),
            flushing: 0,
            closing: false,
            memory_waiters: 0,
            rng: Rng::new(seed),
            drain_rotation: 0,
            node_stats: HashMap::new(),
            pool: BufferPool::default(),
            on_wire: 0,
            sender_looks_at: None,
            saturated: Vec::new(),
            completing: Arc::default(),
        }
    }

    /// Bytes of `buffer.memory` not held by batches.
    pub(crate) fn available_memory(&self) -> usize {
        self.config.buffer_memory.saturating_sub(self.used_memory)
    }

    /// Bytes held by batches.
    #[cfg(test)]
    pub(crate) fn used_memory(&self) -> usize {
        self.used_memory
    }

    /// Appends a record to `partition`, or to the sticky partition when `None` (the topic
    /// must be known to `cluster`).
    #[cfg(test)]
    pub(crate) fn append(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        record: &RecordInput<'_>,
        cluster: &dyn ClusterView,
        now: Instant,
    ) -> Result<Appended, AppendError> {
        self.append_with(
            topic,
            partition,
            record,
            &mut None::<crate::batch::NoCallback>,
            cluster,
            || now,
        )
    }

    /// Like `append`, registering `callback` (taken only on success) with the record's
    /// batch in the same step; the clock is read only when the record starts a batch.
    pub(crate) fn append_with<C: DeliveryCallback>(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        record: &RecordInput<'_>,
        callback: &mut Option<C>,
        cluster: &dyn ClusterView,
        now: impl FnOnce() -> Instant,
    ) -> Result<Appended, AppendError> {
        let wants_shared = callback.is_none();
        // Names are hashed with FxHash, so the second lookup below costs little.
        if !self.topics.contains_key(topic) {
            let name: Arc<str> = Arc::from(topic);
            self.topics.insert(
                name.clone(),
                TopicQueues {
                    name,
                    partitions: Vec::new(),
                    sticky: StickyPartitioner::new(),
                    ratio: 1.0,
                },
            );
        }
        let tq = self.topics.get_mut(topic).expect("inserted above");
        let sticky = partition.is_none();
        let partition = match partition {
            Some(p) => p,
            None => match tq.sticky.current() {
                Some(p) => p,
                None => {
                    let count = cluster.partition_count(topic).unwrap_or(1);
                    let available = cluster.available(topic);
                    tq.sticky.partition(count, &available, self.rng.next_u32())
                }
            },
        };
        let index = usize::try_from(partition).unwrap_or(0);
        if tq.partitions.len() <= index {
            tq.partitions
                .resize_with(index + 1, PartitionQueue::default);
        }
        let queue = &mut tq.partitions[index];
        let size = record.size();
        let mut appended = None;
        if let Some(last) = queue.batches.back_mut() {
            appended = last
                .try_append(record)
                .map_err(AppendError::Encode)?
                .map(|(i, added)| (i, added, wants_shared.then(|| last.shared.clone()), None));
            if let Some((i, ..)) = &appended
                && let Some(cb) = callback.take()
            {
                last.add_callback(*i, record.timestamp, cb);
            }
        }
        let (record_index, added, shared, new_batch) = match appended {
            Some(a) => a,
            None => {
                let header = BatchHeader::SIZE;
                let (write_limit, reserve) = batch_limits(
                    self.config.batch_size,
                    tq.ratio,
                    self.config.compression,
                    size + header,
                );
                // A batch.size above buffer.memory must not block forever: such a batch
                // reserves all the memory there is (and may outgrow it by itself).
                let reserve = reserve.min(self.config.buffer_memory);
                if self.used_memory + reserve > self.config.buffer_memory {
                    return Err(AppendError::NoMemory);
                }
                let id = self.next_id;
                let buffer = self.pool.take(
                    ProducerBatch::initial_capacity(write_limit, reserve),
                    reserve,
                    self.used_memory,
                    self.config.buffer_memory,
                );
                let mut batch = ProducerBatch::new(
                    id,
                    tq.name.clone(),
                    partition,
                    BatchOptions {
                        compression: self.config.compression,
                        compression_level: self.config.compression_level,
                        ..Default::default()
                    },
                    write_limit,
                    reserve,
                    self.config.track_timestamps,
                    now(),
                    buffer,
                );
                let (i, added) = batch
                    .try_append(record)
                    .map_err(AppendError::Encode)?
                    .expect("a new batch takes its first record");
                if let Some(cb) = callback.take() {
                    batch.add_callback(i, record.timestamp, cb);
                }
                self.next_id += 1;
                self.used_memory += reserve;
                *self.incomplete.entry(id).or_insert(0) += 1;
                let shared = wants_shared.then(|| batch.shared.clone());
                let created = batch.created;
                queue.batches.push_back(batch);
                // The header counts for the first record, as in Java's sticky accounting.
                (i, added + header, shared, Some(created))
            }
        };
        let last_full = queue.batches.back().is_none_or(|b| b.is_full_for(size));
        let blocked = last_full && queue.leader.is_some_and(|l| self.saturated.contains(&l));
        if sticky {
            tq.sticky
                .on_append(partition, added, last_full, self.config.batch_size);
        }
        // A new batch needs the sender only if it would not look before the batch's linger
        // ends anyway (a wake costs the appending thread a syscall when the sender sleeps).
        let unseen = new_batch.is_some_and(|created| {
            self.sender_looks_at
                .is_none_or(|at| at > created + self.config.linger)
        });
        Ok(Appended {
            partition,
            shared,
            index: record_index,
            wake_sender: unseen || (last_full && !blocked),
        })
    }

    /// Which brokers have something to send now, and when to look again.
    pub(crate) fn ready(&mut self, cluster: &dyn ClusterView, now: Instant) -> ReadyCheck {
        let mut check = ReadyCheck::default();
        let everything_ready = self.flushing > 0 || self.closing || self.memory_waiters > 0;
        let linger = self.config.linger;
        let availability = self.config.availability_timeout;
        let adaptive = self.config.adaptive;
        let mut sizes: Vec<(i32, usize)> = Vec::new();
        for (name, tq) in &mut self.topics {
            sizes.clear();
            let mut unknown = false;
            for (p, queue) in tq.partitions.iter_mut().enumerate() {
                let p = p as i32;
                let leader = cluster.leader(name, p);
                queue.leader = leader;
                if adaptive && let Some(l) = leader {
                    // Java's rule: a broker that has had something ready for longer than
                    // the timeout without being drained (in-flight limit reached, no
                    // connection) is left out.
                    let slow = !availability.is_zero()
                        && self.node_stats.get(&l).is_some_and(|s| {
                            s.ready_at.saturating_duration_since(s.drained_at) > availability
                        });
                    if !slow {
                        sizes.push((p, queue.batches.len()));
                    }
                }
                let Some(first) = queue.batches.front() else {
                    continue;
                };
                let Some(leader) = leader else {
                    unknown = true;
                    continue;
                };
                if self.config.one_in_flight && queue.on_wire > 0 {
                    continue;
                }
                if let Some(at) = first.retry_at
                    && at > now
                {
                    check.next_check = min_instant(check.next_check, at);
                    continue;
                }
                let full = queue.batches.len() > 1 || first.is_full_for(0) || first.is_closed();
                let linger_ends = first.created + linger;
                if full || everything_ready || first.retry_at.is_some() || linger_ends <= now {
                    if !check.nodes.contains(&leader) {
                        check.nodes.push(leader);
                        self.node_stats
                            .entry(leader)
                            .or_insert(NodeStats {
                                ready_at: now,
                                drained_at: now,
                            })
                            .ready_at = now;
                    }
                } else {
                    check.next_check = min_instant(check.next_check, linger_ends);
                }
            }
            if unknown {
                check.unknown_leaders.push(name.clone());
            }
            if adaptive {
                let count = cluster.partition_count(name).unwrap_or(tq.partitions.len());
                // Partitions never appended to have empty queues too.
                for p in tq.partitions.len()..count {
                    if cluster.leader(name, p as i32).is_some() {
                        sizes.push((p as i32, 0));
                    }
                }
                tq.sticky.update_load(&sizes, count);
            } else {
                tq.sticky.clear_load();
            }
        }
        check
    }

    /// Takes up to one batch per partition for each broker in `nodes`, closing and
    /// sequencing them, within `max.request.size` per broker. Batches that cannot be encoded
    /// come back in `failed`.
    pub(crate) fn drain(
        &mut self,
        cluster: &dyn ClusterView,
        nodes: &[i32],
        idempotence: &mut Idempotence,
        now: Instant,
    ) -> Drained {
        let mut out: Vec<(i32, Vec<ProducerBatch>, usize)> =
            nodes.iter().map(|n| (*n, Vec::new(), 0)).collect();
        let mut failed = Vec::new();
        let max_request = self.config.max_request_size;
        let mut slots: Vec<(Arc<str>, i32)> = Vec::new();
        for (name, tq) in &self.topics {
            for (p, q) in tq.partitions.iter().enumerate() {
                if !q.batches.is_empty() {
                    slots.push((name.clone(), p as i32));
                }
            }
        }
        if slots.is_empty() {
            return (Vec::new(), failed);
        }
        self.drain_rotation = self.drain_rotation.wrapping_add(1);
        let start = self.drain_rotation % slots.len();
        slots.rotate_left(start);
        for (name, p) in slots {
            let Some(leader) = cluster.leader(&name, p) else {
                continue;
            };
            let Some(slot) = out.iter_mut().find(|(n, _, _)| *n == leader) else {
                continue;
            };
            let tq = self.topics.get_mut(&name).expect("listed above");
            let queue = &mut tq.partitions[p as usize];
            if self.config.one_in_flight && queue.on_wire > 0 {
                continue;
            }
            if idempotence.enabled() && idempotence.take_rewrite(&name, p) {
                for b in queue.batches.iter_mut().take_while(|b| b.stamp.is_some()) {
                    if let Some(stamp) = idempotence.restamp(&name, p, b.records) {
                        b.set_stamp(stamp);
                    }
                }
            }
            let Some(first) = queue.batches.front() else {
                continue;
            };
            if first.retry_at.is_some_and(|at| at > now) {
                continue;
            }
            if idempotence.enabled() {
                let allowed = match first.stamp {
                    Some(stamp) => idempotence.can_send_retry(&name, p, stamp),
                    None => idempotence.can_send_new(&name, p),
                };
                if !allowed {
                    continue;
                }
            }
            if !slot.1.is_empty() && slot.2 + first.size() > max_request {
                continue;
            }
            let mut batch = queue.batches.pop_front().expect("front exists");
            let was_open = !batch.is_closed();
            // Sequenced before it is built, so the build writes the stamp (a batch that then
            // fails to build fails like any sequenced batch: its sequence is given up).
            if idempotence.enabled()
                && batch.stamp.is_none()
                && let Some(stamp) = idempotence.assign(&name, p, batch.records)
            {
                batch.set_stamp(stamp);
            }
            if let Err(e) = batch.close() {
                failed.push((batch, e));
                continue;
            }
            if was_open && self.config.compression != Compression::None {
                tq.ratio = update_ratio(tq.ratio, batch.size(), batch.uncompressed);
            }
            if idempotence.enabled() {
                idempotence.on_sent(&name, p);
            }
            queue.on_wire += 1;
            self.on_wire += 1;
            batch.attempts += 1;
            slot.2 += batch.size();
            slot.1.push(batch);
        }
        let mut drained = Vec::new();
        for (node, batches, _) in out {
            if !batches.is_empty() {
                self.node_stats
                    .entry(node)
                    .or_insert(NodeStats {
                        ready_at: now,
                        drained_at: now,
                    })
                    .drained_at = now;
                drained.push((node, batches));
            }
        }
        (drained, failed)
    }

    /// A request carrying `batch` was answered (or failed): it no longer counts as on the
    /// wire for its partition.
    pub(crate) fn on_answered(&mut self, batch: &ProducerBatch, idempotence: &mut Idempotence) {
        if let Some(q) = self
            .topics
            .get_mut(&batch.topic)
            .and_then(|t| t.partitions.get_mut(batch.partition as usize))
            && q.on_wire > 0
        {
            q.on_wire -= 1;
            self.on_wire = self.on_wire.saturating_sub(1);
        }
        if idempotence.enabled() {
            idempotence.on_answered(&batch.topic, batch.partition);
        }
    }

    /// Puts a batch back for another attempt after the retry backoff, ahead of newer
    /// batches and in sequence order among those being retried.
    pub(crate) fn reenqueue(&mut self, mut batch: ProducerBatch, unit: f64, now: Instant) {
        let wait = self
            .config
            .retry_backoff
            .delay(batch.attempts.saturating_sub(1), unit);
        batch.retry_at = Some(now + wait);
        self.push_in_order(batch);
    }

    /// Puts the parts of a split batch back, to be sent at once.
    pub(crate) fn reenqueue_parts(&mut self, parts: Vec<ProducerBatch>) {
        // The parts share their parent's id for `flush`: count them.
        if let Some(first) = parts.first() {
            *self.incomplete.entry(first.id).or_insert(0) += parts.len().saturating_sub(1);
        }
        for part in parts.into_iter().rev() {
            self.push_in_order(part);
        }
    }

    fn push_in_order(&mut self, batch: ProducerBatch) {
        let Some(tq) = self.topics.get_mut(&batch.topic) else {
            return;
        };
        let index = batch.partition as usize;
        if tq.partitions.len() <= index {
            tq.partitions
                .resize_with(index + 1, PartitionQueue::default);
        }
        let queue = &mut tq.partitions[index].batches;
        let at = match batch.stamp {
            // Before the first batch that is unsequenced or sequenced after this one.
            Some(s) => queue
                .iter()
                .position(|b| b.stamp.is_none_or(|o| o.base_sequence > s.base_sequence))
                .unwrap_or(queue.len()),
            None => 0,
        };
        queue.insert(at, batch);
    }

    /// Gives a completed batch's memory back, keeping its buffer for a new batch (see
    /// [`BufferPool`]) when nothing else holds it; returns whether `send` calls waiting for
    /// memory should look again.
    ///
    /// They are told once a sixteenth of `buffer.memory` (at most 1 MiB) is free, not at
    /// every batch: a full buffer is drained a batch at a time, and waking the waiters for
    /// each let them add one batch's worth of records and wait again, a thread switch per
    /// batch on both sides. Their records queue behind the whole buffer anyway, so taking
    /// room in larger steps delays none of them. With no batch left on the wire, nothing
    /// is about to free more, so they are told whatever is free.
    pub(crate) fn release(&mut self, batch: &mut ProducerBatch) -> bool {
        self.completing.fetch_add(1, Ordering::SeqCst);
        self.used_memory = self.used_memory.saturating_sub(batch.reserved);
        if let Some(n) = self.incomplete.get_mut(&batch.id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.incomplete.remove(&batch.id);
            }
        }
        if let Some(buf) = batch.take_buffer() {
            let largest = 2 * self.config.batch_size.max(BatchHeader::SIZE);
            self.pool
                .put(buf, largest, self.used_memory, self.config.buffer_memory);
        }
        let step = (self.config.buffer_memory / 16).min(1 << 20);
        batch.reserved > 0
            && self.memory_waiters > 0
            && (self.available_memory() >= step || self.on_wire == 0)
    }

    /// Removes the queued batches whose delivery timeout has passed.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<ProducerBatch> {
        let timeout = self.config.delivery_timeout;
        let mut expired = Vec::new();
        for tq in self.topics.values_mut() {
            for q in &mut tq.partitions {
                while q
                    .batches
                    .front()
                    .is_some_and(|b| b.created + timeout <= now)
                {
                    expired.extend(q.batches.pop_front());
                }
            }
        }
        expired
    }

    /// The sender's word, at the end of a pass, on when it looks again unless told (the
    /// earliest of [`ReadyCheck::next_check`] and [`next_expiry`](Self::next_expiry)): a
    /// new batch whose linger ends later needs no wake-up.
    pub(crate) fn sender_will_look(&mut self, at: Option<Instant>) {
        self.sender_looks_at = at;
    }

    /// The brokers whose connections have all the requests in flight they may have, after
    /// the sender's pass: their partitions' full batches wait for an answer from them, which
    /// makes the sender look anyway.
    pub(crate) fn set_saturated(&mut self, nodes: impl IntoIterator<Item = i32>) {
        self.saturated.clear();
        self.saturated.extend(nodes);
    }

    /// The earliest moment a queued batch expires.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        let timeout = self.config.delivery_timeout;
        self.topics
            .values()
            .flat_map(|t| &t.partitions)
            .filter_map(|q| q.batches.front().map(|b| b.created + timeout))
            .min()
    }

    /// Removes every queued batch (closing the producer without waiting).
    pub(crate) fn abort_all(&mut self) -> Vec<ProducerBatch> {
        let mut all = Vec::new();
        for tq in self.topics.values_mut() {
            for q in &mut tq.partitions {
                all.extend(q.batches.drain(..));
            }
        }
        all
    }

    /// Whether any batch is incomplete (queued or on the wire).
    pub(crate) fn has_incomplete(&self) -> bool {
        !self.incomplete.is_empty()
    }

    /// Starts a flush: returns the marker [`Self::flushed`] compares with.
    pub(crate) fn begin_flush(&mut self) -> u64 {
        self.flushing += 1;
        self.next_id
    }

    /// Ends a flush started by [`Self::begin_flush`].
    pub(crate) fn end_flush(&mut self) {
        self.flushing = self.flushing.saturating_sub(1);
    }

    /// Whether every batch created before `marker` is complete, its callbacks run.
    pub(crate) fn flushed(&self, marker: u64) -> bool {
        self.incomplete
            .first_key_value()
            .is_none_or(|(id, _)| *id >= marker)
            && self.completing.load(Ordering::SeqCst) == 0
    }

    /// The count of released batches whose completion has not run: whoever completes a
    /// released batch counts it down afterwards.
    pub(crate) fn completing(&self) -> Arc<AtomicUsize> {
        self.completing.clone()
    }

    /// Marks the accumulator closing: everything is ready from now on.
    pub(crate) fn begin_close(&mut self) {
        self.closing = true;
    }

    /// Counts a `send` waiting for memory (`delta` +1 when it starts, -1 when it ends).
    pub(crate) fn memory_waiter(&mut self, starts: bool) {
        if starts {
            self.memory_waiters += 1;
        } else {
            self.memory_waiters = self.memory_waiters.saturating_sub(1);
        }
    }

    /// Batches queued per partition.
    #[cfg(test)]
    pub(crate) fn queued_batches(&self, topic: &str, partition: i32) -> usize {
        self.topics
            .get(topic)
            .and_then(|t| t.partitions.get(partition as usize))
            .map_or(0, |q| q.batches.len())
    }
}

/// A new batch's write limit (uncompressed bytes) and the memory it reserves: `batch.size`
/// scaled by the expected compression ratio, or the record's own size when larger.
fn batch_limits(
    batch_size: usize,
    ratio: f64,
    compression: Compression,
    record_with_header: usize,
) -> (usize, usize) {
    let scaled = if compression == Compression::None || ratio >= 1.0 {
        batch_size
    } else {
        // Never more than 4x: a wrong estimate must not make huge batches.
        (batch_size as f64 / ratio.max(0.25)) as usize
    };
    let limit = scaled.max(record_with_header);
    (limit, limit)
}

/// Java's `CompressionRatioEstimator`: improve slowly, deteriorate quickly.
fn update_ratio(current: f64, compressed: usize, uncompressed: usize) -> f64 {
    if uncompressed == 0 {
        return current;
    }
    let observed = compressed as f64 / uncompressed as f64;
    if observed > current {
        (current + 0.05).max(observed)
    } else {
        (current - 0.005).max(observed)
    }
}

fn min_instant(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.min(b)))
}

#[cfg(test)]
mod tests;
