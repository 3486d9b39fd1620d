//! The sender task: drives the accumulator and turns its drained batches into Produce
//! requests, one per broker per pass, each carrying one batch for every partition that
//! broker leads.
//!
//! One task per producer loops over: bump the idempotent epoch if asked, get a producer id,
//! expire batches past `delivery.timeout.ms`, ask the accumulator which brokers are ready,
//! open connections, drain, and send. Requests in flight are futures this task polls itself
//! (the connection's reader wakes it directly when an answer comes, no task in between);
//! answers are applied per broker in the order the requests were sent, because the broker
//! answers them in that order and the idempotent bookkeeping relies on it. The loop sleeps
//! until the next linger or backoff deadline, a wake-up from `send`, or an answer.
//!
//! Per broker (a [`Sink`], as franz-go calls it): the connection and the requests in flight,
//! at most `max.in.flight.requests.per.connection`.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use kafka_client::backoff::Jitter;
use kafka_client::connection::Connection;
use kafka_client::{Client, Target};
use kafka_protocol::compression::Compression;
use kafka_protocol::messages::RequestBody;
use kafka_protocol::messages::ResponseBody;
use kafka_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use kafka_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kafka_protocol::messages::produce_response::ProduceResponse;
use kafka_protocol::{ApiKey, ErrorCode, KStr};
use parking_lot::{Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::accumulator::RecordAccumulator;
use crate::batch::{AckListener, ProducerBatch};
use crate::config::{Acks, ProducerConfig};
use crate::delivery::BatchAck;
use crate::error::ProducerError;
use crate::idempotence::{IdState, Idempotence, ProducerIdAndEpoch};
use crate::metrics::Metrics;

mod apply;
mod lock;

pub(crate) use self::lock::lock_spinning;

/// What the producer handles and the sender task share.
pub(crate) struct Shared {
    pub config: ProducerConfig,
    pub client: Client,
    /// Guards the accumulator and the idempotence state together (draining needs both);
    /// held for short, non-blocking sections only, never across an await, and never while
    /// user callbacks run.
    pub state: Mutex<State>,
    /// Wakes the sender (new batch, full batch, flush, close).
    pub wake: Notify,
    /// Memory was freed: `send` calls waiting for room look again.
    pub memory: Notify,
    /// Batches completed: `flush` and `close` look again.
    pub progress: Notify,
    pub metrics: Metrics,
    /// No new records are accepted.
    pub closed: AtomicBool,
    pub listener: Option<Arc<dyn AckListener>>,
    /// Set once the idempotent producer is in a fatal state (read by `send` without the
    /// state lock).
    pub fatal: std::sync::OnceLock<ProducerError>,
    /// The accumulator's count of released batches not completed yet
    /// ([`RecordAccumulator::completing`]), counted down without the state lock.
    pub completing: Arc<std::sync::atomic::AtomicUsize>,
}

impl Shared {
    /// Locks [`Shared::state`] for a hot path (an append, a sender pass); see
    /// [`lock_spinning`].
    pub(crate) fn lock_state(&self) -> MutexGuard<'_, State> {
        lock_spinning(&self.state)
    }
}

/// The state behind [`Shared::state`].
pub(crate) struct State {
    pub acc: RecordAccumulator,
    pub idem: Idempotence,
    pub jitter: Jitter,
    /// `close` gave up waiting: fail what is left and stop.
    pub force_close: bool,
    /// The sender task has finished.
    pub stopped: bool,
}

/// A result from one of the sender's small tasks.
enum Event {
    Connected {
        node: i32,
        result: Result<Connection, kafka_client::Error>,
    },
    Answered {
        node: i32,
        id: u64,
        result: Result<Option<ProduceResponse>, kafka_client::Error>,
    },
    ProducerId(Result<ProducerIdAndEpoch, ProducerError>),
    MetadataRefreshed,
}

struct InFlight {
    id: u64,
    batches: Vec<ProducerBatch>,
    sent_at: Instant,
    result: Option<Result<Option<ProduceResponse>, kafka_client::Error>>,
}

