//! Replication: one task per replica that copies the leader's log while the replica is a
//! follower, and the ticker that drops lagging followers from the ISR.
//!
//! A follower task loops:
//! 1. If its broker stopped (or restarted: a new incarnation has its own task) or the topic
//!    is gone, it ends. If its replica leads, has no live leader to follow, or is frozen by
//!    a `shrink_isr` fault, it waits for the partition to change.
//! 2. On a new leader or epoch, it truncates its log where it diverges from the leader's:
//!    walking back from its end, batch by batch, until its last batch is byte-for-byte the
//!    leader's batch at the same offset (same offsets, leader epoch and CRC), the effect of
//!    Kafka's leader-epoch truncation (KIP-101/279). A log that ends before the leader's log
//!    start restarts empty at it. The producer state is rebuilt from what is left.
//! 3. It parks on the leader's replica (so the next append wakes it), reads whole batches
//!    from its log end (at most `FETCH_BYTES`), and under the partition lock, if the
//!    leadership is unchanged, appends them with `append_replicated`, feeds their headers to
//!    its producer state, follows the leader's log start (DeleteRecords), and reports its
//!    log end: the high watermark moves, and an out-of-sync follower that reached it rejoins
//!    the ISR.
//! 4. With nothing more to read it waits for the leader's next append, a change of the
//!    partition, or `REFRESH` (a caught-up follower re-reports so the ISR ticker sees it
//!    caught up, as Kafka's followers keep fetching).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::records::BatchHeader;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::partition::PartitionControl;
use super::{ClusterController, NodeLife};
use crate::log::LogError;
use crate::state::{Partition, now_ms};

/// Most bytes a follower copies at a time (Kafka's `replica.fetch.max.bytes`, 1 MiB).
const FETCH_BYTES: usize = 1 << 20;

/// The longest a caught-up follower waits before re-reporting.
const REFRESH: Duration = Duration::from_millis(250);

impl ClusterController {
    /// Starts the follower tasks of a new partition's replicas on live brokers.
    pub(crate) fn spawn_replicas(self: &Arc<Self>, pc: &Arc<PartitionControl>) {
        if !self.is_multi() {
            return;
        }
        for &node in &pc.replicas {
            if self.is_alive(node) {
                self.spawn_follower(node, pc);
            }
        }
    }

    /// Starts the follower tasks of every replica on broker `node` (at startup or restart).
    pub(crate) fn spawn_node_replicas(self: &Arc<Self>, node: i32) {
        if !self.is_multi() {
            return;
        }
        for pc in self.all_partitions() {
            if pc.replicas.contains(&node) {
                self.spawn_follower(node, &pc);
            }
        }
    }

    fn spawn_follower(self: &Arc<Self>, node: i32, pc: &Arc<PartitionControl>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some(life) = self.life(node) else { return };
        let incarnation = life.borrow().incarnation;
        rt.spawn(follow(
            Arc::clone(self),
            node,
            Arc::clone(pc),
            life,
            incarnation,
        ));
    }

    /// Drops followers that have not caught up within the lag limit from the ISR, every
    /// half limit, until `stop` says so.
    pub(crate) async fn isr_ticker(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let lag = self.settings.replica_lag_time_max;
        let every = (lag / 2).max(Duration::from_millis(10));
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = crate::server::stopped(&mut stop) => return,
                _ = ticker.tick() => {}
            }
            let now = Instant::now();
            for pc in self.all_partitions() {
                let shrunk = {
                    let mut m = pc.lock();
                    if m.leader < 0 {
                        continue;
                    }
                    let leader = m.leader;
                    let lagging: Vec<i32> = m
                        .isr
                        .iter()
                        .copied()
                        .filter(|&n| n != leader)
                        .filter(|n| {
                            m.progress
                                .get(n)
                                .is_none_or(|p| now.duration_since(p.caught_up) > lag)
                        })
                        .collect();
                    if lagging.is_empty() {
                        continue;
                    }
                    tracing::info!(topic = %pc.topic, partition = pc.index, ?lagging, lag_ms = lag.as_millis(), "followers fell behind: shrinking the ISR");
                    m.shrink(&lagging);
                    m.recompute_hw();
                    true
                };
                self.after_change(&pc, shrunk);
            }
        }
    }
}

/// Whether the task's broker run is still the current one.
fn current(life: &tokio::sync::watch::Receiver<NodeLife>, incarnation: u64) -> bool {
    let l = *life.borrow();
    l.alive && l.incarnation == incarnation
}

