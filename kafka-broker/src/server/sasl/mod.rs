//! SASL authentication: which mechanisms and users a broker accepts, and the per-connection
//! exchange that checks them.
//!
//! When SASL is enabled (any user or mechanism set), a connection must authenticate before
//! anything but ApiVersions and SaslHandshake is served, as on a Kafka `SASL_PLAINTEXT` or
//! `SASL_SSL` listener. Mechanisms: `PLAIN` (RFC 4616) and `SCRAM-SHA-256` / `SCRAM-SHA-512`
//! (RFC 5802, RFC 7677).
//!
//! Module map:
//! - this file: the settings ([`SaslConfig`], [`SaslMechanism`], [`SaslUser`]) and their
//!   builder methods;
//! - `users_file`: the `--sasl-users` file format;
//! - `credentials`: what a running broker keeps per user (SCRAM keys, never passwords);
//! - `exchange`: one exchange, whichever the mechanism; `plain`, `scram`: the mechanisms,
//!   sans-IO;
//! - `gate`: the Kafka framing of the exchange (SaslHandshake v0/v1, SaslAuthenticate,
//!   raw v0 tokens), sans-IO, one per connection.

pub(crate) mod credentials;
mod exchange;
pub(crate) mod gate;
mod plain;
mod scram;
mod users_file;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::BrokerBuilder;

/// A SASL mechanism the broker can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SaslMechanism {
    /// `PLAIN`: the password in the clear (use it over TLS).
    Plain,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
}

impl SaslMechanism {
    /// Every mechanism, in the order SaslHandshake lists them by default.
    pub const ALL: &'static [SaslMechanism] = &[
        SaslMechanism::Plain,
        SaslMechanism::ScramSha256,
        SaslMechanism::ScramSha512,
    ];

    /// The mechanism's name on the wire, e.g. `SCRAM-SHA-256`.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism named `name` exactly (mechanism names are case-sensitive on the wire).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.name() == name)
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SaslMechanism {
    type Err = SaslConfigError;

    /// Parses a mechanism name, ignoring case and surrounding blanks (for command lines).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        Self::from_name(&upper).ok_or_else(|| SaslConfigError::UnknownMechanism(s.trim().into()))
    }
}

/// A password. Its `Debug` output is redacted, so configs can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A user allowed to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaslUser {
    /// The user name.
    pub name: String,
    /// The password.
    pub password: Password,
    /// The only mechanism this entry applies to; `None`: every enabled mechanism.
    pub mechanism: Option<SaslMechanism>,
}

impl SaslUser {
    /// A user for every enabled mechanism.
    pub fn new(name: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            password: Password::new(password),
            mechanism: None,
        }
    }

    /// A user for one mechanism only.
    pub fn for_mechanism(
        mechanism: SaslMechanism,
        name: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            mechanism: Some(mechanism),
            ..Self::new(name, password)
        }
    }
}

/// SASL settings: the mechanisms offered and who may log in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaslConfig {
    /// Mechanisms offered, in the order SaslHandshake lists them (Kafka's
    /// `sasl.enabled.mechanisms`). All three by default.
    pub mechanisms: Vec<SaslMechanism>,
    /// Users given directly.
    pub users: Vec<SaslUser>,
    /// Files of users, read when the broker starts (format in `users_file`; see
    /// [`BrokerBuilder::sasl_users_file`]).
    pub users_files: Vec<PathBuf>,
}

impl Default for SaslConfig {
    fn default() -> Self {
        Self {
            mechanisms: SaslMechanism::ALL.to_vec(),
            users: Vec::new(),
            users_files: Vec::new(),
        }
    }
}

/// Why the SASL settings are unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaslConfigError {
    /// A mechanism name the broker does not implement.
    #[error("unsupported SASL mechanism {0:?} (supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)")]
    UnknownMechanism(String),
    /// SASL is enabled with no mechanism.
    #[error("SASL is enabled but no mechanism is")]
    NoMechanisms,
    /// SASL is enabled but nobody could log in.
    #[error("SASL is enabled but no users are configured")]
    NoUsers,
    /// A user entry is unusable (the password is never part of the message).
    #[error("SASL user {user:?}: {reason}")]
    BadUser {
        /// The user name.
        user: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The system random number generator failed (salts cannot be drawn).
    #[error("the system random number generator failed")]
    Random,
    /// A users file cannot be read.
    #[error("SASL users file {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line of a users file does not parse (the line itself is not quoted: it may hold a
    /// password).
    #[error("SASL users file {path}, line {line}: {reason}")]
    BadLine {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Builder methods for SASL; any of them enables SASL on the listener.
impl BrokerBuilder {
    fn sasl_config(&mut self) -> &mut SaslConfig {
        self.config.sasl.get_or_insert_with(SaslConfig::default)
    }

    /// Lets `user` log in with `password` through every enabled mechanism (and enables SASL).
    pub fn sasl_user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.sasl_config().users.push(SaslUser::new(user, password));
        self
    }

    /// Lets `user` log in with `password` through `mechanism` only (and enables SASL).
    pub fn sasl_user_for(
        mut self,
        mechanism: SaslMechanism,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        let entry = SaslUser::for_mechanism(mechanism, user, password);
        self.sasl_config().users.push(entry);
        self
    }

    /// Reads users from `path` when the broker starts (and enables SASL). One entry a line:
    /// `user=password` for every enabled mechanism, or `MECHANISM:user:password` (e.g.
    /// `SCRAM-SHA-512:alice:secret`) for one; blank lines and lines starting with `#` are
    /// skipped. A password runs to the end of its line, blanks included; a later entry for
    /// the same user and mechanism replaces an earlier one.
    pub fn sasl_users_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.sasl_config().users_files.push(path.into());
        self
    }

    /// The mechanisms offered, in the order SaslHandshake lists them (and enables SASL).
    /// All three when SASL is enabled without calling this.
    pub fn sasl_mechanisms(mut self, mechanisms: impl IntoIterator<Item = SaslMechanism>) -> Self {
        let mut list: Vec<SaslMechanism> = Vec::new();
        for m in mechanisms {
            if !list.contains(&m) {
                list.push(m);
            }
        }
        self.sasl_config().mechanisms = list;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names() {
        for m in SaslMechanism::ALL {
            assert_eq!(SaslMechanism::from_name(m.name()), Some(*m));
            assert_eq!(
                m.name().to_lowercase().parse::<SaslMechanism>().ok(),
                Some(*m)
            );
        }
        assert_eq!(SaslMechanism::from_name("plain"), None);
        assert!("GSSAPI".parse::<SaslMechanism>().is_err());
    }

    #[test]
    fn passwords_are_not_debug_printed() {
        let b = BrokerBuilder::default().sasl_user("alice", "hunter2-secret");
        let shown = format!("{b:?}");
        assert!(shown.contains("alice"));
        assert!(!shown.contains("hunter2-secret"), "{shown}");
    }

    #[test]
    fn builder_enables_sasl_with_every_mechanism() {
        let b = BrokerBuilder::default().sasl_user("a", "b");
        let sasl = b.config().sasl.as_ref().unwrap();
        assert_eq!(sasl.mechanisms, SaslMechanism::ALL);
        let b = b.sasl_mechanisms([SaslMechanism::ScramSha512, SaslMechanism::ScramSha512]);
        assert_eq!(
            b.config().sasl.as_ref().unwrap().mechanisms,
            [SaslMechanism::ScramSha512]
        );
    }
}
