//! The async driver of the group coordinator: the sans-IO [`Coordinator`] behind a lock, the
//! offsets file, JoinGroup and SyncGroup requests parked until their rebalance completes, a
//! timer task, and a watch channel for the wait-for hooks.
//!
//! A request takes the lock, hands its input to the coordinator with the current time, routes
//! every answer the coordinator produced to the parked request it names (a oneshot channel
//! per ticket), and releases the lock; a parked request then awaits its channel. The timer
//! task sleeps until the coordinator's next deadline (or until an operation may have moved
//! it), then ticks the coordinator, which completes rebalances and expires members.
//!
//! The clock is tokio's: milliseconds since the service started plus the wall-clock time
//! then, so it is monotonic, close to the wall clock for commit timestamps, and paused or
//! advanced by tokio's test utilities like every other timer in the broker.
//!
//! Locking: the one mutex guards the coordinator, the offsets file and the parked requests.
//! It is a leaf: nothing else is locked while it is held (handlers check topics before
//! calling in; topic deletion calls in while holding the registry lock), and it is never
//! held across an `.await`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use kafka_protocol::ErrorCode;
use parking_lot::Mutex;
use tokio::sync::{Notify, oneshot, watch};

use super::coordinator::{CommitArgs, Coordinator, Listed, NewOffset};
use super::member::Ticket;
use super::offsets::CommittedOffset;
use super::offsets_log::{NoPersistence, OffsetSink, OffsetsLog};
use super::requests::{
    Completion, GroupDescription, JoinArgs, JoinResult, LeavingMember, SyncArgs, SyncResult,
};
use super::{GroupConfig, GroupState, GroupStatus, GroupWaitTimeout};
use crate::BrokerError;
use crate::state::now_ms;

/// The group coordinator as the broker's request handlers use it.
#[derive(Debug)]
pub(crate) struct GroupService {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Guards the coordinator, the offsets file and the parked requests (a leaf lock).
    inner: Mutex<Inner>,
    /// Wakes the timer task: an operation may have moved the next deadline, or the service is
    /// stopping. Outside `Shared` so the task can wait on it without keeping the service alive.
    wake: Arc<Notify>,
    /// Bumped whenever a group's state or generation changes.
    changes: watch::Sender<u64>,
    clock: Clock,
    timer_started: AtomicBool,
    stopped: AtomicBool,
}

#[derive(Debug)]
struct Inner {
    core: Coordinator,
    log: Option<OffsetsLog>,
    memory_only: NoPersistence,
    parked: HashMap<Ticket, Parked>,
    next_ticket: Ticket,
}

#[derive(Debug)]
enum Parked {
    Join(oneshot::Sender<JoinResult>),
    Sync(oneshot::Sender<SyncResult>),
}

impl Inner {
    /// The coordinator and where its offset changes go.
    fn parts(&mut self) -> (&mut Coordinator, &mut dyn OffsetSink) {
        match &mut self.log {
            Some(log) => (&mut self.core, log),
            None => (&mut self.core, &mut self.memory_only),
        }
    }

    fn park(&mut self, parked: Parked) -> Ticket {
        self.next_ticket = self.next_ticket.wrapping_add(1);
        self.parked.insert(self.next_ticket, parked);
        self.next_ticket
    }
}

/// Milliseconds on tokio's clock, offset to the wall-clock time at start.
#[derive(Debug)]
struct Clock {
    base: tokio::time::Instant,
    base_ms: i64,
}