/// The follower task of the replica of `pc` on `node` (see the module docs).
async fn follow(
    ctl: Arc<ClusterController>,
    node: i32,
    pc: Arc<PartitionControl>,
    mut life: tokio::sync::watch::Receiver<NodeLife>,
    incarnation: u64,
) {
    let mut changes = pc.subscribe();
    let wake = Arc::new(Notify::new());
    let refresh = REFRESH
        .min(ctl.settings.replica_lag_time_max / 4)
        .max(Duration::from_millis(5));
    // The (leader, epoch) this replica last checked its log against.
    let mut synced: Option<(i32, i32)> = None;
    loop {
        if !current(&life, incarnation) {
            return;
        }
        match ctl.partition(&pc.topic, pc.index) {
            Some(p) if Arc::ptr_eq(&p, &pc) => {}
            // The topic was deleted (or re-created: a new task follows the new one).
            _ => return,
        }
        changes.borrow_and_update();
        let (leader, epoch, frozen) = {
            let m = pc.lock();
            (m.leader, m.leader_epoch, m.frozen.contains(&node))
        };
        let mine = ctl.replica(node, &pc);
        let theirs = (leader >= 0 && leader != node && ctl.is_alive(leader))
            .then(|| ctl.replica(leader, &pc))
            .flatten();
        let (Some(mine), Some(theirs), false) = (mine, theirs, frozen) else {
            if leader == node {
                // Leading: when this changes, check the log against the next leader.
                synced = None;
            }
            tokio::select! {
                _ = changes.changed() => {}
                _ = life.changed() => {}
                () = tokio::time::sleep(refresh) => {}
            }
            continue;
        };
        if synced != Some((leader, epoch)) {
            if !reconcile(&pc, node, leader, epoch, &mine, &theirs) {
                continue;
            }
            synced = Some((leader, epoch));
        }
        theirs.park(&wake);
        match copy_once(&ctl, &pc, node, leader, epoch, &mine, &theirs) {
            Step::More => continue,
            Step::Resync => {
                synced = None;
                // Not at once: a disagreement that truncation cannot fix must not spin.
                tokio::time::sleep(refresh / 5).await;
                continue;
            }
            Step::Wait => {}
        }
        tokio::select! {
            () = wake.notified() => {}
            _ = changes.changed() => {}
            _ = life.changed() => {}
            () = tokio::time::sleep(refresh) => {}
        }
    }
}

/// What to do after one copy.
enum Step {
    /// More may be waiting: copy again at once.
    More,
    /// Caught up: wait for the leader.
    Wait,
    /// The logs disagree: check them against each other again.
    Resync,
}

/// One read from the leader and append to the follower (see the module docs).
fn copy_once(
    ctl: &ClusterController,
    pc: &PartitionControl,
    node: i32,
    leader: i32,
    epoch: i32,
    mine: &Partition,
    theirs: &Partition,
) -> Step {
    let Some(my_end) = mine.log().map(|l| l.log_end_offset()) else {
        return Step::Wait;
    };
    let read = {
        let Some(log) = theirs.log() else {
            return Step::Wait;
        };
        let (start, end) = (log.log_start_offset(), log.log_end_offset());
        if my_end > end {
            return Step::Resync;
        }
        // The leader's first batch may start before its log start (DeleteRecords inside a
        // batch): a follower starts from that batch.
        let first = if my_end < start {
            log.read(start, 1, end)
                .ok()
                .and_then(|r| BatchHeader::parse(&r.records).ok())
                .map_or(start, |h| h.base_offset.min(start))
        } else {
            my_end
        };
        if my_end < first {
            Err(first)
        } else if my_end == end {
            Ok((Bytes::new(), start, end))
        } else {
            match log.read(my_end.max(start), FETCH_BYTES, end) {
                Ok(r) => Ok((r.records, start, end)),
                Err(LogError::OffsetOutOfRange { .. }) => return Step::Resync,
                Err(e) => {
                    tracing::warn!(topic = %pc.topic, partition = pc.index, node, error = %e, "reading the leader's log failed");
                    return Step::Wait;
                }
            }
        }
    };
    let now = Instant::now();
    let (changed, new_end, leader_end) = {
        let mut m = pc.lock();
        if (m.leader, m.leader_epoch) != (leader, epoch) {
            return Step::More;
        }
        let Some(mut log) = mine.log() else {
            return Step::Wait;
        };
        let (records, leader_start, leader_end) = match read {
            Ok(r) => r,
            Err(leader_start) => {
                // Behind the leader's log start: start over there.
                if let Err(e) = log.truncate_fully_and_start_at(leader_start) {
                    tracing::warn!(topic = %pc.topic, partition = pc.index, node, error = %e, "restarting the follower log failed");
                    return Step::Wait;
                }
                mine.producers().rebuild(&*log, now_ms());
                return Step::More;
            }
        };
        if !records.is_empty() {
            if let Err(e) = log.append_replicated(&records) {
                tracing::warn!(topic = %pc.topic, partition = pc.index, node, error = %e, "appending replicated batches failed");
                return Step::Resync;
            }
            mine.producers().replay_batches(&records);
        }
        let new_end = log.log_end_offset();
        if leader_start > log.log_start_offset() {
            let _ = log.delete_records_before(leader_start.min(new_end));
        }
        drop(log);
        let changed = m.follower_fetched(&pc.replicas, node, new_end, new_end >= leader_end, now);
        (changed, new_end, leader_end)
    };
    if changed.any() {
        ctl.after_change(pc, changed.isr);
    }
    if new_end < leader_end {
        Step::More
    } else {
        Step::Wait
    }
}

