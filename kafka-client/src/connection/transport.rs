//! The byte stream under a connection: TCP, optionally wrapped in TLS.
//!
//! Opening one resolves the host, tries each address it resolves to in turn (Kafka's
//! `use_all_dns_ips`), applies the socket buffer sizes and disables Nagle (requests are whole
//! frames written at once, and latency matters more than packet count), then runs the TLS
//! handshake when the security protocol asks for it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::error::{Error, ErrorKind};

/// A connected byte stream to a broker.
#[derive(Debug)]
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Socket options for new connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SocketOptions {
    /// SO_SNDBUF; negative keeps the OS default.
    pub send_buffer: i32,
    /// SO_RCVBUF; negative keeps the OS default.
    pub receive_buffer: i32,
}

impl Transport {
    /// Opens TCP to `host:port`, then TLS when `tls` is given.
    pub(crate) async fn open(
        host: &str,
        port: u16,
        options: SocketOptions,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<Self, Error> {
        let addr = format!("{host}:{port}");
        let connect_err = |e: io::Error| {
            Error::new(ErrorKind::Connect {
                addr: addr.clone(),
                source: Arc::new(e),
            })
        };
        let resolved: Vec<_> = tokio::net::lookup_host((host, port))
            .await
            .map_err(connect_err)?
            .collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host resolved to no address");
        let mut stream = None;
        for sa in resolved {
            let socket = if sa.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
            .map_err(connect_err)?;
            // Buffer sizes must be set before connecting to take effect on the TCP window.
            if options.send_buffer > 0 {
                let _ = socket.set_send_buffer_size(options.send_buffer as u32);
            }
            if options.receive_buffer > 0 {
                let _ = socket.set_recv_buffer_size(options.receive_buffer as u32);
            }
            match socket.connect(sa).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = stream.ok_or_else(|| connect_err(last))?;
        stream.set_nodelay(true).map_err(connect_err)?;
        match tls {
            None => Ok(Transport::Plain(stream)),
            Some(config) => {
                let name = ServerName::try_from(host.to_owned()).map_err(|e| {
                    Error::new(ErrorKind::Tls(format!("bad server name {host}: {e}")))
                })?;
                let tls = TlsConnector::from(config.clone())
                    .connect(name, stream)
                    .await
                    .map_err(|e| handshake_error(&addr, e))?;
                Ok(Transport::Tls(Box::new(tls)))
            }
        }
    }
}

/// A handshake that TLS itself refused (bad certificate, no common cipher) will fail the same
/// way again and is not retriable; one cut short by the network is.
fn handshake_error(addr: &str, e: io::Error) -> Error {
    let refused = e
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
    if refused {
        Error::new(ErrorKind::Tls(format!("handshake with {addr}: {e}")))
    } else {
        Error::new(ErrorKind::Disconnected {
            reason: format!("TLS handshake with {addr} interrupted: {e}"),
        })
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(s) => s.is_write_vectored(),
            Transport::Tls(s) => s.is_write_vectored(),
        }
    }
}