impl Clock {
    fn now(&self) -> i64 {
        let elapsed = i64::try_from(self.base.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.base_ms.saturating_add(elapsed)
    }
}

/// The longest the timer task sleeps at once (its deadline may be far off or unset).
const MAX_TIMER_SLEEP: Duration = Duration::from_secs(3600);

impl GroupService {
    /// Opens the coordinator; with a data directory, loads the committed offsets from it.
    pub fn open(
        config: GroupConfig,
        node_id: i32,
        data_dir: Option<&Path>,
    ) -> Result<Self, BrokerError> {
        let clock = Clock {
            base: tokio::time::Instant::now(),
            base_ms: now_ms(),
        };
        let now = clock.now();
        let mut core = Coordinator::new(config, node_id, now);
        let log = match data_dir {
            Some(dir) => {
                let (log, live) = OffsetsLog::open(dir)?;
                core.restore(now, live);
                Some(log)
            }
            None => None,
        };
        let (changes, _) = watch::channel(0);
        Ok(Self {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner {
                    core,
                    log,
                    memory_only: NoPersistence,
                    parked: HashMap::new(),
                    next_ticket: 0,
                }),
                wake: Arc::new(Notify::new()),
                changes,
                clock,
                timer_started: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
            }),
        })
    }

    /// Starts the timer task if it is not running (needs a tokio runtime; without one the
    /// next request that can park starts it).
    pub fn start_timers(&self) {
        if self.shared.timer_started.swap(true, Ordering::AcqRel) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(timer_loop(
                    Arc::downgrade(&self.shared),
                    Arc::clone(&self.shared.wake),
                ));
            }
            Err(_) => self.shared.timer_started.store(false, Ordering::Release),
        }
    }

    /// Flushes the offsets file and stops the timer task.
    pub fn close(&self) -> Result<(), BrokerError> {
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        let inner = self.shared.inner.lock();
        if let Some(log) = &inner.log {
            log.sync().map_err(|source| BrokerError::DataDir {
                path: "group-offsets.log".into(),
                source,
            })?;
        }
        Ok(())
    }

    /// Runs `f` on the coordinator and its offsets sink under the lock, then routes answers.
    fn with<T>(&self, f: impl FnOnce(&mut Coordinator, &mut dyn OffsetSink, i64) -> T) -> T {
        let mut inner = self.shared.inner.lock();
        let now = self.shared.clock.now();
        let (core, sink) = inner.parts();
        let out = f(core, sink, now);
        self.shared.finish(&mut inner);
        out
    }

    /// JoinGroup: waits until the group answers (possibly when the rebalance completes).
    pub async fn join(&self, group_id: &str, args: JoinArgs) -> JoinResult {
        self.start_timers();
        let member_id = args.member_id.clone();
        let rx = {
            let mut inner = self.shared.inner.lock();
            let (tx, rx) = oneshot::channel();
            let ticket = inner.park(Parked::Join(tx));
            let now = self.shared.clock.now();
            inner.core.join(now, ticket, group_id, args);
            self.shared.finish(&mut inner);
            rx
        };
        // The coordinator answers every ticket; a dropped one would be a bug, and a
        // retriable error makes the client find the coordinator and rejoin.
        rx.await
            .unwrap_or_else(|_| JoinResult::error(member_id, ErrorCode::CoordinatorNotAvailable))
    }

    /// SyncGroup: followers wait for the leader's assignment.
    pub async fn sync(&self, group_id: &str, args: SyncArgs) -> SyncResult {
        self.start_timers();
        let rx = {
            let mut inner = self.shared.inner.lock();
            let (tx, rx) = oneshot::channel();
            let ticket = inner.park(Parked::Sync(tx));
            let now = self.shared.clock.now();
            inner.core.sync(now, ticket, group_id, args);
            self.shared.finish(&mut inner);
            rx
        };
        rx.await
            .unwrap_or_else(|_| SyncResult::error(ErrorCode::CoordinatorNotAvailable))
    }

    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> ErrorCode {
        self.with(|c, _, now| c.heartbeat(now, group_id, member_id, instance_id, generation_id))
    }

    pub fn leave(
        &self,
        group_id: &str,
        members: &[LeavingMember],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        self.with(|c, _, now| c.leave(now, group_id, members))
    }

    pub fn commit(
        &self,
        group_id: &str,
        args: &CommitArgs,
        offsets: Vec<NewOffset>,
    ) -> Vec<ErrorCode> {
        self.with(|c, sink, now| c.commit(now, group_id, args, offsets, sink))
    }

    #[allow(clippy::type_complexity)]
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<Vec<(String, Vec<(i32, Option<CommittedOffset>)>)>, ErrorCode> {
        self.shared
            .inner
            .lock()
            .core
            .fetch_offsets(group_id, topics)
    }

    pub fn list(&self, states: &[String], types: &[String]) -> Vec<Listed> {
        self.shared.inner.lock().core.list(states, types)
    }

    pub fn describe(&self, group_id: &str) -> Result<GroupDescription, ErrorCode> {
        self.shared.inner.lock().core.describe(group_id)
    }

    pub fn delete_group(&self, group_id: &str) -> ErrorCode {
        self.with(|c, sink, now| c.delete_group(now, group_id, sink))
    }

    pub fn delete_offsets(
        &self,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        self.with(|c, sink, _| c.delete_offsets(group_id, partitions, sink))
    }

    /// Drops every group's committed offsets of a deleted topic (Kafka's
    /// `handleDeletedPartitions`), so a topic re-created under the same name starts afresh.
    pub fn topic_deleted(&self, topic: &str) {
        self.with(|c, sink, _| c.remove_topic_offsets(topic, sink));
    }

    /// The group's current status, if it exists.
    pub fn status(&self, group_id: &str) -> Option<GroupStatus> {
        self.shared.inner.lock().core.status(group_id)
    }

    /// Waits until `pred` holds for the group's status (`None`: the group does not exist),
    /// re-checking on every state or generation change rather than polling.
    pub async fn wait_for(
        &self,
        group_id: &str,
        wanted: &str,
        timeout: Duration,
        pred: impl Fn(Option<&GroupStatus>) -> bool,
    ) -> Result<Option<GroupStatus>, GroupWaitTimeout> {
        let mut changes = self.shared.changes.subscribe();
        let now = tokio::time::Instant::now();
        // A timeout too large to add is as good as none.
        let deadline = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400));
        loop {
            changes.borrow_and_update();
            let status = self.status(group_id);
            if pred(status.as_ref()) {
                return Ok(status);
            }
            let timed_out = GroupWaitTimeout {
                group: group_id.to_string(),
                wanted: wanted.to_string(),
                timeout,
                last: status,
            };
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Err(timed_out),
            }
        }
    }

    /// Waits until the group is in `state` (Dead: until it does not exist).
    pub async fn wait_for_state(
        &self,
        group_id: &str,
        state: GroupState,
        timeout: Duration,
    ) -> Result<GroupStatus, GroupWaitTimeout> {
        let status = self
            .wait_for(group_id, state.name(), timeout, |s| match s {
                Some(s) => s.state == state,
                None => state == GroupState::Dead,
            })
            .await?;
        Ok(status.unwrap_or(GroupStatus {
            state: GroupState::Dead,
            generation_id: -1,
            members: Vec::new(),
            leader: None,
            protocol: None,
        }))
    }
}

