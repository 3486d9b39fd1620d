//! Several brokers in one process: metadata that tells the truth about replicas, leaders and
//! ISRs; acks=all produces replicated to every follower; requests to non-leaders refused;
//! leadership moving when a broker stops without losing an acknowledged record; restarted
//! brokers catching up and rejoining the ISR; min.insync.replicas; group coordinators spread
//! over the brokers; a cluster restarted from its data directory.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use common::{
    Client, batch, connect_to, create_topic, fetch, fetch_request, list_offset, metadata_request,
    produce_request, start_cluster, unique_topic,
};
use kafka_broker::ClusterHandle;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic,
};
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::heartbeat_request::HeartbeatRequest;
use kafka_protocol::records::RecordSetReader;
use kafka_protocol::{ErrorCode, Uuid};

const WAIT: Duration = Duration::from_secs(15);

/// Creates a topic through broker 0 with `rf` replicas (-1: the default) and waits until it
/// is led everywhere; returns its id.
async fn create(
    cluster: &ClusterHandle,
    topic: &str,
    partitions: i32,
    rf: i16,
    configs: &[(&str, &str)],
) -> Uuid {
    let mut c = connect_to(cluster, 0).await;
    if rf == -1 {
        return create_topic(&mut c, topic, partitions, configs).await;
    }
    let v = c.version(ApiKey::CreateTopics, 7);
    let resp = c
        .call(
            v,
            CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: topic.into(),
                    num_partitions: partitions,
                    replication_factor: rf,
                    configs: configs
                        .iter()
                        .map(|(k, v)| CreatableTopicConfig {
                            name: (*k).into(),
                            value: Some((*v).into()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                timeout_ms: 30_000,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        resp.topics[0].error_code, 0,
        "{:?}",
        resp.topics[0].error_message
    );
    common::wait_for_topic(&mut c, topic, Some(partitions))
        .await
        .topics[0]
        .topic_id
}

/// The partition's current leader.
fn leader(cluster: &ClusterHandle, topic: &str, partition: i32) -> i32 {
    cluster
        .partition(topic, partition)
        .and_then(|p| p.leader)
        .expect("a leader")
}

/// Produces one batch with acks=-1 to broker `to`: (error, base offset).
async fn produce_to(
    c: &mut Client,
    topic: &str,
    partition: i32,
    acks: i16,
    records: Bytes,
) -> (ErrorCode, i64) {
    let v = c.version(ApiKey::Produce, 11);
    let resp = c
        .call(v, produce_request(topic, partition, acks, records))
        .await;
    let p = &resp.responses[0].partition_responses[0];
    (ErrorCode::from_code(p.error_code), p.base_offset)
}

/// The values of every record in `records`, with their offsets.
fn values(records: &Bytes) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for b in RecordSetReader::new(records.clone()) {
        for r in b.unwrap().records() {
            let r = r.unwrap();
            out.push((
                r.offset,
                String::from_utf8(r.value.unwrap().to_vec()).unwrap(),
            ));
        }
    }
    out
}

/// Every record of broker `node`'s replica, read from its log.
fn replica_values(cluster: &ClusterHandle, node: i32, topic: &str) -> Vec<(i64, String)> {
    let end = cluster
        .replica_log_end_offset(node, topic, 0)
        .expect("a replica");
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < end {
        let chunk = cluster
            .read_replica(node, topic, 0, offset, 1 << 20)
            .unwrap();
        let v = values(&chunk);
        offset = v.last().map_or(end, |(o, _)| o + 1);
        out.extend(v);
    }
    out
}

/// Reads every record from the partition leader (below the high watermark).
async fn read_all(cluster: &ClusterHandle, topic: &str, id: Uuid) -> Vec<(i64, String)> {
    let mut c = connect_to(cluster, leader(cluster, topic, 0)).await;
    let mut out = Vec::new();
    loop {
        let next = out.last().map_or(0, |(o, _): &(i64, String)| o + 1);
        let p = fetch(&mut c, topic, id, 0, next, 12).await;
        assert_eq!(p.error_code, 0, "fetch from the leader");
        let v = values(p.records.as_ref().unwrap());
        if v.is_empty() {
            return out;
        }
        out.extend(v);
    }
}

#[tokio::test]
async fn three_brokers_metadata_spreads_leaders_and_tells_the_truth() {
    let cluster = start_cluster(3, |b| b).await;
    let topic = unique_topic("cluster-meta");
    create(&cluster, &topic, 6, -1, &[]).await;
    let mut leaders = BTreeMap::new();
    for node in 0..3 {
        let mut c = connect_to(&cluster, node).await;
        let resp = c.call(12, metadata_request(&[&topic], false)).await;
        assert_eq!(resp.brokers.len(), 3);
        assert_eq!(resp.controller_id, 0);
        let mut ports: Vec<_> = resp.brokers.iter().map(|b| (b.node_id, b.port)).collect();
        ports.sort();
        for (id, port) in &ports {
            assert_eq!(
                i32::from(cluster.broker_addr(*id).unwrap().port()),
                *port,
                "broker {id}'s advertised port"
            );
        }
        let t = &resp.topics[0];
        assert_eq!(t.partitions.len(), 6);
        for p in &t.partitions {
            assert_eq!(p.error_code, 0);
            assert_eq!(
                p.replica_nodes.len(),
                3,
                "default replication factor min(3, N)"
            );
            assert_eq!(p.isr_nodes, p.replica_nodes);
            assert_eq!(
                p.leader_id, p.replica_nodes[0],
                "the preferred leader leads"
            );
            assert_eq!(p.leader_epoch, 0);
            if node == 0 {
                *leaders.entry(p.leader_id).or_insert(0) += 1;
            }
        }
    }
    assert_eq!(
        leaders.values().copied().collect::<Vec<_>>(),
        [2, 2, 2],
        "{leaders:?}"
    );

    // Replication factors: explicit, too large, assigned by hand.
    let mut c = connect_to(&cluster, 1).await;
    let two = unique_topic("cluster-rf2");
    let big = unique_topic("cluster-rf4");
    let assigned = unique_topic("cluster-assigned");
    let resp = c
        .call(
            7,
            CreateTopicsRequest {
                topics: vec![
                    CreatableTopic {
                        name: two.as_str().into(),
                        num_partitions: 2,
                        replication_factor: 2,
                        ..Default::default()
                    },
                    CreatableTopic {
                        name: big.as_str().into(),
                        num_partitions: 1,
                        replication_factor: 4,
                        ..Default::default()
                    },
                    CreatableTopic {
                        name: assigned.as_str().into(),
                        num_partitions: -1,
                        replication_factor: -1,
                        assignments: vec![CreatableReplicaAssignment {
                            partition_index: 0,
                            broker_ids: vec![2, 0],
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                ],
                timeout_ms: 30_000,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(resp.topics[0].replication_factor, 2);
    assert_eq!(
        ErrorCode::from_code(resp.topics[1].error_code),
        ErrorCode::InvalidReplicationFactor
    );
    assert_eq!(
        resp.topics[2].error_code, 0,
        "{:?}",
        resp.topics[2].error_message
    );
    let p = cluster.partition(&assigned, 0).unwrap();
    assert_eq!((p.replicas.clone(), p.leader), (vec![2, 0], Some(2)));
    assert_eq!(cluster.partition(&two, 1).unwrap().replicas.len(), 2);
    // Only the replicas hold a log.
    let holders: Vec<i32> = (0..3)
        .filter(|&n| cluster.replica_log_end_offset(n, &assigned, 0).is_some())
        .collect();
    assert_eq!(holders, [0, 2]);
    cluster.shutdown().await.unwrap();
}

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
    let resp = c
        .call(
            2,
            DeleteRecordsRequest {
                topics: vec![DeleteRecordsTopic {
                    name: topic.as_str().into(),
                    partitions: vec![DeleteRecordsPartition {
                        partition_index: 0,
                        offset: -1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                timeout_ms: 1000,
                ..Default::default()
            },
        )
        .await;
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
async fn group_coordinators_spread_over_the_brokers() {
    let cluster = start_cluster(3, |b| b).await;
    let mut seen = BTreeMap::new();
    for g in 0..30 {
        let group = format!("group-{g}");
        let expected = cluster.coordinator_for(&group).unwrap();
        *seen.entry(expected).or_insert(0) += 1;
        for node in [0, 2] {
            let mut c = connect_to(&cluster, node).await;
            let resp = c
                .call(
                    3,
                    FindCoordinatorRequest {
                        key: group.as_str().into(),
                        key_type: 0,
                        ..Default::default()
                    },
                )
                .await;
            assert_eq!(resp.error_code, 0);
            assert_eq!(resp.node_id, expected);
            assert_eq!(
                resp.port,
                i32::from(cluster.broker_addr(expected).unwrap().port())
            );
        }
        let wrong = (expected + 1) % 3;
        for (node, want) in [
            (wrong, ErrorCode::NotCoordinator),
            (expected, ErrorCode::UnknownMemberId),
        ] {
            let mut c = connect_to(&cluster, node).await;
            let resp = c
                .call(
                    4,
                    HeartbeatRequest {
                        group_id: group.as_str().into(),
                        generation_id: 1,
                        member_id: "m".into(),
                        ..Default::default()
                    },
                )
                .await;
            assert_eq!(
                ErrorCode::from_code(resp.error_code),
                want,
                "{group} at broker {node}"
            );
        }
    }
    assert_eq!(
        seen.len(),
        3,
        "every broker coordinates some groups: {seen:?}"
    );
    // A stopped coordinator's groups move to the live brokers.
    cluster.stop_broker(1).await.unwrap();
    for g in 0..30 {
        let group = format!("group-{g}");
        assert_ne!(cluster.coordinator_for(&group), Some(1));
    }
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
async fn admin_changes_apply_to_every_broker() {
    use kafka_protocol::messages::create_partitions_request::{
        CreatePartitionsRequest, CreatePartitionsTopic,
    };
    use kafka_protocol::messages::delete_topics_request::DeleteTopicsRequest;
    let cluster = start_cluster(3, |b| b).await;
    let topic = unique_topic("cluster-admin");
    create(&cluster, &topic, 1, 2, &[]).await;
    // CreatePartitions through broker 2: new partitions get two replicas and leaders.
    let mut c = connect_to(&cluster, 2).await;
    let resp = c
        .call(
            3,
            CreatePartitionsRequest {
                topics: vec![CreatePartitionsTopic {
                    name: topic.as_str().into(),
                    count: 3,
                    assignments: None,
                    ..Default::default()
                }],
                timeout_ms: 10_000,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        resp.results[0].error_code, 0,
        "{:?}",
        resp.results[0].error_message
    );
    for p in 0..3 {
        let info = cluster.wait_for_leader(&topic, p, WAIT).await.unwrap();
        assert_eq!(info.replicas.len(), 2);
        let l = info.leader.unwrap();
        let mut lc = connect_to(&cluster, l).await;
        assert_eq!(
            produce_to(&mut lc, &topic, p, -1, batch(&["x"], 1)).await,
            (ErrorCode::None, 0)
        );
        for r in &info.replicas {
            assert_eq!(cluster.replica_log_end_offset(*r, &topic, p), Some(1));
        }
    }
    // Every broker's registry has the three partitions.
    for n in 0..3 {
        assert_eq!(
            cluster
                .state(n)
                .unwrap()
                .topic(&topic)
                .unwrap()
                .partition_count(),
            3
        );
    }
    // Auto-creation uses the default replication factor.
    let auto = unique_topic("cluster-auto");
    let resp = c.call(12, metadata_request(&[&auto], true)).await;
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(resp.topics[0].partitions[0].replica_nodes.len(), 3);
    // DeleteTopics through broker 1 removes it everywhere; the name can be reused.
    let mut d = connect_to(&cluster, 1).await;
    let resp = d
        .call(
            4,
            DeleteTopicsRequest {
                topic_names: vec![topic.as_str().into()],
                timeout_ms: 10_000,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(resp.responses[0].error_code, 0);
    for n in 0..3 {
        assert!(cluster.state(n).unwrap().topic(&topic).is_none());
    }
    assert!(cluster.partition(&topic, 0).is_none());
    create(&cluster, &topic, 1, 3, &[]).await;
    let l = leader(&cluster, &topic, 0);
    let mut lc = connect_to(&cluster, l).await;
    assert_eq!(
        produce_to(&mut lc, &topic, 0, -1, batch(&["y"], 1)).await,
        (ErrorCode::None, 0)
    );
    cluster.shutdown().await.unwrap();
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
    let resp = c
        .call(
            2,
            DeleteRecordsRequest {
                topics: vec![DeleteRecordsTopic {
                    name: topic.as_str().into(),
                    partitions: vec![DeleteRecordsPartition {
                        partition_index: 0,
                        offset: 7,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                timeout_ms: 1000,
                ..Default::default()
            },
        )
        .await;
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
