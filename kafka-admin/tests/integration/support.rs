//! What the admin tests share: the cluster under test (the companion broker, or an external
//! one named by `KAFKA_TEST_BOOTSTRAP`), a fast-failing configuration, unique names, and
//! the data-plane steps the admin client does not offer (producing records, joining a group
//! as a consumer would).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_admin::TopicPartition;
use kafka_admin::consumer_protocol::{encode_assignment, encode_subscription};
use kafka_admin::{
    AdminClient, AdminError, AdminOptions, MemberAssignment, MemberSubscription, NewTopic,
};
use kafka_broker::{Broker, BrokerHandle};
use kafka_client::config::ClientConfig;
use kafka_client::{Client, ErrorKind, SendOptions, Target};
use kafka_protocol::messages::describe_cluster_request::DescribeClusterRequest;
use kafka_protocol::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafka_protocol::messages::leave_group_request::{LeaveGroupRequest, MemberIdentity};
use kafka_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kafka_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kafka_protocol::messages::sync_group_request::{SyncGroupRequest, SyncGroupRequestAssignment};
use kafka_protocol::messages::{ApiKey, RequestBody, ResponseBody};
use kafka_protocol::records::{BatchOptions, RecordBatchBuilder};
use kafka_protocol::{ErrorCode, KStr};

/// The cluster under test.
pub struct TestCluster {
    handle: Option<BrokerHandle>,
    bootstrap: String,
}

impl TestCluster {
    /// The external cluster if `KAFKA_TEST_BOOTSTRAP` is set, else a companion broker (three
    /// partitions per topic by default).
    pub async fn start() -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        if let Some(bootstrap) = std::env::var("KAFKA_TEST_BOOTSTRAP")
            .ok()
            .filter(|s| !s.is_empty())
        {
            return Self {
                handle: None,
                bootstrap,
            };
        }
        let handle = Broker::builder()
            .default_partitions(3)
            .start()
            .await
            .expect("companion broker starts");
        Self {
            bootstrap: handle.bootstrap(),
            handle: Some(handle),
        }
    }

    /// An admin client with short timeouts.
    pub async fn admin(&self) -> AdminClient {
        AdminClient::connect(fast_config(&self.bootstrap))
            .await
            .expect("admin client connects")
    }

    /// Stops the companion broker.
    pub async fn stop(self) {
        if let Some(h) = self.handle {
            h.shutdown().await.expect("clean shutdown");
        }
    }
}

/// Short timeouts and backoffs, so failing tests fail fast.
pub fn fast_config(bootstrap: &str) -> ClientConfig {
    ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .client_id("kafka-admin-tests")
        .request_timeout(Duration::from_secs(10))
        .default_api_timeout(Duration::from_secs(15))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .expect("valid test config")
}

/// Options with a budget that failing retries run out of quickly.
pub fn short() -> AdminOptions {
    AdminOptions::new().timeout(Duration::from_millis(1500))
}

/// A name unique to this run, so an external cluster can be reused.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "admin-{prefix}-{}-{}",
        nanos % 1_000_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Now, in milliseconds since the epoch (record timestamps).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Polls `check` until it holds, for up to ten seconds: an external cluster applies
/// metadata changes (new topics, deletions, configs) asynchronously after acknowledging them.
///
/// `check` returns a future rather than being an async closure, whose futures are not
/// provably `Send` and could not be spawned.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: still not true after ten seconds")
}

/// Creates `name` with `partitions` partitions and waits until every partition has a leader,
/// panicking on failure.
pub async fn create_topic(admin: &AdminClient, name: &str, partitions: i32) {
    let results = admin
        .create_topics([NewTopic::new(name, partitions, 1)], &AdminOptions::new())
        .await;
    results[name].as_ref().expect("topic created");
    wait_for_topic(admin, name, partitions as usize).await;
}

/// Waits until `name` is described with `partitions` partitions, each with a leader.
pub async fn wait_for_topic(admin: &AdminClient, name: &str, partitions: usize) {
    eventually(
        &format!("{name} has {partitions} led partitions"),
        || async {
            let described = admin.describe_topics([name], &AdminOptions::new()).await;
            described[name].as_ref().is_ok_and(|d| {
                d.partitions.len() == partitions && d.partitions.iter().all(|p| p.leader.is_some())
            })
        },
    )
    .await;
}

