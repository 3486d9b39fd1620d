//! Tests of the metadata cache with a simulated clock.

use std::time::{Duration, Instant};

use kafka_protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::{ErrorCode, Uuid};

use super::*;

const TOPIC_ID: Uuid = Uuid::from_u64_pair(1, 2);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn cache() -> MetadataCache {
    MetadataCache::new(ms(300_000), ExponentialBackoff::new(ms(100), ms(1000)))
}

fn partition(index: i32, leader: i32, epoch: i32) -> MetadataResponsePartition {
    MetadataResponsePartition {
        partition_index: index,
        leader_id: leader,
        leader_epoch: epoch,
        replica_nodes: vec![1, 2],
        isr_nodes: vec![1, 2],
        ..Default::default()
    }
}

fn topic(
    name: &str,
    id: Uuid,
    partitions: Vec<MetadataResponsePartition>,
) -> MetadataResponseTopic {
    MetadataResponseTopic {
        name: Some(name.into()),
        topic_id: id,
        partitions,
        ..Default::default()
    }
}

fn response(topics: Vec<MetadataResponseTopic>) -> MetadataResponse {
    MetadataResponse {
        brokers: vec![
            MetadataResponseBroker {
                node_id: 1,
                host: "h1".into(),
                port: 9092,
                ..Default::default()
            },
            MetadataResponseBroker {
                node_id: 2,
                host: "h2".into(),
                port: 9093,
                rack: Some("r2".into()),
                ..Default::default()
            },
        ],
        cluster_id: Some("c".into()),
        controller_id: 2,
        topics,
        ..Default::default()
    }
}

fn apply(c: &mut MetadataCache, resp: MetadataResponse, now: Instant) -> Arc<Cluster> {
    let ticket = c.begin_refresh();
    c.update(&resp, &TopicSelection::topics(["t"]), ticket, now)
}

#[test]
fn leaders_ids_and_counts_come_from_the_response() {
    let t0 = Instant::now();
    let mut c = cache();
    let cl = apply(
        &mut c,
        response(vec![topic(
            "t",
            TOPIC_ID,
            vec![partition(1, 2, 5), partition(0, 1, 3)],
        )]),
        t0,
    );
    assert_eq!(cl.cluster_id(), Some("c"));
    assert_eq!(cl.controller_id(), Some(2));
    assert_eq!(cl.brokers().count(), 2);
    assert_eq!(cl.broker(2).unwrap().rack.as_deref(), Some("r2"));
    assert_eq!(cl.partition_count("t"), Some(2));
    let (leader, epoch) = cl.leader_for("t", 1).unwrap();
    assert_eq!((leader.id, leader.port, epoch), (2, 9093, 5));
    assert_eq!(cl.leader_for("t", 0).unwrap().0.host, "h1");
    assert_eq!(cl.topic_id("t"), Some(TOPIC_ID));
    assert_eq!(cl.topic_name(TOPIC_ID), Some("t"));
    assert!(cl.leader_for("t", 7).is_none());
    assert!(!c.is_update_requested());
}

#[test]
fn refresh_schedule_follows_max_age_requests_and_failures() {
    let t0 = Instant::now();
    let mut c = cache();
    assert!(c.needs_refresh(t0), "never refreshed: due at once");
    apply(&mut c, response(vec![]), t0);
    assert!(!c.needs_refresh(t0 + ms(299_999)));
    assert!(c.needs_refresh(t0 + ms(300_000)));

    // An update request is honoured one retry backoff after the last refresh.
    c.request_update();
    assert_eq!(c.next_refresh_at(t0 + ms(10)), t0 + ms(100));
    assert!(c.needs_refresh(t0 + ms(100)));

    // Failures back off exponentially (jitter pinned at the midpoint).
    let t1 = t0 + ms(100);
    c.refresh_failed(t1, 0.5);
    assert_eq!(c.next_refresh_at(t1), t1 + ms(100));
    c.refresh_failed(t1 + ms(100), 0.5);
    assert_eq!(c.next_refresh_at(t1), t1 + ms(300));
    c.refresh_failed(t1 + ms(300), 0.5);
    assert_eq!(c.next_refresh_at(t1), t1 + ms(700));

    // Success resets everything.
    let t2 = t1 + ms(700);
    apply(&mut c, response(vec![]), t2);
    assert!(!c.is_update_requested());
    assert_eq!(c.next_refresh_at(t2), t2 + ms(300_000));
}

