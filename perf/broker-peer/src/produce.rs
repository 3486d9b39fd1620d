//! The produce throughput phase: N records with acks=1 as fast as librdkafka takes them,
//! timed until every delivery report is in; and [`Throughput`], what the produce and fetch
//! phases report.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, Producer};
use serde::Serialize;

use crate::Args;
use crate::client::{BenchCtx, final_stats, payload, producer_config, send_blocking};
use crate::stats::{cpu_delta, cpu_secs, rss_kib};

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Throughput {
    pub(crate) records: u64,
    pub(crate) value_bytes: usize,
    pub(crate) secs: f64,
    pub(crate) records_per_sec: f64,
    pub(crate) mb_per_sec: f64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) broker_cpu_secs: Option<f64>,
    /// CPU time of this process (librdkafka's threads and ours) over the phase.
    pub(crate) client_cpu_secs: Option<f64>,
    pub(crate) broker_rss_kib_after: Option<u64>,
    /// Producer phases: librdkafka's view over its last statistics interval (see client_stats).
    pub(crate) client_stats: Option<serde_json::Value>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn throughput(
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

pub(crate) fn produce_phase(
    args: &Args,
    topic: &str,
    n: u64,
    size: usize,
) -> Result<Throughput, String> {
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
