//! Producer benchmark: this SDK's `kafka-producer` against rust-rdkafka's `FutureProducer`
//! and `BaseProducer`, with the same settings, against the companion broker.
//!
//! The parent process, for every case (record count and size, acks) and every client:
//! starts a fresh companion broker process (release build, in memory), creates a topic with
//! six partitions, and runs the client in a child process of its own (this binary with
//! `--child`), which sends every record, waits for every delivery, and prints one JSON line:
//! wall time, per-record delivery latency percentiles (send call to delivery report), its own
//! peak RSS and CPU time (getrusage). The parent prints a Markdown table.
//!
//! Settings shared by every client: linger 5 ms, batch size 16384, 32 MiB of buffered
//! records (librdkafka: `queue.buffering.max.kbytes`), 5 requests in flight, no compression,
//! no keys; idempotence on with acks=all and off with acks=1 (librdkafka's default is off).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use serde::{Deserialize, Serialize};

#[derive(Parser, Debug, Clone)]
struct Args {
    /// The companion broker binary (built with `cargo build --release -p kafka-broker`).
    #[arg(long, default_value = "../../target/release/kafka-broker")]
    broker_bin: PathBuf,
    /// Use this cluster instead of starting brokers.
    #[arg(long)]
    bootstrap: Option<String>,
    /// Scale the record counts (e.g. 0.1 for a quick run).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Clients to run (ours-future, ours-callback, rdkafka-future, rdkafka-base).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ours-future,ours-callback,rdkafka-future,rdkafka-base"
    )]
    clients: Vec<String>,
    /// Cases as COUNTxSIZE@ACKS.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "2000000x100@1,2000000x100@all,200000x1024@1,200000x1024@all"
    )]
    cases: Vec<String>,
    /// Repetitions per client and case (the best by records/s is reported).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Write every result as JSON here too.
    #[arg(long)]
    json: Option<PathBuf>,
    // Child mode.
    #[arg(long, hide = true)]
    child: bool,
    #[arg(long, hide = true)]
    client: Option<String>,
    #[arg(long, hide = true)]
    topic: Option<String>,
    #[arg(long, hide = true)]
    records: Option<u64>,
    #[arg(long, hide = true)]
    size: Option<usize>,
    #[arg(long, hide = true)]
    acks: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Outcome {
    client: String,
    records: u64,
    size: usize,
    acks: String,
    failed: u64,
    wall_s: f64,
    records_per_s: f64,
    mb_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    peak_rss_mb: f64,
    cpu_s: f64,
    cpu_us_per_record: f64,
    /// CPU the broker process used during the run (parent's view of its child).
    #[serde(default)]
    broker_cpu_s: f64,
}

fn main() {
    let args = Args::parse();
    if args.child {
        let outcome = child(&args);
        println!("{}", serde_json::to_string(&outcome).expect("json"));
        return;
    }
    parent(&args);
}

// ---------------------------------------------------------------------------------------
// Parent: brokers, topics, children, the table.

struct BrokerProcess {
    child: Child,
    bootstrap: String,
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_broker(bin: &PathBuf) -> BrokerProcess {
    let port = free_port();
    let bootstrap = format!("127.0.0.1:{port}");
    let mut child = Command::new(bin)
        .args(["--listen", &bootstrap, "--default-partitions", "6"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    for _ in 0..200 {
        if std::net::TcpStream::connect(&bootstrap).is_ok() {
            return BrokerProcess { child, bootstrap };
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the broker did not start listening on {bootstrap}");
}

fn create_topic(bootstrap: &str, topic: &str) {
    use kafka_client::config::ClientConfig;
    use kafka_client::{Client, Target};
    use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
    use kafka_protocol::messages::{RequestBody, ResponseBody};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let config = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .expect("config");
        let client = Client::connect(config).await.expect("connect");
        let body = RequestBody::CreateTopics(CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: topic.into(),
                num_partitions: 6,
                replication_factor: -1,
                ..Default::default()
            }],
            timeout_ms: 30_000,
            ..Default::default()
        });
        let resp = client
            .send(Target::Controller, &body)
            .await
            .expect("create");
        let ResponseBody::CreateTopics(resp) = resp else {
            panic!("unexpected answer")
        };
        assert!(
            resp.topics[0].error_code == 0 || resp.topics[0].error_code == 36,
            "create topic: {}",
            resp.topics[0].error_code
        );
        client.close();
    });
}

