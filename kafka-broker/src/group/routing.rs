//! Which broker coordinates a group or a transactional id.
//!
//! Kafka hashes the key onto a partition of its internal `__consumer_offsets` (or
//! `__transaction_state`) topic, 50 partitions each by default, and the leader of that
//! partition is the coordinator: `Utils.abs(key.hashCode) % partitions`, with Java's
//! `String.hashCode`. This broker has no internal topics, but keeps the same two steps so a
//! multi-broker cluster can spread coordinators the way Kafka does: the key picks a
//! coordinator partition, and the partition's "leader" is picked from the live brokers. With
//! one broker that is always this one.

/// What a coordinator key names (FindCoordinator's `key_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// A consumer group id (0).
    Group,
    /// A transactional id (1).
    Transaction,
}

impl KeyType {
    /// The key type with this wire code; `None` for anything else (e.g. share groups, 2).
    pub fn from_code(code: i8) -> Option<Self> {
        match code {
            0 => Some(KeyType::Group),
            1 => Some(KeyType::Transaction),
            _ => None,
        }
    }
}

/// Partitions of Kafka's `__consumer_offsets` and `__transaction_state` topics
/// (`offsets.topic.num.partitions`, `transaction.state.log.num.partitions`).
pub const COORDINATOR_PARTITIONS: u32 = 50;

/// Java's `String.hashCode`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 code units,
/// wrapping.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The coordinator partition of `key`: Kafka's `Utils.abs(key.hashCode) % partitions`
/// (`Utils.abs` maps `i32::MIN` to 0).
pub fn coordinator_partition(key: &str, partitions: u32) -> u32 {
    let h = java_string_hash(key);
    let abs = if h == i32::MIN { 0 } else { h.unsigned_abs() };
    abs % partitions.max(1)
}

/// The node that coordinates `key` among `nodes` (the live brokers): the key's coordinator
/// partition, placed round-robin over the nodes in id order. `None` when there are no nodes.
/// The key type does not change the placement (Kafka uses the same hash for both), but is
/// kept so the two internal topics can be placed differently later.
pub fn coordinator_for(key: &str, _key_type: KeyType, nodes: &[i32]) -> Option<i32> {
    if nodes.is_empty() {
        return None;
    }
    let mut sorted = nodes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let partition = coordinator_partition(key, COORDINATOR_PARTITIONS) as usize;
    sorted.get(partition % sorted.len()).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_java() {
        // Values of "...".hashCode() in Java.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("my-group"), -1_906_497_762);
        // A non-BMP character is two UTF-16 units, as in Java.
        assert_eq!(java_string_hash("\u{1F600}"), 1_772_899);
    }

    #[test]
    fn partition_and_node() {
        assert_eq!(coordinator_partition("hello", 50), 99_162_322 % 50);
        assert_eq!(coordinator_partition("my-group", 50), 1_906_497_762 % 50);
        assert_eq!(coordinator_for("anything", KeyType::Group, &[7]), Some(7));
        assert_eq!(coordinator_for("anything", KeyType::Group, &[]), None);
        // Spread over three nodes by partition, independent of the order given.
        let p = coordinator_partition("hello", 50) as usize;
        assert_eq!(
            coordinator_for("hello", KeyType::Transaction, &[3, 1, 2]),
            Some([1, 2, 3][p % 3])
        );
    }
}
