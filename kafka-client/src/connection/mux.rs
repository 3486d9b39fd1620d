//! The multiplexer: many requests in flight on one socket, matched to their responses by
//! correlation id.
//!
//! A writer task drains a queue of encoded frames into the socket (coalescing whatever is
//! queued into one flush); a reader task cuts response frames out of the byte stream with
//! [`FrameSplitter`], reads each frame's correlation id and hands the raw frame to the waiter
//! registered under it. Callers encode and decode in their own tasks, so the reader never
//! spends time in the codec and a large fetch response does not hold up a heartbeat.
//!
//! Any failure (read or write error, end of stream, a frame with an unknown correlation id, a
//! request that timed out) closes the whole connection and fails everything in flight with the
//! same error: Kafka answers requests on a connection in order, so once one is lost, nothing
//! behind it can be trusted either.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::frame::{
    FrameSplitter, decode_response, encode_request_into, peek_correlation_id,
};
use kafka_protocol::messages::request_header::RequestHeader;
use kafka_protocol::messages::{RequestBody, ResponseBody};
use kafka_protocol::{ApiKey, KStr};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use super::inflight::InFlight;
use super::transport::Transport;
use crate::error::{Error, ErrorKind};

/// How many encoded frames may wait for the writer before senders wait (back-pressure).
const QUEUE_DEPTH: usize = 256;

type Reply = oneshot::Sender<Result<Bytes, Error>>;

/// A frame for the writer, with an optional notice once it is on the socket.
struct Outgoing {
    frame: BytesMut,
    written: Option<oneshot::Sender<()>>,
}

/// State shared by the handle and the two tasks.
struct Core {
    /// Guards correlation ids, the waiters and the closed flag together, so that a request
    /// cannot register on a connection after it closed (and then wait forever).
    inflight: Mutex<InFlight<Reply>>,
    /// Why the connection closed; set once, by whoever closed it first.
    reason: OnceLock<Error>,
    /// Guards the reader and writer task handles, aborted when the connection closes.
    tasks: Mutex<Vec<AbortHandle>>,
    /// Milliseconds since `epoch` at the last request or response (for idle reaping).
    last_active: AtomicU64,
    epoch: Instant,
    /// Guards the buffers of frames already written, reused for new frames (a produce
    /// request's frame is as large as its batches: a fresh one each time costs an allocation
    /// and page faults, and a free on another thread's arena).
    frames: Mutex<Vec<BytesMut>>,
}

/// Written frames' buffers kept per connection, and the largest kept.
const FRAMES_KEPT: usize = 8;
const FRAME_KEPT_MAX: usize = 1 << 20;

impl Core {
    /// Keeps a written frame's buffer for a later frame.
    fn recycle_frame(&self, mut frame: BytesMut) {
        if frame.capacity() <= FRAME_KEPT_MAX {
            frame.clear();
            let mut frames = self.frames.lock();
            if frames.len() < FRAMES_KEPT {
                frames.push(frame);
            }
        }
    }

    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_active.store(ms, Ordering::Relaxed);
    }

    fn close(&self, err: Error) {
        let pending = {
            let mut table = self.inflight.lock();
            if table.is_closed() {
                return;
            }
            let _ = self.reason.set(err.clone());
            table.close()
        };
        tracing::debug!(error = %err, in_flight = pending.len(), "connection closed");
        for p in pending {
            let _ = p.waiter.send(Err(err.clone().with_api(p.api)));
        }
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
    }

    fn closed_error(&self) -> Error {
        self.reason.get().cloned().unwrap_or_else(|| {
            Error::new(ErrorKind::Disconnected {
                reason: "connection closed".into(),
            })
        })
    }
}

/// The sending side of a multiplexed connection. Dropping it closes the connection.
pub(crate) struct Mux {
    core: Arc<Core>,
    tx: mpsc::Sender<Outgoing>,
    client_id: KStr,
}

impl std::fmt::Debug for Mux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mux")
            .field("in_flight", &self.in_flight())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Drop for Mux {
    fn drop(&mut self) {
        self.core.close(Error::new(ErrorKind::Disconnected {
            reason: "connection dropped by the client".into(),
        }));
    }
}

