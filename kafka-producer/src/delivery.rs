//! Delivery results: [`DeliveryFuture`] and the state a batch shares with its records.
//!
//! Every record of a batch resolves at once, so a record does not get a channel of its own:
//! its future holds the batch's [`BatchShared`] (one reference-count increment) and its index
//! in the batch, and the offset is computed from the batch's base offset. A batch split after
//! MESSAGE_TOO_LARGE points its records at the new batches ([`Outcome::Split`]); futures
//! follow the pointer the next time they are polled.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use crate::error::ProducerError;
use crate::record::RecordMetadata;

/// What a broker said about a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchAck {
    /// Offset of the first record (-1 when unknown).
    pub base_offset: i64,
    /// The log-append time when the topic uses it, else -1.
    pub log_append_time: i64,
}

#[derive(Debug)]
enum Outcome {
    Pending(Vec<Waker>),
    Done(Result<BatchAck, ProducerError>),
    /// The batch was split; records from `start` on (until the next part) moved to the part
    /// at that index.
    Split(Vec<(u32, Arc<BatchShared>)>),
}

/// The completion state of one batch, shared with its records' futures.
#[derive(Debug)]
pub(crate) struct BatchShared {
    pub topic: Arc<str>,
    pub partition: i32,
    /// Guards the outcome and the wakers; held briefly, never across an await.
    outcome: Mutex<Outcome>,
}

impl BatchShared {
    pub(crate) fn new(topic: Arc<str>, partition: i32) -> Arc<Self> {
        Arc::new(Self {
            topic,
            partition,
            outcome: Mutex::new(Outcome::Pending(Vec::new())),
        })
    }

    /// Completes the batch and wakes its waiting records. Later calls are ignored.
    pub(crate) fn complete(&self, result: Result<BatchAck, ProducerError>) {
        self.settle(Outcome::Done(result));
    }

    /// Points the batch's records at the batches it was split into (`parts`: the index of
    /// each part's first record, ascending, starting at 0).
    pub(crate) fn redirect(&self, parts: Vec<(u32, Arc<BatchShared>)>) {
        self.settle(Outcome::Split(parts));
    }

    fn settle(&self, next: Outcome) {
        let previous = {
            let mut outcome = self.outcome.lock();
            if !matches!(*outcome, Outcome::Pending(_)) {
                return;
            }
            std::mem::replace(&mut *outcome, next)
        };
        // Wake outside the lock: a woken future polls and takes it at once.
        if let Outcome::Pending(wakers) = previous {
            for w in wakers {
                w.wake();
            }
        }
    }

    /// The metadata of record `index` with create time `timestamp`, once the batch is done.
    pub(crate) fn metadata(&self, index: u32, timestamp: i64, ack: &BatchAck) -> RecordMetadata {
        RecordMetadata {
            topic: self.topic.clone(),
            partition: self.partition,
            offset: if ack.base_offset >= 0 {
                ack.base_offset + i64::from(index)
            } else {
                -1
            },
            timestamp: if ack.log_append_time >= 0 {
                ack.log_append_time
            } else {
                timestamp
            },
        }
    }
}

/// Resolves to where a record landed, or why it was not delivered.
///
/// Returned by [`Producer::send`](crate::Producer::send) once the record is in the
/// producer's buffer. Dropping it does not cancel the delivery.
#[derive(Debug)]
#[must_use = "a DeliveryFuture reports whether the record was delivered"]
pub struct DeliveryFuture {
    state: FutureState,
}

#[derive(Debug)]
enum FutureState {
    Waiting {
        batch: Arc<BatchShared>,
        index: u32,
        timestamp: i64,
        /// Where this future's waker sits in the batch's list, once registered.
        slot: Option<usize>,
    },
    Ready(Option<Result<RecordMetadata, ProducerError>>),
}

impl DeliveryFuture {
    pub(crate) fn new(batch: Arc<BatchShared>, index: u32, timestamp: i64) -> Self {
        Self {
            state: FutureState::Waiting {
                batch,
                index,
                timestamp,
                slot: None,
            },
        }
    }

