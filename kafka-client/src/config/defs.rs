//! The client core's property table: the settings every Kafka client shares, with Kafka's
//! defaults (Java client `CommonClientConfigs`, librdkafka names where Java has none).
//!
//! Producer, consumer and admin crates add their own tables on top (see
//! [`Configurable`](super::Configurable)); this one is applied last, so its names are the
//! fallback every client understands.

use super::def::{ConfigDef, ConfigType, ConfigValue, Importance};
use super::security::{SaslMechanism, SecurityProtocol};

/// Splits `host:port` (with `[v6]:port` for IPv6 literals), as Kafka writes broker addresses.
pub(crate) fn split_host_port(addr: &str) -> Option<(&str, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port.parse().ok()?;
    if host.is_empty() || port == 0 {
        return None;
    }
    Some((host, port))
}

fn host_port_list(v: &ConfigValue) -> Result<(), String> {
    let ConfigValue::List(items) = v else {
        return Ok(());
    };
    if let Some(bad) = items.iter().find(|a| split_host_port(a).is_none()) {
        return Err(format!(
            "a comma-separated list of host:port addresses (`{bad}` is not one)"
        ));
    }
    Ok(())
}

/// KIP-511: the broker rejects software names and versions outside this pattern.
pub(crate) fn software_token(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'.';
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&c| ok(c))
}

fn software(v: &ConfigValue) -> Result<(), String> {
    match v {
        ConfigValue::String(s) if !software_token(s) => Err(
            "letters, digits, '-' and '.', starting and ending with a letter or digit (KIP-511)"
                .to_owned(),
        ),
        _ => Ok(()),
    }
}

/// The client software version sent in ApiVersions by default: this crate's version.
pub(crate) const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The client software name sent in ApiVersions by default.
pub(crate) const SOFTWARE_NAME: &str = "kafka-sdk-rust";