#[test]
fn leader_epochs_never_go_backwards() {
    let t0 = Instant::now();
    let mut c = cache();
    apply(
        &mut c,
        response(vec![topic("t", TOPIC_ID, vec![partition(0, 1, 10)])]),
        t0,
    );
    // A lagging broker reports the old leader with an older epoch: ignored.
    let cl = apply(
        &mut c,
        response(vec![topic("t", TOPIC_ID, vec![partition(0, 2, 9)])]),
        t0,
    );
    assert_eq!(cl.leader_for("t", 0).unwrap().0.id, 1);
    assert_eq!(cl.partition("t", 0).unwrap().leader_epoch, 10);
    // A newer epoch is taken.
    let cl = apply(
        &mut c,
        response(vec![topic("t", TOPIC_ID, vec![partition(0, 2, 11)])]),
        t0,
    );
    assert_eq!(cl.leader_for("t", 0), Some((cl.broker(2).unwrap(), 11)));
    // A recreated topic (new id) starts its epochs over.
    let new_id = Uuid::from_u64_pair(9, 9);
    let cl = apply(
        &mut c,
        response(vec![topic("t", new_id, vec![partition(0, 1, 0)])]),
        t0,
    );
    assert_eq!(cl.partition("t", 0).unwrap().leader_epoch, 0);
    assert_eq!(cl.topic_name(new_id), Some("t"));
    assert_eq!(cl.topic_name(TOPIC_ID), None);
}

#[test]
fn leader_hints_apply_only_when_newer() {
    let t0 = Instant::now();
    let mut c = cache();
    apply(
        &mut c,
        response(vec![topic("t", TOPIC_ID, vec![partition(0, 1, 4)])]),
        t0,
    );
    let generation = c.generation();
    assert!(!c.update_leader("t", 0, 2, 4), "same epoch");
    assert!(!c.update_leader("t", 0, 2, 3), "older epoch");
    assert!(c.update_leader("t", 0, 2, 5));
    assert_eq!(
        c.cluster().leader_for("t", 0).unwrap(),
        (c.cluster().broker(2).unwrap(), 5)
    );
    assert_eq!(c.generation(), generation + 1);
    assert!(!c.is_update_requested());
    // A leader the broker list does not know: applied, and a refresh is requested.
    assert!(c.update_leader("t", 0, 7, 6));
    assert!(c.is_update_requested());
    // An unknown partition asks for a refresh.
    let mut c = cache();
    assert!(!c.update_leader("x", 0, 1, 1));
    assert!(c.is_update_requested());
}

#[test]
fn stale_errors_request_updates_and_others_do_not() {
    let mut c = cache();
    for code in [
        ErrorCode::NotLeaderOrFollower,
        ErrorCode::UnknownTopicOrPartition,
        ErrorCode::LeaderNotAvailable,
        ErrorCode::FencedLeaderEpoch,
    ] {
        let mut c = cache();
        assert!(c.handle_error(code), "{code}");
        assert!(c.is_update_requested());
    }
    assert!(!c.handle_error(ErrorCode::TopicAuthorizationFailed));
    assert!(!c.handle_error(ErrorCode::MessageTooLarge));
    assert!(!c.is_update_requested());
}

#[test]
fn responses_with_missing_leaders_ask_again_with_growing_waits() {
    let t0 = Instant::now();
    let mut c = cache();
    let leaderless = || response(vec![topic("t", TOPIC_ID, vec![partition(0, -1, 1)])]);
    apply(&mut c, leaderless(), t0);
    assert!(c.is_update_requested());
    assert_eq!(c.cluster().partition("t", 0).unwrap().leader, None);
    assert!(c.cluster().leader_for("t", 0).is_none());
    assert_eq!(c.next_refresh_at(t0), t0 + ms(100));

    // Follow-up refreshes back off while responses stay stale, and reset when they are not.
    let t1 = t0 + ms(1000);
    apply(&mut c, leaderless(), t1);
    assert_eq!(c.next_refresh_at(t1), t1 + ms(200));
    apply(&mut c, leaderless(), t1);
    assert_eq!(c.next_refresh_at(t1), t1 + ms(400));
    let healthy = response(vec![topic("t", TOPIC_ID, vec![partition(0, 1, 2)])]);
    apply(&mut c, healthy, t1);
    assert!(!c.is_update_requested());
    c.request_update();
    assert_eq!(c.next_refresh_at(t1), t1 + ms(100));
}

