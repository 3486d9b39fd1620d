//! One SASL exchange, whichever the mechanism: client tokens in, an [`Outcome`] out.

use super::SaslMechanism;
use super::credentials::Credentials;
use super::plain;
use super::scram::{ScramHash, ScramServer};

/// What one client token led to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Send this challenge; the exchange goes on.
    Challenge(Vec<u8>),
    /// Authenticated as `user`; send `response` (SCRAM's server-final, empty for PLAIN).
    Success { user: String, response: Vec<u8> },
    /// Authentication failed.
    Failed(Failure),
}

/// Why an exchange failed: what the client is told, and (for the broker's log) why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The SaslAuthenticate error message (Kafka's wording).
    pub message: String,
    /// The cause, for the log; never a secret, never client input.
    pub reason: &'static str,
}

/// The server side of one exchange.
#[derive(Debug)]
pub(crate) enum Exchange {
    Plain,
    Scram(ScramServer),
}

impl Exchange {
    /// A new exchange of `mechanism`; `server_nonce` is used by SCRAM only.
    pub fn new(mechanism: SaslMechanism, server_nonce: String) -> Self {
        match ScramHash::of(mechanism) {
            Some(hash) => Exchange::Scram(ScramServer::new(hash, server_nonce)),
            None => Exchange::Plain,
        }
    }

    /// Takes the next client token.
    pub fn step(&mut self, credentials: &Credentials, token: &[u8]) -> Outcome {
        match self {
            Exchange::Plain => plain::authenticate(token, |user, password| {
                credentials.check_plain(user, password)
            }),
            Exchange::Scram(server) => {
                let hash = server.hash();
                server.step(token, |user| credentials.scram(hash, user))
            }
        }
    }
}

/// Compares two byte strings in time that depends on their lengths only, so a check does
/// not reveal how long a prefix matched.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
