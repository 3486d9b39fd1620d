//! One client connection: cut frames out of the byte stream, answer them in order.
//!
//! Requests are handled one at a time and responses written in request order, as Kafka
//! does per connection (it mutes a connection until its in-flight request is answered); a
//! pipelining client simply has its later requests wait in the socket buffer. A negative or
//! oversized size prefix, an I/O error, or a request Kafka would refuse closes this
//! connection only.
//!
//! The stream is TCP or TLS (see `security`). On a SASL listener every frame goes through
//! the connection's SASL gate until it has authenticated; until then frames are limited to
//! Kafka's `sasl.server.max.receive.size` (512 KiB), so an anonymous peer cannot make the
//! broker buffer a 100 MiB request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::frame::FrameSplitter;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::sasl::gate::{GateStep, SaslGate};
use crate::handlers::Reply;
use crate::state::BrokerState;

/// Bytes reserved ahead of each socket read.
const READ_CHUNK: usize = 16 * 1024;

/// Largest frame before SASL authentication (Kafka's `sasl.server.max.receive.size`).
const SASL_MAX_RECEIVE: usize = 512 * 1024;

/// Pause before closing a connection that failed to authenticate (Kafka's
/// `connection.failed.authentication.delay.ms`), to slow down password guessing.
const FAILED_AUTH_DELAY: Duration = Duration::from_millis(100);

/// Serves one connection until the peer closes it or it must be closed. `sasl` is the
/// connection's SASL gate on a SASL listener.
pub(crate) async fn serve<S>(
    state: Arc<BrokerState>,
    mut stream: S,
    peer: SocketAddr,
    mut sasl: Option<SaslGate>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let max = state.config().socket_request_max_bytes;
    let mut frames = FrameSplitter::new(if sasl.is_some() {
        max.min(SASL_MAX_RECEIVE)
    } else {
        max
    });
    loop {
        let frame = match frames.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                let buf = frames.buffer();
                buf.reserve(READ_CHUNK);
                match stream.read_buf(buf).await {
                    Ok(0) => {
                        tracing::debug!(%peer, "connection closed by peer");
                        return;
                    }
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "read failed");
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection: bad frame size");
                return;
            }
        };
        let step = match sasl.as_mut() {
            Some(gate) => gate.on_frame(frame),
            None => GateStep::Serve(frame),
        };
        let reply = match step {
            GateStep::Serve(frame) => state.handle_frame_from(frame, Some(peer)).await,
            GateStep::Respond(bytes) => {
                let done = sasl.as_ref().and_then(SaslGate::authenticated);
                if let Some((user, mechanism)) = done.map(|(u, m)| (u.to_string(), m)) {
                    tracing::info!(%peer, user, %mechanism, "authenticated");
                    sasl = None;
                    // Authenticated: requests may now be as large as any other.
                    let pending = std::mem::take(frames.buffer());
                    frames = FrameSplitter::new(max);
                    *frames.buffer() = pending;
                }
                Reply::Send(bytes)
            }
            GateStep::Refuse { response, error } => {
                tracing::info!(%peer, %error, "closing unauthenticated connection");
                if let Some(bytes) = response {
                    let _ = write_frame(&mut stream, &bytes).await;
                }
                tokio::time::sleep(FAILED_AUTH_DELAY).await;
                let _ = stream.shutdown().await;
                return;
            }
        };
        match reply {
            Reply::Send(bytes) => {
                if let Err(e) = write_frame(&mut stream, &bytes).await {
                    tracing::debug!(%peer, error = %e, "write failed");
                    return;
                }
            }
            Reply::Nothing => {}
            Reply::Close(reason) => {
                tracing::info!(%peer, %reason, "closing connection");
                return;
            }
        }
    }
}

/// Writes one response frame and flushes it (a no-op for TCP; TLS buffers records).
async fn write_frame<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}
