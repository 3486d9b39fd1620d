//! What every broker of a cluster tells clients: metadata that tells the truth about
//! replicas, leaders and ISRs, group coordinators spread over the brokers, and admin changes
//! applied to every broker.

use std::collections::BTreeMap;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreateTopicsRequest,
};
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::heartbeat_request::HeartbeatRequest;

use crate::common::{batch, connect_to, metadata_request, start_cluster, unique_topic};
use crate::support::{WAIT, create, leader, produce_to};

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
