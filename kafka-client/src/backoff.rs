//! Backoff arithmetic, sans-IO: how long to wait before reconnecting or retrying, and how long
//! a connection attempt may take.
//!
//! Kafka's clients grow these waits exponentially (base 2) with ±20% jitter up to a maximum
//! (`ExponentialBackoff` in the Java client), so that a thousand clients that lost the same
//! broker do not reconnect in lockstep. Nothing here reads a clock or a random source: callers
//! pass `now` and a random number in `[0, 1)`, so the tests drive time and randomness by hand.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

/// Exponential growth with jitter: `initial * 2^attempts * (1 ± jitter)`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialBackoff {
    initial: Duration,
    max: Duration,
    multiplier: f64,
    jitter: f64,
    exp_max: f64,
}

impl ExponentialBackoff {
    /// Kafka's shape: base 2, 20% jitter.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self::with_params(initial, max, 2.0, 0.2)
    }

    /// Any base and jitter (`jitter` is a fraction, e.g. 0.2 for ±20%).
    pub fn with_params(initial: Duration, max: Duration, multiplier: f64, jitter: f64) -> Self {
        // The exponent at which growth reaches `max`; beyond it only jitter varies the result.
        let exp_max = if max > initial && multiplier > 1.0 {
            let base = initial.as_secs_f64().max(1e-3);
            (max.as_secs_f64() / base).ln() / multiplier.ln()
        } else {
            0.0
        };
        Self {
            initial,
            max,
            multiplier,
            jitter: jitter.clamp(0.0, 1.0),
            exp_max,
        }
    }

    /// The wait after `attempts` earlier failures (0 for the first wait), given `unit`, a
    /// random number in `[0, 1)`.
    pub fn delay(&self, attempts: u32, unit: f64) -> Duration {
        if self.exp_max == 0.0 {
            // Java returns the initial value when there is no room to grow, even above max.
            return self.initial;
        }
        let exp = f64::from(attempts).min(self.exp_max);
        let term = self.initial.as_secs_f64() * self.multiplier.powf(exp);
        let factor = 1.0 - self.jitter + unit.clamp(0.0, 1.0) * 2.0 * self.jitter;
        let secs = (term * factor).min(self.max.as_secs_f64());
        Duration::from_secs_f64(secs.max(0.0))
    }

    /// The configured first wait.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The configured cap.
    pub fn max(&self) -> Duration {
        self.max
    }
}

