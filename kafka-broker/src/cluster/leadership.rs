//! Liveness and leadership: stopping and starting brokers (leaving the ISRs, elections),
//! and the fault-driven partition changes (moving a leader, shrinking an ISR, pausing a
//! follower, clearing the faults).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::time::Instant;

use super::ClusterController;
use super::partition::{PartitionControl, PartitionInfo};

impl ClusterController {
    // ---- Liveness and leadership ----

    /// Marks broker `id` stopped: it leaves every ISR (the last member stays listed), and
    /// every partition it led gets a new leader from the rest of the ISR, or none.
    pub(crate) fn stop_node(&self, id: i32) {
        let _admin = self.admin.lock();
        let Some(slot) = self.slot(id) else { return };
        slot.life.send_modify(|l| {
            l.alive = false;
            l.incarnation += 1;
        });
        for pc in self.all_partitions() {
            if !pc.replicas.contains(&id) {
                continue;
            }
            let leos = self.live_leos(&pc, Some(id));
            let metadata = {
                let mut m = pc.lock();
                let isr_changed = m.shrink(&[id]);
                let was_leader = m.leader == id;
                if was_leader {
                    let next = pc
                        .replicas
                        .iter()
                        .copied()
                        .find(|&n| n != id && m.isr.contains(&n) && self.is_alive(n));
                    let leo = next.and_then(|n| leos.get(&n).copied());
                    m.elect(next.unwrap_or(-1), leo, Instant::now());
                    tracing::info!(topic = %pc.topic, partition = pc.index, from = id, to = m.leader, epoch = m.leader_epoch, "leader moved: broker stopped");
                }
                m.recompute_hw();
                isr_changed || was_leader
            };
            self.after_change(&pc, metadata);
        }
        self.bump();
    }

    /// Marks broker `id` started: partitions left without a leader whose ISR lists it get
    /// it as leader. Its replicas' follower tasks are started by the caller.
    pub(crate) fn start_node(self: &Arc<Self>, id: i32) {
        let _admin = self.admin.lock();
        let Some(slot) = self.slot(id) else { return };
        slot.life.send_modify(|l| {
            l.alive = true;
            l.incarnation += 1;
        });
        for pc in self.all_partitions() {
            if !pc.replicas.contains(&id) {
                continue;
            }
            let leo = self.replica_leo(id, &pc);
            let elected = {
                let mut m = pc.lock();
                if m.leader < 0 && m.isr.contains(&id) {
                    m.elect(id, leo, Instant::now());
                    tracing::info!(topic = %pc.topic, partition = pc.index, leader = id, epoch = m.leader_epoch, "offline partition has a leader again");
                    true
                } else {
                    false
                }
            };
            self.after_change(&pc, elected);
        }
        self.bump();
        self.spawn_node_replicas(id);
    }

    /// The log end offsets of the live replicas of `pc` other than `except`.
    fn live_leos(&self, pc: &PartitionControl, except: Option<i32>) -> HashMap<i32, i64> {
        pc.replicas
            .iter()
            .copied()
            .filter(|&n| Some(n) != except && self.is_alive(n))
            .filter_map(|n| self.replica_leo(n, pc).map(|leo| (n, leo)))
            .collect()
    }

    /// Moves a partition's leadership to `to` (by default the next in-sync replica after the
    /// current leader), with the next leader epoch. `to` must be a live in-sync replica.
    pub(crate) fn move_leader(
        &self,
        topic: &str,
        index: i32,
        to: Option<i32>,
    ) -> Result<PartitionInfo, String> {
        let _admin = self.admin.lock();
        let pc = self
            .partition(topic, index)
            .ok_or_else(|| format!("no partition {topic}-{index}"))?;
        let leos = self.live_leos(&pc, None);
        {
            let mut m = pc.lock();
            let target = match to {
                Some(t) => t,
                None => {
                    let pos = m.isr.iter().position(|&n| n == m.leader).unwrap_or(0);
                    let live: Vec<i32> = (1..=m.isr.len())
                        .map(|k| m.isr[(pos + k) % m.isr.len()])
                        .filter(|&n| self.is_alive(n))
                        .collect();
                    *live.first().ok_or("no live in-sync replica to move to")?
                }
            };
            if !pc.replicas.contains(&target) {
                return Err(format!("broker {target} has no replica of {topic}-{index}"));
            }
            if !self.is_alive(target) {
                return Err(format!("broker {target} is stopped"));
            }
            if !m.isr.contains(&target) {
                return Err(format!(
                    "broker {target} is not in the ISR {:?} of {topic}-{index}",
                    m.isr
                ));
            }
            let from = m.leader;
            m.elect(target, leos.get(&target).copied(), Instant::now());
            m.recompute_hw();
            tracing::info!(
                topic,
                partition = index,
                from,
                to = target,
                epoch = m.leader_epoch,
                "leader moved by a fault"
            );
        }
        self.after_change(&pc, true);
        Ok(pc.info())
    }

    /// Removes `remove` (followers) from a partition's ISR and pauses their fetching for
    /// this partition until the faults are cleared.
    pub(crate) fn shrink_isr(
        &self,
        topic: &str,
        index: i32,
        remove: &[i32],
    ) -> Result<PartitionInfo, String> {
        let _admin = self.admin.lock();
        let pc = self
            .partition(topic, index)
            .ok_or_else(|| format!("no partition {topic}-{index}"))?;
        {
            let mut m = pc.lock();
            if remove.contains(&m.leader) {
                return Err(format!(
                    "broker {} leads {topic}-{index}: move the leader first",
                    m.leader
                ));
            }
            if let Some(n) = remove.iter().find(|n| !pc.replicas.contains(n)) {
                return Err(format!("broker {n} has no replica of {topic}-{index}"));
            }
            m.frozen.extend(remove.iter().copied());
            m.shrink(remove);
            m.recompute_hw();
        }
        self.after_change(&pc, true);
        Ok(pc.info())
    }

    /// Stops a follower's fetching for this partition (a stuck follower) without touching
    /// the ISR: it leaves the ISR once it lags past `replica.lag.time.max.ms`, and catches up
    /// and rejoins after the faults are cleared.
    pub(crate) fn pause_replica(
        &self,
        topic: &str,
        index: i32,
        node: i32,
    ) -> Result<PartitionInfo, String> {
        let pc = self
            .partition(topic, index)
            .ok_or_else(|| format!("no partition {topic}-{index}"))?;
        {
            let mut m = pc.lock();
            if m.leader == node {
                return Err(format!(
                    "broker {node} leads {topic}-{index}: move the leader first"
                ));
            }
            if !pc.replicas.contains(&node) {
                return Err(format!("broker {node} has no replica of {topic}-{index}"));
            }
            m.frozen.insert(node);
        }
        pc.notify();
        Ok(pc.info())
    }

    /// Clears every fault: injected errors, latencies, frozen replicas.
    pub(crate) fn clear_faults(&self) {
        self.faults.clear();
        for pc in self.all_partitions() {
            let thawed = {
                let mut m = pc.lock();
                let any = !m.frozen.is_empty();
                m.frozen.clear();
                any
            };
            if thawed {
                pc.notify();
            }
        }
    }
}
