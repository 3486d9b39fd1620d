//! TLS and SASL against the mock broker: rustls with an in-test CA (rcgen), mutual TLS,
//! host name checks, and SASL PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 with a server side
//! written independently in the mock.

mod support;

use kafka_client::config::{ClientConfig, EndpointIdentification, SaslMechanism, SecurityProtocol};
use kafka_client::{Client, ErrorKind, Target};
use kafka_protocol::messages::RequestBody;
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use support::mock::{MockBroker, MockConfig, MockSasl};
use support::{Pki, fast_config};

fn sasl_mock(mechanism: &'static str) -> MockConfig {
    MockConfig {
        sasl: Some(MockSasl {
            mechanism,
            username: "alice".into(),
            password: "s3cret".into(),
        }),
        ..Default::default()
    }
}

fn with_sasl(
    config: ClientConfig,
    protocol: SecurityProtocol,
    mechanism: SaslMechanism,
    password: &str,
) -> ClientConfig {
    config
        .to_builder()
        .security_protocol(protocol)
        .sasl(mechanism, "alice", password)
        .build()
        .unwrap()
}

async fn probe(client: &Client) {
    client
        .send(
            Target::Any,
            &RequestBody::ListGroups(ListGroupsRequest::default()),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn sasl_mechanisms_authenticate() {
    support::init_tracing();
    for (name, mechanism) in [
        ("PLAIN", SaslMechanism::Plain),
        ("SCRAM-SHA-256", SaslMechanism::ScramSha256),
        ("SCRAM-SHA-512", SaslMechanism::ScramSha512),
    ] {
        let mock = MockBroker::start(sasl_mock(name)).await;
        let config = with_sasl(
            fast_config(&mock.bootstrap()),
            SecurityProtocol::SaslPlaintext,
            mechanism,
            "s3cret",
        );
        let client = Client::connect(config)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        probe(&client).await;
    }
}

#[tokio::test]
async fn wrong_passwords_fail_fast_and_are_not_retried() {
    for (name, mechanism) in [
        ("PLAIN", SaslMechanism::Plain),
        ("SCRAM-SHA-256", SaslMechanism::ScramSha256),
        ("SCRAM-SHA-512", SaslMechanism::ScramSha512),
    ] {
        let mock = MockBroker::start(sasl_mock(name)).await;
        let config = with_sasl(
            fast_config(&mock.bootstrap()),
            SecurityProtocol::SaslPlaintext,
            mechanism,
            "wrong",
        );
        let started = std::time::Instant::now();
        let e = Client::connect(config).await.unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Authentication { .. }),
            "{name}: {e}"
        );
        assert!(!e.is_retriable());
        assert!(e.to_string().contains("Authentication failed"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(mock.connections(), 1, "{name}: not retried");
    }
}

#[tokio::test]
async fn a_mechanism_the_broker_lacks_names_what_it_has() {
    let mock = MockBroker::start(sasl_mock("PLAIN")).await;
    let config = with_sasl(
        fast_config(&mock.bootstrap()),
        SecurityProtocol::SaslPlaintext,
        SaslMechanism::ScramSha512,
        "s3cret",
    );
    let e = Client::connect(config).await.unwrap_err();
    assert!(e.to_string().contains("enables only PLAIN"), "{e}");
}

fn tls_config(bootstrap: &str, pki: &Pki) -> kafka_client::config::ClientConfigBuilder {
    fast_config(bootstrap)
        .to_builder()
        .security_protocol(SecurityProtocol::Ssl)
        .ssl_ca_location(&pki.ca)
}

fn localhost(mock: &MockBroker) -> String {
    mock.bootstrap().replace("127.0.0.1", "localhost")
}

#[tokio::test]
async fn tls_with_a_private_ca() {
    support::init_tracing();
    let pki = Pki::new(&["localhost"]);
    let mock = MockBroker::start(MockConfig {
        tls: Some(pki.server.clone()),
        host: "localhost".into(),
        ..Default::default()
    })
    .await;
    let client = Client::connect(tls_config(&localhost(&mock), &pki).build().unwrap())
        .await
        .unwrap();
    probe(&client).await;
}

#[tokio::test]
async fn tls_host_name_checks() {
    let pki = Pki::new(&["broker.example"]);
    let mock = MockBroker::start(MockConfig {
        tls: Some(pki.server.clone()),
        host: "localhost".into(),
        ..Default::default()
    })
    .await;
    let e = Client::connect(tls_config(&localhost(&mock), &pki).build().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Tls(_)), "{e}");
    assert!(!e.is_retriable());

    let config = tls_config(&localhost(&mock), &pki)
        .ssl_endpoint_identification(EndpointIdentification::None)
        .build()
        .unwrap();
    let client = Client::connect(config).await.unwrap();
    probe(&client).await;

    // `none` still checks the chain: an unknown CA is refused.
    let other = Pki::new(&["localhost"]);
    let config = tls_config(&localhost(&mock), &other)
        .ssl_endpoint_identification(EndpointIdentification::None)
        .build()
        .unwrap();
    let e = Client::connect(config).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Tls(_)), "{e}");
}

#[tokio::test]
async fn mutual_tls() {
    let pki = Pki::new(&["localhost"]);
    let mock = MockBroker::start(MockConfig {
        tls: Some(pki.server_mtls.clone()),
        host: "localhost".into(),
        ..Default::default()
    })
    .await;
    let config = tls_config(&localhost(&mock), &pki)
        .ssl_client_auth(&pki.client_cert, &pki.client_key)
        .build()
        .unwrap();
    let client = Client::connect(config).await.unwrap();
    probe(&client).await;

    // Without a client certificate the server ends the handshake; with TLS 1.3 that shows up
    // on the first read, so the client sees TLS or a dropped connection.
    let config = tls_config(&localhost(&mock), &pki)
        .default_api_timeout(std::time::Duration::from_millis(500))
        .build()
        .unwrap();
    assert!(Client::connect(config).await.is_err());
}

#[tokio::test]
async fn sasl_over_tls() {
    let pki = Pki::new(&["localhost"]);
    let mut mock_config = sasl_mock("SCRAM-SHA-512");
    mock_config.tls = Some(pki.server.clone());
    mock_config.host = "localhost".into();
    let mock = MockBroker::start(mock_config).await;
    let config = tls_config(&localhost(&mock), &pki)
        .security_protocol(SecurityProtocol::SaslSsl)
        .sasl(SaslMechanism::ScramSha512, "alice", "s3cret")
        .build()
        .unwrap();
    let client = Client::connect(config).await.unwrap();
    probe(&client).await;

    // The same settings as Kafka properties.
    let props = format!(
        "bootstrap.servers={}\nsecurity.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n\
         sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"s3cret\";\n\
         ssl.ca.location={}\n",
        localhost(&mock),
        pki.ca.display()
    );
    let client = Client::connect(ClientConfig::from_properties_str(&props).unwrap())
        .await
        .unwrap();
    probe(&client).await;
}
