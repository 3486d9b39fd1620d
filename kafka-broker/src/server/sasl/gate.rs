//! The Kafka framing of SASL on one connection, sans-IO: request frames in, [`GateStep`]s
//! out. The connection asks the gate about every frame until it is authenticated.
//!
//! This follows Kafka's `SaslServerAuthenticator`:
//! 1. Before the handshake, ApiVersions is served as usual (clients ask it first, to choose
//!    the SaslHandshake version) and SaslHandshake chooses the mechanism. Any other request
//!    closes the connection without an answer (Kafka: "Unexpected Kafka request of type X
//!    during SASL handshake"). A mechanism that is not enabled is answered with
//!    UNSUPPORTED_SASL_MECHANISM and the enabled list, then the connection is closed.
//! 2. After SaslHandshake v1, each client token comes in a SaslAuthenticate request (v0-2)
//!    and each server message goes back in its response. A failed login is answered with
//!    SASL_AUTHENTICATION_FAILED and Kafka's message ("Authentication failed..."), then the
//!    connection is closed. Any other request closes the connection (Kafka first sends that
//!    request's error response with ILLEGAL_SASL_STATE; closing is what matters to clients).
//! 3. After SaslHandshake v0, frames are bare tokens (size prefix, no header), and so are
//!    the answers; a failed login closes the connection without an answer, as in Kafka.
//! 4. Once authenticated, everything goes through. Sessions do not expire
//!    (`session_lifetime_ms` is 0), so clients never re-authenticate (KIP-368); a later
//!    SaslHandshake or SaslAuthenticate is answered by its handler with ILLEGAL_SASL_STATE.
//!
//! Nothing here panics on input: every frame gets a step.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::frame::{decode_request, encode_response, peek_request};
use kafka_protocol::messages::sasl_authenticate_response::SaslAuthenticateResponse;
use kafka_protocol::messages::sasl_handshake_response::SaslHandshakeResponse;
use kafka_protocol::messages::{ApiKey, RequestBody, ResponseBody};
use kafka_protocol::{DecodeError, EncodeError, ErrorCode, KStr};

use super::SaslMechanism;
use super::credentials::Credentials;
use super::exchange::{Exchange, Outcome};

/// Longest client-supplied mechanism name quoted in the log.
const MAX_QUOTED: usize = 64;

/// What the connection does with a frame.
#[derive(Debug)]
pub(crate) enum GateStep {
    /// Not part of the exchange (ApiVersions before the handshake, anything once
    /// authenticated): serve it as usual.
    Serve(Bytes),
    /// Write this frame (size prefix included) and read on.
    Respond(Bytes),
    /// Write `response` if there is one, then close the connection.
    Refuse {
        response: Option<Bytes>,
        error: GateError,
    },
}

