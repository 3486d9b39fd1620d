//! A batch's delivery callbacks, stored without an allocation per record.
//!
//! Boxing each `send_with_callback` closure costs an allocation on the sending thread and a
//! free on the sender task's thread, which never hits the allocator's thread cache: at 100-byte
//! records that alone took a third of the producer's throughput. A program sends with one
//! closure type in its loop, so callbacks are kept in runs of one concrete type: a typed
//! vector per run, boxed once per batch and found again by downcasting. Runs keep record
//! order, so callbacks are still called in the order the records were sent.

use std::any::Any;

use crate::error::ProducerError;
use crate::record::RecordMetadata;

/// A user's delivery callback.
pub(crate) trait DeliveryCallback:
    FnOnce(Result<RecordMetadata, ProducerError>) + Send + 'static
{
}

impl<F> DeliveryCallback for F where
    F: FnOnce(Result<RecordMetadata, ProducerError>) + Send + 'static
{
}

/// The callback type where there is none (a `send` returning a future): never called.
pub(crate) type NoCallback = fn(Result<RecordMetadata, ProducerError>);

/// What a completed record's callback is called with, by its index and create time.
pub(crate) type Outcome<'a> = &'a dyn Fn(u32, i64) -> Result<RecordMetadata, ProducerError>;

/// Where a record of the old batch went when it was split: the part and its index there.
pub(crate) type Locate<'a> = &'a dyn Fn(u32) -> Option<(usize, u32)>;

/// One run of callbacks of type `F`: (record index, create time, callback).
struct Run<F> {
    items: Vec<(u32, i64, F)>,
}

trait AnyRun: Send {
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn complete(self: Box<Self>, outcome: Outcome<'_>);
    fn distribute(self: Box<Self>, locate: Locate<'_>, parts: &mut [Callbacks]);
}

impl<F: DeliveryCallback> AnyRun for Run<F> {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn complete(self: Box<Self>, outcome: Outcome<'_>) {
        for (index, timestamp, callback) in self.items {
            callback(outcome(index, timestamp));
        }
    }

    fn distribute(self: Box<Self>, locate: Locate<'_>, parts: &mut [Callbacks]) {
        for (index, timestamp, callback) in self.items {
            if let Some((part, at)) = locate(index)
                && let Some(p) = parts.get_mut(part)
            {
                p.push(at, timestamp, callback, 1);
            }
        }
    }
}

/// The callbacks of one batch, in record order.
#[derive(Default)]
pub(crate) struct Callbacks {
    runs: Vec<Box<dyn AnyRun>>,
}

impl Callbacks {
    /// Adds `callback` for record `index`; a new run makes room for `expected` callbacks.
    pub fn push<F: DeliveryCallback>(
        &mut self,
        index: u32,
        timestamp: i64,
        callback: F,
        expected: usize,
    ) {
        if let Some(run) = self
            .runs
            .last_mut()
            .and_then(|r| r.as_any_mut().downcast_mut::<Run<F>>())
        {
            run.items.push((index, timestamp, callback));
            return;
        }
        let mut items = Vec::with_capacity(expected.max(1));
        items.push((index, timestamp, callback));
        self.runs.push(Box::new(Run { items }));
    }

    /// Whether a callback was added yet.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Calls every callback, in record order, with its record's outcome.
    pub fn complete(self, outcome: Outcome<'_>) {
        for run in self.runs {
            run.complete(outcome);
        }
    }

    /// Moves every callback to the part of a split batch that holds its record.
    pub fn distribute(self, locate: Locate<'_>, parts: &mut [Callbacks]) {
        for run in self.runs {
            run.distribute(locate, parts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn outcome(index: u32, timestamp: i64) -> Result<RecordMetadata, ProducerError> {
        Ok(RecordMetadata {
            topic: Arc::from("t"),
            partition: 0,
            offset: i64::from(index),
            timestamp,
        })
    }

    #[test]
    fn runs_of_closure_types_keep_record_order() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut cbs = Callbacks::default();
        let s = seen.clone();
        let by_closure = move |i: u32| {
            let s = s.clone();
            move |r: Result<RecordMetadata, ProducerError>| {
                s.lock().unwrap().push((i, r.unwrap().offset));
            }
        };
        let s = seen.clone();
        let other = move |r: Result<RecordMetadata, ProducerError>| {
            s.lock().unwrap().push((99, r.unwrap().offset));
        };
        cbs.push(0, 10, by_closure(0), 4);
        cbs.push(1, 11, by_closure(1), 4);
        cbs.push(2, 12, other, 4);
        cbs.push(3, 13, by_closure(3), 4);
        assert_eq!(cbs.runs.len(), 3, "a run per change of closure type");
        cbs.complete(&outcome);
        assert_eq!(*seen.lock().unwrap(), [(0, 0), (1, 1), (99, 2), (3, 3)]);
    }

    #[test]
    fn distribute_follows_the_records() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut cbs = Callbacks::default();
        for i in 0..4u32 {
            let s = seen.clone();
            cbs.push(
                i,
                0,
                move |r: Result<RecordMetadata, ProducerError>| {
                    s.lock().unwrap().push((i, r.unwrap().offset));
                },
                4,
            );
        }
        // Records 0-1 went to part 0, 2-3 to part 1 (indexes from 0 in each).
        let mut parts = vec![Callbacks::default(), Callbacks::default()];
        cbs.distribute(&|i| Some(((i / 2) as usize, i % 2)), &mut parts);
        let [a, b] = <[Callbacks; 2]>::try_from(parts).ok().unwrap();
        b.complete(&outcome);
        a.complete(&outcome);
        assert_eq!(*seen.lock().unwrap(), [(2, 0), (3, 1), (0, 0), (1, 1)]);
    }
}