/// One broker's produce path: its connection and its requests in flight, oldest first.
#[derive(Default)]
struct Sink {
    conn: Option<Connection>,
    connecting: bool,
    in_flight: VecDeque<InFlight>,
}

type Done = Vec<(ProducerBatch, Result<BatchAck, ProducerError>)>;

struct Sender {
    shared: Arc<Shared>,
    sinks: HashMap<i32, Sink>,
    tasks: JoinSet<Event>,
    /// Produce requests in flight, polled by the sender task itself.
    requests: FuturesUnordered<Pin<Box<dyn Future<Output = Event> + Send>>>,
    next_id: u64,
    refreshing: bool,
}

/// Runs until the producer is closed and everything it held is complete.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut s = Sender {
        shared,
        sinks: HashMap::new(),
        tasks: JoinSet::new(),
        requests: FuturesUnordered::new(),
        next_id: 0,
        refreshing: false,
    };
    // One timer for the task's life, moved only when the next deadline changes (a new
    // `Sleep` per pass registered and deregistered a timer entry every time).
    let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
    let sleep = tokio::time::sleep_until(far());
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    loop {
        let (next, finished) = s.step();
        if finished {
            break;
        }
        if next != armed || sleep.is_elapsed() {
            let at = next.map_or_else(far, tokio::time::Instant::from_std);
            sleep.as_mut().reset(at);
            armed = next;
        }
        let shared = s.shared.clone();
        tokio::select! {
            biased;
            Some(event) = s.requests.next(), if !s.requests.is_empty() => {
                s.handle(event);
                // Answers that are in already are applied before the next pass, so one pass
                // serves them all.
                while let Some(Some(event)) = s.requests.next().now_or_never() {
                    s.handle(event);
                }
            }
            Some(joined) = s.tasks.join_next(), if !s.tasks.is_empty() => {
                match joined {
                    Ok(event) => s.handle(event),
                    Err(e) => tracing::error!(error = %e, "a producer task failed"),
                }
            }
            _ = shared.wake.notified() => {}
            _ = &mut sleep => {}
        }
    }
    s.stop();
}

impl Sender {
    fn config(&self) -> &ProducerConfig {
        &self.shared.config
    }

