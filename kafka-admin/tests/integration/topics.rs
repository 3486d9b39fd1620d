//! Topic changes: create (with configs, assignments, validate-only), delete by name and by
//! id, and add partitions.

use kafka_admin::{AdminError, AdminOptions, NewPartitions, NewTopic};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::{ErrorCode, Uuid};

use crate::support::{
    TestCluster, assert_unsupported, broker_lacks, create_topic, eventually, unique, wait_for_topic,
};

#[tokio::test]
async fn create_topics_answers_each_topic() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let (a, b, c) = (unique("create-a"), unique("create-b"), unique("create-c"));
    let first = admin
        .create_topics(
            [
                NewTopic::new(&a, 3, 1),
                NewTopic::with_defaults(&b).config("retention.ms", "3600000"),
            ],
            &AdminOptions::new(),
        )
        .await;
    let created = first[&a].as_ref().expect("a is created");
    assert_eq!(created.num_partitions, Some(3));
    assert_eq!(created.replication_factor, Some(1));
    assert!(created.topic_id.is_some(), "CreateTopics v7 returns the id");
    let retention = created
        .configs
        .iter()
        .find(|c| c.name == "retention.ms")
        .expect("v5+ lists the configs");
    assert!(retention.is_default() || retention.value.is_some());
    let b_configs = &first[&b].as_ref().expect("b is created").configs;
    let b_retention = b_configs.iter().find(|c| c.name == "retention.ms").unwrap();
    assert_eq!(b_retention.value.as_deref(), Some("3600000"));

    // a exists now: it alone fails, with the broker's code and message, while c is created.
    let second = admin
        .create_topics(
            [NewTopic::new(&a, 1, 1), NewTopic::new(&c, 2, 1)],
            &AdminOptions::new(),
        )
        .await;
    let err = second[&a].as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::TopicAlreadyExists));
    assert!(err.message().is_some_and(|m| m.contains(&a)), "{err}");
    assert_eq!(second[&c].as_ref().unwrap().num_partitions, Some(2));
    cluster.stop().await;
}

#[tokio::test]
async fn create_topics_refuses_bad_layouts_and_configs() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let (rf, config, zero, dup, good) = (
        unique("rf"),
        unique("config"),
        unique("zero"),
        unique("dup"),
        unique("good"),
    );
    let results = admin
        .create_topics(
            [
                NewTopic::new(&rf, 1, 1000),
                NewTopic::new(&config, 1, 1).config("retention.ms", "not-a-number"),
                NewTopic::new(&zero, 0, 1),
                NewTopic::new(&dup, 1, 1),
                NewTopic::new(&dup, 2, 1),
                NewTopic::new(&good, 1, 1),
            ],
            &AdminOptions::new(),
        )
        .await;
    let code = |name: &str| results[name].as_ref().unwrap_err().code();
    assert_eq!(code(&rf), Some(ErrorCode::InvalidReplicationFactor));
    assert_eq!(code(&config), Some(ErrorCode::InvalidConfig));
    assert_eq!(code(&zero), Some(ErrorCode::InvalidPartitions));
    assert!(matches!(results[&dup], Err(AdminError::InvalidArgument(_))));
    assert!(results[&good].is_ok());
    cluster.stop().await;
}

#[tokio::test]
async fn create_topics_with_an_assignment_and_validate_only() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let broker = admin
        .describe_cluster(&AdminOptions::new())
        .await
        .unwrap()
        .brokers[0]
        .id;
    let (placed, checked) = (unique("placed"), unique("checked"));
    let results = admin
        .create_topics(
            [NewTopic::with_assignment(
                &placed,
                [(0, vec![broker]), (1, vec![broker])],
            )],
            &AdminOptions::new(),
        )
        .await;
    assert_eq!(results[&placed].as_ref().unwrap().num_partitions, Some(2));

    let validated = admin
        .create_topics(
            [NewTopic::new(&checked, 2, 1)],
            &AdminOptions::new().validate_only(true),
        )
        .await;
    assert!(validated[&checked].is_ok());
    let described = admin
        .describe_topics([checked.as_str()], &AdminOptions::new())
        .await;
    let err = described[&checked].as_ref().unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UnknownTopicOrPartition),
        "nothing was created"
    );

    // A partition placed on a broker that does not exist.
    let bad = unique("bad-placement");
    let results = admin
        .create_topics(
            [NewTopic::with_assignment(&bad, [(0, vec![broker + 1000])])],
            &AdminOptions::new(),
        )
        .await;
    assert_eq!(
        results[&bad].as_ref().unwrap_err().code(),
        Some(ErrorCode::InvalidReplicaAssignment)
    );
    cluster.stop().await;
}

