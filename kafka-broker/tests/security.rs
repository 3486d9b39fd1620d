//! Security on the listener: TLS (with and without client certificates), SASL PLAIN and
//! SCRAM-SHA-256/512 over plaintext and TLS, and what Kafka does to clients that fail or
//! skip authentication.
//!
//! Certificates are generated here with rcgen (a CA, a server certificate for 127.0.0.1 and
//! localhost, a client certificate); the TLS client is tokio-rustls; SASL is spoken in raw
//! frames, with a SCRAM client written here from RFC 5802. These tests always start their
//! own brokers, even when `KAFKA_TEST_BOOTSTRAP` names an external cluster.

mod common;

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::{Bytes, BytesMut};
use kafka_broker::{Broker, BrokerBuilder, BrokerError, BrokerHandle, SaslMechanism};
use kafka_protocol::messages::api_versions_request::ApiVersionsRequest;
use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::messages::request_header::RequestHeader;
use kafka_protocol::messages::sasl_authenticate_request::SaslAuthenticateRequest;
use kafka_protocol::messages::sasl_authenticate_response::SaslAuthenticateResponse;
use kafka_protocol::messages::sasl_handshake_request::SaslHandshakeRequest;
use kafka_protocol::messages::{ApiKey, RequestBody};
use kafka_protocol::{ErrorCode, KStr, Request};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use ring::{digest, hmac, pbkdf2};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{IO_TIMEOUT, decode};

// ---------------------------------------------------------------------------------------
// Certificates

/// A CA, a server certificate it signed for 127.0.0.1 and localhost, and the PEM files.
struct Pki {
    _dir: tempfile::TempDir,
    ca_pem: PathBuf,
    cert_pem: PathBuf,
    key_pem: PathBuf,
    ca: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "security test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let ca_pem = dir.path().join("ca.pem");
        let cert_pem = dir.path().join("server.pem");
        let key_pem = dir.path().join("server.key");
        std::fs::write(&ca_pem, ca_cert.pem()).unwrap();
        std::fs::write(&cert_pem, cert.pem()).unwrap();
        std::fs::write(&key_pem, key.serialize_pem()).unwrap();
        Self {
            _dir: dir,
            ca_pem,
            cert_pem,
            key_pem,
            ca: ca_cert.der().clone(),
            issuer,
        }
    }

    /// A client certificate signed by this CA.
    fn client_identity(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, "client");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (vec![cert.der().clone()], key)
    }

    fn tls(&self, b: BrokerBuilder) -> BrokerBuilder {
        b.tls(&self.cert_pem, &self.key_pem)
    }
}

// ---------------------------------------------------------------------------------------
// A raw-protocol connection over TCP or TLS

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

struct Conn {
    stream: Box<dyn Stream>,
    buf: BytesMut,
    next_id: i32,
}

impl Conn {
    async fn plain(addr: &str) -> Self {
        let tcp = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        Self::over(tcp)
    }

    /// A TLS connection trusting `pki`'s CA, checking the certificate is for 127.0.0.1.
    async fn tls(
        addr: &str,
        pki: &Pki,
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    ) -> std::io::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match identity {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
            None => builder.with_no_client_auth(),
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let tls = tokio::time::timeout(IO_TIMEOUT, connector.connect(name, tcp))
            .await
            .expect("TLS handshake timed out")?;
        Ok(Self::over(tls))
    }

    fn over(stream: impl Stream + 'static) -> Self {
        Self {
            stream: Box::new(stream),
            buf: BytesMut::new(),
            next_id: 1,
        }
    }

    async fn write_raw(&mut self, bytes: &[u8]) {
        // A write may fail once the broker has closed: the read that follows sees it.
        let _ = self.stream.write_all(bytes).await;
        let _ = self.stream.flush().await;
    }

    async fn send<R: Request + Into<RequestBody>>(&mut self, version: i16, req: R) -> i32 {
        let id = self.next_id;
        self.next_id += 1;
        let header = RequestHeader {
            request_api_key: R::API_KEY.key(),
            request_api_version: version,
            correlation_id: id,
            client_id: Some(KStr::from_static("security-tests")),
            ..Default::default()
        };
        let wire = kafka_protocol::frame::encode_request(&header, &req.into()).unwrap();
        self.write_raw(&wire).await;
        id
    }

