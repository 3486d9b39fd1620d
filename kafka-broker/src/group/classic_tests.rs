//! The classic group state machine under simulated time: join and sync with one to four
//! members, leader election, session expiry, the rebalance and pending-sync timeouts, the
//! initial rebalance delay, protocol selection, LeaveGroup and the group size limit. Static
//! members are in `classic_static_tests`, on the same harness.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::consumer_protocol_subscription::ConsumerProtocolSubscription;
use kafka_protocol::{Encode, ErrorCode};

use super::classic::ClassicGroup;
use super::member::{Protocol, Ticket};
use super::requests::{Completion, JoinArgs, JoinResult, LeavingMember, SyncArgs, SyncResult};
use super::{GroupConfig, GroupState};

pub(super) const SESSION: i64 = 10_000;
pub(super) const REBALANCE: i64 = 30_000;

/// A group, a simulated clock and the outbox.
pub(super) struct Harness {
    pub(super) group: ClassicGroup,
    pub(super) now: i64,
    next_ticket: Ticket,
    pub(super) out: Vec<Completion>,
}

pub(super) fn config(delay_ms: u64) -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay: Duration::from_millis(delay_ms),
        ..GroupConfig::default()
    }
}

/// A consumer subscription to `topics`, as member metadata (version prefix included).
pub(super) fn subscription(topics: &[&str]) -> Bytes {
    let sub = ConsumerProtocolSubscription {
        topics: topics.iter().map(|t| (*t).into()).collect(),
        ..Default::default()
    };
    let mut out = 1i16.to_be_bytes().to_vec();
    out.extend_from_slice(&sub.encode_to_bytes(1).unwrap());
    Bytes::from(out)
}

pub(super) fn protocols(names: &[&str]) -> Vec<Protocol> {
    names
        .iter()
        .map(|n| Protocol {
            name: (*n).into(),
            metadata: subscription(&["t"]),
        })
        .collect()
}

/// A JoinGroup as a v9 client sends it.
pub(super) fn join_args(member_id: &str, instance: Option<&str>) -> JoinArgs {
    JoinArgs {
        member_id: member_id.into(),
        instance_id: instance.map(Into::into),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout: SESSION,
        rebalance_timeout: REBALANCE,
        protocol_type: "consumer".into(),
        protocols: protocols(&["range"]),
        require_known_member_id: instance.is_none(),
        supports_skip_assignment: true,
    }
}

impl Harness {
    pub(super) fn new(config: GroupConfig) -> Self {
        Self {
            group: ClassicGroup::new("g", 0, &config),
            now: 0,
            next_ticket: 0,
            out: Vec::new(),
        }
    }

    fn ticket(&mut self) -> Ticket {
        self.next_ticket += 1;
        self.next_ticket
    }

    pub(super) fn join(&mut self, args: JoinArgs) -> Ticket {
        let t = self.ticket();
        self.group.join(self.now, t, args, &mut self.out);
        t
    }

    pub(super) fn sync(&mut self, args: SyncArgs) -> Ticket {
        let t = self.ticket();
        self.group.sync(self.now, t, args, &mut self.out);
        t
    }

    /// The answer to a JoinGroup, if it has come.
    pub(super) fn joined(&mut self, ticket: Ticket) -> Option<JoinResult> {
        let i = self
            .out
            .iter()
            .position(|c| matches!(c, Completion::Join(t, _) if *t == ticket))?;
        match self.out.remove(i) {
            Completion::Join(_, r) => Some(r),
            Completion::Sync(..) => None,
        }
    }

    pub(super) fn synced(&mut self, ticket: Ticket) -> Option<SyncResult> {
        let i = self
            .out
            .iter()
            .position(|c| matches!(c, Completion::Sync(t, _) if *t == ticket))?;
        match self.out.remove(i) {
            Completion::Sync(_, r) => Some(r),
            Completion::Join(..) => None,
        }
    }

