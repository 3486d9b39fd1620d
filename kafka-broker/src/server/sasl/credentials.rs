//! What a running broker keeps to check logins, prepared once at startup from
//! [`SaslConfig`].
//!
//! Passwords are not kept here: for SCRAM, each user's salted keys (random salt, 4096
//! PBKDF2 iterations); for PLAIN, an HMAC of the password under a key drawn at startup, so
//! checking a password compares two digests in constant time. The same key makes the fake
//! salts of unknown SCRAM users (see `scram`).

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use super::exchange::{Exchange, ct_eq};
use super::scram::{ITERATIONS, SALT_LEN, ScramCredential, ScramHash};
use super::{SaslConfig, SaslConfigError, SaslMechanism, SaslUser, users_file};

/// Random bytes in a SCRAM server nonce (Kafka draws a similar amount).
const NONCE_BYTES: usize = 24;

/// Everything needed to check logins.
pub(crate) struct Credentials {
    mechanisms: Vec<SaslMechanism>,
    /// PLAIN users: HMAC(key, password).
    plain: HashMap<String, hmac::Tag>,
    /// SCRAM users, per hash.
    scram: HashMap<(ScramHash, String), ScramCredential>,
    key: hmac::Key,
    rng: SystemRandom,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("mechanisms", &self.mechanisms)
            .field("plain_users", &self.plain.len())
            .field("scram_credentials", &self.scram.len())
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Reads the users files and derives every credential.
    pub fn prepare(config: &SaslConfig) -> Result<Self, SaslConfigError> {
        if config.mechanisms.is_empty() {
            return Err(SaslConfigError::NoMechanisms);
        }
        let mut users = config.users.clone();
        for path in &config.users_files {
            users.extend(users_file::read(path)?);
        }
        let rng = SystemRandom::new();
        let key =
            hmac::Key::generate(hmac::HMAC_SHA256, &rng).map_err(|_| SaslConfigError::Random)?;
        let mut this = Self {
            mechanisms: config.mechanisms.clone(),
            plain: HashMap::new(),
            scram: HashMap::new(),
            key,
            rng,
        };
        for user in &users {
            this.add(user)?;
        }
        if this.plain.is_empty() && this.scram.is_empty() {
            return Err(SaslConfigError::NoUsers);
        }
        Ok(this)
    }

    fn add(&mut self, user: &SaslUser) -> Result<(), SaslConfigError> {
        let bad = |reason| SaslConfigError::BadUser {
            user: user.name.clone(),
            reason,
        };
        if user.name.is_empty() {
            return Err(bad("empty user name"));
        }
        let password = user.password.expose().as_bytes();
        if password.is_empty() {
            return Err(bad("empty password"));
        }
        let mechanisms: Vec<SaslMechanism> = match user.mechanism {
            Some(m) if self.mechanisms.contains(&m) => vec![m],
            Some(m) => {
                tracing::warn!(user = %user.name, mechanism = %m, "SASL user ignored: its mechanism is not enabled");
                Vec::new()
            }
            None => self.mechanisms.clone(),
        };
        for m in mechanisms {
            match ScramHash::of(m) {
                Some(hash) => {
                    let mut salt = [0u8; SALT_LEN];
                    self.rng
                        .fill(&mut salt)
                        .map_err(|_| SaslConfigError::Random)?;
                    let cred = ScramCredential::derive(hash, password, &salt, ITERATIONS);
                    self.scram.insert((hash, user.name.clone()), cred);
                }
                None => {
                    let tag = hmac::sign(&self.key, password);
                    self.plain.insert(user.name.clone(), tag);
                }
            }
        }
        Ok(())
    }

    /// The enabled mechanisms, in the order SaslHandshake lists them.
    pub fn mechanisms(&self) -> &[SaslMechanism] {
        &self.mechanisms
    }

