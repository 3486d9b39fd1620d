//! Self-signed TLS material for local use (`--tls-self-signed DIR`): a CA, and a server
//! certificate it signs for the broker's host names, generated with rcgen.
//!
//! Clients trust `ca.pem` (librdkafka's `ssl.ca.location`); the broker serves
//! `server.pem` with `server.key`. The CA's own key is not kept, so nothing else can be
//! signed with it. Files already in the directory are reused, so clients holding `ca.pem`
//! keep working across restarts; delete the directory to start over.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::tls::TlsError;

/// The files of a self-signed setup.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SelfSignedTls {
    /// The CA certificate clients should trust (`DIR/ca.pem`).
    pub ca: PathBuf,
    /// The broker's certificate (`DIR/server.pem`).
    pub cert: PathBuf,
    /// The broker's private key (`DIR/server.key`, PKCS#8).
    pub key: PathBuf,
}

impl SelfSignedTls {
    /// The files in `dir`, generated for `hosts` (DNS names or IP addresses) unless all
    /// three already exist.
    pub fn in_dir(dir: impl AsRef<Path>, hosts: &[String]) -> Result<Self, TlsError> {
        let files = Self::paths(dir.as_ref());
        if files.ca.is_file() && files.cert.is_file() && files.key.is_file() {
            return Ok(files);
        }
        generate(dir.as_ref(), hosts)
    }

    /// The names a certificate for a broker listening on `listen` and advertising
    /// `advertised` (both `HOST:PORT`) should carry: `localhost`, `127.0.0.1`, `::1`, and
    /// those hosts unless unspecified (`0.0.0.0`, `::`).
    pub fn hosts_for(listen: &str, advertised: Option<&str>) -> Vec<String> {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for addr in std::iter::once(listen).chain(advertised) {
            let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let unspecified = host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_unspecified());
            if !host.is_empty() && !unspecified && !hosts.iter().any(|h| h == host) {
                hosts.push(host.to_string());
            }
        }
        hosts
    }

    fn paths(dir: &Path) -> Self {
        Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }
    }
}

/// Generates a new CA and server certificate for `hosts` into `dir` (created if missing),
/// replacing any files there.
pub(crate) fn generate(dir: &Path, hosts: &[String]) -> Result<SelfSignedTls, TlsError> {
    let gen_err = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(gen_err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kafka-broker self-signed CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().map_err(gen_err)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(gen_err)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut params = CertificateParams::new(hosts.to_vec()).map_err(gen_err)?;
    let cn = hosts.first().map_or("kafka-broker", String::as_str);
    params.distinguished_name.push(DnType::CommonName, cn);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().map_err(gen_err)?;
    let cert = params.signed_by(&key, &issuer).map_err(gen_err)?;

    std::fs::create_dir_all(dir).map_err(|source| TlsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let files = SelfSignedTls::paths(dir);
    write(&files.ca, ca_cert.pem().as_bytes(), false)?;
    write(&files.cert, cert.pem().as_bytes(), false)?;
    write(&files.key, key.serialize_pem().as_bytes(), true)?;
    Ok(files)
}

/// Writes a file; a `secret` one is readable by its owner only (on Unix).
fn write(path: &Path, contents: &[u8], secret: bool) -> Result<(), TlsError> {
    use std::io::Write;
    let io = |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(io)?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            SelfSignedTls::hosts_for("0.0.0.0:9092", Some("broker.example:19092")),
            ["localhost", "127.0.0.1", "::1", "broker.example"]
        );
        assert_eq!(
            SelfSignedTls::hosts_for("[::1]:9092", None),
            ["localhost", "127.0.0.1", "::1"]
        );
        assert_eq!(
            SelfSignedTls::hosts_for("10.1.2.3:0", None).last().unwrap(),
            "10.1.2.3"
        );
    }

    #[test]
    fn generates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("tls");
        let hosts = SelfSignedTls::hosts_for("127.0.0.1:0", None);
        let files = SelfSignedTls::in_dir(&sub, &hosts).unwrap();
        let ca = std::fs::read(&files.ca).unwrap();
        assert!(ca.starts_with(b"-----BEGIN CERTIFICATE-----"));
        assert!(
            std::fs::read(&files.key)
                .unwrap()
                .starts_with(b"-----BEGIN PRIVATE KEY-----")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key is private");
        }
        let again = SelfSignedTls::in_dir(&sub, &hosts).unwrap();
        assert_eq!(again, files);
        assert_eq!(
            std::fs::read(&again.ca).unwrap(),
            ca,
            "reused, not regenerated"
        );
    }
}
