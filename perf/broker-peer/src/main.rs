//! `broker-peer`: broker benchmark with a neutral client (librdkafka through rust-rdkafka's
//! `BaseProducer` / `BaseConsumer`), run against one bootstrap address.
//!
//! Phases, in order (each can be skipped):
//!  1. loopback: a TCP echo thread on 127.0.0.1, 100-byte ping-pong, round-trip percentiles
//!     (the floor the produce latency is compared with);
//!  2. throughput, for each value size (100 B and 1 KiB by default): produce N records with
//!     acks=1, linger.ms=5, default batch.size, to a fresh topic of 6 partitions created with
//!     the AdminClient (records/s and MB/s until every delivery report is in), then fetch them
//!     all with a consumer assign()ed to every partition from the beginning;
//!  3. latency: produce at a fixed rate (10k records/s) for a while, delivery latency of each
//!     record (send -> delivery report) as percentiles;
//!  4. sustain: produce at a fixed rate for `--sustain-secs` while a consumer tails the topic,
//!     sampling the broker's VmRSS (and CPU time) every second; every 10 s a DeleteRecords
//!     keeps only the newest retention.bytes of each partition, so the data held is bounded
//!     and a growing RSS means the broker's own memory grows.
//!
//! Writes a JSON summary (`--json`) and prints a human table. MB are 10^6 bytes of record
//! values (keys are empty, headers none).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(name = "broker-peer")]
struct Args {
    /// Bootstrap address of the broker under test.
    #[arg(long)]
    bootstrap: String,
    /// Name of the broker in the output.
    #[arg(long, default_value = "broker")]
    label: String,
    /// PID of the broker process, for RSS and CPU sampling (/proc/PID/status, /proc/PID/stat).
    #[arg(long)]
    broker_pid: Option<u32>,
    /// Partitions of every topic the bench creates.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Throughput workloads as SIZE:COUNT (value bytes : records), comma separated.
    #[arg(long, default_value = "100:1000000,1024:200000")]
    workloads: String,
    /// linger.ms of the throughput producer.
    #[arg(long, default_value_t = 5)]
    linger_ms: u32,
    /// Records per second of the latency phase.
    #[arg(long, default_value_t = 10_000)]
    latency_rate: u64,
    /// Seconds of the latency phase (0 skips it).
    #[arg(long, default_value_t = 20)]
    latency_secs: u64,
    /// Value size of the latency phase.
    #[arg(long, default_value_t = 100)]
    latency_size: usize,
    /// linger.ms of the latency producer (0: each record goes out as soon as possible; a
    /// larger value adds up to that much to every latency by design).
    #[arg(long, default_value_t = 0)]
    latency_linger_ms: u32,
    /// Round trips of the loopback echo (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    loopback_iters: u64,
    /// Message size of the loopback echo.
    #[arg(long, default_value_t = 100)]
    loopback_size: usize,
    /// Seconds of sustained load with RSS sampling (0 skips it).
    #[arg(long, default_value_t = 600)]
    sustain_secs: u64,
    /// Records per second of the sustained load.
    #[arg(long, default_value_t = 10_000)]
    sustain_rate: u64,
    /// Value size of the sustained load.
    #[arg(long, default_value_t = 1024)]
    sustain_size: usize,
    /// retention.bytes (per partition) of the sustained-load topic (-1: none).
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    sustain_retention_bytes: i64,
    /// retention.ms of the sustained-load topic (-1: none).
    #[arg(long, default_value_t = 60_000)]
    sustain_retention_ms: i64,
    /// Every this many seconds of the sustained load, DeleteRecords everything but the newest
    /// retention.bytes / value size records of each partition, so the data a broker holds stays
    /// bounded whatever its retention check interval is (0: rely on retention alone). Must be
    /// a multiple of 10 (the watermark sampling period).
    #[arg(long, default_value_t = 10)]
    sustain_trim_secs: u64,
    /// Keep the throughput topics instead of deleting them after their fetch phase.
    #[arg(long)]
    keep_topics: bool,
    /// Write the JSON summary here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

// ---------------------------------------------------------------------------------------------
// /proc sampling

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// utime + stime of the process, in seconds.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name (which may contain spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    let tck = unsafe_free_clk_tck();
    Some((utime + stime) as f64 / tck)
}

