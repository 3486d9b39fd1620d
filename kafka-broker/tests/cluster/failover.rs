//! Brokers stopping and starting: leadership moving when a broker stops without losing an
//! acknowledged record, restarted brokers catching up and rejoining the ISR (also past a
//! log start moved by DeleteRecords), and a cluster restarted from its data directory.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use kafka_broker::ClusterHandle;
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::ApiKey;

use crate::common::{
    self, batch, connect_to, metadata_request, produce_request, start_cluster, unique_topic,
};
use crate::support::{
    WAIT, create, delete_records, leader, produce_to, read_all, replica_values, values,
};

/// One acks=-1 produce of `value` over a new connection to `addr`: `None` if the
/// connection fails or closes before the answer.
async fn try_produce(
    addr: std::net::SocketAddr,
    topic: &str,
    value: &str,
    ts: i64,
) -> Option<(ErrorCode, i64)> {
    use kafka_protocol::messages::produce_request::ProduceRequest;
    use kafka_protocol::messages::request_header::RequestHeader;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        let header = RequestHeader {
            request_api_key: ApiKey::Produce.key(),
            request_api_version: 11,
            correlation_id: 7,
            client_id: Some("failover-test".into()),
            ..Default::default()
        };
        let body = produce_request(topic, 0, -1, batch(&[value], ts)).into();
        let wire = kafka_protocol::frame::encode_request(&header, &body).ok()?;
        s.write_all(&wire).await.ok()?;
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.ok()?;
        let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut frame).await.ok()?;
        let resp = common::decode::<ProduceRequest>(&Bytes::from(frame), 11, 7);
        let p = &resp.responses[0].partition_responses[0];
        Some((ErrorCode::from_code(p.error_code), p.base_offset))
    };
    tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .ok()
        .flatten()
}

