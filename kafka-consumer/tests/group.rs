//! Consumer groups against the companion broker (or `KAFKA_TEST_BOOTSTRAP`): members sharing
//! a topic, independent groups, every assignor, cooperative rebalancing, crashes and
//! restarts, static membership, poll timeouts and pattern subscriptions.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kafka_consumer::TopicPartition;
use support::worker::{Event, Worker};
use support::{TestCluster, assert_all_seen, eventually, unique};

fn partitions(topic: &str, n: i32) -> BTreeSet<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

/// Waits until the workers' assignments are disjoint, cover `all`, and have these sizes.
async fn wait_for_split(workers: &[&Worker], all: &BTreeSet<TopicPartition>, sizes: &[usize]) {
    let mut want = sizes.to_vec();
    want.sort();
    eventually(&format!("assignment sizes {want:?}"), || async {
        let assigned: Vec<BTreeSet<TopicPartition>> =
            workers.iter().map(|w| w.assigned()).collect();
        let mut got: Vec<usize> = assigned.iter().map(BTreeSet::len).collect();
        got.sort();
        let union: BTreeSet<TopicPartition> = assigned.iter().flatten().cloned().collect();
        let total: usize = assigned.iter().map(BTreeSet::len).sum();
        got == want && union == *all && total == all.len()
    })
    .await;
}