/// Why the gate closed a connection (for the log: no secrets, client input truncated).
#[derive(Debug, thiserror::Error)]
pub(crate) enum GateError {
    #[error("frame of {0} bytes is too short for a request header")]
    TooShort(usize),
    #[error("unknown API key {0} before SASL authentication")]
    UnknownApi(i16),
    #[error("{0} request before SASL authentication")]
    Unexpected(&'static str),
    #[error("{api} v{version} is not supported")]
    UnsupportedVersion { api: &'static str, version: i16 },
    #[error("malformed {api} request: {source}")]
    Malformed {
        api: &'static str,
        source: DecodeError,
    },
    #[error("SASL mechanism {0:?} is not enabled")]
    UnsupportedMechanism(String),
    #[error("{mechanism} authentication failed: {reason}")]
    Failed {
        mechanism: SaslMechanism,
        reason: &'static str,
    },
    #[error("the system random number generator failed")]
    Random,
    #[error("cannot encode the response: {0}")]
    Encode(EncodeError),
    #[error("the connection was already refused")]
    Closed,
}

/// The SASL state of one connection.
#[derive(Debug)]
pub(crate) struct SaslGate {
    credentials: Arc<Credentials>,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Waiting for SaslHandshake (ApiVersions allowed).
    Handshake,
    /// Mid-exchange; `framed` after SaslHandshake v1 (tokens in SaslAuthenticate).
    Exchange {
        mechanism: SaslMechanism,
        exchange: Exchange,
        framed: bool,
    },
    Authenticated {
        user: String,
        mechanism: SaslMechanism,
    },
    /// Refused; the connection is closing.
    Closed,
}

impl SaslGate {
    pub fn new(credentials: Arc<Credentials>) -> Self {
        Self {
            credentials,
            state: State::Handshake,
        }
    }

    /// The user and mechanism, once authenticated.
    pub fn authenticated(&self) -> Option<(&str, SaslMechanism)> {
        match &self.state {
            State::Authenticated { user, mechanism } => Some((user, *mechanism)),
            _ => None,
        }
    }

    /// Takes the next frame (without its size prefix).
    pub fn on_frame(&mut self, frame: Bytes) -> GateStep {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Handshake => self.handshake(frame),
            State::Exchange {
                mechanism,
                exchange,
                framed: true,
            } => self.authenticate(frame, mechanism, exchange),
            State::Exchange {
                mechanism,
                exchange,
                framed: false,
            } => self.raw_token(&frame, mechanism, exchange),
            authenticated @ State::Authenticated { .. } => {
                self.state = authenticated;
                GateStep::Serve(frame)
            }
            State::Closed => refuse(None, GateError::Closed),
        }
    }

    fn handshake(&mut self, frame: Bytes) -> GateStep {
        let (api, version, correlation_id) = match header(&frame) {
            Ok(h) => h,
            Err(e) => return refuse(None, e),
        };
        match api {
            ApiKey::ApiVersions => {
                self.state = State::Handshake;
                return GateStep::Serve(frame);
            }
            ApiKey::SaslHandshake => {}
            other => return refuse(None, GateError::Unexpected(other.name())),
        }
        let request = match decode(&frame, api) {
            Ok(RequestBody::SaslHandshake(r)) => r,
            Ok(_) => return refuse(None, GateError::Unexpected(api.name())),
            Err(e) => return refuse(None, e),
        };
        let enabled = self.credentials.mechanisms();
        let body = |error: ErrorCode| {
            ResponseBody::SaslHandshake(SaslHandshakeResponse {
                error_code: error.code(),
                mechanisms: enabled.iter().map(|m| KStr::from(m.name())).collect(),
            })
        };
        let asked = request.mechanism.as_str();
        let Some(mechanism) = SaslMechanism::from_name(asked).filter(|m| enabled.contains(m))
        else {
            let response = encode(
                correlation_id,
                version,
                &body(ErrorCode::UnsupportedSaslMechanism),
            );
            let quoted: String = asked.chars().take(MAX_QUOTED).collect();
            return refuse(response.ok(), GateError::UnsupportedMechanism(quoted));
        };
        let Some(exchange) = self.credentials.start(mechanism) else {
            return refuse(None, GateError::Random);
        };
        match encode(correlation_id, version, &body(ErrorCode::None)) {
            Ok(response) => {
                self.state = State::Exchange {
                    mechanism,
                    exchange,
                    framed: version >= 1,
                };
                GateStep::Respond(response)
            }
            Err(e) => refuse(None, e),
        }
    }

    fn authenticate(
        &mut self,
        frame: Bytes,
        mechanism: SaslMechanism,
        mut exchange: Exchange,
    ) -> GateStep {
        let (api, version, correlation_id) = match header(&frame) {
            Ok(h) => h,
            Err(e) => return refuse(None, e),
        };
        if api != ApiKey::SaslAuthenticate {
            return refuse(None, GateError::Unexpected(api.name()));
        }
        let request = match decode(&frame, api) {
            Ok(RequestBody::SaslAuthenticate(r)) => r,
            Ok(_) => return refuse(None, GateError::Unexpected(api.name())),
            Err(e) => return refuse(None, e),
        };
        let reply = |error: ErrorCode, message: Option<String>, token: Vec<u8>| {
            let body = ResponseBody::SaslAuthenticate(SaslAuthenticateResponse {
                error_code: error.code(),
                error_message: message.map(KStr::from),
                auth_bytes: Bytes::from(token),
                session_lifetime_ms: 0,
                ..Default::default()
            });
            encode(correlation_id, version, &body)
        };
        let (response, next) = match exchange.step(&self.credentials, &request.auth_bytes) {
            Outcome::Challenge(token) => (
                reply(ErrorCode::None, None, token),
                State::Exchange {
                    mechanism,
                    exchange,
                    framed: true,
                },
            ),
            Outcome::Success { user, response } => (
                reply(ErrorCode::None, None, response),
                State::Authenticated { user, mechanism },
            ),
            Outcome::Failed(f) => {
                let response = reply(ErrorCode::SaslAuthenticationFailed, Some(f.message), vec![]);
                let error = GateError::Failed {
                    mechanism,
                    reason: f.reason,
                };
                return refuse(response.ok(), error);
            }
        };
        match response {
            Ok(response) => {
                self.state = next;
                GateStep::Respond(response)
            }
            Err(e) => refuse(None, e),
        }
    }

    fn raw_token(
        &mut self,
        token: &[u8],
        mechanism: SaslMechanism,
        mut exchange: Exchange,
    ) -> GateStep {
        let (response, next) = match exchange.step(&self.credentials, token) {
            Outcome::Challenge(token) => (
                token,
                State::Exchange {
                    mechanism,
                    exchange,
                    framed: false,
                },
            ),
            Outcome::Success { user, response } => {
                (response, State::Authenticated { user, mechanism })
            }
            Outcome::Failed(f) => {
                let error = GateError::Failed {
                    mechanism,
                    reason: f.reason,
                };
                return refuse(None, error);
            }
        };
        // Server tokens are at most a few hundred bytes: the length always fits.
        let Ok(len) = u32::try_from(response.len()) else {
            return refuse(None, GateError::Closed);
        };
        let mut buf = BytesMut::with_capacity(4 + response.len());
        buf.put_u32(len);
        buf.put_slice(&response);
        self.state = next;
        GateStep::Respond(buf.freeze())
    }
}

fn refuse(response: Option<Bytes>, error: GateError) -> GateStep {
    GateStep::Refuse { response, error }
}

/// The API, version and correlation id of a request frame, checked against the versions
/// the broker serves.
fn header(frame: &[u8]) -> Result<(ApiKey, i16, i32), GateError> {
    let prefix = peek_request(frame).ok_or(GateError::TooShort(frame.len()))?;
    let api = ApiKey::from_i16(prefix.api_key).ok_or(GateError::UnknownApi(prefix.api_key))?;
    let version = prefix.api_version;
    // Only the SASL APIs are decoded here, and only at versions the broker advertises.
    if matches!(api, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate)
        && !crate::handlers::supported(api).is_some_and(|r| r.contains(version))
    {
        return Err(GateError::UnsupportedVersion {
            api: api.name(),
            version,
        });
    }
    Ok((api, version, prefix.correlation_id))
}

fn decode(frame: &Bytes, api: ApiKey) -> Result<RequestBody, GateError> {
    decode_request(frame)
        .map(|r| r.body)
        .map_err(|source| GateError::Malformed {
            api: api.name(),
            source,
        })
}

fn encode(correlation_id: i32, version: i16, body: &ResponseBody) -> Result<Bytes, GateError> {
    encode_response(correlation_id, version, body)
        .map(BytesMut::freeze)
        .map_err(GateError::Encode)
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
