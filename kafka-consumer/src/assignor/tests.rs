//! Every assignor against generated groups: completeness, eligibility, balance and (for the
//! sticky ones) stickiness across membership changes, including the cooperative two-round
//! hand-over.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::sticky::encode_user_data;
use super::*;
use crate::protocol::Subscription;

/// A small deterministic generator (xorshift), so failures reproduce from the seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

struct Scenario {
    topics: BTreeMap<String, i32>,
    subscriptions: BTreeMap<String, Vec<String>>,
}

fn scenario(rng: &mut Rng, equal: bool) -> Scenario {
    let topics: BTreeMap<String, i32> = (0..1 + rng.below(4))
        .map(|t| (format!("t{t}"), 1 + rng.below(8) as i32))
        .collect();
    let names: Vec<String> = topics.keys().cloned().collect();
    let subscriptions = (0..1 + rng.below(6))
        .map(|m| {
            let subs = if equal {
                names.clone()
            } else {
                let mut s: Vec<String> = names
                    .iter()
                    .filter(|_| rng.below(2) == 0)
                    .cloned()
                    .collect();
                if s.is_empty() {
                    s.push(names[rng.below(names.len())].clone());
                }
                s
            };
            (format!("m{m}"), subs)
        })
        .collect();
    Scenario {
        topics,
        subscriptions,
    }
}

fn all_assignors() -> Vec<Arc<dyn Assignor>> {
    ["range", "roundrobin", "sticky", "cooperative-sticky"]
        .iter()
        .map(|n| builtin(n).unwrap())
        .collect()
}

/// The members of a round, each reporting what it owned (as its protocol sends it).
fn members(
    assignor: &dyn Assignor,
    s: &Scenario,
    owned: &BTreeMap<String, Vec<TopicPartition>>,
    generation: i32,
) -> Vec<GroupMember> {
    s.subscriptions
        .iter()
        .map(|(id, topics)| {
            let mut sub = Subscription::new(topics.clone());
            let prev = owned.get(id).cloned().unwrap_or_default();
            let member_gen = if owned.contains_key(id) {
                generation
            } else {
                -1
            };
            let ctx = MemberContext {
                topics,
                previous_assignment: &prev,
                generation: member_gen,
            };
            sub.user_data = assignor.user_data(&ctx);
            if assignor.protocol() == RebalanceProtocol::Cooperative {
                sub.owned_partitions = prev;
                sub.generation_id = (member_gen >= 0).then_some(member_gen);
            }
            GroupMember::new(id.clone(), sub)
        })
        .collect()
}

fn flatten(a: &GroupAssignment) -> BTreeMap<String, Vec<TopicPartition>> {
    a.iter()
        .map(|(m, x)| (m.clone(), x.partitions.clone()))
        .collect()
}

/// Checks eligibility and that nothing is assigned twice; returns what was assigned.
fn check_valid(
    s: &Scenario,
    a: &BTreeMap<String, Vec<TopicPartition>>,
) -> BTreeSet<TopicPartition> {
    let mut seen = BTreeSet::new();
    for (m, parts) in a {
        for tp in parts {
            assert!(
                s.subscriptions[m].contains(&tp.topic),
                "{m} got {tp} without subscribing"
            );
            assert!(tp.partition < s.topics[&tp.topic], "{tp} does not exist");
            assert!(seen.insert(tp.clone()), "{tp} assigned twice");
        }
    }
    seen
}

fn subscribed_partitions(s: &Scenario) -> BTreeSet<TopicPartition> {
    let topics: BTreeSet<&String> = s.subscriptions.values().flatten().collect();
    s.topics
        .iter()
        .filter(|(t, _)| topics.contains(t))
        .flat_map(|(t, &n)| (0..n).map(move |p| TopicPartition::new(t.as_str(), p)))
        .collect()
}

/// Java's balance: no member could take a partition from one holding two or more more.
fn is_balanced(s: &Scenario, a: &BTreeMap<String, Vec<TopicPartition>>) -> bool {
    a.iter().all(|(m, parts)| {
        a.iter().all(|(other, theirs)| {
            theirs.len() < parts.len() + 2
                || !theirs
                    .iter()
                    .any(|tp| s.subscriptions[m].contains(&tp.topic))
                || other == m
        })
    })
}

/// One full rebalance: for cooperative assignors, rounds repeat (members revoking what they
/// lost) until nothing is held back, as the members' rejoins would make them.
fn rebalance(
    assignor: &dyn Assignor,
    s: &Scenario,
    owned: &BTreeMap<String, Vec<TopicPartition>>,
    generation: &mut i32,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut current: BTreeMap<String, Vec<TopicPartition>> = owned
        .iter()
        .filter(|(m, _)| s.subscriptions.contains_key(*m))
        .map(|(m, p)| (m.clone(), p.clone()))
        .collect();
    for _round in 0..3 {
        let result = flatten(
            &assignor
                .assign(&s.topics, &members(assignor, s, &current, *generation))
                .unwrap(),
        );
        *generation += 1;
        check_valid(s, &result);
        assert_eq!(result.len(), s.subscriptions.len(), "every member answered");
        if assignor.protocol() == RebalanceProtocol::Eager {
            return result;
        }
        // Nobody is assigned a partition another member still owns.
        for (m, parts) in &result {
            for tp in parts {
                let other_owner = current.iter().any(|(o, held)| o != m && held.contains(tp));
                assert!(
                    !other_owner,
                    "{tp} given to {m} before its owner revoked it"
                );
            }
        }
        let revoked_any = current
            .iter()
            .any(|(m, held)| held.iter().any(|tp| !result[m].contains(tp)));
        current = result;
        if !revoked_any {
            return current;
        }
    }
    current
}

