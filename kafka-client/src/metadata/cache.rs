//! The metadata cache, sans-IO: what the client believes about the cluster, when that belief
//! is too old, and how Metadata responses and leader hints update it.
//!
//! It never sends anything. The client asks [`MetadataCache::next_refresh_at`] when to refresh,
//! sends the Metadata request itself, and feeds the response to [`MetadataCache::update`]
//! with `now`; tests do the same with a hand-driven clock.
//!
//! Two rules keep it from going backwards:
//! - a partition's leader epoch never decreases: a response from a broker that has not yet
//!   heard of a leader change keeps the newer cached partition (as the Java client does);
//! - an update request made while a refresh is in flight survives that refresh's response
//!   (the response may predate whatever made the caller suspicious).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kafka_protocol::messages::metadata_response::MetadataResponse;
use kafka_protocol::{ErrorCode, Uuid};

use super::cluster::{BrokerInfo, Cluster, PartitionMetadata, TopicMetadata};
use super::is_stale_metadata_error;
use crate::backoff::ExponentialBackoff;

/// Which topics a Metadata request asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TopicSelection {
    /// Every topic in the cluster.
    All,
    /// These topics (empty: brokers and controller only).
    Topics(Vec<String>),
}

impl TopicSelection {
    /// Brokers and controller only.
    pub fn none() -> Self {
        TopicSelection::Topics(Vec::new())
    }

    /// These topics.
    pub fn topics<I, S>(topics: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        TopicSelection::Topics(topics.into_iter().map(Into::into).collect())
    }
}

/// Marks the moment a refresh started, so that its response does not clear update requests
/// made after it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshTicket(u64);

/// The metadata cache.
#[derive(Debug)]
pub struct MetadataCache {
    cluster: Arc<Cluster>,
    max_age: Duration,
    backoff: ExponentialBackoff,
    last_refresh: Option<Instant>,
    failures: u32,
    retry_at: Option<Instant>,
    /// Counts update requests; a refresh clears those counted before it started.
    requests: u64,
    satisfied: u64,
    interest: BTreeSet<String>,
    generation: u64,
    /// Counts every change of the snapshot (refreshes, leader hints, forgotten topics); read
    /// without the cache's lock through [`MetadataCache::version`], so a reader can keep
    /// what it derived from a snapshot until this moves.
    version: Arc<AtomicU64>,
    /// Consecutive responses that were themselves stale (no leader yet, say): their follow-up
    /// refreshes back off, so an offline partition is not polled ten times a second forever.
    stale_streak: u32,
}

impl MetadataCache {
    /// An empty cache: refreshed at least every `max_age` (`metadata.max.age.ms`), and after
    /// a failed refresh or an update request no sooner than `backoff` allows
    /// (`retry.backoff.ms` .. `retry.backoff.max.ms`).
    pub fn new(max_age: Duration, backoff: ExponentialBackoff) -> Self {
        Self {
            cluster: Arc::new(Cluster::default()),
            max_age,
            backoff,
            last_refresh: None,
            failures: 0,
            retry_at: None,
            requests: 0,
            satisfied: 0,
            interest: BTreeSet::new(),
            generation: 0,
            version: Arc::new(AtomicU64::new(0)),
            stale_streak: 0,
        }
    }

    /// The snapshot's version counter, shared: it moves (after the change) whenever
    /// [`cluster`](Self::cluster) would return a different snapshot.
    pub fn version(&self) -> Arc<AtomicU64> {
        self.version.clone()
    }

    fn changed(&self) {
        self.version.fetch_add(1, Ordering::Release);
    }

    /// The current snapshot.
    pub fn cluster(&self) -> Arc<Cluster> {
        self.cluster.clone()
    }

    /// Counts successful updates (to tell whether a refresh happened since some moment).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// When the last successful refresh happened.
    pub fn last_refresh(&self) -> Option<Instant> {
        self.last_refresh
    }

    /// Asks for a refresh as soon as the backoff allows.
    pub fn request_update(&mut self) {
        self.requests += 1;
    }

