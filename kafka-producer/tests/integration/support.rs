//! What the producer tests share: the cluster under test (the companion broker, or an
//! external one named by `KAFKA_TEST_BOOTSTRAP`), topic creation, reading a partition back,
//! fast-failing configurations and unique names.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_broker::{Broker, BrokerBuilder, BrokerHandle};
use kafka_client::config::ClientConfig;
use kafka_client::connection::VersionCaps;
use kafka_client::{Client, Target};
use kafka_producer::{ProducerConfig, ProducerConfigBuilder};
use kafka_protocol::messages::create_topics_request::{
    CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use kafka_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kafka_protocol::messages::{ApiKey, RequestBody, ResponseBody};
use kafka_protocol::records::{Record, RecordSetReader};
use kafka_protocol::{ErrorCode, VersionRange};

use crate::proxy::Proxy;

/// The cluster under test.
pub struct TestCluster {
    handle: Option<BrokerHandle>,
    bootstrap: String,
    proxy: Option<Proxy>,
}

/// The external cluster, if `KAFKA_TEST_BOOTSTRAP` is set.
pub fn external() -> Option<String> {
    std::env::var("KAFKA_TEST_BOOTSTRAP")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Prints why (part of) a test is skipped.
pub fn skip(what: &str) {
    eprintln!("note: skipping {what}: it needs the in-process companion broker");
}

/// Prints why part of a test is skipped against this broker.
pub fn skip_for(what: &str, why: &str) {
    eprintln!("note: skipping {what}: {why}");
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

impl TestCluster {
    /// The external cluster, or a companion broker with three partitions per topic.
    pub async fn start() -> Self {
        Self::start_with(|b| b).await
    }

    /// Like [`start`](Self::start), with broker options (ignored for an external cluster).
    pub async fn start_with(configure: impl FnOnce(BrokerBuilder) -> BrokerBuilder) -> Self {
        init_tracing();
        if let Some(bootstrap) = external() {
            return Self {
                handle: None,
                bootstrap,
                proxy: None,
            };
        }
        let handle = configure(Broker::builder().default_partitions(3))
            .start()
            .await
            .expect("companion broker starts");
        Self {
            bootstrap: handle.bootstrap(),
            handle: Some(handle),
            proxy: None,
        }
    }

    /// A view of a cluster someone else runs (a companion `Cluster`), for its helpers.
    pub async fn external_view(bootstrap: String) -> Self {
        init_tracing();
        Self {
            handle: None,
            bootstrap,
            proxy: None,
        }
    }

    /// A companion broker every client reaches through a [`Proxy`] (the broker advertises
    /// the proxy's address), or `None` against an external cluster.
    pub async fn start_proxied() -> Option<Self> {
        init_tracing();
        if external().is_some() {
            return None;
        }
        let proxy = Proxy::bind().await;
        let handle = Broker::builder()
            .default_partitions(3)
            .advertised(proxy.addr())
            .start()
            .await
            .expect("companion broker starts");
        proxy.set_upstream(handle.local_addr().to_string());
        Some(Self {
            bootstrap: proxy.addr(),
            handle: Some(handle),
            proxy: Some(proxy),
        })
    }

    /// The bootstrap address.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Whether the tests run against an external cluster.
    pub fn is_external(&self) -> bool {
        self.handle.is_none()
    }

    /// The proxy in front of the broker, when started with [`start_proxied`](Self::start_proxied).
    pub fn proxy(&self) -> &Proxy {
        self.proxy.as_ref().expect("started proxied")
    }

    /// A client core for setting up and reading back (Fetch capped at v12, by topic name).
    pub async fn client(&self) -> Client {
        let config = ClientConfig::builder()
            .bootstrap_servers(self.bootstrap.split(','))
            .client_id("producer-tests-admin")
            .request_timeout(Duration::from_secs(10))
            .default_api_timeout(Duration::from_secs(20))
            .build()
            .expect("valid config");
        Client::builder(config)
            .version_caps(VersionCaps::codec().cap(ApiKey::Fetch, VersionRange { min: 4, max: 12 }))
            .connect()
            .await
            .expect("client connects")
    }

    /// Whether the broker creates a missing topic when Metadata allows it to, asked for a
    /// fresh name (Kafka does unless `auto.create.topics.enable=false`; it then answers
    /// UNKNOWN_TOPIC_OR_PARTITION, as do brokers that never auto-create).
    pub async fn auto_creates_topics(&self) -> bool {
        let client = self.client().await;
        let name = unique("auto-create-probe");
        let body = RequestBody::Metadata(MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some(name.as_str().into()),
                ..Default::default()
            }]),
            allow_auto_topic_creation: true,
            ..Default::default()
        });
        let resp = client
            .send(Target::Any, &body)
            .await
            .expect("Metadata answered");
        let ResponseBody::Metadata(resp) = resp else {
            panic!("Metadata answered with another API")
        };
        resp.topics
            .iter()
            .all(|t| ErrorCode::from_code(t.error_code) != ErrorCode::UnknownTopicOrPartition)
    }

    /// Producer settings that fail fast.
    pub fn config(&self) -> ProducerConfigBuilder {
        ProducerConfig::builder()
            .bootstrap_servers(self.bootstrap.split(','))
            .client_id("producer-tests")
            .request_timeout(Duration::from_secs(5))
            .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
            .max_block(Duration::from_secs(10))
    }

    /// Creates a topic and waits until every partition has a leader.
    pub async fn create_topic(&self, name: &str, partitions: i32, configs: &[(&str, &str)]) {
        let client = self.client().await;
        let body = RequestBody::CreateTopics(CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: name.into(),
                num_partitions: partitions,
                replication_factor: -1,
                configs: configs
                    .iter()
                    .map(|(k, v)| CreatableTopicConfig {
                        name: (*k).into(),
                        value: Some((*v).into()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            timeout_ms: 30_000,
            ..Default::default()
        });
        let resp = client
            .send(Target::Controller, &body)
            .await
            .expect("CreateTopics answered");
        let ResponseBody::CreateTopics(resp) = resp else {
            panic!("CreateTopics answered with another API")
        };
        let code = ErrorCode::from_code(resp.topics[0].error_code);
        assert!(
            code == ErrorCode::None || code == ErrorCode::TopicAlreadyExists,
            "create {name}: {code} {:?}",
            resp.topics[0].error_message
        );
        for _ in 0..100 {
            let cluster = client
                .refresh_metadata(kafka_client::metadata::TopicSelection::topics([name]))
                .await
                .expect("metadata");
            if cluster.topic(name).is_some_and(|t| {
                t.partitions.len() == partitions as usize
                    && t.partitions.iter().all(|p| p.leader.is_some())
            }) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{name} never got leaders for {partitions} partitions");
    }

    /// Every record of a partition, in offset order.
    pub async fn read(&self, topic: &str, partition: i32) -> Vec<Record> {
        let client = self.client().await;
        let mut offset = 0;
        let mut out = Vec::new();
        loop {
            let body = RequestBody::Fetch(FetchRequest {
                replica_id: -1,
                max_wait_ms: 0,
                min_bytes: 0,
                max_bytes: 50 << 20,
                session_epoch: -1,
                topics: vec![FetchTopic {
                    topic: topic.into(),
                    partitions: vec![FetchPartition {
                        partition,
                        fetch_offset: offset,
                        partition_max_bytes: 10 << 20,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            });
            let resp = client
                .send(Target::leader(topic, partition), &body)
                .await
                .expect("Fetch answered");
            let ResponseBody::Fetch(resp) = resp else {
                panic!("Fetch answered with another API")
            };
            let p = &resp.responses[0].partitions[0];
            assert_eq!(p.error_code, 0, "fetch {topic}-{partition}");
            let before = out.len();
            for batch in RecordSetReader::new(p.records.clone().unwrap_or_default()) {
                for r in batch.expect("batch decodes").records() {
                    let r = r.expect("record decodes");
                    if r.offset >= offset {
                        offset = r.offset + 1;
                        out.push(r);
                    }
                }
            }
            if out.len() == before {
                return out;
            }
        }
    }

    /// Stops the companion broker (the producer then sees it gone).
    pub async fn stop_broker(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await.expect("clean shutdown");
        }
    }

    /// Stops everything.
    pub async fn stop(mut self) {
        self.stop_broker().await;
    }
}

/// A name unique to this run, so an external cluster can be reused.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "producer-{prefix}-{}-{}",
        nanos % 1_000_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The value of a record as a string.
pub fn text(r: &Record) -> String {
    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()
}
