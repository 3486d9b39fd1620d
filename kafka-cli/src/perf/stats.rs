//! Throughput and latency bookkeeping for `perf produce` and `perf consume`, as Kafka's
//! `ProducerPerformance` keeps it: totals, a window reported every second, and a sample of
//! latencies for the percentiles.
//!
//! Keeping every latency of a 50-million-record run would cost hundreds of megabytes, so,
//! like Kafka, one in every `n` is kept, `n` chosen so that at most [`MAX_SAMPLES`] are. The
//! average and the maximum use every record.

use std::time::{Duration, Instant};

use serde_json::json;

/// At most this many latency samples are kept (Kafka's figure).
pub const MAX_SAMPLES: u64 = 500_000;

/// Running statistics of one perf run.
#[derive(Debug)]
pub struct Stats {
    records: u64,
    bytes: u64,
    latency_sum_us: u128,
    latency_max_us: u64,
    sampling: u64,
    samples: Vec<u32>,
    window: Window,
}

/// The counters of the current progress window.
#[derive(Debug)]
struct Window {
    start: Instant,
    records: u64,
    bytes: u64,
    latency_sum_us: u128,
    latency_max_us: u64,
}

impl Window {
    fn new(start: Instant) -> Self {
        Self {
            start,
            records: 0,
            bytes: 0,
            latency_sum_us: 0,
            latency_max_us: 0,
        }
    }
}

impl Stats {
    /// Statistics for a run of about `expected` records, starting now.
    pub fn new(expected: u64) -> Self {
        let start = Instant::now();
        let sampling = (expected / MAX_SAMPLES).max(1);
        Self {
            records: 0,
            bytes: 0,
            latency_sum_us: 0,
            latency_max_us: 0,
            sampling,
            samples: Vec::with_capacity((expected / sampling).min(MAX_SAMPLES) as usize),
            window: Window::new(start),
        }
    }

    /// Counts one record of `bytes` bytes that took `latency`.
    pub fn record(&mut self, latency: Duration, bytes: usize) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        if self.records.is_multiple_of(self.sampling) {
            self.samples.push(u32::try_from(us).unwrap_or(u32::MAX));
        }
        self.records += 1;
        self.bytes += bytes as u64;
        self.latency_sum_us += u128::from(us);
        self.latency_max_us = self.latency_max_us.max(us);
        let w = &mut self.window;
        w.records += 1;
        w.bytes += bytes as u64;
        w.latency_sum_us += u128::from(us);
        w.latency_max_us = w.latency_max_us.max(us);
    }

    /// Once a second has passed since the window opened: the progress line for it (Kafka's
    /// "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency"), and a
    /// new window.
    pub fn window_line(&mut self, verb: &str, now: Instant) -> Option<String> {
        let elapsed = now.saturating_duration_since(self.window.start);
        if elapsed < Duration::from_secs(1) {
            return None;
        }
        let w = std::mem::replace(&mut self.window, Window::new(now));
        let secs = elapsed.as_secs_f64();
        let avg_ms = if w.records == 0 {
            0.0
        } else {
            w.latency_sum_us as f64 / w.records as f64 / 1000.0
        };
        Some(format!(
            "{} records {verb}, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
            w.records,
            w.records as f64 / secs,
            w.bytes as f64 / secs / MB,
            avg_ms,
            w.latency_max_us as f64 / 1000.0
        ))
    }

    /// The run's summary, `elapsed` after the start.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        let pct = |p: f64| -> f64 {
            if sorted.is_empty() {
                return 0.0;
            }
            // Nearest rank, as Kafka's `percentiles`.
            let i = ((p * sorted.len() as f64) as usize).min(sorted.len() - 1);
            f64::from(sorted[i]) / 1000.0
        };
        Summary {
            records: self.records,
            bytes: self.bytes,
            elapsed_secs: secs,
            records_per_sec: self.records as f64 / secs,
            mb_per_sec: self.bytes as f64 / secs / MB,
            latency_avg_ms: if self.records == 0 {
                0.0
            } else {
                self.latency_sum_us as f64 / self.records as f64 / 1000.0
            },
            latency_p50_ms: pct(0.5),
            latency_p95_ms: pct(0.95),
            latency_p99_ms: pct(0.99),
            latency_p999_ms: pct(0.999),
            latency_max_ms: self.latency_max_us as f64 / 1000.0,
        }
    }
}

