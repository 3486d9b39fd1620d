//! The state a consumer's handle and its background tasks share.
//!
//! Locks, each held only for quick reads and updates and never across an await:
//! `positions` (assigned partitions and fetch offsets), `subscription`, `membership` (the
//! group state machine), `fatal`, `tasks`. Where two are taken together the order is
//! `subscription`, then `membership`, then `positions`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kafka_client::Client;
use kafka_client::metadata::Cluster;
use parking_lot::Mutex;
use regex::Regex;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::assignor::Assignor;
use crate::config::ConsumerConfig;
use crate::error::ConsumerError;
use crate::fetch_buffer::{Budget, FetchBuffer, Fetched};
use crate::listener::RebalanceListener;
use crate::membership::Membership;
use crate::offsets::Committer;
use crate::positions::Positions;
use crate::record::TopicPartition;

/// What the consumer reads.
#[derive(Debug, Clone, Default)]
pub(crate) enum SubscriptionKind {
    #[default]
    None,
    /// Group-managed, these topics.
    Topics(BTreeSet<String>),
    /// Group-managed, every topic matching.
    Pattern(Regex),
    /// Manually assigned partitions.
    Manual,
}

impl SubscriptionKind {
    pub fn is_group_managed(&self) -> bool {
        matches!(
            self,
            SubscriptionKind::Topics(_) | SubscriptionKind::Pattern(_)
        )
    }

    /// The topics a group subscription covers now, given the cluster's topics.
    pub fn topics(&self, cluster: &Cluster, exclude_internal: bool) -> BTreeSet<String> {
        match self {
            SubscriptionKind::Topics(t) => t.clone(),
            SubscriptionKind::Pattern(re) => cluster
                .topics()
                .filter(|t| !(exclude_internal && t.is_internal))
                .filter(|t| re.is_match(&t.name))
                .map(|t| t.name.clone())
                .collect(),
            SubscriptionKind::Manual | SubscriptionKind::None => BTreeSet::new(),
        }
    }
}

/// Everything shared.
pub(crate) struct Shared {
    pub client: Client,
    pub config: ConsumerConfig,
    pub positions: Mutex<Positions>,
    pub buffer: FetchBuffer,
    pub budget: Arc<Budget>,
    pub subscription: Mutex<SubscriptionKind>,
    /// The group state machine (`None` without `group.id`).
    pub membership: Option<Mutex<Membership>>,
    pub assignors: Vec<Arc<dyn Assignor>>,
    pub listener: Option<Arc<dyn RebalanceListener>>,
    pub committer: Committer,
    /// Wakes fetch tasks: partitions became fetchable.
    pub fetch_wake: Notify,
    /// Wakes the fetch manager: partitions need offsets, or leaders moved.
    pub manager_wake: Notify,
    /// Wakes the group task: subscription, rejoin or leave requested.
    pub group_wake: Notify,
    /// Wakes the heartbeat task.
    pub heartbeat_wake: Notify,
    /// Signalled once the group task has left the group (close).
    pub left_group: Notify,
    /// Milliseconds since `started` at the application's last poll.
    last_poll_ms: AtomicU64,
    started: Instant,
    /// The application is inside a poll (waiting counts as polling).
    in_poll: AtomicBool,
    /// A fatal error: every later call returns it.
    fatal: Mutex<Option<ConsumerError>>,
    /// The member left for a poll timeout; the next poll must rejoin.
    poll_expired: AtomicBool,
    closed: AtomicBool,
    /// Background tasks, aborted on close.
    pub tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("group", &self.config.group_id())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: Client,
        config: ConsumerConfig,
        membership: Option<Membership>,
        assignors: Vec<Arc<dyn Assignor>>,
        listener: Option<Arc<dyn RebalanceListener>>,
        committer: Committer,
    ) -> Self {
        Self {
            client,
            config,
            positions: Mutex::new(Positions::new()),
            buffer: FetchBuffer::new(),
            budget: Arc::new(Budget::default()),
            subscription: Mutex::new(SubscriptionKind::None),
            membership: membership.map(Mutex::new),
            assignors,
            listener,
            committer,
            fetch_wake: Notify::new(),
            manager_wake: Notify::new(),
            group_wake: Notify::new(),
            heartbeat_wake: Notify::new(),
            left_group: Notify::new(),
            last_poll_ms: AtomicU64::new(0),
            started: Instant::now(),
            in_poll: AtomicBool::new(false),
            fatal: Mutex::new(None),
            poll_expired: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
        self.fetch_wake.notify_waiters();
        self.manager_wake.notify_waiters();
        self.group_wake.notify_waiters();
        self.heartbeat_wake.notify_waiters();
        self.buffer.wake();
    }

    /// Records that the application polled now.
    pub fn touch_poll(&self) {
        self.touch_poll_at(Instant::now());
    }

    /// Records that the application polled at `now`.
    pub fn touch_poll_at(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.started).as_millis() as u64;
        self.last_poll_ms.store(ms, Ordering::Relaxed);
    }

    /// When the application last polled (the consumer's creation if never).
    pub fn last_poll(&self) -> Instant {
        self.started + Duration::from_millis(self.last_poll_ms.load(Ordering::Relaxed))
    }

    pub fn in_poll(&self) -> bool {
        self.in_poll.load(Ordering::Relaxed)
    }

    pub fn set_in_poll(&self, polling: bool) {
        self.in_poll.store(polling, Ordering::Relaxed);
    }

    /// The member left the group for a poll timeout.
    pub fn poll_expired(&self) {
        self.poll_expired.store(true, Ordering::Release);
    }

    /// Whether the member left for a poll timeout since the last call (the application is
    /// polling again, so it should rejoin).
    pub fn take_poll_expired(&self) -> bool {
        self.poll_expired.load(Ordering::Relaxed) && self.poll_expired.swap(false, Ordering::AcqRel)
    }

    /// Records a fatal error (also handed to the application once through the buffer).
    pub fn set_fatal(&self, error: ConsumerError) {
        self.fatal.lock().get_or_insert(error);
    }

    pub fn fatal(&self) -> Option<ConsumerError> {
        self.fatal.lock().clone()
    }

    /// Hands an error to the application.
    pub fn report(&self, error: ConsumerError) {
        self.buffer.push([Fetched::Error(error)]);
    }

    /// Wakes every task that may have work after the assignment or positions changed.
    pub fn wake_fetching(&self) {
        self.manager_wake.notify_one();
        self.fetch_wake.notify_waiters();
    }

    /// The leader and leader epoch of a partition in `cluster`.
    pub fn leader(cluster: &Cluster, tp: &TopicPartition) -> Option<(i32, i32)> {
        let p = cluster.partition(&tp.topic, tp.partition)?;
        let leader = p.leader?;
        cluster.broker(leader)?;
        Some((leader, p.leader_epoch))
    }

    pub fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task);
        let mut tasks = self.tasks.lock();
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    pub fn abort_tasks(&self) {
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
    }
}