    /// Moves the clock to `now + ms`, firing every timer on the way at its own time.
    pub(super) fn advance(&mut self, ms: i64) {
        let target = self.now + ms;
        while let Some(d) = self.group.next_deadline().filter(|d| *d <= target) {
            self.now = self.now.max(d);
            self.group.tick(self.now, &mut self.out);
        }
        self.now = target;
    }

    /// A new dynamic member: MEMBER_ID_REQUIRED, then the rejoin with the id (its ticket).
    fn join_new(&mut self) -> (String, Ticket) {
        let t = self.join(join_args("", None));
        let r = self.joined(t).expect("answered at once");
        assert_eq!(r.error, ErrorCode::MemberIdRequired);
        assert!(r.member_id.starts_with("client-"));
        let t = self.join(join_args(&r.member_id, None));
        (r.member_id, t)
    }

    fn heartbeat(&mut self, id: &str) -> ErrorCode {
        let generation = self.group.generation;
        self.group.heartbeat(self.now, id, None, generation)
    }

    pub(super) fn leader_sync(&mut self, leader: &str, members: &[String]) -> Ticket {
        let assignments = members
            .iter()
            .map(|m| (m.clone(), Bytes::from(format!("assigned to {m}"))))
            .collect();
        self.sync(SyncArgs {
            member_id: leader.into(),
            generation_id: self.group.generation,
            assignments,
            ..Default::default()
        })
    }

    pub(super) fn follower_sync(&mut self, id: &str) -> Ticket {
        self.sync(SyncArgs {
            member_id: id.into(),
            generation_id: self.group.generation,
            ..Default::default()
        })
    }
}

#[test]
fn one_member_joins_syncs_and_heartbeats() {
    let mut h = Harness::new(config(0));
    let (id, t) = h.join_new();
    let r = h
        .joined(t)
        .expect("a lone member completes the join at once");
    assert_eq!(r.error, ErrorCode::None);
    assert_eq!(r.generation_id, 1);
    assert_eq!(r.leader, id);
    assert_eq!(r.protocol_name.as_deref(), Some("range"));
    assert_eq!(r.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(r.members.len(), 1);
    assert_eq!(h.group.state, GroupState::CompletingRebalance);
    assert_eq!(h.heartbeat(&id), ErrorCode::None);
    let s = h.leader_sync(&id, std::slice::from_ref(&id));
    let s = h.synced(s).expect("the leader's sync completes");
    assert_eq!(s.error, ErrorCode::None);
    assert_eq!(s.assignment, Bytes::from(format!("assigned to {id}")));
    assert_eq!(h.group.state, GroupState::Stable);
    // Heartbeats keep it alive well past its session timeout.
    for _ in 0..10 {
        h.advance(SESSION / 2);
        assert_eq!(h.heartbeat(&id), ErrorCode::None);
    }
    assert_eq!(h.group.state, GroupState::Stable);
}

/// Builds a Stable group of `n` members; returns their ids in join order.
fn stable_group(h: &mut Harness, n: usize) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for k in 0..n {
        let (id, t) = h.join_new();
        if k > 0 {
            // Everyone else hears of the rebalance from a heartbeat, and rejoins.
            assert_eq!(h.group.state, GroupState::PreparingRebalance);
            assert!(h.joined(t).is_none(), "the newcomer waits for the others");
        }
        let mut tickets = vec![(id.clone(), t)];
        for other in &ids {
            assert_eq!(h.heartbeat(other), ErrorCode::RebalanceInProgress);
            tickets.push((other.clone(), h.join(join_args(other, None))));
        }
        ids.push(id);
        let generation = h.group.generation;
        let mut leader = None;
        for (member, t) in tickets {
            let r = h
                .joined(t)
                .expect("every member is answered once all rejoined");
            assert_eq!(r.error, ErrorCode::None, "{member}");
            assert_eq!(r.generation_id, generation);
            assert_eq!(r.member_id, member);
            if r.member_id == r.leader {
                assert_eq!(r.members.len(), ids.len(), "the leader sees everyone");
                leader = Some(member);
            } else {
                assert!(r.members.is_empty(), "followers see nobody");
            }
        }
        // The first member stays leader as long as it rejoins.
        assert_eq!(leader.as_deref(), Some(ids[0].as_str()));
        let followers: Vec<Ticket> = ids[1..].iter().map(|f| h.follower_sync(f)).collect();
        assert!(
            h.out.is_empty(),
            "followers wait for the leader's assignment"
        );
        let l = h.leader_sync(&ids[0], &ids);
        for (f, t) in ids[1..].iter().zip(followers) {
            let s = h.synced(t).expect("followers get their assignment");
            assert_eq!(s.assignment, Bytes::from(format!("assigned to {f}")));
            assert_eq!(s.protocol_name.as_deref(), Some("range"));
        }
        assert_eq!(h.synced(l).unwrap().error, ErrorCode::None);
        assert_eq!(h.group.state, GroupState::Stable);
        assert_eq!(h.group.generation, k as i32 + 1);
    }
    ids
}

