//! Requests the broker does not answer: Produce with acks=0 through `send_no_response`,
//! against the companion broker (or `KAFKA_TEST_BOOTSTRAP`).

mod support;

use kafka_client::metadata::TopicSelection;
use kafka_client::{Client, Target};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use kafka_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use kafka_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kafka_protocol::messages::{RequestBody, ResponseBody};
use kafka_protocol::records::{BatchOptions, RecordBatchBuilder};
use support::{TestBroker, fast_config};

fn produce(topic: &str, value: &[u8]) -> RequestBody {
    let mut batch = RecordBatchBuilder::new(BatchOptions::default());
    batch.append(0, None, Some(value), &[]).unwrap();
    RequestBody::Produce(ProduceRequest {
        acks: 0,
        timeout_ms: 5000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(batch.build().unwrap()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

#[tokio::test]
async fn acks_zero_produce_is_written_without_waiting_for_a_response() {
    let broker = TestBroker::start().await;
    let client = Client::connect(fast_config(&broker.bootstrap()))
        .await
        .unwrap();
    let topic = format!(
        "acks0-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    client
        .send(
            Target::Controller,
            &RequestBody::CreateTopics(CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: topic.as_str().into(),
                    num_partitions: 1,
                    replication_factor: 1,
                    ..Default::default()
                }],
                timeout_ms: 5000,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    client
        .refresh_metadata(TopicSelection::topics([topic.as_str()]))
        .await
        .unwrap();
    let leader = Target::leader(topic.as_str(), 0);
    for i in 0..3u8 {
        client
            .send_no_response(leader.clone(), &produce(&topic, &[i]))
            .await
            .unwrap();
    }
    let conn = client.connection(&leader).await.unwrap();
    assert_eq!(conn.in_flight(), 0, "nothing waits for an acks=0 answer");

    // The broker handles a connection's requests in order, so the offsets request sent after
    // the produces on the same connection sees all three records.
    let list = RequestBody::ListOffsets(ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: topic.as_str().into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                timestamp: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let ResponseBody::ListOffsets(resp) = client.send(leader, &list).await.unwrap() else {
        panic!("wrong response")
    };
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    assert_eq!(p.offset, 3);
    broker.stop().await;
}
