//! The in-flight table of one connection, sans-IO: correlation ids handed out, and the
//! request (API, version, waiter) each one answers.
//!
//! A response frame starts with the correlation id of the request it answers; the table gives
//! back the API and version to decode it with and whoever is waiting. Closing the table fails
//! every waiter at once and refuses new registrations, so a request can never be registered on
//! a connection that is already gone and wait forever.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use kafka_protocol::ApiKey;

/// One request awaiting its response.
#[derive(Debug)]
pub(crate) struct Pending<W> {
    /// The request's API.
    pub api: ApiKey,
    /// The version it was sent at (and the response must be decoded at).
    pub version: i16,
    /// When it was registered.
    pub sent_at: Instant,
    /// Whoever waits for the response.
    pub waiter: W,
}

/// Correlation ids and their pending requests. Generic over the waiter so tests can use plain
/// values.
#[derive(Debug)]
pub(crate) struct InFlight<W> {
    next_id: i32,
    pending: HashMap<i32, Pending<W>>,
    /// Ids of the most recent requests sent without expecting a response (Produce acks=0),
    /// oldest first, at most [`UNANSWERED_KEPT`]. Kafka never answers them, but some
    /// Kafka-compatible brokers (tansu) do; such a response is dropped instead of being taken
    /// for a protocol violation that closes the connection.
    unanswered: VecDeque<i32>,
    closed: bool,
}

/// How many no-response ids are remembered: more than any broker could answer late.
const UNANSWERED_KEPT: usize = 4096;

impl<W> InFlight<W> {
    pub(crate) fn new() -> Self {
        Self {
            next_id: 0,
            pending: HashMap::new(),
            unanswered: VecDeque::new(),
            closed: false,
        }
    }

    /// Hands out the next correlation id, skipping any still pending after wrap-around.
    /// `None` once closed.
    pub(crate) fn allocate(&mut self) -> Option<i32> {
        if self.closed {
            return None;
        }
        loop {
            let id = self.next_id;
            // Kafka's clients count from 0 and wrap to 0 (ids are never negative).
            self.next_id = if id == i32::MAX { 0 } else { id + 1 };
            if !self.pending.contains_key(&id) {
                return Some(id);
            }
        }
    }

    /// Hands out an id for a request the broker is not expected to answer, remembering it so
    /// that a response to it anyway is recognised ([`InFlight::was_unanswered`]).
    pub(crate) fn allocate_unanswered(&mut self) -> Option<i32> {
        let id = self.allocate()?;
        if self.unanswered.len() == UNANSWERED_KEPT {
            self.unanswered.pop_front();
        }
        self.unanswered.push_back(id);
        Some(id)
    }

    /// Whether `correlation_id` was handed out by [`InFlight::allocate_unanswered`] recently;
    /// forgets it (a second response to it is a protocol violation). A broker that answers
    /// anyway answers in order, so the id is found at the front.
    pub(crate) fn was_unanswered(&mut self, correlation_id: i32) -> bool {
        match self.unanswered.iter().position(|&id| id == correlation_id) {
            Some(i) => {
                self.unanswered.remove(i);
                true
            }
            None => false,
        }
    }

    /// Registers a request expecting a response; `None` once closed.
    pub(crate) fn register(
        &mut self,
        api: ApiKey,
        version: i16,
        now: Instant,
        waiter: W,
    ) -> Option<i32> {
        let id = self.allocate()?;
        self.pending.insert(
            id,
            Pending {
                api,
                version,
                sent_at: now,
                waiter,
            },
        );
        Some(id)
    }

    /// Takes the request a response with `correlation_id` answers; `None` if no request has
    /// that id (a protocol violation by the broker).
    pub(crate) fn complete(&mut self, correlation_id: i32) -> Option<Pending<W>> {
        self.pending.remove(&correlation_id)
    }

    /// Forgets a request whose response will not be awaited (it could not be sent).
    pub(crate) fn cancel(&mut self, correlation_id: i32) -> Option<Pending<W>> {
        self.pending.remove(&correlation_id)
    }

    /// Closes the table: returns every pending request (to fail them) and refuses new ones.
    pub(crate) fn close(&mut self) -> Vec<Pending<W>> {
        self.closed = true;
        self.pending.drain().map(|(_, p)| p).collect()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    #[cfg(test)]
    pub(crate) fn set_next_id(&mut self, id: i32) {
        self.next_id = id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_to_an_unanswered_request_is_recognised_once() {
        let mut t: InFlight<u8> = InFlight::new();
        let a = t.allocate_unanswered().unwrap();
        let b = t.register(ApiKey::Metadata, 12, Instant::now(), 1).unwrap();
        assert_ne!(a, b);
        assert!(t.complete(a).is_none());
        assert!(t.was_unanswered(a));
        assert!(!t.was_unanswered(a), "only once");
        assert!(!t.was_unanswered(b));
        for _ in 0..UNANSWERED_KEPT {
            t.allocate_unanswered().unwrap();
        }
        assert_eq!(t.unanswered.len(), UNANSWERED_KEPT);
    }

    #[test]
    fn responses_match_by_correlation_id_in_any_order() {
        let now = Instant::now();
        let mut t = InFlight::new();
        let a = t.register(ApiKey::Metadata, 12, now, "a").unwrap();
        let b = t.register(ApiKey::Fetch, 17, now, "b").unwrap();
        let c = t.register(ApiKey::Produce, 11, now, "c").unwrap();
        assert_eq!((a, b, c), (0, 1, 2));
        let p = t.complete(b).unwrap();
        assert_eq!((p.api, p.version, p.waiter), (ApiKey::Fetch, 17, "b"));
        assert!(
            t.complete(b).is_none(),
            "a second response for the same id is unknown"
        );
        assert_eq!(t.complete(c).unwrap().waiter, "c");
        assert_eq!(t.complete(a).unwrap().waiter, "a");
        assert!(t.complete(99).is_none());
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn ids_wrap_to_zero_and_skip_pending_ones() {
        let now = Instant::now();
        let mut t = InFlight::new();
        let zero = t.register(ApiKey::Metadata, 1, now, 0).unwrap();
        assert_eq!(zero, 0);
        t.set_next_id(i32::MAX);
        assert_eq!(t.register(ApiKey::Metadata, 1, now, 1), Some(i32::MAX));
        // 0 is still pending, so the next id after wrapping is 1.
        assert_eq!(t.allocate(), Some(1));
    }

    #[test]
    fn closing_fails_everything_and_refuses_new_requests() {
        let now = Instant::now();
        let mut t = InFlight::new();
        t.register(ApiKey::Metadata, 1, now, 1).unwrap();
        let id = t.register(ApiKey::Metadata, 1, now, 2).unwrap();
        assert!(t.cancel(id).is_some());
        t.register(ApiKey::Metadata, 1, now, 3).unwrap();
        let mut failed: Vec<_> = t.close().into_iter().map(|p| p.waiter).collect();
        failed.sort();
        assert_eq!(failed, [1, 3]);
        assert!(t.is_closed());
        assert!(t.register(ApiKey::Metadata, 1, now, 4).is_none());
        assert!(t.allocate().is_none());
    }
}
