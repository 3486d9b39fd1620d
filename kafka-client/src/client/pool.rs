//! The connection pool: at most one open connection per (broker, lane), opened on demand,
//! with reconnection backoff per broker.
//!
//! Concurrent requests for a broker that is not connected wait for one connection attempt
//! instead of each opening their own. After a failed attempt the broker is in backoff
//! (`reconnect.backoff.ms`, doubling up to `.max.ms`, with jitter), and each consecutive
//! failure also doubles the setup timeout (`socket.connection.setup.timeout.ms` up to
//! `.max.ms`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::backoff::{ExponentialBackoff, Jitter, ReconnectState};
use crate::connection::{BrokerAddress, Connection, ConnectionSettings};
use crate::error::{Error, ErrorKind};

/// Which of a broker's connections a request uses. Kafka brokers work on one request per
/// connection at a time, so coordinator traffic (heartbeats, commits) gets its own
/// connection and is never queued behind a long-polling fetch on the same broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Lane {
    Default,
    Coordinator,
}

/// A pool slot's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ConnKey {
    pub node: i32,
    pub lane: Lane,
}

impl ConnKey {
    pub(crate) fn new(node: i32, lane: Lane) -> Self {
        Self { node, lane }
    }
}

struct SlotState {
    backoff: ReconnectState,
    last_error: Option<Error>,
}

struct Slot {
    /// Guards the open connection, if any. Never held across an await, so looking for the
    /// least-loaded connection never waits behind a connection attempt.
    live: Mutex<Option<Connection>>,
    /// Held for the whole of a connection attempt, so that concurrent callers wait for it
    /// rather than racing their own; guards the reconnect backoff and the last failure.
    connecting: tokio::sync::Mutex<SlotState>,
}

impl Slot {
    fn current(&self, addr: &BrokerAddress) -> Option<Connection> {
        let mut live = self.live.lock();
        match live.as_ref() {
            Some(c)
                if !c.is_closed()
                    && c.broker().host == addr.host
                    && c.broker().port == addr.port =>
            {
                Some(c.clone())
            }
            Some(c) => {
                // Closed, or the broker moved to a new address: drop it.
                c.close();
                *live = None;
                None
            }
            None => None,
        }
    }
}

/// Open connections by broker and lane.
pub(crate) struct Pool {
    settings: ConnectionSettings,
    reconnect: ExponentialBackoff,
    setup: ExponentialBackoff,
    /// Guards the slot table (which keys exist); never held across an await.
    slots: Mutex<HashMap<ConnKey, Arc<Slot>>>,
    /// Guards the jitter source.
    jitter: Mutex<Jitter>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("slots", &self.slots.lock().len())
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub(crate) fn new(
        settings: ConnectionSettings,
        reconnect: ExponentialBackoff,
        setup: ExponentialBackoff,
    ) -> Self {
        Self {
            settings,
            reconnect,
            setup,
            slots: Mutex::new(HashMap::new()),
            jitter: Mutex::new(Jitter::new()),
        }
    }

    fn slot(&self, key: ConnKey) -> Arc<Slot> {
        self.slots
            .lock()
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Slot {
                    live: Mutex::new(None),
                    connecting: tokio::sync::Mutex::new(SlotState {
                        backoff: ReconnectState::new(),
                        last_error: None,
                    }),
                })
            })
            .clone()
    }

    fn unit(&self) -> f64 {
        self.jitter.lock().unit()
    }

    /// The open connection for `key`, or a new one to `addr`. Waits out the broker's
    /// reconnect backoff first, unless it ends after `deadline` (then fails at once with the
    /// last connection error).
    pub(crate) async fn get(
        &self,
        key: ConnKey,
        addr: &BrokerAddress,
        deadline: Instant,
    ) -> Result<Connection, Error> {
        let slot = self.slot(key);
        if let Some(c) = slot.current(addr) {
            return Ok(c);
        }
        // Waiting for another caller's attempt counts against our deadline too.
        let started = Instant::now();
        tokio::time::timeout_at(deadline.into(), self.connect(&slot, addr, deadline))
            .await
            .unwrap_or_else(|_| {
                Err(Error::new(ErrorKind::ConnectTimeout {
                    addr: addr.to_string(),
                    timeout: started.elapsed(),
                })
                .with_broker(addr.id))
            })
    }

    async fn connect(
        &self,
        slot: &Slot,
        addr: &BrokerAddress,
        deadline: Instant,
    ) -> Result<Connection, Error> {
        let mut state = slot.connecting.lock().await;
        // Someone else may have connected while we waited for the lock.
        if let Some(c) = slot.current(addr) {
            return Ok(c);
        }
        if let Some(ready) = state.backoff.ready_at() {
            if ready >= deadline {
                let last = state.last_error.clone().unwrap_or_else(|| {
                    Error::new(ErrorKind::Disconnected {
                        reason: "broker is in reconnect backoff".into(),
                    })
                });
                return Err(last.with_broker(addr.id));
            }
            tokio::time::sleep_until(ready.into()).await;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let timeout = state
            .backoff
            .setup_timeout(&self.setup, self.unit())
            .min(remaining.max(Duration::from_millis(1)));
        match Connection::connect(addr.clone(), &self.settings, timeout).await {
            Ok(c) => {
                state.backoff.on_success();
                state.last_error = None;
                *slot.live.lock() = Some(c.clone());
                Ok(c)
            }
            Err(e) => {
                state
                    .backoff
                    .on_failure(Instant::now(), &self.reconnect, self.unit());
                state.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// The open connection for `key`, without connecting.
    pub(crate) fn live(&self, key: ConnKey) -> Option<Connection> {
        let slot = self.slots.lock().get(&key).cloned()?;
        let live = slot.live.lock();
        live.as_ref().filter(|c| !c.is_closed()).cloned()
    }

    /// Whether a connection attempt to `key` may start at `now` (not in backoff).
    pub(crate) fn is_ready(&self, key: ConnKey, now: Instant) -> bool {
        let Some(slot) = self.slots.lock().get(&key).cloned() else {
            return true;
        };
        // An attempt in progress counts as ready: joining it is the quickest way in.
        slot.connecting
            .try_lock()
            .map_or(true, |s| s.backoff.is_ready(now))
    }

    /// When a connection attempt to `key` may start (`None`: now or unknown).
    pub(crate) fn ready_at(&self, key: ConnKey) -> Option<Instant> {
        let slot = self.slots.lock().get(&key).cloned()?;
        slot.connecting.try_lock().ok()?.backoff.ready_at()
    }

    /// Closes connections idle for at least `max_idle` with nothing in flight.
    pub(crate) fn close_idle(&self, max_idle: Duration) -> usize {
        let slots: Vec<_> = self.slots.lock().values().cloned().collect();
        let mut closed = 0;
        for slot in slots {
            let mut live = slot.live.lock();
            if let Some(c) = live.as_ref()
                && (c.is_closed() || (c.in_flight() == 0 && c.idle_for() >= max_idle))
            {
                c.close();
                *live = None;
                closed += 1;
            }
        }
        closed
    }

    /// Closes the connections to nodes `drop` selects (e.g. bootstrap addresses).
    pub(crate) fn close_where(&self, drop: impl Fn(ConnKey) -> bool) {
        let mut slots = self.slots.lock();
        slots.retain(|key, slot| {
            if drop(*key) {
                if let Some(c) = slot.live.lock().take() {
                    c.close();
                }
                false
            } else {
                true
            }
        });
    }

    /// Closes every connection.
    pub(crate) fn close_all(&self) {
        self.close_where(|_| true);
    }
}
