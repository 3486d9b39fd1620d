//! Injected faults: what the next requests of an API get instead of (or after) being served,
//! and added latency.
//!
//! A [`Fault`] names an API, optionally a broker (else any broker), optionally a topic or a
//! topic-partition (a request matches if it names it; requests of APIs without topics never
//! match a topic filter), a count, and an action:
//! - [`FaultAction::Error`]: the request is not applied and is answered with the error code
//!   in every place its API reports errors (each partition, topic, group or key); for
//!   Metadata the real answer is sent with the error on its topics.
//! - [`FaultAction::DropResponse`]: the request is applied, then the connection is closed
//!   without the response: the case idempotent producers exist for.
//! - [`FaultAction::Disconnect`]: the connection is closed without applying the request.
//!
//! Each matching request uses up one of the first matching fault's count; used-up faults
//! disappear. Latency is per broker or cluster-wide (the larger applies) and delays every
//! request before it is handled. Everything is cleared by `clear_faults`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::{ApiKey, RequestBody};
use parking_lot::Mutex;

use crate::handlers::errors::FAILABLE;

/// Which brokers a fault or latency applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultScope {
    /// Every broker.
    Cluster,
    /// One broker.
    Broker(i32),
}

impl FaultScope {
    fn covers(self, node: i32) -> bool {
        match self {
            FaultScope::Cluster => true,
            FaultScope::Broker(id) => id == node,
        }
    }
}

/// What a fault does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this error without applying the request.
    Error(ErrorCode),
    /// Apply the request, then close the connection without answering.
    DropResponse,
    /// Close the connection without applying the request.
    Disconnect,
}

/// One injected fault (see the module docs). Build with [`Fault::error`],
/// [`Fault::drop_response`] or [`Fault::disconnect`], then narrow it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fault {
    /// The API whose requests it hits.
    pub api: ApiKey,
    /// What it does.
    pub action: FaultAction,
    /// How many more requests it hits.
    pub count: u32,
    /// Which brokers' requests it hits.
    pub scope: FaultScope,
    /// Only requests naming this topic.
    pub topic: Option<String>,
    /// Only requests naming this partition of `topic`.
    pub partition: Option<i32>,
}

impl Fault {
    fn new(api: ApiKey, action: FaultAction) -> Self {
        Self {
            api,
            action,
            count: 1,
            scope: FaultScope::Cluster,
            topic: None,
            partition: None,
        }
    }

    /// The next request of `api` fails with `code`.
    pub fn error(api: ApiKey, code: ErrorCode) -> Self {
        Self::new(api, FaultAction::Error(code))
    }

    /// The next request of `api` is applied and its response dropped (connection closed).
    pub fn drop_response(api: ApiKey) -> Self {
        Self::new(api, FaultAction::DropResponse)
    }

    /// The next request of `api` closes the connection unapplied.
    pub fn disconnect(api: ApiKey) -> Self {
        Self::new(api, FaultAction::Disconnect)
    }

    /// Hits the next `n` requests instead of one.
    pub fn times(mut self, n: u32) -> Self {
        self.count = n;
        self
    }

    /// Only on broker `id`.
    pub fn on_broker(mut self, id: i32) -> Self {
        self.scope = FaultScope::Broker(id);
        self
    }

    /// Only requests naming `topic`.
    pub fn for_topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Only requests naming partition `partition` of `topic`.
    pub fn for_partition(mut self, topic: impl Into<String>, partition: i32) -> Self {
        self.topic = Some(topic.into());
        self.partition = Some(partition);
        self
    }