/// Prints why part of a test is skipped against this broker.
pub fn skip(what: &str, why: &str) {
    eprintln!("note: skipping {what}: {why}");
}

/// Whether the broker's ApiVersions leaves out `api`: a Kafka-compatible broker need not
/// implement every API. Prints a note naming what is skipped when it does.
pub async fn broker_lacks(admin: &AdminClient, api: ApiKey, what: &str) -> bool {
    let conn = admin
        .client()
        .connection(&Target::Any)
        .await
        .expect("a connection");
    let lacks = conn.broker_versions().get(api).is_none();
    if lacks {
        skip(what, &format!("the broker does not implement {api:?}"));
    }
    lacks
}

/// Asserts that `result` failed because the broker does not implement the API at all.
pub fn assert_unsupported<T: std::fmt::Debug>(result: &Result<T, AdminError>) {
    assert!(
        matches!(result, Err(AdminError::Client(e)) if matches!(
            e.kind(),
            ErrorKind::UnsupportedVersion { broker_range: None, .. }
        )),
        "{result:?}"
    );
}

/// Whether the broker answers `i32::MIN` ("not computed") for the cluster's authorized
/// operations even when asked for them, as some Kafka-compatible brokers do (Kafka computes
/// them, KIP-430). Asked with a raw request, so an admin client that forgot to ask cannot
/// hide behind it. Prints a note when so.
pub async fn broker_omits_cluster_operations(client: &Client) -> bool {
    let body = RequestBody::DescribeCluster(DescribeClusterRequest {
        include_cluster_authorized_operations: true,
        ..Default::default()
    });
    let resp = client
        .send(Target::Any, &body)
        .await
        .expect("DescribeCluster is answered");
    let ResponseBody::DescribeCluster(resp) = resp else {
        panic!("DescribeCluster answered with another API")
    };
    omitted(resp.cluster_authorized_operations, "the cluster's")
}

/// Like [`broker_omits_cluster_operations`], for `topic`'s authorized operations (Metadata
/// v8+ asks for them).
pub async fn broker_omits_topic_operations(client: &Client, topic: &str) -> bool {
    let resp = client
        .send_with(Target::Any, ApiKey::Metadata, &SendOptions::new(), |v| {
            std::borrow::Cow::Owned(RequestBody::Metadata(MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    name: Some(topic.into()),
                    ..Default::default()
                }]),
                include_topic_authorized_operations: v >= 8,
                ..Default::default()
            }))
        })
        .await
        .expect("Metadata is answered");
    let ResponseBody::Metadata(resp) = resp else {
        panic!("Metadata answered with another API")
    };
    let ops = resp
        .topics
        .iter()
        .find(|t| t.name.as_ref().is_some_and(|n| n.as_str() == topic))
        .expect("the topic is described")
        .topic_authorized_operations;
    omitted(ops, "a topic's")
}

fn omitted(bits: i32, whose: &str) -> bool {
    let omitted = bits == i32::MIN;
    if omitted {
        skip(
            &format!("checking {whose} authorized operations"),
            "the broker does not report them when asked",
        );
    }
    omitted
}

