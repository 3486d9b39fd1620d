//! SaslAuthenticate (key 36), versions 0-2, outside a SASL exchange.
//!
//! During a login the connection's SASL gate (`server::sasl::gate`) answers SaslAuthenticate;
//! a request that reaches this handler came on a listener without SASL, or after the
//! connection authenticated (sessions do not expire, so there is no re-authentication).
//! Kafka answers ILLEGAL_SASL_STATE with this message.

use kafka_protocol::messages::sasl_authenticate_response::SaslAuthenticateResponse;
use kafka_protocol::{ErrorCode, KStr};

pub(crate) fn handle() -> SaslAuthenticateResponse {
    SaslAuthenticateResponse {
        error_code: ErrorCode::IllegalSaslState.code(),
        error_message: Some(KStr::from(
            "SaslAuthenticate request received after successful authentication",
        )),
        ..Default::default()
    }
}
