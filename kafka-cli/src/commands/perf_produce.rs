//! `kafka-cli perf produce -t TOPIC --num-records N [--record-size B] [--throughput R]
//! [--json]`: Kafka's `kafka-producer-perf-test`.
//!
//! Records carry a fixed payload of `--record-size` random capital letters and no key, as
//! Kafka's tool sends them; latency is from `send` to the broker's acknowledgement, measured
//! in the delivery callback. `--throughput -1` sends as fast as the producer accepts
//! (back-pressure comes from `buffer.memory`); a positive rate is paced like Kafka's
//! `ThroughputThrottler`. Producer settings (`acks`, `linger.ms`, `compression.type`, ...)
//! come from `-X` or `--config`.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use clap::Args;
use kafka_producer::{ProducerError, ProducerRecord};
use serde_json::json;

use super::Context;
use super::perf::{spawn_progress, stop_flag};
use super::produce::connect;
use crate::error::{CliError, CliResult};
use crate::perf::stats::Stats;
use crate::perf::throttle::Throttle;

/// `perf produce`.
#[derive(Debug, Args)]
pub struct PerfProduceArgs {
    /// The topic.
    #[arg(short, long)]
    pub topic: String,
    /// How many records to send.
    #[arg(long, value_name = "N")]
    pub num_records: u64,
    /// Bytes of each record's value.
    #[arg(long, value_name = "BYTES", default_value_t = 100)]
    pub record_size: usize,
    /// Records per second; -1 for no limit.
    #[arg(long, value_name = "N", default_value_t = -1, allow_hyphen_values = true)]
    pub throughput: i64,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Delivery failures: how many, and the first.
#[derive(Debug, Default)]
struct Failures {
    count: u64,
    first: Option<ProducerError>,
}

/// Runs `perf produce`.
pub async fn run(ctx: &Context, args: PerfProduceArgs) -> CliResult {
    if args.throughput == 0 {
        return Err(CliError::usage(
            "--throughput must be positive, or -1 for no limit",
        ));
    }
    let stop = stop_flag()?;
    let producer = connect(ctx).await?;
    let payload = payload(args.record_size);
    let stats = Arc::new(Mutex::new(Stats::new(args.num_records)));
    let failures = Arc::new(Mutex::new(Failures::default()));
    let progress = spawn_progress(stats.clone(), "sent");
    let throttle = Throttle::new(args.throughput);
    let start = Instant::now();
    let mut sent = 0u64;
    let mut refused = None;
    while sent < args.num_records && !stop.load(Ordering::Relaxed) {
        throttle.wait(sent).await;
        let record = ProducerRecord::new(args.topic.clone(), payload.clone());
        let sent_at = Instant::now();
        let (stats, failures) = (stats.clone(), failures.clone());
        let size = args.record_size;
        let result = producer
            .send_with_callback(record, move |r| match r {
                Ok(_) => {
                    if let Ok(mut s) = stats.lock() {
                        s.record(sent_at.elapsed(), size);
                    }
                }
                Err(e) => {
                    if let Ok(mut f) = failures.lock() {
                        f.count += 1;
                        f.first.get_or_insert(e);
                    }
                }
            })
            .await;
        sent += 1;
        if let Err(e) = result {
            // Refused outright (the callback saw it too): every later record would be.
            refused = Some(e);
            break;
        }
    }
    producer.flush().await;
    let elapsed = start.elapsed();
    drop(progress);
    let _ = producer.close(std::time::Duration::from_secs(5)).await;
    let summary = stats.lock().map(|s| s.summary(elapsed)).ok();
    if let Some(summary) = summary {
        if args.json {
            let mut j = summary.json();
            j["type"] = json!("produce");
            j["topic"] = json!(args.topic);
            j["record_size"] = json!(args.record_size);
            j["requested_records"] = json!(args.num_records);
            j["throughput_limit"] = json!(args.throughput);
            println!("{j}");
        } else {
            println!("{}", summary.text("sent"));
        }
    }
    if let Some(e) = refused {
        return Err(CliError::Failed(format!(
            "the producer refused a record: {e}"
        )));
    }
    let failed = failures.lock().map(|mut f| (f.count, f.first.take()));
    match failed {
        Ok((n, Some(first))) if n > 0 => Err(CliError::Failed(format!(
            "{n} of {sent} record(s) were not delivered; the first: {first}"
        ))),
        _ => Ok(()),
    }
}

/// `size` random capital letters, as Kafka's tool fills its payload.
fn payload(size: usize) -> Bytes {
    // A small xorshift: the payload only has to be incompressible-ish, not secure.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'A' + (x % 26) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_capital_letters_of_the_size() {
        let p = payload(1000);
        assert_eq!(p.len(), 1000);
        assert!(p.iter().all(u8::is_ascii_uppercase));
        assert!(p.iter().collect::<std::collections::HashSet<_>>().len() > 20);
    }
}
