//! The consumer as a [`Stream`] of records, for `futures` combinators and `select!` loops.
//!
//! Each item counts as a poll: asking for the next record marks the previous ones processed
//! (see [`Consumer`]), and a stream waiting for data counts as polling for
//! `max.poll.interval.ms`. Records are decoded one at a time, so dropping the stream loses
//! nothing: whatever was not yielded is still there for the next call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::consumer::Consumer;
use crate::error::{ConsumerError, Result};
use crate::record::ConsumerRecord;

/// A stream of records borrowed from a [`Consumer`] ([`Consumer::stream`]). Ends when the
/// consumer is closed; errors are items, after which the stream goes on.
#[must_use = "streams do nothing unless polled"]
pub struct RecordStream<'a> {
    consumer: &'a mut Consumer,
    waiting: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// Whether this item's poll bookkeeping ran already.
    started: bool,
    /// Whether the stream is waiting (which counts as polling for max.poll.interval.ms).
    polling: bool,
}

impl std::fmt::Debug for RecordStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStream")
            .field("waiting", &self.waiting.is_some())
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// The records as a [`Stream`].
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// # async fn run(mut consumer: kafka_consumer::Consumer) -> Result<(), kafka_consumer::ConsumerError> {
    /// let mut records = consumer.stream();
    /// while let Some(record) = records.next().await {
    ///     let record = record?;
    ///     println!("{}", record.offset);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream(&mut self) -> RecordStream<'_> {
        RecordStream {
            consumer: self,
            waiting: None,
            started: false,
            polling: false,
        }
    }
}

impl Stream for RecordStream<'_> {
    type Item = Result<ConsumerRecord>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.started {
            this.consumer.begin_stream_poll();
            this.started = true;
        }
        loop {
            if let Some(item) = this.consumer.try_next() {
                this.started = false;
                this.waiting = None;
                if this.polling {
                    // It waited: that counted as polling until now.
                    this.polling = false;
                    this.consumer.shared.set_in_poll(false);
                    this.consumer.shared.touch_poll();
                }
                return match item {
                    Err(ConsumerError::Closed) => Poll::Ready(None),
                    item => Poll::Ready(Some(item)),
                };
            }
            if !this.polling {
                this.polling = true;
                this.consumer.shared.set_in_poll(true);
            }
            let waiting = this.waiting.get_or_insert_with(|| {
                let shared = this.consumer.weak_shared();
                let until = this.consumer.next_auto_commit();
                Box::pin(async move {
                    let Some(shared) = shared.upgrade() else {
                        return;
                    };
                    let ready = shared.buffer.wait();
                    match until {
                        Some(t) => {
                            let _ = tokio::time::timeout_at(t.into(), ready).await;
                        }
                        None => ready.await,
                    }
                })
            });
            match waiting.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    this.waiting = None;
                    this.consumer.maybe_auto_commit();
                }
            }
        }
    }
}

impl Drop for RecordStream<'_> {
    fn drop(&mut self) {
        if self.polling {
            self.consumer.shared.set_in_poll(false);
            self.consumer.shared.touch_poll();
        }
    }
}
