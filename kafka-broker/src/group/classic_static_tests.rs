//! Static members (`group.instance.id`) under simulated time: they join without
//! MEMBER_ID_REQUIRED, rejoin after a restart without a rebalance (the assignment carries over
//! to the new member id, the old one is fenced, a v9 leader is told to skip the assignment),
//! rebalance when the chosen protocol would change, survive the rebalance timeout but not the
//! pending-sync timeout, and can be removed by instance id alone.

use kafka_protocol::ErrorCode;

use super::GroupState;
use super::classic_tests::{Harness, REBALANCE, config, join_args, protocols};
use super::requests::{JoinArgs, LeavingMember};
use bytes::Bytes;

/// A static member's JoinGroup: both members offer range and roundrobin (range chosen).
fn static_args(member_id: &str, instance: &str) -> JoinArgs {
    JoinArgs {
        protocols: protocols(&["range", "roundrobin"]),
        ..join_args(member_id, Some(instance))
    }
}

/// Two static members, Stable: returns (leader id, follower id).
fn static_group(h: &mut Harness) -> (String, String) {
    let ta = h.join(static_args("", "a"));
    let ra = h
        .joined(ta)
        .expect("a static member joins at once (no MEMBER_ID_REQUIRED)");
    assert!(ra.member_id.starts_with("a-"));
    let a = ra.member_id;
    let sa = h.leader_sync(&a, std::slice::from_ref(&a));
    assert!(h.synced(sa).is_some());
    let tb = h.join(static_args("", "b"));
    let b = h.group.static_member_id("b").unwrap().to_string();
    let ta = h.join(static_args(&a, "a"));
    let (ra, rb) = (h.joined(ta).unwrap(), h.joined(tb).unwrap());
    assert_eq!(
        (ra.leader.as_str(), rb.member_id.as_str()),
        (a.as_str(), b.as_str())
    );
    let sb = h.follower_sync(&b);
    let sa = h.leader_sync(&a, &[a.clone(), b.clone()]);
    assert!(h.synced(sa).is_some() && h.synced(sb).is_some());
    assert_eq!(h.group.state, GroupState::Stable);
    (a, b)
}

#[test]
fn a_static_member_rejoins_without_a_rebalance() {
    let mut h = Harness::new(config(0));
    let (a, b) = static_group(&mut h);
    let g = h.group.generation;
    // b restarts: same instance id, no member id, same protocols.
    let t = h.join(static_args("", "b"));
    let r = h.joined(t).expect("answered at once");
    assert_eq!(r.error, ErrorCode::None);
    assert_eq!(r.generation_id, g);
    assert_ne!(r.member_id, b);
    assert!(!r.skip_assignment);
    assert_eq!(h.group.state, GroupState::Stable, "no rebalance");
    let new_b = r.member_id;
    let t = h.follower_sync(&new_b);
    assert_eq!(
        h.synced(t).unwrap().assignment,
        Bytes::from(format!("assigned to {b}")),
        "the assignment carries over to the new member id"
    );
    // The old member id is fenced.
    assert_eq!(
        h.group.heartbeat(h.now, &b, Some("b"), g),
        ErrorCode::FencedInstanceId
    );
    assert_eq!(
        h.group.heartbeat(h.now, &b, None, g),
        ErrorCode::UnknownMemberId
    );
    let t = h.join(static_args(&b, "b"));
    assert_eq!(h.joined(t).unwrap().error, ErrorCode::FencedInstanceId);
    // The static leader restarting: v9 is told to skip the assignment, with the members...
    let t = h.join(static_args("", "a"));
    let r = h.joined(t).unwrap();
    assert!(r.skip_assignment);
    assert_eq!(r.leader, r.member_id);
    assert_eq!(r.members.len(), 2);
    assert_eq!(h.group.state, GroupState::Stable);
    // ...before v9 it is told the old leader id, so it does not assign.
    let current = r.member_id;
    let t = h.join(JoinArgs {
        supports_skip_assignment: false,
        ..static_args("", "a")
    });
    let r = h.joined(t).unwrap();
    assert!(!r.skip_assignment && r.members.is_empty());
    assert_eq!(r.leader, current);
    assert_ne!(r.member_id, current);
    assert_ne!(a, current);
    assert_eq!(h.group.generation, g);
}

#[test]
fn a_static_member_changing_the_chosen_protocol_triggers_a_rebalance() {
    let mut h = Harness::new(config(0));
    let (_a, b) = static_group(&mut h);
    // Rejoining with a different order changes no vote's outcome (a tie the leader breaks).
    let t = h.join(JoinArgs {
        protocols: protocols(&["roundrobin", "range"]),
        ..static_args("", "b")
    });
    assert_eq!(h.joined(t).unwrap().error, ErrorCode::None);
    assert_eq!(h.group.state, GroupState::Stable);
    // Dropping range makes roundrobin the only common protocol: the group must rebalance.
    let t = h.join(JoinArgs {
        protocols: protocols(&["roundrobin"]),
        ..static_args("", "b")
    });
    assert!(h.joined(t).is_none());
    assert_eq!(h.group.state, GroupState::PreparingRebalance);
    assert!(
        h.group.member_index(&b).is_none(),
        "b now has a new member id"
    );

    // Replacing a static member during CompletingRebalance always rebalances, and fences
    // the old member id's parked SyncGroup.
    let mut h = Harness::new(config(0));
    let (a, b) = static_group(&mut h);
    let t0 = h.join(static_args(&a, "a"));
    let t1 = h.join(static_args(&b, "b"));
    assert!(h.joined(t0).is_some() && h.joined(t1).is_some());
    let sb = h.follower_sync(&b);
    let t = h.join(static_args("", "b"));
    assert_eq!(h.synced(sb).unwrap().error, ErrorCode::FencedInstanceId);
    assert!(h.joined(t).is_none());
    assert_eq!(h.group.state, GroupState::PreparingRebalance);
}

#[test]
fn absent_static_members_are_kept_through_the_join_but_not_past_the_sync() {
    let mut h = Harness::new(config(0));
    let (a, b) = static_group(&mut h);
    // The leader rejoins (forcing a rebalance); b is away but its session is long.
    let long = |id: &str, i: &str| JoinArgs {
        session_timeout: 120_000,
        ..static_args(id, i)
    };
    let t = h.join(long(&a, "a"));
    if let Some(m) = h.group.members.iter_mut().find(|m| m.id == b) {
        m.session_timeout = 120_000;
        m.touch(0);
    }
    h.advance(REBALANCE);
    let r = h.joined(t).expect("completed at the rebalance timeout");
    assert_eq!(r.members.len(), 2, "the absent static member is kept");
    let s = h.leader_sync(&a, &[a.clone(), b.clone()]);
    assert!(h.synced(s).is_some());
    assert_eq!(h.group.state, GroupState::Stable);
    // b never syncs: removed at the pending-sync timeout, and the group rebalances.
    h.advance(REBALANCE);
    assert!(h.group.member_index(&b).is_none());
    assert_eq!(h.group.state, GroupState::PreparingRebalance);
    // An admin removes a by instance id alone: the group empties.
    let errors = h.group.leave(
        h.now,
        &[LeavingMember {
            member_id: String::new(),
            instance_id: Some("a".into()),
        }],
        &mut h.out,
    );
    assert_eq!(errors, vec![ErrorCode::None]);
    assert_eq!(h.group.state, GroupState::Empty);
}
