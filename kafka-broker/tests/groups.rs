//! Classic consumer groups over a real socket, with raw frames: FindCoordinator, the
//! JoinGroup / SyncGroup / Heartbeat / LeaveGroup flow with several members, static members,
//! session expiry, DescribeGroups and ListGroups, every advertised version of each. Offsets
//! are in `group_offsets.rs`.
//!
//! Against an external cluster (`KAFKA_TEST_BOOTSTRAP`) the parts that need the broker's
//! internals (wait-for hooks, short session timeouts) are skipped.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Client, TestBroker, unique_topic};
use kafka_broker::GroupState;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::consumer_protocol_subscription::ConsumerProtocolSubscription;
use kafka_protocol::messages::describe_groups_request::DescribeGroupsRequest;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::heartbeat_request::HeartbeatRequest;
use kafka_protocol::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafka_protocol::messages::join_group_response::JoinGroupResponse;
use kafka_protocol::messages::leave_group_request::{LeaveGroupRequest, MemberIdentity};
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::messages::sync_group_request::{SyncGroupRequest, SyncGroupRequestAssignment};
use kafka_protocol::messages::sync_group_response::SyncGroupResponse;
use kafka_protocol::{Encode, ErrorCode, KStr};

/// Kafka's own minimum session timeout, so the tests also run against a real cluster.
const SESSION_MS: i32 = 6_000;

/// A consumer subscription to `topics` (member metadata, version prefix included).
fn subscription(topics: &[&str]) -> Bytes {
    let sub = ConsumerProtocolSubscription {
        topics: topics.iter().map(|t| (*t).into()).collect(),
        ..Default::default()
    };
    let mut out = 1i16.to_be_bytes().to_vec();
    out.extend_from_slice(&sub.encode_to_bytes(1).unwrap());
    Bytes::from(out)
}

fn join_request(group: &str, member_id: &str, instance: Option<&str>) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: group.into(),
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: 8_000,
        member_id: member_id.into(),
        group_instance_id: instance.map(KStr::from),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: subscription(&["t"]),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// One group member on its own connection.
struct Member {
    c: Client,
    group: String,
    id: String,
    generation: i32,
}

impl Member {
    /// Connects and joins (through MEMBER_ID_REQUIRED on v4+); returns once the group
    /// answers, which for a lone member is at once.
    async fn join(tb: &TestBroker, group: &str, version: i16) -> (Self, JoinGroupResponse) {
        let mut m = Member {
            c: tb.connect().await,
            group: group.into(),
            id: String::new(),
            generation: -1,
        };
        if version < 4 {
            // No MEMBER_ID_REQUIRED round before v4: this join is the member's first.
            let r = m.rejoin(version).await;
            return (m, r);
        }
        let r = m.c.call(version, join_request(group, "", None)).await;
        assert_eq!(
            r.error_code,
            ErrorCode::MemberIdRequired.code(),
            "v{version}"
        );
        m.id = r.member_id.to_string();
        let r = m.rejoin(version).await;
        (m, r)
    }

    /// A JoinGroup with the member's id; records the generation.
    async fn rejoin(&mut self, version: i16) -> JoinGroupResponse {
        let r = self
            .c
            .call(version, join_request(&self.group, &self.id, None))
            .await;
        assert_eq!(r.error_code, 0, "join v{version}: {r:?}");
        self.id = r.member_id.to_string();
        self.generation = r.generation_id;
        r
    }

    async fn heartbeat(&mut self) -> ErrorCode {
        let v = self.c.version(ApiKey::Heartbeat, 4);
        let r = self
            .c
            .call(
                v,
                HeartbeatRequest {
                    group_id: self.group.as_str().into(),
                    generation_id: self.generation,
                    member_id: self.id.as_str().into(),
                    ..Default::default()
                },
            )
            .await;
        ErrorCode::from_code(r.error_code)
    }

