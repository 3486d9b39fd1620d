//! Partitioning end to end: keyed records where Java's murmur2 puts them (and where
//! librdkafka's `murmur2_random` does), explicit partitions, sticky spreading of unkeyed
//! records, round robin, `partitioner.ignore.keys`, and a user's partitioner.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kafka_producer::partitioner::{
    Partitioner, PartitionerKind, Partitions, RoundRobinPartitioner, partition_for_key,
};
use kafka_producer::{Producer, ProducerRecord};

use crate::support::{TestCluster, unique};

const PARTITIONS: i32 = 6;

fn keys() -> Vec<String> {
    (0..200).map(|i| format!("key-{i}")).collect()
}

#[tokio::test]
async fn keyed_records_land_where_java_murmur2_says() {
    let cluster = TestCluster::start().await;
    let topic = unique("keyed");
    cluster.create_topic(&topic, PARTITIONS, &[]).await;
    let producer = Producer::connect(cluster.config().build().unwrap())
        .await
        .unwrap();
    let mut ds = Vec::new();
    for k in keys() {
        let d = producer
            .send(ProducerRecord::new(topic.as_str(), "v").with_key(k.clone()))
            .await
            .unwrap();
        ds.push((k, d));
    }
    for (k, d) in ds {
        let m = d.await.unwrap();
        assert_eq!(
            m.partition,
            partition_for_key(k.as_bytes(), PARTITIONS as usize),
            "{k}"
        );
    }
    // And the broker has them there.
    for p in 0..PARTITIONS {
        for r in cluster.read(&topic, p).await {
            let k = r.key.unwrap();
            assert_eq!(partition_for_key(&k, PARTITIONS as usize), p);
        }
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.stop().await;
}

/// librdkafka's placement of `keys` with `partitioner=murmur2_random`, through
/// confluent-kafka (`KAFKA_SDK_PYTHON`).
fn librdkafka_partitions(python: &str, bootstrap: &str, topic: &str) -> BTreeMap<String, i32> {
    let script = r#"
import json, sys
from confluent_kafka import Producer
bootstrap, topic, keys = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
out = {}
def report(err, msg):
    assert err is None, err
    out[msg.key().decode()] = msg.partition()
p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 5})
for k in keys:
    p.produce(topic, value=b"v", key=k.encode(), on_delivery=report)
p.flush(30)
print(json.dumps(out))
"#;
    let keys = serde_json_list(&keys());
    let output = std::process::Command::new(python)
        .args(["-c", script, bootstrap, topic, &keys])
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "confluent-kafka failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_object(&String::from_utf8_lossy(&output.stdout))
}

fn serde_json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(","))
}

/// Parses `{"k": 1, ...}` with simple keys (no escapes), enough for the keys used here.
fn parse_object(json: &str) -> BTreeMap<String, i32> {
    json.trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .split(',')
        .filter(|e| !e.trim().is_empty())
        .map(|entry| {
            let (k, v) = entry.split_once(':').expect("key: value");
            (
                k.trim().trim_matches('"').to_owned(),
                v.trim().parse().expect("partition"),
            )
        })
        .collect()
}

#[tokio::test]
async fn keyed_placement_matches_librdkafka_murmur2_random() {
    let Some(python) = std::env::var("KAFKA_SDK_PYTHON")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        println!("note: skipping the librdkafka comparison: KAFKA_SDK_PYTHON is not set");
        return;
    };
    let cluster = TestCluster::start().await;
    let topic = unique("rdkafka-keys");
    cluster.create_topic(&topic, PARTITIONS, &[]).await;
    // The broker runs on this test's runtime: run Python off it.
    let (bootstrap, t) = (cluster.bootstrap().to_owned(), topic.clone());
    let theirs =
        tokio::task::spawn_blocking(move || librdkafka_partitions(&python, &bootstrap, &t))
            .await
            .unwrap();
    assert_eq!(theirs.len(), keys().len());
    let producer = Producer::connect(cluster.config().build().unwrap())
        .await
        .unwrap();
    for k in keys() {
        let m = producer
            .send(ProducerRecord::new(topic.as_str(), "v").with_key(k.clone()))
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(Some(&m.partition), theirs.get(&k), "key {k}");
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.stop().await;
}