    pub(crate) fn ready(result: Result<RecordMetadata, ProducerError>) -> Self {
        Self {
            state: FutureState::Ready(Some(result)),
        }
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, ProducerError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            let (batch, index, timestamp, slot) = match &mut this.state {
                FutureState::Ready(r) => {
                    return Poll::Ready(
                        r.take()
                            .unwrap_or(Err(ProducerError::Closed { forced: false })),
                    );
                }
                FutureState::Waiting {
                    batch,
                    index,
                    timestamp,
                    slot,
                } => (batch, index, timestamp, slot),
            };
            let next = {
                let mut outcome = batch.outcome.lock();
                match &mut *outcome {
                    Outcome::Done(Ok(ack)) => {
                        return Poll::Ready(Ok(batch.metadata(*index, *timestamp, ack)));
                    }
                    Outcome::Done(Err(e)) => return Poll::Ready(Err(e.clone())),
                    Outcome::Pending(wakers) => {
                        match slot {
                            Some(i) if *i < wakers.len() => {
                                if !wakers[*i].will_wake(cx.waker()) {
                                    wakers[*i] = cx.waker().clone();
                                }
                            }
                            _ => {
                                *slot = Some(wakers.len());
                                wakers.push(cx.waker().clone());
                            }
                        }
                        return Poll::Pending;
                    }
                    Outcome::Split(parts) => {
                        let at = parts.partition_point(|(start, _)| *start <= *index);
                        let (start, part) = &parts[at.saturating_sub(1)];
                        (part.clone(), *index - *start)
                    }
                }
            };
            // Follow the split to the part that holds this record now.
            *batch = next.0;
            *index = next.1;
            *slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Count(std::sync::atomic::AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn poll(f: &mut DeliveryFuture, w: &Arc<Count>) -> Poll<Result<RecordMetadata, ProducerError>> {
        let waker = Waker::from(w.clone());
        Pin::new(f).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn records_resolve_from_the_batch_ack() {
        let shared = BatchShared::new("t".into(), 2);
        let mut a = DeliveryFuture::new(shared.clone(), 0, 100);
        let mut b = DeliveryFuture::new(shared.clone(), 3, 200);
        let w = Arc::new(Count(0.into()));
        assert!(poll(&mut a, &w).is_pending());
        assert!(poll(&mut a, &w).is_pending(), "re-polling keeps one waker");
        shared.complete(Ok(BatchAck {
            base_offset: 40,
            log_append_time: -1,
        }));
        assert_eq!(w.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        let Poll::Ready(Ok(m)) = poll(&mut b, &w) else {
            panic!()
        };
        assert_eq!((m.partition, m.offset, m.timestamp), (2, 43, 200));
        let Poll::Ready(Ok(m)) = poll(&mut a, &w) else {
            panic!()
        };
        assert_eq!(m.offset, 40);
    }

    #[test]
    fn split_batches_forward_their_records() {
        let parent = BatchShared::new("t".into(), 0);
        let first = BatchShared::new("t".into(), 0);
        let second = BatchShared::new("t".into(), 0);
        let mut f = DeliveryFuture::new(parent.clone(), 5, 0);
        let w = Arc::new(Count(0.into()));
        assert!(poll(&mut f, &w).is_pending());
        parent.redirect(vec![(0, first.clone()), (4, second.clone())]);
        assert!(poll(&mut f, &w).is_pending());
        first.complete(Ok(BatchAck {
            base_offset: 0,
            log_append_time: -1,
        }));
        assert!(
            poll(&mut f, &w).is_pending(),
            "record 5 is in the second part"
        );
        second.complete(Ok(BatchAck {
            base_offset: 10,
            log_append_time: 77,
        }));
        let Poll::Ready(Ok(m)) = poll(&mut f, &w) else {
            panic!()
        };
        assert_eq!((m.offset, m.timestamp), (11, 77));
    }
}