/// Produces `v{i}` for i in `from..` to whoever leads, retrying (same value) on retriable
/// errors and lost connections, until `stop` says so; returns the acknowledged offsets.
async fn stream(
    cluster: std::sync::Arc<ClusterHandle>,
    topic: String,
    from: i64,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<(i64, String)> {
    let mut acked = Vec::new();
    let mut i = from;
    while !*stop.borrow() {
        let Some(addr) = cluster
            .partition(&topic, 0)
            .and_then(|p| p.leader)
            .and_then(|l| cluster.broker_addr(l))
        else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let value = format!("v{i}");
        match try_produce(addr, &topic, &value, i).await {
            Some((ErrorCode::None, offset)) => {
                acked.push((offset, value));
                i += 1;
            }
            Some((e, _)) if !e.is_retriable() => panic!("produce failed: {e:?}"),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    acked
}

#[tokio::test]
async fn stopping_the_leader_mid_stream_loses_no_acknowledged_record() {
    let cluster = std::sync::Arc::new(start_cluster(3, |b| b).await);
    let topic = unique_topic("cluster-failover");
    let id = create(&cluster, &topic, 1, 3, &[]).await;
    let before = cluster.partition(&topic, 0).unwrap();
    let old = before.leader.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let producer = tokio::spawn(stream(
        std::sync::Arc::clone(&cluster),
        topic.clone(),
        0,
        stop_rx,
    ));
    cluster
        .wait_for_high_watermark(&topic, 0, 30, WAIT)
        .await
        .expect("records flow");
    cluster.stop_broker(old).await.unwrap();
    let after = cluster.wait_for_leader(&topic, 0, WAIT).await.unwrap();
    assert_ne!(after.leader, Some(old));
    assert!(after.leader_epoch > before.leader_epoch, "{after:?}");
    assert!(
        !after.isr.contains(&old),
        "a stopped broker leaves the ISR: {after:?}"
    );
    let hw = after.high_watermark;
    cluster
        .wait_for_high_watermark(&topic, 0, hw + 30, WAIT)
        .await
        .expect("records flow to the new leader");
    let _ = stop_tx.send(true);
    let acked = producer.await.unwrap();
    assert!(acked.len() >= 60, "{} acknowledged", acked.len());
    let stored: BTreeMap<i64, String> = read_all(&cluster, &topic, id).await.into_iter().collect();
    for (offset, value) in &acked {
        assert_eq!(
            stored.get(offset),
            Some(value),
            "acknowledged record at {offset}"
        );
    }
    // The old leader comes back: it truncates what it had that the new leader has not,
    // catches up and rejoins the ISR.
    cluster.start_broker(old).await.unwrap();
    let p = cluster
        .wait_for_isr(&topic, 0, &[0, 1, 2], WAIT)
        .await
        .expect("the restarted broker rejoins the ISR");
    let l = p.leader.unwrap();
    assert_eq!(
        replica_values(&cluster, old, &topic),
        replica_values(&cluster, l, &topic)
    );
    cluster.shutdown_arc().await;
}

#[tokio::test]
async fn a_restarted_follower_catches_up_and_rejoins() {
    let cluster = start_cluster(3, |b| b).await;
    let topic = unique_topic("cluster-rejoin");
    create(&cluster, &topic, 1, 3, &[]).await;
    let l = leader(&cluster, &topic, 0);
    let f = (l + 1) % 3;
    let mut c = connect_to(&cluster, l).await;
    for i in 0..5 {
        assert_eq!(
            produce_to(&mut c, &topic, 0, -1, batch(&["a"], i)).await.0,
            ErrorCode::None
        );
    }
    cluster.stop_broker(f).await.unwrap();
    let p = cluster.partition(&topic, 0).unwrap();
    assert!(!p.isr.contains(&f) && p.leader == Some(l), "{p:?}");
    // Still acknowledged by the two in-sync replicas.
    for i in 5..15 {
        assert_eq!(
            produce_to(&mut c, &topic, 0, -1, batch(&["b"], i)).await.0,
            ErrorCode::None
        );
    }
    assert_eq!(cluster.replica_log_end_offset(f, &topic, 0), Some(5));
    // Metadata names the stopped broker an offline replica.
    let resp = c.call(12, metadata_request(&[&topic], false)).await;
    assert_eq!(resp.brokers.len(), 2);
    assert_eq!(resp.topics[0].partitions[0].offline_replicas, vec![f]);
    cluster.start_broker(f).await.unwrap();
    cluster
        .wait_for_isr(&topic, 0, &[0, 1, 2], WAIT)
        .await
        .unwrap();
    assert_eq!(cluster.replica_log_end_offset(f, &topic, 0), Some(15));
    assert_eq!(
        replica_values(&cluster, f, &topic),
        replica_values(&cluster, l, &topic)
    );
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_cluster_restarts_from_its_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique_topic("cluster-persist");
    let cluster = start_cluster(3, |b| b.data_dir(dir.path())).await;
    let id = create(&cluster, &topic, 1, 3, &[]).await;
    let l = leader(&cluster, &topic, 0);
    let mut c = connect_to(&cluster, l).await;
    for i in 0..10 {
        assert_eq!(
            produce_to(&mut c, &topic, 0, -1, batch(&[&format!("p{i}")], i))
                .await
                .0,
            ErrorCode::None
        );
    }
    let before = cluster.partition(&topic, 0).unwrap();
    cluster.shutdown().await.unwrap();
    for n in 0..3 {
        assert!(
            dir.path()
                .join(format!("node-{n}"))
                .join(format!("{topic}-0"))
                .is_dir()
        );
    }
    assert!(dir.path().join("cluster-metadata.json").is_file());
    let cluster = start_cluster(3, |b| b.data_dir(dir.path())).await;
    let after = cluster.wait_for_leader(&topic, 0, WAIT).await.unwrap();
    assert_eq!(after.replicas, before.replicas);
    assert!(after.leader_epoch > before.leader_epoch);
    assert_eq!(after.high_watermark, 10);
    let all = read_all(&cluster, &topic, id).await;
    assert_eq!(all.len(), 10);
    assert_eq!(all[9].1, "p9");
    // And takes new records, replicated as before.
    let mut c = connect_to(&cluster, after.leader.unwrap()).await;
    assert_eq!(
        produce_to(&mut c, &topic, 0, -1, batch(&["more"], 99)).await,
        (ErrorCode::None, 10)
    );
    cluster.shutdown().await.unwrap();
}

trait ShutdownArc {
    async fn shutdown_arc(self);
}

impl ShutdownArc for std::sync::Arc<ClusterHandle> {
    async fn shutdown_arc(self) {
        match std::sync::Arc::try_unwrap(self) {
            Ok(c) => c.shutdown().await.unwrap(),
            Err(_) => panic!("the cluster handle is still shared"),
        }
    }
}

#[tokio::test]
async fn followers_follow_delete_records_and_restart_past_a_moved_log_start() {
    let cluster = start_cluster(3, |b| b).await;
    let topic = unique_topic("cluster-delete");
    create(&cluster, &topic, 1, 3, &[]).await;
    let l = leader(&cluster, &topic, 0);
    let f = (l + 1) % 3;
    let mut c = connect_to(&cluster, l).await;
    assert_eq!(
        produce_to(&mut c, &topic, 0, -1, batch(&["a", "b", "c"], 1))
            .await
            .0,
        ErrorCode::None
    );
    cluster.stop_broker(f).await.unwrap();
    for i in 0..2 {
        assert_eq!(
            produce_to(&mut c, &topic, 0, -1, batch(&["d", "e", "f"], 10 + i))
                .await
                .0,
            ErrorCode::None
        );
    }
    // Delete up to the middle of the last batch (offsets 6..8).
    let resp = delete_records(&mut c, &topic, 0, 7).await;
    assert_eq!(resp.topics[0].partitions[0].error_code, 0);
    assert_eq!(resp.topics[0].partitions[0].low_watermark, 7);
    // The other follower follows the new log start.
    let other = (l + 2) % 3;
    let mut followed = false;
    for _ in 0..100 {
        // Below its log start a replica has nothing to read.
        if cluster.read_replica(other, &topic, 0, 0, 1).is_none() {
            followed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(followed, "the follower's log start followed the leader's");
    // The stopped follower ends (3) before the leader's log start (7): it restarts its log
    // at the leader's first batch and catches up.
    cluster.start_broker(f).await.unwrap();
    cluster
        .wait_for_isr(&topic, 0, &[0, 1, 2], WAIT)
        .await
        .unwrap();
    assert_eq!(cluster.replica_log_end_offset(f, &topic, 0), Some(9));
    let leader_tail = cluster.read_replica(l, &topic, 0, 7, 1 << 20).unwrap();
    assert_eq!(
        cluster.read_replica(f, &topic, 0, 7, 1 << 20).unwrap(),
        leader_tail
    );
    assert_eq!(values(&leader_tail).first().map(|v| v.0), Some(6));
    cluster.shutdown().await.unwrap();
}
