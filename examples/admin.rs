//! The admin client: the cluster, topics and their configs, partitions, offsets, records and
//! consumer groups.
//!
//! ```sh
//! cargo run --example admin
//! ```
//!
//! Admin calls answer per item (per topic, partition, group or config resource), so one
//! failing item does not hide the others: each result is matched on its own, and a failure
//! carries the broker's error code (`e.code()`) for programs to act on.

mod support;

use std::time::Duration;

use kafka_admin::{
    AdminClient, AdminOptions, AlterConfigOp, ConfigResource, ConfigSource, NewPartitions,
    NewTopic, OffsetAndMetadata, OffsetSpec, TopicPartition,
};
use kafka_client::config::ClientConfig;
use kafka_producer::{Producer, ProducerConfig, ProducerRecord};
use kafka_protocol::ErrorCode;
use support::{ExampleCluster, unique_topic};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = ExampleCluster::start(None).await?;
    println!("using the {}", cluster.describe());
    let admin = AdminClient::connect(
        ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap())?
            .set("client.id", "admin-example")?,
    )
    .await?;
    let options = AdminOptions::new().timeout(Duration::from_secs(15));

    // The cluster.
    let described = admin.describe_cluster(&options).await?;
    println!(
        "cluster {} with {} broker(s), controller {:?}",
        described.cluster_id.as_deref().unwrap_or("?"),
        described.brokers.len(),
        described.controller.map(|b| b.id)
    );

    // Create a topic with a config override; a second create reports TOPIC_ALREADY_EXISTS
    // for that topic only.
    let topic = unique_topic("admin-example");
    let mut new_topic = NewTopic::with_defaults(&topic).config("retention.ms", "3600000");
    new_topic.num_partitions = Some(2);
    for (name, result) in admin.create_topics([new_topic.clone()], &options).await {
        result?;
        println!("created {name}");
    }
    for (name, result) in admin.create_topics([new_topic], &options).await {
        match result {
            Err(e) if e.code() == Some(ErrorCode::TopicAlreadyExists) => {
                println!("{name} already exists, as expected")
            }
            other => println!("unexpected: {other:?}"),
        }
    }

    // Describe it, and its configs that differ from the defaults.
    let descriptions = admin.describe_topics([topic.as_str()], &options).await;
    let description = descriptions[&topic].as_ref().map_err(Clone::clone)?;
    for p in &description.partitions {
        println!(
            "  partition {} leader {:?} replicas {:?} isr {:?}",
            p.partition, p.leader, p.replicas, p.isr
        );
    }
    let resource = ConfigResource::topic(&topic);
    let show_overrides = |entries: &[kafka_admin::ConfigEntry]| {
        for c in entries
            .iter()
            .filter(|c| c.source == ConfigSource::DynamicTopic)
        {
            println!(
                "  override {} = {}",
                c.name,
                c.value.as_deref().unwrap_or("null")
            );
        }
    };
    let configs = admin.describe_configs([resource.clone()], &options).await;
    show_overrides(configs[&resource].as_ref().map_err(Clone::clone)?);

    // Change configs incrementally and grow the topic.
    let changes = vec![
        AlterConfigOp::set("retention.ms", "7200000"),
        AlterConfigOp::set("segment.bytes", "1048576"),
    ];
    admin
        .incremental_alter_configs([(resource.clone(), changes)], &options)
        .await[&resource]
        .clone()?;
    let configs = admin.describe_configs([resource.clone()], &options).await;
    show_overrides(configs[&resource].as_ref().map_err(Clone::clone)?);
    admin
        .create_partitions([(topic.as_str(), NewPartitions::increase_to(3))], &options)
        .await[&topic]
        .clone()?;
    println!("{topic} now has 3 partitions");

    // Some data, then offsets and record deletion.
    let producer =
        Producer::connect(ProducerConfig::new().set("bootstrap.servers", cluster.bootstrap())?)
            .await?;
    let mut written = Vec::new();
    for i in 0..30 {
        let record =
            ProducerRecord::new(topic.clone(), format!("record {i}")).with_partition(i % 3);
        written.push(producer.send(record).await?);
    }
    for delivery in written {
        delivery.await?;
    }
    producer.close(Duration::from_secs(10)).await?;
    let partitions: Vec<TopicPartition> = (0..3).map(|p| TopicPartition::new(&topic, p)).collect();
    let ends = admin
        .list_offsets(
            partitions.iter().map(|tp| (tp.clone(), OffsetSpec::Latest)),
            &options,
        )
        .await;
    for tp in &partitions {
        println!(
            "  {tp} ends at {}",
            ends[tp].as_ref().map_err(Clone::clone)?.offset
        );
    }
    let deleted = admin
        .delete_records([(partitions[0].clone(), 4)], &options)
        .await;
    println!(
        "  {} now starts at {}",
        partitions[0],
        deleted[&partitions[0]].as_ref().map_err(Clone::clone)?
    );

    // A consumer group's offsets, set and read back without any consumer running.
    let group = format!("{topic}-group");
    let set = admin
        .alter_consumer_group_offsets(
            &group,
            partitions
                .iter()
                .map(|tp| (tp.clone(), OffsetAndMetadata::new(5))),
            &options,
        )
        .await;
    for (tp, result) in set {
        result.map_err(|e| format!("{tp}: {e}"))?;
    }
    let committed = admin
        .list_consumer_group_offsets(&group, None, &options)
        .await?;
    println!("group {group} committed {} partition(s)", committed.len());
    let groups = admin.list_consumer_groups(&[], &options).await?;
    println!(
        "groups: {:?}",
        groups
            .groups
            .iter()
            .map(|g| g.group_id.as_str())
            .collect::<Vec<_>>()
    );
    admin
        .delete_consumer_groups([group.as_str()], &options)
        .await[&group]
        .clone()?;

    // Clean up; deleting it again fails for that topic alone.
    admin.delete_topics([topic.as_str()], &options).await[&topic].clone()?;
    let again = admin.delete_topics([topic.as_str()], &options).await;
    println!(
        "deleting again: {}",
        again[&topic]
            .as_ref()
            .err()
            .map_or("ok?".into(), |e| e.to_string())
    );
    admin.close();
    cluster.stop().await?;
    Ok(())
}