/// Removes a registration whose frame never reached the writer (the caller gave up or was
/// cancelled first), so the table does not keep a waiter no response will ever come for.
struct Registration<'a> {
    core: &'a Core,
    id: i32,
    armed: bool,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.core.inflight.lock().cancel(self.id);
        }
    }
}

impl Mux {
    /// Starts the reader and writer tasks on `transport`.
    pub(crate) fn start(transport: Transport, client_id: &str, max_frame: usize) -> Self {
        let (read, write) = tokio::io::split(transport);
        let core = Arc::new(Core {
            inflight: Mutex::new(InFlight::new()),
            reason: OnceLock::new(),
            tasks: Mutex::new(Vec::new()),
            last_active: AtomicU64::new(0),
            epoch: Instant::now(),
            frames: Mutex::new(Vec::new()),
        });
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let span = tracing::Span::current();
        let reader = tokio::spawn(tracing::Instrument::instrument(
            read_loop(core.clone(), read, max_frame),
            span.clone(),
        ));
        let writer = tokio::spawn(tracing::Instrument::instrument(
            write_loop(core.clone(), rx, write),
            span,
        ));
        core.tasks
            .lock()
            .extend([reader.abort_handle(), writer.abort_handle()]);
        Self {
            core,
            tx,
            client_id: KStr::from(client_id),
        }
    }

    fn encode(
        &self,
        api: ApiKey,
        version: i16,
        correlation_id: i32,
        body: &RequestBody,
    ) -> Result<BytesMut, Error> {
        let header = RequestHeader {
            request_api_key: api.key(),
            request_api_version: version,
            correlation_id,
            client_id: Some(self.client_id.clone()),
            ..Default::default()
        };
        let mut frame = self.core.frames.lock().pop().unwrap_or_default();
        encode_request_into(&header, body, &mut frame).map_err(|source| {
            Error::new(ErrorKind::Encode {
                api,
                version,
                source,
            })
        })?;
        Ok(frame)
    }

    /// Sends a request and waits up to `timeout` for its raw response frame (header included).
    /// A timeout closes the connection.
    pub(crate) async fn request_frame(
        &self,
        version: i16,
        body: &RequestBody,
        timeout: Duration,
    ) -> Result<Bytes, Error> {
        let api = body.api_key();
        let (reply, response) = oneshot::channel();
        let id = self
            .core
            .inflight
            .lock()
            .register(api, version, Instant::now(), reply)
            .ok_or_else(|| self.core.closed_error())?;
        let mut registration = Registration {
            core: &self.core,
            id,
            armed: true,
        };
        let frame = self.encode(api, version, id, body)?;
        self.core.touch();
        let exchange = async {
            self.tx
                .send(Outgoing {
                    frame,
                    written: None,
                })
                .await
                .map_err(|_| self.core.closed_error())?;
            // From here the response must be read off the wire even if our caller goes away.
            registration.armed = false;
            response.await.map_err(|_| self.core.closed_error())?
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => {
                self.core.touch();
                result
            }
            Err(_) => {
                let e = Error::new(ErrorKind::RequestTimeout { timeout });
                self.core.close(e.clone());
                Err(e)
            }
        }
    }

    /// Sends a request and decodes its response at the same version.
    pub(crate) async fn call(
        &self,
        version: i16,
        body: &RequestBody,
        timeout: Duration,
    ) -> Result<ResponseBody, Error> {
        let api = body.api_key();
        let frame = self.request_frame(version, body, timeout).await?;
        let (_, response) = decode_response(&frame, api, version).map_err(|source| {
            Error::new(ErrorKind::Decode {
                api,
                version,
                source,
            })
        })?;
        Ok(response)
    }