fn parse_case(case: &str, scale: f64) -> (u64, usize, String) {
    let (shape, acks) = case.split_once('@').expect("COUNTxSIZE@ACKS");
    let (count, size) = shape.split_once('x').expect("COUNTxSIZE");
    let count: u64 = count.parse().expect("count");
    (
        ((count as f64) * scale).max(1.0) as u64,
        size.parse().expect("size"),
        acks.to_owned(),
    )
}

fn parent(args: &Args) {
    let exe = std::env::current_exe().expect("own path");
    let mut all = Vec::new();
    println!(
        "| case | client | records/s | MB/s | p50 ms | p99 ms | peak RSS MB | CPU s | CPU µs/record | broker CPU s | failed |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for case in &args.cases {
        let (records, size, acks) = parse_case(case, args.scale);
        for client in &args.clients {
            let mut best: Option<Outcome> = None;
            for rep in 0..args.repeat {
                let broker = match &args.bootstrap {
                    Some(_) => None,
                    None => Some(start_broker(&args.broker_bin)),
                };
                let bootstrap = args
                    .bootstrap
                    .clone()
                    .or_else(|| broker.as_ref().map(|b| b.bootstrap.clone()))
                    .expect("a bootstrap");
                let topic = format!(
                    "bench-{client}-{records}x{size}-{acks}-{rep}-{}",
                    std::process::id()
                );
                create_topic(&bootstrap, &topic);
                let out = Command::new(&exe)
                    .args([
                        "--child",
                        "--client",
                        client,
                        "--bootstrap",
                        &bootstrap,
                        "--topic",
                        &topic,
                        "--records",
                        &records.to_string(),
                        "--size",
                        &size.to_string(),
                        "--acks",
                        &acks,
                    ])
                    .stderr(Stdio::inherit())
                    .output()
                    .expect("child runs");
                let after_client = children_cpu();
                drop(broker);
                let broker_cpu = children_cpu().saturating_sub(after_client);
                let line = String::from_utf8_lossy(&out.stdout);
                let Some(mut o) = line
                    .lines()
                    .filter_map(|l| serde_json::from_str::<Outcome>(l).ok())
                    .next()
                else {
                    eprintln!("{client} {case}: no result ({})", out.status);
                    continue;
                };
                o.broker_cpu_s = broker_cpu.as_secs_f64();
                if best
                    .as_ref()
                    .is_none_or(|b| o.records_per_s > b.records_per_s)
                {
                    best = Some(o);
                }
            }
            if let Some(o) = best {
                println!(
                    "| {}x{}B acks={} | {} | {:.0} | {:.1} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
                    o.records,
                    o.size,
                    o.acks,
                    o.client,
                    o.records_per_s,
                    o.mb_per_s,
                    o.p50_us / 1000.0,
                    o.p99_us / 1000.0,
                    o.peak_rss_mb,
                    o.cpu_s,
                    o.cpu_us_per_record,
                    o.broker_cpu_s,
                    o.failed
                );
                all.push(o);
            }
        }
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&all).expect("json"))
            .expect("write json");
    }
}

// ---------------------------------------------------------------------------------------
// Child: one client, measured.

/// Log-linear latency histogram in microseconds (64 sub-buckets per power of two: under
/// 2% error), lock-free so completion callbacks on any thread can record.
struct Histogram {
    counts: Vec<AtomicU64>,
    max: AtomicU64,
    failed: AtomicU64,
    done: AtomicU64,
}

const SUB: u64 = 64;

