//! `consumer-peer`: this SDK's consumer side by side with rust-rdkafka (librdkafka) in one run,
//! against the companion broker (release build, in memory) running in its own process.
//!
//! `consumer-peer all` (the default) does everything:
//!  1. starts the broker (`consumer-peer broker`, a child process) and loads the drain topics
//!     with librdkafka's producer: 2,000,000 records of 100 B and 200,000 of 1 KiB, each over
//!     6 partitions;
//!  2. drains each topic from the beginning with every client, each run in a fresh child
//!     process (`consumer-peer drain`) so CPU time and peak RSS are the client's alone:
//!     `sdk-poll` (`Consumer::poll_into`, batches), `sdk-stream` (`Consumer::stream`),
//!     `rdkafka-stream` (`StreamConsumer::recv`), `rdkafka-base` (`BaseConsumer::poll`);
//!     every client assigns the 6 partitions manually (no group), at default fetch settings;
//!  3. end-to-end latency (`consumer-peer latency`): a librdkafka producer (linger.ms=0, acks=1)
//!     in the same child process sends 100 B records at 10,000/s stamped with the send time;
//!     the client under test tails the topic; latency = receive time - send time;
//!  4. prints a Markdown table and writes `--json`.
//!
//! Each drain is repeated `--repeat` times and the best run kept, since the benchmark machine
//! may be shared.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use futures::StreamExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

#[derive(Debug, Parser)]
#[command(name = "consumer-peer")]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Everything: broker, load, drains, latency, table.
    All(AllArgs),
    /// Runs the companion broker in memory until stdin closes.
    Broker {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
    },
    /// Drains a topic with one client and prints the result.
    Drain(DrainArgs),
    /// Measures end-to-end latency with one client and prints the result.
    Latency(LatencyArgs),
}

#[derive(Debug, Clone, clap::Args)]
struct AllArgs {
    /// Workloads as SIZE:COUNT, comma separated.
    #[arg(long, default_value = "100:2000000,1024:200000")]
    workloads: String,
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Clients, comma separated.
    #[arg(
        long,
        default_value = "sdk-poll,sdk-stream,rdkafka-stream,rdkafka-base"
    )]
    clients: String,
    #[arg(long, default_value_t = 2)]
    repeat: usize,
    #[arg(long, default_value_t = 10_000)]
    latency_rate: u64,
    #[arg(long, default_value_t = 15)]
    latency_secs: u64,
    /// Latency rounds; each round runs every client once, in turn, so that a noisy moment
    /// hits all of them alike. The table shows medians with min-max.
    #[arg(long, default_value_t = 3)]
    latency_rounds: usize,
    /// Where to write the JSON results.
    #[arg(long)]
    json: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
struct DrainArgs {
    #[arg(long)]
    client: String,
    #[arg(long)]
    bootstrap: String,
    #[arg(long)]
    topic: String,
    #[arg(long)]
    partitions: i32,
    #[arg(long)]
    count: u64,
}

#[derive(Debug, Clone, clap::Args)]
struct LatencyArgs {
    #[arg(long)]
    client: String,
    #[arg(long)]
    bootstrap: String,
    #[arg(long)]
    topic: String,
    #[arg(long)]
    partitions: i32,
    #[arg(long)]
    rate: u64,
    #[arg(long)]
    secs: u64,
    #[arg(long, default_value_t = 100)]
    size: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DrainResult {
    client: String,
    value_size: usize,
    records: u64,
    bytes: u64,
    /// From creating the consumer to the last record.
    secs: f64,
    /// From creating the consumer to the first record (connect, metadata, offsets).
    first_secs: f64,
    cpu_secs: f64,
    peak_rss_mb: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LatencyResult {
    client: String,
    records: u64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    cpu_secs: f64,
}

fn main() {
    let cli = Cli::parse();
    let cmd = cli
        .cmd
        .or_else(|| Cli::parse_from(["consumer-peer", "all"]).cmd)
        .expect("a subcommand");
    match cmd {
        Cmd::All(a) => all(a),
        Cmd::Broker { listen } => broker(&listen),
        Cmd::Drain(d) => {
            let r = drain(&d);
            println!("RESULT {}", serde_json::to_string(&r).unwrap());
        }
        Cmd::Latency(l) => {
            let r = latency(&l);
            println!("RESULT {}", serde_json::to_string(&r).unwrap());
        }
    }
}

// ---- process measurements -------------------------------------------------------------

/// User + system CPU seconds of this process.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size of this process, MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

// ---- broker ----------------------------------------------------------------------------

fn broker(listen: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let handle = kafka_broker::Broker::builder()
            .listen(listen)
            .default_partitions(6)
            .start()
            .await
            .expect("broker starts");
        println!("BOOTSTRAP {}", handle.bootstrap());
        std::io::stdout().flush().unwrap();
        // Until the parent closes our stdin.
        tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            while std::io::stdin().read_line(&mut s).unwrap_or(0) > 0 {}
        })
        .await
        .unwrap();
        handle.shutdown().await.unwrap();
    });
}

