//! Sans-IO incremental fetch sessions (KIP-227), one per broker.
//!
//! A full fetch lists every partition; the broker may answer with a session id, after which
//! each request (epoch 1, 2, ...) lists only partitions that are new or whose fetch state
//! changed, plus the ones to forget, and responses carry only partitions with something to
//! say. A broker may decline sessions by answering with id 0 (the companion broker always
//! does): every request is then full, asking for a new session each time, as Java's
//! `FetchSessionHandler` does.
//!
//! Partitions this consumer does not want right now (paused, buffer full, fetched elsewhere)
//! are forgotten rather than left in the session, or the broker would keep returning data
//! for them from a stale offset.

use std::collections::BTreeMap;

use kafka_protocol::{ErrorCode, Uuid};

use crate::record::TopicPartition;

/// What the broker's session holds for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionPartition {
    pub fetch_offset: i64,
    pub current_leader_epoch: i32,
    pub partition_max_bytes: i32,
    pub topic_id: Uuid,
}

/// One request's worth of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchPlan {
    pub session_id: i32,
    pub epoch: i32,
    /// Partitions to list in the request.
    pub send: Vec<(TopicPartition, SessionPartition)>,
    /// Partitions to drop from the session (incremental requests only).
    pub forget: Vec<(TopicPartition, Uuid)>,
    pub full: bool,
    /// Whether topics go by id (Fetch v13+) or by name.
    pub topic_ids: bool,
}

/// A broker's fetch session as this client sees it.
#[derive(Debug, Default)]
pub(crate) struct FetchSession {
    id: i32,
    /// The epoch of the next request (0: full request asking for a session).
    epoch: i32,
    partitions: BTreeMap<TopicPartition, SessionPartition>,
    topic_ids: bool,
    /// The request in flight may not be answered yet; its partitions become the session's
    /// only on success.
    pending: Option<BTreeMap<TopicPartition, SessionPartition>>,
}

impl FetchSession {
    pub fn new() -> Self {
        Self::default()
    }

    /// The session id (0: none).
    #[cfg(test)]
    pub fn id(&self) -> i32 {
        self.id
    }

    /// Plans the next request for `wanted` (every partition to fetch now, with its state).
    /// `topic_ids` says whether this request names topics by id.
    pub fn plan(
        &mut self,
        wanted: BTreeMap<TopicPartition, SessionPartition>,
        topic_ids: bool,
    ) -> FetchPlan {
        // Switching between names and ids mid-session is an error on the broker: start over.
        if topic_ids != self.topic_ids {
            self.reset();
            self.topic_ids = topic_ids;
        }
        let full = self.id == 0 || self.epoch == 0;
        let plan = if full {
            FetchPlan {
                session_id: 0,
                epoch: 0,
                send: wanted.iter().map(|(tp, p)| (tp.clone(), *p)).collect(),
                forget: Vec::new(),
                full: true,
                topic_ids,
            }
        } else {
            let send = wanted
                .iter()
                .filter(|(tp, p)| self.partitions.get(*tp) != Some(*p))
                .map(|(tp, p)| (tp.clone(), *p))
                .collect();
            let forget = self
                .partitions
                .iter()
                .filter(|(tp, _)| !wanted.contains_key(*tp))
                .map(|(tp, p)| (tp.clone(), p.topic_id))
                .collect();
            FetchPlan {
                session_id: self.id,
                epoch: self.epoch,
                send,
                forget,
                full: false,
                topic_ids,
            }
        };
        self.pending = Some(wanted);
        plan
    }

    /// The response's top-level error and session id.
    pub fn on_response(&mut self, plan: &FetchPlan, error: ErrorCode, session_id: i32) {
        let wanted = self.pending.take().unwrap_or_default();
        match error {
            ErrorCode::None => {
                if plan.full {
                    self.id = session_id;
                    self.epoch = if session_id == 0 { 0 } else { 1 };
                } else {
                    self.epoch = next_epoch(self.epoch);
                }
                self.partitions = if self.id == 0 {
                    BTreeMap::new()
                } else {
                    wanted
                };
            }
            _ => self.reset(),
        }
    }

    /// The request failed (connection lost, timeout): the broker's session state is unknown,
    /// so the next request is full.
    pub fn on_failure(&mut self) {
        self.pending = None;
        self.reset();
    }

    fn reset(&mut self) {
        self.id = 0;
        self.epoch = 0;
        self.partitions.clear();
    }
}

/// Epochs run 1..=i32::MAX and wrap to 1 (0 asks for a new session, -1 closes one).
fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX { 1 } else { epoch + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(offset: i64) -> SessionPartition {
        SessionPartition {
            fetch_offset: offset,
            current_leader_epoch: 0,
            partition_max_bytes: 100,
            topic_id: Uuid::ZERO,
        }
    }

    fn wanted(parts: &[(i32, i64)]) -> BTreeMap<TopicPartition, SessionPartition> {
        parts
            .iter()
            .map(|&(p, o)| (TopicPartition::new("t", p), sp(o)))
            .collect()
    }

    #[test]
    fn sessionless_brokers_get_full_requests_every_time() {
        let mut s = FetchSession::new();
        for _ in 0..3 {
            let plan = s.plan(wanted(&[(0, 5), (1, 7)]), false);
            assert!(plan.full);
            assert_eq!((plan.session_id, plan.epoch, plan.send.len()), (0, 0, 2));
            s.on_response(&plan, ErrorCode::None, 0);
        }
    }

    #[test]
    fn incremental_requests_send_changes_and_forget_the_rest() {
        let mut s = FetchSession::new();
        let plan = s.plan(wanted(&[(0, 5), (1, 7), (2, 9)]), true);
        s.on_response(&plan, ErrorCode::None, 42);
        assert_eq!(s.id(), 42);
        // 0 advanced, 1 unchanged, 2 not wanted now.
        let plan = s.plan(wanted(&[(0, 6), (1, 7)]), true);
        assert!(!plan.full);
        assert_eq!((plan.session_id, plan.epoch), (42, 1));
        assert_eq!(plan.send, [(TopicPartition::new("t", 0), sp(6))]);
        assert_eq!(plan.forget, [(TopicPartition::new("t", 2), Uuid::ZERO)]);
        s.on_response(&plan, ErrorCode::None, 42);
        let plan = s.plan(wanted(&[(0, 6), (1, 7), (2, 9)]), true);
        assert_eq!(plan.epoch, 2);
        assert_eq!(plan.send, [(TopicPartition::new("t", 2), sp(9))]);
        // The broker lost the session: back to a full request.
        s.on_response(&plan, ErrorCode::FetchSessionIdNotFound, 0);
        let plan = s.plan(wanted(&[(0, 6)]), true);
        assert!(plan.full && plan.session_id == 0 && plan.epoch == 0);
        s.on_response(&plan, ErrorCode::None, 43);
        let plan = s.plan(wanted(&[(0, 6)]), false);
        assert!(plan.full, "switching to names starts over");
        s.on_failure();
        assert_eq!(s.id(), 0);
        assert_eq!(next_epoch(i32::MAX), 1);
    }
}
