//! The membership state machine driven by hand, with a simulated clock.

use std::time::{Duration, Instant};

use super::*;

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("t", p)
}

fn config(protocol: RebalanceProtocol, instance: Option<&str>) -> MembershipConfig {
    MembershipConfig {
        group_id: "g".into(),
        instance_id: instance.map(Into::into),
        session_timeout: Duration::from_secs(10),
        rebalance_timeout: Duration::from_secs(30),
        heartbeat_interval: Duration::from_secs(3),
        retry_backoff: Duration::from_millis(100),
        protocol,
    }
}

fn joined(member: &str, generation: i32, leader: &str) -> JoinOutcome {
    JoinOutcome {
        error: None,
        member_id: member.into(),
        generation,
        protocol_name: Some("range".into()),
        leader: leader.into(),
        skip_assignment: false,
        members: vec![JoinedMember {
            member_id: member.into(),
            instance_id: None,
            metadata: bytes::Bytes::new(),
        }],
    }
}

/// Joins as the only member and applies `partitions`; returns the time.
fn join_stable(m: &mut Membership, t0: Instant, partitions: &[i32]) -> Instant {
    m.request_rejoin("subscribed");
    let Step::Join(args) = m.next_step(t0) else {
        panic!("expected a join")
    };
    let gen_before = args.generation;
    m.on_join(t0, Ok(joined("m1", gen_before.max(0) + 1, "m1")));
    let Step::Sync(sync) = m.next_step(t0) else {
        panic!("expected a sync")
    };
    assert!(sync.leader.is_some());
    m.on_sync(t0, Ok(partitions.iter().map(|&p| tp(p)).collect()));
    let Step::Apply { .. } = m.next_step(t0) else {
        panic!("expected apply")
    };
    t0
}

#[test]
fn new_member_gets_an_id_then_joins_leads_and_syncs() {
    let t0 = Instant::now();
    let mut m = Membership::new(config(RebalanceProtocol::Eager, None), t0);
    assert!(
        matches!(m.next_step(t0), Step::Wait(_)),
        "idle before subscribing"
    );
    m.request_rejoin("subscribed");
    let Step::Join(first) = m.next_step(t0) else {
        panic!()
    };
    assert_eq!(first.member_id, "");
    m.on_join(
        t0,
        Ok(JoinOutcome {
            error: Some(ErrorCode::MemberIdRequired),
            member_id: "m1".into(),
            ..Default::default()
        }),
    );
    let Step::Join(second) = m.next_step(t0) else {
        panic!()
    };
    assert_eq!(second.member_id, "m1");
    m.on_join(t0, Ok(joined("m1", 1, "m1")));
    let Step::Sync(sync) = m.next_step(t0) else {
        panic!()
    };
    assert_eq!((sync.generation, sync.member_id.as_str()), (1, "m1"));
    assert_eq!(sync.leader.unwrap().len(), 1);
    m.on_sync(t0, Ok(vec![tp(0), tp(1)]));
    let Step::Apply { added, revoked } = m.next_step(t0) else {
        panic!()
    };
    assert_eq!((added.len(), revoked.len()), (2, 0));
    assert!(m.is_stable());
    assert!(matches!(m.next_step(t0), Step::Wait(_)));
}

#[test]
fn followers_sync_without_assigning_and_skip_assignment_is_honoured() {
    let t0 = Instant::now();
    let mut m = Membership::new(config(RebalanceProtocol::Eager, Some("i")), t0);
    m.request_rejoin("subscribed");
    let Step::Join(_) = m.next_step(t0) else {
        panic!()
    };
    let mut r = joined("m1", 3, "m1");
    r.skip_assignment = true;
    m.on_join(t0, Ok(r));
    let Step::Sync(sync) = m.next_step(t0) else {
        panic!()
    };
    assert!(
        sync.leader.is_none(),
        "KIP-814: a static leader rejoining does not assign"
    );
}

#[test]
fn heartbeats_follow_the_interval_and_rebalances_revoke_eagerly() {
    let t0 = Instant::now();
    let mut m = Membership::new(config(RebalanceProtocol::Eager, None), t0);
    join_stable(&mut m, t0, &[0, 1]);
    let HeartbeatStep::Wait(at) = m.heartbeat_step(t0, t0) else {
        panic!()
    };
    assert_eq!(at, t0 + Duration::from_secs(3));
    let t1 = t0 + Duration::from_secs(3);
    let HeartbeatStep::Send { generation, .. } = m.heartbeat_step(t1, t1) else {
        panic!()
    };
    assert!(
        matches!(m.heartbeat_step(t1, t1), HeartbeatStep::Wait(_)),
        "one in flight"
    );
    m.on_heartbeat(t1, generation, Ok(ErrorCode::RebalanceInProgress));
    // Eager: revoke everything (not lost: commit first), then join with the old assignment
    // in hand for sticky user data.
    let Step::Revoke { partitions, lost } = m.next_step(t1) else {
        panic!()
    };
    assert!(!lost);
    assert_eq!(partitions, [tp(0), tp(1)]);
    assert!(
        matches!(m.heartbeat_step(t1, t1), HeartbeatStep::Wait(_)),
        "still stable while revoking"
    );
    m.revoke_done(&partitions);
    let Step::Join(args) = m.next_step(t1) else {
        panic!()
    };
    assert!(args.owned.is_empty());
    assert_eq!(args.previous_assignment, [tp(0), tp(1)]);
    assert_eq!(args.generation, 1);
    assert_eq!(args.reason, "the group is rebalancing");
}

