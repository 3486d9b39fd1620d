//! A consumer running in its own task, recording what it receives and what it is assigned,
//! so group tests can watch several members at once and stop them cleanly or crash them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

use kafka_consumer::{
    BoxFuture, Consumer, ConsumerConfig, RebalanceContext, RebalanceListener, TopicPartition,
};
use parking_lot::Mutex;
use tokio::task::JoinHandle;

/// A received record: value, partition, offset, when.
#[derive(Debug, Clone)]
pub struct Seen {
    pub value: String,
    pub partition: i32,
    pub offset: i64,
    pub at: Instant,
}

/// A listener event: what, which partitions, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Assigned(Vec<TopicPartition>),
    Revoked(Vec<TopicPartition>),
    Lost(Vec<TopicPartition>),
}

/// Records listener events.
#[derive(Debug, Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Vec<(Event, Instant)>>>);

impl RebalanceListener for Recorder {
    fn on_partitions_assigned<'a>(
        &'a self,
        _: &'a RebalanceContext,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        self.0
            .lock()
            .push((Event::Assigned(partitions.to_vec()), Instant::now()));
        Box::pin(async {})
    }

    fn on_partitions_revoked<'a>(
        &'a self,
        _: &'a RebalanceContext,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        self.0
            .lock()
            .push((Event::Revoked(partitions.to_vec()), Instant::now()));
        Box::pin(async {})
    }

    fn on_partitions_lost<'a>(
        &'a self,
        _: &'a RebalanceContext,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        self.0
            .lock()
            .push((Event::Lost(partitions.to_vec()), Instant::now()));
        Box::pin(async {})
    }
}

impl Recorder {
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().iter().map(|(e, _)| e.clone()).collect()
    }
}

/// A consumer in its own task.
pub struct Worker {
    pub name: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub assignment: Arc<Mutex<BTreeSet<TopicPartition>>>,
    pub generation: Arc<AtomicI32>,
    pub protocol: Arc<Mutex<Option<String>>>,
    pub events: Recorder,
    /// While set, the worker does not poll (to exceed max.poll.interval.ms).
    pub hold: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<Consumer>,
}

impl Worker {
    /// Builds a consumer from `config`, subscribes it to `topics` and starts polling.
    pub async fn start(name: &str, config: ConsumerConfig, topics: &[&str]) -> Worker {
        let events = Recorder::default();
        let mut consumer = Consumer::builder(config)
            .listener(events.clone())
            .build()
            .await
            .expect("consumer starts");
        consumer
            .subscribe(topics.iter().map(|t| t.to_string()))
            .expect("subscribes");
        Self::run(name, consumer, events)
    }

    /// Runs an already subscribed consumer.
    pub fn run(name: &str, mut consumer: Consumer, events: Recorder) -> Worker {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let assignment = Arc::new(Mutex::new(BTreeSet::new()));
        let generation = Arc::new(AtomicI32::new(-1));
        let protocol = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let hold = Arc::new(AtomicBool::new(false));
        let task = {
            let (seen, assignment, generation, protocol, stop, hold) = (
                seen.clone(),
                assignment.clone(),
                generation.clone(),
                protocol.clone(),
                stop.clone(),
                hold.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if hold.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    match consumer.poll(Duration::from_millis(50)).await {
                        Ok(records) => {
                            let now = Instant::now();
                            let mut s = seen.lock();
                            for r in records {
                                s.push(Seen {
                                    value: super::value(&r),
                                    partition: r.partition,
                                    offset: r.offset,
                                    at: now,
                                });
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "poll failed"),
                    }
                    *assignment.lock() = consumer.assignment();
                    if let Some(m) = consumer.group_metadata() {
                        generation.store(m.generation, Ordering::Relaxed);
                        *protocol.lock() = m.protocol;
                    }
                }
                consumer
            })
        };
        Worker {
            name: name.to_owned(),
            seen,
            assignment,
            generation,
            protocol,
            events,
            hold,
            stop,
            task,
        }
    }

    pub fn assigned(&self) -> BTreeSet<TopicPartition> {
        self.assignment.lock().clone()
    }

    pub fn values(&self) -> Vec<String> {
        self.seen.lock().iter().map(|s| s.value.clone()).collect()
    }

    /// Stops polling and closes the consumer cleanly (commit, revoke, leave); returns every
    /// value it received.
    pub async fn close(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        let seen = self.seen.clone();
        let consumer = self.task.await.expect("worker task");
        consumer.close().await.expect("clean close");
        seen.lock().iter().map(|s| s.value.clone()).collect()
    }

    /// Kills the consumer: no commit, no LeaveGroup, as a crashed process; returns every
    /// value it received.
    pub async fn crash(self) -> Vec<String> {
        let seen = self.seen.clone();
        self.task.abort();
        let _ = self.task.await;
        seen.lock().iter().map(|s| s.value.clone()).collect()
    }
}
