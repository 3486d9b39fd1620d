//! SCRAM-SHA-256 and SCRAM-SHA-512, server side (RFC 5802, RFC 7677), sans-IO.
//!
//! The exchange is two round trips:
//!
//! ```text
//! client-first  n,,n=user,r=<client nonce>
//! server-first  r=<client nonce><server nonce>,s=<salt>,i=<iterations>
//! client-final  c=biws,r=<both nonces>,p=<proof>
//! server-final  v=<server signature>
//! ```
//!
//! The server keeps only the salt, the iteration count, `StoredKey` and `ServerKey` of each
//! user ([`ScramCredential`]), never the password. An unknown user is given a made-up
//! credential (a stable fake salt, a key nothing hashes to), so the exchange fails at the
//! proof exactly as a wrong password does and does not reveal who exists (RFC 5802 §9).
//!
//! Channel binding is not offered (no `-PLUS` mechanism): `p=` in the GS2 header is refused,
//! `n` and `y` are accepted. Like Kafka, user names are not SASLprep-normalised, the
//! `tokenauth` extension (delegation tokens) is refused, other extensions are ignored, and
//! the nonce of client-final need only end with that of server-first.
//! Every parse failure is an [`Outcome::Failed`], never a panic.

use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::{digest, hmac, pbkdf2};

use super::SaslMechanism;
use super::exchange::{Failure, Outcome, ct_eq};

/// Iterations of PBKDF2 for the credentials the broker derives (Kafka's minimum, and RFC
/// 7677's recommended minimum for SCRAM-SHA-256).
pub(crate) const ITERATIONS: NonZeroU32 = match NonZeroU32::new(4096) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

/// Bytes of random salt per credential.
pub(crate) const SALT_LEN: usize = 16;

/// The hash a SCRAM mechanism is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ScramHash {
    Sha256,
    Sha512,
}

impl ScramHash {
    /// The SCRAM variant of `mechanism`, if it is one.
    pub fn of(mechanism: SaslMechanism) -> Option<Self> {
        match mechanism {
            SaslMechanism::ScramSha256 => Some(Self::Sha256),
            SaslMechanism::ScramSha512 => Some(Self::Sha512),
            _ => None,
        }
    }

    pub fn mechanism(self) -> SaslMechanism {
        match self {
            Self::Sha256 => SaslMechanism::ScramSha256,
            Self::Sha512 => SaslMechanism::ScramSha512,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha512 => &digest::SHA512,
        }
    }

    fn pbkdf2(self) -> pbkdf2::Algorithm {
        match self {
            Self::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Self::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }

    /// Output size of the hash, which is also the size of every SCRAM key and proof.
    pub fn len(self) -> usize {
        self.digest().output_len()
    }

    fn hmac_sign(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        hmac::sign(&hmac::Key::new(self.hmac(), key), data)
            .as_ref()
            .to_vec()
    }
}

/// What the server keeps of a user's password for one SCRAM mechanism.
#[derive(Clone)]
pub(crate) struct ScramCredential {
    salt: Vec<u8>,
    iterations: NonZeroU32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramCredential {
    /// Derives the credential of `password` with `salt` (RFC 5802 §3).
    pub fn derive(hash: ScramHash, password: &[u8], salt: &[u8], iterations: NonZeroU32) -> Self {
        let mut salted = vec![0u8; hash.len()];
        pbkdf2::derive(hash.pbkdf2(), iterations, salt, password, &mut salted);
        let client_key = hash.hmac_sign(&salted, b"Client Key");
        Self {
            salt: salt.to_vec(),
            iterations,
            stored_key: digest::digest(hash.digest(), &client_key).as_ref().to_vec(),
            server_key: hash.hmac_sign(&salted, b"Server Key"),
        }
    }

    /// A credential no proof matches, with a salt that depends only on `seed` (so asking
    /// twice for the same unknown user gives the same salt, as for a real user).
    pub fn unknown_user(hash: ScramHash, seed: &[u8]) -> Self {
        let mut salt = seed.to_vec();
        salt.truncate(SALT_LEN);
        Self {
            salt,
            iterations: ITERATIONS,
            // StoredKey = H(ClientKey); finding a ClientKey whose hash is all zeros is a
            // preimage attack on SHA-2.
            stored_key: vec![0u8; hash.len()],
            server_key: vec![0u8; hash.len()],
        }
    }
}

/// The server side of one SCRAM exchange.
#[derive(Debug)]
pub(crate) struct ScramServer {
    hash: ScramHash,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Waiting for client-first; the server's half of the nonce is ready.
    ClientFirst { server_nonce: String },
    /// Waiting for client-final.
    ClientFinal(Box<Pending>),
    /// Succeeded or failed: nothing more is accepted.
    Over,
}

#[derive(Debug)]
struct Pending {
    user: String,
    /// Base64 of the GS2 header, which client-final must echo as `c=`.
    channel_binding: String,
    /// Client and server nonce together.
    nonce: String,
    /// `client-first-bare "," server-first`, the start of AuthMessage.
    auth_prefix: String,
    credential: ScramCredential,
}

impl ScramServer {
    /// A new exchange; `server_nonce` is the server's random half of the nonce (printable
    /// ASCII without `,`; the caller draws it, so this stays deterministic and testable).
    pub fn new(hash: ScramHash, server_nonce: String) -> Self {
        Self {
            hash,
            state: State::ClientFirst { server_nonce },
        }
    }

