//! TLS and SASL against the real companion broker (not the mock): a self-signed CA written
//! by `SelfSignedTls`, SASL_PLAINTEXT and SASL_SSL with PLAIN, SCRAM-SHA-256 and
//! SCRAM-SHA-512, wrong passwords and untrusted CAs.

mod support;

use std::time::{Duration, Instant};

use kafka_broker::{Broker, BrokerHandle, SaslMechanism as BrokerMechanism, SelfSignedTls};
use kafka_client::config::{ClientConfig, SaslMechanism, SecurityProtocol};
use kafka_client::{Client, ErrorKind, Target};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::messages::{RequestBody, ResponseBody};
use support::fast_config;

const USER: &str = "alice";
const PASSWORD: &str = "s3cret";

const MECHANISMS: [(BrokerMechanism, SaslMechanism); 3] = [
    (BrokerMechanism::Plain, SaslMechanism::Plain),
    (BrokerMechanism::ScramSha256, SaslMechanism::ScramSha256),
    (BrokerMechanism::ScramSha512, SaslMechanism::ScramSha512),
];

/// Self-signed material for `localhost` and `127.0.0.1`, in a fresh directory.
fn self_signed() -> (tempfile::TempDir, SelfSignedTls) {
    let dir = tempfile::tempdir().unwrap();
    let hosts = SelfSignedTls::hosts_for("127.0.0.1:0", None);
    let tls = SelfSignedTls::in_dir(dir.path(), &hosts).expect("self-signed material");
    assert!(tls.ca.is_file() && tls.cert.is_file() && tls.key.is_file());
    (dir, tls)
}

async fn start(
    tls: Option<&SelfSignedTls>,
    sasl: bool,
    mechanisms: &[BrokerMechanism],
) -> BrokerHandle {
    support::init_tracing();
    let mut b = Broker::builder().default_partitions(2);
    if let Some(t) = tls {
        b = b.tls(&t.cert, &t.key);
    }
    if sasl {
        b = b
            .sasl_user(USER, PASSWORD)
            .sasl_mechanisms(mechanisms.iter().copied());
    }
    b.start().await.expect("broker starts")
}

fn client_config(
    bootstrap: &str,
    protocol: SecurityProtocol,
    ca: Option<&std::path::Path>,
    sasl: Option<(SaslMechanism, &str)>,
) -> ClientConfig {
    let mut b = fast_config(bootstrap)
        .to_builder()
        .security_protocol(protocol);
    if let Some(ca) = ca {
        b = b.ssl_ca_location(ca);
    }
    if let Some((m, password)) = sasl {
        b = b.sasl(m, USER, password);
    }
    b.build().unwrap()
}

