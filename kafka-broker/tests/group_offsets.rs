//! Committed offsets over a real socket: OffsetCommit and OffsetFetch at every advertised
//! version (simple and member commits, batched fetches), unknown topics, OffsetDelete and
//! DeleteGroups, and offsets surviving a restart on a data directory.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Client, TestBroker, create_topic, unique_topic};
use kafka_broker::GroupState;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::consumer_protocol_subscription::ConsumerProtocolSubscription;
use kafka_protocol::messages::delete_groups_request::DeleteGroupsRequest;
use kafka_protocol::messages::delete_topics_request::DeleteTopicsRequest;
use kafka_protocol::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafka_protocol::messages::leave_group_request::{LeaveGroupRequest, MemberIdentity};
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequest, OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::{SyncGroupRequest, SyncGroupRequestAssignment};
use kafka_protocol::{Encode, ErrorCode, KStr};

/// (member id, generation, instance id) of a commit; simple commits use ("", -1, None).
type Who<'a> = (&'a str, i32, Option<&'a str>);

const SIMPLE: Who<'static> = ("", -1, None);

fn commit_request(group: &str, who: Who<'_>, offsets: &[(&str, i32, i64)]) -> OffsetCommitRequest {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (t, p, o) in offsets {
        let partition = OffsetCommitRequestPartition {
            partition_index: *p,
            committed_offset: *o,
            committed_leader_epoch: 0,
            committed_metadata: Some(KStr::from(format!("meta-{o}"))),
            ..Default::default()
        };
        match topics.iter_mut().find(|x| x.name == *t) {
            Some(x) => x.partitions.push(partition),
            None => topics.push(OffsetCommitRequestTopic {
                name: (*t).into(),
                partitions: vec![partition],
                ..Default::default()
            }),
        }
    }
    OffsetCommitRequest {
        group_id: group.into(),
        member_id: who.0.into(),
        generation_id_or_member_epoch: who.1,
        group_instance_id: who.2.map(KStr::from),
        topics,
        ..Default::default()
    }
}

/// Commits; returns the error of each partition, in request order.
async fn commit(
    c: &mut Client,
    v: i16,
    group: &str,
    who: Who<'_>,
    offsets: &[(&str, i32, i64)],
) -> Vec<i16> {
    let r = c.call(v, commit_request(group, who, offsets)).await;
    r.topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

/// Fetches one group's offsets of `wanted` (None: all) at version `v`: (topic, partition,
/// offset, metadata) per partition, and the group error.
async fn fetch(
    c: &mut Client,
    v: i16,
    group: &str,
    wanted: Option<&[(&str, i32)]>,
) -> (Vec<(String, i32, i64, String)>, i16) {
    let topics = |w: &[(&str, i32)]| -> Vec<(String, Vec<i32>)> {
        let mut out: Vec<(String, Vec<i32>)> = Vec::new();
        for (t, p) in w {
            match out.iter_mut().find(|x| x.0 == *t) {
                Some(x) => x.1.push(*p),
                None => out.push(((*t).into(), vec![*p])),
            }
        }
        out
    };
    if v >= 8 {
        let req = OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: group.into(),
                topics: wanted.map(|w| {
                    topics(w)
                        .into_iter()
                        .map(|(name, partition_indexes)| OffsetFetchRequestTopics {
                            name: name.into(),
                            partition_indexes,
                            ..Default::default()
                        })
                        .collect()
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut r = c.call(v, req).await;
        let g = r.groups.remove(0);
        let rows = g
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    let meta = p.metadata.as_deref().unwrap_or_default().to_string();
                    (
                        t.name.to_string(),
                        p.partition_index,
                        p.committed_offset,
                        meta,
                    )
                })
            })
            .collect();
        return (rows, g.error_code);
    }
    let req = OffsetFetchRequest {
        group_id: group.into(),
        topics: wanted.map(|w| {
            topics(w)
                .into_iter()
                .map(|(name, partition_indexes)| OffsetFetchRequestTopic {
                    name: name.into(),
                    partition_indexes,
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    };
    let r = c.call(v, req).await;
    let rows = r
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                let meta = p.metadata.as_deref().unwrap_or_default().to_string();
                (
                    t.name.to_string(),
                    p.partition_index,
                    p.committed_offset,
                    meta,
                )
            })
        })
        .collect();
    (rows, r.error_code)
}

