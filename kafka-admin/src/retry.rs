//! Per-item retries within a call's deadline.
//!
//! An admin request carries many items (topics, partitions, resources) and its response
//! answers each. The client core retries a request that failed as a whole; this module
//! retries the *items* a response failed retriably, in rounds: each round sends only the items
//! still pending, items with a final answer (success or a non-retriable error) drop out, and
//! between rounds the call backs off (`retry.backoff.ms`, growing to `retry.backoff.max.ms`).
//! Stale-metadata codes are reported to the client core so the next round is routed with fresh
//! metadata. Items still pending at the deadline fail with [`AdminError::TimedOut`] holding
//! their last error.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::time::Instant;

use kafka_protocol::{ErrorCode, KStr};
use tokio::task::JoinSet;

use crate::{AdminClient, AdminError};

/// What a round says about one item.
#[derive(Debug)]
pub(crate) enum Outcome<T> {
    /// A final answer.
    Done(Result<T, AdminError>),
    /// Failed in a way the next round may fix.
    Retry(AdminError),
}

/// Which per-item error codes an operation retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// Changes made through the controller (creating and deleting topics, adding partitions):
    /// only errors that mean the change was not attempted (NOT_CONTROLLER: wrong broker;
    /// THROTTLING_QUOTA_EXCEEDED: refused for now). Repeating a change whose fate is unknown
    /// (REQUEST_TIMED_OUT) would turn a success into TOPIC_ALREADY_EXISTS, so those are final.
    Change,
    /// Reads, and changes that are safe to repeat (configs), about an item whose existence is
    /// part of the answer: every retriable code except "does not exist".
    Lookup,
    /// Partition data requests routed to leaders: every retriable code, including "unknown
    /// topic or partition", which a broker answers until a new topic's metadata reaches it.
    Partition,
}

impl Policy {
    /// Whether the policy retries `code`.
    pub(crate) fn retries(self, code: ErrorCode) -> bool {
        match self {
            Policy::Change => matches!(
                code,
                ErrorCode::NotController | ErrorCode::ThrottlingQuotaExceeded
            ),
            Policy::Lookup => {
                code.is_retriable()
                    && !matches!(
                        code,
                        ErrorCode::UnknownTopicOrPartition | ErrorCode::UnknownTopicId
                    )
            }
            Policy::Partition => code.is_retriable(),
        }
    }

    /// The outcome of an item answered with `code` (and `message`); `ok` builds the success.
    pub(crate) fn outcome<T>(
        self,
        code: i16,
        message: Option<&KStr>,
        ok: impl FnOnce() -> T,
    ) -> Outcome<T> {
        if code == 0 {
            return Outcome::Done(Ok(ok()));
        }
        self.error(AdminError::from_response(code, message))
    }

    /// The outcome of an item that failed with `e`.
    pub(crate) fn error<T>(self, e: AdminError) -> Outcome<T> {
        let retry = match (&e, e.code()) {
            (AdminError::Broker { .. }, Some(code)) => self.retries(code),
            // Whole-request failures the client core could not fix within its own retries
            // (it gives up with a non-retriable error when the budget is spent).
            _ => e.is_retriable(),
        };
        if retry {
            Outcome::Retry(e)
        } else {
            Outcome::Done(Err(e))
        }
    }
}

/// Runs `round` over the pending items until each has a final answer or `deadline` passes.
///
/// `round` gets the items still pending and returns an outcome per item; items it does not
/// mention fail with [`AdminError::Protocol`]. A round that fails as a whole applies its error
/// to every pending item (retrying them all if it is retriable).
///
/// `round` takes the pending items by value and returns a future rather than being an async
/// closure over a borrowed slice: futures of async closures with higher-ranked borrows are not
/// provably `Send` (a compiler limitation), and admin calls must be spawnable.
pub(crate) async fn run_rounds<K, T, F, Fut>(
    admin: &AdminClient,
    deadline: Instant,
    items: Vec<K>,
    mut round: F,
) -> HashMap<K, Result<T, AdminError>>
where
    K: Eq + Hash + Clone,
    F: FnMut(Vec<K>) -> Fut,
    Fut: Future<Output = Result<Vec<(K, Outcome<T>)>, AdminError>>,
{
    let mut done: HashMap<K, Result<T, AdminError>> = HashMap::new();
    let mut seen = HashSet::new();
    let mut pending: Vec<K> = items
        .into_iter()
        .filter(|k| seen.insert(k.clone()))
        .collect();
    let mut schedule = admin.schedule(deadline);
    while !pending.is_empty() {
        let mut retry = Vec::new();
        let mut last = None;
        match round(pending.clone()).await {
            Ok(outcomes) => {
                let mut unanswered: HashSet<K> = pending.iter().cloned().collect();
                for (key, outcome) in outcomes {
                    if !unanswered.remove(&key) {
                        continue;
                    }
                    match outcome {
                        Outcome::Done(result) => {
                            done.insert(key, result);
                        }
                        Outcome::Retry(e) => {
                            retry.push(key);
                            last = Some(e);
                        }
                    }
                }
                for key in unanswered {
                    let missing = AdminError::Protocol("the response has no result for it".into());
                    done.insert(key, Err(missing));
                }
            }
            // Whole-round failures the client core could not fix within its own retries;
            // operations turn broker codes into per-item outcomes themselves.
            Err(e) if e.is_retriable() => {
                retry = std::mem::take(&mut pending);
                last = Some(e);
            }
            Err(e) => {
                for key in pending.drain(..) {
                    done.insert(key, Err(e.clone()));
                }
            }
        }
        let Some(last) = last.filter(|_| !retry.is_empty()) else {
            break;
        };
        if let Some(code) = last.code() {
            // Stale-metadata codes (NOT_CONTROLLER, NOT_LEADER_OR_FOLLOWER, ...) schedule a
            // refresh the next round's routing waits for.
            admin.client().report_error(code);
        }
        match schedule.next_delay(Instant::now(), admin.jitter()) {
            Some(wait) => {
                tracing::debug!(error = %last, ?wait, items = retry.len(), "retrying admin items");
                tokio::time::sleep(wait).await;
                pending = retry;
            }
            None => {
                let e = AdminError::TimedOut {
                    attempts: schedule.attempts(),
                    last: Box::new(last),
                };
                for key in retry {
                    done.insert(key, Err(e.clone()));
                }
                break;
            }
        }
    }
    done
}