#[tokio::test]
async fn delete_topics_by_name() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let (doomed, missing) = (unique("doomed"), unique("missing"));
    create_topic(&admin, &doomed, 1).await;
    let results = admin
        .delete_topics([doomed.as_str(), missing.as_str()], &AdminOptions::new())
        .await;
    assert!(results[&doomed].is_ok());
    assert_eq!(
        results[&missing].as_ref().unwrap_err().code(),
        Some(ErrorCode::UnknownTopicOrPartition)
    );
    eventually("the deleted topic is not listed", || async {
        let listed = admin.list_topics(&AdminOptions::new()).await.unwrap();
        !listed.iter().any(|t| t.name == doomed)
    })
    .await;
    cluster.stop().await;
}

#[tokio::test]
async fn delete_topics_by_id() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let doomed = unique("doomed-id");
    create_topic(&admin, &doomed, 1).await;
    let id = admin
        .describe_topics([doomed.as_str()], &AdminOptions::new())
        .await[&doomed]
        .as_ref()
        .unwrap()
        .topic_id
        .expect("a topic id");
    let unknown = Uuid::from_u64_pair(0x0123_4567_89ab_cdef, 0x0fed_cba9_8765_4321);
    let results = admin
        .delete_topics_by_id([id, unknown], &AdminOptions::new())
        .await;
    assert!(results[&id].is_ok());
    assert_eq!(
        results[&unknown].as_ref().unwrap_err().code(),
        Some(ErrorCode::UnknownTopicId)
    );
    eventually("the deleted topic is not described", || async {
        let gone = admin
            .describe_topics([doomed.as_str()], &AdminOptions::new())
            .await;
        gone[&doomed].is_err()
    })
    .await;
    cluster.stop().await;
}

#[tokio::test]
async fn create_partitions_grows_topics() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let (grown, missing) = (unique("grown"), unique("no-such"));
    create_topic(&admin, &grown, 2).await;
    if broker_lacks(&admin, ApiKey::CreatePartitions, "growing topics").await {
        // All the client can do: fail each topic, without retrying until the deadline.
        let results = admin
            .create_partitions(
                [(grown.as_str(), NewPartitions::increase_to(4))],
                &AdminOptions::new(),
            )
            .await;
        assert_unsupported(&results[&grown]);
        cluster.stop().await;
        return;
    }

    let checked = admin
        .create_partitions(
            [(grown.as_str(), NewPartitions::increase_to(4))],
            &AdminOptions::new().validate_only(true),
        )
        .await;
    assert!(checked[&grown].is_ok());
    let count = async |admin: &kafka_admin::AdminClient| {
        admin
            .describe_topics([grown.as_str()], &AdminOptions::new())
            .await[&grown]
            .as_ref()
            .unwrap()
            .partitions
            .len()
    };
    assert_eq!(count(&admin).await, 2, "validate-only adds nothing");

    let results = admin
        .create_partitions(
            [
                (grown.as_str(), NewPartitions::increase_to(4)),
                (missing.as_str(), NewPartitions::increase_to(4)),
            ],
            &AdminOptions::new(),
        )
        .await;
    assert!(results[&grown].is_ok());
    assert_eq!(
        results[&missing].as_ref().unwrap_err().code(),
        Some(ErrorCode::UnknownTopicOrPartition)
    );
    wait_for_topic(&admin, &grown, 4).await;

    let shrink = admin
        .create_partitions(
            [(grown.as_str(), NewPartitions::increase_to(3))],
            &AdminOptions::new(),
        )
        .await;
    assert_eq!(
        shrink[&grown].as_ref().unwrap_err().code(),
        Some(ErrorCode::InvalidPartitions)
    );
    cluster.stop().await;
}