    /// Whether an update was requested and not yet satisfied.
    pub fn is_update_requested(&self) -> bool {
        self.requests > self.satisfied
    }

    /// Adds topics to those periodic refreshes ask about.
    pub fn add_interest<I, S>(&mut self, topics: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for t in topics {
            let t = t.into();
            if !self.interest.contains(&t) {
                self.interest.insert(t);
                // A topic nobody asked about before is not in the cache yet.
                self.request_update();
            }
        }
    }

    /// Stops refreshing these topics and forgets them.
    pub fn remove_interest(&mut self, topics: &[&str]) {
        let cluster = Arc::make_mut(&mut self.cluster);
        for t in topics {
            self.interest.remove(*t);
            if let Some(old) = cluster.topics.remove(*t) {
                cluster.topic_names.remove(&old.id);
            }
        }
        self.changed();
    }

    /// The topics a periodic refresh asks about.
    pub fn interest(&self) -> TopicSelection {
        TopicSelection::Topics(self.interest.iter().cloned().collect())
    }

    /// When the next refresh is due: at once when never refreshed; after a failure, when its
    /// backoff ends; when an update was requested, one backoff after the last refresh (growing
    /// while responses keep coming back stale); else when the data reaches
    /// `metadata.max.age.ms`.
    pub fn next_refresh_at(&self, now: Instant) -> Instant {
        let Some(last) = self.last_refresh else {
            return self.retry_at.unwrap_or(now);
        };
        if let Some(retry) = self.retry_at {
            return retry;
        }
        if self.is_update_requested() {
            // Midpoint jitter: this schedule is deterministic; callers add no randomness.
            return last + self.backoff.delay(self.stale_streak.saturating_sub(1), 0.5);
        }
        last + self.max_age
    }

    /// Whether a refresh is due at `now`.
    pub fn needs_refresh(&self, now: Instant) -> bool {
        now >= self.next_refresh_at(now)
    }

    /// Call when sending a Metadata request; pass the ticket to [`update`](Self::update).
    pub fn begin_refresh(&self) -> RefreshTicket {
        RefreshTicket(self.requests)
    }

    /// Records a failed refresh: the next waits `retry.backoff.ms`, doubling per consecutive
    /// failure. `unit` is a random number in `[0, 1)` for jitter.
    pub fn refresh_failed(&mut self, now: Instant, unit: f64) {
        let wait = self.backoff.delay(self.failures, unit);
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(now + wait);
    }