    /// One frame (without its size prefix); `None` once the connection is closed.
    async fn read_frame(&mut self) -> Option<Bytes> {
        tokio::time::timeout(IO_TIMEOUT, async {
            loop {
                if self.buf.len() >= 4 {
                    let n = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]])
                        as usize;
                    if self.buf.len() >= 4 + n {
                        let mut frame = self.buf.split_to(4 + n);
                        return Some(frame.split_off(4).freeze());
                    }
                }
                self.buf.reserve(64 * 1024);
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("neither a response nor a close in time")
    }

    async fn is_closed(&mut self) -> bool {
        self.read_frame().await.is_none()
    }

    async fn call<R: Request + Into<RequestBody>>(&mut self, version: i16, req: R) -> R::Response {
        self.try_call(version, req)
            .await
            .expect("connection closed instead of a response")
    }

    async fn try_call<R: Request + Into<RequestBody>>(
        &mut self,
        version: i16,
        req: R,
    ) -> Option<R::Response> {
        let id = self.send(version, req).await;
        let frame = self.read_frame().await?;
        Some(decode::<R>(&frame, version, id))
    }

    async fn api_versions(&mut self) -> Vec<i16> {
        let r = self.call(3, software()).await;
        assert_eq!(r.error_code, 0);
        r.api_keys.iter().map(|k| k.api_key).collect()
    }

    /// Metadata for no topics: a request only an authenticated client may make.
    async fn metadata_port(&mut self) -> Option<i32> {
        let req = MetadataRequest {
            topics: Some(vec![]),
            ..Default::default()
        };
        let r = self.try_call(12, req).await?;
        Some(r.brokers[0].port)
    }

    async fn handshake(&mut self, mechanism: &str, version: i16) -> (i16, Vec<String>) {
        let req = SaslHandshakeRequest {
            mechanism: KStr::from(mechanism),
        };
        let r = self.call(version, req).await;
        let list = r.mechanisms.iter().map(|m| m.to_string()).collect();
        (r.error_code, list)
    }

    async fn authenticate(&mut self, token: &[u8]) -> Option<SaslAuthenticateResponse> {
        let req = SaslAuthenticateRequest {
            auth_bytes: Bytes::copy_from_slice(token),
            ..Default::default()
        };
        self.try_call(2, req).await
    }

    /// Logs in through SaslHandshake v1 and SaslAuthenticate; the failed response if any.
    async fn login(
        &mut self,
        mechanism: &str,
        user: &str,
        password: &str,
    ) -> Result<(), SaslAuthenticateResponse> {
        let (error, _) = self.handshake(mechanism, 1).await;
        assert_eq!(error, 0, "handshake for {mechanism}");
        let done = |r: SaslAuthenticateResponse| {
            if r.error_code == 0 { Ok(r) } else { Err(r) }
        };
        if mechanism == "PLAIN" {
            let token = format!("\0{user}\0{password}");
            let r = done(self.authenticate(token.as_bytes()).await.unwrap())?;
            assert_eq!(r.session_lifetime_ms, 0);
            return Ok(());
        }
        let scram = ScramClient::new(mechanism, user, password);
        let r = done(self.authenticate(scram.first().as_bytes()).await.unwrap())?;
        let server_first = String::from_utf8(r.auth_bytes.to_vec()).unwrap();
        let (fin, expected) = scram.finish(&server_first);
        let r = done(self.authenticate(fin.as_bytes()).await.unwrap())?;
        assert_eq!(
            r.auth_bytes.as_ref(),
            expected.as_bytes(),
            "the server proves it knows the password"
        );
        Ok(())
    }
}

