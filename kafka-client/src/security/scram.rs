//! SCRAM client (RFC 5802, with SHA-256 per RFC 7677 and SHA-512), sans-IO.
//!
//! Three messages: the client's first (user name and nonce), its final (channel binding,
//! the combined nonce and the proof of the password), and a check of the server's final
//! message (its signature), which proves the server knows the password too. The hashing is
//! ring's (HMAC, PBKDF2, SHA-2), which the TLS stack already builds.
//!
//! No channel binding (`n,,`), no authorization identity, and no SASLprep of the password:
//! like Kafka's Java client, the password is used as its UTF-8 bytes.

use std::num::NonZeroU32;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::{digest, hmac, pbkdf2};

/// The hash a SCRAM mechanism uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScramAlgorithm {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
    /// SCRAM-SHA-1: not offered by Kafka; kept for RFC 5802's test vector.
    #[cfg(test)]
    Sha1,
}

impl ScramAlgorithm {
    fn hmac(self) -> hmac::Algorithm {
        match self {
            ScramAlgorithm::Sha256 => hmac::HMAC_SHA256,
            ScramAlgorithm::Sha512 => hmac::HMAC_SHA512,
            #[cfg(test)]
            ScramAlgorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        }
    }

    fn pbkdf2(self) -> pbkdf2::Algorithm {
        match self {
            ScramAlgorithm::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            ScramAlgorithm::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
            #[cfg(test)]
            ScramAlgorithm::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            ScramAlgorithm::Sha256 => &digest::SHA256,
            ScramAlgorithm::Sha512 => &digest::SHA512,
            #[cfg(test)]
            ScramAlgorithm::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        }
    }

    fn output_len(self) -> usize {
        self.digest().output_len()
    }
}