/// A megabyte as Kafka's perf tools count it.
const MB: f64 = 1024.0 * 1024.0;

/// The outcome of a perf run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Records counted.
    pub records: u64,
    /// Payload bytes counted.
    pub bytes: u64,
    /// Seconds from the first record to the last.
    pub elapsed_secs: f64,
    /// Records per second.
    pub records_per_sec: f64,
    /// Megabytes (2^20 bytes) per second.
    pub mb_per_sec: f64,
    /// Average latency, ms.
    pub latency_avg_ms: f64,
    /// Median latency, ms.
    pub latency_p50_ms: f64,
    /// 95th percentile latency, ms.
    pub latency_p95_ms: f64,
    /// 99th percentile latency, ms.
    pub latency_p99_ms: f64,
    /// 99.9th percentile latency, ms.
    pub latency_p999_ms: f64,
    /// Largest latency, ms.
    pub latency_max_ms: f64,
}

impl Summary {
    /// Kafka's final line: "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms
    /// max latency, P ms 50th, P ms 95th, P ms 99th, P ms 99.9th."
    pub fn text(&self, verb: &str) -> String {
        format!(
            "{} records {verb}, {:.1} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {:.2} ms 50th, {:.2} ms 95th, {:.2} ms 99th, {:.2} ms 99.9th.",
            self.records,
            self.records_per_sec,
            self.mb_per_sec,
            self.latency_avg_ms,
            self.latency_max_ms,
            self.latency_p50_ms,
            self.latency_p95_ms,
            self.latency_p99_ms,
            self.latency_p999_ms
        )
    }

    /// The same figures as one JSON object.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "records": self.records,
            "bytes": self.bytes,
            "elapsed_secs": self.elapsed_secs,
            "records_per_sec": self.records_per_sec,
            "mb_per_sec": self.mb_per_sec,
            "latency_ms": {
                "avg": self.latency_avg_ms,
                "p50": self.latency_p50_ms,
                "p95": self.latency_p95_ms,
                "p99": self.latency_p99_ms,
                "p99_9": self.latency_p999_ms,
                "max": self.latency_max_ms,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_rates() {
        let mut s = Stats::new(1000);
        for ms in 1..=1000u64 {
            s.record(Duration::from_millis(ms), 100);
        }
        let sum = s.summary(Duration::from_secs(2));
        assert_eq!(sum.records, 1000);
        assert_eq!(sum.records_per_sec, 500.0);
        assert!((sum.latency_avg_ms - 500.5).abs() < 1e-9);
        assert_eq!(sum.latency_p50_ms, 501.0);
        assert_eq!(sum.latency_p99_ms, 991.0);
        assert_eq!(sum.latency_max_ms, 1000.0);
        let j = sum.json();
        assert_eq!(j["records"], 1000);
        assert_eq!(j["latency_ms"]["max"], 1000.0);
        assert!(
            sum.text("sent")
                .starts_with("1000 records sent, 500.0 records/sec")
        );
    }

    #[test]
    fn sampling_keeps_memory_bounded() {
        let mut s = Stats::new(MAX_SAMPLES * 4);
        for _ in 0..(MAX_SAMPLES * 4) {
            s.record(Duration::from_micros(5), 1);
        }
        assert_eq!(s.samples.len() as u64, MAX_SAMPLES);
        assert_eq!(s.summary(Duration::from_secs(1)).latency_p999_ms, 0.005);
    }

    #[test]
    fn windows_close_after_a_second() {
        let mut s = Stats::new(10);
        s.record(Duration::from_millis(3), 10);
        let t0 = s.window.start;
        assert!(
            s.window_line("sent", t0 + Duration::from_millis(500))
                .is_none()
        );
        let line = s.window_line("sent", t0 + Duration::from_secs(2)).unwrap();
        assert!(
            line.starts_with("1 records sent, 0.5 records/sec"),
            "{line}"
        );
        assert!(
            s.window_line("sent", t0 + Duration::from_millis(2500))
                .is_none()
        );
    }
}
