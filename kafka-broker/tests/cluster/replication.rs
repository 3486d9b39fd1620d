//! Replication while every broker runs: acks=all produces on every follower when
//! acknowledged, requests to non-leaders refused, min.insync.replicas, and fetches that stop
//! at the high watermark.

use std::time::Duration;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::ApiKey;

use crate::common::{
    self, batch, connect_to, fetch, fetch_request, list_offset, produce_request, start_cluster,
    unique_topic,
};
use crate::support::{WAIT, create, delete_records, leader, produce_to, read_all, values};

#[tokio::test]
async fn acks_all_is_on_every_follower_when_acknowledged() {
    let cluster = start_cluster(3, |b| b).await;
    let topic = unique_topic("cluster-acks");
    let id = create(&cluster, &topic, 1, 3, &[]).await;
    let l = leader(&cluster, &topic, 0);
    let mut c = connect_to(&cluster, l).await;
    for i in 0..20 {
        let v = format!("v{i}");
        let (err, offset) = produce_to(&mut c, &topic, 0, -1, batch(&[&v], 1_000 + i)).await;
        assert_eq!((err, offset), (ErrorCode::None, i));
        // Acknowledged: every in-sync replica has it, and the high watermark covers it.
        for node in 0..3 {
            assert_eq!(
                cluster.replica_log_end_offset(node, &topic, 0),
                Some(i + 1),
                "broker {node} after record {i}"
            );
        }
        assert_eq!(cluster.partition(&topic, 0).unwrap().high_watermark, i + 1);
    }
    // The followers' logs are the leader's, byte for byte (offsets and leader epochs kept).
    let leader_bytes = cluster.read_replica(l, &topic, 0, 0, 1 << 20).unwrap();
    for node in 0..3 {
        assert_eq!(
            cluster.read_replica(node, &topic, 0, 0, 1 << 20).unwrap(),
            leader_bytes
        );
    }
    let all = read_all(&cluster, &topic, id).await;
    assert_eq!(all.len(), 20);
    assert_eq!(all[19], (19, "v19".to_string()));
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn non_leaders_answer_not_leader_or_follower() {
    let cluster = start_cluster(3, |b| b).await;
    let topic = unique_topic("cluster-notleader");
    let id = create(&cluster, &topic, 1, 3, &[]).await;
    let l = leader(&cluster, &topic, 0);
    let f = (l + 1) % 3;
    let mut c = connect_to(&cluster, f).await;
    let (err, _) = produce_to(&mut c, &topic, 0, -1, batch(&["x"], 1)).await;
    assert_eq!(err, ErrorCode::NotLeaderOrFollower);
    let resp = c
        .call(11, produce_request(&topic, 0, 1, batch(&["x"], 1)))
        .await;
    let p = &resp.responses[0].partition_responses[0];
    assert_eq!(p.current_leader.leader_id, l, "v10+ names the leader");
    let p = fetch(&mut c, &topic, id, 0, 0, 12).await;
    assert_eq!(
        ErrorCode::from_code(p.error_code),
        ErrorCode::NotLeaderOrFollower
    );
    assert_eq!(
        (p.current_leader.leader_id, p.current_leader.leader_epoch),
        (l, 0)
    );
    let (err, _, _) = list_offset(&mut c, &topic, 0, -1).await;
    assert_eq!(ErrorCode::from_code(err), ErrorCode::NotLeaderOrFollower);
    let resp = delete_records(&mut c, &topic, 0, -1).await;
    assert_eq!(
        ErrorCode::from_code(resp.topics[0].partitions[0].error_code),
        ErrorCode::NotLeaderOrFollower
    );
    // Nothing was appended anywhere.
    for node in 0..3 {
        assert_eq!(cluster.replica_log_end_offset(node, &topic, 0), Some(0));
    }
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn min_insync_replicas_refuses_acks_all_when_the_isr_is_too_small() {
    let cluster = start_cluster(3, |b| b).await;
    let topic = unique_topic("cluster-minisr");
    create(&cluster, &topic, 1, 3, &[("min.insync.replicas", "3")]).await;
    let l = leader(&cluster, &topic, 0);
    let mut c = connect_to(&cluster, l).await;
    assert_eq!(
        produce_to(&mut c, &topic, 0, -1, batch(&["a"], 1)).await,
        (ErrorCode::None, 0)
    );
    cluster.stop_broker((l + 1) % 3).await.unwrap();
    let (err, _) = produce_to(&mut c, &topic, 0, -1, batch(&["b"], 2)).await;
    assert_eq!(err, ErrorCode::NotEnoughReplicas);
    assert_eq!(
        cluster.replica_log_end_offset(l, &topic, 0),
        Some(1),
        "nothing appended"
    );
    // acks=1 does not care.
    assert_eq!(
        produce_to(&mut c, &topic, 0, 1, batch(&["c"], 3)).await,
        (ErrorCode::None, 1)
    );
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn fetches_stop_at_the_high_watermark() {
    let cluster = start_cluster(3, |b| b).await;
    let topic = unique_topic("cluster-hw");
    let id = create(&cluster, &topic, 1, 3, &[]).await;
    let l = leader(&cluster, &topic, 0);
    let followers: Vec<i32> = (0..3).filter(|&n| n != l).collect();
    let mut c = connect_to(&cluster, l).await;
    assert_eq!(
        produce_to(&mut c, &topic, 0, -1, batch(&["a"], 1)).await.0,
        ErrorCode::None
    );
    // Both followers frozen out of the ISR: the leader alone acknowledges, and the high
    // watermark follows its log end.
    cluster.shrink_isr(&topic, 0, &followers).unwrap();
    assert_eq!(
        produce_to(&mut c, &topic, 0, 1, batch(&["b"], 2)).await.0,
        ErrorCode::None
    );
    let p = fetch(&mut c, &topic, id, 0, 0, 12).await;
    assert_eq!(p.high_watermark, 2);
    // Followers frozen: they did not copy it.
    for f in &followers {
        assert_eq!(cluster.replica_log_end_offset(*f, &topic, 0), Some(1));
    }
    cluster.clear_faults();
    cluster
        .wait_for_isr(&topic, 0, &[0, 1, 2], WAIT)
        .await
        .unwrap();
    // A long-poll fetch past the high watermark waits, and is woken by the next commit.
    let v = c.version(ApiKey::Fetch, 12);
    let mut waiter = connect_to(&cluster, l).await;
    let sent = waiter
        .send(v, fetch_request(&topic, id, 0, 2, 5_000, 1))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        produce_to(&mut c, &topic, 0, -1, batch(&["c"], 3)).await.0,
        ErrorCode::None
    );
    let frame = waiter.read_frame().await.unwrap();
    let resp =
        common::decode::<kafka_protocol::messages::fetch_request::FetchRequest>(&frame, v, sent);
    let p = common::only_partition(&resp);
    assert_eq!(
        values(p.records.as_ref().unwrap()),
        vec![(2, "c".to_string())]
    );
    cluster.shutdown().await.unwrap();
}
