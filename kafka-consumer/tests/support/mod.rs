//! What the consumer tests share: the cluster under test (in-process companion brokers, or
//! an external cluster named by `KAFKA_TEST_BOOTSTRAP`), fast configurations, unique names,
//! topic creation and a minimal producer (the consumer crate depends on no producer).

#![allow(dead_code)]

pub mod worker;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafka_broker::{Cluster, ClusterHandle};
use kafka_client::config::ClientConfig;
use kafka_client::metadata::TopicSelection;
use kafka_client::{Client, Target};
use kafka_consumer::{ConsumerConfig, ConsumerRecord, OffsetReset};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use kafka_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kafka_protocol::messages::{RequestBody, ResponseBody};
use kafka_protocol::records::{BatchOptions, RecordBatchBuilder};
use kafka_protocol::{ErrorCode, KStr};

/// The cluster under test.
pub struct TestCluster {
    handle: Option<ClusterHandle>,
    bootstrap: String,
    client: Client,
}

impl TestCluster {
    /// The external cluster if `KAFKA_TEST_BOOTSTRAP` is set, else one companion broker.
    pub async fn start() -> Self {
        Self::with_brokers(1).await
    }

    /// The external cluster, or `n` companion brokers replicating each other.
    pub async fn with_brokers(n: usize) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let (handle, bootstrap) = match external() {
            Some(b) => (None, b),
            None => {
                let handle = Cluster::builder()
                    .brokers(n)
                    .default_partitions(3)
                    .broker_config(|b| {
                        b.group_session_timeout_range(
                            Duration::from_millis(500),
                            Duration::from_secs(300),
                        )
                    })
                    .start()
                    .await
                    .expect("companion brokers start");
                let bootstrap = handle.bootstrap();
                (Some(handle), bootstrap)
            }
        };
        let client = Client::connect(client_config(&bootstrap))
            .await
            .expect("test client connects");
        Self {
            handle,
            bootstrap,
            client,
        }
    }

    pub fn is_external(&self) -> bool {
        self.handle.is_none()
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The in-process cluster (`None` against an external one).
    pub fn handle(&self) -> Option<&ClusterHandle> {
        self.handle.as_ref()
    }

    /// A session timeout members may use: short in process, the smallest Kafka accepts by
    /// default (`group.min.session.timeout.ms` = 6 s) outside.
    pub fn session_timeout(&self) -> Duration {
        if self.is_external() {
            Duration::from_secs(6)
        } else {
            Duration::from_millis(1500)
        }
    }

    /// A consumer configuration with short timeouts, reading from the beginning.
    pub fn consumer_config(&self, group: Option<&str>) -> ConsumerConfig {
        let session = self.session_timeout();
        let mut c = ConsumerConfig::from_client(client_config(&self.bootstrap))
            .with_offset_reset(OffsetReset::Earliest)
            .with_session_timeout(session)
            .with_heartbeat_interval(session / 5)
            .set("fetch.max.wait.ms", "100")
            .unwrap()
            .set("auto.commit.interval.ms", "200")
            .unwrap();
        if let Some(g) = group {
            c = c.with_group_id(g);
        }
        c
    }

    /// Creates a topic and waits until every partition has a leader.
    pub async fn create_topic(&self, name: &str, partitions: i32, replication: i16) {
        let body = RequestBody::CreateTopics(CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: KStr::from(name),
                num_partitions: partitions,
                replication_factor: replication,
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        });
        let resp = self
            .client
            .send(Target::Controller, &body)
            .await
            .expect("CreateTopics is answered");
        let ResponseBody::CreateTopics(r) = resp else {
            panic!("CreateTopics answered with another API")
        };
        let code = ErrorCode::from_code(r.topics[0].error_code);
        assert!(
            matches!(code, ErrorCode::None | ErrorCode::TopicAlreadyExists),
            "create {name}: {code}"
        );
        eventually(&format!("{name} has leaders"), || async {
            let cluster = self
                .client
                .refresh_metadata(TopicSelection::topics([name]))
                .await;
            cluster.is_ok_and(|c| {
                c.topic(name).is_some_and(|t| {
                    t.partitions.len() == partitions as usize
                        && t.partitions.iter().all(|p| p.leader.is_some())
                })
            })
        })
        .await;
    }

    /// Produces `values` (key `k<i>`) to one partition in one batch; returns the base offset.
    pub async fn produce(&self, topic: &str, partition: i32, values: &[String]) -> i64 {
        let mut batch = RecordBatchBuilder::new(BatchOptions::default());
        for (i, v) in values.iter().enumerate() {
            let key = format!("k{i}");
            batch
                .append(now_ms(), Some(key.as_bytes()), Some(v.as_bytes()), &[])
                .expect("record appends");
        }
        let records = batch.build().expect("batch builds");
        for _ in 0..100 {
            let body = RequestBody::Produce(ProduceRequest {
                acks: -1,
                timeout_ms: 10_000,
                topic_data: vec![TopicProduceData {
                    name: KStr::from(topic),
                    partition_data: vec![PartitionProduceData {
                        index: partition,
                        records: Some(records.clone()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            });
            let resp = match self
                .client
                .send(Target::leader(topic, partition), &body)
                .await
            {
                Ok(r) => r,
                Err(e) if e.is_retriable() => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(e) => panic!("produce to {topic}-{partition}: {e}"),
            };
            let ResponseBody::Produce(resp) = resp else {
                panic!("Produce answered with another API")
            };
            let p = &resp.responses[0].partition_responses[0];
            let code = ErrorCode::from_code(p.error_code);
            if code == ErrorCode::None {
                return p.base_offset;
            }
            assert!(code.is_retriable(), "produce failed: {code}");
            self.client.report_error(code);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("produce to {topic}-{partition} kept failing")
    }

    /// Produces `per_partition` records `"<p>-<i>"` to each of `partitions` partitions.
    pub async fn fill(&self, topic: &str, partitions: i32, per_partition: usize) -> Vec<String> {
        let mut all = Vec::new();
        for p in 0..partitions {
            let values: Vec<String> = (0..per_partition).map(|i| format!("{p}-{i}")).collect();
            self.produce(topic, p, &values).await;
            all.extend(values);
        }
        all
    }

    pub async fn stop(self) {
        self.client.close();
        if let Some(h) = self.handle {
            h.shutdown().await.expect("clean shutdown");
        }
    }
}

fn external() -> Option<String> {
    std::env::var("KAFKA_TEST_BOOTSTRAP")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Short timeouts and backoffs, so failing tests fail fast.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    ClientConfig::builder()
        .bootstrap_servers(bootstrap.split(','))
        .client_id("kafka-consumer-tests")
        .request_timeout(Duration::from_secs(10))
        .default_api_timeout(Duration::from_secs(20))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .metadata_max_age(Duration::from_secs(2))
        .build()
        .expect("valid test config")
}

/// A name unique to this run, so an external cluster can be reused.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "consumer-{prefix}-{}-{}",
        nanos % 1_000_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Polls `check` until it holds, for up to thirty seconds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: still not true after thirty seconds")
}

/// Like [`eventually`], but returns whether `check` came true instead of panicking.
pub async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The record's value as text.
pub fn value(r: &ConsumerRecord) -> String {
    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()
}

/// Counts values: every expected one must be there (duplicates allowed: at-least-once).
pub fn assert_all_seen(seen: &BTreeMap<String, usize>, expected: &[String]) {
    let missing: Vec<&String> = expected.iter().filter(|v| !seen.contains_key(*v)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} records never arrived, e.g. {:?}",
        missing.len(),
        expected.len(),
        &missing[..missing.len().min(5)]
    );
}
