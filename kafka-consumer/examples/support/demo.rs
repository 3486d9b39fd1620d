//! A companion broker with a demo topic, so the examples run without a cluster.

use kafka_client::{Client, ClientConfig, Target};
use kafka_protocol::messages::RequestBody;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use kafka_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kafka_protocol::records::{BatchOptions, RecordBatchBuilder};

/// The demo topic (3 partitions, 5 records each).
pub const TOPIC: &str = "demo-orders";

/// Starts the broker, creates [`TOPIC`] and writes the records.
pub async fn start() -> Result<kafka_broker::BrokerHandle, Box<dyn std::error::Error>> {
    let broker = kafka_broker::Broker::builder().start().await?;
    let config = ClientConfig::new().set("bootstrap.servers", &broker.bootstrap())?;
    let client = Client::connect(config).await?;
    let create = RequestBody::CreateTopics(CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: TOPIC.into(),
            num_partitions: 3,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 5_000,
        ..Default::default()
    });
    client.send(Target::Controller, &create).await?;
    for partition in 0..3 {
        let mut batch = RecordBatchBuilder::new(BatchOptions::default());
        for i in 0..5 {
            let value = format!("order {partition}-{i} for customer-{}", i % 2);
            let key = format!("customer-{}", i % 2);
            batch.append(0, Some(key.as_bytes()), Some(value.as_bytes()), &[])?;
        }
        let body = RequestBody::Produce(ProduceRequest {
            acks: -1,
            timeout_ms: 5_000,
            topic_data: vec![TopicProduceData {
                name: TOPIC.into(),
                partition_data: vec![PartitionProduceData {
                    index: partition,
                    records: Some(batch.build()?),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        client.send(Target::leader(TOPIC, partition), &body).await?;
    }
    client.close();
    println!(
        "demo broker at {} with topic {TOPIC}; Ctrl-C to stop",
        broker.bootstrap()
    );
    Ok(broker)
}
