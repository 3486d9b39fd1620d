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
//! values (keys are empty, headers none).//!
//! Modules: `client` (librdkafka contexts, configs, admin), `produce`, `fetch`, `latency`
//! (with the loopback echo) and `sustain` (one per phase), `stats` (/proc sampling and
//! percentiles), `output` (the table).

mod client;
mod fetch;
mod latency;
mod output;
mod produce;
mod stats;
mod sustain;

use std::collections::BTreeMap;
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use serde::Serialize;

use client::{create_topic, delete_topic};
use fetch::fetch_phase;
use latency::{Latency, latency_phase, loopback};
use output::{print_table, size_label};
use produce::{Throughput, produce_phase};
use stats::{Percentiles, rss_kib};
use sustain::{Sustain, sustain_phase};

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
        if !args.keep_topics
            && let Err(e) = delete_topic(&args.bootstrap, &topic)
        {
            summary.errors.push(e);
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