#[tokio::test]
async fn unkeyed_records_stick_then_spread_and_explicit_partitions_win() {
    let cluster = TestCluster::start().await;
    let topic = unique("sticky");
    cluster.create_topic(&topic, PARTITIONS, &[]).await;
    let config = cluster.config().batch_size(2000).build().unwrap();
    let producer = Producer::connect(config).await.unwrap();
    let mut ds = Vec::new();
    for _ in 0..2000 {
        ds.push(
            producer
                .send(ProducerRecord::new(topic.as_str(), vec![0u8; 100]))
                .await
                .unwrap(),
        );
    }
    let mut placed = Vec::new();
    for d in ds {
        placed.push(d.await.unwrap().partition);
    }
    let used: BTreeSet<i32> = placed.iter().copied().collect();
    assert!(
        used.len() >= 4,
        "2000 records over batches of ~17 reach most partitions: {used:?}"
    );
    let switches = placed.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        switches < 2000 / 10,
        "records stick to a partition for a batch: {switches} switches"
    );
    // Explicit partitions win over keys.
    let m = producer
        .send(
            ProducerRecord::new(topic.as_str(), "x")
                .with_key("key-1")
                .with_partition(5),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(m.partition, 5);
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.stop().await;
}

#[tokio::test]
async fn ignore_keys_round_robin_and_custom_partitioners() {
    let cluster = TestCluster::start().await;
    let topic = unique("partitioners");
    cluster.create_topic(&topic, PARTITIONS, &[]).await;
    // partitioner.ignore.keys: a single key spreads like unkeyed records.
    let config = cluster
        .config()
        .partitioner_ignore_keys(true)
        .batch_size(500)
        .build()
        .unwrap();
    let producer = Producer::connect(config).await.unwrap();
    let mut used = BTreeSet::new();
    for _ in 0..500 {
        let d = producer
            .send(ProducerRecord::new(topic.as_str(), vec![1u8; 100]).with_key("same"))
            .await
            .unwrap();
        used.insert(d.await.unwrap().partition);
    }
    assert!(used.len() > 1, "{used:?}");
    producer.close(Duration::from_secs(5)).await.unwrap();

    // Round robin, by property name as a Java properties file would say it.
    let config = cluster
        .config()
        .set(
            "partitioner.class",
            "org.apache.kafka.clients.producer.RoundRobinPartitioner",
        )
        .unwrap()
        .build()
        .unwrap();
    let producer = Producer::connect(config).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..12 {
        let d = producer
            .send(ProducerRecord::new(topic.as_str(), "rr").with_key("k"))
            .await
            .unwrap();
        got.push(d.await.unwrap().partition);
    }
    assert_eq!(got, [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]);
    producer.close(Duration::from_secs(5)).await.unwrap();

    // A user's partitioner; `None` hands back to the built-in choice.
    struct Evens;
    impl Partitioner for Evens {
        fn partition(
            &self,
            _: &str,
            key: Option<&[u8]>,
            _: Option<&[u8]>,
            p: Partitions<'_>,
        ) -> Option<i32> {
            assert_eq!(p.count(), PARTITIONS as usize);
            key.map(|k| i32::from(k[0] % 3) * 2)
        }
    }
    let config = cluster
        .config()
        .partitioner(PartitionerKind::Custom(Arc::new(Evens)))
        .build()
        .unwrap();
    let producer = Producer::connect(config).await.unwrap();
    for k in [b'a', b'b', b'c'] {
        let m = producer
            .send(ProducerRecord::new(topic.as_str(), "c").with_key(vec![k]))
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(m.partition, i32::from(k % 3) * 2);
    }
    let m = producer
        .send(ProducerRecord::new(topic.as_str(), "unkeyed"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert!((0..PARTITIONS).contains(&m.partition));
    producer.close(Duration::from_secs(5)).await.unwrap();
    let _ = RoundRobinPartitioner::new();
    cluster.stop().await;
}