    /// One pass: returns when to look again at the latest, and whether the task may end
    /// (closed with nothing left, or forced closed).
    fn step(&mut self) -> (Option<Instant>, bool) {
        let now = Instant::now();
        let cluster = self.shared.client.metadata();
        let mut done: Done = Vec::new();
        let mut freed = false;
        let shared = self.shared.clone();
        let (drained, next, idle_closed) = {
            let mut guard = shared.lock_state();
            let st = &mut *guard;
            if st.force_close {
                return (None, true);
            }
            st.idem.maybe_bump();
            if st.idem.start_init() {
                self.spawn_init();
            }
            if let Some(fatal) = st.idem.fatal().cloned() {
                let error = ProducerError::Fatal(Arc::new(fatal));
                for mut b in st.acc.abort_all() {
                    freed |= finish_failed(st, &mut b);
                    done.push((b, Err(error.clone())));
                }
            }
            for mut b in st.acc.expire(now) {
                let error = ProducerError::DeliveryTimeout {
                    topic: b.topic.to_string(),
                    partition: b.partition,
                    elapsed: now.saturating_duration_since(b.created),
                    attempts: b.attempts,
                    last_error: b.last_error.clone().map(Box::new),
                };
                freed |= finish_failed(st, &mut b);
                done.push((b, Err(error)));
            }
            let check = st.acc.ready(&*cluster, now);
            if !check.unknown_leaders.is_empty() && !self.refreshing {
                self.spawn_refresh(
                    check
                        .unknown_leaders
                        .iter()
                        .map(|t| t.to_string())
                        .collect(),
                );
            }
            let id_ready = matches!(st.idem.state(), IdState::Disabled | IdState::Ready(_));
            let mut nodes = Vec::new();
            if id_ready {
                for node in check.nodes {
                    let sink = self.sinks.entry(node).or_default();
                    match &sink.conn {
                        Some(c) if !c.is_closed() => {
                            if sink.in_flight.len() < self.shared.config.max_in_flight {
                                nodes.push(node);
                            }
                        }
                        _ => {
                            sink.conn = None;
                            if !sink.connecting {
                                sink.connecting = true;
                                let client = self.shared.client.clone();
                                // One attempt per request timeout (the pool backs off between
                                // attempts), so a dead broker is reported - and the metadata
                                // refreshed - in time, not after the client's whole budget.
                                let budget = self.shared.config.client.request_timeout();
                                self.tasks.spawn(async move {
                                    let target = Target::Broker(node);
                                    let attempt = client.connection(&target);
                                    let result = tokio::time::timeout(budget, attempt)
                                        .await
                                        .unwrap_or_else(|_| {
                                            Err(kafka_client::Error::new(
                                                kafka_client::ErrorKind::ConnectTimeout {
                                                    addr: format!("broker {node}"),
                                                    timeout: budget,
                                                },
                                            ))
                                        });
                                    Event::Connected { node, result }
                                });
                            }
                        }
                    }
                }
            }
            let (drained, failed) = st.acc.drain(&*cluster, &nodes, &mut st.idem, now);
            for (mut b, e) in failed {
                freed |= finish_failed(st, &mut b);
                done.push((b, Err(ProducerError::Encode(e))));
            }
            let next = [check.next_check, st.acc.next_expiry()]
                .into_iter()
                .flatten()
                .min();
            st.acc.sender_will_look(next);
            let max_in_flight = self.shared.config.max_in_flight;
            st.acc.set_saturated(
                self.sinks
                    .iter()
                    .filter(|(node, sink)| {
                        let sending = drained.iter().any(|(n, _)| n == *node);
                        sink.in_flight.len() + usize::from(sending) >= max_in_flight
                    })
                    .map(|(node, _)| *node),
            );
            let idle_closed = self.shared.closed.load(Ordering::SeqCst) && !st.acc.has_incomplete();
            (drained, next, idle_closed)
        };
        for (node, batches) in drained {
            self.send(node, batches, now, &mut done);
        }
        self.complete(done, freed);
        let finished = idle_closed && self.sinks.values().all(|s| s.in_flight.is_empty());
        (next, finished)
    }