/// Every property the client core accepts.
pub const CLIENT_CONFIGS: &[ConfigDef] = &[
    ConfigDef::new(
        "bootstrap.servers",
        ConfigType::List,
        "host:port addresses used to reach the cluster the first time; the client then uses the brokers the metadata names.",
    )
    .importance(Importance::High)
    .validator(host_port_list),
    ConfigDef::new(
        "client.id",
        ConfigType::String,
        "A name sent with every request, for broker logs and quotas.",
    )
    .default_value(""),
    ConfigDef::new(
        "client.rack",
        ConfigType::String,
        "The rack of this client, for rack-aware fetching (KIP-392).",
    )
    .default_value("")
    .importance(Importance::Low),
    ConfigDef::new(
        "request.timeout.ms",
        ConfigType::NON_NEGATIVE_INT_DURATION,
        "How long to wait for the response to one request before failing it and closing its connection.",
    )
    .default_value("30000"),
    ConfigDef::new(
        "default.api.timeout.ms",
        ConfigType::NON_NEGATIVE_INT_DURATION,
        "The overall time budget of a call that retries, when the caller gives none.",
    )
    .default_value("60000"),
    ConfigDef::new(
        "metadata.max.age.ms",
        ConfigType::NON_NEGATIVE_DURATION,
        "Metadata is refreshed at least this often, even without errors showing it stale.",
    )
    .default_value("300000")
    .importance(Importance::Low),
    ConfigDef::new(
        "reconnect.backoff.ms",
        ConfigType::NON_NEGATIVE_DURATION,
        "The first wait before reconnecting to a broker after a failed attempt.",
    )
    .default_value("50")
    .importance(Importance::Low),
    ConfigDef::new(
        "reconnect.backoff.max.ms",
        ConfigType::NON_NEGATIVE_DURATION,
        "The longest wait between reconnection attempts; waits double (with 20% jitter) up to it.",
    )
    .default_value("1000")
    .importance(Importance::Low),
    ConfigDef::new(
        "retry.backoff.ms",
        ConfigType::NON_NEGATIVE_DURATION,
        "The first wait before retrying a failed request.",
    )
    .default_value("100")
    .importance(Importance::Low),
    ConfigDef::new(
        "retry.backoff.max.ms",
        ConfigType::NON_NEGATIVE_DURATION,
        "The longest wait between retries of a request; waits double (with 20% jitter) up to it.",
    )
    .default_value("1000")
    .importance(Importance::Low),
    ConfigDef::new(
        "socket.connection.setup.timeout.ms",
        ConfigType::NON_NEGATIVE_DURATION,
        "How long one connection attempt (TCP, TLS, version negotiation, SASL) may take.",
    )
    .default_value("10000"),
    ConfigDef::new(
        "socket.connection.setup.timeout.max.ms",
        ConfigType::NON_NEGATIVE_DURATION,
        "The setup timeout doubles after each consecutive failure, up to this.",
    )
    .default_value("30000"),
    ConfigDef::new(
        "connections.max.idle.ms",
        ConfigType::NON_NEGATIVE_DURATION,
        "Connections unused for this long are closed.",
    )
    .default_value("540000"),
    ConfigDef::new(
        "socket.send.buffer.bytes",
        ConfigType::Int { min: -1, max: i32::MAX },
        "SO_SNDBUF for broker connections; -1 keeps the operating system's default.",
    )
    .default_value("131072")
    .importance(Importance::Low),
    ConfigDef::new(
        "socket.receive.buffer.bytes",
        ConfigType::Int { min: -1, max: i32::MAX },
        "SO_RCVBUF for broker connections; -1 keeps the operating system's default.",
    )
    .default_value("65536")
    .importance(Importance::Low),
    ConfigDef::new(
        "receive.message.max.bytes",
        ConfigType::Int { min: 1000, max: i32::MAX },
        "The largest response frame accepted from a broker (librdkafka's name); larger ones close the connection.",
    )
    .default_value("100000000")
    .importance(Importance::Low),
    ConfigDef::new(
        "security.protocol",
        ConfigType::Enum(SecurityProtocol::NAMES),
        "How to talk to brokers: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    )
    .default_value("PLAINTEXT")
    .importance(Importance::High),
    ConfigDef::new(
        "sasl.mechanism",
        ConfigType::Enum(SaslMechanism::NAMES),
        "The SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (GSSAPI and OAUTHBEARER are recognised but not implemented).",
    )
    .default_value("GSSAPI")
    .importance(Importance::High),
    ConfigDef::new(
        "sasl.username",
        ConfigType::String,
        "The SASL user name (librdkafka's name).",
    )
    .importance(Importance::High),
    ConfigDef::new(
        "sasl.password",
        ConfigType::Password,
        "The SASL password (librdkafka's name).",
    )
    .importance(Importance::High),
    ConfigDef::new(
        "sasl.jaas.config",
        ConfigType::Password,
        "A Java JAAS line; its username=\"…\" and password=\"…\" set the SASL credentials.",
    )
    .importance(Importance::Medium),
    ConfigDef::new(
        "ssl.ca.location",
        ConfigType::String,
        "A PEM file of CA certificates to trust; the system's roots when unset.",
    ),
    ConfigDef::new(
        "ssl.certificate.location",
        ConfigType::String,
        "A PEM file with the client certificate chain, for mutual TLS.",
    ),
    ConfigDef::new(
        "ssl.key.location",
        ConfigType::String,
        "A PEM file with the client's private key (PKCS#8, PKCS#1 or SEC1, unencrypted), for mutual TLS.",
    ),
    ConfigDef::new(
        "ssl.key.password",
        ConfigType::Password,
        "The password of an encrypted private key; encrypted keys are not supported yet.",
    )
    .importance(Importance::Low),
    ConfigDef::new(
        "ssl.endpoint.identification.algorithm",
        ConfigType::Enum(&["https", "none"]),
        "https checks that the broker certificate names the broker host; none checks only the chain.",
    )
    .default_value("https")
    .importance(Importance::Low),
    ConfigDef::new(
        "client.software.name",
        ConfigType::String,
        "The software name sent to brokers in ApiVersions (KIP-511).",
    )
    .default_value(SOFTWARE_NAME)
    .importance(Importance::Low)
    .validator(software),
    ConfigDef::new(
        "client.software.version",
        ConfigType::String,
        "The software version sent to brokers in ApiVersions (KIP-511).",
    )
    .default_value(SOFTWARE_VERSION)
    .importance(Importance::Low)
    .validator(software),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("a:9092"), Some(("a", 9092)));
        assert_eq!(split_host_port("[::1]:9092"), Some(("::1", 9092)));
        assert_eq!(split_host_port("a"), None);
        assert_eq!(split_host_port(":1"), None);
        assert_eq!(split_host_port("a:0"), None);
        assert_eq!(split_host_port("a:99999"), None);
    }

    #[test]
    fn software_tokens() {
        assert!(software_token("kafka-sdk-rust"));
        assert!(software_token("0.1.0"));
        assert!(!software_token("-x"));
        assert!(!software_token("a b"));
        assert!(!software_token(""));
    }

    #[test]
    fn every_default_parses() {
        for d in CLIENT_CONFIGS {
            if let Some(v) = d.default {
                d.parse(v).unwrap_or_else(|e| panic!("{}: {e}", d.name));
            }
        }
    }
}