    /// The hash this exchange runs on.
    pub fn hash(&self) -> ScramHash {
        self.hash
    }

    /// Takes the next client message. `lookup` gives the credential of a user (a made-up
    /// one for an unknown user), and is called at most once.
    pub fn step(
        &mut self,
        message: &[u8],
        lookup: impl FnOnce(&str) -> ScramCredential,
    ) -> Outcome {
        match std::mem::replace(&mut self.state, State::Over) {
            State::ClientFirst { server_nonce } => {
                match self.client_first(message, &server_nonce, lookup) {
                    Ok((pending, server_first)) => {
                        self.state = State::ClientFinal(Box::new(pending));
                        Outcome::Challenge(server_first.into_bytes())
                    }
                    Err(f) => Outcome::Failed(f),
                }
            }
            State::ClientFinal(pending) => match self.client_final(message, &pending) {
                Ok(server_final) => Outcome::Success {
                    user: pending.user,
                    response: server_final.into_bytes(),
                },
                Err(f) => Outcome::Failed(f),
            },
            State::Over => Outcome::Failed(self.fail("message after the exchange ended")),
        }
    }

    fn fail(&self, reason: &'static str) -> Failure {
        // Kafka tells the client no more than this, whatever the cause, so a client cannot
        // tell an unknown user from a wrong password.
        Failure {
            message: format!(
                "Authentication failed during authentication due to invalid credentials with SASL mechanism {}",
                self.hash.mechanism()
            ),
            reason,
        }
    }