#[test]
fn one_to_four_members_rebalance_one_by_one() {
    for n in 1..=4 {
        let mut h = Harness::new(config(0));
        let ids = stable_group(&mut h, n);
        assert_eq!(h.group.status().members, ids);
        // A follower's sync in a Stable group returns its assignment again.
        if n > 1 {
            let t = h.follower_sync(&ids[n - 1]);
            let s = h.synced(t).unwrap();
            assert_eq!(
                s.assignment,
                Bytes::from(format!("assigned to {}", ids[n - 1]))
            );
        }
    }
}

#[test]
fn a_member_that_stops_heartbeating_expires() {
    let mut h = Harness::new(config(0));
    let ids = stable_group(&mut h, 2);
    // Only the leader heartbeats.
    for _ in 0..4 {
        h.advance(3_000);
        let e = h.heartbeat(&ids[0]);
        if h.group.state == GroupState::PreparingRebalance {
            assert_eq!(e, ErrorCode::RebalanceInProgress);
            break;
        }
        assert_eq!(e, ErrorCode::None);
    }
    assert_eq!(h.group.state, GroupState::PreparingRebalance);
    assert_eq!(h.group.members.len(), 1, "the silent member was removed");
    let t = h.join(join_args(&ids[0], None));
    let r = h.joined(t).unwrap();
    assert_eq!(r.generation_id, 3);
    assert_eq!(r.members.len(), 1);
    // And once the last member stops too, the group empties.
    h.advance(SESSION * 2);
    assert_eq!(h.group.state, GroupState::Empty);
    assert!(h.group.members.is_empty());
    assert_eq!(h.group.generation, 4);
}

#[test]
fn the_rebalance_timeout_removes_members_that_do_not_rejoin() {
    let mut h = Harness::new(config(0));
    let ids = stable_group(&mut h, 3);
    let (newcomer, t_new) = h.join_new();
    assert_eq!(h.group.state, GroupState::PreparingRebalance);
    let t0 = h.join(join_args(&ids[0], None));
    // ids[1] rejoins; ids[2] keeps heartbeating but never rejoins.
    let t1 = h.join(join_args(&ids[1], None));
    for _ in 0..(REBALANCE / 5_000) {
        h.advance(5_000);
        if h.group.state == GroupState::PreparingRebalance {
            assert_eq!(h.heartbeat(&ids[2]), ErrorCode::RebalanceInProgress);
        }
    }
    assert_eq!(h.group.state, GroupState::CompletingRebalance);
    let members: Vec<_> = h.group.status().members;
    assert_eq!(
        members,
        vec![ids[0].clone(), ids[1].clone(), newcomer.clone()]
    );
    for t in [t0, t1, t_new] {
        assert_eq!(h.joined(t).unwrap().generation_id, 4);
    }
    // The laggard is gone.
    assert_eq!(h.heartbeat(&ids[2]), ErrorCode::UnknownMemberId);
}

