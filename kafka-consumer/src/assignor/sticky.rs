//! The sticky assignor (`sticky`), wire-compatible with Java's `StickyAssignor`, and the
//! balancing algorithm it shares with the cooperative one.
//!
//! Goals, in order: a balanced assignment (no member could take a partition from a member
//! with two or more partitions more than itself), then as few partitions moving as possible.
//!
//! 1. Ownership claims are validated as Java does: only members of the highest generation
//!    present keep what they owned; a partition claimed twice in that generation is owned by
//!    nobody; partitions of topics that vanished or that the member no longer subscribes to
//!    are dropped.
//! 2. Every member keeps its valid partitions.
//! 3. Unowned partitions go, fewest-candidates first, to the eligible member with the fewest
//!    partitions.
//! 4. While some member has two or more partitions more than an eligible member, one moves
//!    (partitions it did not own before move first, so owners keep theirs). Each move lowers
//!    the sum of squared counts, so this ends, and it ends balanced.
//!
//! The eager `sticky` protocol revokes everything before rejoining, so a member's previous
//! assignment travels in its user data: Java's `StickyAssignorUserData` v1, an array of
//! `(topic: string, partitions: [int32])` followed by the generation (`int32`).

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{
    Assignor, GroupAssignment, GroupMember, MemberContext, empty_assignment, finish, sorted_members,
};
use crate::record::TopicPartition;

/// Java's `StickyAssignor` (protocol name `sticky`, eager).
#[derive(Debug, Clone, Copy, Default)]
pub struct StickyAssignor;

/// A member's previous assignment as its subscription reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MemberData {
    pub owned: Vec<TopicPartition>,
    pub generation: Option<i32>,
}

impl Assignor for StickyAssignor {
    fn name(&self) -> &str {
        "sticky"
    }

    fn user_data(&self, member: &MemberContext<'_>) -> Option<Bytes> {
        Some(encode_user_data(
            member.previous_assignment,
            member.generation,
        ))
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[GroupMember],
    ) -> Result<GroupAssignment, String> {
        let data = members
            .iter()
            .map(|m| {
                let d = m
                    .subscription
                    .user_data
                    .as_ref()
                    .and_then(decode_user_data)
                    .unwrap_or_default();
                (m.member_id.clone(), d)
            })
            .collect();
        let (assigned, _) = balance(partitions_per_topic, members, &data);
        Ok(finish(assigned))
    }
}

/// Java's `StickyAssignorUserData` v1.
pub(crate) fn encode_user_data(partitions: &[TopicPartition], generation: i32) -> Bytes {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    let mut buf = BytesMut::new();
    buf.put_i32(by_topic.len() as i32);
    for (topic, ps) in by_topic {
        buf.put_i16(topic.len() as i16);
        buf.put_slice(topic.as_bytes());
        buf.put_i32(ps.len() as i32);
        for p in ps {
            buf.put_i32(p);
        }
    }
    buf.put_i32(generation);
    buf.freeze()
}

/// Reads `StickyAssignorUserData` v1, or v0 (no generation); `None` when it does not parse.
pub(crate) fn decode_user_data(data: &Bytes) -> Option<MemberData> {
    let mut b = data.clone();
    let mut owned = Vec::new();
    let topics = read_len(&mut b)?;
    for _ in 0..topics {
        if b.remaining() < 2 {
            return None;
        }
        let n = usize::try_from(b.get_i16()).ok()?;
        if b.remaining() < n {
            return None;
        }
        let topic = String::from_utf8(b.split_to(n).to_vec()).ok()?;
        let count = read_len(&mut b)?;
        for _ in 0..count {
            if b.remaining() < 4 {
                return None;
            }
            owned.push(TopicPartition::new(topic.as_str(), b.get_i32()));
        }
    }
    let generation = (b.remaining() >= 4).then(|| b.get_i32());
    Some(MemberData { owned, generation })
}

