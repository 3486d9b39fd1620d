//! Shared helpers for the integration tests: the broker to test against (the companion
//! broker, or `KAFKA_TEST_BOOTSTRAP`), a scripted mock broker, fast-failing configurations,
//! and an in-test PKI for TLS.
#![allow(dead_code)]

pub mod mock;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kafka_client::config::ClientConfig;

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A configuration with short timeouts and backoffs, so failing tests fail fast.
pub fn fast_config(bootstrap: &str) -> ClientConfig {
    ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .client_id("kafka-client-tests")
        .request_timeout(Duration::from_secs(5))
        .default_api_timeout(Duration::from_secs(10))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .connection_setup_timeout(Duration::from_secs(2), Duration::from_secs(4))
        .build()
        .unwrap()
}

/// The broker under test: an external one (`KAFKA_TEST_BOOTSTRAP`) or a companion broker
/// started in-process.
pub enum TestBroker {
    External(String),
    Companion(kafka_broker::BrokerHandle),
}

impl TestBroker {
    pub async fn start() -> Self {
        init_tracing();
        match std::env::var("KAFKA_TEST_BOOTSTRAP") {
            Ok(addr) if !addr.is_empty() => TestBroker::External(addr),
            _ => TestBroker::Companion(
                kafka_broker::Broker::builder()
                    .default_partitions(3)
                    .start()
                    .await
                    .expect("companion broker starts"),
            ),
        }
    }

    pub fn bootstrap(&self) -> String {
        match self {
            TestBroker::External(a) => a.clone(),
            TestBroker::Companion(h) => h.bootstrap(),
        }
    }

    pub fn is_external(&self) -> bool {
        matches!(self, TestBroker::External(_))
    }

    pub async fn stop(self) {
        if let TestBroker::Companion(h) = self {
            h.shutdown().await.unwrap();
        }
    }
}

/// A throwaway CA, a server certificate and a client certificate, written as PEM files.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub server: Arc<rustls::ServerConfig>,
    pub server_mtls: Arc<rustls::ServerConfig>,
}

impl Pki {
    /// A PKI whose server certificate names `server_names`.
    pub fn new(server_names: &[&str]) -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let names: Vec<String> = server_names.iter().map(|s| s.to_string()).collect();
        let server_key = KeyPair::generate().unwrap();
        let server_cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let client_cert = CertificateParams::new(vec!["client".to_string()])
            .unwrap()
            .signed_by(&client_key, &ca)
            .unwrap();

        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: String| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let ca_path = write("ca.pem", ca.pem());
        let client_cert_path = write("client.pem", client_cert.pem());
        let client_key_path = write("client.key", client_key.serialize_pem());

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = vec![server_cert.der().clone()];
        let key = || PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain.clone(), key())
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(ca.der().to_vec())).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .unwrap();
        let server_mtls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key())
            .unwrap();
        Self {
            dir,
            ca: ca_path,
            client_cert: client_cert_path,
            client_key: client_key_path,
            server: Arc::new(server),
            server_mtls: Arc::new(server_mtls),
        }
    }
}