/// A cheap, non-cryptographic random source for jitter, seeded from the OS through std's
/// hasher keys (so jitter needs no extra crate).
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    /// A generator with a random seed.
    pub fn new() -> Self {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x9e37_79b9_7f4a_7c15);
        Self(h.finish() | 1)
    }

    /// A generator with a fixed seed (tests).
    pub fn seeded(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next number in `[0, 1)` (xorshift64*).
    pub fn unit(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (r >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Default for Jitter {
    fn default() -> Self {
        Self::new()
    }
}

/// Per-broker reconnection state: consecutive failures and when the next attempt may start.
#[derive(Debug, Clone, Default)]
pub struct ReconnectState {
    failures: u32,
    blocked_until: Option<Instant>,
}

impl ReconnectState {
    /// A broker never tried.
    pub fn new() -> Self {
        Self::default()
    }

    /// When the next attempt may start (`None`: now).
    pub fn ready_at(&self) -> Option<Instant> {
        self.blocked_until
    }

    /// Whether an attempt may start at `now`.
    pub fn is_ready(&self, now: Instant) -> bool {
        self.blocked_until.is_none_or(|t| now >= t)
    }

    /// Consecutive failed attempts.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// How long the next attempt may take (`socket.connection.setup.timeout.ms`, doubling per
    /// consecutive failure up to `.max.ms`).
    pub fn setup_timeout(&self, setup: &ExponentialBackoff, unit: f64) -> Duration {
        setup.delay(self.failures, unit)
    }

    /// Records a failed attempt at `now`: the next one waits `reconnect.backoff.ms` doubled per
    /// earlier consecutive failure, up to `.max.ms`.
    pub fn on_failure(&mut self, now: Instant, reconnect: &ExponentialBackoff, unit: f64) {
        let wait = reconnect.delay(self.failures, unit);
        self.failures = self.failures.saturating_add(1);
        self.blocked_until = Some(now + wait);
    }

    /// Records a successful connection: the next failure starts from the initial wait.
    pub fn on_success(&mut self) {
        self.failures = 0;
        self.blocked_until = None;
    }
}

/// The retry schedule of one call: exponential waits (`retry.backoff.ms` .. `.max.ms`) within
/// an overall deadline.
#[derive(Debug, Clone)]
pub struct RetrySchedule {
    backoff: ExponentialBackoff,
    started: Instant,
    deadline: Instant,
    attempts: u32,
}

impl RetrySchedule {
    /// A call starting at `now` that must finish by `now + budget`.
    pub fn new(backoff: ExponentialBackoff, now: Instant, budget: Duration) -> Self {
        Self {
            backoff,
            started: now,
            deadline: now + budget,
            attempts: 0,
        }
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// When the call started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The overall deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Time left at `now`.
    pub fn remaining(&self, now: Instant) -> Duration {
        self.deadline.saturating_duration_since(now)
    }

    /// Records an attempt that failed retriably at `now`: returns how long to wait before the
    /// next one, or `None` when waiting would pass the deadline (give up).
    pub fn next_delay(&mut self, now: Instant, unit: f64) -> Option<Duration> {
        let wait = self.backoff.delay(self.attempts, unit);
        self.attempts += 1;
        (now + wait < self.deadline).then_some(wait)
    }

    /// Records an attempt without waiting (the first one, or one after a redirect).
    pub fn count_attempt(&mut self) {
        self.attempts += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_up_to_max_without_jitter_at_midpoint() {
        let b = ExponentialBackoff::new(ms(50), ms(1000));
        // unit 0.5 gives factor 1.0 exactly.
        let waits: Vec<_> = (0..7).map(|a| b.delay(a, 0.5).as_millis()).collect();
        assert_eq!(waits, [50, 100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_within_twenty_percent_and_under_max() {
        let b = ExponentialBackoff::new(ms(100), ms(1000));
        assert_eq!(b.delay(0, 0.0), ms(80));
        let hi = b.delay(0, 0.999_999).as_secs_f64();
        assert!((0.1199..0.1201).contains(&hi), "{hi}");
        let mut rng = Jitter::seeded(7);
        for attempts in 0..20 {
            let d = b.delay(attempts, rng.unit());
            assert!(d <= ms(1000) && d >= ms(80), "{d:?}");
        }
    }

    #[test]
    fn no_room_to_grow_returns_initial() {
        let b = ExponentialBackoff::new(ms(500), ms(100));
        assert_eq!(b.delay(5, 0.9), ms(500));
        let b = ExponentialBackoff::new(ms(100), ms(100));
        assert_eq!(b.delay(3, 0.1), ms(100));
    }

    #[test]
    fn jitter_source_is_uniform_enough() {
        let mut j = Jitter::seeded(42);
        let xs: Vec<f64> = (0..10_000).map(|_| j.unit()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((0.48..0.52).contains(&mean), "{mean}");
        assert_ne!(Jitter::new().unit(), Jitter::new().unit());
    }

    #[test]
    fn reconnect_state_with_simulated_time() {
        let reconnect = ExponentialBackoff::new(ms(50), ms(1000));
        let setup = ExponentialBackoff::new(ms(10_000), ms(30_000));
        let t0 = Instant::now();
        let mut s = ReconnectState::new();
        assert!(s.is_ready(t0));
        assert_eq!(s.setup_timeout(&setup, 0.5), ms(10_000));

        s.on_failure(t0, &reconnect, 0.5);
        assert!(!s.is_ready(t0 + ms(49)));
        assert!(s.is_ready(t0 + ms(50)));
        assert_eq!(s.setup_timeout(&setup, 0.5), ms(20_000));

        let t1 = t0 + ms(50);
        s.on_failure(t1, &reconnect, 0.5);
        assert_eq!(s.ready_at(), Some(t1 + ms(100)));
        assert_eq!(s.setup_timeout(&setup, 0.5), ms(30_000));

        for _ in 0..10 {
            s.on_failure(t1, &reconnect, 0.5);
        }
        assert_eq!(s.ready_at(), Some(t1 + ms(1000)));
        assert_eq!(s.failures(), 12);

        s.on_success();
        assert!(s.is_ready(t1));
        assert_eq!(s.setup_timeout(&setup, 0.5), ms(10_000));
    }

    #[test]
    fn retry_schedule_gives_up_at_the_deadline() {
        let t0 = Instant::now();
        let mut r = RetrySchedule::new(ExponentialBackoff::new(ms(100), ms(1000)), t0, ms(1000));
        // Waits of 100, 200, 400 fit; at t=700 a wait of 800 would pass the deadline.
        let mut now = t0;
        let mut waits = Vec::new();
        while let Some(w) = r.next_delay(now, 0.5) {
            waits.push(w.as_millis());
            now += w;
        }
        assert_eq!(waits, [100, 200, 400]);
        assert_eq!(r.attempts(), 4);
        assert_eq!(r.remaining(now), ms(300));
        assert_eq!(r.remaining(t0 + ms(5000)), Duration::ZERO);
    }
}