struct BrokerProcess {
    child: Child,
    bootstrap: String,
}

fn start_broker() -> BrokerProcess {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["broker", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("broker process starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let bootstrap = line
        .trim()
        .strip_prefix("BOOTSTRAP ")
        .expect("the broker prints its address")
        .to_owned();
    BrokerProcess { child, bootstrap }
}

// ---- loading ---------------------------------------------------------------------------

fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let res = futures::executor::block_on(admin.create_topics([&topic], &opts)).unwrap();
    for r in res {
        r.unwrap_or_else(|(t, e)| panic!("create {t}: {e:?}"));
    }
    std::thread::sleep(Duration::from_millis(500));
}

fn producer(bootstrap: &str, linger_ms: u32) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", linger_ms.to_string())
        .set("acks", "1")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .create()
        .unwrap()
}

fn load(bootstrap: &str, topic: &str, partitions: i32, size: usize, count: u64) -> Duration {
    let p = producer(bootstrap, 5);
    let value = vec![b'x'; size];
    let started = Instant::now();
    for i in 0..count {
        let part = (i % partitions as u64) as i32;
        loop {
            match p.send(
                BaseRecord::<(), [u8]>::to(topic)
                    .partition(part)
                    .payload(&value),
            ) {
                Ok(()) => break,
                Err((_, _)) => {
                    p.poll(Duration::from_millis(5));
                }
            }
        }
        if i % 10_000 == 0 {
            p.poll(Duration::ZERO);
        }
    }
    p.flush(Duration::from_secs(120)).unwrap();
    started.elapsed()
}

// ---- drains ----------------------------------------------------------------------------

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn sdk_consumer_config(bootstrap: &str, reset: &str) -> kafka_consumer::ConsumerConfig {
    kafka_consumer::ConsumerConfig::new()
        .set("bootstrap.servers", bootstrap)
        .unwrap()
        .set("auto.offset.reset", reset)
        .unwrap()
        .set("enable.auto.commit", "false")
        .unwrap()
}

fn rdkafka_config(bootstrap: &str, reset: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", "consumer-peer")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", reset);
    c
}

fn tpl(topic: &str, partitions: i32, offset: Offset) -> TopicPartitionList {
    let mut l = TopicPartitionList::new();
    for p in 0..partitions {
        l.add_partition_offset(topic, p, offset).unwrap();
    }
    l
}

