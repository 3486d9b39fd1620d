//! Tests of the client configuration: every property parses, bad ones are refused by name,
//! properties files and the typed builder agree.

use std::time::Duration;

use super::*;

/// A valid non-default value for every property in the table, so that a property added to the
/// table without a test value (or without a field) fails here.
fn sample(name: &str) -> &'static str {
    match name {
        "bootstrap.servers" => "a:9092,[::1]:9093",
        "client.id" => "me",
        "client.rack" => "r1",
        "request.timeout.ms" => "5000",
        "default.api.timeout.ms" => "7000",
        "metadata.max.age.ms" => "1000",
        "reconnect.backoff.ms" => "10",
        "reconnect.backoff.max.ms" => "20",
        "retry.backoff.ms" => "30",
        "retry.backoff.max.ms" => "40",
        "socket.connection.setup.timeout.ms" => "50",
        "socket.connection.setup.timeout.max.ms" => "60",
        "connections.max.idle.ms" => "70",
        "socket.send.buffer.bytes" => "-1",
        "socket.receive.buffer.bytes" => "1024",
        "receive.message.max.bytes" => "1000000",
        "security.protocol" => "sasl_ssl",
        "sasl.mechanism" => "SCRAM-SHA-512",
        "sasl.username" => "alice",
        "sasl.password" => "secret",
        "sasl.jaas.config" => r#"x required username="bob" password="pw";"#,
        "ssl.ca.location" => "/ca.pem",
        "ssl.certificate.location" => "/cert.pem",
        "ssl.key.location" => "/key.pem",
        "ssl.key.password" => "kp",
        "ssl.endpoint.identification.algorithm" => "none",
        "client.software.name" => "my-app",
        "client.software.version" => "1.2.3",
        other => panic!("no sample value for {other}: add one"),
    }
}

#[test]
fn every_property_parses_and_changes_the_config() {
    for def in CLIENT_CONFIGS {
        let before = ClientConfig::new();
        let after = before
            .clone()
            .set(def.name, sample(def.name))
            .unwrap_or_else(|e| panic!("{}: {e}", def.name));
        assert_ne!(before, after, "{} changed nothing", def.name);
    }
}

#[test]
fn every_default_is_kafkas_and_matches_new() {
    let mut from_table = ClientConfig::new();
    for def in CLIENT_CONFIGS {
        if let Some(d) = def.default {
            from_table.set_property(def.name, d).unwrap();
        }
    }
    assert_eq!(from_table, ClientConfig::new());
    let c = ClientConfig::new();
    assert_eq!(c.request_timeout(), Duration::from_millis(30_000));
    assert_eq!(c.metadata_max_age(), Duration::from_millis(300_000));
    assert_eq!(c.reconnect_backoff(), Duration::from_millis(50));
    assert_eq!(c.reconnect_backoff_max(), Duration::from_millis(1_000));
    assert_eq!(c.retry_backoff(), Duration::from_millis(100));
    assert_eq!(c.retry_backoff_max(), Duration::from_millis(1_000));
    assert_eq!(c.connection_setup_timeout(), Duration::from_millis(10_000));
    assert_eq!(
        c.connection_setup_timeout_max(),
        Duration::from_millis(30_000)
    );
    assert_eq!(c.connections_max_idle(), Duration::from_millis(540_000));
    assert_eq!(c.security_protocol(), SecurityProtocol::Plaintext);
    assert_eq!(c.sasl().mechanism, SaslMechanism::Gssapi);
    assert_eq!(
        c.ssl().endpoint_identification,
        EndpointIdentification::Https
    );
}

