//! The `--sasl-users` file: who may log in, one entry a line.
//!
//! ```text
//! # comments and blank lines are skipped
//! alice=alice-secret                  # NOT a comment: the password is the rest of the line
//! SCRAM-SHA-512:bob:bob-secret
//! PLAIN:carol:pass:with:colons
//! ```
//!
//! `user=password` applies to every enabled mechanism; `MECHANISM:user:password` to one
//! (`PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`, exactly). The user name ends at the first
//! `=` (or, after a mechanism, the first `:`), so it cannot contain that character; the
//! password is everything after it up to the end of the line (a trailing `\r` excepted), so
//! it may contain anything else, blanks included. Errors name the line number, never quote
//! the line: it may hold a password.

use std::path::Path;

use super::{SaslConfigError, SaslMechanism, SaslUser};

/// Reads a users file.
pub(crate) fn read(path: &Path) -> Result<Vec<SaslUser>, SaslConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| SaslConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses the text of a users file read from `path` (named in errors).
pub(crate) fn parse(text: &str, path: &Path) -> Result<Vec<SaslUser>, SaslConfigError> {
    let mut users = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let bad = |reason: String| SaslConfigError::BadLine {
            path: path.to_path_buf(),
            line: index + 1,
            reason,
        };
        users.push(parse_line(trimmed).map_err(bad)?);
    }
    Ok(users)
}

fn parse_line(line: &str) -> Result<SaslUser, String> {
    if let Some((prefix, rest)) = line.split_once(':') {
        if let Some(mechanism) = SaslMechanism::from_name(prefix) {
            let (user, password) = rest
                .split_once(':')
                .ok_or("expected MECHANISM:user:password")?;
            check(user, password)?;
            return Ok(SaslUser::for_mechanism(mechanism, user, password));
        }
        // `GSSAPI:user:password` and the like: a mechanism-shaped prefix before any `=`.
        let before_eq = line.split_once('=').map_or(line, |(u, _)| u);
        if before_eq.len() > prefix.len() && looks_like_mechanism(prefix) {
            return Err(format!(
                "unsupported SASL mechanism {prefix:?} (supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"
            ));
        }
    }
    let (user, password) = line
        .split_once('=')
        .ok_or("expected user=password or MECHANISM:user:password")?;
    check(user, password)?;
    Ok(SaslUser::new(user, password))
}

fn looks_like_mechanism(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn check(user: &str, password: &str) -> Result<(), String> {
    if user.is_empty() {
        return Err("empty user name".into());
    }
    if password.is_empty() {
        return Err("empty password".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Vec<SaslUser>, SaslConfigError> {
        parse(text, Path::new("users.txt"))
    }

    #[test]
    fn both_forms_comments_and_blanks() {
        let users =
            p("# users\n\nalice=a=b c \r\n  SCRAM-SHA-512:bob:x:y\nPLAIN:carol:pw\n").unwrap();
        assert_eq!(users.len(), 3);
        assert_eq!(users[0].name, "alice");
        assert_eq!(users[0].password.expose(), "a=b c ");
        assert_eq!(users[0].mechanism, None);
        assert_eq!(users[1].name, "bob");
        assert_eq!(users[1].password.expose(), "x:y");
        assert_eq!(users[1].mechanism, Some(SaslMechanism::ScramSha512));
        assert_eq!(users[2].mechanism, Some(SaslMechanism::Plain));
        // A user name that merely contains a colon is the `user=password` form.
        let users = p("dom:alice=pw\n").unwrap();
        assert_eq!(users[0].name, "dom:alice");
    }

    #[test]
    fn errors_name_the_line_not_the_secret() {
        for (text, line) in [
            ("alice=ok\nno-separator-secret\n", 2),
            ("=secret-pw\n", 1),
            ("alice=\n", 1),
            ("SCRAM-SHA-256:onlyuser-secret\n", 1),
            ("GSSAPI:bob:secret-pw\n", 1),
            ("PLAIN::secret-pw\n", 1),
        ] {
            let e = p(text).unwrap_err();
            let shown = e.to_string();
            assert!(
                matches!(e, SaslConfigError::BadLine { line: l, .. } if l == line),
                "{text:?}: {shown}"
            );
            assert!(!shown.contains("secret"), "{shown}");
        }
    }
}
