//! Sans-IO bookkeeping of the assigned partitions: where the application is (its position),
//! where fetching is (the fetch offset, running ahead), and what still has to be looked up
//! (committed offsets, offset resets).
//!
//! Two offsets per partition, because fetching runs ahead of the application:
//!
//! - the **position** is the next offset to hand to the application. It lives in an atomic in
//!   [`PartitionShared`], so delivering a record costs no lock; it moves by compare-and-swap,
//!   so a reset or seek that lands while the application drains older data makes the drain
//!   stop instead of overwriting the new position;
//! - the **fetch offset** is the next offset to ask a broker for. It advances when a response
//!   arrives, so the next fetch can go out while the application is still reading the last
//!   one, bounded by the buffered-bytes caps.
//!
//! Every event that moves the position from outside the drain (seek, reset, revocation)
//! bumps the partition's generation `era`; fetched data remembers the generation it was
//! fetched in and is dropped when it no longer matches. At most one fetch per partition is in
//! flight, so responses arrive in fetch-offset order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use crate::config::OffsetReset;
use crate::record::TopicPartition;

/// The per-partition state the application side, the fetch tasks and the group task share
/// without taking the positions lock.
#[derive(Debug)]
pub(crate) struct PartitionShared {
    pub tp: TopicPartition,
    /// The topic name every record of the partition shares.
    pub topic: Arc<str>,
    position: AtomicI64,
    position_epoch: AtomicI32,
    processed: AtomicI64,
    processed_epoch: AtomicI32,
    era: AtomicU64,
    /// Bytes of fetched data buffered for this partition.
    pub buffered: AtomicUsize,
    paused: AtomicBool,
    assigned: AtomicBool,
    high_watermark: AtomicI64,
    last_stable: AtomicI64,
    log_start: AtomicI64,
}

const NONE: i64 = -1;

impl PartitionShared {
    fn new(tp: TopicPartition) -> Self {
        Self {
            topic: Arc::from(tp.topic.as_str()),
            tp,
            position: AtomicI64::new(NONE),
            position_epoch: AtomicI32::new(-1),
            processed: AtomicI64::new(NONE),
            processed_epoch: AtomicI32::new(-1),
            era: AtomicU64::new(0),
            buffered: AtomicUsize::new(0),
            paused: AtomicBool::new(false),
            assigned: AtomicBool::new(true),
            high_watermark: AtomicI64::new(NONE),
            last_stable: AtomicI64::new(NONE),
            log_start: AtomicI64::new(NONE),
        }
    }

    /// The next offset the application gets, once known.
    pub fn position(&self) -> Option<i64> {
        let p = self.position.load(Ordering::Acquire);
        (p >= 0).then_some(p)
    }

    /// The position and the leader epoch of the record before it.
    pub fn position_with_epoch(&self) -> Option<(i64, Option<i32>)> {
        let p = self.position()?;
        let e = self.position_epoch.load(Ordering::Relaxed);
        Some((p, (e >= 0).then_some(e)))
    }

    /// The position as of the application's previous poll (records handed out before it are
    /// processed): what automatic commits commit.
    pub fn processed(&self) -> Option<(i64, Option<i32>)> {
        let p = self.processed.load(Ordering::Acquire);
        let e = self.processed_epoch.load(Ordering::Relaxed);
        (p >= 0).then_some((p, (e >= 0).then_some(e)))
    }

