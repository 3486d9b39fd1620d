//! The coordinator's group-level rules under simulated time: group id and session timeout
//! checks, offset commit rules (simple and member commits, generations, metadata size,
//! persistence before apply), offset fetch, expiry and cleanup, listing, describing and
//! deleting groups and offsets; and the async driver's timers under tokio's paused clock.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ErrorCode;

use super::classic_tests::subscription;
use super::coordinator::{CommitArgs, Coordinator, NewOffset};
use super::member::Protocol;
use super::offsets_log::{OffsetRecord, OffsetSink};
use super::requests::{Completion, JoinArgs, JoinResult, SyncArgs};
use super::service::GroupService;
use super::{GroupConfig, GroupState};

/// Records what was persisted; can be told to fail.
#[derive(Default)]
struct Sink {
    records: Vec<OffsetRecord>,
    fail: bool,
}

impl OffsetSink for Sink {
    fn append(&mut self, records: &[OffsetRecord]) -> io::Result<()> {
        if self.fail {
            return Err(io::Error::other("disk on fire"));
        }
        self.records.extend_from_slice(records);
        Ok(())
    }
}

const DAY: i64 = 24 * 3600 * 1000;

fn coordinator() -> Coordinator {
    Coordinator::new(GroupConfig::default(), 0, 0)
}

fn offset(topic: &str, partition: i32, offset: i64) -> NewOffset {
    NewOffset {
        topic: topic.into(),
        partition,
        offset,
        leader_epoch: 3,
        metadata: Some("m".into()),
    }
}

fn simple() -> CommitArgs {
    CommitArgs {
        member_id: String::new(),
        instance_id: None,
        generation_id: -1,
        version: 8,
        retention_ms: -1,
    }
}

fn committed(c: &Coordinator, group: &str, topic: &str, partition: i32) -> Option<i64> {
    let found = c
        .fetch_offsets(group, Some(vec![(topic.into(), vec![partition])]))
        .unwrap();
    found[0].1[0].1.as_ref().map(|o| o.offset)
}

/// A one-member consumer group subscribed to `topics`, Stable: returns the member id.
fn consumer_group(c: &mut Coordinator, now: i64, group: &str, topics: &[&str]) -> String {
    let args = JoinArgs {
        instance_id: None,
        client_id: "c".into(),
        session_timeout: 10_000,
        rebalance_timeout: 30_000,
        protocol_type: "consumer".into(),
        protocols: vec![Protocol {
            name: "range".into(),
            metadata: subscription(topics),
        }],
        ..JoinArgs::default()
    };
    c.join(now, 1, group, args);
    let Some(Completion::Join(_, r)) = c.take_completions().pop() else {
        panic!("no join answer");
    };
    assert_eq!(r.error, ErrorCode::None);
    c.sync(
        now,
        2,
        group,
        SyncArgs {
            member_id: r.member_id.clone(),
            generation_id: r.generation_id,
            assignments: vec![(r.member_id.clone(), Bytes::from_static(b"a"))],
            ..SyncArgs::default()
        },
    );
    c.take_completions();
    assert_eq!(c.status(group).unwrap().state, GroupState::Stable);
    r.member_id
}

#[test]
fn simple_commits_create_a_group_and_are_fetched_back() {
    let mut c = coordinator();
    let mut sink = Sink::default();
    let errors = c.commit(
        100,
        "simple",
        &simple(),
        vec![offset("t", 0, 5), offset("t", 1, 7)],
        &mut sink,
    );
    assert_eq!(errors, vec![ErrorCode::None; 2]);
    assert_eq!(sink.records.len(), 2);
    assert_eq!(committed(&c, "simple", "t", 0), Some(5));
    assert_eq!(committed(&c, "simple", "t", 1), Some(7));
    assert_eq!(committed(&c, "simple", "t", 2), None);
    assert_eq!(committed(&c, "nobody", "t", 0), None);
    let all = c.fetch_offsets("simple", None).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].1.len(), 2);
    let o = all[0].1[0].1.clone().unwrap();
    assert_eq!(
        (o.leader_epoch, o.metadata.as_str(), o.commit_timestamp),
        (3, "m", 100)
    );
    let status = c.status("simple").unwrap();
    assert_eq!(status.state, GroupState::Empty);
    // A null metadata is stored as "".
    c.commit(
        100,
        "simple",
        &simple(),
        vec![NewOffset {
            metadata: None,
            ..offset("t", 0, 6)
        }],
        &mut sink,
    );
    let all = c.fetch_offsets("simple", None).unwrap();
    assert_eq!(all[0].1[0].1.as_ref().unwrap().metadata, "");
    // The empty group id is allowed for offsets (old clients), not for membership.
    assert_eq!(
        c.commit(0, "", &simple(), vec![offset("t", 0, 1)], &mut sink),
        vec![ErrorCode::None]
    );
    assert_eq!(c.heartbeat(0, "", "m", None, 1), ErrorCode::InvalidGroupId);
}

