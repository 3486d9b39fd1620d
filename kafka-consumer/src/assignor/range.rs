//! The range assignor (`range`), as Java's `RangeAssignor`: for each topic separately, the
//! members subscribed to it (in Java's member order) get consecutive ranges of partitions, the
//! first `partitions % members` of them one extra.
//!
//! Co-partitioned topics line up (partition `p` of every topic goes to the same member), at
//! the price of imbalance across many topics: the first members get the extras every time.

use std::collections::BTreeMap;

use super::{Assignor, GroupAssignment, GroupMember, empty_assignment, finish, sorted_members};
use crate::record::TopicPartition;

/// Java's `RangeAssignor` (protocol name `range`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &str {
        "range"
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[GroupMember],
    ) -> Result<GroupAssignment, String> {
        let mut assigned = empty_assignment(members);
        let sorted = sorted_members(members);
        for (topic, &count) in partitions_per_topic {
            let consumers: Vec<&GroupMember> = sorted
                .iter()
                .copied()
                .filter(|m| m.subscription.topics.iter().any(|t| t == topic))
                .collect();
            if consumers.is_empty() || count <= 0 {
                continue;
            }
            let n = consumers.len() as i32;
            let per = count / n;
            let extra = count % n;
            for (i, m) in consumers.iter().enumerate() {
                let i = i as i32;
                let start = per * i + i.min(extra);
                let len = per + i32::from(i < extra);
                let list = assigned.entry(m.member_id.clone()).or_default();
                list.extend((start..start + len).map(|p| TopicPartition::new(topic.as_str(), p)));
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
    fn ranges_per_topic_with_extras_first() {
        let members = vec![
            GroupMember::new("c1", Subscription::new(["t1", "t2"])),
            GroupMember::new("c0", Subscription::new(["t1", "t2"])),
        ];
        let topics = BTreeMap::from([("t1".into(), 3), ("t2".into(), 3)]);
        let a = RangeAssignor.assign(&topics, &members).unwrap();
        assert_eq!(parts(&a, "c0"), ["t1-0", "t1-1", "t2-0", "t2-1"]);
        assert_eq!(parts(&a, "c1"), ["t1-2", "t2-2"]);
    }

    #[test]
    fn static_members_come_first_and_idle_members_appear() {
        let members = vec![
            GroupMember::new("a", Subscription::new(["t"])),
            GroupMember::new("z", Subscription::new(["t"])).with_instance_id("i1"),
            GroupMember::new("b", Subscription::new(["t"])),
            GroupMember::new("c", Subscription::new(["other"])),
        ];
        let topics = BTreeMap::from([("t".into(), 2)]);
        let a = RangeAssignor.assign(&topics, &members).unwrap();
        assert_eq!(parts(&a, "z"), ["t-0"]);
        assert_eq!(parts(&a, "a"), ["t-1"]);
        assert!(a["b"].partitions.is_empty() && a["c"].partitions.is_empty());
    }
}