/// Produces records with the given timestamps to one partition; returns the first offset.
pub async fn produce(client: &Client, topic: &str, partition: i32, timestamps: &[i64]) -> i64 {
    let mut batch = RecordBatchBuilder::new(BatchOptions::default());
    for (i, ts) in timestamps.iter().enumerate() {
        let value = format!("value-{i}");
        batch
            .append(*ts, None, Some(value.as_bytes()), &[])
            .expect("record appends");
    }
    let body = RequestBody::Produce(ProduceRequest {
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(batch.build().expect("batch builds")),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    // A new topic's leader may not be known everywhere yet: retry those errors for a while.
    for _ in 0..50 {
        let resp = client
            .send(Target::leader(topic, partition), &body)
            .await
            .expect("produce is answered");
        let ResponseBody::Produce(resp) = resp else {
            panic!("Produce answered with another API")
        };
        let p = &resp.responses[0].partition_responses[0];
        let code = ErrorCode::from_code(p.error_code);
        if code == ErrorCode::None {
            return p.base_offset;
        }
        assert!(code.is_retriable(), "produce failed: {code}");
        client.report_error(code);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("produce to {topic}-{partition} kept failing")
}

/// A consumer that joined a group through JoinGroup and SyncGroup, assigning itself every
/// partition of its topic, as a one-member consumer group's leader does.
pub struct Member {
    pub group: String,
    pub member_id: String,
}

impl Member {
    /// Joins `group` subscribed to `topic`, assigned `assigned`.
    pub async fn join(
        client: &Client,
        group: &str,
        topic: &str,
        assigned: &[TopicPartition],
    ) -> Self {
        let subscription = encode_subscription(&MemberSubscription::new([topic]));
        // The first join of a new group waits for `group.initial.rebalance.delay.ms`.
        let options = SendOptions::new()
            .timeout(Duration::from_secs(30))
            .request_timeout(Duration::from_secs(20));
        let mut member_id = String::new();
        let joined = loop {
            let body = RequestBody::JoinGroup(JoinGroupRequest {
                group_id: group.into(),
                session_timeout_ms: 30_000,
                rebalance_timeout_ms: 10_000,
                member_id: KStr::from(member_id.as_str()),
                protocol_type: "consumer".into(),
                protocols: vec![JoinGroupRequestProtocol {
                    name: "range".into(),
                    metadata: subscription.clone(),
                    ..Default::default()
                }],
                ..Default::default()
            });
            let resp = client
                .send_with(Target::group(group), ApiKey::JoinGroup, &options, |_| {
                    std::borrow::Cow::Borrowed(&body)
                })
                .await
                .expect("JoinGroup is answered");
            let ResponseBody::JoinGroup(resp) = resp else {
                panic!("JoinGroup answered with another API")
            };
            match ErrorCode::from_code(resp.error_code) {
                // KIP-394: the first join only hands out a member id.
                ErrorCode::MemberIdRequired => member_id = resp.member_id.to_string(),
                ErrorCode::None => break resp,
                code => panic!("JoinGroup failed: {code}"),
            }
        };
        let member_id = joined.member_id.to_string();
        assert_eq!(joined.leader.as_str(), member_id, "a lone member leads");
        let assignment = encode_assignment(&MemberAssignment::new(assigned.iter().cloned()));
        let body = RequestBody::SyncGroup(SyncGroupRequest {
            group_id: group.into(),
            generation_id: joined.generation_id,
            member_id: KStr::from(member_id.as_str()),
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            assignments: vec![SyncGroupRequestAssignment {
                member_id: KStr::from(member_id.as_str()),
                assignment,
                ..Default::default()
            }],
            ..Default::default()
        });
        let resp = client
            .send_with(Target::group(group), ApiKey::SyncGroup, &options, |v| {
                let mut body = body.clone();
                if v < 5 {
                    // Not in the request before v5.
                    if let RequestBody::SyncGroup(r) = &mut body {
                        r.protocol_type = None;
                        r.protocol_name = None;
                    }
                }
                std::borrow::Cow::Owned(body)
            })
            .await
            .expect("SyncGroup is answered");
        let ResponseBody::SyncGroup(resp) = resp else {
            panic!("SyncGroup answered with another API")
        };
        assert_eq!(resp.error_code, 0, "SyncGroup failed");
        Self {
            group: group.to_owned(),
            member_id,
        }
    }

    /// Leaves the group, leaving it Empty.
    pub async fn leave(self, client: &Client) {
        let member_id = self.member_id.clone();
        let resp = client
            .send_with(
                Target::group(self.group.as_str()),
                ApiKey::LeaveGroup,
                &SendOptions::new(),
                move |v| {
                    let mut req = LeaveGroupRequest {
                        group_id: self.group.as_str().into(),
                        ..Default::default()
                    };
                    if v >= 3 {
                        req.members = vec![MemberIdentity {
                            member_id: member_id.as_str().into(),
                            ..Default::default()
                        }];
                    } else {
                        req.member_id = member_id.as_str().into();
                    }
                    std::borrow::Cow::Owned(RequestBody::LeaveGroup(req))
                },
            )
            .await
            .expect("LeaveGroup is answered");
        let ResponseBody::LeaveGroup(resp) = resp else {
            panic!("LeaveGroup answered with another API")
        };
        assert_eq!(resp.error_code, 0, "LeaveGroup failed");
    }
}
