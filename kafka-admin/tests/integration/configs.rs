//! Configs: describe (topics and brokers, with synonyms) and incremental alter (SET, DELETE,
//! APPEND, SUBTRACT, validate-only).

use std::collections::HashMap;

use kafka_admin::{
    AdminClient, AdminError, AdminOptions, AlterConfigOp, ConfigEntry, ConfigResource,
    ConfigResourceType, ConfigSource, NewTopic,
};
use kafka_protocol::ErrorCode;

use crate::support::{TestCluster, create_topic, eventually, unique, wait_for_topic};

/// Config `name` of `topic`.
async fn entry(admin: &AdminClient, topic: &str, name: &str) -> ConfigEntry {
    let resource = ConfigResource::topic(topic);
    let described = admin
        .describe_configs([resource.clone()], &AdminOptions::new())
        .await;
    let entries = described[&resource].as_ref().expect("described");
    entries
        .iter()
        .find(|e| e.name == name)
        .cloned()
        .expect("config listed")
}

/// The value of `name` in `topic`'s configs.
async fn topic_config(admin: &AdminClient, topic: &str, name: &str) -> Option<String> {
    entry(admin, topic, name).await.value
}

#[tokio::test]
async fn describe_configs_of_topics_and_brokers() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let topic = unique("configs");
    let created = admin
        .create_topics(
            [NewTopic::new(&topic, 1, 1).config("retention.ms", "7200000")],
            &AdminOptions::new(),
        )
        .await;
    created[&topic].as_ref().unwrap();
    wait_for_topic(&admin, &topic, 1).await;
    let broker = admin
        .describe_cluster(&AdminOptions::new())
        .await
        .unwrap()
        .brokers[0]
        .id;
    let (t, b, missing, bad) = (
        ConfigResource::topic(&topic),
        ConfigResource::broker(broker),
        ConfigResource::topic(unique("no-configs")),
        ConfigResource::new(ConfigResourceType::Broker, "not-a-node-id"),
    );
    let results = admin
        .describe_configs(
            [t.clone(), b.clone(), missing.clone(), bad.clone()],
            &AdminOptions::new().include_synonyms(true),
        )
        .await;

    let entries = results[&t].as_ref().unwrap();
    let retention = entries.iter().find(|e| e.name == "retention.ms").unwrap();
    assert_eq!(retention.value.as_deref(), Some("7200000"));
    assert_eq!(retention.source, ConfigSource::DynamicTopic);
    assert!(!retention.is_default());
    assert_eq!(retention.synonyms[0].source, ConfigSource::DynamicTopic);
    assert!(
        retention.synonyms.len() >= 2,
        "the broker setting it falls back to"
    );
    let cleanup = entries.iter().find(|e| e.name == "cleanup.policy").unwrap();
    assert_ne!(cleanup.source, ConfigSource::DynamicTopic);

    assert!(!results[&b].as_ref().unwrap().is_empty());
    assert_eq!(
        results[&missing].as_ref().unwrap_err().code(),
        Some(ErrorCode::UnknownTopicOrPartition)
    );
    assert!(matches!(results[&bad], Err(AdminError::InvalidArgument(_))));

    let plain = admin
        .describe_configs([t.clone()], &AdminOptions::new())
        .await;
    let entries = plain[&t].as_ref().unwrap();
    assert!(
        entries.iter().all(|e| e.synonyms.is_empty()),
        "not asked for"
    );
    cluster.stop().await;
}

#[tokio::test]
async fn incremental_alter_configs_applies_each_operation() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let topic = unique("altered");
    create_topic(&admin, &topic, 1).await;
    let t = ConfigResource::topic(&topic);

    let set = admin
        .incremental_alter_configs(
            [(
                t.clone(),
                vec![
                    AlterConfigOp::set("retention.ms", "1000000"),
                    // "delete" is already the default: appending it makes it an override (the
                    // companion broker refuses "compact", as it cannot compact).
                    AlterConfigOp::append("cleanup.policy", "delete"),
                ],
            )],
            &AdminOptions::new(),
        )
        .await;
    set[&t].as_ref().unwrap();
    eventually("retention.ms is set", || async {
        topic_config(&admin, &topic, "retention.ms")
            .await
            .as_deref()
            == Some("1000000")
    })
    .await;
    let cleanup = entry(&admin, &topic, "cleanup.policy").await;
    assert_eq!(cleanup.value.as_deref(), Some("delete"));
    assert_eq!(cleanup.source, ConfigSource::DynamicTopic);

    let validated = admin
        .incremental_alter_configs(
            [(t.clone(), vec![AlterConfigOp::set("retention.ms", "5")])],
            &AdminOptions::new().validate_only(true),
        )
        .await;
    validated[&t].as_ref().unwrap();
    assert_eq!(
        topic_config(&admin, &topic, "retention.ms")
            .await
            .as_deref(),
        Some("1000000"),
        "validate-only changes nothing"
    );

    let changes: HashMap<ConfigResource, Vec<AlterConfigOp>> = HashMap::from([(
        t.clone(),
        vec![
            AlterConfigOp::delete("retention.ms"),
            AlterConfigOp::subtract("cleanup.policy", "compact"),
        ],
    )]);
    let reverted = admin
        .incremental_alter_configs(changes, &AdminOptions::new())
        .await;
    reverted[&t].as_ref().unwrap();
    eventually("retention.ms is back to its default", || async {
        entry(&admin, &topic, "retention.ms").await.source != ConfigSource::DynamicTopic
    })
    .await;
    assert_eq!(
        topic_config(&admin, &topic, "cleanup.policy")
            .await
            .as_deref(),
        Some("delete"),
        "subtracting what is not there changes nothing"
    );
    cluster.stop().await;
}

#[tokio::test]
async fn incremental_alter_configs_fails_per_resource() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let (good, bad_op) = (unique("alter-good"), unique("alter-bad"));
    create_topic(&admin, &good, 1).await;
    create_topic(&admin, &bad_op, 1).await;
    let missing = ConfigResource::topic(unique("alter-missing"));
    let (g, b) = (ConfigResource::topic(&good), ConfigResource::topic(&bad_op));
    let results = admin
        .incremental_alter_configs(
            [
                (
                    g.clone(),
                    vec![AlterConfigOp::set("retention.ms", "123456")],
                ),
                // APPEND only applies to list configs.
                (b.clone(), vec![AlterConfigOp::append("retention.ms", "1")]),
                (
                    missing.clone(),
                    vec![AlterConfigOp::set("retention.ms", "1")],
                ),
            ],
            &AdminOptions::new(),
        )
        .await;
    assert!(results[&g].is_ok());
    assert_eq!(
        results[&b].as_ref().unwrap_err().code(),
        Some(ErrorCode::InvalidRequest)
    );
    assert_eq!(
        results[&missing].as_ref().unwrap_err().code(),
        Some(ErrorCode::UnknownTopicOrPartition)
    );
    eventually("retention.ms is set", || async {
        topic_config(&admin, &good, "retention.ms").await.as_deref() == Some("123456")
    })
    .await;
    cluster.stop().await;
}