impl Histogram {
    fn new() -> Self {
        Self {
            counts: (0..SUB * 40).map(|_| AtomicU64::new(0)).collect(),
            max: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }
    }

    fn index(us: u64) -> usize {
        if us < SUB {
            return us as usize;
        }
        let exp = 63 - us.leading_zeros() as u64; // >= 6
        let shift = exp - 6;
        let sub = (us >> shift) - SUB; // 0..64
        ((shift + 1) * SUB + sub) as usize
    }

    fn value(index: usize) -> u64 {
        let i = index as u64;
        if i < SUB {
            return i;
        }
        let shift = i / SUB - 1;
        let sub = i % SUB;
        (SUB + sub) << shift
    }

    fn record(&self, d: Duration, ok: bool) {
        let us = d.as_micros() as u64;
        let i = Self::index(us).min(self.counts.len() - 1);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(us, Ordering::Relaxed);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.done.fetch_add(1, Ordering::Release);
    }

    fn percentile(&self, q: f64) -> f64 {
        let total: u64 = self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(Ordering::Relaxed);
            if seen >= rank {
                return Self::value(i) as f64;
            }
        }
        self.max.load(Ordering::Relaxed) as f64
    }
}

struct Usage {
    cpu: Duration,
    max_rss_kb: i64,
}

fn usage() -> Usage {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    Usage {
        cpu: tv(u.user_time()) + tv(u.system_time()),
        max_rss_kb: u.max_rss(),
    }
}

/// CPU time of the waited-for children so far.
fn children_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(u.user_time()) + tv(u.system_time())
}

