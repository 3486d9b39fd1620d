//! Leadership changes under a consuming group, on three in-process companion brokers: a
//! partition leader stopped and restarted, leadership moved to another replica (a new leader
//! epoch, so the old epoch in fetches is fenced), and the group coordinator stopped. Every
//! acknowledged record must still arrive.
//!
//! Needs the in-process cluster's fault controls; skipped against `KAFKA_TEST_BOOTSTRAP`.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::worker::Worker;
use support::{TestCluster, assert_all_seen, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumption_survives_leader_and_coordinator_failures() {
    let cluster = Arc::new(TestCluster::with_brokers(3).await);
    let Some(handle) = cluster.handle() else {
        println!("skipped: needs the in-process cluster to stop brokers");
        return;
    };
    let topic = unique("failover");
    cluster.create_topic(&topic, 3, 3).await;
    let group = unique("g");
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (cluster, topic, stop) = (cluster.clone(), topic.clone(), stop.clone());
        tokio::spawn(async move {
            let mut produced = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                for p in 0..3 {
                    let v = format!("{p}-{i}");
                    cluster.produce(&topic, p, std::slice::from_ref(&v)).await;
                    produced.push(v);
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            produced
        })
    };
    let w = Worker::start("w", cluster.consumer_config(Some(&group)), &[&topic]).await;
    support::eventually("consuming", || async { w.values().len() > 30 }).await;

    // Stop a partition leader that is not the group coordinator, then bring it back.
    let coordinator = handle.coordinator_for(&group);
    let victim = (0..3)
        .filter_map(|p| handle.partition(&topic, p)?.leader)
        .find(|&l| Some(l) != coordinator)
        .expect("some leader is not the coordinator");
    tracing::info!(victim, ?coordinator, "stopping a leader");
    handle.stop_broker(victim).await.unwrap();
    let n = w.values().len();
    support::eventually("consuming after the leader stopped", || async {
        w.values().len() > n + 30
    })
    .await;
    handle.start_broker(victim).await.unwrap();

    // Move a leadership: the new epoch fences fetches carrying the old one.
    let moved = handle.move_leader(&topic, 1, None).unwrap();
    tracing::info!(leader = ?moved.leader, epoch = moved.leader_epoch, "moved leader of partition 1");
    let n = w.values().len();
    support::eventually("consuming after the move", || async {
        w.values().len() > n + 30
    })
    .await;

    // Stop the coordinator: the member finds the new one and carries on.
    if let Some(c) = handle.coordinator_for(&group) {
        tracing::info!(coordinator = c, "stopping the coordinator");
        handle.stop_broker(c).await.unwrap();
        let n = w.values().len();
        support::eventually("consuming after the coordinator stopped", || async {
            w.values().len() > n + 30
        })
        .await;
        handle.start_broker(c).await.unwrap();
    }

    stop.store(true, Ordering::Relaxed);
    let produced = producer.await.unwrap();
    support::wait_until(Duration::from_secs(30), || async {
        let seen: std::collections::BTreeSet<String> = w.values().into_iter().collect();
        produced.iter().all(|v| seen.contains(v))
    })
    .await;
    let mut seen = BTreeMap::new();
    for v in w.values() {
        *seen.entry(v).or_insert(0usize) += 1;
    }
    assert_all_seen(&seen, &produced);
    w.close().await;
    Arc::try_unwrap(cluster).ok().unwrap().stop().await;
}
