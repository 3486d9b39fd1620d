//! One topic (an immutable snapshot of its metadata and partitions) and one partition
//! replica: its log (absent on brokers without a replica), its idempotent-producer state,
//! and the fetches parked until it grows.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use kafka_protocol::Uuid;
use parking_lot::{MappedMutexGuard, Mutex, MutexGuard};
use tokio::sync::Notify;

use super::now_ms;
use crate::config::TopicSettings;
use crate::log::{Log, MemoryLog};
use crate::producer::PartitionProducers;

/// One topic: an immutable snapshot of its metadata and its partitions.
#[derive(Debug)]
pub struct Topic {
    /// The name.
    pub name: String,
    /// The topic id.
    pub id: Uuid,
    /// The configs set on the topic (validated), by name.
    pub(crate) overrides: BTreeMap<String, String>,
    /// What the topic runs with (overrides on top of the broker defaults).
    pub(crate) settings: TopicSettings,
    /// The partitions, by index.
    pub(crate) partitions: Vec<Arc<Partition>>,
}

impl Topic {
    /// The partition with this index.
    pub(crate) fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }

    /// How many partitions the topic has.
    pub fn partition_count(&self) -> i32 {
        // The count is capped at MAX_PARTITIONS when created, so this never saturates.
        i32::try_from(self.partitions.len()).unwrap_or(i32::MAX)
    }
}

/// One partition: its log, and the fetches waiting for it to grow.
#[derive(Debug)]
pub(crate) struct Partition {
    /// Guards the partition's log: appends, reads, retention and config changes. `None` once
    /// the topic is deleted, so a request holding an older snapshot cannot write into a
    /// directory that a new topic of the same name may be reusing.
    log: Mutex<Option<Box<dyn Log>>>,
    /// Guards the partition's idempotent-producer state; taken after the log lock, so that a
    /// check, the append and the record of it are one step.
    producers: Mutex<PartitionProducers>,
    /// Guards the wakers of fetches parked until this partition gets new data.
    waiters: Mutex<Vec<Arc<Notify>>>,
}

impl Partition {
    /// A partition this broker has no replica of: no log (see the module docs).
    pub(super) fn absent() -> Self {
        Self {
            log: Mutex::new(None),
            producers: Mutex::new(PartitionProducers::load(None, &MemoryLog::default(), 0)),
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// A partition over `log`, with its producer state rebuilt from `dir` and the log.
    pub(super) fn new(log: Box<dyn Log>, dir: Option<PathBuf>) -> Self {
        let producers = PartitionProducers::load(dir, &*log, now_ms());
        Self {
            log: Mutex::new(Some(log)),
            producers: Mutex::new(producers),
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// Locks the log; `None` if the partition's topic has been deleted.
    pub(crate) fn log(&self) -> Option<MappedMutexGuard<'_, dyn Log>> {
        MutexGuard::try_map(self.log.lock(), |l| l.as_deref_mut()).ok()
    }

    /// Locks the producer state (after the log, if both are needed).
    pub(crate) fn producers(&self) -> MutexGuard<'_, PartitionProducers> {
        self.producers.lock()
    }

    /// Takes the log out (topic deletion): later requests find the partition gone.
    pub(super) fn detach(&self) -> Option<Box<dyn Log>> {
        self.log.lock().take()
    }

    /// Registers a parked fetch's waker, to be notified by the next append.
    pub(crate) fn park(&self, waker: &Arc<Notify>) {
        let mut waiters = self.waiters.lock();
        // Wakers whose fetch has finished are only referenced from here: drop them, so an
        // idle partition polled by a long-poll consumer does not collect one per poll.
        waiters.retain(|w| Arc::strong_count(w) > 1);
        if !waiters.iter().any(|w| Arc::ptr_eq(w, waker)) {
            waiters.push(Arc::clone(waker));
        }
    }

    /// Wakes every fetch parked on this partition (after an append).
    pub(crate) fn wake(&self) {
        let waiters = std::mem::take(&mut *self.waiters.lock());
        for w in waiters {
            // notify_one stores a permit if the fetch is between checks, so no wakeup is lost.
            w.notify_one();
        }
    }
}