fn child(args: &Args) -> Outcome {
    let client = args.client.clone().expect("--client");
    let bootstrap = args.bootstrap.clone().expect("--bootstrap");
    let topic = args.topic.clone().expect("--topic");
    let records = args.records.expect("--records");
    let size = args.size.expect("--size");
    let acks = args.acks.clone().expect("--acks");
    let hist = Arc::new(Histogram::new());
    let before = usage();
    let wall = match client.as_str() {
        "ours-future" | "ours-callback" => {
            ours(&client, &bootstrap, &topic, records, size, &acks, &hist)
        }
        "rdkafka-future" => rdkafka_future(&bootstrap, &topic, records, size, &acks, &hist),
        "rdkafka-base" => rdkafka_base(&bootstrap, &topic, records, size, &acks, &hist),
        other => panic!("unknown client {other}"),
    };
    let after = usage();
    let cpu = after.cpu.saturating_sub(before.cpu).as_secs_f64();
    let secs = wall.as_secs_f64();
    Outcome {
        client,
        records,
        size,
        acks,
        failed: hist.failed.load(Ordering::Relaxed),
        wall_s: secs,
        records_per_s: records as f64 / secs,
        mb_per_s: (records as f64 * size as f64) / secs / 1e6,
        p50_us: hist.percentile(0.50),
        p99_us: hist.percentile(0.99),
        max_us: hist.max.load(Ordering::Relaxed) as f64,
        peak_rss_mb: after.max_rss_kb as f64 / 1024.0,
        cpu_s: cpu,
        cpu_us_per_record: cpu * 1e6 / records as f64,
        broker_cpu_s: 0.0,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn ours(
    mode: &str,
    bootstrap: &str,
    topic: &str,
    records: u64,
    size: usize,
    acks: &str,
    hist: &Arc<Histogram>,
) -> Duration {
    use futures::StreamExt;
    use futures::stream::FuturesUnordered;
    use kafka_producer::{Acks, Producer, ProducerConfig, ProducerRecord};
    let rt = runtime();
    rt.block_on(async {
        let all = acks == "all";
        let config = ProducerConfig::builder()
            .bootstrap_servers([bootstrap])
            .acks(if all { Acks::All } else { Acks::Leader })
            .enable_idempotence(all)
            .linger(Duration::from_millis(5))
            .batch_size(16_384)
            .buffer_memory(32 << 20)
            .max_in_flight_requests_per_connection(5)
            .build()
            .expect("config");
        let producer = Producer::connect(config).await.expect("connect");
        // Metadata and the producer id first, as librdkafka's clients also start with them.
        producer
            .send(ProducerRecord::new(topic, "warm-up"))
            .await
            .expect("send")
            .await
            .expect("warm-up delivered");
        let value = bytes::Bytes::from(vec![b'x'; size]);
        let started = Instant::now();
        if mode == "ours-callback" {
            // One shared reference, not an `Arc` clone per record (whose count the sender
            // thread would drop, bouncing its cache line between the threads: rdkafka's
            // context holds its histogram once too).
            let h: &'static Histogram = Box::leak(Box::new(hist.clone()));
            for _ in 0..records {
                let t = Instant::now();
                producer
                    .send_with_callback(ProducerRecord::new(topic, value.clone()), move |r| {
                        if let Err(e) = &r {
                            report_failure(&e.to_string());
                        }
                        h.record(t.elapsed(), r.is_ok())
                    })
                    .await
                    .expect("send");
            }
            producer.flush().await;
        } else {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let h = hist.clone();
            let collector = tokio::spawn(async move {
                let mut pending = FuturesUnordered::new();
                let mut open = true;
                loop {
                    tokio::select! {
                        next = rx.recv(), if open => match next {
                            Some((t, f)) => pending.push(async move {
                                let r: Result<_, kafka_producer::ProducerError> = f.await;
                                if let Err(e) = &r {
                                    report_failure(&e.to_string());
                                }
                                (t, r.is_ok())
                            }),
                            None => open = false,
                        },
                        Some((t, ok)) = pending.next(), if !pending.is_empty() => {
                            h.record(Instant::elapsed(&t), ok);
                        }
                        else => break,
                    }
                }
            });
            for _ in 0..records {
                let t = Instant::now();
                let d = producer
                    .send(ProducerRecord::new(topic, value.clone()))
                    .await
                    .expect("send");
                let _ = tx.send((t, d));
            }
            drop(tx);
            collector.await.expect("collector");
        }
        let wall = started.elapsed();
        if std::env::var_os("PP_METRICS").is_some() {
            eprintln!("{:?}", producer.metrics());
        }
        producer
            .close(Duration::from_secs(30))
            .await
            .expect("close");
        wall
    })
}

fn rdkafka_config(bootstrap: &str, acks: &str) -> rdkafka::ClientConfig {
    let mut c = rdkafka::ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("acks", if acks == "all" { "all" } else { "1" })
        .set(
            "enable.idempotence",
            if acks == "all" { "true" } else { "false" },
        )
        .set("linger.ms", "5")
        .set("batch.size", "16384")
        .set("queue.buffering.max.kbytes", "32768")
        .set("queue.buffering.max.messages", "10000000")
        .set("max.in.flight.requests.per.connection", "5")
        .set("compression.type", "none")
        .set("message.timeout.ms", "120000");
    c
}

fn rdkafka_future(
    bootstrap: &str,
    topic: &str,
    records: u64,
    size: usize,
    acks: &str,
    hist: &Arc<Histogram>,
) -> Duration {
    use futures::StreamExt;
    use futures::stream::FuturesUnordered;
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
    let rt = runtime();
    rt.block_on(async {
        let producer: FutureProducer = rdkafka_config(bootstrap, acks).create().expect("create");
        let warm = FutureRecord::<(), [u8]>::to(topic).payload(b"warm-up");
        producer
            .send(warm, rdkafka::util::Timeout::Never)
            .await
            .expect("warm-up delivered");
        let value = vec![b'x'; size];
        let started = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let h = hist.clone();
        let collector = tokio::spawn(async move {
            let mut pending = FuturesUnordered::new();
            let mut open = true;
            loop {
                tokio::select! {
                    next = rx.recv(), if open => match next {
                        Some((t, f)) => pending.push(async move {
                            let r: Result<Result<_, _>, _> = f.await;
                            (t, matches!(r, Ok(Ok(_))))
                        }),
                        None => open = false,
                    },
                    Some((t, ok)) = pending.next(), if !pending.is_empty() => {
                        h.record(Instant::elapsed(&t), ok);
                    }
                    else => break,
                }
            }
        });
        for _ in 0..records {
            let t = Instant::now();
            let mut record = FutureRecord::<(), [u8]>::to(topic).payload(&value[..]);
            let delivery = loop {
                match producer.send_result(record) {
                    Ok(d) => break d,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Err((e, _)) => panic!("send: {e}"),
                }
            };
            let _ = tx.send((t, delivery));
        }
        drop(tx);
        collector.await.expect("collector");
        let wall = started.elapsed();
        let _ = producer.flush(rdkafka::util::Timeout::After(Duration::from_secs(30)));
        wall
    })
}

struct BaseContext {
    hist: Arc<Histogram>,
}

impl rdkafka::ClientContext for BaseContext {}

impl rdkafka::producer::ProducerContext for BaseContext {
    type DeliveryOpaque = Box<Instant>;

    fn delivery(&self, result: &rdkafka::producer::DeliveryResult<'_>, sent: Self::DeliveryOpaque) {
        self.hist.record(sent.elapsed(), result.is_ok());
    }
}

fn rdkafka_base(
    bootstrap: &str,
    topic: &str,
    records: u64,
    size: usize,
    acks: &str,
    hist: &Arc<Histogram>,
) -> Duration {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
    let producer: BaseProducer<BaseContext> = rdkafka_config(bootstrap, acks)
        .create_with_context(BaseContext { hist: hist.clone() })
        .expect("create");
    // Warm-up: one record delivered (metadata, connections, producer id).
    let before = hist.done.load(Ordering::Acquire);
    producer
        .send(
            BaseRecord::<(), [u8], _>::with_opaque_to(topic, Box::new(Instant::now()))
                .payload(&b"warm-up"[..]),
        )
        .map_err(|(e, _)| e)
        .expect("warm-up");
    while hist.done.load(Ordering::Acquire) == before {
        producer.poll(Duration::from_millis(10));
    }
    // The warm-up is not part of the measurement.
    let hist_offset = hist.done.load(Ordering::Acquire);
    reset(hist);
    let value = vec![b'x'; size];
    let started = Instant::now();
    for i in 0..records {
        let mut record = BaseRecord::<(), [u8], _>::with_opaque_to(topic, Box::new(Instant::now()))
            .payload(&value[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => panic!("send: {e}"),
            }
        }
        if i % 64 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    while hist.done.load(Ordering::Acquire) < records {
        producer.poll(Duration::from_millis(1));
    }
    let wall = started.elapsed();
    let _ = hist_offset;
    let _ = producer.flush(rdkafka::util::Timeout::After(Duration::from_secs(30)));
    wall
}

/// Prints the first few delivery failures (to stderr), so a failing run says why.
fn report_failure(e: &str) {
    static SHOWN: AtomicU64 = AtomicU64::new(0);
    if SHOWN.fetch_add(1, Ordering::Relaxed) < 3 {
        eprintln!("delivery failed: {e}");
    }
}

fn reset(h: &Histogram) {
    for c in &h.counts {
        c.store(0, Ordering::Relaxed);
    }
    h.max.store(0, Ordering::Relaxed);
    h.failed.store(0, Ordering::Relaxed);
    h.done.store(0, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_monotonic_and_close() {
        let mut last = 0;
        for us in [
            0u64, 1, 63, 64, 65, 127, 128, 1000, 5000, 1_000_000, 60_000_000,
        ] {
            let i = Histogram::index(us);
            assert!(i >= last);
            last = i;
            let v = Histogram::value(i);
            assert!(
                v <= us && (us - v) as f64 <= us as f64 * 0.02 + 1.0,
                "{us} -> {v}"
            );
        }
    }
}
