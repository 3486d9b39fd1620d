//! TLS on the listener (rustls on the `ring` provider): the settings, loading the PEM
//! files, and the handshake of each accepted connection.
//!
//! With TLS configured the broker's one listener speaks only TLS (Kafka's `SSL`, or
//! `SASL_SSL` with SASL), so Metadata keeps advertising that listener's port. With a client
//! CA, clients must present a certificate it signed (mutual TLS, Kafka's
//! `ssl.client.auth=required`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::BrokerBuilder;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS settings: PEM files read when the broker starts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// The broker's certificate chain, leaf first (PEM).
    pub cert_chain: PathBuf,
    /// The private key of the leaf certificate (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates (PEM) that client certificates must chain to; `None`: clients
    /// present no certificate.
    pub client_ca: Option<PathBuf>,
}

impl TlsConfig {
    /// TLS with this certificate chain and key, no client certificates.
    pub fn new(cert_chain: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            cert_chain: cert_chain.into(),
            key: key.into(),
            client_ca: None,
        }
    }
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A PEM file holds nothing usable.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A client CA was given without a certificate and key to serve.
    #[error("a client CA needs a certificate and key too (BrokerBuilder::tls, --tls-cert)")]
    NoCertificate,
    /// rustls refused the certificates or key (e.g. the key does not match the leaf).
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built from the client CA.
    #[error("client CA: {0}")]
    ClientCa(String),
    /// A self-signed certificate could not be generated.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
}

/// Builder methods for TLS.
impl BrokerBuilder {
    /// Serves TLS with this certificate chain (PEM, leaf first) and private key (PEM): the
    /// listener becomes `SSL`, or `SASL_SSL` with SASL.
    pub fn tls(mut self, cert_chain_pem: impl Into<PathBuf>, key_pem: impl Into<PathBuf>) -> Self {
        let client_ca = self.config.tls.take().and_then(|t| t.client_ca);
        self.config.tls = Some(TlsConfig {
            client_ca,
            ..TlsConfig::new(cert_chain_pem, key_pem)
        });
        self
    }

    /// Requires client certificates signed by a CA in this PEM file (mutual TLS). Needs
    /// [`tls`](Self::tls) too.
    pub fn tls_client_ca(mut self, ca_pem: impl Into<PathBuf>) -> Self {
        let tls = self
            .config
            .tls
            .get_or_insert_with(|| TlsConfig::new(PathBuf::new(), PathBuf::new()));
        tls.client_ca = Some(ca_pem.into());
        self
    }
}

/// Reads the PEM files and builds the acceptor.
pub(crate) fn acceptor(config: &TlsConfig) -> Result<TlsAcceptor, TlsError> {
    if config.cert_chain.as_os_str().is_empty() || config.key.as_os_str().is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let certs = certificates(&config.cert_chain)?;
    let key_pem = read(&config.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Pem {
        path: config.key.clone(),
        reason: format!("no usable private key: {e}"),
    })?;
    // An explicit provider: the process default may be unset, or ambiguous when another
    // crate enables a second one.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let builder = match &config.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca)? {
                roots.add(cert)?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::ClientCa(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let server = builder.with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// Runs the server side of the TLS handshake, bounded by [`HANDSHAKE_TIMEOUT`].
pub(crate) async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
) -> std::io::Result<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "TLS handshake timed out",
        )),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate in a PEM file; at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            reason: format!("bad PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_path_buf(),
            reason: "no CERTIFICATE block".into(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::self_signed;

    #[test]
    fn loads_generated_files_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let files = self_signed::generate(dir.path(), &["localhost".into()]).unwrap();
        acceptor(&TlsConfig::new(&files.cert, &files.key)).unwrap();
        let mtls = TlsConfig {
            client_ca: Some(files.ca.clone()),
            ..TlsConfig::new(&files.cert, &files.key)
        };
        acceptor(&mtls).unwrap();

        let missing = TlsConfig::new(dir.path().join("nope.pem"), &files.key);
        assert!(matches!(acceptor(&missing), Err(TlsError::Io { .. })));
        // A key where the chain should be, and a chain where the key should be.
        let swapped = TlsConfig::new(&files.key, &files.cert);
        assert!(matches!(acceptor(&swapped), Err(TlsError::Pem { .. })));
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, b"-----BEGIN CERTIFICATE-----\n@@@\n").unwrap();
        assert!(acceptor(&TlsConfig::new(&garbage, &files.key)).is_err());
        // The CA's certificate with the server's key: they do not match.
        assert!(acceptor(&TlsConfig::new(&files.ca, &files.key)).is_err());
        // A client CA alone.
        let ca_only = crate::Broker::builder().tls_client_ca(&files.ca);
        let ca_only = ca_only.config().tls.clone().unwrap();
        assert!(matches!(acceptor(&ca_only), Err(TlsError::NoCertificate)));
    }
}
