//! Pacing to a target rate, as Kafka's `ThroughputThrottler`: `perf produce --throughput N`
//! sends N records a second on average, sleeping whenever it is ahead of schedule.

use std::time::{Duration, Instant};

/// Paces records to `per_sec` a second; a negative or zero rate means as fast as possible.
#[derive(Debug, Clone)]
pub struct Throttle {
    start: Instant,
    per_sec: f64,
}

impl Throttle {
    /// A throttle starting now.
    pub fn new(per_sec: i64) -> Self {
        Self {
            start: Instant::now(),
            per_sec: per_sec as f64,
        }
    }

    /// How long to wait before sending record number `sent` (0-based), if ahead of schedule.
    pub fn delay(&self, sent: u64, now: Instant) -> Option<Duration> {
        if self.per_sec <= 0.0 {
            return None;
        }
        let due = self.start + Duration::from_secs_f64(sent as f64 / self.per_sec);
        // Sleeping for less than a millisecond costs more than it paces.
        due.checked_duration_since(now)
            .filter(|d| *d >= Duration::from_millis(1))
    }

    /// Waits until record number `sent` is due.
    pub async fn wait(&self, sent: u64) {
        if let Some(d) = self.delay(sent, Instant::now()) {
            tokio::time::sleep(d).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_to_the_rate() {
        let t = Throttle::new(100);
        let at = t.start;
        assert_eq!(t.delay(0, at), None);
        assert_eq!(t.delay(50, at), Some(Duration::from_millis(500)));
        assert_eq!(t.delay(50, at + Duration::from_secs(1)), None);
        assert_eq!(Throttle::new(-1).delay(1_000_000, at), None);
    }
}
