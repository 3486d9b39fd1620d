//! Shared test helpers: start a broker (or use an external one), and a tiny raw-protocol
//! client built on `kafka-protocol` alone.
//!
//! With `KAFKA_TEST_BOOTSTRAP=host:port` set, [`TestBroker::start`] starts nothing and every
//! test talks to that cluster instead; tests that need the broker's internals (restart, its
//! own options) skip those parts with a printed note. Topic names are unique per run, so an
//! external cluster can be reused.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use kafka_broker::{Broker, BrokerBuilder, BrokerHandle};
use kafka_protocol::messages::api_versions_request::ApiVersionsRequest;
use kafka_protocol::messages::create_topics_request::{
    CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use kafka_protocol::messages::fetch_response::{FetchResponse, PartitionData};
use kafka_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use kafka_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kafka_protocol::messages::metadata_response::MetadataResponse;
use kafka_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::request_header::RequestHeader;
use kafka_protocol::messages::response_header::ResponseHeader;
use kafka_protocol::messages::{ApiKey, RequestBody};
use kafka_protocol::records::{BatchOptions, RecordBatchBuilder};
use kafka_protocol::{Decode, ErrorCode, KStr, Request, Uuid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for any single response.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A broker under test: started in-process, or an external one.
pub struct TestBroker {
    handle: Option<BrokerHandle>,
    bootstrap: String,
}

impl TestBroker {
    /// A broker with the default options (or the external one).
    pub async fn start() -> Self {
        Self::start_with(|b| b).await
    }

    /// A broker with options set by `configure` (ignored for an external cluster).
    pub async fn start_with(configure: impl FnOnce(BrokerBuilder) -> BrokerBuilder) -> Self {
        if let Some(bootstrap) = external() {
            return Self {
                handle: None,
                bootstrap,
            };
        }
        let handle = configure(Broker::builder())
            .start()
            .await
            .expect("broker starts");
        Self {
            bootstrap: handle.bootstrap(),
            handle: Some(handle),
        }
    }

    /// Whether the tests run against an external cluster.
    pub fn is_external(&self) -> bool {
        self.handle.is_none()
    }

    /// The in-process broker, if any.
    pub fn handle(&self) -> Option<&BrokerHandle> {
        self.handle.as_ref()
    }

    /// The bootstrap address.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// A new connection, with the broker's API versions read.
    pub async fn connect(&self) -> Client {
        Client::connect(&self.bootstrap).await
    }

    /// Stops an in-process broker cleanly.
    pub async fn shutdown(mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await.expect("clean shutdown");
        }
    }
}

/// The external cluster, if `KAFKA_TEST_BOOTSTRAP` is set.
pub fn external() -> Option<String> {
    std::env::var("KAFKA_TEST_BOOTSTRAP")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Prints why part of a test is skipped.
pub fn skip(what: &str) {
    eprintln!("note: skipping {what} against the external cluster (needs broker internals)");
}

/// A topic name unique to this test run.
pub fn unique_topic(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{}",
        nanos % 1_000_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// One connection speaking the raw protocol.
pub struct Client {
    stream: TcpStream,
    buf: BytesMut,
    next_id: i32,
    versions: HashMap<i16, (i16, i16)>,
}

impl Client {
    /// Connects and reads the broker's API versions (ApiVersions v3).
    pub async fn connect(addr: &str) -> Self {
        let mut c = Self::connect_raw(addr).await;
        let resp = c
            .call(
                3,
                ApiVersionsRequest {
                    client_software_name: "kafka-broker-tests".into(),
                    client_software_version: "0.1.0".into(),
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(resp.error_code, 0, "ApiVersions failed");
        for k in resp.api_keys {
            c.versions.insert(k.api_key, (k.min_version, k.max_version));
        }
        c
    }

    /// Connects without sending anything.
    pub async fn connect_raw(addr: &str) -> Self {
        let stream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        stream.set_nodelay(true).ok();
        Self {
            stream,
            buf: BytesMut::new(),
            next_id: 1,
            versions: HashMap::new(),
        }
    }

    /// The highest version of `api` both the broker and this test want (`want`).
    pub fn version(&self, api: ApiKey, want: i16) -> i16 {
        match self.versions.get(&api.key()) {
            Some(&(_, max)) => want.min(max),
            None => want,
        }
    }

    /// The broker's advertised range of `api`.
    pub fn range(&self, api: ApiKey) -> Option<(i16, i16)> {
        self.versions.get(&api.key()).copied()
    }

    /// Sends a request and returns the correlation id used.
    pub async fn send<R: Request + Into<RequestBody>>(&mut self, version: i16, req: R) -> i32 {
        let id = self.next_id;
        self.next_id += 1;
        let header = RequestHeader {
            request_api_key: R::API_KEY.key(),
            request_api_version: version,
            correlation_id: id,
            client_id: Some(KStr::from_static("kafka-broker-tests")),
            ..Default::default()
        };
        let body: RequestBody = req.into();
        let wire = kafka_protocol::frame::encode_request(&header, &body).expect("request encodes");
        self.write_raw(&wire).await;
        id
    }

    /// Writes raw bytes.
    pub async fn write_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads one response frame (without its size prefix); `None` if the connection closed.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        tokio::time::timeout(IO_TIMEOUT, async {
            loop {
                if self.buf.len() >= 4 {
                    let n = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]])
                        as usize;
                    if self.buf.len() >= 4 + n {
                        let mut frame = self.buf.split_to(4 + n);
                        return Some(frame.split_off(4).freeze());
                    }
                }
                self.buf.reserve(64 * 1024);
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("no response in time")
    }

    /// Whether the broker closes the connection (within the I/O timeout).
    pub async fn is_closed(&mut self) -> bool {
        self.read_frame().await.is_none()
    }

    /// Sends a request and decodes its response.
    pub async fn call<R: Request + Into<RequestBody>>(
        &mut self,
        version: i16,
        req: R,
    ) -> R::Response {
        let id = self.send(version, req).await;
        let frame = self
            .read_frame()
            .await
            .expect("connection closed instead of a response");
        decode::<R>(&frame, version, id)
    }
}

/// Decodes a response frame to `R`'s response at `version`, checking the correlation id.
pub fn decode<R: Request>(frame: &Bytes, version: i16, id: i32) -> R::Response {
    let hv = R::API_KEY.response_header_version(version);
    let (rest, header) = ResponseHeader::decode(frame, frame, hv).expect("response header decodes");
    assert_eq!(header.correlation_id, id, "correlation id");
    let (rest, body) =
        <R::Response as Decode>::decode(frame, rest, version).expect("response body decodes");
    assert!(rest.is_empty(), "trailing bytes after the response");
    body
}

/// A record batch of `values` (keys `k0`, `k1`, ...) with timestamps from `ts`.
pub fn batch(values: &[&str], ts: i64) -> Bytes {
    let mut b = RecordBatchBuilder::new(BatchOptions::default());
    for (i, v) in values.iter().enumerate() {
        let key = format!("k{i}");
        b.append(ts + i as i64, Some(key.as_bytes()), Some(v.as_bytes()), &[])
            .expect("append");
    }
    b.build().expect("batch builds")
}

/// Creates a topic and waits until every partition has a leader.
pub async fn create_topic(
    c: &mut Client,
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> Uuid {
    create_topic_rf(c, name, partitions, -1, configs).await
}

/// Like [`create_topic`] with `rf` replicas (-1: the broker's default).
pub async fn create_topic_rf(
    c: &mut Client,
    name: &str,
    partitions: i32,
    rf: i16,
    configs: &[(&str, &str)],
) -> Uuid {
    let v = c.version(ApiKey::CreateTopics, 7);
    let resp = c
        .call(
            v,
            CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: name.into(),
                    num_partitions: partitions,
                    replication_factor: rf,
                    configs: configs
                        .iter()
                        .map(|(k, val)| CreatableTopicConfig {
                            name: (*k).into(),
                            value: Some((*val).into()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                timeout_ms: 30_000,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        resp.topics[0].error_code, 0,
        "create {name}: {:?}",
        resp.topics[0].error_message
    );
    wait_for_topic(c, name, Some(partitions)).await.topics[0].topic_id
}

/// Polls Metadata (without auto-creation) until `name` exists with every partition led (and,
/// if given, `partitions` of them).
pub async fn wait_for_topic(
    c: &mut Client,
    name: &str,
    partitions: Option<i32>,
) -> MetadataResponse {
    let v = c.version(ApiKey::Metadata, 12);
    for _ in 0..100 {
        let resp = c.call(v, metadata_request(&[name], false)).await;
        let t = &resp.topics[0];
        if t.error_code == 0
            && !t.partitions.is_empty()
            && partitions.is_none_or(|n| t.partitions.len() == n as usize)
            && t.partitions
                .iter()
                .all(|p| p.error_code == 0 && p.leader_id >= 0)
        {
            return resp;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("topic {name} never became ready");
}

/// A Metadata request for `names`.
pub fn metadata_request(names: &[&str], allow_auto_create: bool) -> MetadataRequest {
    MetadataRequest {
        topics: Some(
            names
                .iter()
                .map(|n| MetadataRequestTopic {
                    name: Some((*n).into()),
                    ..Default::default()
                })
                .collect(),
        ),
        allow_auto_topic_creation: allow_auto_create,
        ..Default::default()
    }
}

/// A produce request of one batch to one partition.
pub fn produce_request(topic: &str, partition: i32, acks: i16, records: Bytes) -> ProduceRequest {
    ProduceRequest {
        acks,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Produces one batch (acks=-1), retrying while an external cluster settles leadership.
pub async fn produce(
    c: &mut Client,
    topic: &str,
    partition: i32,
    records: Bytes,
) -> PartitionProduceResponse {
    let v = c.version(ApiKey::Produce, 11);
    for _ in 0..50 {
        let resp = c
            .call(v, produce_request(topic, partition, -1, records.clone()))
            .await;
        let p = resp.responses[0].partition_responses[0].clone();
        if ErrorCode::from_code(p.error_code).is_retriable() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        return p;
    }
    panic!("produce to {topic}-{partition} kept failing with a retriable error");
}

/// A fetch request for one partition, by name (and id, for v13+).
pub fn fetch_request(
    topic: &str,
    id: Uuid,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
    min_bytes: i32,
) -> FetchRequest {
    FetchRequest {
        replica_id: -1,
        max_wait_ms,
        min_bytes,
        max_bytes: 50 << 20,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            topic_id: id,
            partitions: vec![FetchPartition {
                partition,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The single partition of a single-partition fetch response.
pub fn only_partition(resp: &FetchResponse) -> &PartitionData {
    assert_eq!(resp.error_code, 0, "fetch error");
    &resp.responses[0].partitions[0]
}

/// Fetches one partition (no waiting) at the broker's newest Fetch version up to `want`.
pub async fn fetch(
    c: &mut Client,
    topic: &str,
    id: Uuid,
    partition: i32,
    offset: i64,
    want: i16,
) -> PartitionData {
    let v = c.version(ApiKey::Fetch, want);
    let resp = c
        .call(v, fetch_request(topic, id, partition, offset, 0, 0))
        .await;
    only_partition(&resp).clone()
}

/// ListOffsets for one partition: (error, offset, timestamp).
pub async fn list_offset(
    c: &mut Client,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> (i16, i64, i64) {
    let v = c.version(ApiKey::ListOffsets, 10);
    let resp = c
        .call(
            v,
            ListOffsetsRequest {
                replica_id: -1,
                topics: vec![ListOffsetsTopic {
                    name: topic.into(),
                    partitions: vec![ListOffsetsPartition {
                        partition_index: partition,
                        timestamp,
                        current_leader_epoch: -1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    let p = &resp.topics[0].partitions[0];
    (p.error_code, p.offset, p.timestamp)
}

/// The bytes of a produced batch that the broker must keep: everything from the magic byte
/// on (the base offset and leader epoch before it are stamped on append).
pub fn stored_part(batch: &[u8]) -> &[u8] {
    &batch[16..]
}

/// Starts an in-process cluster of `n` brokers (the cluster tests need broker internals, so
/// they never use an external cluster).
pub async fn start_cluster(
    n: usize,
    configure: impl FnOnce(kafka_broker::ClusterBuilder) -> kafka_broker::ClusterBuilder,
) -> kafka_broker::ClusterHandle {
    configure(kafka_broker::Cluster::builder().brokers(n))
        .start()
        .await
        .expect("cluster starts")
}

/// A connection to broker `id` of a cluster.
pub async fn connect_to(cluster: &kafka_broker::ClusterHandle, id: i32) -> Client {
    let addr = cluster.broker_addr(id).expect("a broker with that id");
    Client::connect(&addr.to_string()).await
}