#[test]
fn typed_values_land_where_strings_do() {
    let c = ClientConfig::new()
        .set("request.timeout.ms", "5")
        .unwrap()
        .set("security.protocol", "SASL_SSL")
        .unwrap()
        .set("sasl.mechanism", "scram-sha-256")
        .unwrap()
        .set(
            "sasl.jaas.config",
            r#"M required username="u" password="p";"#,
        )
        .unwrap()
        .set("ssl.ca.location", "/tmp/ca.pem")
        .unwrap();
    assert_eq!(c.request_timeout(), Duration::from_millis(5));
    assert_eq!(c.security_protocol(), SecurityProtocol::SaslSsl);
    assert_eq!(c.sasl().mechanism, SaslMechanism::ScramSha256);
    assert_eq!(c.sasl().username.as_deref(), Some("u"));
    assert_eq!(c.sasl().password.as_ref().map(Password::expose), Some("p"));
    assert_eq!(
        c.ssl().ca_location.as_deref(),
        Some(std::path::Path::new("/tmp/ca.pem"))
    );
}

#[test]
fn unknown_property_is_refused_by_name() {
    let e = ClientConfig::new().set("request.timeout", "5").unwrap_err();
    assert!(matches!(e, ConfigError::UnknownProperty { ref name } if name == "request.timeout"));
    assert_eq!(e.property(), Some("request.timeout"));
    assert!(e.to_string().contains("`request.timeout`"));
}

#[test]
fn invalid_values_name_property_value_and_expectation() {
    let cases = [
        ("request.timeout.ms", "-5", "[0, 2147483647]"),
        ("request.timeout.ms", "2147483648", "[0, 2147483647]"),
        ("metadata.max.age.ms", "soon", "milliseconds"),
        (
            "security.protocol",
            "TLS",
            "PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
        ),
        ("sasl.mechanism", "MD5", "SCRAM-SHA-256"),
        ("bootstrap.servers", "localhost", "host:port"),
        ("socket.send.buffer.bytes", "-2", "[-1, "),
        ("receive.message.max.bytes", "10", "[1000, "),
        (
            "ssl.endpoint.identification.algorithm",
            "dns",
            "https, none",
        ),
        ("client.software.name", "has space", "KIP-511"),
    ];
    for (name, value, expected) in cases {
        let e = ClientConfig::new().set(name, value).unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.property(), Some(name), "{msg}");
        assert!(msg.contains(name) && msg.contains(value), "{msg}");
        assert!(msg.contains(expected), "{name}: `{msg}` lacks `{expected}`");
    }
}

#[test]
fn secrets_are_redacted_in_debug_and_errors() {
    let c = ClientConfig::new()
        .set("sasl.password", "hunter2")
        .unwrap()
        .set("ssl.key.password", "hunter3")
        .unwrap()
        .set(
            "sasl.jaas.config",
            r#"M required username="u" password="hunter4";"#,
        )
        .unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("hunter"), "{dbg}");
    assert!(dbg.contains("[hidden]"));
}

#[test]
fn properties_text_and_file() {
    let text = "\
# A Java client's file\n\
bootstrap.servers=b1:9092,\\\n  b2:9092\n\
client.id = tool\n\
request.timeout.ms: 1234\n";
    let c = ClientConfig::from_properties_str(text).unwrap();
    assert_eq!(c.bootstrap_servers(), ["b1:9092", "b2:9092"]);
    assert_eq!(c.client_id(), "tool");
    assert_eq!(c.request_timeout(), Duration::from_millis(1234));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client.properties");
    std::fs::write(&path, "client.id=x\n\nlinger.ms=5\n").unwrap();
    let e = ClientConfig::from_properties_file(&path).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("line 3") && msg.contains("linger.ms"), "{msg}");
    assert!(msg.contains("client.properties"), "{msg}");
    assert_eq!(e.property(), Some("linger.ms"));

    let e = ClientConfig::from_properties_file(dir.path().join("missing")).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }));
}

