//! One partition's replication state, shared by every broker of the cluster: its replicas,
//! leader and leader epoch, in-sync replicas, high watermark, and what the leader knows of
//! each replica's progress.
//!
//! Kafka spreads this over the controller (assignment, leader, ISR), the leader's `Partition`
//! (high watermark, follower progress) and each follower. The brokers here live in one
//! process, so there is one copy, [`PartitionControl`], that the leader's request handlers,
//! the followers' replication tasks and the controller's elections all lock. Because every
//! replica sees the same high watermark, a new leader continues from the old one's without
//! the lag Kafka's followers have (they learn it from fetch responses).
//!
//! The replica list never changes after the partition is created (there are no
//! reassignments), so it sits outside the lock; everything else is behind it. Every change a
//! waiter may care about (high watermark, leader, ISR) bumps the partition's watch channel,
//! which acks=all produces and the wait-for hooks listen to.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use kafka_protocol::{ErrorCode, Uuid};
use parking_lot::{Mutex, MutexGuard};
use tokio::sync::watch;
use tokio::time::Instant;

/// What the leader knows of one replica.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Progress {
    /// The replica's log end offset.
    pub leo: i64,
    /// The last time the replica had everything the leader had.
    pub caught_up: Instant,
}

/// The mutable part of a partition's replication state.
#[derive(Debug)]
pub(crate) struct PartitionMeta {
    /// The leader's node id; -1 while no in-sync replica is alive (offline).
    pub leader: i32,
    /// Bumped on every leader change (and when the leader goes offline).
    pub leader_epoch: i32,
    /// In-sync replicas, in replica order. Never empty: when the last one stops it stays
    /// listed (Kafka does the same), so that it can lead again when it comes back.
    pub isr: Vec<i32>,
    /// The high watermark: every in-sync replica has the records below it.
    pub hw: i64,
    /// Each replica's log end offset and catch-up time, as the leader knows them.
    pub progress: HashMap<i32, Progress>,
    /// Replicas whose fetching a fault paused (`shrink_isr`, `pause_replica`) until the
    /// faults are cleared; they cannot rejoin the ISR meanwhile.
    pub frozen: BTreeSet<i32>,
}

/// What changed in a partition after an update.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Changed {
    /// The high watermark moved (fetches parked on the leader should be woken).
    pub hw: bool,
    /// The ISR changed (the controller's metadata changed).
    pub isr: bool,
}

impl Changed {
    pub fn any(self) -> bool {
        self.hw || self.isr
    }
}

impl PartitionMeta {
    /// Recomputes the high watermark: the smallest log end offset over the ISR, never
    /// moving back. Returns whether it moved.
    pub fn recompute_hw(&mut self) -> bool {
        let min = self
            .isr
            .iter()
            .map(|n| self.progress.get(n).map_or(self.hw, |p| p.leo))
            .min()
            .unwrap_or(self.hw);
        if min > self.hw {
            self.hw = min;
            true
        } else {
            false
        }
    }

    /// The leader appended up to `leo`.
    pub fn leader_appended(&mut self, leo: i64, now: Instant) -> bool {
        let leader = self.leader;
        self.progress.insert(
            leader,
            Progress {
                leo,
                caught_up: now,
            },
        );
        self.recompute_hw()
    }

    /// A follower fetched: its log now ends at `leo`, and `caught_up` says whether that is
    /// everything the leader had. A follower out of the ISR rejoins once it has everything
    /// below the high watermark (Kafka's `isFollowerInSync` for an expansion).
    pub fn follower_fetched(
        &mut self,
        replicas: &[i32],
        node: i32,
        leo: i64,
        caught_up: bool,
        now: Instant,
    ) -> Changed {
        let previous = self.progress.get(&node).map(|p| p.caught_up);
        let caught_up_at = if caught_up {
            now
        } else {
            previous.unwrap_or(now)
        };
        self.progress.insert(
            node,
            Progress {
                leo,
                caught_up: caught_up_at,
            },
        );
        let mut changed = Changed::default();
        if !self.isr.contains(&node) && !self.frozen.contains(&node) && leo >= self.hw {
            self.isr.push(node);
            sort_like(&mut self.isr, replicas);
            changed.isr = true;
            tracing::debug!(node, leo, hw = self.hw, "replica rejoins the ISR");
        }
        changed.hw = self.recompute_hw();
        changed
    }

    /// Removes `nodes` from the ISR, keeping at least one member. Returns whether it changed.
    pub fn shrink(&mut self, nodes: &[i32]) -> bool {
        let before = self.isr.len();
        let kept: Vec<i32> = self
            .isr
            .iter()
            .copied()
            .filter(|n| !nodes.contains(n))
            .collect();
        if kept.is_empty() {
            // The last member stays (see `isr`).
            let last = self.isr.iter().copied().find(|n| !nodes.contains(n));
            self.isr = last.map_or_else(|| self.isr[..1].to_vec(), |n| vec![n]);
        } else {
            self.isr = kept;
        }
        self.isr.len() != before
    }