/// USER_HZ: 100 on every Linux target that matters; `getconf CLK_TCK` to be sure.
fn unsafe_free_clk_tck() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

// ---------------------------------------------------------------------------------------------
// Percentiles

#[derive(Debug, Clone, Serialize)]
struct Percentiles {
    count: usize,
    min_us: f64,
    p50_us: f64,
    p90_us: f64,
    p99_us: f64,
    p999_us: f64,
    max_us: f64,
    mean_us: f64,
}

fn percentiles(mut ns: Vec<u64>) -> Percentiles {
    ns.sort_unstable();
    let n = ns.len();
    if n == 0 {
        return Percentiles {
            count: 0,
            min_us: 0.0,
            p50_us: 0.0,
            p90_us: 0.0,
            p99_us: 0.0,
            p999_us: 0.0,
            max_us: 0.0,
            mean_us: 0.0,
        };
    }
    // Nearest-rank percentile.
    let at = |q: f64| {
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        ns[rank - 1] as f64 / 1000.0
    };
    Percentiles {
        count: n,
        min_us: ns[0] as f64 / 1000.0,
        p50_us: at(0.50),
        p90_us: at(0.90),
        p99_us: at(0.99),
        p999_us: at(0.999),
        max_us: ns[n - 1] as f64 / 1000.0,
        mean_us: ns.iter().map(|&x| x as f64).sum::<f64>() / n as f64 / 1000.0,
    }
}

// ---------------------------------------------------------------------------------------------
// Loopback echo

/// Back-to-back ping-pong when `rate` is None; else one round trip every 1/rate s, so each one
/// also pays the thread wake-ups a paced producer pays.
fn loopback(iters: u64, size: usize, rate: Option<u64>) -> std::io::Result<Percentiles> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let echo = thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut buf = vec![0u8; size];
        loop {
            match s.read_exact(&mut buf) {
                Ok(()) => s.write_all(&buf)?,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    });
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let msg = vec![0xabu8; size];
    let mut buf = vec![0u8; size];
    let warmup = (iters / 100).min(1000);
    let mut samples = Vec::with_capacity(iters as usize);
    let period = rate.map(|r| Duration::from_nanos(1_000_000_000 / r.max(1)));
    let start = Instant::now();
    for i in 0..warmup + iters {
        if let Some(period) = period {
            let due = start + period * i as u32;
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
        }
        let t = Instant::now();
        c.write_all(&msg)?;
        c.read_exact(&mut buf)?;
        if i >= warmup {
            samples.push(t.elapsed().as_nanos() as u64);
        }
    }
    drop(c);
    echo.join().expect("echo thread")?;
    Ok(percentiles(samples))
}

// ---------------------------------------------------------------------------------------------
// Producer context: delivery counts, and latencies when the opaque carries a send time.