    /// Sends one Produce request with `batches` (one per partition) to `node`.
    fn send(&mut self, node: i32, batches: Vec<ProducerBatch>, now: Instant, done: &mut Done) {
        let Some(sink) = self.sinks.get_mut(&node) else {
            return;
        };
        let Some(conn) = sink.conn.clone() else {
            return;
        };
        let version = match conn.api_version(ApiKey::Produce) {
            Ok(v) => v,
            Err(e) => {
                let mut guard = self.shared.state.lock();
                let st = &mut *guard;
                for mut b in batches {
                    st.acc.on_answered(&b, &mut st.idem);
                    finish_failed(st, &mut b);
                    done.push((b, Err(ProducerError::Client(e.clone()))));
                }
                // The pass counted this request in flight; look again with it not.
                self.shared.wake.notify_one();
                return;
            }
        };
        let mut topic_data: Vec<TopicProduceData> = Vec::new();
        for b in &batches {
            let data = PartitionProduceData {
                index: b.partition,
                records: Some(b.bytes()),
                ..Default::default()
            };
            match topic_data.iter_mut().find(|t| t.name.as_str() == &*b.topic) {
                Some(t) => t.partition_data.push(data),
                None => topic_data.push(TopicProduceData {
                    name: KStr::from(&*b.topic),
                    partition_data: vec![data],
                    ..Default::default()
                }),
            }
            self.shared
                .metrics
                .batch_sent(b.records, b.size(), b.uncompressed);
        }
        let config = &self.shared.config;
        let acks = config.acks;
        let timeout = config.client.request_timeout();
        let body = RequestBody::Produce(ProduceRequest {
            acks: acks.wire(),
            timeout_ms: i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX),
            topic_data,
            ..Default::default()
        });
        if config.compression == Compression::Zstd && version < 7 {
            // The broker would refuse it (UNSUPPORTED_COMPRESSION_TYPE); say so without
            // sending.
            let mut guard = self.shared.state.lock();
            let st = &mut *guard;
            for mut b in batches {
                st.acc.on_answered(&b, &mut st.idem);
                finish_failed(st, &mut b);
                let e = ProducerError::broker(
                    ErrorCode::UnsupportedCompressionType,
                    Some(format!(
                        "the broker takes Produce up to v{version}; zstd needs v7"
                    )),
                    &b.topic,
                    b.partition,
                );
                done.push((b, Err(e)));
            }
            // The pass counted this request in flight; look again with it not.
            self.shared.wake.notify_one();
            return;
        }
        self.shared.metrics.request_sent();
        let id = self.next_id;
        self.next_id += 1;
        sink.in_flight.push_back(InFlight {
            id,
            batches,
            sent_at: now,
            result: None,
        });
        let request = async move {
            let result = if acks == Acks::None {
                conn.send_no_response(version, &body).await.map(|()| None)
            } else {
                match conn.send_at(version, &body, Some(timeout)).await {
                    Ok(ResponseBody::Produce(r)) => Ok(Some(r)),
                    Ok(other) => Err(kafka_client::Error::new(kafka_client::ErrorKind::Protocol(
                        format!("Produce answered with {:?}", other.api_key()),
                    ))),
                    Err(e) => Err(e),
                }
            };
            Event::Answered { node, id, result }
        };
        // The broker must receive a partition's batches in sequence order, so requests go on
        // the connection in the order they are made: the first poll (here, on this task)
        // encodes the request and queues its frame on the connection, or queues it behind
        // earlier ones when the connection's queue is full (a fair, first-come semaphore).
        // Left to their first poll from the set, requests could start in any order.
        // Unconstrained: the cooperative budget must not turn that first poll into a no-op.
        let mut request = Box::pin(tokio::task::unconstrained(request));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match request.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(event) => {
                self.requests.push(Box::pin(std::future::ready(event)));
            }
            // A pushed future is polled again on the set's next poll, registering the
            // sender task's waker.
            std::task::Poll::Pending => {
                self.requests.push(request);
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Connected { node, result } => {
                let sink = self.sinks.entry(node).or_default();
                sink.connecting = false;
                match result {
                    Ok(c) => sink.conn = Some(c),
                    Err(e) => {
                        tracing::debug!(node, error = %e, "cannot connect to the partition leader");
                        // The broker may be gone, and its partitions with it.
                        self.shared
                            .client
                            .report_error(ErrorCode::BrokerNotAvailable);
                    }
                }
            }
            Event::Answered { node, id, result } => {
                {
                    let Some(sink) = self.sinks.get_mut(&node) else {
                        return;
                    };
                    if result
                        .as_ref()
                        .is_err_and(kafka_client::Error::is_retriable)
                        && sink.conn.as_ref().is_some_and(Connection::is_closed)
                    {
                        // The connection is gone; the pool opens a new one next time.
                        sink.conn = None;
                    }
                    if let Some(r) = sink.in_flight.iter_mut().find(|r| r.id == id) {
                        r.result = Some(result);
                    }
                }
                // Answers are applied in the order the requests went out.
                loop {
                    let request = {
                        let Some(sink) = self.sinks.get_mut(&node) else {
                            break;
                        };
                        if sink.in_flight.front().is_none_or(|r| r.result.is_none()) {
                            break;
                        }
                        sink.in_flight.pop_front().expect("checked above")
                    };
                    self.apply(request);
                }
            }
            Event::ProducerId(result) => {
                if let Err(e) = &result {
                    tracing::warn!(error = %e, "InitProducerId failed");
                }
                let mut st = self.shared.state.lock();
                st.idem.init_done(result);
                if let Some(e) = st.idem.fatal() {
                    let _ = self.shared.fatal.set(e.clone());
                }
            }
            Event::MetadataRefreshed => self.refreshing = false,
        }
    }

    /// Completes batches outside the state lock (callbacks may call back into the producer)
    /// and wakes whoever waits for memory or progress.
    fn complete(&self, done: Done, freed: bool) {
        if done.is_empty() && !freed {
            return;
        }
        let listener = self.shared.listener.as_deref();
        let n = done.len();
        for (batch, result) in done {
            if result.is_err() {
                self.shared.metrics.errors(batch.records);
            }
            batch.complete(result, listener);
        }
        // Every batch here was released (counted up); a flush may end once this is zero.
        self.shared.completing.fetch_sub(n, Ordering::SeqCst);
        if freed {
            self.shared.memory.notify_waiters();
        }
        self.shared.progress.notify_waiters();
    }

    fn spawn_init(&mut self) {
        let client = self.shared.client.clone();
        let backoff = self.config().client.retry_backoff();
        self.tasks.spawn(async move {
            let body = RequestBody::InitProducerId(InitProducerIdRequest {
                transactional_id: None,
                // Java sends the largest timeout for an idempotent (non-transactional) id.
                transaction_timeout_ms: i32::MAX,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            });
            let result = match client.send(Target::Any, &body).await {
                Ok(ResponseBody::InitProducerId(r)) => match ErrorCode::from_code(r.error_code) {
                    ErrorCode::None => Ok(ProducerIdAndEpoch {
                        id: r.producer_id,
                        epoch: r.producer_epoch,
                    }),
                    code => Err(ProducerError::Client(kafka_client::Error::broker(
                        code, None,
                    ))),
                },
                Ok(other) => Err(ProducerError::Client(kafka_client::Error::new(
                    kafka_client::ErrorKind::Protocol(format!(
                        "InitProducerId answered with {:?}",
                        other.api_key()
                    )),
                ))),
                Err(e) => Err(ProducerError::Client(e)),
            };
            if result.as_ref().is_err_and(ProducerError::is_retriable) {
                // Do not hammer a cluster that cannot answer yet.
                tokio::time::sleep(backoff).await;
            }
            Event::ProducerId(result)
        });
    }

    fn spawn_refresh(&mut self, topics: Vec<String>) {
        self.refreshing = true;
        let client = self.shared.client.clone();
        let backoff = self.config().client.retry_backoff();
        self.tasks.spawn(async move {
            let selection = kafka_client::metadata::TopicSelection::topics(topics);
            if let Err(e) = client.refresh_metadata(selection).await {
                tracing::debug!(error = %e, "metadata refresh for unknown leaders failed");
            }
            // Leaders may still be unknown (an election takes a moment): pace the retries.
            tokio::time::sleep(backoff).await;
            Event::MetadataRefreshed
        });
    }

    /// Fails everything left (forced close) and marks the sender stopped.
    fn stop(&mut self) {
        self.tasks.abort_all();
        self.requests.clear();
        let mut done: Done = Vec::new();
        {
            let mut st = self.shared.state.lock();
            let error = ProducerError::Closed { forced: true };
            let mut left: Vec<ProducerBatch> = st.acc.abort_all();
            for sink in self.sinks.values_mut() {
                for r in sink.in_flight.drain(..) {
                    left.extend(r.batches);
                }
            }
            for mut b in left {
                finish_failed(&mut st, &mut b);
                done.push((b, Err(error.clone())));
            }
            st.stopped = true;
        }
        self.complete(done, true);
        self.shared.progress.notify_waiters();
    }
}

/// Bookkeeping for a batch that failed for good: its sequence is lost, its memory free.
fn finish_failed(st: &mut State, batch: &mut ProducerBatch) -> bool {
    if let Some(stamp) = batch.stamp {
        st.idem
            .on_fatal_failure(&batch.topic, batch.partition, stamp);
    }
    st.acc.release(batch)
}

type LeaderHint = Option<(i32, i32)>;