    /// Marks everything delivered so far as processed (called when the application polls).
    pub fn mark_processed(&self) {
        let p = self.position.load(Ordering::Acquire);
        self.processed_epoch.store(
            self.position_epoch.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        self.processed.store(p, Ordering::Release);
    }

    pub fn era(&self) -> u64 {
        self.era.load(Ordering::Acquire)
    }

    /// Moves the position from `from` to `to` on behalf of the drain; false when someone else
    /// moved it meanwhile (the drained data is stale).
    pub fn advance(&self, from: i64, to: i64, epoch: Option<i32>) -> bool {
        if let Some(e) = epoch {
            self.position_epoch.store(e, Ordering::Relaxed);
        }
        self.position
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn set_position(&self, offset: i64, epoch: Option<i32>) {
        self.era.fetch_add(1, Ordering::AcqRel);
        self.position_epoch
            .store(epoch.unwrap_or(-1), Ordering::Relaxed);
        self.position.store(offset, Ordering::Release);
        // A new position (seek, reset, committed offset) is not "processed" beyond itself.
        self.processed_epoch
            .store(epoch.unwrap_or(-1), Ordering::Relaxed);
        self.processed.store(offset, Ordering::Release);
    }

    fn invalidate(&self) {
        self.era.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets the position until a reset looks it up again.
    fn clear_position(&self) {
        self.era.fetch_add(1, Ordering::AcqRel);
        self.position.store(NONE, Ordering::Release);
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    pub fn is_assigned(&self) -> bool {
        self.assigned.load(Ordering::Acquire)
    }

    /// Records the offsets a fetch response reported.
    pub fn set_watermarks(&self, high: i64, last_stable: i64, log_start: i64) {
        if high >= 0 {
            self.high_watermark.store(high, Ordering::Relaxed);
        }
        if last_stable >= 0 {
            self.last_stable.store(last_stable, Ordering::Relaxed);
        }
        if log_start >= 0 {
            self.log_start.store(log_start, Ordering::Relaxed);
        }
    }

    /// How far the position is behind the end (the high watermark, or the last stable offset
    /// under read_committed).
    pub fn lag(&self, read_committed: bool) -> Option<i64> {
        let end = if read_committed {
            self.last_stable.load(Ordering::Relaxed)
        } else {
            self.high_watermark.load(Ordering::Relaxed)
        };
        let pos = self.position()?;
        (end >= 0).then(|| (end - pos).max(0))
    }

    /// The high watermark last seen, if any.
    pub fn high_watermark(&self) -> Option<i64> {
        let h = self.high_watermark.load(Ordering::Relaxed);
        (h >= 0).then_some(h)
    }
}

/// Where a reset goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResetTo {
    Earliest,
    Latest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FetchState {
    /// Waiting for the group's committed offset.
    AwaitingCommitted,
    /// Waiting for a ListOffsets.
    AwaitingReset(ResetTo),
    /// Fetching from this offset.
    Fetching(i64),
    /// Stopped after an error the application was given; a seek restarts it.
    Failed,
}

#[derive(Debug)]
struct Entry {
    shared: Arc<PartitionShared>,
    state: FetchState,
    /// The broker a fetch for this partition is in flight with.
    in_flight: Option<i32>,
    /// No fetch before this (backoff after a partition error).
    not_before: Option<Instant>,
}

/// A partition to include in a fetch.
#[derive(Debug, Clone)]
pub(crate) struct FetchTarget {
    pub shared: Arc<PartitionShared>,
    pub era: u64,
    pub offset: i64,
    pub leader_epoch: i32,
}

/// What needs looking up before fetching can start.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ToInitialize {
    pub committed: Vec<TopicPartition>,
    pub resets: Vec<(TopicPartition, ResetTo)>,
}

/// All assigned partitions.
#[derive(Debug, Default)]
pub(crate) struct Positions {
    entries: BTreeMap<TopicPartition, Entry>,
}

impl Positions {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, tp: &TopicPartition) -> Option<&Arc<PartitionShared>> {
        self.entries.get(tp).map(|e| &e.shared)
    }

    pub fn partitions(&self) -> impl Iterator<Item = &Arc<PartitionShared>> {
        self.entries.values().map(|e| &e.shared)
    }

    pub fn assigned(&self) -> Vec<TopicPartition> {
        self.entries.keys().cloned().collect()
    }

    /// Adds partitions; they start by looking up the committed offset (`use_committed`) or
    /// by resetting per `reset`. Already assigned ones are left alone.
    pub fn add(
        &mut self,
        partitions: impl IntoIterator<Item = TopicPartition>,
        use_committed: bool,
        reset: OffsetReset,
    ) {
        for tp in partitions {
            self.entries.entry(tp.clone()).or_insert_with(|| Entry {
                shared: Arc::new(PartitionShared::new(tp)),
                state: if use_committed {
                    FetchState::AwaitingCommitted
                } else {
                    reset_state(reset)
                },
                in_flight: None,
                not_before: None,
            });
        }
    }

    /// Removes partitions (revoked or unassigned): their buffered data becomes stale.
    pub fn remove(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            if let Some(e) = self.entries.remove(tp) {
                e.shared.assigned.store(false, Ordering::Release);
                e.shared.invalidate();
            }
        }
    }

    /// Sets the position (seek, or a looked-up offset) and restarts fetching there.
    pub fn seek(&mut self, tp: &TopicPartition, offset: i64, epoch: Option<i32>) -> bool {
        let Some(e) = self.entries.get_mut(tp) else {
            return false;
        };
        e.shared.set_position(offset, epoch);
        e.state = FetchState::Fetching(offset);
        e.in_flight = None;
        e.not_before = None;
        true
    }

    /// Asks for a reset (seek to beginning or end, out of range).
    pub fn request_reset(&mut self, tp: &TopicPartition, to: ResetTo) -> bool {
        let Some(e) = self.entries.get_mut(tp) else {
            return false;
        };
        e.shared.clear_position();
        e.state = FetchState::AwaitingReset(to);
        e.in_flight = None;
        true
    }

    /// Stops fetching a partition after an error handed to the application.
    pub fn fail(&mut self, tp: &TopicPartition) {
        if let Some(e) = self.entries.get_mut(tp) {
            e.shared.invalidate();
            e.state = FetchState::Failed;
            e.in_flight = None;
        }
    }

    /// Applies `auto.offset.reset` to a partition without a usable offset: `false` when the
    /// policy is `none` (the caller reports the error; the partition stops).
    pub fn apply_reset_policy(&mut self, tp: &TopicPartition, reset: OffsetReset) -> bool {
        match reset {
            OffsetReset::None => {
                self.fail(tp);
                false
            }
            r => {
                self.request_reset(
                    tp,
                    if r == OffsetReset::Earliest {
                        ResetTo::Earliest
                    } else {
                        ResetTo::Latest
                    },
                );
                true
            }
        }
    }

    /// What must be looked up, with the generation of each partition now (results are
    /// applied only if it has not changed).
    pub fn to_initialize(&self) -> (ToInitialize, BTreeMap<TopicPartition, u64>) {
        let mut out = ToInitialize::default();
        let mut eras = BTreeMap::new();
        for (tp, e) in &self.entries {
            match e.state {
                FetchState::AwaitingCommitted => out.committed.push(tp.clone()),
                FetchState::AwaitingReset(to) => out.resets.push((tp.clone(), to)),
                _ => continue,
            }
            eras.insert(tp.clone(), e.shared.era());
        }
        (out, eras)
    }

    /// Applies a looked-up offset if the partition is still waiting for it in generation
    /// `era`.
    pub fn initialized(
        &mut self,
        tp: &TopicPartition,
        era: u64,
        offset: i64,
        epoch: Option<i32>,
    ) -> bool {
        let Some(e) = self.entries.get_mut(tp) else {
            return false;
        };
        let waiting = matches!(
            e.state,
            FetchState::AwaitingCommitted | FetchState::AwaitingReset(_)
        );
        if !waiting || e.shared.era() != era {
            return false;
        }
        self.seek(tp, offset, epoch)
    }

    /// Whether any partition waits for a look-up.
    pub fn needs_initialization(&self) -> bool {
        self.entries.values().any(|e| {
            matches!(
                e.state,
                FetchState::AwaitingCommitted | FetchState::AwaitingReset(_)
            )
        })
    }

    /// Picks the partitions `broker` should fetch now and marks them in flight: fetching,
    /// not paused, not in flight elsewhere, out of backoff, below `partition_buffer_limit`
    /// buffered bytes, and led by `broker` according to `leader_of` (broker and leader
    /// epoch).
    pub fn fetchable(
        &mut self,
        broker: i32,
        now: Instant,
        partition_buffer_limit: usize,
        leader_of: impl Fn(&TopicPartition) -> Option<(i32, i32)>,
    ) -> Vec<FetchTarget> {
        let mut out = Vec::new();
        for (tp, e) in &mut self.entries {
            let FetchState::Fetching(offset) = e.state else {
                continue;
            };
            if e.in_flight.is_some()
                || e.shared.is_paused()
                || e.not_before.is_some_and(|t| now < t)
                || e.shared.buffered.load(Ordering::Relaxed) >= partition_buffer_limit
            {
                continue;
            }
            let Some((leader, epoch)) = leader_of(tp) else {
                continue;
            };
            if leader != broker {
                continue;
            }
            e.in_flight = Some(broker);
            e.not_before = None;
            out.push(FetchTarget {
                shared: e.shared.clone(),
                era: e.shared.era(),
                offset,
                leader_epoch: epoch,
            });
        }
        out
    }

    /// The fetch of `target` completed: the next fetch starts at `next_offset`. Returns
    /// whether the data belongs to the current generation (else it must be dropped).
    pub fn fetched(&mut self, target: &FetchTarget, broker: i32, next_offset: i64) -> bool {
        let Some(e) = self.entries.get_mut(&target.shared.tp) else {
            return false;
        };
        if e.in_flight == Some(broker) {
            e.in_flight = None;
        }
        let current = e.shared.era() == target.era
            && e.state == FetchState::Fetching(target.offset)
            && Arc::ptr_eq(&e.shared, &target.shared);
        if current {
            e.state = FetchState::Fetching(next_offset.max(target.offset));
        }
        current
    }

    /// The fetch of `target` failed for the partition; retry after `retry_at` if given.
    pub fn release(&mut self, target: &FetchTarget, broker: i32, retry_at: Option<Instant>) {
        if let Some(e) = self.entries.get_mut(&target.shared.tp)
            && e.in_flight == Some(broker)
        {
            e.in_flight = None;
            e.not_before = retry_at;
        }
    }

    /// Whether `target` is still what the partition is fetching (same generation, same
    /// offset): a partition error applies only then.
    pub fn is_current(&self, target: &FetchTarget) -> bool {
        self.entries.get(&target.shared.tp).is_some_and(|e| {
            e.shared.era() == target.era && e.state == FetchState::Fetching(target.offset)
        })
    }

    /// Pauses or resumes; returns the partitions that are not assigned.
    pub fn set_paused(
        &mut self,
        partitions: &[TopicPartition],
        paused: bool,
    ) -> Vec<TopicPartition> {
        let mut missing = Vec::new();
        for tp in partitions {
            match self.entries.get(tp) {
                Some(e) => e.shared.paused.store(paused, Ordering::Relaxed),
                None => missing.push(tp.clone()),
            }
        }
        missing
    }
}

fn reset_state(reset: OffsetReset) -> FetchState {
    match reset {
        OffsetReset::Earliest => FetchState::AwaitingReset(ResetTo::Earliest),
        // `none` still needs a committed offset; without a group there is none, so the
        // look-up reports the error.
        OffsetReset::Latest | OffsetReset::None => FetchState::AwaitingReset(ResetTo::Latest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    #[test]
    fn initialization_then_fetch_chain() {
        let mut pos = Positions::new();
        pos.add([tp(0), tp(1)], true, OffsetReset::Latest);
        let (init, eras) = pos.to_initialize();
        assert_eq!(init.committed, [tp(0), tp(1)]);
        assert!(pos.initialized(&tp(0), eras[&tp(0)], 10, None));
        assert!(pos.apply_reset_policy(&tp(1), OffsetReset::Earliest));
        let (init, gens2) = pos.to_initialize();
        assert_eq!(init.resets, [(tp(1), ResetTo::Earliest)]);
        // A result for the old generation is ignored.
        assert!(!pos.initialized(&tp(1), eras[&tp(1)], 99, None));
        assert!(pos.initialized(&tp(1), gens2[&tp(1)], 0, None));

        let now = Instant::now();
        let leaders = |t: &TopicPartition| Some((if t.partition == 0 { 1 } else { 2 }, 5));
        let got = pos.fetchable(1, now, 1 << 20, leaders);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].offset, got[0].leader_epoch), (10, 5));
        assert!(
            pos.fetchable(1, now, 1 << 20, leaders).is_empty(),
            "in flight"
        );
        assert!(pos.fetched(&got[0], 1, 20));
        let next = pos.fetchable(1, now, 1 << 20, leaders);
        assert_eq!(next[0].offset, 20);
        // A seek while a fetch is in flight makes its answer stale.
        assert!(pos.seek(&tp(0), 3, None));
        assert!(!pos.fetched(&next[0], 1, 30));
        assert_eq!(pos.fetchable(1, now, 1 << 20, leaders)[0].offset, 3);
    }