struct BenchCtx {
    /// Send times are nanoseconds since this instant, passed as the delivery opaque.
    base: Instant,
    record_latency: AtomicBool,
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
    latencies: Mutex<Vec<u64>>,
    /// The last librdkafka statistics (when `statistics.interval.ms` is set).
    last_stats: Mutex<Option<serde_json::Value>>,
    /// The statistics interval with the most responses: its latency windows describe the
    /// phase at full load, where the last interval may cover only its tail.
    busiest_stats: Mutex<Option<serde_json::Value>>,
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
    fn new(record_latency: bool) -> Self {
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
    fn done(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }
    fn now_ns(&self) -> usize {
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

fn producer_config(bootstrap: &str, linger_ms: u32) -> ClientConfig {
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
fn final_stats(producer: &BaseProducer<BenchCtx>, poll: bool) -> Option<serde_json::Value> {
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

fn consumer_config(bootstrap: &str, group: &str) -> ClientConfig {
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
fn send_blocking(
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

fn payload(size: usize) -> Vec<u8> {
    // Not all one byte, not compressible in any useful way by a broker that would try.
    (0..size)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Admin

fn admin(bootstrap: &str) -> Result<AdminClient<DefaultClientContext>, KafkaError> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
}

fn create_topic(
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
        if let Ok(md) = probe.fetch_metadata(Some(name), Duration::from_secs(5)) {
            if let Some(t) = md.topics().iter().find(|t| t.name() == name) {
                if t.error().is_none()
                    && t.partitions().len() == partitions as usize
                    && t.partitions().iter().all(|p| p.leader() >= 0)
                {
                    return Ok(());
                }
            }
        }
        if Instant::now() > deadline {
            return Err(format!("topic {name} not ready after 30 s"));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn delete_topic(bootstrap: &str, name: &str) -> Result<(), String> {
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
// Phases

#[derive(Debug, Clone, Serialize)]
struct Throughput {
    records: u64,
    value_bytes: usize,
    secs: f64,
    records_per_sec: f64,
    mb_per_sec: f64,
    errors: u64,
    first_error: Option<String>,
    broker_cpu_secs: Option<f64>,
    /// CPU time of this process (librdkafka's threads and ours) over the phase.
    client_cpu_secs: Option<f64>,
    broker_rss_kib_after: Option<u64>,
    /// Producer phases: librdkafka's view over its last statistics interval (see client_stats).
    client_stats: Option<serde_json::Value>,
}

#[allow(clippy::too_many_arguments)]
fn throughput(
    records: u64,
    size: usize,
    secs: f64,
    errors: u64,
    first_error: Option<String>,
    cpu: Option<f64>,
    client_cpu: Option<f64>,
    pid: Option<u32>,
) -> Throughput {
    Throughput {
        records,
        value_bytes: size,
        secs,
        records_per_sec: records as f64 / secs,
        mb_per_sec: records as f64 * size as f64 / secs / 1e6,
        errors,
        first_error,
        broker_cpu_secs: cpu,
        client_cpu_secs: client_cpu,
        broker_rss_kib_after: pid.and_then(rss_kib),
        client_stats: None,
    }
}

fn cpu_delta(pid: Option<u32>, before: Option<f64>) -> Option<f64> {
    Some(cpu_secs(pid?)? - before?)
}

fn produce_phase(args: &Args, topic: &str, n: u64, size: usize) -> Result<Throughput, String> {
    let ctx = BenchCtx::new(false);
    let producer: BaseProducer<BenchCtx> = producer_config(&args.bootstrap, args.linger_ms)
        .create_with_context(ctx)
        .map_err(|e| e.to_string())?;
    // Connect and learn the leaders before the clock starts.
    producer
        .client()
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let value = payload(size);
    let cpu0 = args.broker_pid.and_then(cpu_secs);
    let self0 = cpu_secs(std::process::id());
    let t0 = Instant::now();
    for i in 0..n {
        send_blocking(
            &producer,
            topic,
            (i % args.partitions as u64) as i32,
            &value,
            0,
            true,
        )
        .map_err(|e| format!("send: {e}"))?;
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    let stall = Duration::from_secs(120);
    let mut last = (producer.context().done(), Instant::now());
    while producer.context().done() < n {
        producer.poll(Duration::from_millis(50));
        let d = producer.context().done();
        if d != last.0 {
            last = (d, Instant::now());
        } else if last.1.elapsed() > stall {
            return Err(format!("produce stalled at {d}/{n} delivery reports"));
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_delta(args.broker_pid, cpu0);
    let self_cpu = cpu_delta(Some(std::process::id()), self0);
    let ctx = producer.context();
    let failed = ctx.failed.load(Ordering::Relaxed);
    let first = ctx.first_error.lock().unwrap().clone();
    let mut t = throughput(
        ctx.delivered.load(Ordering::Relaxed),
        size,
        secs,
        failed,
        first,
        cpu,
        self_cpu,
        args.broker_pid,
    );
    t.client_stats = final_stats(&producer, true);
    Ok(t)
}

struct ConsumerLog;
impl ClientContext for ConsumerLog {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        if (level as i32) <= (RDKafkaLogLevel::Warning as i32) {
            eprintln!("librdkafka consumer {level:?} {fac}: {log_message}");
        }
    }
}
impl rdkafka::consumer::ConsumerContext for ConsumerLog {}

fn fetch_phase(args: &Args, topic: &str, n: u64, size: usize) -> Result<Throughput, String> {
    let group = format!("broker-peer-{topic}");
    let consumer: BaseConsumer<ConsumerLog> = consumer_config(&args.bootstrap, &group)
        .create_with_context(ConsumerLog)
        .map_err(|e| e.to_string())?;
    consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..args.partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| e.to_string())?;
    }
    let cpu0 = args.broker_pid.and_then(cpu_secs);
    let self0 = cpu_secs(std::process::id());
    let t0 = Instant::now();
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let (mut count, mut bytes, mut errors) = (0u64, 0u64, 0u64);
    let mut first_error = None;
    let mut last_progress = Instant::now();
    while count < n {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                count += 1;
                bytes += m.payload_len() as u64;
                last_progress = Instant::now();
            }
            Some(Err(e)) => {
                errors += 1;
                if first_error.is_none() {
                    first_error = Some(e.to_string());
                }
            }
            None => {
                if last_progress.elapsed() > Duration::from_secs(60) {
                    return Err(format!(
                        "fetch stalled at {count}/{n} (first error {first_error:?})"
                    ));
                }
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_delta(args.broker_pid, cpu0);
    let self_cpu = cpu_delta(Some(std::process::id()), self0);
    if bytes != n * size as u64 {
        return Err(format!(
            "fetched {bytes} value bytes, expected {}",
            n * size as u64
        ));
    }
    Ok(throughput(
        count,
        size,
        secs,
        errors,
        first_error,
        cpu,
        self_cpu,
        args.broker_pid,
    ))
}

#[derive(Debug, Clone, Serialize)]
struct Latency {
    rate: u64,
    secs: u64,
    value_bytes: usize,
    linger_ms: u32,
    sent: u64,
    achieved_rate: f64,
    errors: u64,
    first_error: Option<String>,
    delivery: Percentiles,
    broker_cpu_secs: Option<f64>,
    client_stats: Option<serde_json::Value>,
}

/// Sends at a fixed rate from this thread while a second thread serves delivery reports, so a
/// report's latency does not wait for the sender's next send.
fn latency_phase(args: &Args, topic: &str) -> Result<Latency, String> {
    let ctx = BenchCtx::new(false);
    let producer: Arc<BaseProducer<BenchCtx>> = Arc::new(
        producer_config(&args.bootstrap, args.latency_linger_ms)
            .create_with_context(ctx)
            .map_err(|e| e.to_string())?,
    );
    producer
        .client()
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let producer = Arc::clone(&producer);
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                producer.poll(Duration::from_millis(100));
            }
        })
    };
    let value = payload(args.latency_size);
    let period = Duration::from_nanos(1_000_000_000 / args.latency_rate);
    // One second of warm-up at the same rate, not recorded.
    let warm = args.latency_rate;
    let n = warm + args.latency_rate * args.latency_secs;
    let cpu0 = args.broker_pid.and_then(cpu_secs);
    let t0 = Instant::now();
    let mut measured_start = t0;
    for i in 0..n {
        if i == warm {
            // Wait for the warm-up's reports, then record from here on.
            let deadline = Instant::now() + Duration::from_secs(10);
            while producer.context().done() < warm && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
            }
            producer
                .context()
                .record_latency
                .store(true, Ordering::Relaxed);
            measured_start = Instant::now();
        }
        let due = if i < warm {
            t0 + period * i as u32
        } else {
            measured_start + period * (i - warm) as u32
        };
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        let sent = producer.context().now_ns();
        send_blocking(
            &producer,
            topic,
            (i % args.partitions as u64) as i32,
            &value,
            sent,
            false,
        )
        .map_err(|e| format!("send: {e}"))?;
    }
    let sent_secs = measured_start.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(120);
    while producer.context().done() < n && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let cpu = cpu_delta(args.broker_pid, cpu0);
    let stats = final_stats(&producer, false);
    stop.store(true, Ordering::Relaxed);
    poller.join().expect("poller");
    let ctx = producer.context();
    let lat = std::mem::take(&mut *ctx.latencies.lock().unwrap());
    let measured = n - warm;
    Ok(Latency {
        rate: args.latency_rate,
        secs: args.latency_secs,
        value_bytes: args.latency_size,
        linger_ms: args.latency_linger_ms,
        sent: measured,
        achieved_rate: measured as f64 / sent_secs,
        errors: ctx.failed.load(Ordering::Relaxed),
        first_error: ctx.first_error.lock().unwrap().clone(),
        delivery: percentiles(lat),
        broker_cpu_secs: cpu,
        client_stats: stats,
    })
}

#[derive(Debug, Clone, Serialize)]
struct RssSample {
    t_secs: f64,
    rss_kib: u64,
    /// Record values held by the broker (sum over partitions of high - low watermark, times
    /// the value size), sampled every 10 s; null in between.
    retained_value_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
struct Sustain {
    secs: u64,
    rate: u64,
    value_bytes: usize,
    retention_bytes: i64,
    retention_ms: i64,
    trim_secs: u64,
    trims: u64,
    trim_errors: u64,
    first_trim_error: Option<String>,
    produced: u64,
    delivered: u64,
    consumed: u64,
    errors: u64,
    first_error: Option<String>,
    achieved_rate: f64,
    rss_start_kib: Option<u64>,
    rss_end_kib: Option<u64>,
    rss_min_kib: Option<u64>,
    rss_max_kib: Option<u64>,
    /// Max RSS over the first and the last 10% of the phase: a growing broker shows it here.
    rss_max_first_tenth_kib: Option<u64>,
    rss_max_last_tenth_kib: Option<u64>,
    broker_cpu_secs: Option<f64>,
    /// RSS minus the record values the broker holds (watermark span x value size), at the
    /// first and the last 10-second sample and at most: the broker's own memory, which is what
    /// must stay flat (an in-memory broker's RSS also follows the data retention keeps).
    overhead_first_kib: Option<i64>,
    overhead_last_kib: Option<i64>,
    overhead_max_kib: Option<i64>,
    samples: Vec<RssSample>,
}

fn sustain_phase(args: &Args, topic: &str) -> Result<Sustain, String> {
    let ctx = BenchCtx::new(false);
    let producer: Arc<BaseProducer<BenchCtx>> = Arc::new(
        producer_config(&args.bootstrap, args.linger_ms)
            .create_with_context(ctx)
            .map_err(|e| e.to_string())?,
    );
    producer
        .client()
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let consumed = Arc::new(AtomicU64::new(0));
    // Tail the (fresh) topic with a consumer of its own.
    let consumer_thread = {
        let stop = Arc::clone(&stop);
        let consumed = Arc::clone(&consumed);
        let bootstrap = args.bootstrap.clone();
        let topic = topic.to_string();
        let partitions = args.partitions;
        thread::spawn(move || -> Result<(), String> {
            let consumer: BaseConsumer<ConsumerLog> =
                consumer_config(&bootstrap, &format!("broker-peer-{topic}"))
                    .create_with_context(ConsumerLog)
                    .map_err(|e| e.to_string())?;
            let mut tpl = TopicPartitionList::new();
            for p in 0..partitions {
                tpl.add_partition_offset(&topic, p, Offset::Beginning)
                    .map_err(|e| e.to_string())?;
            }
            consumer.assign(&tpl).map_err(|e| e.to_string())?;
            while !stop.load(Ordering::Relaxed) {
                if let Some(Ok(_)) = consumer.poll(Duration::from_millis(100)) {
                    consumed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(())
        })
    };
    let poller = {
        let producer = Arc::clone(&producer);
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                producer.poll(Duration::from_millis(100));
            }
        })
    };
    // The sender: paced in 1 ms slices of rate/1000 records.
    let sender_stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let producer = Arc::clone(&producer);
        let stop = Arc::clone(&sender_stop);
        let topic = topic.to_string();
        let (rate, size, partitions) = (args.sustain_rate, args.sustain_size, args.partitions);
        thread::spawn(move || -> Result<(u64, f64), String> {
            let value = payload(size);
            let t0 = Instant::now();
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let due = (t0.elapsed().as_secs_f64() * rate as f64) as u64;
                while sent < due {
                    send_blocking(
                        &producer,
                        &topic,
                        (sent % partitions as u64) as i32,
                        &value,
                        0,
                        false,
                    )
                    .map_err(|e| format!("send: {e}"))?;
                    sent += 1;
                }
                thread::sleep(Duration::from_millis(1));
            }
            Ok((sent, t0.elapsed().as_secs_f64()))
        })
    };
    let probe: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &args.bootstrap)
        .create()
        .map_err(|e| e.to_string())?;
    let pid = args.broker_pid;
    let cpu0 = pid.and_then(cpu_secs);
    let admin = admin(&args.bootstrap).map_err(|e| e.to_string())?;
    let keep =
        (args.sustain_retention_bytes.max(0) as u64 / args.sustain_size.max(1) as u64) as i64;
    let (mut trims, mut trim_errors, mut first_trim_error) = (0u64, 0u64, None::<String>);
    let mut samples = Vec::new();
    let t0 = Instant::now();
    let mut next = t0;
    let mut tick = 0u64;
    while tick <= args.sustain_secs {
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
        }
        let t = t0.elapsed().as_secs_f64();
        let retained = if tick % 10 == 0 {
            let mut total = 0i64;
            let mut ok = true;
            let mut trim = TopicPartitionList::new();
            for p in 0..args.partitions {
                match probe.fetch_watermarks(topic, p, Duration::from_secs(5)) {
                    Ok((lo, hi)) => {
                        total += hi - lo;
                        if hi - keep > lo {
                            let _ = trim.add_partition_offset(topic, p, Offset::Offset(hi - keep));
                        }
                    }
                    Err(_) => ok = false,
                }
            }
            if args.sustain_trim_secs > 0 && tick % args.sustain_trim_secs == 0 && trim.count() > 0
            {
                let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
                let res = futures::executor::block_on(admin.delete_records(&trim, &opts));
                let err = match res {
                    Ok(tpl) => tpl
                        .elements()
                        .iter()
                        .find_map(|e| e.error().err().map(|e| e.to_string())),
                    Err(e) => Some(e.to_string()),
                };
                trims += 1;
                if let Some(e) = err {
                    trim_errors += 1;
                    first_trim_error.get_or_insert(e);
                }
            }
            ok.then_some(total as u64 * args.sustain_size as u64)
        } else {
            None
        };
        if let Some(rss) = pid.and_then(rss_kib) {
            samples.push(RssSample {
                t_secs: t,
                rss_kib: rss,
                retained_value_bytes: retained,
            });
        }
        if tick % 60 == 0 && tick > 0 {
            eprintln!(
                "  sustain {tick:>4}s: rss {} MiB, delivered {}, consumed {}",
                samples.last().map(|s| s.rss_kib / 1024).unwrap_or(0),
                producer.context().delivered.load(Ordering::Relaxed),
                consumed.load(Ordering::Relaxed)
            );
        }
        tick += 1;
        next = t0 + Duration::from_secs(tick);
    }
    sender_stop.store(true, Ordering::Relaxed);
    let (produced, send_secs) = sender.join().expect("sender")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while producer.context().done() < produced && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    // Let the tail consumer catch up a little before stopping it.
    thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    poller.join().expect("poller");
    consumer_thread.join().expect("consumer")?;
    let ctx = producer.context();
    let rss: Vec<u64> = samples.iter().map(|s| s.rss_kib).collect();
    let tenth = (rss.len() / 10).max(1);
    let overhead: Vec<i64> = samples
        .iter()
        .filter_map(|s| Some(s.rss_kib as i64 - (s.retained_value_bytes? / 1024) as i64))
        .collect();
    Ok(Sustain {
        secs: args.sustain_secs,
        rate: args.sustain_rate,
        value_bytes: args.sustain_size,
        retention_bytes: args.sustain_retention_bytes,
        retention_ms: args.sustain_retention_ms,
        trim_secs: args.sustain_trim_secs,
        trims,
        trim_errors,
        first_trim_error,
        produced,
        delivered: ctx.delivered.load(Ordering::Relaxed),
        consumed: consumed.load(Ordering::Relaxed),
        errors: ctx.failed.load(Ordering::Relaxed),
        first_error: ctx.first_error.lock().unwrap().clone(),
        achieved_rate: produced as f64 / send_secs,
        rss_start_kib: rss.first().copied(),
        rss_end_kib: rss.last().copied(),
        rss_min_kib: rss.iter().min().copied(),
        rss_max_kib: rss.iter().max().copied(),
        rss_max_first_tenth_kib: rss[..tenth.min(rss.len())].iter().max().copied(),
        rss_max_last_tenth_kib: rss[rss.len().saturating_sub(tenth)..].iter().max().copied(),
        broker_cpu_secs: cpu_delta(pid, cpu0),
        overhead_first_kib: overhead.first().copied(),
        overhead_last_kib: overhead.last().copied(),
        overhead_max_kib: overhead.iter().max().copied(),
        samples,
    })
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
struct Summary {
    label: String,
    bootstrap: String,
    broker_pid: Option<u32>,
    rdkafka_crate: &'static str,
    librdkafka: String,
    machine_cores: usize,
    started_unix: u64,
    broker_rss_kib_at_start: Option<u64>,
    loopback: Option<Percentiles>,
    /// The same echo paced at the latency phase's rate (context: includes thread wake-ups).
    loopback_paced: Option<Percentiles>,
    produce: BTreeMap<String, Throughput>,
    fetch: BTreeMap<String, Throughput>,
    latency: Option<Latency>,
    sustain: Option<Sustain>,
    errors: Vec<String>,
}

fn size_label(size: usize) -> String {
    if size % 1024 == 0 {
        format!("{}KiB", size / 1024)
    } else {
        format!("{size}B")
    }
}

fn main() {
    let args = Args::parse();
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (_, version) = rdkafka::util::get_rdkafka_version();
    let mut summary = Summary {
        label: args.label.clone(),
        bootstrap: args.bootstrap.clone(),
        broker_pid: args.broker_pid,
        rdkafka_crate: "0.39",
        librdkafka: version,
        machine_cores: thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        started_unix: run_id,
        broker_rss_kib_at_start: args.broker_pid.and_then(rss_kib),
        loopback: None,
        loopback_paced: None,
        produce: BTreeMap::new(),
        fetch: BTreeMap::new(),
        latency: None,
        sustain: None,
        errors: Vec::new(),
    };
    eprintln!(
        "[{}] librdkafka {} against {}",
        args.label, summary.librdkafka, args.bootstrap
    );

    if args.loopback_iters > 0 {
        eprintln!(
            "[{}] loopback echo: {} round trips of {} B",
            args.label, args.loopback_iters, args.loopback_size
        );
        match loopback(args.loopback_iters, args.loopback_size, None) {
            Ok(p) => summary.loopback = Some(p),
            Err(e) => summary.errors.push(format!("loopback: {e}")),
        }
        if args.latency_secs > 0 {
            let n = (args.latency_rate * args.latency_secs).min(args.loopback_iters);
            eprintln!(
                "[{}] loopback echo paced at {}/s: {n} round trips",
                args.label, args.latency_rate
            );
            match loopback(n, args.loopback_size, Some(args.latency_rate)) {
                Ok(p) => summary.loopback_paced = Some(p),
                Err(e) => summary.errors.push(format!("loopback paced: {e}")),
            }
        }
    }

    let workloads: Vec<(usize, u64)> = args
        .workloads
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|w| {
            let (s, n) = w.split_once(':').expect("workload SIZE:COUNT");
            (s.parse().expect("size"), n.parse().expect("count"))
        })
        .collect();
    for &(size, n) in &workloads {
        let key = size_label(size);
        let topic = format!("bench-{key}-{run_id}");
        if let Err(e) = create_topic(&args.bootstrap, &topic, args.partitions, &[]) {
            summary.errors.push(e);
            continue;
        }
        eprintln!("[{}] produce {n} x {size} B to {topic}", args.label);
        match produce_phase(&args, &topic, n, size) {
            Ok(t) => {
                eprintln!(
                    "    {:.0} records/s, {:.1} MB/s",
                    t.records_per_sec, t.mb_per_sec
                );
                summary.produce.insert(key.clone(), t);
            }
            Err(e) => {
                summary.errors.push(format!("produce {key}: {e}"));
                continue;
            }
        }
        eprintln!("[{}] fetch {n} x {size} B from {topic}", args.label);
        match fetch_phase(&args, &topic, n, size) {
            Ok(t) => {
                eprintln!(
                    "    {:.0} records/s, {:.1} MB/s",
                    t.records_per_sec, t.mb_per_sec
                );
                summary.fetch.insert(key.clone(), t);
            }
            Err(e) => summary.errors.push(format!("fetch {key}: {e}")),
        }
        if !args.keep_topics {
            if let Err(e) = delete_topic(&args.bootstrap, &topic) {
                summary.errors.push(e);
            }
        }
    }

    if args.latency_secs > 0 {
        let topic = format!("bench-latency-{run_id}");
        eprintln!(
            "[{}] latency: {} records/s x {} s, {} B, linger.ms={}",
            args.label,
            args.latency_rate,
            args.latency_secs,
            args.latency_size,
            args.latency_linger_ms
        );
        match create_topic(&args.bootstrap, &topic, args.partitions, &[])
            .and_then(|()| latency_phase(&args, &topic))
        {
            Ok(l) => summary.latency = Some(l),
            Err(e) => summary.errors.push(format!("latency: {e}")),
        }
        if !args.keep_topics {
            let _ = delete_topic(&args.bootstrap, &topic);
        }
    }

    if args.sustain_secs > 0 {
        let topic = format!("bench-sustain-{run_id}");
        eprintln!(
            "[{}] sustain: {} records/s x {} B for {} s (retention.bytes={} per partition, retention.ms={}, DeleteRecords every {} s)",
            args.label,
            args.sustain_rate,
            args.sustain_size,
            args.sustain_secs,
            args.sustain_retention_bytes,
            args.sustain_retention_ms,
            args.sustain_trim_secs
        );
        let configs = [
            ("retention.bytes", args.sustain_retention_bytes.to_string()),
            ("retention.ms", args.sustain_retention_ms.to_string()),
        ];
        match create_topic(&args.bootstrap, &topic, args.partitions, &configs)
            .and_then(|()| sustain_phase(&args, &topic))
        {
            Ok(s) => summary.sustain = Some(s),
            Err(e) => summary.errors.push(format!("sustain: {e}")),
        }
    }

    print_table(&summary);
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&summary).expect("json");
        std::fs::write(path, json).expect("write json");
    }
    if !summary.errors.is_empty() {
        std::process::exit(1);
    }
}

