//! SCRAM server tests: RFC 7677's test vector, round trips with a small client written
//! here from RFC 5802, and hostile messages.

use super::*;

/// RFC 7677 §3: user `user`, password `pencil`.
const RFC_CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const RFC_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const RFC_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const RFC_SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn rfc_credential(password: &str) -> ScramCredential {
    // Deriving is slow in debug builds: once per password for every test.
    static CACHE: std::sync::Mutex<Vec<(String, ScramCredential)>> =
        std::sync::Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, c)) = cache.iter().find(|(p, _)| p == password) {
        return c.clone();
    }
    let salt = B64.decode(RFC_SALT).unwrap();
    let c = ScramCredential::derive(ScramHash::Sha256, password.as_bytes(), &salt, ITERATIONS);
    cache.push((password.to_string(), c.clone()));
    c
}

fn rfc_server() -> ScramServer {
    ScramServer::new(ScramHash::Sha256, RFC_SERVER_NONCE.into())
}

#[test]
fn rfc7677_test_vector() {
    let mut server = rfc_server();
    let mut looked_up = None;
    let out = server.step(RFC_CLIENT_FIRST.as_bytes(), |user| {
        looked_up = Some(user.to_string());
        rfc_credential("pencil")
    });
    assert_eq!(
        out,
        Outcome::Challenge(RFC_SERVER_FIRST.as_bytes().to_vec())
    );
    assert_eq!(looked_up.as_deref(), Some("user"));
    let out = server.step(RFC_CLIENT_FINAL.as_bytes(), |_| unreachable!());
    assert_eq!(
        out,
        Outcome::Success {
            user: "user".into(),
            response: RFC_SERVER_FINAL.as_bytes().to_vec()
        }
    );
    // Nothing after the end.
    assert!(matches!(
        server.step(b"again", |_| unreachable!()),
        Outcome::Failed(_)
    ));
}

#[test]
fn rfc7677_vector_with_the_wrong_password_fails() {
    let mut server = rfc_server();
    server.step(RFC_CLIENT_FIRST.as_bytes(), |_| rfc_credential("pencil!"));
    let Outcome::Failed(f) = server.step(RFC_CLIENT_FINAL.as_bytes(), |_| unreachable!()) else {
        panic!("a wrong password must fail");
    };
    assert!(f.message.starts_with("Authentication failed"), "{f:?}");
    assert!(f.message.ends_with("SCRAM-SHA-256"), "{f:?}");
}

/// A SCRAM client, straight from RFC 5802 §3, to check the server against.
struct Client {
    hash: ScramHash,
    password: String,
    gs2: String,
    first_bare: String,
    nonce: String,
}

impl Client {
    fn new(hash: ScramHash, user: &str, password: &str, nonce: &str) -> Self {
        let user = user.replace('=', "=3D").replace(',', "=2C");
        Self {
            hash,
            password: password.into(),
            gs2: "n,,".into(),
            first_bare: format!("n={user},r={nonce}"),
            nonce: nonce.into(),
        }
    }

    fn first(&self) -> String {
        format!("{}{}", self.gs2, self.first_bare)
    }

    /// client-final for `server_first`, and the server-final the client expects.
    fn finish(&self, server_first: &str) -> (String, String) {
        self.finish_with(server_first, "")
    }