#[test]
fn unknown_topics_are_reported_and_no_longer_polled() {
    let t0 = Instant::now();
    let mut c = cache();
    c.add_interest(["gone"]);
    let mut missing = topic("gone", Uuid::ZERO, vec![]);
    missing.error_code = ErrorCode::UnknownTopicOrPartition.code();
    let cl = apply(&mut c, response(vec![missing]), t0);
    assert_eq!(
        cl.topic("gone").unwrap().error,
        Some(ErrorCode::UnknownTopicOrPartition)
    );
    assert!(!c.is_update_requested());
    assert_eq!(c.interest(), TopicSelection::none());

    // A topic still being created (LEADER_NOT_AVAILABLE) is asked about again.
    let mut creating = topic("new", Uuid::ZERO, vec![]);
    creating.error_code = ErrorCode::LeaderNotAvailable.code();
    apply(&mut c, response(vec![creating]), t0);
    assert!(c.is_update_requested());
}

#[test]
fn a_request_made_during_a_refresh_survives_it() {
    let t0 = Instant::now();
    let mut c = cache();
    let ticket = c.begin_refresh();
    c.request_update(); // e.g. a NOT_LEADER arrived while the Metadata request was in flight
    c.update(&response(vec![]), &TopicSelection::none(), ticket, t0);
    assert!(c.is_update_requested());
    let ticket = c.begin_refresh();
    c.update(&response(vec![]), &TopicSelection::none(), ticket, t0);
    assert!(!c.is_update_requested());
}

#[test]
fn partial_refreshes_merge_and_full_ones_replace() {
    let t0 = Instant::now();
    let mut c = cache();
    let all = TopicSelection::All;
    let ticket = c.begin_refresh();
    c.update(
        &response(vec![
            topic("a", Uuid::from_u64_pair(0, 1), vec![partition(0, 1, 1)]),
            topic("b", Uuid::from_u64_pair(0, 2), vec![partition(0, 1, 1)]),
        ]),
        &all,
        ticket,
        t0,
    );
    let ticket = c.begin_refresh();
    let cl = c.update(
        &response(vec![topic(
            "a",
            Uuid::from_u64_pair(0, 1),
            vec![partition(0, 2, 2)],
        )]),
        &TopicSelection::topics(["a"]),
        ticket,
        t0,
    );
    assert!(
        cl.topic("b").is_some(),
        "a partial refresh keeps other topics"
    );
    assert_eq!(cl.leader_for("a", 0).unwrap().0.id, 2);
    let ticket = c.begin_refresh();
    let cl = c.update(&response(vec![]), &all, ticket, t0);
    assert_eq!(
        cl.topics().count(),
        0,
        "a full refresh drops deleted topics"
    );
}

#[test]
fn interest_drives_periodic_refreshes() {
    let mut c = cache();
    c.add_interest(["b", "a"]);
    assert!(c.is_update_requested());
    assert_eq!(c.interest(), TopicSelection::topics(["a", "b"]));
    c.remove_interest(&["a"]);
    assert_eq!(c.interest(), TopicSelection::topics(["b"]));
}

#[test]
fn version_moves_with_every_change_of_the_snapshot() {
    use std::sync::atomic::Ordering;
    let t0 = Instant::now();
    let mut c = cache();
    let version = c.version();
    let read = || version.load(Ordering::Acquire);
    assert_eq!(read(), 0);
    apply(
        &mut c,
        response(vec![topic("t", TOPIC_ID, vec![partition(0, 1, 4)])]),
        t0,
    );
    assert_eq!(read(), 1, "a refresh");
    assert!(!c.update_leader("t", 0, 1, 4));
    assert_eq!(read(), 1, "a hint that changes nothing");
    assert!(c.update_leader("t", 0, 1, 5));
    assert_eq!(read(), 2, "a newer leader");
    c.request_update();
    assert_eq!(read(), 2, "asking for a refresh changes nothing yet");
    c.remove_interest(&["t"]);
    assert_eq!(read(), 3, "a forgotten topic");
    assert!(c.cluster().topic("t").is_none());
}
