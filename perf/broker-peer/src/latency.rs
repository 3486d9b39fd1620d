//! The latency phases: the loopback TCP echo (the floor produce latency is compared with)
//! and the fixed-rate produce whose delivery latencies are reported as percentiles.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, Producer};
use serde::Serialize;

use crate::Args;
use crate::client::{BenchCtx, final_stats, payload, producer_config, send_blocking};
use crate::stats::{Percentiles, cpu_delta, cpu_secs, percentiles};

// ---------------------------------------------------------------------------------------------
// Loopback echo

/// Back-to-back ping-pong when `rate` is None; else one round trip every 1/rate s, so each one
/// also pays the thread wake-ups a paced producer pays.
pub(crate) fn loopback(iters: u64, size: usize, rate: Option<u64>) -> std::io::Result<Percentiles> {
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
// Produce latency

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Latency {
    pub(crate) rate: u64,
    pub(crate) secs: u64,
    pub(crate) value_bytes: usize,
    pub(crate) linger_ms: u32,
    pub(crate) sent: u64,
    pub(crate) achieved_rate: f64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) delivery: Percentiles,
    pub(crate) broker_cpu_secs: Option<f64>,
    pub(crate) client_stats: Option<serde_json::Value>,
}

/// Sends at a fixed rate from this thread while a second thread serves delivery reports, so a
/// report's latency does not wait for the sender's next send.
pub(crate) fn latency_phase(args: &Args, topic: &str) -> Result<Latency, String> {
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