fn print_table(s: &Summary) {
    println!(
        "== {} ({}), librdkafka {}, {} cores",
        s.label, s.bootstrap, s.librdkafka, s.machine_cores
    );
    println!(
        "{:<22} {:>12} {:>10} {:>8} {:>10} {:>10} {:>7}",
        "workload", "records/s", "MB/s", "secs", "broker cpu", "client cpu", "errors"
    );
    for (kind, map) in [("produce", &s.produce), ("fetch", &s.fetch)] {
        for (k, t) in map {
            println!(
                "{:<22} {:>12.0} {:>10.1} {:>8.2} {:>10} {:>10} {:>7}",
                format!("{kind} {k} x{}", t.records),
                t.records_per_sec,
                t.mb_per_sec,
                t.secs,
                t.broker_cpu_secs
                    .map(|c| format!("{c:.2}s"))
                    .unwrap_or_default(),
                t.client_cpu_secs
                    .map(|c| format!("{c:.2}s"))
                    .unwrap_or_default(),
                t.errors
            );
        }
    }
    let row = |name: &str, p: &Percentiles| {
        println!(
            "{:<34} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>10.1}",
            name, p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.max_us
        )
    };
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "latency (us)", "p50", "p90", "p99", "p99.9", "max"
    );
    if let Some(l) = &s.loopback {
        row("loopback TCP echo RTT", l);
    }
    if let Some(l) = &s.loopback_paced {
        row("loopback echo RTT, paced", l);
    }
    if let Some(l) = &s.latency {
        row(
            &format!("produce delivery @{}/s ({:.0}/s)", l.rate, l.achieved_rate),
            &l.delivery,
        );
        if let Some(lb) = &s.loopback {
            println!(
                "  produce p99 - loopback p99 = {:.1} us (target <= 1000 us)",
                l.delivery.p99_us - lb.p99_us
            );
        }
    }
    if let Some(u) = &s.sustain {
        let mib = |k: Option<u64>| {
            k.map(|k| format!("{:.1}", k as f64 / 1024.0))
                .unwrap_or_default()
        };
        println!(
            "sustain {} s @ {:.0}/s x {} B: delivered {}, consumed {}, errors {}, trims {} ({} failed); RSS MiB start {} end {} min {} max {} (max first 10% {}, last 10% {}); RSS - retained data MiB first {} last {} max {}; broker cpu {}",
            u.secs,
            u.achieved_rate,
            u.value_bytes,
            u.delivered,
            u.consumed,
            u.errors,
            u.trims,
            u.trim_errors,
            mib(u.rss_start_kib),
            mib(u.rss_end_kib),
            mib(u.rss_min_kib),
            mib(u.rss_max_kib),
            mib(u.rss_max_first_tenth_kib),
            mib(u.rss_max_last_tenth_kib),
            mib(u.overhead_first_kib.map(|k| k.max(0) as u64)),
            mib(u.overhead_last_kib.map(|k| k.max(0) as u64)),
            mib(u.overhead_max_kib.map(|k| k.max(0) as u64)),
            u.broker_cpu_secs
                .map(|c| format!("{c:.1}s"))
                .unwrap_or_default()
        );
    }
    for e in &s.errors {
        println!("ERROR: {e}");
    }
}