/// Truncates the follower's log where it diverges from the leader's (see the module docs),
/// under the partition lock so leadership cannot change meanwhile. Returns false if it did
/// (the caller starts over).
fn reconcile(
    pc: &PartitionControl,
    node: i32,
    leader: i32,
    epoch: i32,
    mine: &Partition,
    theirs: &Partition,
) -> bool {
    let m = pc.lock();
    if (m.leader, m.leader_epoch) != (leader, epoch) {
        return false;
    }
    let Some(mut log) = mine.log() else {
        return false;
    };
    let before = log.log_end_offset();
    let end = match theirs.log() {
        Some(leader) => agreeing_end(&*log, &*leader),
        None => return false,
    };
    if end < before {
        tracing::info!(topic = %pc.topic, partition = pc.index, node, leader, epoch, from = before, to = end, "follower truncates to where it agrees with the leader");
        if let Err(e) = log.truncate_to(end) {
            tracing::warn!(topic = %pc.topic, partition = pc.index, node, error = %e, "truncating the follower log failed");
            return false;
        }
        mine.producers().rebuild(&*log, now_ms());
    }
    true
}

/// Where the follower's log `mine` stops agreeing with the leader's `theirs`: walking back
/// from its end, the end of the first batch of `mine` that `theirs` holds byte for byte at
/// the same offset (the log start if none does).
fn agreeing_end(mine: &dyn crate::log::Log, theirs: &dyn crate::log::Log) -> i64 {
    let start = mine.log_start_offset();
    let mut end = mine.log_end_offset();
    while end > start {
        let last = last_batch(mine, end);
        let same = last.as_ref().is_some_and(|(header, bytes)| {
            header.base_offset >= theirs.log_start_offset()
                && header.base_offset < theirs.log_end_offset()
                && theirs
                    .read(header.base_offset, 1, theirs.log_end_offset())
                    .ok()
                    .is_some_and(|r| r.records.get(..bytes.len()) == Some(&bytes[..]))
        });
        if same {
            break;
        }
        end = last.map_or(start, |(h, _)| h.base_offset.max(start));
    }
    end
}

/// The header and bytes of the batch holding offset `end - 1`.
fn last_batch(log: &dyn crate::log::Log, end: i64) -> Option<(BatchHeader, Bytes)> {
    let r = log.read(end - 1, 1, end).ok()?;
    let header = BatchHeader::parse(&r.records).ok()?;
    let size = header.total_size()?;
    Some((header, r.records.slice(..size.min(r.records.len()))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{Log, LogConfig, MemoryLog};
    use kafka_protocol::records::{BatchOptions, RecordBatchBuilder};

    fn batch(n: usize, tag: &str) -> Bytes {
        let mut b = RecordBatchBuilder::new(BatchOptions::default());
        for i in 0..n {
            b.append(
                1_000,
                Some(tag.as_bytes()),
                Some(format!("{tag}{i}").as_bytes()),
                &[],
            )
            .unwrap();
        }
        b.build().unwrap()
    }

    #[test]
    fn followers_truncate_to_where_they_agree_with_the_leader() {
        let mut leader = MemoryLog::new(LogConfig::default());
        let mut follower = MemoryLog::new(LogConfig::default());
        // Both have epoch 0's first two batches.
        for b in [batch(2, "a"), batch(3, "b")] {
            leader.append(&b, 0, None).unwrap();
        }
        let shared = leader.read(0, usize::MAX, 5).unwrap().records;
        follower.append_replicated(&shared).unwrap();
        assert_eq!(agreeing_end(&follower, &leader), 5);
        // The old leader (now follower) appended at epoch 0 what nobody copied; the new
        // leader appended other records at epoch 1 at the same offsets.
        follower.append(&batch(4, "lost"), 0, None).unwrap();
        leader.append(&batch(2, "new"), 1, None).unwrap();
        leader.append(&batch(3, "newer"), 1, None).unwrap();
        assert_eq!(agreeing_end(&follower, &leader), 5);
        // A follower that is simply behind agrees up to its end.
        let mut behind = MemoryLog::new(LogConfig::default());
        behind
            .append_replicated(&leader.read(0, 1, 2).unwrap().records)
            .unwrap();
        assert_eq!(agreeing_end(&behind, &leader), 2);
        // Nothing in common: back to the start.
        let mut other = MemoryLog::new(LogConfig::default());
        other.append(&batch(2, "x"), 7, None).unwrap();
        assert_eq!(agreeing_end(&other, &leader), 0);
        // An empty leader: everything goes.
        assert_eq!(
            agreeing_end(&follower, &MemoryLog::new(LogConfig::default())),
            0
        );
    }
}