fn drain(a: &DrainArgs) -> DrainResult {
    let started = Instant::now();
    let first = std::cell::Cell::new(None::<Instant>);
    let mark = |n: u64| {
        if n > 0 && first.get().is_none() {
            first.set(Some(Instant::now()));
        }
    };
    let (records, bytes) = match a.client.as_str() {
        "sdk-poll" | "sdk-stream" => runtime().block_on(async {
            let mut c =
                kafka_consumer::Consumer::new(sdk_consumer_config(&a.bootstrap, "earliest"))
                    .await
                    .unwrap();
            c.assign((0..a.partitions).map(|p| kafka_consumer::TopicPartition::new(&a.topic, p)))
                .unwrap();
            let (mut n, mut bytes) = (0u64, 0u64);
            if a.client == "sdk-poll" {
                let mut buf = Vec::with_capacity(1024);
                while n < a.count {
                    buf.clear();
                    c.poll_into(Duration::from_secs(1), &mut buf).await.unwrap();
                    n += buf.len() as u64;
                    mark(n);
                    bytes += buf
                        .iter()
                        .map(|r| r.value.as_ref().map_or(0, |v| v.len()) as u64)
                        .sum::<u64>();
                }
            } else {
                let mut s = c.stream();
                while n < a.count {
                    let r = s.next().await.unwrap().unwrap();
                    n += 1;
                    mark(n);
                    bytes += r.value.as_ref().map_or(0, |v| v.len()) as u64;
                }
            }
            (n, bytes)
        }),
        "rdkafka-stream" => runtime().block_on(async {
            let c: StreamConsumer = rdkafka_config(&a.bootstrap, "earliest").create().unwrap();
            c.assign(&tpl(&a.topic, a.partitions, Offset::Beginning))
                .unwrap();
            let (mut n, mut bytes) = (0u64, 0u64);
            while n < a.count {
                let m = c.recv().await.unwrap();
                n += 1;
                mark(n);
                bytes += m.payload().map_or(0, |v| v.len()) as u64;
            }
            (n, bytes)
        }),
        "rdkafka-base" => {
            let c: BaseConsumer = rdkafka_config(&a.bootstrap, "earliest").create().unwrap();
            c.assign(&tpl(&a.topic, a.partitions, Offset::Beginning))
                .unwrap();
            let (mut n, mut bytes) = (0u64, 0u64);
            while n < a.count {
                if let Some(m) = c.poll(Duration::from_millis(100)) {
                    let m = m.unwrap();
                    n += 1;
                    mark(n);
                    bytes += m.payload().map_or(0, |v| v.len()) as u64;
                }
            }
            (n, bytes)
        }
        other => panic!("unknown client {other}"),
    };
    DrainResult {
        client: a.client.clone(),
        value_size: bytes.checked_div(records).unwrap_or(0) as usize,
        records,
        bytes,
        secs: started.elapsed().as_secs_f64(),
        first_secs: first.get().map_or(0.0, |f| (f - started).as_secs_f64()),
        cpu_secs: cpu_secs(),
        peak_rss_mb: peak_rss_mb(),
    }
}

// ---- latency ---------------------------------------------------------------------------

/// Sends `rate` records per second for `secs` seconds, each stamped with its send time.
fn paced_producer(
    bootstrap: String,
    topic: String,
    partitions: i32,
    rate: u64,
    secs: u64,
    size: usize,
    go: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let p = producer(&bootstrap, 0);
        while !go.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let total = rate * secs;
        let start = Instant::now();
        let mut value = vec![0u8; size.max(8)];
        for i in 0..total {
            let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
            loop {
                let now = Instant::now();
                if now >= due {
                    break;
                }
                p.poll(Duration::ZERO);
                let left = due - now;
                if left > Duration::from_micros(200) {
                    std::thread::sleep(left - Duration::from_micros(100));
                }
            }
            value[..8].copy_from_slice(&now_nanos().to_be_bytes());
            let part = (i % partitions as u64) as i32;
            while p
                .send(
                    BaseRecord::<(), [u8]>::to(&topic)
                        .partition(part)
                        .payload(&value),
                )
                .is_err()
            {
                p.poll(Duration::from_millis(1));
            }
            p.poll(Duration::ZERO);
        }
        p.flush(Duration::from_secs(30)).unwrap();
        total
    })
}

fn latency_of(payload: Option<&[u8]>) -> Option<u64> {
    let v = payload?;
    let sent = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
    Some(now_nanos().saturating_sub(sent))
}