fn read_len(b: &mut Bytes) -> Option<usize> {
    if b.remaining() < 4 {
        return None;
    }
    let n = usize::try_from(b.get_i32()).ok()?;
    // Each element takes at least 2 bytes: refuse counts the data cannot hold.
    (n <= b.remaining() / 2 + 1).then_some(n)
}

/// Java's ownership validation: only the highest generation's claims count, and a partition
/// claimed twice in it belongs to nobody. Returns the valid owner of each partition.
pub(crate) fn valid_owners(
    partitions_per_topic: &BTreeMap<String, i32>,
    members: &[GroupMember],
    data: &BTreeMap<String, MemberData>,
) -> BTreeMap<TopicPartition, String> {
    let max_generation = data
        .values()
        .filter_map(|d| d.generation)
        .max()
        .unwrap_or(-1);
    let mut owners: BTreeMap<TopicPartition, String> = BTreeMap::new();
    let mut contested: BTreeSet<TopicPartition> = BTreeSet::new();
    for m in sorted_members(members) {
        let Some(d) = data.get(&m.member_id) else {
            continue;
        };
        let current = match d.generation {
            Some(g) => g >= max_generation,
            None => max_generation == -1,
        };
        if !current {
            continue;
        }
        for tp in &d.owned {
            let exists = partitions_per_topic
                .get(&tp.topic)
                .is_some_and(|&n| tp.partition >= 0 && tp.partition < n);
            let subscribed = m.subscription.topics.contains(&tp.topic);
            if !exists || !subscribed || contested.contains(tp) {
                continue;
            }
            if owners.insert(tp.clone(), m.member_id.clone()).is_some() {
                owners.remove(tp);
                contested.insert(tp.clone());
            }
        }
    }
    owners
}