#[test]
fn every_assignor_is_complete_valid_and_balanced() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for case in 0..300 {
        let equal = case % 2 == 0;
        let s = scenario(&mut rng, equal);
        let wanted = subscribed_partitions(&s);
        for assignor in all_assignors() {
            let mut generation = 1;
            let a = rebalance(&*assignor, &s, &BTreeMap::new(), &mut generation);
            let got = check_valid(&s, &a);
            assert_eq!(got, wanted, "{} left partitions out", assignor.name());
            let counts: Vec<usize> = a.values().map(Vec::len).collect();
            let spread = counts.iter().max().unwrap() - counts.iter().min().unwrap();
            match assignor.name() {
                "range" if equal => {
                    for t in s.topics.keys() {
                        let per: Vec<usize> = a
                            .values()
                            .map(|p| p.iter().filter(|tp| &tp.topic == t).count())
                            .collect();
                        let spread = per.iter().max().unwrap() - per.iter().min().unwrap();
                        assert!(spread <= 1, "range unbalanced on {t}: {per:?}");
                    }
                }
                "roundrobin" if equal => assert!(spread <= 1, "roundrobin: {counts:?}"),
                "sticky" | "cooperative-sticky" => {
                    assert!(is_balanced(&s, &a), "{} unbalanced: {a:?}", assignor.name());
                    if equal {
                        assert!(spread <= 1, "{}: {counts:?}", assignor.name());
                    }
                }
                _ => {}
            }
        }
    }
}

#[test]
fn sticky_assignors_keep_partitions_across_membership_changes() {
    let mut rng = Rng(0x00dd_ba11_5eed_0002);
    for case in 0..200 {
        let equal = case % 3 != 0;
        let mut s = scenario(&mut rng, equal);
        for name in ["sticky", "cooperative-sticky"] {
            let assignor = builtin(name).unwrap();
            let mut generation = 1;
            let before = rebalance(&*assignor, &s, &BTreeMap::new(), &mut generation);
            // A member leaves or a new one joins with the first member's subscription.
            let mut changed = Scenario {
                topics: s.topics.clone(),
                subscriptions: s.subscriptions.clone(),
            };
            if rng.below(2) == 0 && changed.subscriptions.len() > 1 {
                let gone = changed.subscriptions.keys().next().unwrap().clone();
                changed.subscriptions.remove(&gone);
            } else {
                let first = changed.subscriptions.values().next().unwrap().clone();
                changed.subscriptions.insert("new".into(), first);
            }
            let after = rebalance(&*assignor, &changed, &before, &mut generation);
            assert!(is_balanced(&changed, &after), "{name}: {after:?}");
            if equal {
                // Each surviving member keeps at least min(what it had, the new minimum quota).
                let total = subscribed_partitions(&changed).len();
                let quota = total / changed.subscriptions.len();
                for (m, had) in &before {
                    let Some(now) = after.get(m) else { continue };
                    let kept = had.iter().filter(|tp| now.contains(tp)).count();
                    assert!(
                        kept >= had.len().min(quota),
                        "{name}: {m} kept {kept} of {had:?} (quota {quota}): {now:?}"
                    );
                }
            }
        }
        s.subscriptions.clear();
    }
}

#[test]
fn sticky_user_data_survives_eager_revocation() {
    // Eager members send empty owned partitions but their previous assignment in user data.
    let topics = BTreeMap::from([("t".to_string(), 4)]);
    let prev_a: Vec<TopicPartition> = [1, 3]
        .iter()
        .map(|&p| TopicPartition::new("t", p))
        .collect();
    let mut sa = Subscription::new(["t"]);
    sa.user_data = Some(encode_user_data(&prev_a, 2));
    let mut sb = Subscription::new(["t"]);
    sb.user_data = Some(encode_user_data(&[], 2));
    let a = StickyAssignor
        .assign(
            &topics,
            &[GroupMember::new("a", sa), GroupMember::new("b", sb)],
        )
        .unwrap();
    assert_eq!(a["a"].partitions, prev_a);
}

#[test]
fn protocol_names_and_common_protocol() {
    assert_eq!(
        canonical_name("org.apache.kafka.clients.consumer.RangeAssignor"),
        "range"
    );
    assert_eq!(canonical_name("cooperative-sticky"), "cooperative-sticky");
    assert!(builtin("nope").is_none());
    let coop: Vec<Arc<dyn Assignor>> = vec![builtin("cooperative-sticky").unwrap()];
    assert_eq!(common_protocol(&coop), RebalanceProtocol::Cooperative);
    let mixed: Vec<Arc<dyn Assignor>> = vec![
        builtin("cooperative-sticky").unwrap(),
        builtin("range").unwrap(),
    ];
    assert_eq!(common_protocol(&mixed), RebalanceProtocol::Eager);
}
