//! The cooperative sticky assignor (`cooperative-sticky`), wire-compatible with Java's
//! `CooperativeStickyAssignor` (KIP-429).
//!
//! It computes the sticky assignment, then holds back every partition that would move from
//! one member to another: the current owner is simply not assigned it any more (so it revokes
//! it and rejoins), and the next rebalance, where the partition is owned by nobody, gives it
//! to its new member. Partitions that do not move are never revoked, so they keep being
//! consumed throughout.
//!
//! Owned partitions travel in the subscription itself (v1+); the user data carries only the
//! generation (an `int32`, Java's `CooperativeStickyAssignorUserData` v0) for members whose
//! subscription version predates the generation field.

use std::collections::BTreeMap;

use bytes::{Buf, Bytes};

use super::sticky::{MemberData, balance};
use super::{Assignor, GroupAssignment, GroupMember, MemberContext, RebalanceProtocol, finish};

/// Java's `CooperativeStickyAssignor` (protocol name `cooperative-sticky`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CooperativeStickyAssignor;

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &str {
        "cooperative-sticky"
    }

    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Cooperative
    }

    fn user_data(&self, member: &MemberContext<'_>) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(&member.generation.to_be_bytes()))
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[GroupMember],
    ) -> Result<GroupAssignment, String> {
        let data: BTreeMap<String, MemberData> = members
            .iter()
            .map(|m| {
                let s = &m.subscription;
                let generation = s.generation_id.or_else(|| {
                    s.user_data
                        .as_ref()
                        .filter(|d| d.len() >= 4)
                        .map(|d| d.clone().get_i32())
                });
                let d = MemberData {
                    owned: s.owned_partitions.clone(),
                    generation,
                };
                (m.member_id.clone(), d)
            })
            .collect();
        let (mut assigned, owners) = balance(partitions_per_topic, members, &data);
        // Hold back partitions changing hands: their owner revokes them first.
        for (member, partitions) in assigned.iter_mut() {
            partitions.retain(|tp| owners.get(tp).is_none_or(|owner| owner == member));
        }
        Ok(finish(assigned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Subscription;
    use crate::record::TopicPartition;

    fn member(id: &str, owned: &[i32], generation: i32) -> GroupMember {
        let mut s = Subscription::new(["t"]);
        s.owned_partitions = owned.iter().map(|&p| TopicPartition::new("t", p)).collect();
        s.generation_id = (generation >= 0).then_some(generation);
        GroupMember::new(id, s)
    }

    #[test]
    fn moving_partitions_take_two_rounds() {
        let topics = BTreeMap::from([("t".to_string(), 4)]);
        // Round 1: b joins; a owns everything.
        let round1 = CooperativeStickyAssignor
            .assign(
                &topics,
                &[member("a", &[0, 1, 2, 3], 1), member("b", &[], -1)],
            )
            .unwrap();
        assert_eq!(round1["a"].partitions.len(), 2, "a keeps two");
        assert!(
            round1["b"].partitions.is_empty(),
            "b waits for the revocation"
        );
        // Round 2: a rejoins owning two; the other two are free and go to b.
        let kept: Vec<i32> = round1["a"]
            .partitions
            .iter()
            .map(|tp| tp.partition)
            .collect();
        let round2 = CooperativeStickyAssignor
            .assign(&topics, &[member("a", &kept, 2), member("b", &[], 2)])
            .unwrap();
        assert_eq!(round2["a"].partitions, round1["a"].partitions);
        assert_eq!(round2["b"].partitions.len(), 2);
    }

    #[test]
    fn generation_from_user_data_when_the_subscription_lacks_it() {
        let topics = BTreeMap::from([("t".to_string(), 2)]);
        let mut old = member("a", &[0, 1], -1);
        old.subscription.user_data = Some(Bytes::from_static(&[0, 0, 0, 3]));
        let newer = member("b", &[0], 4);
        let a = CooperativeStickyAssignor
            .assign(&topics, &[old, newer])
            .unwrap();
        // b's generation (4) beats a's (3): b keeps 0, a loses its stale claim on 0 and 1.
        assert_eq!(a["b"].partitions, [TopicPartition::new("t", 0)]);
        assert_eq!(a["a"].partitions, [TopicPartition::new("t", 1)]);
    }
}