fn latency(a: &LatencyArgs) -> LatencyResult {
    let go = Arc::new(AtomicBool::new(false));
    let total = a.rate * a.secs;
    let warmup = a.rate; // the first second
    let producer = paced_producer(
        a.bootstrap.clone(),
        a.topic.clone(),
        a.partitions,
        a.rate,
        a.secs,
        a.size,
        go.clone(),
    );
    let deadline = Duration::from_secs(a.secs + 30);
    let mut lat: Vec<u64> = Vec::with_capacity(total as usize);
    match a.client.as_str() {
        "sdk-poll" | "sdk-stream" => runtime().block_on(async {
            let mut c = kafka_consumer::Consumer::new(sdk_consumer_config(&a.bootstrap, "latest"))
                .await
                .unwrap();
            let tps: Vec<_> = (0..a.partitions)
                .map(|p| kafka_consumer::TopicPartition::new(&a.topic, p))
                .collect();
            c.assign(tps.clone()).unwrap();
            for tp in &tps {
                c.position(tp).await.unwrap();
            }
            go.store(true, Ordering::Release);
            let started = Instant::now();
            let mut n = 0u64;
            if a.client == "sdk-poll" {
                let mut buf = Vec::new();
                while n < total && started.elapsed() < deadline {
                    buf.clear();
                    c.poll_into(Duration::from_millis(200), &mut buf)
                        .await
                        .unwrap();
                    for r in &buf {
                        if n >= warmup
                            && let Some(l) = latency_of(r.value.as_deref())
                        {
                            lat.push(l);
                        }
                        n += 1;
                    }
                }
            } else {
                let mut s = c.stream();
                while n < total && started.elapsed() < deadline {
                    let Ok(Some(r)) =
                        tokio::time::timeout(Duration::from_millis(200), s.next()).await
                    else {
                        continue;
                    };
                    let r = r.unwrap();
                    if n >= warmup
                        && let Some(l) = latency_of(r.value.as_deref())
                    {
                        lat.push(l);
                    }
                    n += 1;
                }
            }
        }),
        "rdkafka-stream" => runtime().block_on(async {
            let c: StreamConsumer = rdkafka_config(&a.bootstrap, "latest").create().unwrap();
            c.assign(&tpl(&a.topic, a.partitions, Offset::End)).unwrap();
            tokio::time::sleep(Duration::from_secs(2)).await;
            go.store(true, Ordering::Release);
            let started = Instant::now();
            let mut n = 0u64;
            while n < total && started.elapsed() < deadline {
                let Ok(m) = tokio::time::timeout(Duration::from_millis(200), c.recv()).await else {
                    continue;
                };
                let m = m.unwrap();
                if n >= warmup
                    && let Some(l) = latency_of(m.payload())
                {
                    lat.push(l);
                }
                n += 1;
            }
        }),
        "rdkafka-base" => {
            let c: BaseConsumer = rdkafka_config(&a.bootstrap, "latest").create().unwrap();
            c.assign(&tpl(&a.topic, a.partitions, Offset::End)).unwrap();
            let ready = Instant::now();
            while ready.elapsed() < Duration::from_secs(2) {
                let _ = c.poll(Duration::from_millis(50));
            }
            go.store(true, Ordering::Release);
            let started = Instant::now();
            let mut n = 0u64;
            while n < total && started.elapsed() < deadline {
                if let Some(m) = c.poll(Duration::from_millis(100)) {
                    let m = m.unwrap();
                    if n >= warmup
                        && let Some(l) = latency_of(m.payload())
                    {
                        lat.push(l);
                    }
                    n += 1;
                }
            }
        }
        other => panic!("unknown client {other}"),
    }
    producer.join().unwrap();
    lat.sort_unstable();
    let pct = |q: f64| {
        if lat.is_empty() {
            return f64::NAN;
        }
        let i = ((lat.len() as f64 - 1.0) * q).round() as usize;
        lat[i] as f64 / 1e6
    };
    LatencyResult {
        client: a.client.clone(),
        records: lat.len() as u64,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        p999_ms: pct(0.999),
        max_ms: pct(1.0),
        cpu_secs: cpu_secs(),
    }
}

// ---- driver ----------------------------------------------------------------------------

