//! CreateTopics, DeleteTopics, CreatePartitions and the config APIs over a real socket.

mod common;

use common::{
    Client, TestBroker, create_topic, metadata_request, produce, unique_topic, wait_for_topic,
};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::alter_configs_request::{
    AlterConfigsRequest, AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsRequest, CreatePartitionsTopic,
};
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
};
use kafka_protocol::messages::delete_topics_request::{DeleteTopicState, DeleteTopicsRequest};
use kafka_protocol::messages::describe_configs_request::{
    DescribeConfigsRequest, DescribeConfigsResource,
};
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::incremental_alter_configs_request as inc;
use kafka_protocol::{ErrorCode, KStr, Uuid};

const TOPIC: i8 = 2;
const BROKER: i8 = 4;

fn creatable(name: &str, partitions: i32, rf: i16) -> CreatableTopic {
    CreatableTopic {
        name: name.into(),
        num_partitions: partitions,
        replication_factor: rf,
        ..Default::default()
    }
}

async fn create_codes(
    c: &mut Client,
    topics: Vec<CreatableTopic>,
    validate_only: bool,
) -> Vec<i16> {
    let v = c.version(ApiKey::CreateTopics, 7);
    let resp = c
        .call(
            v,
            CreateTopicsRequest {
                topics,
                timeout_ms: 30_000,
                validate_only,
                ..Default::default()
            },
        )
        .await;
    resp.topics.iter().map(|t| t.error_code).collect()
}

#[tokio::test]
async fn create_topics_validates_like_kafka() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let name = unique_topic("ct");
    let v = c.version(ApiKey::CreateTopics, 7);
    let resp = c
        .call(
            v,
            CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    configs: vec![CreatableTopicConfig {
                        name: "retention.ms".into(),
                        value: Some("60000".into()),
                        ..Default::default()
                    }],
                    ..creatable(&name, 3, 1)
                }],
                timeout_ms: 30_000,
                ..Default::default()
            },
        )
        .await;
    let t = &resp.topics[0];
    assert_eq!(t.error_code, 0, "{:?}", t.error_message);
    if v >= 7 {
        assert_ne!(t.topic_id, Uuid::ZERO);
    }
    if v >= 5 {
        assert_eq!((t.num_partitions, t.replication_factor), (3, 1));
        let configs = t.configs.as_ref().unwrap();
        let retention = configs
            .iter()
            .find(|c| c.name.as_str() == "retention.ms")
            .unwrap();
        assert_eq!(retention.value.as_deref(), Some("60000"));
        assert_eq!(retention.config_source, 1);
    }
    wait_for_topic(&mut c, &name, Some(3)).await;

    assert_eq!(
        create_codes(&mut c, vec![creatable(&name, 1, 1)], false).await,
        [ErrorCode::TopicAlreadyExists.code()]
    );
    let fresh = unique_topic("ct2");
    assert_eq!(
        create_codes(
            &mut c,
            vec![creatable(&fresh, 1, 1), creatable(&fresh, 1, 1)],
            false
        )
        .await,
        [ErrorCode::InvalidRequest.code(); 2]
    );
    assert_eq!(
        create_codes(&mut c, vec![creatable(&fresh, 0, 1)], false).await,
        [ErrorCode::InvalidPartitions.code()]
    );
    assert_eq!(
        create_codes(&mut c, vec![creatable(&fresh, -2, 1)], false).await,
        [ErrorCode::InvalidPartitions.code()]
    );
    assert_eq!(
        create_codes(&mut c, vec![creatable(&fresh, 1, 0)], false).await,
        [ErrorCode::InvalidReplicationFactor.code()]
    );
    assert_eq!(
        create_codes(&mut c, vec![creatable("bad/name", 1, 1)], false).await,
        [ErrorCode::InvalidTopicException.code()]
    );
    let bad_config = CreatableTopic {
        configs: vec![CreatableTopicConfig {
            name: "retention.ms".into(),
            value: Some("soon".into()),
            ..Default::default()
        }],
        ..creatable(&fresh, 1, 1)
    };
    assert_eq!(
        create_codes(&mut c, vec![bad_config], false).await,
        [ErrorCode::InvalidConfig.code()]
    );
    // validate_only creates nothing.
    assert_eq!(
        create_codes(&mut c, vec![creatable(&fresh, 2, -1)], true).await,
        [0]
    );
    let resp = c
        .call(
            c.version(ApiKey::Metadata, 12),
            metadata_request(&[&fresh], false),
        )
        .await;
    assert_eq!(
        resp.topics[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );

    if tb.is_external() {
        common::skip("single-broker replication and assignment checks");
        return;
    }
    assert_eq!(
        create_codes(&mut c, vec![creatable(&fresh, 1, 3)], false).await,
        [ErrorCode::InvalidReplicationFactor.code()]
    );
    let assigned = |brokers: Vec<Vec<i32>>| CreatableTopic {
        assignments: brokers
            .into_iter()
            .enumerate()
            .map(|(i, b)| CreatableReplicaAssignment {
                partition_index: i as i32,
                broker_ids: b,
                ..Default::default()
            })
            .collect(),
        ..creatable(&fresh, -1, -1)
    };
    assert_eq!(
        create_codes(&mut c, vec![assigned(vec![vec![0], vec![5]])], false).await,
        [ErrorCode::InvalidReplicaAssignment.code()]
    );
    assert_eq!(
        create_codes(&mut c, vec![assigned(vec![vec![0], vec![0]])], false).await,
        [0]
    );
    assert_eq!(
        tb.handle()
            .unwrap()
            .state()
            .topic(&fresh)
            .unwrap()
            .partition_count(),
        2
    );
    // Compaction is not supported.
    let compact = CreatableTopic {
        configs: vec![CreatableTopicConfig {
            name: "cleanup.policy".into(),
            value: Some("compact".into()),
            ..Default::default()
        }],
        ..creatable(&unique_topic("compact"), 1, 1)
    };
    assert_eq!(
        create_codes(&mut c, vec![compact], false).await,
        [ErrorCode::InvalidConfig.code()]
    );
}