    /// Sends a request the broker will not answer (Produce with acks=0); resolves once the
    /// frame is written to the socket.
    pub(crate) async fn send_only(
        &self,
        version: i16,
        body: &RequestBody,
        timeout: Duration,
    ) -> Result<(), Error> {
        let api = body.api_key();
        let id = self
            .core
            .inflight
            .lock()
            .allocate_unanswered()
            .ok_or_else(|| self.core.closed_error())?;
        let frame = self.encode(api, version, id, body)?;
        self.core.touch();
        let (written, done) = oneshot::channel();
        let exchange = async {
            self.tx
                .send(Outgoing {
                    frame,
                    written: Some(written),
                })
                .await
                .map_err(|_| self.core.closed_error())?;
            done.await.map_err(|_| self.core.closed_error())
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => {
                let e = Error::new(ErrorKind::RequestTimeout { timeout });
                self.core.close(e.clone());
                Err(e)
            }
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.core.inflight.lock().len()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.core.inflight.lock().is_closed()
    }

    pub(crate) fn close(&self, reason: &str) {
        self.core.close(Error::new(ErrorKind::Disconnected {
            reason: reason.to_owned(),
        }));
    }

    /// Why the connection closed, if it has.
    pub(crate) fn close_reason(&self) -> Option<Error> {
        self.core.reason.get().cloned()
    }

    /// How long since the last request or response.
    pub(crate) fn idle_for(&self) -> Duration {
        let last = self.core.last_active.load(Ordering::Relaxed);
        self.core
            .epoch
            .elapsed()
            .saturating_sub(Duration::from_millis(last))
    }
}

fn io_closed(what: &str, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Disconnected {
        reason: format!("{what}: {e}"),
    })
}

async fn read_loop(core: Arc<Core>, mut read: ReadHalf<Transport>, max_frame: usize) {
    let mut splitter = FrameSplitter::new(max_frame);
    loop {
        let buf = splitter.buffer();
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(32 * 1024);
        }
        match read.read_buf(buf).await {
            Ok(0) => {
                core.close(Error::new(ErrorKind::Disconnected {
                    reason: "the broker closed the connection".into(),
                }));
                return;
            }
            Ok(_) => {}
            Err(e) => {
                core.close(io_closed("read failed", e));
                return;
            }
        }
        loop {
            let frame = match splitter.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    core.close(Error::new(ErrorKind::Protocol(e.to_string())));
                    return;
                }
            };
            let Some(id) = peek_correlation_id(&frame) else {
                core.close(Error::new(ErrorKind::Protocol(
                    "response frame shorter than its header".into(),
                )));
                return;
            };
            let (pending, unanswered) = {
                let mut inflight = core.inflight.lock();
                match inflight.complete(id) {
                    Some(p) => (Some(p), false),
                    None => (None, inflight.was_unanswered(id)),
                }
            };
            match pending {
                Some(p) => {
                    tracing::trace!(
                        correlation_id = id,
                        api = p.api.name(),
                        version = p.version,
                        bytes = frame.len(),
                        waited_us = p.sent_at.elapsed().as_micros() as u64,
                        "response"
                    );
                    // The waiter may have gone (its caller was cancelled); that is fine.
                    let _ = p.waiter.send(Ok(frame));
                }
                None if unanswered => {
                    // Kafka does not answer acks=0 produce requests; some compatible brokers
                    // do. Nothing waits for it, so it is dropped.
                    tracing::debug!(
                        correlation_id = id,
                        "dropped a response to a request sent without expecting one"
                    );
                }
                None => {
                    core.close(Error::new(ErrorKind::Protocol(format!(
                        "response with unknown correlation id {id}"
                    ))));
                    return;
                }
            }
        }
    }
}

async fn write_loop(
    core: Arc<Core>,
    mut rx: mpsc::Receiver<Outgoing>,
    write: WriteHalf<Transport>,
) {
    // Small frames are copied into one buffer and flushed together; large ones go straight
    // through (BufWriter bypasses its buffer for writes larger than it).
    let mut out = BufWriter::with_capacity(64 * 1024, write);
    let mut acks = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(o) = next {
            if let Err(e) = out.write_all(&o.frame).await {
                core.close(io_closed("write failed", e));
                return;
            }
            core.recycle_frame(o.frame);
            acks.extend(o.written);
            next = rx.try_recv().ok();
        }
        if let Err(e) = out.flush().await {
            core.close(io_closed("write failed", e));
            return;
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
    // Every handle is gone: close our side politely.
    let _ = out.shutdown().await;
}