/// Metadata through the authenticated connection, naming the broker itself.
async fn metadata_works(client: &Client, what: &str) {
    let resp = client
        .send(
            Target::Any,
            &RequestBody::Metadata(MetadataRequest::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("{what}: metadata: {e}"));
    let ResponseBody::Metadata(m) = resp else {
        panic!("{what}: wrong response")
    };
    assert_eq!(m.brokers.len(), 1, "{what}");
    assert!(client.metadata().brokers().count() == 1, "{what}");
    assert!(client.metadata().controller_id().is_some(), "{what}");
}

#[tokio::test]
async fn tls_with_a_self_signed_ca() {
    let (_dir, tls) = self_signed();
    let broker = start(Some(&tls), false, &[]).await;
    let config = client_config(
        &broker.bootstrap(),
        SecurityProtocol::Ssl,
        Some(&tls.ca),
        None,
    );
    let client = Client::connect(config).await.expect("TLS connect");
    metadata_works(&client, "SSL").await;

    // The same through `localhost` (the certificate names both).
    let local = broker.bootstrap().replace("127.0.0.1", "localhost");
    let config = client_config(&local, SecurityProtocol::Ssl, Some(&tls.ca), None);
    let client = Client::connect(config)
        .await
        .expect("TLS connect via localhost");
    metadata_works(&client, "SSL localhost").await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn tls_with_an_untrusted_ca_fails_with_a_tls_error() {
    let (_dir, tls) = self_signed();
    let (_other_dir, other) = self_signed();
    let broker = start(Some(&tls), false, &[]).await;
    let started = Instant::now();
    let config = client_config(
        &broker.bootstrap(),
        SecurityProtocol::Ssl,
        Some(&other.ca),
        None,
    );
    let e = Client::connect(config).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Tls(_)), "{e:?}");
    assert!(!e.is_retriable(), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5), "no hang");

    // No CA at all: the system roots do not know a self-signed CA either.
    let config = client_config(&broker.bootstrap(), SecurityProtocol::Ssl, None, None);
    let e = Client::connect(config).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Tls(_)), "{e:?}");

    // Plaintext to a TLS listener does not succeed (and does not hang).
    let config = fast_config(&broker.bootstrap())
        .to_builder()
        .default_api_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let started = Instant::now();
    assert!(Client::connect(config).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(8), "no hang");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn sasl_plaintext_with_each_mechanism() {
    for (bm, cm) in MECHANISMS {
        let broker = start(None, true, &[bm]).await;
        let config = client_config(
            &broker.bootstrap(),
            SecurityProtocol::SaslPlaintext,
            None,
            Some((cm, PASSWORD)),
        );
        let what = format!("SASL_PLAINTEXT {}", bm.name());
        let client = Client::connect(config)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        metadata_works(&client, &what).await;
        broker.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn sasl_plaintext_all_mechanisms_enabled_at_once() {
    let broker = start(None, true, BrokerMechanism::ALL).await;
    for (bm, cm) in MECHANISMS {
        let config = client_config(
            &broker.bootstrap(),
            SecurityProtocol::SaslPlaintext,
            None,
            Some((cm, PASSWORD)),
        );
        let what = format!("SASL_PLAINTEXT (all enabled) {}", bm.name());
        let client = Client::connect(config)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        metadata_works(&client, &what).await;
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn sasl_ssl_with_each_mechanism() {
    let (_dir, tls) = self_signed();
    for (bm, cm) in MECHANISMS {
        let broker = start(Some(&tls), true, &[bm]).await;
        let config = client_config(
            &broker.bootstrap(),
            SecurityProtocol::SaslSsl,
            Some(&tls.ca),
            Some((cm, PASSWORD)),
        );
        let what = format!("SASL_SSL {}", bm.name());
        let client = Client::connect(config)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        metadata_works(&client, &what).await;
        broker.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn sasl_ssl_through_kafka_properties() {
    let (_dir, tls) = self_signed();
    let broker = start(Some(&tls), true, &[BrokerMechanism::ScramSha512]).await;
    let props = format!(
        "bootstrap.servers={}\nsecurity.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n\
         sasl.username={USER}\nsasl.password={PASSWORD}\nssl.ca.location={}\n",
        broker.bootstrap(),
        tls.ca.display()
    );
    let client = Client::connect(ClientConfig::from_properties_str(&props).unwrap())
        .await
        .expect("properties connect");
    metadata_works(&client, "properties").await;
    broker.shutdown().await.unwrap();
}

fn assert_auth_failure(e: &kafka_client::Error, what: &str) {
    assert!(
        matches!(e.kind(), ErrorKind::Authentication { .. }),
        "{what}: {e:?}"
    );
    assert_eq!(
        e.code(),
        Some(ErrorCode::SaslAuthenticationFailed),
        "{what}: {e}"
    );
    assert!(!e.is_retriable(), "{what}: {e}");
}

#[tokio::test]
async fn wrong_passwords_fail_authentication_without_hanging() {
    let (_dir, tls) = self_signed();
    for (bm, cm) in MECHANISMS {
        for use_tls in [false, true] {
            let broker = start(use_tls.then_some(&tls), true, &[bm]).await;
            let protocol = if use_tls {
                SecurityProtocol::SaslSsl
            } else {
                SecurityProtocol::SaslPlaintext
            };
            let what = format!("{protocol:?} {}", bm.name());
            let config = client_config(
                &broker.bootstrap(),
                protocol,
                use_tls.then_some(tls.ca.as_path()),
                Some((cm, "wrong")),
            );
            let started = Instant::now();
            let e = tokio::time::timeout(Duration::from_secs(20), Client::connect(config))
                .await
                .unwrap_or_else(|_| panic!("{what}: connect hangs"))
                .unwrap_err();
            assert_auth_failure(&e, &what);
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{what}: took {:?}",
                started.elapsed()
            );
            broker.shutdown().await.unwrap();
        }
    }
}

#[tokio::test]
async fn unknown_users_fail_authentication() {
    let broker = start(None, true, BrokerMechanism::ALL).await;
    for (bm, cm) in MECHANISMS {
        let config = fast_config(&broker.bootstrap())
            .to_builder()
            .security_protocol(SecurityProtocol::SaslPlaintext)
            .sasl(cm, "mallory", PASSWORD)
            .build()
            .unwrap();
        let e = tokio::time::timeout(Duration::from_secs(20), Client::connect(config))
            .await
            .expect("no hang")
            .unwrap_err();
        assert_auth_failure(&e, bm.name());
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_mechanism_the_broker_does_not_enable_is_refused() {
    let broker = start(None, true, &[BrokerMechanism::Plain]).await;
    let config = client_config(
        &broker.bootstrap(),
        SecurityProtocol::SaslPlaintext,
        None,
        Some((SaslMechanism::ScramSha512, PASSWORD)),
    );
    let e = tokio::time::timeout(Duration::from_secs(20), Client::connect(config))
        .await
        .expect("no hang")
        .unwrap_err();
    assert!(e.to_string().contains("PLAIN"), "{e}");
    assert!(!e.is_retriable(), "{e}");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn plaintext_client_against_a_sasl_broker_does_not_hang() {
    let broker = start(None, true, BrokerMechanism::ALL).await;
    let config = fast_config(&broker.bootstrap())
        .to_builder()
        .default_api_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(20), Client::connect(config))
        .await
        .expect("no hang");
    assert!(
        r.is_err(),
        "a broker requiring SASL served an unauthenticated client"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    broker.shutdown().await.unwrap();
}