    fn client_first(
        &self,
        message: &[u8],
        server_nonce: &str,
        lookup: impl FnOnce(&str) -> ScramCredential,
    ) -> Result<(Pending, String), Failure> {
        let bad = |reason| self.fail(reason);
        let message = std::str::from_utf8(message).map_err(|_| bad("client-first is not UTF-8"))?;
        // gs2-header = cbind-flag "," [ "a=" saslname ] ","
        let (flag, rest) = message
            .split_once(',')
            .ok_or(bad("client-first has no GS2 header"))?;
        match flag {
            "n" | "y" => {}
            f if f.starts_with("p=") => return Err(bad("client asked for channel binding")),
            _ => return Err(bad("client-first has a bad GS2 flag")),
        }
        let (authzid, bare) = rest
            .split_once(',')
            .ok_or(bad("client-first has no GS2 header"))?;
        let gs2_header = &message[..flag.len() + 1 + authzid.len() + 1];
        let authzid = match authzid {
            "" => None,
            a => Some(
                a.strip_prefix("a=")
                    .and_then(decode_saslname)
                    .ok_or(bad("client-first has a bad authzid"))?,
            ),
        };
        // client-first-message-bare = [ "m=" ... "," ] "n=" saslname "," "r=" nonce [ "," ext ]
        let mut attrs = bare.split(',');
        let user = attrs.next().and_then(|a| a.strip_prefix("n=")).ok_or(bad(
            "client-first has no user name (or a mandatory extension)",
        ))?;
        let user = decode_saslname(user).ok_or(bad("client-first has a bad user name"))?;
        if user.is_empty() {
            return Err(bad("client-first has an empty user name"));
        }
        let client_nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or(bad("client-first has no nonce"))?;
        if client_nonce.is_empty() || !client_nonce.bytes().all(is_printable) {
            return Err(bad("client-first has a bad nonce"));
        }
        for ext in attrs {
            let (key, value) = ext
                .split_once('=')
                .ok_or(bad("client-first has a bad extension"))?;
            if key == "tokenauth" && value.eq_ignore_ascii_case("true") {
                return Err(bad("delegation tokens are not supported"));
            }
        }
        if authzid.is_some_and(|a| a != user) {
            return Err(Failure {
                message: "Authentication failed: Client requested an authorization id that is different from username".into(),
                reason: "authzid differs from the user name",
            });
        }
        let credential = lookup(&user);
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&credential.salt),
            credential.iterations
        );
        let pending = Pending {
            user,
            channel_binding: B64.encode(gs2_header),
            nonce,
            auth_prefix: format!("{bare},{server_first}"),
            credential,
        };
        Ok((pending, server_first))
    }

    fn client_final(&self, message: &[u8], p: &Pending) -> Result<String, Failure> {
        let bad = |reason| self.fail(reason);
        let message = std::str::from_utf8(message).map_err(|_| bad("client-final is not UTF-8"))?;
        // client-final = "c=" cb "," "r=" nonce [ "," ext ] "," "p=" proof; the proof is last.
        let (without_proof, proof) = message
            .rsplit_once(",p=")
            .ok_or(bad("client-final has no proof"))?;
        let mut attrs = without_proof.split(',');
        let cb = attrs.next().and_then(|a| a.strip_prefix("c="));
        if cb != Some(p.channel_binding.as_str()) {
            return Err(bad(
                "client-final channel binding does not match the GS2 header",
            ));
        }
        // RFC 5802 wants the nonce of server-first back exactly. Kafka only checks that it
        // ends with it, and librdkafka 2.0 relies on that: it sends the client nonce twice
        // (`r=<client nonce><client nonce><server nonce>`). The proof covers the message as
        // sent, so accepting a prefix weakens nothing.
        let nonce = attrs.next().and_then(|a| a.strip_prefix("r="));
        if !nonce.is_some_and(|n| n.ends_with(p.nonce.as_str())) {
            return Err(bad("client-final nonce does not match"));
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| bad("client-final proof is not base64"))?;
        if proof.len() != self.hash.len() {
            return Err(bad("client-final proof has the wrong length"));
        }
        let auth_message = format!("{},{without_proof}", p.auth_prefix);
        let c = &p.credential;
        let client_signature = self.hash.hmac_sign(&c.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let stored_key = digest::digest(self.hash.digest(), &client_key);
        if !ct_eq(stored_key.as_ref(), &c.stored_key) {
            return Err(bad("invalid credentials"));
        }
        let server_signature = self.hash.hmac_sign(&c.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)))
    }
}

/// RFC 5802 `printable`: `%x21-2B / %x2D-7E` (visible ASCII but `,`).
fn is_printable(b: u8) -> bool {
    matches!(b, 0x21..=0x2b | 0x2d..=0x7e)
}

/// Decodes a `saslname`: `=2C` is `,`, `=3D` is `=`, any other `=` is an error.
fn decode_saslname(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let escape = rest.get(i..i + 3)?;
        out.push(match escape {
            "=2C" => ',',
            "=3D" => '=',
            _ => return None,
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
#[path = "scram_tests.rs"]
mod tests;