#[test]
fn builder_matches_strings_and_validates() {
    let typed = ClientConfig::builder()
        .bootstrap_servers(["k:9092"])
        .client_id("c")
        .request_timeout(Duration::from_secs(3))
        .retry_backoff(Duration::from_millis(5), Duration::from_millis(50))
        .security_protocol(SecurityProtocol::SaslPlaintext)
        .sasl(SaslMechanism::Plain, "u", "p")
        .build()
        .unwrap();
    let strings = ClientConfig::new()
        .set("bootstrap.servers", "k:9092")
        .and_then(|c| c.set("client.id", "c"))
        .and_then(|c| c.set("request.timeout.ms", "3000"))
        .and_then(|c| c.set("retry.backoff.ms", "5"))
        .and_then(|c| c.set("retry.backoff.max.ms", "50"))
        .and_then(|c| c.set("security.protocol", "SASL_PLAINTEXT"))
        .and_then(|c| c.set("sasl.mechanism", "PLAIN"))
        .and_then(|c| c.set("sasl.username", "u"))
        .and_then(|c| c.set("sasl.password", "p"))
        .unwrap();
    assert_eq!(typed, strings);

    let missing = ClientConfig::builder().build().unwrap_err();
    assert_eq!(missing.property(), Some("bootstrap.servers"));

    let too_long = ClientConfig::builder()
        .bootstrap_servers(["k:1"])
        .request_timeout(Duration::from_secs(10_000_000))
        .build()
        .unwrap_err();
    assert_eq!(too_long.property(), Some("request.timeout.ms"));

    let gssapi = ClientConfig::builder()
        .bootstrap_servers(["k:1"])
        .security_protocol(SecurityProtocol::SaslSsl)
        .build()
        .unwrap_err();
    assert!(
        matches!(gssapi, ConfigError::Unsupported { .. }),
        "{gssapi}"
    );

    let no_password = ClientConfig::new()
        .set("bootstrap.servers", "k:1")
        .and_then(|c| c.set("security.protocol", "SASL_PLAINTEXT"))
        .and_then(|c| c.set("sasl.mechanism", "PLAIN"))
        .and_then(|c| c.set("sasl.username", "u"))
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(no_password.property(), Some("sasl.password"));

    let half_mtls = ClientConfig::builder()
        .bootstrap_servers(["k:1"])
        .set("ssl.certificate.location", "/c.pem")
        .unwrap()
        .build()
        .unwrap_err();
    assert_eq!(half_mtls.property(), Some("ssl.key.location"));

    let bad_host = ClientConfig::builder()
        .bootstrap_servers(["nohost"])
        .build()
        .unwrap_err();
    assert_eq!(bad_host.property(), Some("bootstrap.servers"));
}

/// How a producer crate extends the client configuration: its own table first, the client's
/// for everything else, and unknown names still refused.
#[test]
fn a_client_crate_can_extend_the_table() {
    const PRODUCER: &[ConfigDef] =
        &[
            ConfigDef::new("linger.ms", ConfigType::NON_NEGATIVE_DURATION, "wait")
                .default_value("5"),
        ];

    #[derive(Debug, Default)]
    struct ProducerConfig {
        client: ClientConfig,
        linger: Duration,
    }

    impl Configurable for ProducerConfig {
        fn definitions(&self) -> Vec<&'static ConfigDef> {
            PRODUCER.iter().chain(self.client.definitions()).collect()
        }
        fn set_property(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
            match ConfigDef::find(PRODUCER, name) {
                Some(def) => {
                    if let ConfigValue::Duration(d) = def.parse(value)? {
                        self.linger = d;
                    }
                    Ok(())
                }
                None => self.client.set_property(name, value),
            }
        }
    }

    let mut p = ProducerConfig::default();
    p.apply_properties("linger.ms=7\nclient.id=prod\n").unwrap();
    assert_eq!(p.linger, Duration::from_millis(7));
    assert_eq!(p.client.client_id(), "prod");
    let e = p.set_property("linger.ms", "x").unwrap_err();
    assert_eq!(e.property(), Some("linger.ms"));
    let e = p.set_property("batch.sizee", "1").unwrap_err();
    assert!(matches!(e, ConfigError::UnknownProperty { .. }));
    assert_eq!(p.definitions().len(), CLIENT_CONFIGS.len() + 1);
}

#[test]
fn builder_splits_comma_separated_bootstrap_servers() {
    let c = ClientConfig::builder()
        .bootstrap_servers(["a:1, b:2", "c:3", ""])
        .build()
        .unwrap();
    assert_eq!(c.bootstrap_servers(), ["a:1", "b:2", "c:3"]);
}