    /// Applies a Metadata response for `requested` topics; returns the new snapshot.
    pub fn update(
        &mut self,
        resp: &MetadataResponse,
        requested: &TopicSelection,
        ticket: RefreshTicket,
        now: Instant,
    ) -> Arc<Cluster> {
        let old = self.cluster.clone();
        let mut stale = false;
        let brokers = resp
            .brokers
            .iter()
            .filter_map(|b| {
                let port = u16::try_from(b.port).ok()?;
                let rack = b.rack.as_ref().map(|r| r.to_string());
                Some((
                    b.node_id,
                    BrokerInfo::new(b.node_id, b.host.as_str(), port, rack),
                ))
            })
            .collect();
        let mut topics = match requested {
            TopicSelection::All => HashMap::new(),
            TopicSelection::Topics(_) => old.topics.clone(),
        };
        for t in &resp.topics {
            let name = match (&t.name, old.topic_names.get(&t.topic_id)) {
                (Some(n), _) => n.to_string(),
                (None, Some(n)) => n.clone(),
                (None, None) => continue,
            };
            let error = Some(ErrorCode::from_code(t.error_code)).filter(|c| *c != ErrorCode::None);
            match error {
                // The broker's answer is authoritative: the topic does not exist. Stop asking
                // about it (a caller waiting for it to be created asks again explicitly).
                Some(ErrorCode::UnknownTopicOrPartition | ErrorCode::InvalidTopicException) => {
                    self.interest.remove(&name);
                }
                Some(code) if is_stale_metadata_error(code) => stale = true,
                _ => {}
            }
            let previous = old.topics.get(&name).filter(|p| {
                // Epochs compare only within one incarnation of a topic: a deleted and
                // recreated topic gets a new id and starts its epochs again.
                p.id == t.topic_id || p.id == Uuid::ZERO || t.topic_id == Uuid::ZERO
            });
            let mut partitions: Vec<PartitionMetadata> = t
                .partitions
                .iter()
                .map(|p| {
                    let fresh = PartitionMetadata {
                        partition: p.partition_index,
                        leader: (p.leader_id >= 0).then_some(p.leader_id),
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes.clone(),
                        isr: p.isr_nodes.clone(),
                        offline_replicas: p.offline_replicas.clone(),
                        error: Some(ErrorCode::from_code(p.error_code))
                            .filter(|c| *c != ErrorCode::None),
                    };
                    let cached = previous.and_then(|prev| prev.partition(p.partition_index));
                    match cached {
                        Some(c) if c.leader_epoch >= 0 && fresh.leader_epoch < c.leader_epoch => {
                            tracing::debug!(
                                topic = %name,
                                partition = p.partition_index,
                                cached = c.leader_epoch,
                                received = fresh.leader_epoch,
                                "ignoring metadata with an older leader epoch"
                            );
                            c.clone()
                        }
                        _ => {
                            if fresh.leader.is_none()
                                || fresh.error.is_some_and(is_stale_metadata_error)
                            {
                                stale = true;
                            }
                            fresh
                        }
                    }
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            topics.insert(
                name.clone(),
                TopicMetadata {
                    name,
                    id: t.topic_id,
                    is_internal: t.is_internal,
                    error,
                    partitions,
                },
            );
        }
        let topic_names = topics
            .values()
            .filter(|t| t.id != Uuid::ZERO)
            .map(|t| (t.id, t.name.clone()))
            .collect();
        self.cluster = Arc::new(Cluster {
            cluster_id: resp.cluster_id.as_ref().map(|c| c.to_string()),
            controller_id: (resp.controller_id >= 0).then_some(resp.controller_id),
            brokers,
            topics,
            topic_names,
        });
        self.last_refresh = Some(now);
        self.failures = 0;
        self.retry_at = None;
        self.satisfied = self.satisfied.max(ticket.0);
        if stale {
            self.stale_streak = self.stale_streak.saturating_add(1);
            self.request_update();
        } else {
            self.stale_streak = 0;
        }
        self.generation += 1;
        self.changed();
        self.cluster.clone()
    }

    /// Reacts to an error a response carried for a topic or partition: errors that mean the
    /// metadata is stale request an update. Returns whether it did.
    pub fn handle_error(&mut self, code: ErrorCode) -> bool {
        let stale = is_stale_metadata_error(code);
        if stale {
            self.request_update();
        }
        stale
    }

    /// Applies a leader hint (from a Produce or Fetch response, KIP-951, or a
    /// NOT_LEADER_OR_FOLLOWER with a current leader): accepted only when its epoch is newer
    /// than the cached one. Returns whether the cache changed.
    pub fn update_leader(&mut self, topic: &str, partition: i32, leader: i32, epoch: i32) -> bool {
        let Some(p) = self.cluster.partition(topic, partition) else {
            self.request_update();
            return false;
        };
        if epoch <= p.leader_epoch || (p.leader == Some(leader) && epoch == p.leader_epoch) {
            return false;
        }
        if !self.cluster.brokers.contains_key(&leader) {
            // A leader we cannot reach by id yet: the broker list is stale.
            self.request_update();
        }
        let cluster = Arc::make_mut(&mut self.cluster);
        let t = cluster.topics.get_mut(topic).expect("checked above");
        if let Some(p) = t.partitions.iter_mut().find(|p| p.partition == partition) {
            p.leader = Some(leader);
            p.leader_epoch = epoch;
        }
        self.generation += 1;
        self.changed();
        true
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
