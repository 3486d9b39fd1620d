//! TLS client configuration from the `ssl.*` properties, on rustls with the `ring` provider.
//!
//! Trust comes from `ssl.ca.location` (a PEM bundle) or, when that is unset, the system's
//! certificate store. A client certificate and key (`ssl.certificate.location`,
//! `ssl.key.location`) enable mutual TLS. With
//! `ssl.endpoint.identification.algorithm=none` the chain is still verified but the host name
//! is not, which is what Kafka means by that setting (not "trust anything").

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::{ConfigError, EndpointIdentification, SslSettings};
use crate::error::{Error, ErrorKind};

fn read(property: &str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| {
        tracing::debug!(property, "cannot read TLS file");
        Error::from(ConfigError::Io {
            path: path.to_owned(),
            source: Arc::new(e),
        })
    })
}

fn invalid(property: &str, path: &Path, expected: &str) -> Error {
    Error::from(ConfigError::InvalidValue {
        name: property.to_owned(),
        value: path.display().to_string(),
        expected: expected.to_owned(),
    })
}

fn certificates(property: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = read(property, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| invalid(property, path, "a PEM file of certificates"))?;
    if certs.is_empty() {
        return Err(invalid(
            property,
            path,
            "a PEM file with at least one certificate",
        ));
    }
    Ok(certs)
}

fn private_key(ssl: &SslSettings, path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let pem = read("ssl.key.location", path)?;
    if String::from_utf8_lossy(&pem).contains("ENCRYPTED PRIVATE KEY") {
        return Err(Error::from(ConfigError::Unsupported {
            name: "ssl.key.location".into(),
            value: path.display().to_string(),
            reason: if ssl.key_password.is_some() {
                "encrypted private keys are not supported yet even with ssl.key.password; decrypt the key (openssl pkcs8 -nocrypt)".into()
            } else {
                "the key is encrypted; decrypt it (openssl pkcs8 -nocrypt)".into()
            },
        }));
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
        invalid(
            "ssl.key.location",
            path,
            "a PEM private key (PKCS#8, PKCS#1 or SEC1)",
        )
    })
}

fn tls_error(context: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Tls(format!("{context}: {e}")))
}

/// Builds the rustls client configuration for `ssl`.
pub(crate) fn client_config(ssl: &SslSettings) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    match &ssl.ca_location {
        Some(path) => {
            for cert in certificates("ssl.ca.location", path)? {
                roots
                    .add(cert)
                    .map_err(|_| invalid("ssl.ca.location", path, "valid CA certificates"))?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                return Err(Error::from(ConfigError::Missing {
                    name: "ssl.ca.location".into(),
                    reason: "because no system CA certificates were found".into(),
                }));
            }
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("protocol versions", e))?;
    let builder = match ssl.endpoint_identification {
        EndpointIdentification::Https => builder.with_root_certificates(roots),
        _ => {
            let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| tls_error("certificate verifier", e))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier { inner }))
        }
    };
    let config = match (&ssl.certificate_location, &ssl.key_location) {
        (Some(cert), Some(key)) => {
            let chain = certificates("ssl.certificate.location", cert)?;
            let key = private_key(ssl, key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| tls_error("client certificate", e))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(config)
}

/// Verifies the chain of trust like rustls does, but accepts a certificate that does not
/// name the host (`ssl.endpoint.identification.algorithm=none`). rustls checks the chain
/// before the name, so a name error means the chain was good.
#[derive(Debug)]
struct ChainOnlyVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_malformed_files_name_the_property() {
        let dir = tempfile::tempdir().unwrap();
        let ssl = SslSettings {
            ca_location: Some(dir.path().join("nope.pem")),
            ..Default::default()
        };
        let e = client_config(&ssl).unwrap_err();
        assert!(e.to_string().contains("nope.pem"), "{e}");

        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "not pem").unwrap();
        let ssl = SslSettings {
            ca_location: Some(bad),
            ..Default::default()
        };
        let e = client_config(&ssl).unwrap_err();
        assert!(e.to_string().contains("ssl.ca.location"), "{e}");
    }

    #[test]
    fn encrypted_keys_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.pem");
        std::fs::write(
            &key,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        let e = private_key(&SslSettings::default(), &key).unwrap_err();
        assert!(e.to_string().contains("encrypted"), "{e}");
    }
}