/// Items refused before anything was sent, and why.
pub(crate) type Refused<K> = HashMap<K, Result<(), AdminError>>;

/// Splits items into those named once (first-seen order kept) and the keys named more than
/// once, which are refused: the broker would answer both copies with one error, and a map of
/// results cannot hold two answers for one key.
pub(crate) fn split_duplicates<K: Eq + Hash + Clone, V>(
    items: impl IntoIterator<Item = (K, V)>,
) -> (Vec<(K, V)>, Refused<K>) {
    let items: Vec<(K, V)> = items.into_iter().collect();
    let mut count: HashMap<K, usize> = HashMap::new();
    for (k, _) in &items {
        *count.entry(k.clone()).or_default() += 1;
    }
    let dups: HashSet<K> = count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k)
        .collect();
    let refused = dups
        .iter()
        .map(|k| {
            let e = AdminError::InvalidArgument("named more than once in the call".into());
            (k.clone(), Err(e))
        })
        .collect();
    let unique = items
        .into_iter()
        .filter(|(k, _)| !dups.contains(k))
        .collect();
    (unique, refused)
}

/// Merges refusals (typed `()`) into a result map of another type.
pub(crate) fn merge_refused<K: Eq + Hash, T>(
    mut results: HashMap<K, Result<T, AdminError>>,
    refused: Refused<K>,
) -> HashMap<K, Result<T, AdminError>> {
    for (k, r) in refused {
        if let Err(e) = r {
            results.insert(k, Err(e));
        }
    }
    results
}

/// Runs futures concurrently (one task each) and returns their outputs in completion order.
/// Outputs carry their own keys, so order does not matter to callers. A panicking task
/// panics the caller, as if the future had run inline.
pub(crate) async fn join_all<T, Fut>(futures: impl IntoIterator<Item = Fut>) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let mut set = JoinSet::new();
    for f in futures {
        set.spawn(f);
    }
    let mut out = Vec::with_capacity(set.len());
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(v) => out.push(v),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only a runtime shutting down cancels these tasks; the call is moot then.
            Err(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_alone() {
        let (unique, refused) = split_duplicates([("a", 1), ("b", 2), ("a", 3)]);
        assert_eq!(unique, [("b", 2)]);
        assert!(matches!(refused["a"], Err(AdminError::InvalidArgument(_))));
    }

    #[test]
    fn policies_pick_codes() {
        use ErrorCode as E;
        assert!(Policy::Change.retries(E::NotController));
        assert!(!Policy::Change.retries(E::RequestTimedOut));
        assert!(!Policy::Change.retries(E::TopicAlreadyExists));
        assert!(Policy::Lookup.retries(E::RequestTimedOut));
        assert!(!Policy::Lookup.retries(E::UnknownTopicOrPartition));
        assert!(Policy::Partition.retries(E::UnknownTopicOrPartition));
        assert!(Policy::Partition.retries(E::NotLeaderOrFollower));
        assert!(!Policy::Partition.retries(E::OffsetOutOfRange));
    }

    #[test]
    fn outcomes() {
        assert!(matches!(
            Policy::Lookup.outcome(0, None, || 7),
            Outcome::Done(Ok(7))
        ));
        assert!(matches!(
            Policy::Lookup.outcome::<()>(7, None, || ()),
            Outcome::Retry(_)
        ));
        let Outcome::Done(Err(e)) = Policy::Change.outcome::<()>(36, Some(&"exists".into()), || ())
        else {
            panic!("TOPIC_ALREADY_EXISTS is final")
        };
        assert_eq!(e.message(), Some("exists"));
        let e = AdminError::InvalidArgument("x".into());
        assert!(matches!(
            Policy::Partition.error::<()>(e),
            Outcome::Done(Err(_))
        ));
    }
}
