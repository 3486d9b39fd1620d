//! The sustained-load phase: produce at a fixed rate while a consumer tails the topic,
//! sampling the broker's RSS every second and the data it holds every 10 s, and trimming
//! each partition with DeleteRecords so the data held stays bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::admin::AdminOptions;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::Args;
use crate::client::{
    BenchCtx, ConsumerLog, admin, consumer_config, payload, producer_config, send_blocking,
};
use crate::stats::{cpu_delta, cpu_secs, rss_kib};

#[derive(Debug, Clone, Serialize)]
pub(crate) struct RssSample {
    pub(crate) t_secs: f64,
    pub(crate) rss_kib: u64,
    /// Record values held by the broker (sum over partitions of high - low watermark, times
    /// the value size), sampled every 10 s; null in between.
    pub(crate) retained_value_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Sustain {
    pub(crate) secs: u64,
    pub(crate) rate: u64,
    pub(crate) value_bytes: usize,
    pub(crate) retention_bytes: i64,
    pub(crate) retention_ms: i64,
    pub(crate) trim_secs: u64,
    pub(crate) trims: u64,
    pub(crate) trim_errors: u64,
    pub(crate) first_trim_error: Option<String>,
    pub(crate) produced: u64,
    pub(crate) delivered: u64,
    pub(crate) consumed: u64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) achieved_rate: f64,
    pub(crate) rss_start_kib: Option<u64>,
    pub(crate) rss_end_kib: Option<u64>,
    pub(crate) rss_min_kib: Option<u64>,
    pub(crate) rss_max_kib: Option<u64>,
    /// Max RSS over the first and the last 10% of the phase: a growing broker shows it here.
    pub(crate) rss_max_first_tenth_kib: Option<u64>,
    pub(crate) rss_max_last_tenth_kib: Option<u64>,
    pub(crate) broker_cpu_secs: Option<f64>,
    /// RSS minus the record values the broker holds (watermark span x value size), at the
    /// first and the last 10-second sample and at most: the broker's own memory, which is what
    /// must stay flat (an in-memory broker's RSS also follows the data retention keeps).
    pub(crate) overhead_first_kib: Option<i64>,
    pub(crate) overhead_last_kib: Option<i64>,
    pub(crate) overhead_max_kib: Option<i64>,
    pub(crate) samples: Vec<RssSample>,
}

pub(crate) fn sustain_phase(args: &Args, topic: &str) -> Result<Sustain, String> {
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
        let retained = if tick.is_multiple_of(10) {
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
            if args.sustain_trim_secs > 0
                && tick.is_multiple_of(args.sustain_trim_secs)
                && trim.count() > 0
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
        if tick.is_multiple_of(60) && tick > 0 {
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