    /// Whether `user` may log in with `password` through PLAIN.
    pub fn check_plain(&self, user: &str, password: &[u8]) -> bool {
        let given = hmac::sign(&self.key, password);
        match self.plain.get(user) {
            Some(stored) => ct_eq(given.as_ref(), stored.as_ref()),
            None => {
                // Same work as for a known user, so timing does not tell who exists.
                let _ = ct_eq(given.as_ref(), &[0u8; 32]);
                false
            }
        }
    }

    /// The SCRAM credential of `user`, or a made-up one no proof matches.
    pub fn scram(&self, hash: ScramHash, user: &str) -> ScramCredential {
        match self.scram.get(&(hash, user.to_string())) {
            Some(c) => c.clone(),
            None => {
                let seed = hmac::sign(&self.key, format!("{}\0{user}", hash.len()).as_bytes());
                ScramCredential::unknown_user(hash, seed.as_ref())
            }
        }
    }

    /// Starts an exchange of `mechanism` (which must be enabled). `None` if the system
    /// random number generator failed.
    pub fn start(&self, mechanism: SaslMechanism) -> Option<Exchange> {
        let mut nonce = [0u8; NONCE_BYTES];
        self.rng.fill(&mut nonce).ok()?;
        // Base64 is printable and has no ',', as a SCRAM nonce must.
        Some(Exchange::new(mechanism, B64.encode(nonce)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(users: Vec<SaslUser>, mechanisms: &[SaslMechanism]) -> SaslConfig {
        SaslConfig {
            mechanisms: mechanisms.to_vec(),
            users,
            users_files: Vec::new(),
        }
    }

    #[test]
    fn users_apply_to_their_mechanisms() {
        let c = Credentials::prepare(&config(
            vec![
                SaslUser::new("alice", "a-pw"),
                SaslUser::for_mechanism(SaslMechanism::Plain, "bob", "b-pw"),
                SaslUser::for_mechanism(SaslMechanism::ScramSha512, "carol", "c-pw"),
            ],
            &[SaslMechanism::Plain, SaslMechanism::ScramSha256],
        ))
        .unwrap();
        assert!(c.check_plain("alice", b"a-pw"));
        assert!(!c.check_plain("alice", b"a-pw "));
        assert!(c.check_plain("bob", b"b-pw"));
        assert!(!c.check_plain("carol", b"c-pw"));
        assert!(c.scram.contains_key(&(ScramHash::Sha256, "alice".into())));
        assert!(!c.scram.contains_key(&(ScramHash::Sha256, "bob".into())));
        // SCRAM-SHA-512 is not enabled: carol is ignored.
        assert_eq!(c.scram.len(), 1);
        assert!(!format!("{c:?}").contains("pw"));
    }

    #[test]
    fn refuses_empty_settings() {
        assert!(matches!(
            Credentials::prepare(&config(vec![], SaslMechanism::ALL)),
            Err(SaslConfigError::NoUsers)
        ));
        assert!(matches!(
            Credentials::prepare(&config(vec![SaslUser::new("a", "b")], &[])),
            Err(SaslConfigError::NoMechanisms)
        ));
        assert!(matches!(
            Credentials::prepare(&config(vec![SaslUser::new("a", "")], SaslMechanism::ALL)),
            Err(SaslConfigError::BadUser { .. })
        ));
        let only_disabled = vec![SaslUser::for_mechanism(SaslMechanism::Plain, "a", "b")];
        assert!(matches!(
            Credentials::prepare(&config(only_disabled, &[SaslMechanism::ScramSha256])),
            Err(SaslConfigError::NoUsers)
        ));
    }

    #[test]
    fn nonces_are_fresh() {
        let c = Credentials::prepare(&config(vec![SaslUser::new("a", "b")], SaslMechanism::ALL))
            .unwrap();
        let nonce = |e: Exchange| format!("{e:?}");
        assert_ne!(
            nonce(c.start(SaslMechanism::ScramSha256).unwrap()),
            nonce(c.start(SaslMechanism::ScramSha256).unwrap())
        );
    }
}
