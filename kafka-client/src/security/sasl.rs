//! SASL authentication of a new connection (KIP-152): SaslHandshake v1 names the mechanism,
//! then SaslAuthenticate requests carry the mechanism's messages until it is done.
//!
//! PLAIN sends one message; SCRAM sends two and checks the server's final message (see
//! [`scram`](super::scram)). Any failure is an [`ErrorKind::Authentication`], which is not
//! retriable: reconnecting with the same password will not help.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::sasl_authenticate_request::SaslAuthenticateRequest;
use kafka_protocol::messages::sasl_handshake_request::SaslHandshakeRequest;
use kafka_protocol::messages::{RequestBody, ResponseBody};
use kafka_protocol::{ApiKey, ErrorCode, KStr};

use super::scram::{ScramAlgorithm, ScramClient};
use crate::config::SaslMechanism;
use crate::connection::{BrokerVersions, Mux, SaslCredentials, VersionCaps};
use crate::error::{Error, ErrorKind};

fn auth_error(mechanism: SaslMechanism, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Authentication {
        mechanism: mechanism.name().to_owned(),
        message: message.into(),
    })
}

/// The PLAIN message (RFC 4616): `authzid NUL authcid NUL passwd`, with an empty authzid.
pub(crate) fn plain_message(username: &str, password: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(username.len() + password.len() + 2);
    m.push(0);
    m.extend_from_slice(username.as_bytes());
    m.push(0);
    m.extend_from_slice(password.as_bytes());
    m
}

/// Authenticates `mux` with `creds`.
pub(crate) async fn authenticate(
    mux: &Mux,
    versions: &BrokerVersions,
    caps: &VersionCaps,
    creds: &SaslCredentials,
    timeout: Duration,
) -> Result<(), Error> {
    let mechanism = creds.mechanism;
    let handshake_version = versions.negotiate(ApiKey::SaslHandshake, caps)?;
    let handshake = RequestBody::SaslHandshake(SaslHandshakeRequest {
        mechanism: KStr::from(mechanism.name()),
    });
    let ResponseBody::SaslHandshake(resp) =
        mux.call(handshake_version, &handshake, timeout).await?
    else {
        return Err(Error::new(ErrorKind::Protocol(
            "SaslHandshake answered with another API".into(),
        )));
    };
    match ErrorCode::from_code(resp.error_code) {
        ErrorCode::None => {}
        ErrorCode::UnsupportedSaslMechanism => {
            let enabled: Vec<&str> = resp.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(auth_error(
                mechanism,
                format!("the broker enables only {}", enabled.join(", ")),
            ));
        }
        code => return Err(auth_error(mechanism, code.name())),
    }
    let version = versions.negotiate(ApiKey::SaslAuthenticate, caps)?;
    let exchange = |bytes: Vec<u8>| authenticate_step(mux, version, mechanism, bytes, timeout);
    let password = creds.password.expose();
    match mechanism {
        SaslMechanism::Plain => {
            exchange(plain_message(&creds.username, password)).await?;
        }
        SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
            let algorithm = if mechanism == SaslMechanism::ScramSha256 {
                ScramAlgorithm::Sha256
            } else {
                ScramAlgorithm::Sha512
            };
            let mut scram = ScramClient::new(algorithm, &creds.username, password);
            let server_first = exchange(scram.client_first()).await?;
            let client_final = scram
                .client_final(&server_first)
                .map_err(|e| auth_error(mechanism, e.to_string()))?;
            let server_final = exchange(client_final).await?;
            scram
                .verify_server_final(&server_final)
                .map_err(|e| auth_error(mechanism, e.to_string()))?;
        }
        other => return Err(auth_error(other, "mechanism not implemented")),
    }
    tracing::debug!(mechanism = mechanism.name(), "authenticated");
    Ok(())
}

async fn authenticate_step(
    mux: &Mux,
    version: i16,
    mechanism: SaslMechanism,
    bytes: Vec<u8>,
    timeout: Duration,
) -> Result<Bytes, Error> {
    let req = RequestBody::SaslAuthenticate(SaslAuthenticateRequest {
        auth_bytes: Bytes::from(bytes),
        ..Default::default()
    });
    let ResponseBody::SaslAuthenticate(resp) = mux.call(version, &req, timeout).await? else {
        return Err(Error::new(ErrorKind::Protocol(
            "SaslAuthenticate answered with another API".into(),
        )));
    };
    let code = ErrorCode::from_code(resp.error_code);
    if code != ErrorCode::None {
        let message = resp
            .error_message
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_else(|| code.name().to_owned());
        return Err(auth_error(mechanism, message));
    }
    Ok(resp.auth_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_message_layout() {
        assert_eq!(plain_message("alice", "pw"), b"\0alice\0pw");
    }
}