    #[test]
    fn position_moves_by_compare_and_swap() {
        let mut pos = Positions::new();
        pos.add([tp(0)], false, OffsetReset::Earliest);
        let (_, eras) = pos.to_initialize();
        pos.initialized(&tp(0), eras[&tp(0)], 5, None);
        let s = pos.get(&tp(0)).unwrap().clone();
        assert!(s.advance(5, 6, Some(2)));
        assert_eq!(s.position_with_epoch(), Some((6, Some(2))));
        assert_eq!(s.processed(), Some((5, None)));
        s.mark_processed();
        assert_eq!(s.processed(), Some((6, Some(2))));
        pos.seek(&tp(0), 100, None);
        assert!(!s.advance(6, 7, None), "the seek wins");
        assert_eq!(s.position(), Some(100));
        pos.remove(&[tp(0)]);
        assert!(!s.is_assigned());
    }

    #[test]
    fn paused_backoff_and_buffer_limits_hold_fetches() {
        let mut pos = Positions::new();
        pos.add([tp(0)], false, OffsetReset::Earliest);
        pos.seek(&tp(0), 0, None);
        let now = Instant::now();
        let leaders = |_: &TopicPartition| Some((1, 0));
        assert!(pos.set_paused(&[tp(0), tp(9)], true) == [tp(9)]);
        assert!(pos.fetchable(1, now, 100, leaders).is_empty());
        pos.set_paused(&[tp(0)], false);
        let t = pos.fetchable(1, now, 100, leaders);
        pos.release(&t[0], 1, Some(now + std::time::Duration::from_millis(10)));
        assert!(pos.fetchable(1, now, 100, leaders).is_empty());
        let later = now + std::time::Duration::from_millis(10);
        let t = pos.fetchable(1, later, 100, leaders);
        pos.release(&t[0], 1, None);
        t[0].shared.buffered.store(100, Ordering::Relaxed);
        assert!(pos.fetchable(1, later, 100, leaders).is_empty());
        assert!(
            pos.fetchable(2, later, 1000, leaders).is_empty(),
            "not the leader"
        );
    }
}