#[tokio::test]
async fn delete_topics_by_name_and_id() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let a = unique_topic("del-a");
    let b = unique_topic("del-b");
    create_topic(&mut c, &a, 1, &[]).await;
    let b_id = create_topic(&mut c, &b, 2, &[]).await;
    produce(&mut c, &a, 0, common::batch(&["x"], 1)).await;

    let v = c.version(ApiKey::DeleteTopics, 6);
    let resp = c
        .call(
            v.min(5),
            DeleteTopicsRequest {
                topic_names: vec![
                    KStr::from(a.as_str()),
                    KStr::from(unique_topic("never").as_str()),
                ],
                timeout_ms: 30_000,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(resp.responses[0].error_code, 0);
    assert_eq!(
        resp.responses[1].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    if v >= 6 {
        let resp = c
            .call(
                6,
                DeleteTopicsRequest {
                    topics: vec![
                        DeleteTopicState {
                            name: None,
                            topic_id: b_id,
                            ..Default::default()
                        },
                        DeleteTopicState {
                            name: None,
                            topic_id: Uuid::from_u64_pair(9, 9),
                            ..Default::default()
                        },
                    ],
                    timeout_ms: 30_000,
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(resp.responses[0].error_code, 0);
        assert_eq!(resp.responses[0].name.as_deref(), Some(b.as_str()));
        assert_eq!(
            resp.responses[1].error_code,
            ErrorCode::UnknownTopicId.code()
        );
    }
    // Gone (Kafka may take a moment to propagate the deletion).
    let mv = c.version(ApiKey::Metadata, 12);
    for _ in 0..50 {
        let resp = c.call(mv, metadata_request(&[&a], false)).await;
        if resp.topics[0].error_code == ErrorCode::UnknownTopicOrPartition.code() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    if !tb.is_external() {
        let resp = c.call(mv, metadata_request(&[&a], false)).await;
        assert_eq!(
            resp.topics[0].error_code,
            ErrorCode::UnknownTopicOrPartition.code()
        );
        // Recreated with the same name: a new, empty topic.
        let id = create_topic(&mut c, &a, 1, &[]).await;
        let p = common::fetch(&mut c, &a, id, 0, 0, 12).await;
        assert_eq!((p.error_code, p.high_watermark), (0, 0));
    }
}

#[tokio::test]
async fn create_partitions_only_grows() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let name = unique_topic("cp");
    create_topic(&mut c, &name, 2, &[]).await;
    let v = c.version(ApiKey::CreatePartitions, 3);
    let req = |count, validate_only, assignments: Option<Vec<CreatePartitionsAssignment>>| {
        CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: name.as_str().into(),
                count,
                assignments,
                ..Default::default()
            }],
            timeout_ms: 30_000,
            validate_only,
            ..Default::default()
        }
    };
    let code =
        |r: kafka_protocol::messages::create_partitions_response::CreatePartitionsResponse| {
            r.results[0].error_code
        };
    assert_eq!(
        code(c.call(v, req(1, false, None)).await),
        ErrorCode::InvalidPartitions.code()
    );
    assert_eq!(
        code(c.call(v, req(2, false, None)).await),
        ErrorCode::InvalidPartitions.code()
    );
    assert_eq!(code(c.call(v, req(4, true, None)).await), 0);
    wait_for_topic(&mut c, &name, Some(2)).await;
    assert_eq!(code(c.call(v, req(4, false, None)).await), 0);
    wait_for_topic(&mut c, &name, Some(4)).await;
    let p = produce(&mut c, &name, 3, common::batch(&["new"], 1)).await;
    assert_eq!((p.error_code, p.base_offset), (0, 0));
    let resp = c
        .call(
            v,
            CreatePartitionsRequest {
                topics: vec![CreatePartitionsTopic {
                    name: unique_topic("none").as_str().into(),
                    count: 3,
                    assignments: None,
                    ..Default::default()
                }],
                timeout_ms: 30_000,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        resp.results[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    if !tb.is_external() {
        let one = |b: i32| CreatePartitionsAssignment {
            broker_ids: vec![b],
            ..Default::default()
        };
        assert_eq!(
            code(c.call(v, req(6, false, Some(vec![one(0)]))).await),
            ErrorCode::InvalidReplicaAssignment.code()
        );
        assert_eq!(
            code(c.call(v, req(6, false, Some(vec![one(0), one(7)]))).await),
            ErrorCode::InvalidReplicaAssignment.code()
        );
        assert_eq!(
            code(c.call(v, req(6, false, Some(vec![one(0), one(0)]))).await),
            0
        );
    }
}

async fn describe(
    c: &mut Client,
    kind: i8,
    name: &str,
    keys: Option<&[&str]>,
) -> DescribeConfigsResult {
    let v = c.version(ApiKey::DescribeConfigs, 4);
    let mut resp = c
        .call(
            v,
            DescribeConfigsRequest {
                resources: vec![DescribeConfigsResource {
                    resource_type: kind,
                    resource_name: name.into(),
                    configuration_keys: keys.map(|k| k.iter().map(|s| KStr::from(*s)).collect()),
                    ..Default::default()
                }],
                include_synonyms: true,
                include_documentation: true,
                ..Default::default()
            },
        )
        .await;
    resp.results.remove(0)
}

fn value_of(r: &DescribeConfigsResult, name: &str) -> Option<(String, i8)> {
    r.configs.iter().find(|c| c.name.as_str() == name).map(|c| {
        (
            c.value.as_deref().unwrap_or("").to_string(),
            c.config_source,
        )
    })
}

#[tokio::test]
async fn configs_describe_alter_and_incremental() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let name = unique_topic("cfg");
    create_topic(&mut c, &name, 1, &[("retention.ms", "123456")]).await;

    let r = describe(&mut c, TOPIC, &name, None).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(value_of(&r, "retention.ms"), Some(("123456".into(), 1)));
    let (_, source) = value_of(&r, "segment.bytes").unwrap();
    assert!(
        [4, 5].contains(&source),
        "segment.bytes comes from a default"
    );
    let r = describe(&mut c, TOPIC, &name, Some(&["retention.bytes"])).await;
    assert_eq!(r.configs.len(), 1);
    let r = describe(&mut c, TOPIC, &unique_topic("nope"), None).await;
    assert_eq!(r.error_code, ErrorCode::UnknownTopicOrPartition.code());

    // Incremental: SET, DELETE, and APPEND on a non-list config.
    let iv = c.version(ApiKey::IncrementalAlterConfigs, 1);
    let inc_req = |configs: Vec<(&str, i8, Option<&str>)>| inc::IncrementalAlterConfigsRequest {
        resources: vec![inc::AlterConfigsResource {
            resource_type: TOPIC,
            resource_name: name.as_str().into(),
            configs: configs
                .into_iter()
                .map(|(n, op, v)| inc::AlterableConfig {
                    name: n.into(),
                    config_operation: op,
                    value: v.map(KStr::from),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        validate_only: false,
        ..Default::default()
    };
    let resp = c
        .call(
            iv,
            inc_req(vec![
                ("retention.bytes", 0, Some("1048576")),
                ("retention.ms", 1, None),
            ]),
        )
        .await;
    assert_eq!(
        resp.responses[0].error_code, 0,
        "{:?}",
        resp.responses[0].error_message
    );
    let r = describe(&mut c, TOPIC, &name, None).await;
    assert_eq!(value_of(&r, "retention.bytes"), Some(("1048576".into(), 1)));
    assert_ne!(
        value_of(&r, "retention.ms").unwrap().1,
        1,
        "override deleted"
    );
    let resp = c
        .call(iv, inc_req(vec![("retention.ms", 2, Some("5"))]))
        .await;
    assert_eq!(
        resp.responses[0].error_code,
        ErrorCode::InvalidRequest.code()
    );
    let resp = c
        .call(iv, inc_req(vec![("retention.ms", 0, Some("not-a-number"))]))
        .await;
    assert_eq!(
        resp.responses[0].error_code,
        ErrorCode::InvalidConfig.code()
    );
    let resp = c
        .call(iv, inc_req(vec![("no.such.config", 0, Some("1"))]))
        .await;
    assert_eq!(
        resp.responses[0].error_code,
        ErrorCode::InvalidConfig.code()
    );
    let resp = c
        .call(iv, inc_req(vec![("cleanup.policy", 2, Some("delete"))]))
        .await;
    assert_eq!(resp.responses[0].error_code, 0);

    // Legacy AlterConfigs replaces the whole set.
    let av = c.version(ApiKey::AlterConfigs, 2);
    let resp = c
        .call(
            av,
            AlterConfigsRequest {
                resources: vec![AlterConfigsResource {
                    resource_type: TOPIC,
                    resource_name: name.as_str().into(),
                    configs: vec![AlterableConfig {
                        name: "segment.ms".into(),
                        value: Some("3600000".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                validate_only: false,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(resp.responses[0].error_code, 0);
    let r = describe(&mut c, TOPIC, &name, None).await;
    assert_eq!(value_of(&r, "segment.ms"), Some(("3600000".into(), 1)));
    assert_ne!(
        value_of(&r, "retention.bytes").unwrap().1,
        1,
        "replaced, so no longer set"
    );

    if tb.is_external() {
        common::skip("this broker's own broker-resource configs");
        return;
    }
    let node = tb.handle().unwrap().state().node_id().to_string();
    let r = describe(&mut c, BROKER, &node, None).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(value_of(&r, "num.partitions"), Some(("1".into(), 4)));
    let r = describe(&mut c, BROKER, "42", None).await;
    assert_eq!(r.error_code, ErrorCode::InvalidRequest.code());
}
