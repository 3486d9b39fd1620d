//! What a connection goes through before it is served: TLS, then SASL. Prepared once when
//! the broker starts (PEM files read, SCRAM keys derived), then shared by every connection.
//!
//! The four combinations are Kafka's security protocols: `PLAINTEXT` (neither), `SSL`,
//! `SASL_PLAINTEXT` and `SASL_SSL`.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::connection;
use super::sasl::credentials::Credentials;
use super::sasl::gate::SaslGate;
use super::tls;
use crate::BrokerError;
use crate::config::BrokerConfig;
use crate::state::BrokerState;

impl BrokerConfig {
    /// The listener's security protocol as Kafka names it: `PLAINTEXT`, `SSL`,
    /// `SASL_PLAINTEXT` or `SASL_SSL`.
    pub fn security_protocol(&self) -> &'static str {
        match (self.tls.is_some(), self.sasl.is_some()) {
            (false, false) => "PLAINTEXT",
            (true, false) => "SSL",
            (false, true) => "SASL_PLAINTEXT",
            (true, true) => "SASL_SSL",
        }
    }
}

/// The listener's prepared security.
#[derive(Clone)]
pub(crate) struct Security {
    tls: Option<TlsAcceptor>,
    sasl: Option<Arc<Credentials>>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl)
            .finish()
    }
}

impl Security {
    /// Reads the TLS files and derives the SASL credentials of `config`.
    pub fn prepare(config: &BrokerConfig) -> Result<Self, BrokerError> {
        let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
        let sasl = match &config.sasl {
            Some(sasl) => Some(Arc::new(Credentials::prepare(sasl)?)),
            None => None,
        };
        Ok(Self { tls, sasl })
    }

    /// Secures and serves one accepted connection until it closes.
    pub async fn serve(self, state: Arc<BrokerState>, stream: TcpStream, peer: SocketAddr) {
        // Responses are written whole; Nagle would only add latency.
        let _ = stream.set_nodelay(true);
        let gate = self.sasl.map(SaslGate::new);
        match &self.tls {
            None => connection::serve(state, stream, peer, gate).await,
            Some(acceptor) => match tls::handshake(acceptor, stream).await {
                Ok(stream) => connection::serve(state, stream, peer, gate).await,
                // Kafka logs failed TLS handshakes at INFO too: usually a plaintext client
                // or an untrusted certificate, worth seeing when a client cannot connect.
                Err(e) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
            },
        }
    }
}
