//! What `send` knows of the topics it sends to, so that a send to a known topic takes
//! neither the client's metadata lock nor a reference to its snapshot.
//!
//! A topic is *registered* once `send` asked the client to keep it fresh (the first send to
//! it fetches its metadata). Its partition count is remembered against the client's
//! metadata version and forgotten as soon as that moves, so a refresh, a leader change or a
//! new partition is seen by the next send.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kafka_client::Client;
use parking_lot::Mutex;

use crate::accumulator::FxBuildHasher;

#[derive(Default)]
struct Inner {
    registered: HashSet<Arc<str>, FxBuildHasher>,
    /// Partition counts of registered topics, valid while the metadata is at `version`.
    counts: HashMap<Arc<str>, usize, FxBuildHasher>,
    version: u64,
}

/// The topics a producer sends to. Guards its maps with one short lock (no I/O under it).
#[derive(Default)]
pub(crate) struct Topics {
    inner: Mutex<Inner>,
}

impl Topics {
    /// The partition count of `topic` when it is registered and the client's current
    /// metadata has it with partitions and no error; `None` sends the caller to the slow
    /// path (fetch and wait).
    pub(crate) fn known(&self, client: &Client, topic: &str) -> Option<usize> {
        // Read before the snapshot, so what is derived from it is at least this new.
        let version = client.metadata_version();
        self.known_at(version, topic, || {
            let cluster = client.metadata();
            let t = cluster.topic(topic)?;
            (t.error.is_none() && !t.partitions.is_empty()).then_some(t.partitions.len())
        })
    }

    /// [`known`](Self::known) with the metadata version read and the snapshot's partition
    /// count computed on demand (only for a registered topic not counted at `version`).
    fn known_at(
        &self,
        version: u64,
        topic: &str,
        count: impl FnOnce() -> Option<usize>,
    ) -> Option<usize> {
        let mut inner = self.inner.lock();
        if inner.version != version {
            inner.counts.clear();
            inner.version = version;
        }
        if let Some(&known) = inner.counts.get(topic) {
            return Some(known);
        }
        let name = inner.registered.get(topic)?.clone();
        let known = count()?;
        inner.counts.insert(name, known);
        Some(known)
    }

    /// Whether `send` registered `topic` with the client's refresh already.
    pub(crate) fn is_registered(&self, topic: &str) -> bool {
        self.inner.lock().registered.contains(topic)
    }

    /// Notes that the client now keeps `topic` fresh.
    pub(crate) fn register(&self, topic: &str) {
        let mut inner = self.inner.lock();
        if !inner.registered.contains(topic) {
            inner.registered.insert(Arc::from(topic));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_hold_until_the_metadata_version_moves() {
        let topics = Topics::default();
        let never = || -> Option<usize> { panic!("not looked up") };
        assert_eq!(topics.known_at(1, "t", never), None, "not registered");
        topics.register("t");
        assert!(topics.is_registered("t"));
        assert_eq!(
            topics.known_at(1, "t", || None),
            None,
            "not in the metadata yet"
        );
        assert_eq!(topics.known_at(1, "t", || Some(3)), Some(3));
        assert_eq!(topics.known_at(1, "t", never), Some(3), "remembered");
        assert_eq!(
            topics.known_at(2, "t", || Some(6)),
            Some(6),
            "new partitions seen"
        );
        assert_eq!(
            topics.known_at(3, "t", || None),
            None,
            "gone from the metadata"
        );
        assert_eq!(topics.known_at(3, "u", never), None);
    }
}
