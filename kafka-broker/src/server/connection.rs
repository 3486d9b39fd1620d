//! One client connection: cut frames out of the byte stream, answer them in order.
//!
//! Requests are handled one at a time and responses written in request order, as Kafka
//! does per connection (it mutes a connection until its in-flight request is answered); a
//! pipelining client simply has its later requests wait in the socket buffer. A negative or
//! oversized size prefix, an I/O error, or a request Kafka would refuse closes this
//! connection only.

use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::frame::FrameSplitter;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::handlers::Reply;
use crate::state::BrokerState;

/// Bytes reserved ahead of each socket read.
const READ_CHUNK: usize = 16 * 1024;

/// Serves one connection until the peer closes it or it must be closed.
pub(crate) async fn serve(state: Arc<BrokerState>, mut stream: TcpStream, peer: SocketAddr) {
    // Responses are written whole; Nagle would only add latency.
    let _ = stream.set_nodelay(true);
    let mut frames = FrameSplitter::new(state.config().socket_request_max_bytes);
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
        match state.handle_frame(frame).await {
            Reply::Send(bytes) => {
                if let Err(e) = stream.write_all(&bytes).await {
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