fn child<T: for<'de> Deserialize<'de>>(args: &[String]) -> T {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("child runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no result from {args:?}: {text}"));
    serde_json::from_str(line).unwrap()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn all(a: AllArgs) {
    let broker = start_broker();
    let bs = broker.bootstrap.clone();
    eprintln!("broker at {bs}; load average {}", load_average());
    let clients: Vec<&str> = a.clients.split(',').collect();
    let mut drains: Vec<DrainResult> = Vec::new();
    for w in a.workloads.split(',') {
        let (size, count) = w.split_once(':').expect("SIZE:COUNT");
        let (size, count): (usize, u64) = (size.parse().unwrap(), count.parse().unwrap());
        let topic = format!("drain-{size}");
        create_topic(&bs, &topic, a.partitions);
        let took = load(&bs, &topic, a.partitions, size, count);
        eprintln!("loaded {count} x {size} B into {topic} in {took:?}");
        for client in &clients {
            let mut best: Option<DrainResult> = None;
            for _ in 0..a.repeat {
                let r: DrainResult = child(&[
                    "drain".into(),
                    "--client".into(),
                    client.to_string(),
                    "--bootstrap".into(),
                    bs.clone(),
                    "--topic".into(),
                    topic.clone(),
                    "--partitions".into(),
                    a.partitions.to_string(),
                    "--count".into(),
                    count.to_string(),
                ]);
                eprintln!(
                    "  {client} {size} B: {:.0} records/s ({:.2} s, first record at {:.2} s, cpu {:.2} s, rss {:.0} MB; load {})",
                    r.records as f64 / r.secs,
                    r.secs,
                    r.first_secs,
                    r.cpu_secs,
                    r.peak_rss_mb,
                    load_average()
                );
                if best.as_ref().is_none_or(|b| r.secs < b.secs) {
                    best = Some(r);
                }
            }
            drains.push(best.unwrap());
        }
    }
    let mut latencies: Vec<LatencyResult> = Vec::new();
    if a.latency_secs > 0 {
        for round in 0..a.latency_rounds.max(1) {
            for (i, client) in clients.iter().enumerate() {
                let topic = format!("latency-{round}-{i}-{client}");
                create_topic(&bs, &topic, a.partitions);
                let r: LatencyResult = child(&[
                    "latency".into(),
                    "--client".into(),
                    client.to_string(),
                    "--bootstrap".into(),
                    bs.clone(),
                    "--topic".into(),
                    topic,
                    "--partitions".into(),
                    a.partitions.to_string(),
                    "--rate".into(),
                    a.latency_rate.to_string(),
                    "--secs".into(),
                    a.latency_secs.to_string(),
                ]);
                eprintln!(
                    "  round {round}: {client} latency: p50 {:.2} ms p99 {:.2} ms ({} records)",
                    r.p50_ms, r.p99_ms, r.records
                );
                latencies.push(r);
            }
        }
    }
    let mut child = broker.child;
    drop(child.stdin.take());
    let _ = child.wait();

    println!(
        "\nDrain from the beginning, {} partitions (best of {}; load average now {}):\n",
        a.partitions,
        a.repeat,
        load_average()
    );
    println!(
        "| value | client | records/s | MB/s | records/s after the first | wall s | to first record s | CPU s | CPU µs/record | peak RSS MB |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &drains {
        println!(
            "| {} B | {} | {:.0} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} |",
            r.value_size,
            r.client,
            r.records as f64 / r.secs,
            r.bytes as f64 / 1e6 / r.secs,
            r.records as f64 / (r.secs - r.first_secs).max(1e-9),
            r.secs,
            r.first_secs,
            r.cpu_secs,
            r.cpu_secs * 1e6 / r.records as f64,
            r.peak_rss_mb
        );
    }
    if !latencies.is_empty() {
        println!(
            "\nEnd-to-end latency at {} records/s, {} s (first second dropped):\n",
            a.latency_rate, a.latency_secs
        );
        println!(
            "| client | rounds | p50 ms (median) | p99 ms median [min-max] | p99.9 ms median | max ms median |"
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: |");
        for client in &clients {
            let of: Vec<&LatencyResult> =
                latencies.iter().filter(|r| r.client == **client).collect();
            let pick = |f: fn(&LatencyResult) -> f64| {
                let mut v: Vec<f64> = of.iter().map(|r| f(r)).collect();
                v.sort_by(f64::total_cmp);
                (v[v.len() / 2], v[0], v[v.len() - 1])
            };
            let (p50, _, _) = pick(|r| r.p50_ms);
            let (p99, lo, hi) = pick(|r| r.p99_ms);
            let (p999, _, _) = pick(|r| r.p999_ms);
            let (max, _, _) = pick(|r| r.max_ms);
            println!(
                "| {client} | {} | {p50:.2} | {p99:.2} [{lo:.2}-{hi:.2}] | {p999:.2} | {max:.2} |",
                of.len()
            );
        }
    }
    if let Some(path) = a.json {
        let v = serde_json::json!({ "drains": drains, "latency": latencies });
        std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    }
}
