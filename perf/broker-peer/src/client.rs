//! The librdkafka clients every phase uses: the producer context (delivery counts, delivery
//! latencies, statistics), producer and consumer configs, sending under back-pressure, the
//! summary of librdkafka's statistics, the consumer's log context, and the admin client
//! that creates and deletes the bench topics.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

// ---------------------------------------------------------------------------------------------
// Producer context: delivery counts, and latencies when the opaque carries a send time.

pub(crate) struct BenchCtx {
    /// Send times are nanoseconds since this instant, passed as the delivery opaque.
    pub(crate) base: Instant,
    pub(crate) record_latency: AtomicBool,
    pub(crate) delivered: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) first_error: Mutex<Option<String>>,
    pub(crate) latencies: Mutex<Vec<u64>>,
    /// The last librdkafka statistics (when `statistics.interval.ms` is set).
    pub(crate) last_stats: Mutex<Option<serde_json::Value>>,
    /// The statistics interval with the most responses: its latency windows describe the
    /// phase at full load, where the last interval may cover only its tail.
    pub(crate) busiest_stats: Mutex<Option<serde_json::Value>>,
}

fn rtt_count(v: &serde_json::Value) -> i64 {
    v["brokers"]
        .as_object()
        .map(|m| {
            m.values()
                .map(|b| b["rtt"]["cnt"].as_i64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

impl BenchCtx {
    pub(crate) fn new(record_latency: bool) -> Self {
        Self {
            base: Instant::now(),
            record_latency: AtomicBool::new(record_latency),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            first_error: Mutex::new(None),
            latencies: Mutex::new(Vec::new()),
            last_stats: Mutex::new(None),
            busiest_stats: Mutex::new(None),
        }
    }
    pub(crate) fn done(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }
    pub(crate) fn now_ns(&self) -> usize {
        self.base.elapsed().as_nanos() as usize
    }
}

impl ClientContext for BenchCtx {
    fn stats_raw(&self, statistics: &[u8]) {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(statistics) {
            let cnt = rtt_count(&v);
            let mut busiest = self.busiest_stats.lock().unwrap();
            if busiest.as_ref().is_none_or(|b| rtt_count(b) < cnt) {
                *busiest = Some(v.clone());
            }
            *self.last_stats.lock().unwrap() = Some(v);
        }
    }

    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        if (level as i32) <= (RDKafkaLogLevel::Warning as i32) {
            eprintln!("librdkafka producer {level:?} {fac}: {log_message}");
        }
    }
}

impl ProducerContext for BenchCtx {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_ns: usize) {
        match result {
            Ok(_) => {
                if self.record_latency.load(Ordering::Relaxed) {
                    let lat = self.now_ns().saturating_sub(sent_ns) as u64;
                    self.latencies.lock().unwrap().push(lat);
                }
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_error.lock().unwrap();
                if first.is_none() {
                    *first = Some(e.to_string());
                }
            }
        }
    }
}

pub(crate) fn producer_config(bootstrap: &str, linger_ms: u32) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("acks", "1")
        .set("linger.ms", linger_ms.to_string())
        .set("compression.type", "none")
        .set("enable.idempotence", "false")
        .set("message.timeout.ms", "120000")
        .set("statistics.interval.ms", "1000");
    c
}

/// The parts of librdkafka's statistics that explain a producer's numbers: for the (one)
/// broker, request round trips as the client sees them (`rtt`: request sent -> response
/// received), time in the client's queues (`int_latency`, `outbuf_latency`), requests and
/// bytes sent; per topic, the produced batches' size and record count. Microseconds.
/// Counters come from `v` (the last report), latency windows from `busy` (the busiest one).
fn client_stats(v: &serde_json::Value, busy: &serde_json::Value) -> serde_json::Value {
    use serde_json::json;
    let window = |w: &serde_json::Value| json!({ "avg": w["avg"], "p50": w["p50"], "p99": w["p99"], "max": w["max"], "cnt": w["cnt"] });
    let brokers: Vec<serde_json::Value> = v["brokers"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, b)| b["nodeid"].as_i64().unwrap_or(-1) >= 0)
                .map(|(key, b)| {
                    let w = &busy["brokers"][key];
                    json!({
                        "name": b["name"],
                        "tx_requests": b["tx"],
                        "tx_bytes": b["txbytes"],
                        "rx_responses": b["rx"],
                        "produce_requests": b["req"]["Produce"],
                        "requests_by_api": b["req"].as_object().map(|m| {
                            m.iter()
                                .filter(|(_, n)| n.as_i64().unwrap_or(0) > 0)
                                .map(|(k, n)| (k.clone(), n.clone()))
                                .collect::<serde_json::Map<_, _>>()
                        }),
                        "wakeups": b["wakeups"],
                        "connects": b["connects"],
                        "disconnects": b["disconnects"],
                        "req_timeouts": b["req_timeouts"],
                        "tx_errors": b["txerrs"],
                        "rx_errors": b["rxerrs"],
                        "rtt_us": window(&w["rtt"]),
                        "int_latency_us": window(&w["int_latency"]),
                        "outbuf_latency_us": window(&w["outbuf_latency"]),
                        "throttle_ms": window(&w["throttle"]),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let topics: Vec<serde_json::Value> = busy["topics"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(name, t)| {
                    json!({ "topic": name, "batchsize_bytes": window(&t["batchsize"]), "batchcnt_records": window(&t["batchcnt"]) })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({ "brokers": brokers, "topics": topics })
}

/// Waits for one more statistics report (they cover the last interval) and summarises it.
pub(crate) fn final_stats(
    producer: &BaseProducer<BenchCtx>,
    poll: bool,
) -> Option<serde_json::Value> {
    *producer.context().last_stats.lock().unwrap() = None;
    let deadline = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < deadline {
        if let Some(v) = producer.context().last_stats.lock().unwrap().as_ref() {
            let busy = producer.context().busiest_stats.lock().unwrap();
            return Some(client_stats(v, busy.as_ref().unwrap_or(v)));
        }
        if poll {
            producer.poll(Duration::from_millis(50));
        } else {
            thread::sleep(Duration::from_millis(50));
        }
    }
    None
}

pub(crate) fn consumer_config(bootstrap: &str, group: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    // librdkafka's assign() needs a group.id; nothing is committed or subscribed.
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest");
    c
}

/// Sends one record, serving delivery reports while librdkafka's queue is full.
pub(crate) fn send_blocking(
    producer: &BaseProducer<BenchCtx>,
    topic: &str,
    partition: i32,
    payload: &[u8],
    opaque: usize,
    poll_inline: bool,
) -> Result<(), KafkaError> {
    let mut record = BaseRecord::<(), [u8], usize>::with_opaque_to(topic, opaque)
        .payload(payload)
        .partition(partition);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                if poll_inline {
                    producer.poll(Duration::from_millis(1));
                } else {
                    thread::sleep(Duration::from_micros(200));
                }
            }
            Err((e, _)) => return Err(e),
        }
    }
}

pub(crate) fn payload(size: usize) -> Vec<u8> {
    // Not all one byte, not compressible in any useful way by a broker that would try.
    (0..size)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Admin

pub(crate) fn admin(bootstrap: &str) -> Result<AdminClient<DefaultClientContext>, KafkaError> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
}

pub(crate) fn create_topic(
    bootstrap: &str,
    name: &str,
    partitions: i32,
    configs: &[(&str, String)],
) -> Result<(), String> {
    let admin = admin(bootstrap).map_err(|e| e.to_string())?;
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        topic = topic.set(k, v);
    }
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let res = futures::executor::block_on(admin.create_topics([&topic], &opts))
        .map_err(|e| format!("create_topics {name}: {e}"))?;
    for r in res {
        if let Err((t, code)) = r {
            return Err(format!("create_topics {t}: {code:?}"));
        }
    }
    // Wait until the metadata shows every partition with a leader.
    let probe: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(md) = probe.fetch_metadata(Some(name), Duration::from_secs(5))
            && let Some(t) = md.topics().iter().find(|t| t.name() == name)
            && t.error().is_none()
            && t.partitions().len() == partitions as usize
            && t.partitions().iter().all(|p| p.leader() >= 0)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("topic {name} not ready after 30 s"));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn delete_topic(bootstrap: &str, name: &str) -> Result<(), String> {
    let admin = admin(bootstrap).map_err(|e| e.to_string())?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let res = futures::executor::block_on(admin.delete_topics(&[name], &opts))
        .map_err(|e| format!("delete_topics {name}: {e}"))?;
    for r in res {
        if let Err((t, code)) = r {
            return Err(format!("delete_topics {t}: {code:?}"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Consumer context

pub(crate) struct ConsumerLog;
impl ClientContext for ConsumerLog {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        if (level as i32) <= (RDKafkaLogLevel::Warning as i32) {
            eprintln!("librdkafka consumer {level:?} {fac}: {log_message}");
        }
    }
}
impl rdkafka::consumer::ConsumerContext for ConsumerLog {}
