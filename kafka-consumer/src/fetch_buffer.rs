//! The queue between the fetch tasks and the application: fetched partitions in arrival
//! order, and errors the application must see, with the byte budget that makes fetching
//! pause when the application falls behind.
//!
//! Fetch tasks push; the application pops one partition's data at a time and reads it without
//! holding the lock. Bytes are charged when data is queued and given back when the
//! application is done with it (see [`CompletedFetch`]'s `Drop`), which wakes fetch tasks
//! waiting for room.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::completed_fetch::CompletedFetch;
use crate::error::ConsumerError;

/// The byte budget of fetched data waiting for the application.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    bytes: AtomicUsize,
    space: Notify,
}

impl Budget {
    pub fn charge(&self, n: usize) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub fn release(&self, n: usize) {
        self.bytes.fetch_sub(n, Ordering::Relaxed);
        self.space.notify_waiters();
    }

    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// A future that completes when buffered data is next given back (call `enable` on it
    /// before checking the state it waits for).
    pub fn released(&self) -> tokio::sync::futures::Notified<'_> {
        self.space.notified()
    }

    /// Waits until fewer than `cap` bytes are buffered.
    pub async fn wait_below(&self, cap: usize) {
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            // Registered before checking, so a release in between is not missed.
            notified.as_mut().enable();
            if self.bytes() < cap {
                return;
            }
            notified.await;
        }
    }
}

/// What the application receives from the fetch side.
#[derive(Debug)]
pub(crate) enum Fetched {
    Data(CompletedFetch),
    Error(ConsumerError),
}

/// The queue.
#[derive(Debug, Default)]
pub(crate) struct FetchBuffer {
    /// Guards the queue; held only to push or pop.
    queue: Mutex<VecDeque<Fetched>>,
    ready: Notify,
}

impl FetchBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&self, items: impl IntoIterator<Item = Fetched>) {
        let mut q = self.queue.lock();
        let before = q.len();
        q.extend(items);
        let added = q.len() > before;
        drop(q);
        if added {
            self.ready.notify_one();
        }
    }

    pub fn pop(&self) -> Option<Fetched> {
        self.queue.lock().pop_front()
    }

    /// Wakes a waiting application without data (an error or state change to look at).
    pub fn wake(&self) {
        self.ready.notify_one();
    }

    /// Waits until something may have been pushed (or [`Self::wake`] was called).
    pub async fn wait(&self) {
        self.ready.notified().await;
    }
}
