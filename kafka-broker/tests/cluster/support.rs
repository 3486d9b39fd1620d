//! Helpers shared by the cluster tests: creating a topic with a replication factor, finding
//! a partition's leader, producing to one broker, and reading records back from the leader
//! or straight from a replica's log.

use std::time::Duration;

use bytes::Bytes;
use kafka_broker::ClusterHandle;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic,
};
use kafka_protocol::messages::delete_records_response::DeleteRecordsResponse;
use kafka_protocol::records::RecordSetReader;
use kafka_protocol::{ErrorCode, Uuid};

use crate::common::{self, Client, connect_to, fetch, produce_request};

pub(crate) const WAIT: Duration = Duration::from_secs(15);

/// Creates a topic through broker 0 with `rf` replicas (-1: the default) and waits until it
/// is led everywhere; returns its id.
pub(crate) async fn create(
    cluster: &ClusterHandle,
    topic: &str,
    partitions: i32,
    rf: i16,
    configs: &[(&str, &str)],
) -> Uuid {
    let mut c = connect_to(cluster, 0).await;
    common::create_topic_rf(&mut c, topic, partitions, rf, configs).await
}

/// DeleteRecords (v2) of one partition below `offset` (-1: the high watermark).
pub(crate) async fn delete_records(
    c: &mut Client,
    topic: &str,
    partition: i32,
    offset: i64,
) -> DeleteRecordsResponse {
    c.call(
        2,
        DeleteRecordsRequest {
            topics: vec![DeleteRecordsTopic {
                name: topic.into(),
                partitions: vec![DeleteRecordsPartition {
                    partition_index: partition,
                    offset,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            timeout_ms: 1000,
            ..Default::default()
        },
    )
    .await
}

/// The partition's current leader.
pub(crate) fn leader(cluster: &ClusterHandle, topic: &str, partition: i32) -> i32 {
    cluster
        .partition(topic, partition)
        .and_then(|p| p.leader)
        .expect("a leader")
}

/// Produces one batch with acks=-1 to broker `to`: (error, base offset).
pub(crate) async fn produce_to(
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
pub(crate) fn values(records: &Bytes) -> Vec<(i64, String)> {
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
pub(crate) fn replica_values(
    cluster: &ClusterHandle,
    node: i32,
    topic: &str,
) -> Vec<(i64, String)> {
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
pub(crate) async fn read_all(cluster: &ClusterHandle, topic: &str, id: Uuid) -> Vec<(i64, String)> {
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
