//! The coordinator cache, sans-IO: which broker coordinates each consumer group,
//! transactional id or share group.
//!
//! Coordinators move rarely, so an answer from FindCoordinator is kept until a response says
//! otherwise (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE) or the coordinator's connection
//! fails; there is no time-based expiry, as in Kafka's clients.

use std::collections::HashMap;

use kafka_protocol::ErrorCode;

use super::cluster::BrokerInfo;

/// What a coordinator coordinates (FindCoordinator's `key_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CoordinatorType {
    /// A consumer group (key: group id).
    Group,
    /// A transactional producer (key: transactional id).
    Transaction,
    /// A share group (KIP-932; key: group id).
    Share,
}

impl CoordinatorType {
    /// The wire value.
    pub const fn key_type(self) -> i8 {
        match self {
            CoordinatorType::Group => 0,
            CoordinatorType::Transaction => 1,
            CoordinatorType::Share => 2,
        }
    }
}

/// Whether `code` means the cached coordinator is wrong or gone.
pub fn is_coordinator_error(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable
    )
}

/// Coordinators by (type, key).
#[derive(Debug, Default, Clone)]
pub struct CoordinatorCache {
    entries: HashMap<(CoordinatorType, String), BrokerInfo>,
}

impl CoordinatorCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached coordinator.
    pub fn get(&self, kind: CoordinatorType, key: &str) -> Option<&BrokerInfo> {
        self.entries.get(&(kind, key.to_owned()))
    }

    /// Records a FindCoordinator answer.
    pub fn insert(&mut self, kind: CoordinatorType, key: &str, broker: BrokerInfo) {
        self.entries.insert((kind, key.to_owned()), broker);
    }

    /// Forgets one coordinator.
    pub fn invalidate(&mut self, kind: CoordinatorType, key: &str) -> bool {
        self.entries.remove(&(kind, key.to_owned())).is_some()
    }

    /// Reacts to an error from a coordinator: forgets it when the error says it moved.
    /// Returns whether it did.
    pub fn handle_error(&mut self, kind: CoordinatorType, key: &str, code: ErrorCode) -> bool {
        is_coordinator_error(code) && self.invalidate(kind, key)
    }

    /// Forgets every coordinator on `broker` (its connection failed).
    pub fn invalidate_broker(&mut self, broker: i32) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, b| b.id != broker);
        before - self.entries.len()
    }

    /// How many coordinators are cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_until_an_error_says_it_moved() {
        let mut c = CoordinatorCache::new();
        let b1 = BrokerInfo::new(1, "h1", 9092, None);
        c.insert(CoordinatorType::Group, "g", b1.clone());
        c.insert(
            CoordinatorType::Transaction,
            "g",
            BrokerInfo::new(2, "h2", 9092, None),
        );
        assert_eq!(c.get(CoordinatorType::Group, "g"), Some(&b1));
        assert!(!c.handle_error(
            CoordinatorType::Group,
            "g",
            ErrorCode::CoordinatorLoadInProgress
        ));
        assert!(!c.handle_error(CoordinatorType::Group, "g", ErrorCode::IllegalGeneration));
        assert!(c.handle_error(CoordinatorType::Group, "g", ErrorCode::NotCoordinator));
        assert!(c.get(CoordinatorType::Group, "g").is_none());
        assert!(
            c.get(CoordinatorType::Transaction, "g").is_some(),
            "types are separate"
        );
        c.insert(CoordinatorType::Group, "g", b1);
        assert!(c.handle_error(
            CoordinatorType::Group,
            "g",
            ErrorCode::CoordinatorNotAvailable
        ));
    }

    #[test]
    fn a_failed_broker_loses_its_coordinators() {
        let mut c = CoordinatorCache::new();
        c.insert(
            CoordinatorType::Group,
            "a",
            BrokerInfo::new(1, "h", 1, None),
        );
        c.insert(
            CoordinatorType::Group,
            "b",
            BrokerInfo::new(1, "h", 1, None),
        );
        c.insert(
            CoordinatorType::Group,
            "c",
            BrokerInfo::new(2, "h", 2, None),
        );
        assert_eq!(c.invalidate_broker(1), 2);
        assert_eq!(c.len(), 1);
        assert_eq!(CoordinatorType::Share.key_type(), 2);
    }
}