#[test]
fn a_new_leader_is_elected_when_the_leader_does_not_rejoin() {
    let mut h = Harness::new(config(0));
    let ids = stable_group(&mut h, 2);
    // A third member joins; only the follower rejoins, the leader just heartbeats.
    let (c, tc) = h.join_new();
    let tb = h.join(join_args(&ids[1], None));
    for _ in 0..(REBALANCE / 5_000) {
        h.advance(5_000);
        h.heartbeat(&ids[0]);
    }
    let r = h.joined(tb).unwrap();
    assert_eq!(r.leader, ids[1], "the first rejoined member leads");
    assert_eq!(r.members.len(), 2);
    assert_eq!(h.joined(tc).unwrap().leader, ids[1]);
    assert_eq!(h.group.status().members, vec![ids[1].clone(), c]);
}

#[test]
fn leaving_members_rebalance_the_group_and_the_last_one_empties_it() {
    let mut h = Harness::new(config(0));
    let ids = stable_group(&mut h, 2);
    let errors = h.group.leave(
        h.now,
        &[
            LeavingMember {
                member_id: ids[1].clone(),
                instance_id: None,
            },
            LeavingMember {
                member_id: "nobody".into(),
                instance_id: None,
            },
        ],
        &mut h.out,
    );
    assert_eq!(errors, vec![ErrorCode::None, ErrorCode::UnknownMemberId]);
    assert_eq!(h.group.state, GroupState::PreparingRebalance);
    let t = h.join(join_args(&ids[0], None));
    assert_eq!(h.joined(t).unwrap().members.len(), 1);
    let errors = h.group.leave(
        h.now,
        &[LeavingMember {
            member_id: ids[0].clone(),
            instance_id: None,
        }],
        &mut h.out,
    );
    assert_eq!(errors, vec![ErrorCode::None]);
    assert_eq!(h.group.state, GroupState::Empty);
    assert_eq!(h.group.generation, 4);
}

#[test]
fn the_initial_delay_waits_for_more_members_up_to_the_rebalance_timeout() {
    let mut h = Harness::new(config(3_000));
    let (a, ta) = h.join_new();
    h.advance(1_000);
    assert!(h.joined(ta).is_none(), "the first join waits out the delay");
    let (b, tb) = h.join_new();
    // At 3 s the delay would end, but b arrived during it: one more delay.
    h.advance(2_500);
    assert!(h.joined(ta).is_none());
    h.advance(3_000);
    let ra = h.joined(ta).expect("completed after the extended delay");
    let rb = h.joined(tb).unwrap();
    assert_eq!((ra.leader.as_str(), ra.members.len()), (a.as_str(), 2));
    assert_eq!(rb.member_id, b);
    assert_eq!(h.now, 6_500);

    // Without newcomers the delay is not extended.
    let mut h = Harness::new(config(3_000));
    let (_, t) = h.join_new();
    h.advance(2_999);
    assert!(h.joined(t).is_none());
    h.advance(1);
    assert!(h.joined(t).is_some());

    // Members arriving continuously cannot delay it past the rebalance timeout.
    let mut h = Harness::new(config(3_000));
    let (_, t) = h.join_new();
    let mut waited = 0;
    while h.joined(t).is_none() {
        h.join_new();
        h.advance(1_000);
        waited += 1_000;
        assert!(
            waited <= REBALANCE,
            "delay extended past the rebalance timeout"
        );
    }
}

#[test]
fn a_pending_member_that_never_rejoins_expires() {
    let mut h = Harness::new(config(0));
    let ids = stable_group(&mut h, 1);
    // A member asks for an id and disappears, while another change rebalances the group.
    let t = h.join(join_args("", None));
    assert_eq!(h.joined(t).unwrap().error, ErrorCode::MemberIdRequired);
    let t0 = h.join(JoinArgs {
        protocols: protocols(&["range", "roundrobin"]),
        ..join_args(&ids[0], None)
    });
    assert!(h.joined(t0).is_none(), "waiting for the pending member");
    h.advance(SESSION);
    let r = h.joined(t0).expect("the pending member expired");
    assert_eq!(r.members.len(), 1);
}

