//! Java's `RoundRobinPartitioner`: records go to the topic's available partitions in turn,
//! whatever their keys.

use std::collections::HashMap;

use parking_lot::Mutex;

use super::{Partitioner, Partitions, to_positive};

/// Spreads records over partitions one by one (keys are ignored).
///
/// ```
/// use std::sync::Arc;
/// use kafka_producer::partitioner::{PartitionerKind, RoundRobinPartitioner};
///
/// let kind = PartitionerKind::Custom(Arc::new(RoundRobinPartitioner::new()));
/// # let _ = kind;
/// ```
#[derive(Debug, Default)]
pub struct RoundRobinPartitioner {
    /// Guards the per-topic counters; held only to bump one.
    counters: Mutex<HashMap<String, u32>>,
}

impl RoundRobinPartitioner {
    /// Counters start at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next partition of `topic`, given its available partitions and its count.
    pub fn next(&self, topic: &str, available: &[i32], count: usize) -> i32 {
        let n = {
            let mut counters = self.counters.lock();
            let c = match counters.get_mut(topic) {
                Some(c) => c,
                None => counters.entry(topic.to_owned()).or_insert(0),
            };
            let n = *c;
            *c = c.wrapping_add(1);
            n
        };
        let n = to_positive(n as i32) as usize;
        if available.is_empty() {
            (n % count.max(1)) as i32
        } else {
            available[n % available.len()]
        }
    }
}

impl Partitioner for RoundRobinPartitioner {
    fn partition(
        &self,
        topic: &str,
        _key: Option<&[u8]>,
        _value: Option<&[u8]>,
        partitions: Partitions<'_>,
    ) -> Option<i32> {
        let available: Vec<i32> = partitions.available().collect();
        Some(self.next(topic, &available, partitions.count()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_over_available_partitions_per_topic() {
        let rr = RoundRobinPartitioner::new();
        let got: Vec<i32> = (0..5).map(|_| rr.next("a", &[0, 2, 3], 4)).collect();
        assert_eq!(got, [0, 2, 3, 0, 2]);
        assert_eq!(rr.next("b", &[], 4), 0, "topics count separately");
        assert_eq!(rr.next("b", &[], 4), 1);
    }
}
