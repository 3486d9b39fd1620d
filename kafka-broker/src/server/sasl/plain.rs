//! SASL PLAIN (RFC 4616), server side, sans-IO: one client message,
//! `[authzid] NUL authcid NUL passwd`, and a verdict.
//!
//! Errors follow Kafka's `PlainSaslServer` word for word, since clients show them to users:
//! a message without exactly three parts, an empty user or password, a wrong user or
//! password, an authorization id other than the user. A wrong user and a wrong password
//! get the same answer.

use super::exchange::{Failure, Outcome};

/// Checks one PLAIN message. `check(user, password)` says whether the pair is valid.
pub(crate) fn authenticate(message: &[u8], check: impl FnOnce(&str, &[u8]) -> bool) -> Outcome {
    let failed = |message: String, reason| Outcome::Failed(Failure { message, reason });
    // Kafka splits on at most four NULs and wants exactly three parts.
    let parts: Vec<&[u8]> = message.splitn(4, |&b| b == 0).collect();
    let [authzid, user, password] = parts.as_slice() else {
        return failed(
            format!(
                "Invalid SASL/PLAIN response: expected 3 tokens, got {}",
                parts.len()
            ),
            "malformed PLAIN message",
        );
    };
    // RFC 4616 wants UTF-8 names; the password is compared as bytes.
    let (Ok(authzid), Ok(user)) = (std::str::from_utf8(authzid), std::str::from_utf8(user)) else {
        return failed(
            "Authentication failed: Invalid username or password".into(),
            "user name is not UTF-8",
        );
    };
    if user.is_empty() {
        return failed(
            "Authentication failed: username not specified".into(),
            "empty user name",
        );
    }
    if password.is_empty() {
        return failed(
            "Authentication failed: password not specified".into(),
            "empty password",
        );
    }
    if !check(user, password) {
        return failed(
            "Authentication failed: Invalid username or password".into(),
            "invalid credentials",
        );
    }
    if !authzid.is_empty() && authzid != user {
        return failed(
            "Authentication failed: Client requested an authorization id that is different from username".into(),
            "authzid differs from the user name",
        );
    }
    Outcome::Success {
        user: user.to_string(),
        // PLAIN has no server message; Kafka answers with an empty token.
        response: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(message: &[u8]) -> Outcome {
        authenticate(message, |u, p| u == "alice" && p == b"s3cret")
    }

    fn message_of(out: Outcome) -> String {
        match out {
            Outcome::Failed(f) => f.message,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn good_credentials() {
        for msg in [&b"\0alice\0s3cret"[..], b"alice\0alice\0s3cret"] {
            assert_eq!(
                run(msg),
                Outcome::Success {
                    user: "alice".into(),
                    response: vec![]
                }
            );
        }
    }

    #[test]
    fn kafkas_error_messages() {
        let wrong = "Authentication failed: Invalid username or password";
        assert_eq!(message_of(run(b"\0alice\0nope")), wrong);
        assert_eq!(message_of(run(b"\0bob\0s3cret")), wrong);
        assert_eq!(
            message_of(run(b"\0\0s3cret")),
            "Authentication failed: username not specified"
        );
        assert_eq!(
            message_of(run(b"\0alice\0")),
            "Authentication failed: password not specified"
        );
        assert!(message_of(run(b"admin\0alice\0s3cret")).contains("authorization id"));
        assert!(message_of(run(b"alice")).contains("expected 3 tokens, got 1"));
        assert!(message_of(run(b"\0alice\0s3cret\0")).contains("got 4"));
    }

    #[test]
    fn hostile_messages_fail_without_panicking() {
        let cases: &[&[u8]] = &[
            b"",
            b"\0",
            b"\0\0",
            b"\0\0\0",
            b"\0\0\0\0\0\0",
            b"\xff\0alice\0s3cret",
            b"\0\xc3\0s3cret",
            b"\0alice\0s3cret\xff",
            b"\0alice\0s3cre",
            b"\0alice\0s3crett",
            b"\0ALICE\0s3cret",
        ];
        for c in cases {
            assert!(matches!(run(c), Outcome::Failed(_)), "{c:?}");
        }
        let huge = [&b"\0alice\0"[..], &vec![b'x'; 1 << 20]].concat();
        assert!(matches!(run(&huge), Outcome::Failed(_)));
        let mut g = 0x9e3779b9u32;
        for len in 0..400usize {
            let msg: Vec<u8> = (0..len)
                .map(|_| {
                    g ^= g << 13;
                    g ^= g >> 17;
                    g ^= g << 5;
                    // Plenty of NULs, so messages split into parts.
                    if g & 7 == 0 { 0 } else { g as u8 }
                })
                .collect();
            assert!(matches!(run(&msg), Outcome::Failed(_)));
        }
    }
}