fn software() -> ApiVersionsRequest {
    ApiVersionsRequest {
        client_software_name: "security-tests".into(),
        client_software_version: "1.0".into(),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------
// A SCRAM client (RFC 5802 §3), independent of the broker's code

struct ScramClient {
    sha512: bool,
    password: String,
    first_bare: String,
    nonce: String,
}

impl ScramClient {
    fn new(mechanism: &str, user: &str, password: &str) -> Self {
        let mut nonce = [0u8; 18];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce).unwrap();
        let nonce = B64.encode(nonce);
        let user = user.replace('=', "=3D").replace(',', "=2C");
        Self {
            sha512: mechanism == "SCRAM-SHA-512",
            password: password.into(),
            first_bare: format!("n={user},r={nonce}"),
            nonce,
        }
    }

    fn first(&self) -> String {
        format!("n,,{}", self.first_bare)
    }

    /// client-final for `server_first`, and the server-final a genuine server sends.
    fn finish(&self, server_first: &str) -> (String, String) {
        let attr = |k: &str| {
            server_first
                .split(',')
                .find_map(|a| a.strip_prefix(k))
                .unwrap()
                .to_string()
        };
        let nonce = attr("r=");
        assert!(nonce.starts_with(&self.nonce) && nonce.len() > self.nonce.len());
        let salt = B64.decode(attr("s=")).unwrap();
        let iterations: u32 = attr("i=").parse().unwrap();
        assert!(iterations >= 4096);
        let (pb, mac, dig, len) = if self.sha512 {
            (
                pbkdf2::PBKDF2_HMAC_SHA512,
                hmac::HMAC_SHA512,
                &digest::SHA512,
                64,
            )
        } else {
            (
                pbkdf2::PBKDF2_HMAC_SHA256,
                hmac::HMAC_SHA256,
                &digest::SHA256,
                32,
            )
        };
        let mut salted = vec![0u8; len];
        let n = NonZeroU32::new(iterations).unwrap();
        pbkdf2::derive(pb, n, &salt, self.password.as_bytes(), &mut salted);
        let sign = |key: &[u8], data: &[u8]| hmac::sign(&hmac::Key::new(mac, key), data);
        let client_key = sign(&salted, b"Client Key");
        let stored_key = digest::digest(dig, client_key.as_ref());
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("{},{server_first},{without_proof}", self.first_bare);
        let signature = sign(stored_key.as_ref(), auth.as_bytes());
        let proof: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(signature.as_ref())
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = sign(&salted, b"Server Key");
        let server_signature = sign(server_key.as_ref(), auth.as_bytes());
        (
            format!("{without_proof},p={}", B64.encode(proof)),
            format!("v={}", B64.encode(server_signature.as_ref())),
        )
    }
}

// ---------------------------------------------------------------------------------------
// Tests

const MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

async fn start(b: BrokerBuilder) -> BrokerHandle {
    b.start().await.expect("broker starts")
}

fn port(broker: &BrokerHandle) -> i32 {
    i32::from(broker.local_addr().port())
}

#[tokio::test]
async fn tls_listener_serves_api_versions_and_metadata() {
    let pki = Pki::new();
    let broker = start(pki.tls(Broker::builder())).await;
    assert_eq!(broker.state().config().security_protocol(), "SSL");
    let mut c = Conn::tls(&broker.bootstrap(), &pki, None).await.unwrap();
    let apis = c.api_versions().await;
    assert!(apis.contains(&ApiKey::SaslHandshake.key()));
    assert!(apis.contains(&ApiKey::SaslAuthenticate.key()));
    // Metadata advertises the TLS listener itself.
    assert_eq!(c.metadata_port().await, Some(port(&broker)));
    // Without SASL, SaslHandshake is refused as by Kafka, and the connection stays usable.
    let (error, _) = c.handshake("PLAIN", 1).await;
    assert_eq!(error, ErrorCode::IllegalSaslState.code());
    assert_eq!(c.metadata_port().await, Some(port(&broker)));

    // A plaintext client gets no Kafka response from a TLS listener.
    let mut p = Conn::plain(&broker.bootstrap()).await;
    let id = p.send(3, software()).await;
    match p.read_frame().await {
        None => {}
        // The bytes of a TLS alert, not a response to our request.
        Some(frame) => assert_ne!(frame.get(..4), Some(&id.to_be_bytes()[..])),
    }
    // The broker is unaffected.
    let mut c = Conn::tls(&broker.bootstrap(), &pki, None).await.unwrap();
    c.api_versions().await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let pki = Pki::new();
    let broker = start(pki.tls(Broker::builder()).tls_client_ca(&pki.ca_pem)).await;
    let mut c = Conn::tls(&broker.bootstrap(), &pki, Some(pki.client_identity()))
        .await
        .unwrap();
    c.api_versions().await;
    // Without a certificate: the handshake fails, or (TLS 1.3, where the client finishes
    // first) the broker's alert arrives instead of the first response.
    if let Ok(mut c) = Conn::tls(&broker.bootstrap(), &pki, None).await {
        assert!(c.try_call(3, software()).await.is_none());
    }
    // A certificate from another CA.
    let other = Pki::new();
    if let Ok(mut c) = Conn::tls(&broker.bootstrap(), &pki, Some(other.client_identity())).await {
        assert!(c.try_call(3, software()).await.is_none());
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn sasl_ssl_every_mechanism_logs_in() {
    let pki = Pki::new();
    let broker = start(
        pki.tls(Broker::builder())
            .sasl_user("alice", "alice-secret"),
    )
    .await;
    assert_eq!(broker.state().config().security_protocol(), "SASL_SSL");
    for mechanism in MECHANISMS {
        let mut c = Conn::tls(&broker.bootstrap(), &pki, None).await.unwrap();
        // ApiVersions is served before authentication (clients pick versions from it).
        c.api_versions().await;
        c.login(mechanism, "alice", "alice-secret")
            .await
            .unwrap_or_else(|r| panic!("{mechanism}: {r:?}"));
        assert_eq!(c.metadata_port().await, Some(port(&broker)), "{mechanism}");
        // After login a second handshake is refused (no re-authentication), not fatal.
        let (error, _) = c.handshake(mechanism, 1).await;
        assert_eq!(error, ErrorCode::IllegalSaslState.code());
        let r = c.authenticate(b"again").await.unwrap();
        assert_eq!(r.error_code, ErrorCode::IllegalSaslState.code());
        assert_eq!(c.metadata_port().await, Some(port(&broker)));
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn sasl_plaintext_every_mechanism_logs_in_and_wrong_passwords_are_refused() {
    let broker = start(
        Broker::builder()
            .sasl_user("alice", "alice-secret")
            .sasl_user("bob", "bob,=secret"),
    )
    .await;
    assert_eq!(
        broker.state().config().security_protocol(),
        "SASL_PLAINTEXT"
    );
    for mechanism in MECHANISMS {
        for (user, password) in [("alice", "alice-secret"), ("bob", "bob,=secret")] {
            let mut c = Conn::plain(&broker.bootstrap()).await;
            c.login(mechanism, user, password)
                .await
                .unwrap_or_else(|r| panic!("{mechanism} {user}: {r:?}"));
            assert!(c.metadata_port().await.is_some());
        }
        for (user, password) in [("alice", "wrong"), ("nobody", "alice-secret")] {
            let mut c = Conn::plain(&broker.bootstrap()).await;
            let r = c.login(mechanism, user, password).await.unwrap_err();
            assert_eq!(
                r.error_code,
                ErrorCode::SaslAuthenticationFailed.code(),
                "{mechanism} {user}"
            );
            let message = r.error_message.as_deref().unwrap_or_default();
            assert!(message.starts_with("Authentication failed"), "{message}");
            assert!(
                c.is_closed().await,
                "{mechanism} {user}: closed after failing"
            );
        }
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn requests_before_authentication_close_the_connection() {
    let broker = start(Broker::builder().sasl_user("alice", "pw")).await;
    // Metadata straight away.
    let mut c = Conn::plain(&broker.bootstrap()).await;
    assert_eq!(c.metadata_port().await, None);
    // After ApiVersions, still nothing else.
    let mut c = Conn::plain(&broker.bootstrap()).await;
    c.api_versions().await;
    assert_eq!(c.metadata_port().await, None);
    // Mid-exchange.
    let mut c = Conn::plain(&broker.bootstrap()).await;
    assert_eq!(c.handshake("SCRAM-SHA-256", 1).await.0, 0);
    assert_eq!(c.metadata_port().await, None);
    // SaslAuthenticate without a handshake.
    let mut c = Conn::plain(&broker.bootstrap()).await;
    assert!(c.authenticate(b"\0alice\0pw").await.is_none());
    // A frame larger than Kafka's sasl.server.max.receive.size, before authentication.
    let mut c = Conn::plain(&broker.bootstrap()).await;
    c.write_raw(&(600 * 1024u32).to_be_bytes()).await;
    assert!(c.is_closed().await);
    // The broker still serves those who log in.
    let mut c = Conn::plain(&broker.bootstrap()).await;
    c.login("PLAIN", "alice", "pw").await.unwrap();
    assert!(c.metadata_port().await.is_some());
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn unsupported_mechanism_gets_the_enabled_list_then_a_close() {
    let broker = start(
        Broker::builder()
            .sasl_user("alice", "pw")
            .sasl_mechanisms([SaslMechanism::ScramSha512, SaslMechanism::Plain]),
    )
    .await;
    for asked in ["SCRAM-SHA-256", "GSSAPI", "OAUTHBEARER"] {
        let mut c = Conn::plain(&broker.bootstrap()).await;
        let (error, list) = c.handshake(asked, 1).await;
        assert_eq!(error, ErrorCode::UnsupportedSaslMechanism.code());
        assert_eq!(list, ["SCRAM-SHA-512", "PLAIN"]);
        assert!(c.is_closed().await);
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn handshake_v0_exchanges_bare_tokens() {
    let broker = start(Broker::builder().sasl_user("alice", "pw")).await;
    let mut c = Conn::plain(&broker.bootstrap()).await;
    assert_eq!(c.handshake("PLAIN", 0).await.0, 0);
    c.write_raw(b"\0\0\0\x09\0alice\0pw").await;
    assert_eq!(c.read_frame().await.as_deref(), Some(&b""[..]));
    assert!(c.metadata_port().await.is_some());

    // SCRAM over bare tokens.
    let mut c = Conn::plain(&broker.bootstrap()).await;
    assert_eq!(c.handshake("SCRAM-SHA-512", 0).await.0, 0);
    let scram = ScramClient::new("SCRAM-SHA-512", "alice", "pw");
    let token = |s: &str| [&(s.len() as u32).to_be_bytes()[..], s.as_bytes()].concat();
    c.write_raw(&token(&scram.first())).await;
    let server_first = String::from_utf8(c.read_frame().await.unwrap().to_vec()).unwrap();
    let (fin, expected) = scram.finish(&server_first);
    c.write_raw(&token(&fin)).await;
    assert_eq!(c.read_frame().await.unwrap(), expected.as_bytes());
    assert!(c.metadata_port().await.is_some());

    // A wrong password over bare tokens: closed without an answer, as Kafka does.
    let mut c = Conn::plain(&broker.bootstrap()).await;
    assert_eq!(c.handshake("PLAIN", 0).await.0, 0);
    c.write_raw(b"\0\0\0\x0a\0alice\0bad").await;
    assert!(c.is_closed().await);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn users_file_and_per_mechanism_users() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    std::fs::write(
        &file,
        "# test users\ncarol=carol pw\nPLAIN:dave:dave-pw\nSCRAM-SHA-256:erin:erin:pw\n",
    )
    .unwrap();
    let broker = start(Broker::builder().sasl_users_file(&file)).await;
    let login = |mechanism: &'static str, user: &'static str, password: &'static str| {
        let bootstrap = broker.bootstrap();
        async move {
            let mut c = Conn::plain(&bootstrap).await;
            c.login(mechanism, user, password).await.is_ok()
        }
    };
    for m in MECHANISMS {
        assert!(login(m, "carol", "carol pw").await, "{m}");
    }
    assert!(login("PLAIN", "dave", "dave-pw").await);
    assert!(!login("SCRAM-SHA-256", "dave", "dave-pw").await);
    assert!(login("SCRAM-SHA-256", "erin", "erin:pw").await);
    assert!(!login("SCRAM-SHA-512", "erin", "erin:pw").await);
    assert!(!login("PLAIN", "erin", "erin:pw").await);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_security_settings_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let e = Broker::builder().tls(&missing, &missing).start().await;
    assert!(matches!(e, Err(BrokerError::Tls(_))), "{e:?}");
    let e = Broker::builder()
        .sasl_mechanisms([SaslMechanism::Plain])
        .start()
        .await;
    assert!(matches!(e, Err(BrokerError::Sasl(_))), "{e:?}");
    let e = Broker::builder().sasl_users_file(&missing).start().await;
    assert!(matches!(e, Err(BrokerError::Sasl(_))), "{e:?}");
    let file = dir.path().join("users");
    std::fs::write(&file, "just-a-secret-password\n").unwrap();
    let e = Broker::builder().sasl_users_file(&file).start().await;
    let shown = format!("{:?} {}", e.as_ref().err(), e.as_ref().err().unwrap());
    assert!(matches!(e, Err(BrokerError::Sasl(_))));
    assert!(!shown.contains("secret"), "{shown}");
}
