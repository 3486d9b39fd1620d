//! The round-robin assignor (`roundrobin`), as Java's `RoundRobinAssignor`: every subscribed
//! partition, topics in name order and partitions in number order, is dealt to the next member
//! (in Java's member order) that subscribes to its topic.
//!
//! With identical subscriptions the counts differ by at most one; with different ones the
//! result can be unbalanced (the sticky assignors handle that case better).

use std::collections::BTreeMap;

use super::{Assignor, GroupAssignment, GroupMember, empty_assignment, finish, sorted_members};
use crate::record::TopicPartition;

/// Java's `RoundRobinAssignor` (protocol name `roundrobin`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobinAssignor;

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &str {
        "roundrobin"
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[GroupMember],
    ) -> Result<GroupAssignment, String> {
        let mut assigned = empty_assignment(members);
        let sorted = sorted_members(members);
        if sorted.is_empty() {
            return Ok(finish(assigned));
        }
        let mut next = 0usize;
        for (topic, &count) in partitions_per_topic {
            let subscribed =
                |m: &GroupMember| m.subscription.topics.iter().any(|t| t == topic.as_str());
            if !sorted.iter().any(|m| subscribed(m)) {
                continue;
            }
            for p in 0..count {
                // Java's circular iterator: skip members not subscribed to this topic.
                while !subscribed(sorted[next % sorted.len()]) {
                    next += 1;
                }
                let m = sorted[next % sorted.len()];
                assigned
                    .entry(m.member_id.clone())
                    .or_default()
                    .push(TopicPartition::new(topic.as_str(), p));
                next += 1;
            }
        }
        Ok(finish(assigned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Subscription;

    fn parts(a: &GroupAssignment, m: &str) -> Vec<String> {
        a[m].partitions.iter().map(|tp| tp.to_string()).collect()
    }

    #[test]
    fn deals_partitions_in_order() {
        let members = vec![
            GroupMember::new("c0", Subscription::new(["t1", "t2"])),
            GroupMember::new("c1", Subscription::new(["t1", "t2"])),
        ];
        let topics = BTreeMap::from([("t1".into(), 3), ("t2".into(), 3)]);
        let a = RoundRobinAssignor.assign(&topics, &members).unwrap();
        assert_eq!(parts(&a, "c0"), ["t1-0", "t1-2", "t2-1"]);
        assert_eq!(parts(&a, "c1"), ["t1-1", "t2-0", "t2-2"]);
    }

    #[test]
    fn skips_members_not_subscribed() {
        // Java's documented example: c0 on t0, c1 on t0 and t1, c2 on t0, t1 and t2.
        let members = vec![
            GroupMember::new("c0", Subscription::new(["t0"])),
            GroupMember::new("c1", Subscription::new(["t0", "t1"])),
            GroupMember::new("c2", Subscription::new(["t0", "t1", "t2"])),
        ];
        let topics = BTreeMap::from([("t0".into(), 1), ("t1".into(), 2), ("t2".into(), 3)]);
        let a = RoundRobinAssignor.assign(&topics, &members).unwrap();
        assert_eq!(parts(&a, "c0"), ["t0-0"]);
        assert_eq!(parts(&a, "c1"), ["t1-0"]);
        assert_eq!(parts(&a, "c2"), ["t1-1", "t2-0", "t2-1", "t2-2"]);
    }
}