    /// As `finish`, with `prefix` before the nonce in client-final (librdkafka 2.0 sends
    /// its client nonce twice).
    fn finish_with(&self, server_first: &str, prefix: &str) -> (String, String) {
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attr in server_first.split(',') {
            match attr.split_at(2) {
                ("r=", v) => nonce = Some(v.to_string()),
                ("s=", v) => salt = Some(B64.decode(v).unwrap()),
                ("i=", v) => iterations = Some(v.parse::<u32>().unwrap()),
                _ => {}
            }
        }
        let nonce = nonce.unwrap();
        assert!(
            nonce.starts_with(&self.nonce),
            "server must extend our nonce"
        );
        let h = self.hash;
        let mut salted = vec![0u8; h.len()];
        pbkdf2::derive(
            h.pbkdf2(),
            NonZeroU32::new(iterations.unwrap()).unwrap(),
            &salt.unwrap(),
            self.password.as_bytes(),
            &mut salted,
        );
        let client_key = h.hmac_sign(&salted, b"Client Key");
        let stored_key = digest::digest(h.digest(), &client_key);
        let without_proof = format!("c={},r={prefix}{nonce}", B64.encode(&self.gs2));
        let auth = format!("{},{server_first},{without_proof}", self.first_bare);
        let signature = h.hmac_sign(stored_key.as_ref(), auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = h.hmac_sign(&salted, b"Server Key");
        let expected = format!(
            "v={}",
            B64.encode(h.hmac_sign(&server_key, auth.as_bytes()))
        );
        (format!("{without_proof},p={}", B64.encode(proof)), expected)
    }
}

fn round_trip(hash: ScramHash, user: &str, stored: &str, typed: &str) -> Outcome {
    let salt = b"0123456789abcdef";
    let cred = ScramCredential::derive(hash, stored.as_bytes(), salt, ITERATIONS);
    let client = Client::new(hash, user, typed, "fyko+d2lbbFgONRv9qkxdawL");
    let mut server = ScramServer::new(hash, "3rfcNHYJY1ZVvWVs7j".into());
    let mut seen = String::new();
    let Outcome::Challenge(first) = server.step(client.first().as_bytes(), |u| {
        seen = u.to_string();
        cred
    }) else {
        panic!("client-first refused");
    };
    assert_eq!(seen, user, "the user name is unescaped");
    let (fin, expected) = client.finish(std::str::from_utf8(&first).unwrap());
    let out = server.step(fin.as_bytes(), |_| unreachable!());
    if let Outcome::Success { response, .. } = &out {
        assert_eq!(response, expected.as_bytes(), "server signature");
    }
    out
}

#[test]
fn round_trips_with_an_rfc_client() {
    for hash in [ScramHash::Sha256, ScramHash::Sha512] {
        for user in ["alice", "a,b=c", "ünï"] {
            let out = round_trip(hash, user, "s3cret pass", "s3cret pass");
            assert!(
                matches!(&out, Outcome::Success { user: u, .. } if u == user),
                "{hash:?} {user}: {out:?}"
            );
        }
        let out = round_trip(hash, "alice", "right", "wrong");
        assert!(matches!(out, Outcome::Failed(_)), "{hash:?}: {out:?}");
    }
}

#[test]
fn accepts_librdkafka_2_0s_doubled_client_nonce_as_kafka_does() {
    let hash = ScramHash::Sha256;
    let cred = ScramCredential::derive(hash, b"pw", b"salt", ITERATIONS);
    let client = Client::new(hash, "alice", "pw", "cnonce");
    let mut server = ScramServer::new(hash, "snonce".into());
    let Outcome::Challenge(first) = server.step(client.first().as_bytes(), |_| cred) else {
        panic!()
    };
    let (fin, expected) = client.finish_with(std::str::from_utf8(&first).unwrap(), "cnonce");
    assert!(fin.starts_with("c=biws,r=cnoncecnoncesnonce,p="), "{fin}");
    assert_eq!(
        server.step(fin.as_bytes(), |_| unreachable!()),
        Outcome::Success {
            user: "alice".into(),
            response: expected.into_bytes()
        }
    );
}

#[test]
fn unknown_users_fail_at_the_proof_with_a_stable_salt() {
    let salt_of = |seed: &[u8]| {
        let mut server = ScramServer::new(ScramHash::Sha512, "srv".into());
        let out = server.step(b"n,,n=nobody,r=abc", |_| {
            ScramCredential::unknown_user(ScramHash::Sha512, seed)
        });
        let Outcome::Challenge(first) = out else {
            panic!("an unknown user must get a challenge, like a known one");
        };
        let first = String::from_utf8(first).unwrap();
        assert!(first.starts_with("r=abcsrv,s="), "{first}");
        first
    };
    let seed = [7u8; 32];
    assert_eq!(salt_of(&seed), salt_of(&seed));
    // Even the right proof for "no password at all" fails.
    let client = Client::new(ScramHash::Sha512, "nobody", "", "abc");
    let mut server = ScramServer::new(ScramHash::Sha512, "srv".into());
    let Outcome::Challenge(first) = server.step(client.first().as_bytes(), |_| {
        ScramCredential::unknown_user(ScramHash::Sha512, &seed)
    }) else {
        panic!()
    };
    let (fin, _) = client.finish(std::str::from_utf8(&first).unwrap());
    assert!(matches!(
        server.step(fin.as_bytes(), |_| unreachable!()),
        Outcome::Failed(_)
    ));
}

#[test]
fn authzid_must_be_the_user() {
    let mut server = rfc_server();
    let out = server.step(b"n,a=user,n=user,r=abc", |_| rfc_credential("pencil"));
    assert!(matches!(out, Outcome::Challenge(_)));
    let mut server = rfc_server();
    let Outcome::Failed(f) = server.step(b"n,a=admin,n=user,r=abc", |_| rfc_credential("pencil"))
    else {
        panic!()
    };
    assert!(f.message.contains("authorization id"), "{f:?}");
}

#[test]
fn client_final_must_echo_the_gs2_header_and_nonce() {
    let finals = [
        // Channel binding of "y,," where the client said "n,,".
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        // The client nonce alone.
        "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        // A truncated proof.
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9",
        // No proof.
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    ];
    for fin in finals {
        let mut server = rfc_server();
        server.step(RFC_CLIENT_FIRST.as_bytes(), |_| rfc_credential("pencil"));
        assert!(
            matches!(
                server.step(fin.as_bytes(), |_| unreachable!()),
                Outcome::Failed(_)
            ),
            "{fin}"
        );
    }
}

#[test]
fn hostile_client_first_messages_fail_without_panicking() {
    let firsts: &[&[u8]] = &[
        b"",
        b",",
        b",,",
        b"n",
        b"n,",
        b"n,,",
        b"n,,n=",
        b"n,,n=user",
        b"n,,n=user,",
        b"n,,n=user,r=",
        b"n,,n=user,r=a,b",
        b"n,,r=abc,n=user",
        b"n,,m=ext,n=user,r=abc",
        b"p=tls-unique,,n=user,r=abc",
        b"x,,n=user,r=abc",
        b"n,b=user,n=user,r=abc",
        b"n,a=,n=,r=abc",
        b"n,,n=us=er,r=abc",
        b"n,,n=us=2,r=abc",
        b"n,,n=us=\xc3\xa9x,r=abc",
        b"n,,n=user,r=ab\x01c",
        b"n,,n=user,r=abc,tokenauth=true",
        b"\xff\xfe,,n=user,r=abc",
        b"n,,n=\xff,r=abc",
    ];
    for first in firsts {
        let mut server = rfc_server();
        let out = server.step(first, |_| rfc_credential("pencil"));
        assert!(matches!(out, Outcome::Failed(_)), "{first:?}: {out:?}");
        // And the exchange is over.
        assert!(matches!(
            server.step(RFC_CLIENT_FINAL.as_bytes(), |_| unreachable!()),
            Outcome::Failed(_)
        ));
    }
    // Unknown extensions are ignored, as Kafka does.
    let mut server = rfc_server();
    let out = server.step(b"y,,n=user,r=abc,ext=1", |_| rfc_credential("pencil"));
    assert!(matches!(out, Outcome::Challenge(_)), "{out:?}");
}

#[test]
fn hostile_client_final_messages_fail_without_panicking() {
    let mut g = 0x2545f491u32;
    let mut next = || {
        g ^= g << 13;
        g ^= g >> 17;
        g ^= g << 5;
        g
    };
    let good = RFC_CLIENT_FINAL.as_bytes();
    for round in 0..500 {
        let mut msg = good.to_vec();
        match round % 3 {
            0 => msg.truncate(next() as usize % good.len()),
            1 => {
                let i = next() as usize % msg.len();
                msg[i] ^= (next() as u8) | 1;
            }
            _ => msg = (0..next() % 200).map(|_| next() as u8).collect(),
        }
        let mut server = rfc_server();
        server.step(RFC_CLIENT_FIRST.as_bytes(), |_| rfc_credential("pencil"));
        let out = server.step(&msg, |_| unreachable!());
        // A flipped bit in an ignored position could still verify; a changed message never.
        if msg != good {
            assert!(matches!(out, Outcome::Failed(_)), "{msg:?}");
        }
    }
}

#[test]
fn saslnames() {
    assert_eq!(decode_saslname("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
    assert_eq!(decode_saslname("plain").as_deref(), Some("plain"));
    for bad in ["=", "=2", "=2c", "a=3", "=41", "x=\u{e9}9"] {
        assert_eq!(decode_saslname(bad), None, "{bad}");
    }
}