/// The shared sticky algorithm. Returns the assignment and the valid previous owners.
pub(crate) fn balance(
    partitions_per_topic: &BTreeMap<String, i32>,
    members: &[GroupMember],
    data: &BTreeMap<String, MemberData>,
) -> (
    BTreeMap<String, Vec<TopicPartition>>,
    BTreeMap<TopicPartition, String>,
) {
    let owners = valid_owners(partitions_per_topic, members, data);
    let order: Vec<&GroupMember> = sorted_members(members);
    let subscribes =
        |m: &GroupMember, topic: &str| m.subscription.topics.iter().any(|t| t == topic);

    // Every partition of a subscribed topic, with the members that may take it.
    let mut candidates: BTreeMap<TopicPartition, Vec<usize>> = BTreeMap::new();
    for (topic, &count) in partitions_per_topic {
        let eligible: Vec<usize> = (0..order.len())
            .filter(|&i| subscribes(order[i], topic))
            .collect();
        if eligible.is_empty() {
            continue;
        }
        for p in 0..count {
            candidates.insert(TopicPartition::new(topic.as_str(), p), eligible.clone());
        }
    }
    let index_of: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.member_id.as_str(), i))
        .collect();
    let potential: Vec<usize> = (0..order.len())
        .map(|i| candidates.values().filter(|c| c.contains(&i)).count())
        .collect();

    // Owners keep their partitions.
    let mut held: Vec<BTreeSet<TopicPartition>> = vec![BTreeSet::new(); order.len()];
    for (tp, owner) in &owners {
        if let (Some(&i), true) = (index_of.get(owner.as_str()), candidates.contains_key(tp)) {
            held[i].insert(tp.clone());
        }
    }
    // Unowned partitions, hardest to place first, each to the least loaded candidate.
    let mut unowned: Vec<(&TopicPartition, &Vec<usize>)> = candidates
        .iter()
        .filter(|(tp, _)| !owners.contains_key(*tp))
        .collect();
    unowned.sort_by_key(|(tp, c)| (c.len(), (*tp).clone()));
    for (tp, eligible) in unowned {
        if let Some(&i) = eligible
            .iter()
            .min_by_key(|&&i| (held[i].len(), potential[i], i))
        {
            held[i].insert(tp.clone());
        }
    }

    // Move partitions from overloaded members until no eligible member is two or more
    // behind. Partitions a member did not own before move first.
    loop {
        let mut by_load: Vec<usize> = (0..order.len()).collect();
        by_load.sort_by_key(|&i| (std::cmp::Reverse(held[i].len()), i));
        let mut moved = false;
        'search: for &from in &by_load {
            let mut takers: Vec<usize> = (0..order.len())
                .filter(|&to| held[to].len() + 1 < held[from].len())
                .collect();
            if takers.is_empty() {
                continue;
            }
            takers.sort_by_key(|&i| (held[i].len(), i));
            let owned_by_from = |tp: &TopicPartition| {
                owners.get(tp).map(String::as_str) == Some(order[from].member_id.as_str())
            };
            for prefer_new in [true, false] {
                for &to in &takers {
                    let pick = held[from]
                        .iter()
                        .filter(|tp| prefer_new != owned_by_from(tp))
                        .find(|tp| candidates[*tp].contains(&to))
                        .cloned();
                    if let Some(tp) = pick {
                        held[from].remove(&tp);
                        held[to].insert(tp);
                        moved = true;
                        break 'search;
                    }
                }
            }
        }
        if !moved {
            break;
        }
    }

    let mut assigned = empty_assignment(members);
    for (i, m) in order.iter().enumerate() {
        assigned.insert(
            m.member_id.clone(),
            std::mem::take(&mut held[i]).into_iter().collect(),
        );
    }
    (assigned, owners)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Subscription;

    #[test]
    fn user_data_round_trips_and_matches_java_layout() {
        let tps = [TopicPartition::new("t", 0), TopicPartition::new("t", 2)];
        let b = encode_user_data(&tps, 7);
        assert_eq!(
            &b[..],
            &[
                0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 7
            ]
        );
        let d = decode_user_data(&b).unwrap();
        assert_eq!(d.owned, tps);
        assert_eq!(d.generation, Some(7));
        // v0: no generation.
        let v0 = b.slice(..b.len() - 4);
        assert_eq!(decode_user_data(&v0).unwrap().generation, None);
        assert!(decode_user_data(&Bytes::from_static(&[0, 0, 0, 9])).is_none());
    }

    #[test]
    fn keeps_owned_partitions_and_balances() {
        let topics = BTreeMap::from([("t".to_string(), 6)]);
        let prev = |owned: &[i32]| {
            let tps: Vec<_> = owned.iter().map(|&p| TopicPartition::new("t", p)).collect();
            let mut s = Subscription::new(["t"]);
            s.user_data = Some(encode_user_data(&tps, 3));
            s
        };
        // a owned everything; b is new.
        let members = vec![
            GroupMember::new("a", prev(&[0, 1, 2, 3, 4, 5])),
            GroupMember::new("b", prev(&[])),
        ];
        let a = StickyAssignor.assign(&topics, &members).unwrap();
        assert_eq!(a["a"].partitions.len(), 3);
        assert_eq!(a["b"].partitions.len(), 3);
    }

    #[test]
    fn older_generations_and_double_claims_do_not_count() {
        let topics = BTreeMap::from([("t".to_string(), 2)]);
        let sub = |tps: &[i32], g: i32| {
            let tps: Vec<_> = tps.iter().map(|&p| TopicPartition::new("t", p)).collect();
            MemberData {
                owned: tps,
                generation: Some(g),
            }
        };
        let members = vec![
            GroupMember::new("a", Subscription::new(["t"])),
            GroupMember::new("b", Subscription::new(["t"])),
            GroupMember::new("c", Subscription::new(["t"])),
        ];
        let data = BTreeMap::from([
            ("a".to_string(), sub(&[0], 5)),
            ("b".to_string(), sub(&[0, 1], 5)),
            ("c".to_string(), sub(&[1], 4)),
        ]);
        let owners = valid_owners(&topics, &members, &data);
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[&TopicPartition::new("t", 1)], "b");
    }
}