    async fn sync(&mut self, version: i16, assignments: &[(&str, &[u8])]) -> SyncGroupResponse {
        let req = SyncGroupRequest {
            group_id: self.group.as_str().into(),
            generation_id: self.generation,
            member_id: self.id.as_str().into(),
            protocol_type: (version >= 5).then(|| "consumer".into()),
            protocol_name: (version >= 5).then(|| "range".into()),
            assignments: assignments
                .iter()
                .map(|(m, a)| SyncGroupRequestAssignment {
                    member_id: (*m).into(),
                    assignment: Bytes::copy_from_slice(a),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        self.c.call(version, req).await
    }

    async fn leave(&mut self, version: i16) -> i16 {
        let req = if version >= 3 {
            LeaveGroupRequest {
                group_id: self.group.as_str().into(),
                members: vec![MemberIdentity {
                    member_id: self.id.as_str().into(),
                    ..Default::default()
                }],
                ..Default::default()
            }
        } else {
            LeaveGroupRequest {
                group_id: self.group.as_str().into(),
                member_id: self.id.as_str().into(),
                ..Default::default()
            }
        };
        let r = self.c.call(version, req).await;
        if version >= 3 {
            assert_eq!(r.members.len(), 1);
            r.members[0].error_code
        } else {
            r.error_code
        }
    }
}

async fn describe(c: &mut Client, group: &str) -> DescribedGroup {
    let v = c.version(ApiKey::DescribeGroups, 5);
    let mut r = c
        .call(
            v,
            DescribeGroupsRequest {
                groups: vec![group.into()],
                include_authorized_operations: true,
                ..Default::default()
            },
        )
        .await;
    r.groups.remove(0)
}

#[tokio::test]
async fn the_group_apis_are_advertised() {
    let tb = TestBroker::start().await;
    let c = tb.connect().await;
    if tb.is_external() {
        return;
    }
    for (api, range) in [
        (ApiKey::OffsetCommit, (2, 9)),
        (ApiKey::OffsetFetch, (1, 9)),
        (ApiKey::FindCoordinator, (0, 6)),
        (ApiKey::JoinGroup, (0, 9)),
        (ApiKey::Heartbeat, (0, 4)),
        (ApiKey::LeaveGroup, (0, 5)),
        (ApiKey::SyncGroup, (0, 5)),
        (ApiKey::DescribeGroups, (0, 5)),
        (ApiKey::ListGroups, (0, 5)),
        (ApiKey::DeleteGroups, (0, 2)),
        (ApiKey::OffsetDelete, (0, 0)),
    ] {
        assert_eq!(c.range(api), Some(range), "{}", api.name());
    }
}

#[tokio::test]
async fn find_coordinator_answers_with_this_broker_at_every_version() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let Some((lo, hi)) = c.range(ApiKey::FindCoordinator) else {
        panic!("FindCoordinator not advertised");
    };
    let (host, port) = tb.bootstrap().rsplit_once(':').unwrap();
    for v in lo..=hi {
        for key_type in [0i8, 1] {
            if v == 0 && key_type == 1 {
                continue;
            }
            let req = if v >= 4 {
                FindCoordinatorRequest {
                    key_type,
                    coordinator_keys: vec!["g1".into(), "g2".into()],
                    ..Default::default()
                }
            } else {
                FindCoordinatorRequest {
                    key: "g1".into(),
                    key_type,
                    ..Default::default()
                }
            };
            let r = c.call(v, req).await;
            if v >= 4 {
                assert_eq!(r.coordinators.len(), 2);
                for (co, key) in r.coordinators.iter().zip(["g1", "g2"]) {
                    assert_eq!(co.key, key);
                    assert_eq!(co.error_code, 0, "v{v}");
                    if !tb.is_external() {
                        assert_eq!((co.host.as_str(), co.port), (host, port.parse().unwrap()));
                    }
                }
            } else {
                assert_eq!(r.error_code, 0, "v{v}");
                if !tb.is_external() {
                    assert_eq!(r.node_id, 0);
                    assert_eq!((r.host.as_str(), r.port), (host, port.parse().unwrap()));
                }
            }
        }
    }
    if !tb.is_external() {
        // Share-group keys (2) are not served here.
        let r = c
            .call(
                6,
                FindCoordinatorRequest {
                    key_type: 2,
                    coordinator_keys: vec!["s".into()],
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(
            r.coordinators[0].error_code,
            ErrorCode::InvalidRequest.code()
        );
    }
}

#[tokio::test]
async fn every_version_of_join_sync_heartbeat_and_leave() {
    let tb = TestBroker::start().await;
    let c = tb.connect().await;
    let (jlo, jhi) = c.range(ApiKey::JoinGroup).expect("JoinGroup advertised");
    let (slo, shi) = c.range(ApiKey::SyncGroup).expect("SyncGroup advertised");
    let (llo, lhi) = c.range(ApiKey::LeaveGroup).expect("LeaveGroup advertised");
    for jv in jlo..=jhi {
        let group = unique_topic(&format!("join-v{jv}"));
        let (mut m, r) = Member::join(&tb, &group, jv).await;
        assert_eq!(r.generation_id, 1, "v{jv}");
        assert_eq!(r.leader, r.member_id, "a lone member leads");
        assert_eq!(r.members.len(), 1);
        assert_eq!(r.members[0].metadata, subscription(&["t"]));
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
        if jv >= 7 {
            assert_eq!(r.protocol_type.as_deref(), Some("consumer"));
        }
        let sv = (slo + jv).min(shi);
        let id = m.id.clone();
        let s = m.sync(sv, &[(&id, b"mine")]).await;
        assert_eq!(s.error_code, 0, "sync v{sv}");
        assert_eq!(&s.assignment[..], b"mine");
        if sv >= 5 {
            assert_eq!(s.protocol_name.as_deref(), Some("range"));
        }
        assert_eq!(m.heartbeat().await, ErrorCode::None);
        let lv = (llo + jv).min(lhi);
        assert_eq!(m.leave(lv).await, 0, "leave v{lv}");
        let d = describe(&mut m.c, &group).await;
        assert_eq!(d.group_state, "Empty");
        assert!(d.members.is_empty());
    }
}

#[tokio::test]
async fn members_join_sync_rebalance_and_leave() {
    let tb = TestBroker::start().await;
    let group = unique_topic("flow");
    let (mut a, r) = Member::join(&tb, &group, 9).await;
    assert_eq!(r.generation_id, 1);
    let a_id = a.id.clone();
    assert_eq!(a.sync(5, &[(&a_id, b"a:0-3")]).await.error_code, 0);
    if let Some(h) = tb.handle() {
        let s = h
            .wait_for_group_state(&group, GroupState::Stable, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!((s.generation_id, s.members.len()), (1, 1));
    }

    // b joins: its JoinGroup waits until a rejoins.
    let mut b = Member {
        c: tb.connect().await,
        group: group.clone(),
        id: String::new(),
        generation: -1,
    };
    let r = b.c.call(9, join_request(&group, "", None)).await;
    assert_eq!(r.error_code, ErrorCode::MemberIdRequired.code());
    b.id = r.member_id.to_string();
    let b_id = b.id.clone();
    let b_join = tokio::spawn(async move {
        let r = b.rejoin(9).await;
        (b, r)
    });
    // a learns of the rebalance from its heartbeat (retrying until b's join has arrived).
    let mut e = ErrorCode::None;
    for _ in 0..50 {
        e = a.heartbeat().await;
        if e != ErrorCode::None {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(e, ErrorCode::RebalanceInProgress);
    let ra = a.rejoin(9).await;
    let (mut b, rb) = b_join.await.unwrap();
    assert_eq!(ra.generation_id, 2);
    assert_eq!(rb.generation_id, 2);
    assert_eq!(ra.leader, a_id.as_str(), "the leader keeps leading");
    assert_eq!(rb.leader, a_id.as_str());
    assert_eq!(ra.members.len(), 2);
    assert!(rb.members.is_empty());

    // b's SyncGroup waits for the leader's assignment.
    let b_sync = tokio::spawn(async move {
        let s = b.sync(5, &[]).await;
        (b, s)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !b_sync.is_finished(),
        "a follower's sync waits for the leader"
    );
    let s = a.sync(5, &[(&a_id, b"a:0-1"), (&b_id, b"b:2-3")]).await;
    assert_eq!(&s.assignment[..], b"a:0-1");
    let (mut b, s) = b_sync.await.unwrap();
    assert_eq!(s.error_code, 0);
    assert_eq!(&s.assignment[..], b"b:2-3");

    // DescribeGroups and ListGroups see it.
    let d = describe(&mut a.c, &group).await;
    assert_eq!(d.group_state, "Stable");
    assert_eq!(d.protocol_type, "consumer");
    assert_eq!(d.protocol_data, "range");
    assert_eq!(d.members.len(), 2);
    let da = d
        .members
        .iter()
        .find(|m| m.member_id == a_id.as_str())
        .unwrap();
    assert_eq!(&da.member_assignment[..], b"a:0-1");
    assert_eq!(da.member_metadata, subscription(&["t"]));
    assert_eq!(da.client_id, "kafka-broker-tests");
    if !tb.is_external() {
        assert_eq!(da.client_host, "/127.0.0.1");
        assert_eq!(d.authorized_operations, (1 << 3) | (1 << 6) | (1 << 8));
    }
    let lv = a.c.version(ApiKey::ListGroups, 5);
    let listed =
        a.c.call(
            lv,
            ListGroupsRequest {
                states_filter: vec!["stable".into()],
                ..Default::default()
            },
        )
        .await;
    let mine = listed
        .groups
        .iter()
        .find(|g| g.group_id == group.as_str())
        .expect("listed with the Stable filter");
    assert_eq!(mine.protocol_type, "consumer");
    if lv >= 4 {
        assert_eq!(mine.group_state, "Stable");
    }
    let empty_only =
        a.c.call(
            lv,
            ListGroupsRequest {
                states_filter: vec!["Empty".into()],
                ..Default::default()
            },
        )
        .await;
    assert!(
        !empty_only
            .groups
            .iter()
            .any(|g| g.group_id == group.as_str())
    );

    // b leaves; a rejoins alone at the next generation.
    assert_eq!(b.leave(5).await, 0);
    assert_eq!(a.heartbeat().await, ErrorCode::RebalanceInProgress);
    let r = a.rejoin(9).await;
    assert_eq!((r.generation_id, r.members.len()), (3, 1));
    assert_eq!(a.leave(1).await, 0);
    if let Some(h) = tb.handle() {
        let s = h
            .wait_for_group_state(&group, GroupState::Empty, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(s.generation_id, 4);
    }
}

#[tokio::test]
async fn errors_for_unknown_members_generations_and_groups() {
    let tb = TestBroker::start().await;
    let group = unique_topic("errors");
    let (mut a, _) = Member::join(&tb, &group, 9).await;
    let hb = |member: &str, generation: i32| HeartbeatRequest {
        group_id: group.as_str().into(),
        generation_id: generation,
        member_id: member.into(),
        ..Default::default()
    };
    let r = a.c.call(4, hb("ghost", a.generation)).await;
    assert_eq!(r.error_code, ErrorCode::UnknownMemberId.code());
    let id = a.id.clone();
    let r = a.c.call(4, hb(&id, a.generation + 5)).await;
    assert_eq!(r.error_code, ErrorCode::IllegalGeneration.code());
    let r =
        a.c.call(
            4,
            HeartbeatRequest {
                group_id: "".into(),
                member_id: "m".into(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.error_code, ErrorCode::InvalidGroupId.code());
    // A JoinGroup naming an id the group does not know, and one with another protocol type.
    let r = a.c.call(9, join_request(&group, "nobody", None)).await;
    assert_eq!(r.error_code, ErrorCode::UnknownMemberId.code());
    let mut other = join_request(&group, "", None);
    other.protocol_type = "connect".into();
    let r = a.c.call(9, other).await;
    assert_eq!(r.error_code, ErrorCode::InconsistentGroupProtocol.code());
    // A session timeout below the broker's minimum.
    let mut short = join_request(&group, "", None);
    short.session_timeout_ms = 10;
    let r = a.c.call(9, short).await;
    assert_eq!(r.error_code, ErrorCode::InvalidSessionTimeout.code());
    // SyncGroup with the wrong protocol name (v5).
    let mut s = SyncGroupRequest {
        group_id: group.as_str().into(),
        generation_id: a.generation,
        member_id: id.as_str().into(),
        protocol_type: Some("consumer".into()),
        protocol_name: Some("roundrobin".into()),
        ..Default::default()
    };
    let r = a.c.call(5, s.clone()).await;
    assert_eq!(r.error_code, ErrorCode::InconsistentGroupProtocol.code());
    s.protocol_name = None;
    s.generation_id += 1;
    let r = a.c.call(5, s).await;
    assert_eq!(r.error_code, ErrorCode::IllegalGeneration.code());
    // Leaving a group that does not exist.
    let r =
        a.c.call(
            5,
            LeaveGroupRequest {
                group_id: unique_topic("never").as_str().into(),
                members: vec![MemberIdentity {
                    member_id: "m".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.error_code, 0);
    assert_eq!(r.members[0].error_code, ErrorCode::UnknownMemberId.code());
    // Describing a group that does not exist.
    let d = describe(&mut a.c, &unique_topic("never")).await;
    assert_eq!((d.error_code, d.group_state.as_str()), (0, "Dead"));
}

#[tokio::test]
async fn a_static_member_restarts_without_a_rebalance() {
    let tb = TestBroker::start().await;
    let group = unique_topic("static");
    let mut c1 = tb.connect().await;
    let r = c1.call(9, join_request(&group, "", Some("host-1"))).await;
    assert_eq!(r.error_code, 0, "static members skip MEMBER_ID_REQUIRED");
    let old_id = r.member_id.to_string();
    assert!(old_id.starts_with("host-1-"));
    let s = c1
        .call(
            5,
            SyncGroupRequest {
                group_id: group.as_str().into(),
                generation_id: r.generation_id,
                member_id: old_id.as_str().into(),
                group_instance_id: Some("host-1".into()),
                assignments: vec![SyncGroupRequestAssignment {
                    member_id: old_id.as_str().into(),
                    assignment: Bytes::from_static(b"p0"),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(s.error_code, 0);
    // The process restarts: same instance id, no member id.
    let mut c2 = tb.connect().await;
    let r2 = c2.call(9, join_request(&group, "", Some("host-1"))).await;
    assert_eq!(r2.error_code, 0);
    assert_eq!(r2.generation_id, r.generation_id, "no rebalance");
    assert!(
        r2.skip_assignment,
        "a v9 static leader skips the assignment"
    );
    let new_id = r2.member_id.to_string();
    assert_ne!(new_id, old_id);
    let s = c2
        .call(
            5,
            SyncGroupRequest {
                group_id: group.as_str().into(),
                generation_id: r2.generation_id,
                member_id: new_id.as_str().into(),
                group_instance_id: Some("host-1".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(&s.assignment[..], b"p0", "the assignment carries over");
    // The old incarnation is fenced.
    let hb = c1
        .call(
            4,
            HeartbeatRequest {
                group_id: group.as_str().into(),
                generation_id: r.generation_id,
                member_id: old_id.as_str().into(),
                group_instance_id: Some("host-1".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(hb.error_code, ErrorCode::FencedInstanceId.code());
    let d = describe(&mut c2, &group).await;
    assert_eq!(d.group_state, "Stable");
    assert_eq!(d.members[0].group_instance_id.as_deref(), Some("host-1"));
    // Removed by instance id alone (as admins do).
    let r = c2
        .call(
            5,
            LeaveGroupRequest {
                group_id: group.as_str().into(),
                members: vec![MemberIdentity {
                    member_id: "".into(),
                    group_instance_id: Some("host-1".into()),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.members[0].error_code, 0);
}

#[tokio::test]
async fn a_member_that_stops_heartbeating_is_removed_after_its_session() {
    if common::external().is_some() {
        common::skip("short session timeouts");
        return;
    }
    let tb = TestBroker::start_with(|b| {
        b.group_session_timeout_range(Duration::from_millis(100), Duration::from_secs(60))
    })
    .await;
    let h = tb.handle().unwrap();
    let group = unique_topic("expire");
    let mut c = tb.connect().await;
    let mut req = join_request(&group, "", Some("i"));
    req.session_timeout_ms = 500;
    let r = c.call(9, req).await;
    assert_eq!(r.error_code, 0);
    let started = std::time::Instant::now();
    let s = h
        .wait_for_group_state(&group, GroupState::Empty, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(s.members.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(400));
    // A member still heartbeating is kept.
    let (mut m, _) = Member::join(&tb, &group, 9).await;
    let id = m.id.clone();
    m.sync(5, &[(&id, b"x")]).await;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(m.heartbeat().await, ErrorCode::None);
    }
    assert_eq!(
        h.state().group_status(&group).unwrap().state,
        GroupState::Stable
    );
}
