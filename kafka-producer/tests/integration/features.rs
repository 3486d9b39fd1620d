//! Compression codecs and levels, typed serializers, interceptors, metrics, batching
//! settings and configuration by property names, end to end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use kafka_producer::serializer::{SerializeError, Serializer, StringSerializer};
use kafka_producer::{
    Compression, Producer, ProducerBuilder, ProducerConfig, ProducerError, ProducerInterceptor,
    ProducerRecord, RecordMetadata,
};

use crate::support::{TestCluster, text, unique};

#[tokio::test]
async fn every_codec_and_level_round_trips() {
    let cluster = TestCluster::start().await;
    for (codec, level) in [
        (Compression::None, None),
        (Compression::Gzip, None),
        (Compression::Gzip, Some(9)),
        (Compression::Snappy, None),
        (Compression::Lz4, None),
        (Compression::Zstd, None),
        (Compression::Zstd, Some(19)),
    ] {
        let topic = unique("codec");
        cluster.create_topic(&topic, 1, &[]).await;
        let mut config = cluster
            .config()
            .compression(codec)
            .linger(Duration::from_millis(20));
        match (codec, level) {
            (Compression::Gzip, Some(l)) => config = config.gzip_level(l),
            (Compression::Zstd, Some(l)) => config = config.zstd_level(l),
            _ => {}
        }
        let producer = Producer::connect(config.build().unwrap()).await.unwrap();
        let mut ds = Vec::new();
        for i in 0..500 {
            ds.push(
                producer
                    .send(ProducerRecord::new(
                        topic.as_str(),
                        format!("compressible value {i:06}"),
                    ))
                    .await
                    .unwrap(),
            );
        }
        for d in ds {
            d.await.unwrap();
        }
        let m = producer.metrics();
        if codec == Compression::None {
            assert_eq!(m.compression_rate_avg, 1.0);
        } else {
            assert!(m.compression_rate_avg < 0.6, "{codec:?}: {m:?}");
        }
        let records = cluster.read(&topic, 0).await;
        assert_eq!(records.len(), 500, "{codec:?}");
        assert_eq!(text(&records[499]), "compressible value 000499");
        producer.close(Duration::from_secs(5)).await.unwrap();
    }
    cluster.stop().await;
}

/// JSON-ish values from a user's type.
#[derive(Debug, Clone)]
struct Event {
    id: u32,
}

struct EventSerializer;

impl Serializer<Event> for EventSerializer {
    fn serialize(&self, topic: &str, e: &Event) -> Result<Bytes, SerializeError> {
        if e.id == 13 {
            return Err("unlucky".into());
        }
        Ok(Bytes::from(format!(
            "{{\"topic\":\"{topic}\",\"id\":{}}}",
            e.id
        )))
    }
}

#[derive(Default)]
struct Counting {
    sent: AtomicUsize,
    acked: AtomicUsize,
    failed: AtomicUsize,
}

struct Counter(Arc<Counting>);

impl ProducerInterceptor<String, Event> for Counter {
    fn on_send(&self, record: ProducerRecord<String, Event>) -> ProducerRecord<String, Event> {
        self.0.sent.fetch_add(1, Ordering::SeqCst);
        record.with_header("intercepted", "yes")
    }
    fn on_acknowledgement(&self, result: Result<&RecordMetadata, &ProducerError>) {
        match result {
            Ok(m) => {
                assert!(m.offset >= 0);
                self.0.acked.fetch_add(1, Ordering::SeqCst);
            }
            Err(_) => {
                self.0.failed.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

#[tokio::test]
async fn typed_serializers_and_interceptors() {
    let cluster = TestCluster::start().await;
    let topic = unique("typed");
    cluster.create_topic(&topic, 2, &[]).await;
    let counts = Arc::new(Counting::default());
    let producer: Producer<String, Event> = ProducerBuilder::new(
        cluster.config().build().unwrap(),
        StringSerializer,
        EventSerializer,
    )
    .interceptor(Counter(counts.clone()))
    .connect()
    .await
    .unwrap();
    let mut ds = Vec::new();
    for id in 0..20 {
        let record =
            ProducerRecord::typed(topic.as_str(), Event { id }).with_key(format!("user-{id}"));
        match producer.send(record).await {
            Ok(d) => ds.push(d),
            Err(ProducerError::Serialization {
                part: "value",
                source,
            }) => {
                assert_eq!(id, 13);
                assert_eq!(source.to_string(), "unlucky");
            }
            Err(e) => panic!("{e}"),
        }
    }
    for d in ds {
        d.await.unwrap();
    }
    assert_eq!(counts.sent.load(Ordering::SeqCst), 20);
    assert_eq!(counts.acked.load(Ordering::SeqCst), 19);
    assert_eq!(
        counts.failed.load(Ordering::SeqCst),
        1,
        "send failures reach interceptors"
    );
    let mut records = cluster.read(&topic, 0).await;
    records.extend(cluster.read(&topic, 1).await);
    assert_eq!(records.len(), 19);
    assert!(
        records
            .iter()
            .all(|r| r.headers.iter().any(|h| h.key.as_str() == "intercepted"))
    );
    assert!(text(&records[0]).contains(&format!("\"topic\":\"{topic}\"")));
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.stop().await;
}

#[tokio::test]
async fn metrics_and_batching_settings() {
    let cluster = TestCluster::start().await;
    let topic = unique("metrics");
    cluster.create_topic(&topic, 1, &[]).await;
    // Configured by Kafka property names, as from a Java properties file.
    let mut config = ProducerConfig::from_properties_str(&format!(
        "bootstrap.servers={}\nbatch.size=4096\nlinger.ms=50\nmax.in.flight.requests.per.connection=1\nacks=all\n",
        cluster.bootstrap()
    ))
    .unwrap();
    config.validate().unwrap();
    assert!(config.idempotence());
    let producer = Producer::connect(config).await.unwrap();
    let before = producer.metrics();
    assert_eq!(before.buffer_available_bytes, before.buffer_total_bytes);
    let mut ds = Vec::new();
    for _ in 0..1000 {
        ds.push(
            producer
                .send(ProducerRecord::new(topic.as_str(), vec![7u8; 100]))
                .await
                .unwrap(),
        );
    }
    for d in ds {
        d.await.unwrap();
    }
    let m = producer.metrics();
    assert_eq!(m.records_sent, 1000);
    assert!(
        m.batch_size_avg <= 4096.0 && m.batch_size_avg > 2000.0,
        "{m:?}"
    );
    assert!(m.records_per_batch_avg > 20.0, "{m:?}");
    assert!(m.requests_sent >= m.batches_sent / 2, "{m:?}");
    assert!(
        m.request_latency_avg > Duration::ZERO && m.request_latency_max >= m.request_latency_avg
    );
    assert_eq!(m.record_errors, 0);
    assert_eq!(
        m.buffer_available_bytes, m.buffer_total_bytes,
        "all memory returned"
    );
    let values: Vec<usize> = cluster
        .read(&topic, 0)
        .await
        .iter()
        .map(|r| r.value.as_ref().unwrap().len())
        .collect();
    assert_eq!(values.len(), 1000);
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.stop().await;
}