/// Why a SCRAM exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScramError {
    /// A server message did not parse.
    #[error("malformed server message: {0}")]
    Malformed(&'static str),
    /// The server's nonce does not extend ours (a replay or a confused server).
    #[error("server nonce does not start with the client nonce")]
    NonceMismatch,
    /// The server asked for an iteration count this client refuses.
    #[error("iteration count {0} is outside 1..={max}", max = MAX_ITERATIONS)]
    Iterations(u64),
    /// The server reported an error (`e=...`).
    #[error("server error: {0}")]
    Server(String),
    /// The server's signature is wrong: it does not know the password.
    #[error("server signature does not verify")]
    BadServerSignature,
    /// A message arrived out of order.
    #[error("unexpected message in state {0}")]
    State(&'static str),
}

/// Kafka allows 4096..=16384; refusing far larger counts bounds the CPU a hostile server can
/// make the client spend.
const MAX_ITERATIONS: u64 = 1 << 20;

enum State {
    Initial,
    SentFirst,
    SentFinal { server_signature: Vec<u8> },
    Done,
}

/// One SCRAM authentication, driven message by message.
pub struct ScramClient {
    algorithm: ScramAlgorithm,
    username: String,
    password: String,
    nonce: String,
    client_first_bare: String,
    state: State,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient")
            .field("algorithm", &self.algorithm)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// RFC 5802 `saslname`: `=` and `,` escaped as `=3D` and `=2C`.
fn saslname(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

fn random_nonce() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 24];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the OS random source is available");
    BASE64.encode(bytes)
}

fn hmac(algorithm: ScramAlgorithm, key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(algorithm.hmac(), key), data)
        .as_ref()
        .to_vec()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl ScramClient {
    /// A new exchange with a random nonce.
    pub fn new(algorithm: ScramAlgorithm, username: &str, password: &str) -> Self {
        Self::with_nonce(algorithm, username, password, &random_nonce())
    }

    /// A new exchange with a given nonce (test vectors).
    pub fn with_nonce(
        algorithm: ScramAlgorithm,
        username: &str,
        password: &str,
        nonce: &str,
    ) -> Self {
        Self {
            algorithm,
            username: username.to_owned(),
            password: password.to_owned(),
            nonce: nonce.to_owned(),
            client_first_bare: String::new(),
            state: State::Initial,
        }
    }

    /// The client-first message: `n,,n=<user>,r=<nonce>`.
    pub fn client_first(&mut self) -> Vec<u8> {
        self.client_first_bare = format!("n={},r={}", saslname(&self.username), self.nonce);
        self.state = State::SentFirst;
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    /// Takes the server-first message and returns the client-final message (with the proof).
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramError> {
        if !matches!(self.state, State::SentFirst) {
            return Err(ScramError::State("client_final"));
        }
        let server_first =
            std::str::from_utf8(server_first).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for attr in server_first.split(',') {
            match attr.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(v),
                Some(("i", v)) => iterations = Some(v),
                Some(("e", v)) => return Err(ScramError::Server(v.to_owned())),
                Some(("m", _)) => return Err(ScramError::Malformed("mandatory extension")),
                _ => {}
            }
        }
        let nonce = nonce.ok_or(ScramError::Malformed("no nonce"))?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(ScramError::NonceMismatch);
        }
        let salt = BASE64
            .decode(salt.ok_or(ScramError::Malformed("no salt"))?)
            .map_err(|_| ScramError::Malformed("salt is not base64"))?;
        let iterations: u64 = iterations
            .ok_or(ScramError::Malformed("no iteration count"))?
            .parse()
            .map_err(|_| ScramError::Malformed("iteration count is not a number"))?;
        let iterations = u32::try_from(iterations)
            .ok()
            .filter(|&i| u64::from(i) <= MAX_ITERATIONS)
            .and_then(NonZeroU32::new)
            .ok_or(ScramError::Iterations(iterations))?;

        let alg = self.algorithm;
        let mut salted = vec![0u8; alg.output_len()];
        pbkdf2::derive(
            alg.pbkdf2(),
            iterations,
            &salt,
            self.password.as_bytes(),
            &mut salted,
        );
        let client_key = hmac(alg, &salted, b"Client Key");
        let stored_key = digest::digest(alg.digest(), &client_key);
        // `biws` is base64("n,,"): no channel binding, no authorization id.
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = hmac(alg, stored_key.as_ref(), auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hmac(alg, &salted, b"Server Key");
        let server_signature = hmac(alg, &server_key, auth_message.as_bytes());
        self.state = State::SentFinal { server_signature };
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }

    /// Checks the server-final message (`v=<signature>` or `e=<error>`).
    pub fn verify_server_final(&mut self, server_final: &[u8]) -> Result<(), ScramError> {
        let State::SentFinal { server_signature } = &self.state else {
            return Err(ScramError::State("verify_server_final"));
        };
        let msg =
            std::str::from_utf8(server_final).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let first = msg.split(',').next().unwrap_or_default();
        if let Some(e) = first.strip_prefix("e=") {
            return Err(ScramError::Server(e.to_owned()));
        }
        let v = first
            .strip_prefix("v=")
            .ok_or(ScramError::Malformed("no verifier"))?;
        let v = BASE64
            .decode(v)
            .map_err(|_| ScramError::Malformed("verifier is not base64"))?;
        if !constant_time_eq(&v, server_signature) {
            return Err(ScramError::BadServerSignature);
        }
        self.state = State::Done;
        Ok(())
    }

    /// Whether the server has been verified.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5802 section 5 (SHA-1).
    #[test]
    fn rfc5802_sha1_vector() {
        let mut c = ScramClient::with_nonce(
            ScramAlgorithm::Sha1,
            "user",
            "pencil",
            "fyko+d2lbbFgONRv9qkxdawL",
        );
        assert_eq!(c.client_first(), b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
        let fin = c
            .client_final(b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")
            .unwrap();
        assert_eq!(
            String::from_utf8(fin).unwrap(),
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        c.verify_server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
            .unwrap();
        assert!(c.is_done());
    }

    /// RFC 7677 section 3 (SHA-256).
    #[test]
    fn rfc7677_sha256_vector() {
        let mut c = ScramClient::with_nonce(
            ScramAlgorithm::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO",
        );
        assert_eq!(c.client_first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let fin = c
            .client_final(b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
            .unwrap();
        assert_eq!(
            String::from_utf8(fin).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
    }

    /// SHA-512 has no RFC vector; this one was computed independently with Python's hashlib
    /// and hmac modules from the same inputs as RFC 7677.
    #[test]
    fn sha512_vector() {
        let mut c = ScramClient::with_nonce(
            ScramAlgorithm::Sha512,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO",
        );
        c.client_first();
        let fin = c
            .client_final(b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
            .unwrap();
        assert_eq!(String::from_utf8(fin).unwrap(), SHA512_CLIENT_FINAL);
        c.verify_server_final(SHA512_SERVER_FINAL.as_bytes())
            .unwrap();
    }

    const SHA512_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==";
    const SHA512_SERVER_FINAL: &str = "v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw==";

    #[test]
    fn bad_servers_are_refused() {
        let first = b"r=abcXYZ,s=QSXCR+Q6sek8bf92,i=4096";
        let mut c = ScramClient::with_nonce(ScramAlgorithm::Sha256, "u", "p", "zzz");
        c.client_first();
        assert_eq!(c.client_final(first), Err(ScramError::NonceMismatch));

        let mut c = ScramClient::with_nonce(ScramAlgorithm::Sha256, "u", "p", "abc");
        c.client_first();
        assert_eq!(
            c.client_final(b"r=abcX,s=QSXCR+Q6sek8bf92,i=999999999"),
            Err(ScramError::Iterations(999_999_999))
        );

        let mut c = ScramClient::with_nonce(ScramAlgorithm::Sha256, "u", "p", "abc");
        c.client_first();
        c.client_final(first).unwrap();
        assert_eq!(
            c.verify_server_final(b"v=AAAA"),
            Err(ScramError::BadServerSignature)
        );
        assert_eq!(
            c.verify_server_final(b"e=invalid-proof"),
            Err(ScramError::Server("invalid-proof".into()))
        );
        assert!(!c.is_done());

        let mut c = ScramClient::with_nonce(ScramAlgorithm::Sha256, "u", "p", "abc");
        assert!(matches!(c.client_final(first), Err(ScramError::State(_))));
    }

    #[test]
    fn usernames_are_escaped_and_nonces_random() {
        let mut c = ScramClient::with_nonce(ScramAlgorithm::Sha256, "a=b,c", "p", "n");
        assert_eq!(c.client_first(), b"n,,n=a=3Db=2Cc,r=n");
        let a = ScramClient::new(ScramAlgorithm::Sha256, "u", "p").nonce;
        let b = ScramClient::new(ScramAlgorithm::Sha256, "u", "p").nonce;
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }
}