#[test]
fn generation_commits_need_a_current_member() {
    let mut c = coordinator();
    let mut sink = Sink::default();
    // A generation commit to a group that does not exist.
    let gen_args = CommitArgs {
        member_id: "m".into(),
        generation_id: 3,
        ..simple()
    };
    assert_eq!(
        c.commit(0, "g", &gen_args, vec![offset("t", 0, 1)], &mut sink),
        vec![ErrorCode::IllegalGeneration]
    );
    let v9 = CommitArgs {
        version: 9,
        ..gen_args.clone()
    };
    assert_eq!(
        c.commit(0, "g", &v9, vec![offset("t", 0, 1)], &mut sink),
        vec![ErrorCode::GroupIdNotFound]
    );
    assert!(c.status("g").is_none(), "no group created");

    let member = consumer_group(&mut c, 0, "g", &["t"]);
    let ok = CommitArgs {
        member_id: member.clone(),
        generation_id: 1,
        ..simple()
    };
    assert_eq!(
        c.commit(0, "g", &ok, vec![offset("t", 0, 9)], &mut sink),
        vec![ErrorCode::None]
    );
    let cases = [
        (simple(), ErrorCode::UnknownMemberId),
        (
            CommitArgs {
                member_id: "other".into(),
                ..ok.clone()
            },
            ErrorCode::UnknownMemberId,
        ),
        (
            CommitArgs {
                generation_id: 2,
                ..ok.clone()
            },
            ErrorCode::IllegalGeneration,
        ),
        (
            CommitArgs {
                instance_id: Some("i".into()),
                ..ok.clone()
            },
            ErrorCode::UnknownMemberId,
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(
            c.commit(0, "g", &args, vec![offset("t", 0, 1)], &mut sink),
            vec![expected],
            "{args:?}"
        );
    }
    assert_eq!(committed(&c, "g", "t", 0), Some(9));
    // Too much metadata is refused per partition.
    let big = NewOffset {
        metadata: Some("x".repeat(4097)),
        ..offset("t", 1, 1)
    };
    assert_eq!(
        c.commit(0, "g", &ok, vec![big, offset("t", 2, 2)], &mut sink),
        vec![ErrorCode::OffsetMetadataTooLarge, ErrorCode::None]
    );
    // A write that fails changes nothing.
    sink.fail = true;
    assert_eq!(
        c.commit(0, "g", &ok, vec![offset("t", 0, 100)], &mut sink),
        vec![ErrorCode::CoordinatorNotAvailable]
    );
    assert_eq!(committed(&c, "g", "t", 0), Some(9));
}

#[test]
fn commits_during_a_rebalance() {
    let mut c = coordinator();
    let mut sink = Sink::default();
    let member = consumer_group(&mut c, 0, "g", &["t"]);
    // A second member starts a rebalance: the first may still commit at its generation.
    c.join(
        0,
        10,
        "g",
        JoinArgs {
            client_id: "c".into(),
            session_timeout: 10_000,
            rebalance_timeout: 30_000,
            protocol_type: "consumer".into(),
            protocols: vec![Protocol {
                name: "range".into(),
                metadata: subscription(&["t"]),
            }],
            ..JoinArgs::default()
        },
    );
    assert_eq!(c.status("g").unwrap().state, GroupState::PreparingRebalance);
    let args = CommitArgs {
        member_id: member.clone(),
        generation_id: 1,
        ..simple()
    };
    assert_eq!(
        c.commit(0, "g", &args, vec![offset("t", 0, 1)], &mut sink),
        vec![ErrorCode::None]
    );
    // Once it rejoins the group awaits the leader's assignment: REBALANCE_IN_PROGRESS.
    c.join(
        0,
        11,
        "g",
        JoinArgs {
            member_id: member.clone(),
            client_id: "c".into(),
            session_timeout: 10_000,
            rebalance_timeout: 30_000,
            protocol_type: "consumer".into(),
            protocols: vec![Protocol {
                name: "range".into(),
                metadata: subscription(&["t"]),
            }],
            ..JoinArgs::default()
        },
    );
    assert_eq!(
        c.status("g").unwrap().state,
        GroupState::CompletingRebalance
    );
    let args = CommitArgs {
        generation_id: 2,
        ..args
    };
    assert_eq!(
        c.commit(0, "g", &args, vec![offset("t", 0, 2)], &mut sink),
        vec![ErrorCode::RebalanceInProgress]
    );
}

#[test]
fn join_checks_group_id_and_session_timeout() {
    let mut c = coordinator();
    let answer = |c: &mut Coordinator, group: &str, session: i64| -> JoinResult {
        c.join(
            0,
            1,
            group,
            JoinArgs {
                session_timeout: session,
                protocol_type: "consumer".into(),
                protocols: vec![Protocol {
                    name: "range".into(),
                    metadata: Bytes::new(),
                }],
                ..JoinArgs::default()
            },
        );
        match c.take_completions().pop() {
            Some(Completion::Join(_, r)) => r,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(answer(&mut c, "", 10_000).error, ErrorCode::InvalidGroupId);
    assert_eq!(
        answer(&mut c, "g", 5_999).error,
        ErrorCode::InvalidSessionTimeout
    );
    assert_eq!(
        answer(&mut c, "g", 1_800_001).error,
        ErrorCode::InvalidSessionTimeout
    );
    assert_eq!(answer(&mut c, "g", 6_000).error, ErrorCode::None);
    // A member id for a group that does not exist.
    c.join(
        0,
        1,
        "other",
        JoinArgs {
            member_id: "m".into(),
            session_timeout: 10_000,
            ..JoinArgs::default()
        },
    );
    assert!(matches!(
        c.take_completions().pop(),
        Some(Completion::Join(
            _,
            JoinResult {
                error: ErrorCode::UnknownMemberId,
                ..
            }
        ))
    ));
    assert!(c.status("other").is_none());
    // Sync and heartbeat to an unknown group.
    c.sync(0, 5, "nope", SyncArgs::default());
    assert!(matches!(
        c.take_completions().pop(),
        Some(Completion::Sync(5, r)) if r.error == ErrorCode::UnknownMemberId
    ));
    assert_eq!(
        c.heartbeat(0, "nope", "m", None, 1),
        ErrorCode::UnknownMemberId
    );
    assert_eq!(
        c.leave(0, "nope", &[Default::default()]),
        Ok(vec![ErrorCode::UnknownMemberId])
    );
}

#[test]
fn list_describe_and_delete() {
    let mut c = coordinator();
    let mut sink = Sink::default();
    c.commit(0, "simple", &simple(), vec![offset("t", 0, 1)], &mut sink);
    let member = consumer_group(&mut c, 0, "busy", &["t"]);
    let all = c.list(&[], &[]);
    let names: Vec<_> = all.iter().map(|g| g.group_id.as_str()).collect();
    assert_eq!(names, ["busy", "simple"]);
    assert_eq!(all[0].protocol_type, "consumer");
    assert_eq!(all[1].protocol_type, "");
    let stable = c.list(&["STABLE".into()], &[]);
    assert_eq!(stable.len(), 1);
    assert_eq!(stable[0].group_id, "busy");
    assert_eq!(c.list(&[], &["Classic".into()]).len(), 2);
    assert!(c.list(&[], &["consumer".into()]).is_empty());

    let d = c.describe("busy").unwrap();
    assert_eq!(d.state, GroupState::Stable);
    assert_eq!(d.protocol, "range");
    assert_eq!(d.members[0].member_id, member);
    assert_eq!(d.members[0].assignment, Bytes::from_static(b"a"));
    assert_eq!(d.members[0].metadata, subscription(&["t"]));
    let d = c.describe("missing").unwrap();
    assert_eq!((d.state, d.members.len()), (GroupState::Dead, 0));

    assert_eq!(
        c.delete_group(0, "busy", &mut sink),
        ErrorCode::NonEmptyGroup
    );
    assert_eq!(
        c.delete_group(0, "missing", &mut sink),
        ErrorCode::GroupIdNotFound
    );
    sink.records.clear();
    assert_eq!(c.delete_group(0, "simple", &mut sink), ErrorCode::None);
    assert_eq!(
        sink.records,
        vec![OffsetRecord::Delete {
            group: "simple".into(),
            topic: "t".into(),
            partition: 0
        }]
    );
    assert!(c.status("simple").is_none());
    assert_eq!(committed(&c, "simple", "t", 0), None);
}

#[test]
fn offsets_of_subscribed_topics_cannot_be_deleted() {
    let mut c = coordinator();
    let mut sink = Sink::default();
    let member = consumer_group(&mut c, 0, "g", &["subscribed"]);
    let args = CommitArgs {
        member_id: member,
        generation_id: 1,
        ..simple()
    };
    c.commit(
        0,
        "g",
        &args,
        vec![offset("subscribed", 0, 1), offset("old", 0, 2)],
        &mut sink,
    );
    let errors = c
        .delete_offsets(
            "g",
            &[
                ("subscribed".into(), 0),
                ("old".into(), 0),
                ("none".into(), 0),
            ],
            &mut sink,
        )
        .unwrap();
    assert_eq!(
        errors,
        vec![
            ErrorCode::GroupSubscribedToTopic,
            ErrorCode::None,
            ErrorCode::None
        ]
    );
    assert_eq!(committed(&c, "g", "subscribed", 0), Some(1));
    assert_eq!(committed(&c, "g", "old", 0), None);
    assert_eq!(
        c.delete_offsets("missing", &[], &mut sink),
        Err(ErrorCode::GroupIdNotFound)
    );
    // A non-consumer group with members keeps everything.
    c.join(
        0,
        1,
        "connect",
        JoinArgs {
            session_timeout: 10_000,
            protocol_type: "connect".into(),
            protocols: vec![Protocol {
                name: "default".into(),
                metadata: Bytes::new(),
            }],
            ..JoinArgs::default()
        },
    );
    assert_eq!(
        c.delete_offsets("connect", &[("t".into(), 0)], &mut sink),
        Err(ErrorCode::NonEmptyGroup)
    );
}

#[test]
fn offsets_expire_and_empty_groups_are_cleaned_up() {
    let mut c = coordinator();
    let mut sink = Sink::default();
    // A simple group: by commit time.
    c.commit(0, "simple", &simple(), vec![offset("t", 0, 1)], &mut sink);
    c.commit(DAY, "simple", &simple(), vec![offset("t", 1, 1)], &mut sink);
    // An explicit retention (OffsetCommit v2-4).
    let short = CommitArgs {
        retention_ms: 1_000,
        version: 2,
        ..simple()
    };
    c.commit(0, "short", &short, vec![offset("t", 0, 1)], &mut sink);
    // A Stable consumer group: only topics it does not subscribe to expire.
    let member = consumer_group(&mut c, 0, "live", &["t"]);
    let args = CommitArgs {
        member_id: member,
        generation_id: 1,
        ..simple()
    };
    c.commit(
        0,
        "live",
        &args,
        vec![offset("t", 0, 1), offset("gone", 0, 1)],
        &mut sink,
    );
    c.sweep(2_000, &mut sink);
    assert!(c.status("short").is_none(), "expired and cleaned up");
    c.sweep(7 * DAY, &mut sink);
    assert_eq!(committed(&c, "simple", "t", 0), None);
    assert_eq!(committed(&c, "simple", "t", 1), Some(1));
    assert_eq!(committed(&c, "live", "t", 0), Some(1));
    assert_eq!(committed(&c, "live", "gone", 0), None);
    c.sweep(8 * DAY, &mut sink);
    assert!(c.status("simple").is_none());
    // The member's session expired long ago in simulated time; once the timers fire the
    // group is Empty, and its offsets expire a retention after that.
    c.tick(8 * DAY, &mut sink);
    assert_eq!(c.status("live").unwrap().state, GroupState::Empty);
    c.sweep(15 * DAY - 1, &mut sink);
    assert_eq!(committed(&c, "live", "t", 0), Some(1));
    c.sweep(15 * DAY, &mut sink);
    assert!(c.status("live").is_none());
    // A failing write keeps the offsets.
    c.commit(0, "kept", &simple(), vec![offset("t", 0, 1)], &mut sink);
    sink.fail = true;
    c.sweep(30 * DAY, &mut sink);
    assert_eq!(committed(&c, "kept", "t", 0), Some(1));
}

#[test]
fn a_deleted_topic_takes_its_offsets_along() {
    let mut c = coordinator();
    let mut sink = Sink::default();
    c.commit(
        0,
        "a",
        &simple(),
        vec![offset("t", 0, 1), offset("u", 0, 2)],
        &mut sink,
    );
    c.commit(0, "b", &simple(), vec![offset("t", 3, 4)], &mut sink);
    sink.records.clear();
    c.remove_topic_offsets("t", &mut sink);
    assert_eq!(sink.records.len(), 2);
    assert_eq!(committed(&c, "a", "t", 0), None);
    assert_eq!(committed(&c, "b", "t", 3), None);
    assert_eq!(committed(&c, "a", "u", 0), Some(2));
}

#[test]
fn restored_offsets_come_back_as_empty_groups() {
    let mut c = coordinator();
    c.restore(
        0,
        vec![OffsetRecord::Commit {
            group: "g".into(),
            topic: "t".into(),
            partition: 2,
            offset: super::offsets::CommittedOffset {
                offset: 42,
                leader_epoch: -1,
                metadata: String::new(),
                commit_timestamp: 0,
                expire_timestamp: None,
            },
        }],
    );
    assert_eq!(committed(&c, "g", "t", 2), Some(42));
    assert_eq!(c.status("g").unwrap().state, GroupState::Empty);
}

/// The driver: parked joins are answered by the timer task when the initial delay ends.
#[tokio::test(start_paused = true)]
async fn the_driver_completes_parked_joins_on_its_timers() {
    let config = GroupConfig {
        initial_rebalance_delay: Duration::from_secs(3),
        ..GroupConfig::default()
    };
    let service = std::sync::Arc::new(GroupService::open(config, 0, None).unwrap());
    let args = |member_id: &str| JoinArgs {
        member_id: member_id.into(),
        client_id: "c".into(),
        session_timeout: 10_000,
        rebalance_timeout: 60_000,
        protocol_type: "consumer".into(),
        protocols: vec![Protocol {
            name: "range".into(),
            metadata: subscription(&["t"]),
        }],
        ..JoinArgs::default()
    };
    let started = tokio::time::Instant::now();
    let a = {
        let s = service.clone();
        let args = args("");
        tokio::spawn(async move { s.join("g", args).await })
    };
    let b = {
        let s = service.clone();
        let args = args("");
        tokio::spawn(async move { s.join("g", args).await })
    };
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!(a.error, ErrorCode::None);
    assert_eq!(a.generation_id, 1);
    assert_eq!(b.generation_id, 1);
    assert_eq!(a.leader, b.leader);
    // The second member arrived during the first delay, which was extended once.
    assert_eq!(started.elapsed(), Duration::from_secs(6));
    let status = service
        .wait_for_state("g", GroupState::CompletingRebalance, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(status.members.len(), 2);
    // Nobody syncs or heartbeats: the sync timeout, then the sessions, empty the group.
    let empty = service
        .wait_for_state("g", GroupState::Empty, Duration::from_secs(120))
        .await
        .unwrap();
    assert!(empty.members.is_empty());
    let missing = service
        .wait_for_state("nope", GroupState::Stable, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(missing.group, "nope");
}