fn row(t: &str, p: i32, o: i64) -> (String, i32, i64, String) {
    let meta = if o >= 0 {
        format!("meta-{o}")
    } else {
        String::new()
    };
    (t.into(), p, o, meta)
}

#[tokio::test]
async fn simple_commits_and_fetches_at_every_version() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("offsets");
    create_topic(&mut c, &topic, 2, &[]).await;
    let (clo, chi) = c
        .range(ApiKey::OffsetCommit)
        .expect("OffsetCommit advertised");
    let (flo, fhi) = c
        .range(ApiKey::OffsetFetch)
        .expect("OffsetFetch advertised");
    for v in clo..=chi {
        let group = unique_topic(&format!("simple-v{v}"));
        let base = i64::from(v) * 100;
        let errors = commit(
            &mut c,
            v,
            &group,
            SIMPLE,
            &[(&topic, 0, base), (&topic, 1, base + 1)],
        )
        .await;
        assert_eq!(errors, vec![0, 0], "commit v{v}");
        for fv in flo..=fhi {
            let (rows, e) = fetch(&mut c, fv, &group, Some(&[(&topic, 0), (&topic, 1)])).await;
            assert_eq!(e, 0);
            assert_eq!(
                rows,
                vec![row(&topic, 0, base), row(&topic, 1, base + 1)],
                "fetch v{fv}"
            );
            if fv >= 2 {
                let (all, _) = fetch(&mut c, fv, &group, None).await;
                assert_eq!(all.len(), 2, "v{fv}: a null topic list fetches everything");
            }
        }
    }
    // Unknown partitions and topics (answers come per topic, in request order).
    let group = unique_topic("unknown");
    let errors = commit(
        &mut c,
        9,
        &group,
        SIMPLE,
        &[(&topic, 7, 1), ("no-such-topic", 0, 1), (&topic, 0, 5)],
    )
    .await;
    assert_eq!(
        errors,
        vec![
            ErrorCode::UnknownTopicOrPartition.code(),
            0,
            ErrorCode::UnknownTopicOrPartition.code(),
        ]
    );
    // Partitions without a commit, and groups that do not exist, fetch as -1.
    let (rows, _) = fetch(&mut c, 9, &group, Some(&[(&topic, 0), (&topic, 1)])).await;
    assert_eq!(rows, vec![row(&topic, 0, 5), row(&topic, 1, -1)]);
    let (rows, e) = fetch(&mut c, 7, &unique_topic("nobody"), Some(&[(&topic, 0)])).await;
    assert_eq!((rows, e), (vec![row(&topic, 0, -1)], 0));
    // v8 fetches several groups at once.
    let r = c
        .call(
            8,
            OffsetFetchRequest {
                groups: vec![
                    OffsetFetchRequestGroup {
                        group_id: group.as_str().into(),
                        topics: None,
                        ..Default::default()
                    },
                    OffsetFetchRequestGroup {
                        group_id: "never-committed".into(),
                        topics: None,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.groups.len(), 2);
    assert_eq!(r.groups[0].topics[0].partitions[0].committed_offset, 5);
    assert!(r.groups[1].topics.is_empty());
}

fn subscription(topics: &[&str]) -> Bytes {
    let sub = ConsumerProtocolSubscription {
        topics: topics.iter().map(|t| (*t).into()).collect(),
        ..Default::default()
    };
    let mut out = 0i16.to_be_bytes().to_vec();
    out.extend_from_slice(&sub.encode_to_bytes(0).unwrap());
    Bytes::from(out)
}

/// Joins a one-member consumer group subscribed to `topics` and syncs: (member id, generation).
async fn stable_member(c: &mut Client, group: &str, topics: &[&str]) -> (String, i32) {
    let join = |member: &str| JoinGroupRequest {
        group_id: group.into(),
        session_timeout_ms: 30_000,
        rebalance_timeout_ms: 10_000,
        member_id: member.into(),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: subscription(topics),
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = c.call(9, join("")).await;
    let r = c.call(9, join(&r.member_id)).await;
    assert_eq!(r.error_code, 0);
    let s = c
        .call(
            5,
            SyncGroupRequest {
                group_id: group.into(),
                generation_id: r.generation_id,
                member_id: r.member_id.clone(),
                assignments: vec![SyncGroupRequestAssignment {
                    member_id: r.member_id.clone(),
                    assignment: Bytes::new(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(s.error_code, 0);
    (r.member_id.to_string(), r.generation_id)
}

#[tokio::test]
async fn member_commits_are_checked_against_the_group() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("member-commits");
    create_topic(&mut c, &topic, 1, &[]).await;
    let group = unique_topic("members");
    // A generation commit to a group that does not exist.
    let e = commit(&mut c, 8, &group, ("m", 1, None), &[(&topic, 0, 1)]).await;
    assert_eq!(e, vec![ErrorCode::IllegalGeneration.code()]);
    let e = commit(&mut c, 9, &group, ("m", 1, None), &[(&topic, 0, 1)]).await;
    assert_eq!(e, vec![ErrorCode::GroupIdNotFound.code()]);
    let (member, generation) = stable_member(&mut c, &group, &[&topic]).await;
    let cases: [(Who<'_>, ErrorCode); 5] = [
        ((&member, generation, None), ErrorCode::None),
        (
            (&member, generation + 1, None),
            ErrorCode::IllegalGeneration,
        ),
        (
            ("someone-else", generation, None),
            ErrorCode::UnknownMemberId,
        ),
        (SIMPLE, ErrorCode::UnknownMemberId),
        (
            (&member, generation, Some("not-static")),
            ErrorCode::UnknownMemberId,
        ),
    ];
    for (who, expected) in cases {
        let e = commit(&mut c, 9, &group, who, &[(&topic, 0, 42)]).await;
        assert_eq!(e, vec![expected.code()], "{who:?}");
    }
    let (rows, _) = fetch(&mut c, 9, &group, Some(&[(&topic, 0)])).await;
    assert_eq!(rows, vec![row(&topic, 0, 42)]);
}

#[tokio::test]
async fn offset_delete_and_delete_groups() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let subscribed = unique_topic("subscribed");
    let other = unique_topic("other");
    create_topic(&mut c, &subscribed, 1, &[]).await;
    create_topic(&mut c, &other, 1, &[]).await;
    let group = unique_topic("deletions");
    let (member, generation) = stable_member(&mut c, &group, &[&subscribed]).await;
    let who = (member.as_str(), generation, None);
    let e = commit(
        &mut c,
        9,
        &group,
        who,
        &[(&subscribed, 0, 1), (&other, 0, 2)],
    )
    .await;
    assert_eq!(e, vec![0, 0]);
    let delete = |topics: &[&str]| OffsetDeleteRequest {
        group_id: group.as_str().into(),
        topics: topics
            .iter()
            .map(|t| OffsetDeleteRequestTopic {
                name: (*t).into(),
                partitions: vec![OffsetDeleteRequestPartition { partition_index: 0 }],
            })
            .collect(),
    };
    let r = c
        .call(0, delete(&[&subscribed, &other, "missing-topic"]))
        .await;
    assert_eq!(r.error_code, 0);
    let codes: Vec<i16> = r
        .topics
        .iter()
        .map(|t| t.partitions[0].error_code)
        .collect();
    assert_eq!(
        codes,
        vec![
            ErrorCode::GroupSubscribedToTopic.code(),
            0,
            ErrorCode::UnknownTopicOrPartition.code()
        ]
    );
    let (rows, _) = fetch(&mut c, 9, &group, None).await;
    assert_eq!(rows, vec![row(&subscribed, 0, 1)]);

    let dv = c.version(ApiKey::DeleteGroups, 2);
    let del = |g: &str| DeleteGroupsRequest {
        groups_names: vec![g.into()],
        ..Default::default()
    };
    let r = c.call(dv, del(&group)).await;
    assert_eq!(r.results[0].error_code, ErrorCode::NonEmptyGroup.code());
    let r = c
        .call(
            5,
            LeaveGroupRequest {
                group_id: group.as_str().into(),
                members: vec![MemberIdentity {
                    member_id: member.as_str().into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.members[0].error_code, 0);
    // Empty now: any offset may go, and then the group itself.
    let r = c.call(0, delete(&[&subscribed])).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    let r = c.call(dv, del(&group)).await;
    assert_eq!(r.results[0].error_code, 0);
    let r = c.call(dv, del(&group)).await;
    assert_eq!(r.results[0].error_code, ErrorCode::GroupIdNotFound.code());
    let r = c.call(0, delete(&[&subscribed])).await;
    assert_eq!(r.error_code, ErrorCode::GroupIdNotFound.code());
    assert!(r.topics.is_empty());
}

#[tokio::test]
async fn deleting_a_topic_deletes_its_committed_offsets() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("short-lived");
    create_topic(&mut c, &topic, 1, &[]).await;
    let group = unique_topic("short-lived-group");
    assert_eq!(
        commit(&mut c, 9, &group, SIMPLE, &[(&topic, 0, 3)]).await,
        vec![0]
    );
    let r = c
        .call(
            5,
            DeleteTopicsRequest {
                topic_names: vec![topic.as_str().into()],
                timeout_ms: 30_000,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.responses[0].error_code, 0);
    create_topic(&mut c, &topic, 1, &[]).await;
    let (rows, _) = fetch(&mut c, 9, &group, Some(&[(&topic, 0)])).await;
    assert_eq!(
        rows,
        vec![row(&topic, 0, -1)],
        "the re-created topic starts afresh"
    );
}

#[tokio::test]
async fn committed_offsets_survive_a_restart() {
    if common::external().is_some() {
        common::skip("restart on a data directory");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let start = || TestBroker::start_with(|b| b.data_dir(dir.path()));
    let tb = start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("durable");
    create_topic(&mut c, &topic, 3, &[]).await;
    let group = unique_topic("durable-group");
    for round in 0..3 {
        let e = commit(
            &mut c,
            9,
            &group,
            SIMPLE,
            &[(&topic, 0, round), (&topic, 1, 10 + round)],
        )
        .await;
        assert_eq!(e, vec![0, 0]);
    }
    let doomed = unique_topic("doomed");
    commit(&mut c, 9, &doomed, SIMPLE, &[(&topic, 2, 5)]).await;
    let r = c
        .call(
            2,
            DeleteGroupsRequest {
                groups_names: vec![doomed.as_str().into()],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.results[0].error_code, 0);
    tb.shutdown().await;

    let tb = start().await;
    let mut c = tb.connect().await;
    let (rows, _) = fetch(&mut c, 9, &group, None).await;
    assert_eq!(rows, vec![row(&topic, 0, 2), row(&topic, 1, 12)]);
    let (rows, _) = fetch(&mut c, 9, &doomed, None).await;
    assert!(rows.is_empty(), "the deleted group stays deleted");
    let listed = c.call(5, ListGroupsRequest::default()).await;
    let g = listed
        .groups
        .iter()
        .find(|g| g.group_id == group.as_str())
        .expect("the group is back, Empty");
    assert_eq!(g.group_state, "Empty");
    let h = tb.handle().unwrap();
    let s = h
        .wait_for_group_state(&group, GroupState::Empty, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(s.generation_id, 0);

    // A broker that stops without a clean shutdown keeps acknowledged commits too.
    commit(&mut c, 9, &group, SIMPLE, &[(&topic, 2, 77)]).await;
    drop(c);
    drop(tb);
    let tb = start().await;
    let mut c = tb.connect().await;
    let (rows, _) = fetch(&mut c, 9, &group, Some(&[(&topic, 2)])).await;
    assert_eq!(rows, vec![row(&topic, 2, 77)]);
    tb.shutdown().await;
}