fn seen_counts(workers: &[&Worker], extra: &[Vec<String>]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for v in workers
        .iter()
        .flat_map(|w| w.values())
        .chain(extra.iter().flatten().cloned())
    {
        *seen.entry(v).or_insert(0) += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_to_four_members_share_three_partitions() {
    let cluster = TestCluster::start().await;
    let topic = unique("share");
    cluster.create_topic(&topic, 3, 1).await;
    let mut expected = cluster.fill(&topic, 3, 50).await;
    let all = partitions(&topic, 3);
    let group = unique("g");
    let config = || cluster.consumer_config(Some(&group));

    let w1 = Worker::start("w1", config(), &[&topic]).await;
    wait_for_split(&[&w1], &all, &[3]).await;
    let w2 = Worker::start("w2", config(), &[&topic]).await;
    wait_for_split(&[&w1, &w2], &all, &[2, 1]).await;
    expected.extend(cluster.fill(&topic, 3, 10).await);
    let w3 = Worker::start("w3", config(), &[&topic]).await;
    wait_for_split(&[&w1, &w2, &w3], &all, &[1, 1, 1]).await;
    let w4 = Worker::start("w4", config(), &[&topic]).await;
    wait_for_split(&[&w1, &w2, &w3, &w4], &all, &[1, 1, 1, 0]).await;
    expected.extend(cluster.fill(&topic, 3, 10).await);
    let members = [&w1, &w2, &w3, &w4];
    eventually("every record arrives", || async {
        let seen = seen_counts(&members, &[]);
        expected.iter().all(|v| seen.contains_key(v))
    })
    .await;
    assert!(
        members.iter().any(|w| w.assigned().is_empty()),
        "the fourth member idles"
    );
    for w in [w1, w2, w3, w4] {
        w.close().await;
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_read_the_same_topic_independently() {
    let cluster = TestCluster::start().await;
    let topic = unique("indep");
    cluster.create_topic(&topic, 3, 1).await;
    let expected = cluster.fill(&topic, 3, 40).await;
    let a = Worker::start("a", cluster.consumer_config(Some(&unique("ga"))), &[&topic]).await;
    let b = Worker::start("b", cluster.consumer_config(Some(&unique("gb"))), &[&topic]).await;
    for w in [&a, &b] {
        eventually("the group reads everything", || async {
            w.values().len() >= expected.len()
        })
        .await;
        let seen = seen_counts(&[w], &[]);
        assert_all_seen(&seen, &expected);
        assert!(
            seen.values().all(|&n| n == 1),
            "no duplicates without rebalances"
        );
    }
    a.close().await;
    b.close().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_assignor_in_a_live_group() {
    let cluster = TestCluster::start().await;
    let t1 = unique("as1");
    let t2 = unique("as2");
    cluster.create_topic(&t1, 3, 1).await;
    cluster.create_topic(&t2, 2, 1).await;
    let all: BTreeSet<TopicPartition> = partitions(&t1, 3)
        .into_iter()
        .chain(partitions(&t2, 2))
        .collect();
    for assignor in ["range", "roundrobin", "sticky", "cooperative-sticky"] {
        let group = unique(assignor);
        let config = || {
            cluster
                .consumer_config(Some(&group))
                .with_assignors([assignor])
        };
        let ws = [
            Worker::start("a", config(), &[&t1, &t2]).await,
            Worker::start("b", config(), &[&t1, &t2]).await,
            Worker::start("c", config(), &[&t1, &t2]).await,
        ];
        let refs: Vec<&Worker> = ws.iter().collect();
        // Range hands each member one partition of t1 and the first two t2's: 2, 2, 1
        // as well, but per topic.
        wait_for_split(&refs, &all, &[2, 2, 1]).await;
        for w in &ws {
            assert_eq!(w.protocol.lock().as_deref(), Some(assignor));
            if assignor == "range" {
                let of_t1 = w.assigned().iter().filter(|tp| tp.topic == t1).count();
                assert_eq!(
                    of_t1, 1,
                    "range: one partition of the 3-partition topic each"
                );
            }
        }
        // Stickiness: when one member leaves, the others keep what they had.
        let [a, b, c] = ws;
        let (before_a, before_b) = (a.assigned(), b.assigned());
        c.close().await;
        wait_for_split(&[&a, &b], &all, &[3, 2]).await;
        if assignor.contains("sticky") {
            assert!(
                a.assigned().is_superset(&before_a),
                "{assignor}: a kept its partitions"
            );
            assert!(
                b.assigned().is_superset(&before_b),
                "{assignor}: b kept its partitions"
            );
        }
        a.close().await;
        b.close().await;
    }
    cluster.stop().await;
}

/// Produces to every partition of `topic` until `stop`, returning every value produced.
fn background_producer(
    cluster: Arc<TestCluster>,
    topic: String,
    partitions: i32,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut produced = Vec::new();
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            for p in 0..partitions {
                let v = format!("{p}-live-{i}");
                cluster.produce(&topic, p, std::slice::from_ref(&v)).await;
                produced.push(v);
            }
            i += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        produced
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_rebalance_keeps_unmoved_partitions_flowing() {
    let cluster = Arc::new(TestCluster::start().await);
    let topic = unique("coop");
    cluster.create_topic(&topic, 3, 1).await;
    let all = partitions(&topic, 3);
    let group = unique("g");
    let config = || {
        cluster
            .consumer_config(Some(&group))
            .with_assignors(["cooperative-sticky"])
    };
    let a = Worker::start("a", config(), &[&topic]).await;
    wait_for_split(&[&a], &all, &[3]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let producer = background_producer(cluster.clone(), topic.clone(), 3, stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;

    let joined_at = Instant::now();
    let b = Worker::start("b", config(), &[&topic]).await;
    wait_for_split(&[&a, &b], &all, &[2, 1]).await;
    let stable_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let produced = producer.await.unwrap();

    // a gave up exactly the partition b got, nothing else, and never lost anything.
    let moved = b.assigned();
    let kept = a.assigned();
    let events = a.events.events();
    let revoked: BTreeSet<TopicPartition> = events
        .iter()
        .filter_map(|e| match e {
            Event::Revoked(p) => Some(p.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(
        revoked, moved,
        "only the moving partition is revoked: {events:?}"
    );
    assert!(!events.iter().any(|e| matches!(e, Event::Lost(_))));
    // The kept partitions delivered records while the group rebalanced.
    let during: Vec<i32> = a
        .seen
        .lock()
        .iter()
        .filter(|s| s.at > joined_at && s.at < stable_at)
        .map(|s| s.partition)
        .collect();
    assert!(
        kept.iter().any(|tp| during.contains(&tp.partition)),
        "kept partitions {kept:?} went quiet during the rebalance ({} records then)",
        during.len()
    );
    eventually("all records arrive", || async {
        let seen = seen_counts(&[&a, &b], &[]);
        produced.iter().all(|v| seen.contains_key(v))
    })
    .await;
    a.close().await;
    b.close().await;
    Arc::try_unwrap(cluster).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_members_lose_nothing() {
    let cluster = Arc::new(TestCluster::start().await);
    let topic = unique("crash");
    cluster.create_topic(&topic, 3, 1).await;
    let all = partitions(&topic, 3);
    let group = unique("g");
    let config = || cluster.consumer_config(Some(&group));
    let stop = Arc::new(AtomicBool::new(false));
    let producer = background_producer(cluster.clone(), topic.clone(), 3, stop.clone());

    let a = Worker::start("a", config(), &[&topic]).await;
    let b = Worker::start("b", config(), &[&topic]).await;
    let c = Worker::start("c", config(), &[&topic]).await;
    wait_for_split(&[&a, &b, &c], &all, &[1, 1, 1]).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    // c dies without a word: its partition moves once the session times out.
    let crashed_at = Instant::now();
    let c_values = c.crash().await;
    wait_for_split(&[&a, &b], &all, &[2, 1]).await;
    let moved_after = crashed_at.elapsed();
    assert!(
        cluster.is_external() || moved_after >= cluster.session_timeout() / 2,
        "moved after {moved_after:?}, before the session timeout could expire"
    );
    // A replacement joins; then b restarts cleanly.
    let d = Worker::start("d", config(), &[&topic]).await;
    wait_for_split(&[&a, &b, &d], &all, &[1, 1, 1]).await;
    let b_values = b.close().await;
    let e = Worker::start("e", config(), &[&topic]).await;
    wait_for_split(&[&a, &d, &e], &all, &[1, 1, 1]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let produced = producer.await.unwrap();
    support::wait_until(Duration::from_secs(30), || async {
        let seen = seen_counts(&[&a, &d, &e], &[c_values.clone(), b_values.clone()]);
        produced.iter().all(|v| seen.contains_key(v))
    })
    .await;
    let seen = seen_counts(&[&a, &d, &e], &[c_values, b_values]);
    assert_all_seen(&seen, &produced);
    // Gaps would show as missing values; duplicates are allowed (at-least-once).
    let dups = seen.values().filter(|&&n| n > 1).count();
    tracing::info!(duplicates = dups, records = produced.len(), "at-least-once");
    for w in [a, d, e] {
        w.close().await;
    }
    Arc::try_unwrap(cluster).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_member_rejoins_without_rebalance() {
    let cluster = TestCluster::start().await;
    let topic = unique("static");
    cluster.create_topic(&topic, 3, 1).await;
    let all = partitions(&topic, 3);
    let group = unique("g");
    let config = |id: &str| {
        cluster
            .consumer_config(Some(&group))
            .with_group_instance_id(id)
            .with_session_timeout(Duration::from_secs(10))
    };
    let s1 = Worker::start("s1", config("i1"), &[&topic]).await;
    let s2 = Worker::start("s2", config("i2"), &[&topic]).await;
    wait_for_split(&[&s1, &s2], &all, &[2, 1]).await;
    eventually("generations agree", || async {
        s1.generation.load(Ordering::Relaxed) == s2.generation.load(Ordering::Relaxed)
    })
    .await;
    let generation = s2.generation.load(Ordering::Relaxed);
    let s1_had = s1.assigned();
    let s2_events = s2.events.events().len();

    // Restart s1 within the session timeout: no LeaveGroup, same identity.
    s1.close().await;
    let s1 = Worker::start("s1-again", config("i1"), &[&topic]).await;
    eventually("s1 has its partitions back", || async {
        s1.assigned() == s1_had
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        s1.generation.load(Ordering::Relaxed),
        generation,
        "same generation"
    );
    assert_eq!(
        s2.generation.load(Ordering::Relaxed),
        generation,
        "s2 saw no rebalance"
    );
    assert_eq!(s2.events.events().len(), s2_events, "no callbacks on s2");
    s1.close().await;
    s2.close().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_that_stop_polling_leave_and_come_back() {
    let cluster = TestCluster::start().await;
    let topic = unique("poll");
    cluster.create_topic(&topic, 2, 1).await;
    let all = partitions(&topic, 2);
    let group = unique("g");
    let config = || {
        cluster
            .consumer_config(Some(&group))
            .with_max_poll_interval(Duration::from_millis(1500))
    };
    let a = Worker::start("a", config(), &[&topic]).await;
    let b = Worker::start("b", config(), &[&topic]).await;
    wait_for_split(&[&a, &b], &all, &[1, 1]).await;
    a.hold.store(true, Ordering::Relaxed);
    wait_for_split_of(&b, &all).await;
    assert!(
        a.events
            .events()
            .iter()
            .any(|e| matches!(e, Event::Lost(_))),
        "a's partitions were lost: {:?}",
        a.events.events()
    );
    a.hold.store(false, Ordering::Relaxed);
    wait_for_split(&[&a, &b], &all, &[1, 1]).await;
    a.close().await;
    b.close().await;
    cluster.stop().await;
}

async fn wait_for_split_of(w: &Worker, all: &BTreeSet<TopicPartition>) {
    eventually("one member has everything", || async {
        w.assigned() == *all
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pattern_subscriptions_follow_new_topics() {
    let cluster = TestCluster::start().await;
    let prefix = unique("pat");
    let (t1, t2, later) = (
        format!("{prefix}-a"),
        format!("{prefix}-b"),
        format!("{prefix}-c"),
    );
    cluster.create_topic(&t1, 1, 1).await;
    cluster.create_topic(&t2, 1, 1).await;
    let mut consumer = kafka_consumer::Consumer::new(cluster.consumer_config(Some(&unique("g"))))
        .await
        .unwrap();
    consumer
        .subscribe_pattern(&format!("^{}-.*", regex_escape(&prefix)))
        .unwrap();
    cluster.produce(&t1, 0, &["one".into()]).await;
    cluster.produce(&t2, 0, &["two".into()]).await;
    let mut got = BTreeSet::new();
    while got.len() < 2 {
        let r = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
            .await
            .expect("in time")
            .unwrap();
        got.insert(support::value(&r));
    }
    cluster.create_topic(&later, 1, 1).await;
    cluster.produce(&later, 0, &["three".into()]).await;
    let r = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("the new topic is picked up")
        .unwrap();
    assert_eq!(support::value(&r), "three");
    assert_eq!(consumer.subscription().len(), 3);
    consumer.close().await.unwrap();
    cluster.stop().await;
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}
