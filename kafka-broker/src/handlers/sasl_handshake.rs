//! SaslHandshake (key 17), versions 0-1, outside a SASL exchange.
//!
//! On a SASL listener the connection's SASL gate (`server::sasl::gate`) answers the
//! handshake that starts a login; a request that reaches this handler came on a listener
//! without SASL, or after the connection authenticated. Kafka answers both with
//! ILLEGAL_SASL_STATE (and no mechanisms), as here.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::sasl_handshake_response::SaslHandshakeResponse;

pub(crate) fn handle() -> SaslHandshakeResponse {
    SaslHandshakeResponse {
        error_code: ErrorCode::IllegalSaslState.code(),
        mechanisms: Vec::new(),
    }
}