#[test]
fn members_that_do_not_sync_in_time_are_removed() {
    let mut h = Harness::new(config(0));
    let ids = stable_group(&mut h, 2);
    // A rebalance completes, but the leader never sends its SyncGroup (it heartbeats).
    let t0 = h.join(join_args(&ids[0], None));
    let t1 = h.join(join_args(&ids[1], None));
    assert!(h.joined(t0).is_some() && h.joined(t1).is_some());
    let s1 = h.follower_sync(&ids[1]);
    for _ in 0..(REBALANCE / 5_000) {
        h.advance(5_000);
        h.heartbeat(&ids[0]);
        h.heartbeat(&ids[1]);
    }
    // The leader is removed; the follower's parked sync is told to rejoin.
    assert_eq!(h.synced(s1).unwrap().error, ErrorCode::RebalanceInProgress);
    assert_eq!(h.group.status().members, vec![ids[1].clone()]);
    assert_eq!(h.group.state, GroupState::PreparingRebalance);
}

#[test]
fn heartbeat_and_sync_errors() {
    let mut h = Harness::new(config(0));
    let ids = stable_group(&mut h, 2);
    let g = h.group.generation;
    assert_eq!(
        h.group.heartbeat(h.now, "ghost", None, g),
        ErrorCode::UnknownMemberId
    );
    assert_eq!(
        h.group.heartbeat(h.now, &ids[0], None, g - 1),
        ErrorCode::IllegalGeneration
    );
    let t = h.sync(SyncArgs {
        member_id: ids[1].clone(),
        generation_id: g + 1,
        ..Default::default()
    });
    assert_eq!(h.synced(t).unwrap().error, ErrorCode::IllegalGeneration);
    let t = h.sync(SyncArgs {
        member_id: ids[1].clone(),
        generation_id: g,
        protocol_type: Some("consumer".into()),
        protocol_name: Some("roundrobin".into()),
        ..Default::default()
    });
    assert_eq!(
        h.synced(t).unwrap().error,
        ErrorCode::InconsistentGroupProtocol
    );
    // The leader rejoining a Stable group starts a rebalance: syncs are refused meanwhile.
    let t0 = h.join(join_args(&ids[0], None));
    assert!(h.joined(t0).is_none());
    let t = h.follower_sync(&ids[1]);
    assert_eq!(h.synced(t).unwrap().error, ErrorCode::RebalanceInProgress);
    // A follower waiting in SyncGroup is told to rejoin when a member joins meanwhile.
    let t1 = h.join(join_args(&ids[1], None));
    assert!(h.joined(t0).is_some() && h.joined(t1).is_some());
    let s1 = h.follower_sync(&ids[1]);
    let _ = h.join_new();
    assert_eq!(h.synced(s1).unwrap().error, ErrorCode::RebalanceInProgress);
}

#[test]
fn followers_rejoining_unchanged_get_the_current_generation() {
    let mut h = Harness::new(config(0));
    let ids = stable_group(&mut h, 2);
    let g = h.group.generation;
    let t = h.join(join_args(&ids[1], None));
    let r = h.joined(t).expect("answered at once");
    assert_eq!((r.error, r.generation_id), (ErrorCode::None, g));
    assert!(r.members.is_empty());
    assert_eq!(h.group.state, GroupState::Stable);
    // With different protocols it starts a rebalance.
    let t = h.join(JoinArgs {
        protocols: protocols(&["range", "sticky"]),
        ..join_args(&ids[1], None)
    });
    assert!(h.joined(t).is_none());
    assert_eq!(h.group.state, GroupState::PreparingRebalance);
}