#[test]
fn cooperative_keeps_partitions_and_revokes_after_sync() {
    let t0 = Instant::now();
    let mut m = Membership::new(config(RebalanceProtocol::Cooperative, None), t0);
    join_stable(&mut m, t0, &[0, 1]);
    m.request_rejoin("new member");
    let Step::Join(args) = m.next_step(t0) else {
        panic!("cooperative members join without revoking")
    };
    assert_eq!(args.owned, [tp(0), tp(1)]);
    m.on_join(t0, Ok(joined("m1", 2, "other")));
    let Step::Sync(sync) = m.next_step(t0) else {
        panic!()
    };
    assert!(sync.leader.is_none());
    m.on_sync(t0, Ok(vec![tp(0)]));
    let Step::Apply { added, revoked } = m.next_step(t0) else {
        panic!()
    };
    assert!(added.is_empty());
    assert_eq!(revoked, [tp(1)]);
    // Then straight back in, owning only what is kept.
    let Step::Join(args) = m.next_step(t0) else {
        panic!("rejoin after revoking")
    };
    assert_eq!(args.owned, [tp(0)]);
}

#[test]
fn fenced_generations_lose_partitions_without_commit() {
    let t0 = Instant::now();
    let mut m = Membership::new(config(RebalanceProtocol::Eager, None), t0);
    join_stable(&mut m, t0, &[0]);
    let t1 = t0 + Duration::from_secs(3);
    let HeartbeatStep::Send { generation, .. } = m.heartbeat_step(t1, t1) else {
        panic!()
    };
    m.on_heartbeat(t1, generation, Ok(ErrorCode::UnknownMemberId));
    let Step::Revoke { partitions, lost } = m.next_step(t1) else {
        panic!()
    };
    assert!(lost);
    assert_eq!(partitions, [tp(0)]);
    let Step::Join(args) = m.next_step(t1) else {
        panic!()
    };
    assert_eq!(args.member_id, "", "a new id after UNKNOWN_MEMBER_ID");
}

#[test]
fn stale_heartbeat_answers_are_ignored() {
    let t0 = Instant::now();
    let mut m = Membership::new(config(RebalanceProtocol::Eager, None), t0);
    join_stable(&mut m, t0, &[0]);
    m.on_heartbeat(t0, 0, Ok(ErrorCode::IllegalGeneration));
    assert!(m.is_stable());
}

#[test]
fn poll_timeout_leaves_and_rejoins_when_polled_again() {
    let t0 = Instant::now();
    let mut m = Membership::new(config(RebalanceProtocol::Eager, None), t0);
    join_stable(&mut m, t0, &[0]);
    let late = t0 + Duration::from_secs(31);
    let HeartbeatStep::LeaveForPollTimeout { member_id } = m.heartbeat_step(late, t0) else {
        panic!()
    };
    assert_eq!(member_id.as_deref(), Some("m1"));
    let Step::Revoke { lost: true, .. } = m.next_step(late) else {
        panic!()
    };
    assert!(
        matches!(m.next_step(late), Step::Wait(_)),
        "no rejoin until polled"
    );
    m.poll_resumed();
    assert!(matches!(m.next_step(late), Step::Join(_)));
}

#[test]
fn static_members_do_not_send_leave_group() {
    let t0 = Instant::now();
    for (instance, expect_leave) in [(None, true), (Some("i"), false)] {
        let mut m = Membership::new(config(RebalanceProtocol::Eager, instance), t0);
        join_stable(&mut m, t0, &[0]);
        m.request_leave();
        let Step::Revoke { partitions, lost } = m.next_step(t0) else {
            panic!()
        };
        assert!(!lost);
        m.revoke_done(&partitions);
        let Step::Leave { member_id } = m.next_step(t0) else {
            panic!()
        };
        assert_eq!(member_id.is_some(), expect_leave);
        assert_eq!(m.phase(), Phase::Idle);
    }
}

#[test]
fn errors_back_off_or_fail() {
    let t0 = Instant::now();
    let mut m = Membership::new(config(RebalanceProtocol::Eager, Some("i")), t0);
    m.request_rejoin("subscribed");
    let Step::Join(_) = m.next_step(t0) else {
        panic!()
    };
    m.on_join(t0, Err(()));
    let Step::Wait(at) = m.next_step(t0) else {
        panic!()
    };
    assert_eq!(at, t0 + Duration::from_millis(100));
    let Step::Join(_) = m.next_step(at) else {
        panic!()
    };
    m.on_join(
        at,
        Ok(JoinOutcome {
            error: Some(ErrorCode::FencedInstanceId),
            ..Default::default()
        }),
    );
    let Step::Fatal(e) = m.next_step(at) else {
        panic!()
    };
    assert!(matches!(e, ConsumerError::FencedInstanceId(ref i) if i == "i"));
    assert_eq!(m.phase(), Phase::Closed);
}

#[test]
fn sync_rebalance_in_progress_rejoins_at_once() {
    let t0 = Instant::now();
    let mut m = Membership::new(config(RebalanceProtocol::Cooperative, None), t0);
    join_stable(&mut m, t0, &[0]);
    m.request_rejoin("x");
    let Step::Join(_) = m.next_step(t0) else {
        panic!()
    };
    m.on_join(t0, Ok(joined("m1", 2, "m1")));
    let Step::Sync(_) = m.next_step(t0) else {
        panic!()
    };
    m.on_sync(t0, Err(Some(ErrorCode::RebalanceInProgress)));
    let Step::Join(args) = m.next_step(t0) else {
        panic!()
    };
    assert_eq!(args.owned, [tp(0)], "cooperative: still owned");
}
