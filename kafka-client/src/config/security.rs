//! The typed security settings: protocol, SASL credentials and TLS files.
//!
//! These are plain values; `crate::security` turns them into a rustls configuration and a SASL
//! exchange. Secrets are wrapped in [`Password`] so that printing a configuration (which people
//! do in logs and bug reports) never shows them.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// `security.protocol`: how bytes travel to the brokers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SecurityProtocol {
    /// Plain TCP, no authentication (Kafka's default).
    #[default]
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL over plain TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's names, in the order `security.protocol` documents them.
    pub const NAMES: &'static [&'static str] = &["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

    /// Kafka's name for the protocol.
    pub const fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether connections are wrapped in TLS.
    pub const fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections authenticate with SASL.
    pub const fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl FromStr for SecurityProtocol {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "PLAINTEXT" => SecurityProtocol::Plaintext,
            "SSL" => SecurityProtocol::Ssl,
            "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
            "SASL_SSL" => SecurityProtocol::SaslSsl,
            _ => return Err(()),
        })
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SaslMechanism {
    /// Kerberos: Kafka's default, recognised but not implemented by this client.
    #[default]
    Gssapi,
    /// Username and password in clear (use with TLS).
    Plain,
    /// SCRAM with SHA-256 (RFC 7677).
    ScramSha256,
    /// SCRAM with SHA-512.
    ScramSha512,
    /// OAuth bearer tokens: recognised but not implemented by this client.
    OauthBearer,
}

impl SaslMechanism {
    /// Kafka's names.
    pub const NAMES: &'static [&'static str] = &[
        "GSSAPI",
        "PLAIN",
        "SCRAM-SHA-256",
        "SCRAM-SHA-512",
        "OAUTHBEARER",
    ];

    /// The name sent in SaslHandshake.
    pub const fn name(self) -> &'static str {
        match self {
            SaslMechanism::Gssapi => "GSSAPI",
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OauthBearer => "OAUTHBEARER",
        }
    }

    /// Whether this client can authenticate with the mechanism.
    pub const fn is_supported(self) -> bool {
        matches!(
            self,
            SaslMechanism::Plain | SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512
        )
    }
}

impl FromStr for SaslMechanism {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "GSSAPI" => SaslMechanism::Gssapi,
            "PLAIN" => SaslMechanism::Plain,
            "SCRAM-SHA-256" => SaslMechanism::ScramSha256,
            "SCRAM-SHA-512" => SaslMechanism::ScramSha512,
            "OAUTHBEARER" => SaslMechanism::OauthBearer,
            _ => return Err(()),
        })
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `ssl.endpoint.identification.algorithm`: whether the broker certificate must name the host
/// the client connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum EndpointIdentification {
    /// Check the host name (Kafka's default since 2.0).
    #[default]
    Https,
    /// Check the chain of trust only.
    None,
}

/// A secret string: `Debug` and `Display` print `[hidden]`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Password(String);

impl Password {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the code that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[hidden]")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[hidden]")
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Password {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

/// SASL settings (`sasl.*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaslSettings {
    /// `sasl.mechanism`.
    pub mechanism: SaslMechanism,
    /// `sasl.username` (librdkafka's name; also read from `sasl.jaas.config`).
    pub username: Option<String>,
    /// `sasl.password` (librdkafka's name; also read from `sasl.jaas.config`).
    pub password: Option<Password>,
}

/// TLS settings (`ssl.*`). Files are PEM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SslSettings {
    /// `ssl.ca.location`: CA certificates to trust; the system's roots when unset.
    pub ca_location: Option<PathBuf>,
    /// `ssl.certificate.location`: the client certificate chain, for mutual TLS.
    pub certificate_location: Option<PathBuf>,
    /// `ssl.key.location`: the client private key, for mutual TLS.
    pub key_location: Option<PathBuf>,
    /// `ssl.key.password`: accepted for compatibility; encrypted keys are refused when
    /// connecting, since rustls reads unencrypted PKCS#8, PKCS#1 and SEC1 keys only.
    pub key_password: Option<Password>,
    /// `ssl.endpoint.identification.algorithm`.
    pub endpoint_identification: EndpointIdentification,
}

/// Reads `username="…"` and `password="…"` out of a Java `sasl.jaas.config` value such as
/// `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`
/// so that a Java client's properties file works unchanged.
pub(crate) fn parse_jaas(value: &str) -> (Option<String>, Option<String>) {
    fn field(value: &str, key: &str) -> Option<String> {
        let mut rest = value;
        while let Some(pos) = rest.find(key) {
            let before = rest[..pos].chars().last();
            let after = rest[pos + key.len()..].trim_start();
            rest = &rest[pos + key.len()..];
            // Only a whole word followed by `=` counts (so `username` does not match `name`).
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let Some(after) = after.strip_prefix('=') else {
                continue;
            };
            let after = after.trim_start();
            let quoted = after.strip_prefix('"')?;
            let mut out = String::new();
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.push(chars.next()?),
                    '"' => return Some(out),
                    c => out.push(c),
                }
            }
            return None;
        }
        None
    }
    (field(value, "username"), field(value, "password"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_prints() {
        let p = Password::new("s3cret");
        assert_eq!(format!("{p:?} {p}"), "[hidden] [hidden]");
        assert_eq!(p.expose(), "s3cret");
    }

    #[test]
    fn jaas_config_yields_credentials() {
        let (u, p) = parse_jaas(
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="p\"w";"#,
        );
        assert_eq!(u.as_deref(), Some("alice"));
        assert_eq!(p.as_deref(), Some("p\"w"));
        assert_eq!(parse_jaas("nothing here"), (None, None));
    }

    #[test]
    fn names_round_trip() {
        for n in SecurityProtocol::NAMES {
            assert_eq!(n.parse::<SecurityProtocol>().unwrap().name(), *n);
        }
        for n in SaslMechanism::NAMES {
            assert_eq!(n.parse::<SaslMechanism>().unwrap().name(), *n);
        }
    }
}