    /// Why this fault cannot be injected, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        if crate::handlers::supported(self.api).is_none() {
            return Err(format!("the broker does not serve {}", self.api.name()));
        }
        if matches!(self.action, FaultAction::Error(_)) && !FAILABLE.contains(&self.api) {
            return Err(format!(
                "errors cannot be injected into {} (only {})",
                self.api.name(),
                FAILABLE
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if self.partition.is_some() && self.topic.is_none() {
            return Err("a partition filter needs a topic".into());
        }
        Ok(())
    }

    fn matches(&self, node: i32, api: ApiKey, named: &dyn Fn(&str, Option<i32>) -> bool) -> bool {
        self.count > 0
            && self.api == api
            && self.scope.covers(node)
            && self
                .topic
                .as_deref()
                .is_none_or(|t| named(t, self.partition))
    }
}

/// The cluster's injected faults.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Mutex<Vec<Fault>>,
    latency: Mutex<BTreeMap<FaultScope, Duration>>,
    /// Set when a fault or a latency was added since the last clear: requests skip the
    /// locks above while it is not.
    armed: AtomicBool,
}

impl Faults {
    /// Adds a fault after the ones already there.
    pub fn add(&self, fault: Fault) -> Result<(), String> {
        fault.check()?;
        if fault.count > 0 {
            self.rules.lock().push(fault);
            self.armed.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// The faults not used up yet.
    pub fn list(&self) -> Vec<Fault> {
        self.rules.lock().clone()
    }

    /// Removes every fault and latency.
    pub fn clear(&self) {
        self.rules.lock().clear();
        self.latency.lock().clear();
        self.armed.store(false, Ordering::Release);
    }

    /// Whether any fault or latency may be set (cheap: no lock).
    pub fn armed(&self) -> bool {
        self.armed.load(Ordering::Acquire)
    }

    /// Sets the latency of `scope` (zero removes it).
    pub fn set_latency(&self, scope: FaultScope, latency: Duration) {
        let mut l = self.latency.lock();
        if latency.is_zero() {
            l.remove(&scope);
        } else {
            l.insert(scope, latency);
            self.armed.store(true, Ordering::Release);
        }
    }

    /// The latency added to broker `node`'s requests.
    pub fn latency(&self, node: i32) -> Duration {
        self.latency
            .lock()
            .iter()
            .filter(|(s, _)| s.covers(node))
            .map(|(_, d)| *d)
            .max()
            .unwrap_or_default()
    }

    /// The latencies set, by scope.
    pub fn latencies(&self) -> Vec<(FaultScope, Duration)> {
        self.latency.lock().iter().map(|(s, d)| (*s, *d)).collect()
    }

    /// Uses up one hit of the first fault matching a request of `api` to broker `node`;
    /// `named(topic, partition)` tells whether the request names the topic (and partition).
    pub fn take(
        &self,
        node: i32,
        api: ApiKey,
        named: &dyn Fn(&str, Option<i32>) -> bool,
    ) -> Option<FaultAction> {
        let mut rules = self.rules.lock();
        if rules.is_empty() {
            return None;
        }
        let i = rules.iter().position(|f| f.matches(node, api, named))?;
        let action = rules[i].action;
        rules[i].count -= 1;
        if rules[i].count == 0 {
            rules.remove(i);
        }
        Some(action)
    }

    /// Whether any fault is waiting for `api` (a cheap check before looking at the request).
    pub fn any_for(&self, api: ApiKey) -> bool {
        self.rules.lock().iter().any(|f| f.api == api)
    }
}

/// The (topic, partition) pairs a request names (partition `None` for topic-level requests
/// such as Metadata). Topic ids (Fetch v13+) are resolved with `by_id`.
pub(crate) fn named_partitions(
    body: &RequestBody,
    by_id: &dyn Fn(kafka_protocol::Uuid) -> Option<String>,
) -> Vec<(String, Option<i32>)> {
    let mut out = Vec::new();
    match body {
        RequestBody::Produce(r) => {
            for t in &r.topic_data {
                for p in &t.partition_data {
                    out.push((t.name.to_string(), Some(p.index)));
                }
            }
        }
        RequestBody::Fetch(r) => {
            for t in &r.topics {
                let name = if t.topic.is_empty() {
                    by_id(t.topic_id).unwrap_or_default()
                } else {
                    t.topic.to_string()
                };
                for p in &t.partitions {
                    out.push((name.clone(), Some(p.partition)));
                }
            }
        }
        RequestBody::ListOffsets(r) => {
            for t in &r.topics {
                for p in &t.partitions {
                    out.push((t.name.to_string(), Some(p.partition_index)));
                }
            }
        }
        RequestBody::DeleteRecords(r) => {
            for t in &r.topics {
                for p in &t.partitions {
                    out.push((t.name.to_string(), Some(p.partition_index)));
                }
            }
        }
        RequestBody::OffsetCommit(r) => {
            for t in &r.topics {
                for p in &t.partitions {
                    out.push((t.name.to_string(), Some(p.partition_index)));
                }
            }
        }
        RequestBody::Metadata(r) => {
            for t in r.topics.iter().flatten() {
                if let Some(name) = &t.name {
                    out.push((name.to_string(), None));
                }
            }
        }
        RequestBody::CreateTopics(r) => {
            out.extend(r.topics.iter().map(|t| (t.name.to_string(), None)));
        }
        RequestBody::CreatePartitions(r) => {
            out.extend(r.topics.iter().map(|t| (t.name.to_string(), None)));
        }
        RequestBody::DeleteTopics(r) => {
            out.extend(r.topic_names.iter().map(|t| (t.to_string(), None)));
            out.extend(
                r.topics
                    .iter()
                    .filter_map(|t| t.name.as_ref().map(|n| (n.to_string(), None))),
            );
        }
        _ => {}
    }
    out
}

/// Whether `named` (from [`named_partitions`]) includes `topic` (and `partition`).
pub(crate) fn names(named: &[(String, Option<i32>)], topic: &str, partition: Option<i32>) -> bool {
    named.iter().any(|(t, p)| {
        t == topic
            && match (partition, p) {
                (None, _) => true,
                (Some(want), Some(have)) => want == *have,
                (Some(_), None) => false,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_used_up_in_order_and_filtered() {
        let f = Faults::default();
        f.add(
            Fault::error(ApiKey::Produce, ErrorCode::NotLeaderOrFollower)
                .times(2)
                .on_broker(1),
        )
        .unwrap();
        f.add(Fault::drop_response(ApiKey::Produce).for_partition("t", 0))
            .unwrap();
        let t0 = |t: &str, p: Option<i32>| t == "t" && p.is_none_or(|p| p == 0);
        let t1 = |t: &str, p: Option<i32>| t == "t" && p.is_none_or(|p| p == 1);
        assert_eq!(f.take(0, ApiKey::Fetch, &t0), None);
        assert_eq!(f.take(0, ApiKey::Produce, &t1), None);
        assert_eq!(
            f.take(1, ApiKey::Produce, &t1),
            Some(FaultAction::Error(ErrorCode::NotLeaderOrFollower))
        );
        assert_eq!(
            f.take(1, ApiKey::Produce, &t1),
            Some(FaultAction::Error(ErrorCode::NotLeaderOrFollower))
        );
        assert_eq!(f.take(1, ApiKey::Produce, &t1), None);
        assert_eq!(
            f.take(2, ApiKey::Produce, &t0),
            Some(FaultAction::DropResponse)
        );
        assert!(f.list().is_empty());
        assert!(
            Fault::error(ApiKey::DescribeConfigs, ErrorCode::None)
                .check()
                .is_err()
        );
        f.set_latency(FaultScope::Cluster, Duration::from_millis(5));
        f.set_latency(FaultScope::Broker(2), Duration::from_millis(9));
        assert_eq!(f.latency(1), Duration::from_millis(5));
        assert_eq!(f.latency(2), Duration::from_millis(9));
        f.clear();
        assert_eq!(f.latency(2), Duration::ZERO);
    }
}