    /// Makes `leader` the leader (-1: none) with the next epoch. `leo` is the new leader's
    /// log end offset; what the leader knows of the others is capped at it, since a
    /// follower ahead of its new leader will truncate.
    pub fn elect(&mut self, leader: i32, leo: Option<i64>, now: Instant) {
        self.leader = leader;
        self.leader_epoch = self.leader_epoch.saturating_add(1);
        if leader >= 0 {
            let leo = leo.unwrap_or(self.hw).max(self.hw);
            self.progress.insert(
                leader,
                Progress {
                    leo,
                    caught_up: now,
                },
            );
            for (n, p) in &mut self.progress {
                if *n != leader {
                    p.leo = p.leo.min(leo);
                    // Followers get a full lag period to reach the new leader.
                    p.caught_up = now;
                }
            }
        }
    }
}

/// Orders `nodes` as they appear in `replicas`.
pub(crate) fn sort_like(nodes: &mut [i32], replicas: &[i32]) {
    nodes.sort_by_key(|n| replicas.iter().position(|r| r == n).unwrap_or(usize::MAX));
}

/// One partition's replication state (see the module docs).
#[derive(Debug)]
pub(crate) struct PartitionControl {
    /// The topic's name.
    pub topic: String,
    /// The topic's id (a re-created topic of the same name has new controls).
    pub topic_id: Uuid,
    /// The partition index.
    pub index: i32,
    /// The replicas, preferred leader first. Fixed at creation.
    pub replicas: Vec<i32>,
    meta: Mutex<PartitionMeta>,
    changed: watch::Sender<u64>,
}

impl PartitionControl {
    pub fn new(
        topic: &str,
        topic_id: Uuid,
        index: i32,
        replicas: Vec<i32>,
        meta: PartitionMeta,
    ) -> Self {
        Self {
            topic: topic.to_string(),
            topic_id,
            index,
            replicas,
            meta: Mutex::new(meta),
            changed: watch::channel(0).0,
        }
    }

    /// A new partition led by its first replica at epoch 0, every replica in sync.
    pub fn fresh(topic: &str, topic_id: Uuid, index: i32, replicas: Vec<i32>) -> Self {
        let now = Instant::now();
        let progress = replicas
            .iter()
            .map(|&n| {
                (
                    n,
                    Progress {
                        leo: 0,
                        caught_up: now,
                    },
                )
            })
            .collect();
        let meta = PartitionMeta {
            leader: replicas.first().copied().unwrap_or(-1),
            leader_epoch: 0,
            isr: replicas.clone(),
            hw: 0,
            progress,
            frozen: BTreeSet::new(),
        };
        Self::new(topic, topic_id, index, replicas, meta)
    }

    /// Locks the mutable state (see the lock order in `cluster`).
    pub fn lock(&self) -> MutexGuard<'_, PartitionMeta> {
        self.meta.lock()
    }

    /// Tells waiters something changed (call without the lock held).
    pub fn notify(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// A receiver that sees every later [`notify`](Self::notify).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// A snapshot of the state.
    pub fn info(&self) -> PartitionInfo {
        let m = self.lock();
        PartitionInfo {
            topic: self.topic.clone(),
            partition: self.index,
            leader: (m.leader >= 0).then_some(m.leader),
            leader_epoch: m.leader_epoch,
            replicas: self.replicas.clone(),
            isr: m.isr.clone(),
            high_watermark: m.hw,
            log_end_offsets: m.progress.iter().map(|(n, p)| (*n, p.leo)).collect(),
        }
    }

    /// The leader and its epoch, if `node` is the leader; else the error a request to
    /// `node` gets.
    pub fn led_by(&self, node: i32) -> Result<(i32, i64), ErrorCode> {
        let m = self.lock();
        if m.leader == node {
            Ok((m.leader_epoch, m.hw))
        } else {
            Err(ErrorCode::NotLeaderOrFollower)
        }
    }

    /// Waits until the records below `required` are on every in-sync replica, as Kafka's
    /// `DelayedProduce` does for acks=all: NONE once the high watermark reaches it (or
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND if by then the ISR is smaller than `min_isr`),
    /// NOT_LEADER_OR_FOLLOWER if `node` stops leading at `epoch` meanwhile, and
    /// REQUEST_TIMED_OUT at `deadline`.
    pub async fn wait_committed(
        &self,
        node: i32,
        epoch: i32,
        required: i64,
        min_isr: usize,
        deadline: Instant,
    ) -> Result<(), ErrorCode> {
        let mut rx = self.subscribe();
        loop {
            rx.borrow_and_update();
            {
                let m = self.lock();
                if m.leader != node || m.leader_epoch != epoch {
                    return Err(ErrorCode::NotLeaderOrFollower);
                }
                if m.hw >= required {
                    return if m.isr.len() < min_isr {
                        Err(ErrorCode::NotEnoughReplicasAfterAppend)
                    } else {
                        Ok(())
                    };
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(ErrorCode::NotLeaderOrFollower),
                Err(_) => return Err(ErrorCode::RequestTimedOut),
            }
        }
    }
}

