//! ApiVersions, Metadata and DescribeCluster over a real socket.

mod common;

use common::{
    Client, TestBroker, create_topic, metadata_request, skip, unique_topic, wait_for_topic,
};
use kafka_broker::SUPPORTED_APIS;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::api_versions_request::ApiVersionsRequest;
use kafka_protocol::messages::api_versions_response::ApiVersionsResponse;
use kafka_protocol::messages::describe_cluster_request::DescribeClusterRequest;
use kafka_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kafka_protocol::messages::request_header::RequestHeader;
use kafka_protocol::{Decode, ErrorCode, KStr, Uuid};

#[tokio::test]
async fn api_versions_advertises_exactly_what_is_served() {
    let tb = TestBroker::start().await;
    let mut c = Client::connect_raw(tb.bootstrap()).await;
    for version in 0..=4 {
        let resp = c.call(version, ApiVersionsRequest::default()).await;
        if version >= 3 {
            // Empty software name and version are invalid from v3 (Kafka's pattern).
            assert_eq!(
                resp.error_code,
                ErrorCode::InvalidRequest.code(),
                "v{version}"
            );
            continue;
        }
        assert_eq!(resp.error_code, 0, "v{version}");
        if !tb.is_external() {
            let got: Vec<_> = resp
                .api_keys
                .iter()
                .map(|k| (k.api_key, k.min_version, k.max_version))
                .collect();
            let want: Vec<_> = SUPPORTED_APIS
                .iter()
                .map(|(k, r)| (k.key(), r.min, r.max))
                .collect();
            assert_eq!(got, want);
        }
    }
    let resp = c
        .call(
            4,
            ApiVersionsRequest {
                client_software_name: "tests".into(),
                client_software_version: "1.0".into(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(resp.error_code, 0);
    assert!(
        resp.api_keys
            .iter()
            .any(|k| k.api_key == ApiKey::Fetch.key())
    );
}

#[tokio::test]
async fn api_versions_unknown_version_gets_the_v0_fallback() {
    let tb = TestBroker::start().await;
    let mut c = Client::connect_raw(tb.bootstrap()).await;
    // ApiVersions v99, flexible header (v2), correlation id 7, then a body the broker must not
    // try to parse.
    let header = RequestHeader {
        request_api_key: ApiKey::ApiVersions.key(),
        request_api_version: 99,
        correlation_id: 7,
        client_id: Some(KStr::from_static("t")),
        ..Default::default()
    };
    let mut body = kafka_protocol::Encode::encode_to_bytes(&header, 2)
        .unwrap()
        .to_vec();
    body.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let mut wire = (body.len() as u32).to_be_bytes().to_vec();
    wire.extend_from_slice(&body);
    c.write_raw(&wire).await;
    let frame = c.read_frame().await.expect("a v0 answer, not a close");
    // Response header v0 (correlation id only), body v0.
    assert_eq!(&frame[..4], &7i32.to_be_bytes());
    let resp = ApiVersionsResponse::decode_from(&frame.slice(4..), 0).unwrap();
    assert_eq!(resp.error_code, ErrorCode::UnsupportedVersion.code());
    let av = resp
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::ApiVersions.key())
        .unwrap();
    assert_eq!(av.min_version, 0);
    assert!(av.max_version >= 3);
    // The connection stays usable.
    let resp = c.call(2, ApiVersionsRequest::default()).await;
    assert_eq!(resp.error_code, 0);
}

#[tokio::test]
async fn metadata_auto_creates_when_enabled() {
    let tb = TestBroker::start_with(|b| b.default_partitions(3)).await;
    let mut c = tb.connect().await;
    let topic = unique_topic("auto");
    let v = c.version(ApiKey::Metadata, 12);
    let resp = c.call(v, metadata_request(&[&topic], true)).await;
    let t = &resp.topics[0];
    if tb.is_external() {
        // Kafka answers LEADER_NOT_AVAILABLE (or NONE) while it creates the topic.
        assert!(
            [
                0,
                ErrorCode::LeaderNotAvailable.code(),
                ErrorCode::UnknownTopicOrPartition.code()
            ]
            .contains(&t.error_code)
        );
    } else {
        assert_eq!(t.error_code, 0);
        assert_eq!(t.partitions.len(), 3);
        assert_ne!(t.topic_id, Uuid::ZERO);
        let node = tb.handle().unwrap().state().node_id();
        assert_eq!(resp.controller_id, node);
        assert_eq!(resp.brokers.len(), 1);
        assert_eq!(
            format!("{}:{}", resp.brokers[0].host, resp.brokers[0].port),
            tb.bootstrap()
        );
        for p in &t.partitions {
            assert_eq!((p.leader_id, p.leader_epoch), (node, 0));
            assert_eq!(p.replica_nodes, vec![node]);
            assert_eq!(p.isr_nodes, vec![node]);
        }
    }
    let n = if tb.is_external() { None } else { Some(3) };
    let ready = wait_for_topic(&mut c, &topic, n).await;
    assert_ne!(ready.topics[0].topic_id, Uuid::ZERO);
    // Before v4 there is no flag: auto-creation applies.
    let old = unique_topic("auto-v1");
    let resp = c
        .call(
            1,
            MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    name: Some(old.as_str().into()),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await;
    if !tb.is_external() {
        assert_eq!(resp.topics[0].error_code, 0);
    }
}

#[tokio::test]
async fn metadata_without_auto_creation() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("absent");
    let v = c.version(ApiKey::Metadata, 12);
    // The request can refuse auto-creation (v4+).
    let resp = c.call(v, metadata_request(&[&topic], false)).await;
    assert_eq!(
        resp.topics[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    // Invalid names.
    let resp = c.call(v, metadata_request(&["bad name!"], true)).await;
    assert_eq!(
        resp.topics[0].error_code,
        ErrorCode::InvalidTopicException.code()
    );
    if tb.is_external() {
        skip("the broker-side auto.create.topics.enable=false check");
        return;
    }
    let tb2 = TestBroker::start_with(|b| b.auto_create_topics(false)).await;
    let mut c2 = tb2.connect().await;
    let resp = c2.call(12, metadata_request(&[&topic], true)).await;
    assert_eq!(
        resp.topics[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    let resp = c2.call(1, metadata_request(&[&topic], true)).await;
    assert_eq!(
        resp.topics[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    assert!(tb2.handle().unwrap().state().topic(&topic).is_none());
}

#[tokio::test]
async fn metadata_topic_ids_and_all_topics() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let topic = unique_topic("ids");
    let id = create_topic(&mut c, &topic, 2, &[]).await;
    // All topics: a null list (v1+), an empty list at v0.
    let resp = c
        .call(
            c.version(ApiKey::Metadata, 12),
            MetadataRequest {
                topics: None,
                allow_auto_topic_creation: false,
                ..Default::default()
            },
        )
        .await;
    assert!(
        resp.topics
            .iter()
            .any(|t| t.name.as_deref() == Some(topic.as_str()) && t.topic_id == id)
    );
    let resp = c
        .call(
            0,
            MetadataRequest {
                topics: Some(Vec::new()),
                ..Default::default()
            },
        )
        .await;
    assert!(
        resp.topics
            .iter()
            .any(|t| t.name.as_deref() == Some(topic.as_str()))
    );
    if c.version(ApiKey::Metadata, 12) < 12 {
        return;
    }
    // Lookup by id (v12), and an unknown id.
    let by_id = |id| MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            topic_id: id,
            name: None,
            ..Default::default()
        }]),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    let resp = c.call(12, by_id(id)).await;
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(resp.topics[0].name.as_deref(), Some(topic.as_str()));
    assert_eq!(resp.topics[0].partitions.len(), 2);
    let unknown = Uuid::from_u64_pair(0x1234, 0x5678);
    let resp = c.call(12, by_id(unknown)).await;
    assert_eq!(resp.topics[0].error_code, ErrorCode::UnknownTopicId.code());
    assert_eq!(resp.topics[0].name, None);
    assert_eq!(resp.topics[0].topic_id, unknown);
    // Authorized operations, when asked for: everything (no authorizer).
    let resp = c
        .call(
            10,
            MetadataRequest {
                include_cluster_authorized_operations: true,
                include_topic_authorized_operations: true,
                ..metadata_request(&[&topic], false)
            },
        )
        .await;
    assert_ne!(resp.topics[0].topic_authorized_operations, i32::MIN);
}

#[tokio::test]
async fn describe_cluster_names_this_broker() {
    let tb = TestBroker::start().await;
    let mut c = tb.connect().await;
    let v = c.version(ApiKey::DescribeCluster, 1);
    let resp = c
        .call(
            v,
            DescribeClusterRequest {
                include_cluster_authorized_operations: true,
                endpoint_type: 1,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(resp.error_code, 0);
    assert!(!resp.cluster_id.is_empty());
    assert!(
        resp.brokers
            .iter()
            .any(|b| b.broker_id == resp.controller_id)
            || tb.is_external()
    );
    if !tb.is_external() {
        let state = tb.handle().unwrap().state();
        assert_eq!(resp.cluster_id.as_str(), state.cluster_id());
        assert_eq!(resp.brokers.len(), 1);
        // Brokers do not serve controller endpoints.
        let resp = c
            .call(
                1,
                DescribeClusterRequest {
                    endpoint_type: 2,
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(resp.error_code, ErrorCode::MismatchedEndpointType.code());
    }
}