#[test]
fn protocol_selection_follows_kafkas_vote() {
    let cases: &[(&[&[&str]], &str)] = &[
        // Only roundrobin is supported by everyone.
        (
            &[
                &["range", "roundrobin"],
                &["roundrobin", "range"],
                &["roundrobin"],
            ],
            "roundrobin",
        ),
        // Everyone supports both; range has two first choices.
        (
            &[
                &["range", "roundrobin"],
                &["roundrobin", "range"],
                &["range", "roundrobin"],
            ],
            "range",
        ),
        // A tie: the leader's preference decides.
        (&[&["sticky", "range"], &["range", "sticky"]], "sticky"),
        (&[&["range", "sticky"], &["sticky", "range"]], "range"),
    ];
    for (members, expected) in cases {
        let mut h = Harness::new(config(1_000));
        let mut tickets = Vec::new();
        for p in *members {
            let t = h.join(JoinArgs {
                protocols: protocols(p),
                require_known_member_id: false,
                ..join_args("", None)
            });
            tickets.push(t);
        }
        // Members arriving during the initial delay extend it once.
        h.advance(2_000);
        for t in tickets {
            let r = h.joined(t).unwrap();
            assert_eq!(r.protocol_name.as_deref(), Some(*expected), "{members:?}");
        }
    }
}

#[test]
fn inconsistent_protocols_are_refused() {
    let mut h = Harness::new(config(0));
    let ids = stable_group(&mut h, 1);
    let t = h.join(JoinArgs {
        protocol_type: "connect".into(),
        ..join_args("", None)
    });
    assert_eq!(
        h.joined(t).unwrap().error,
        ErrorCode::InconsistentGroupProtocol
    );
    let t = h.join(JoinArgs {
        protocols: protocols(&["sticky"]),
        ..join_args("", None)
    });
    assert_eq!(
        h.joined(t).unwrap().error,
        ErrorCode::InconsistentGroupProtocol
    );
    // An empty protocol type or list is refused even by an empty group.
    let mut e = Harness::new(config(0));
    let t = e.join(JoinArgs {
        protocols: Vec::new(),
        ..join_args("", None)
    });
    assert_eq!(
        e.joined(t).unwrap().error,
        ErrorCode::InconsistentGroupProtocol
    );
    // Unknown member ids cannot join.
    let t = h.join(join_args("client-unknown", None));
    assert_eq!(h.joined(t).unwrap().error, ErrorCode::UnknownMemberId);
    assert_eq!(h.group.status().members, ids);
}

#[test]
fn a_full_group_refuses_new_members() {
    let mut h = Harness::new(GroupConfig {
        max_size: 2,
        ..config(0)
    });
    let _ids = stable_group(&mut h, 2);
    let t = h.join(JoinArgs {
        require_known_member_id: false,
        ..join_args("", None)
    });
    let r = h.joined(t).unwrap();
    assert_eq!(r.error, ErrorCode::GroupMaxSizeReached);
    assert_eq!(h.group.members.len(), 2);
}

#[test]
fn old_clients_join_without_member_id_required() {
    let mut h = Harness::new(config(0));
    let t = h.join(JoinArgs {
        require_known_member_id: false,
        ..join_args("", None)
    });
    let r = h.joined(t).unwrap();
    assert_eq!(r.error, ErrorCode::None);
    assert_eq!(r.generation_id, 1);
}

#[test]
fn a_retried_join_supersedes_the_parked_one() {
    let mut h = Harness::new(config(0));
    let ids = stable_group(&mut h, 2);
    let first = h.join(join_args(&ids[0], None));
    let second = h.join(join_args(&ids[0], None));
    assert_eq!(
        h.joined(first).unwrap().error,
        ErrorCode::RebalanceInProgress
    );
    let t1 = h.join(join_args(&ids[1], None));
    assert_eq!(h.joined(second).unwrap().error, ErrorCode::None);
    assert!(h.joined(t1).is_some());
}

#[test]
fn subscriptions_are_tracked_for_consumer_groups() {
    let mut h = Harness::new(config(0));
    let t = h.join(JoinArgs {
        protocols: vec![Protocol {
            name: "range".into(),
            metadata: subscription(&["orders", "payments"]),
        }],
        ..join_args("", Some("s"))
    });
    assert!(h.joined(t).is_some());
    assert!(h.group.is_subscribed_to("orders"));
    assert!(h.group.is_subscribed_to("payments"));
    assert!(!h.group.is_subscribed_to("other"));
}