/// A partition's replication state at one moment: what the cluster handle, the HTTP control
/// endpoint and the wait-for hooks report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionInfo {
    /// The topic.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
    /// The leader's node id; `None` while the partition is offline.
    pub leader: Option<i32>,
    /// The leader epoch.
    pub leader_epoch: i32,
    /// The replicas, preferred leader first.
    pub replicas: Vec<i32>,
    /// The in-sync replicas.
    pub isr: Vec<i32>,
    /// The high watermark: what consumers can read, and what acks=all has acknowledged.
    pub high_watermark: i64,
    /// Each replica's log end offset as the leader last saw it.
    pub log_end_offsets: BTreeMap<i32, i64>,
}

/// A wait-for hook on partition state gave up.
#[derive(Debug, thiserror::Error)]
#[error("{topic}-{partition} did not reach {wanted} within {timeout:?} (last seen: {last:?})")]
pub struct PartitionWaitTimeout {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// What was waited for.
    pub wanted: String,
    /// How long the wait lasted.
    pub timeout: Duration,
    /// The partition's last state, if it exists.
    pub last: Option<PartitionInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control() -> PartitionControl {
        PartitionControl::fresh("t", Uuid::ZERO, 0, vec![0, 1, 2])
    }

    #[test]
    fn high_watermark_is_the_smallest_isr_log_end() {
        let pc = control();
        let now = Instant::now();
        let mut m = pc.lock();
        assert!(!m.leader_appended(10, now));
        assert!(!m.follower_fetched(&pc.replicas, 1, 10, true, now).hw);
        assert!(m.follower_fetched(&pc.replicas, 2, 7, false, now).hw);
        assert_eq!(m.hw, 7);
        // Dropping the laggard lets it advance; it never moves back.
        assert!(m.shrink(&[2]));
        assert!(m.recompute_hw());
        assert_eq!(m.hw, 10);
        // Back in the ISR once it reaches the high watermark.
        let c = m.follower_fetched(&pc.replicas, 2, 9, false, now);
        assert!(!c.isr);
        let c = m.follower_fetched(&pc.replicas, 2, 10, true, now);
        assert!(c.isr);
        assert_eq!(m.isr, vec![0, 1, 2]);
        // The last member stays listed.
        m.shrink(&[0, 1, 2]);
        assert_eq!(m.isr.len(), 1);
        // An election bumps the epoch and caps what is known of the others.
        m.elect(1, Some(12), now);
        assert_eq!((m.leader, m.leader_epoch), (1, 1));
        assert_eq!((m.progress[&1].leo, m.progress[&2].leo), (12, 10));
    }

    #[tokio::test]
    async fn acks_all_waits_for_the_isr() {
        let pc = std::sync::Arc::new(control());
        let far = Instant::now() + Duration::from_secs(10);
        {
            let mut m = pc.lock();
            m.leader_appended(5, Instant::now());
        }
        // Committed once both followers have it.
        let waiter = {
            let pc = std::sync::Arc::clone(&pc);
            tokio::spawn(async move { pc.wait_committed(0, 0, 5, 2, far).await })
        };
        for f in [1, 2] {
            tokio::task::yield_now().await;
            let c = pc
                .lock()
                .follower_fetched(&[0, 1, 2], f, 5, true, Instant::now());
            if c.any() {
                pc.notify();
            }
        }
        assert_eq!(waiter.await.unwrap(), Ok(()));
        // The ISR shrinks below min.insync.replicas while waiting: the append stays, the
        // answer says so.
        pc.lock().leader_appended(9, Instant::now());
        let waiter = {
            let pc = std::sync::Arc::clone(&pc);
            tokio::spawn(async move { pc.wait_committed(0, 0, 9, 3, far).await })
        };
        tokio::task::yield_now().await;
        {
            let mut m = pc.lock();
            m.shrink(&[1, 2]);
            m.recompute_hw();
        }
        pc.notify();
        assert_eq!(
            waiter.await.unwrap(),
            Err(ErrorCode::NotEnoughReplicasAfterAppend)
        );
        // Leadership moves while waiting.
        {
            let mut m = pc.lock();
            m.isr = vec![0, 1];
            m.leader_appended(12, Instant::now());
        }
        let waiter = {
            let pc = std::sync::Arc::clone(&pc);
            tokio::spawn(async move { pc.wait_committed(0, 0, 12, 1, far).await })
        };
        tokio::task::yield_now().await;
        pc.lock().elect(1, Some(11), Instant::now());
        pc.notify();
        assert_eq!(waiter.await.unwrap(), Err(ErrorCode::NotLeaderOrFollower));
        // And times out.
        let soon = Instant::now() + Duration::from_millis(20);
        assert_eq!(
            pc.wait_committed(1, 1, 100, 1, soon).await,
            Err(ErrorCode::RequestTimedOut)
        );
    }
}