impl Drop for GroupService {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

impl Shared {
    /// After an operation: route answers to parked requests, publish state changes, wake the
    /// timer task, and compact the offsets file when it has grown.
    fn finish(&self, inner: &mut Inner) {
        for c in inner.core.take_completions() {
            match c {
                Completion::Join(ticket, result) => {
                    if let Some(Parked::Join(tx)) = inner.parked.remove(&ticket) {
                        // The requester may be gone (its connection closed): nothing to do.
                        let _ = tx.send(result);
                    }
                }
                Completion::Sync(ticket, result) => {
                    if let Some(Parked::Sync(tx)) = inner.parked.remove(&ticket) {
                        let _ = tx.send(result);
                    }
                }
            }
        }
        if inner.core.take_changed() {
            self.changes.send_modify(|v| *v = v.wrapping_add(1));
        }
        self.wake.notify_one();
        let live = inner.core.offset_count();
        if inner.log.as_ref().is_some_and(|l| l.wants_compaction(live)) {
            let records = inner.core.offset_records();
            if let Some(log) = &mut inner.log
                && let Err(e) = log.rewrite(&records)
            {
                tracing::warn!(error = %e, "cannot compact the offsets file");
            }
        }
    }

    /// Fires the coordinator's due timers; returns when to look again.
    fn tick(&self) -> tokio::time::Instant {
        let mut inner = self.inner.lock();
        let now = self.clock.now();
        if inner.core.next_deadline() <= now {
            let (core, sink) = inner.parts();
            core.tick(now, sink);
            self.finish(&mut inner);
        }
        let wait = u64::try_from(inner.core.next_deadline().saturating_sub(now)).unwrap_or(0);
        tokio::time::Instant::now() + Duration::from_millis(wait).min(MAX_TIMER_SLEEP)
    }
}

/// Ticks the coordinator at its deadlines until the service is gone or stopped.
async fn timer_loop(shared: Weak<Shared>, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            if shared.stopped.load(Ordering::Acquire) {
                return;
            }
            shared.tick()
        };
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = wake.notified() => {}
        }
    }
}
