//! FindCoordinator (key 10), versions 0-6.
//!
//! Group keys (key type 0, the only kind before v1) and transactional ids (1) are placed by
//! [`routing::coordinator_for`](crate::group::routing::coordinator_for), Kafka's hash of the
//! key onto a coordinator partition, over the live brokers of the cluster; the answer is that
//! broker at its advertised host and port (with one broker, always this one). From v4 keys
//! come batched, one answer each. Any other key type
//! (share groups, 2) is INVALID_REQUEST. Successful answers carry the message "NONE", as
//! Kafka's do; failures name no node (-1, "", -1).

use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::find_coordinator_response::{Coordinator, FindCoordinatorResponse};
use kafka_protocol::{ErrorCode, KStr};

use crate::group::routing::KeyType;
use crate::state::BrokerState;

/// A node's address, or why there is none.
type Found = Result<(i32, KStr, i32), (ErrorCode, &'static str)>;

pub(crate) fn handle(
    state: &BrokerState,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let key_type = if version >= 1 { req.key_type } else { 0 };
    let find = |key: &str| -> Found {
        let kind = KeyType::from_code(key_type).ok_or((
            ErrorCode::InvalidRequest,
            "Unsupported coordinator key type",
        ))?;
        let node = state.cluster().coordinator_for(key, kind).ok_or((
            ErrorCode::CoordinatorNotAvailable,
            "No broker is available to coordinate this key",
        ))?;
        let (host, port) = super::metadata::brokers(state)
            .into_iter()
            .find(|b| b.0 == node)
            .map(|(_, h, p)| (h, p))
            .ok_or((
                ErrorCode::CoordinatorNotAvailable,
                "The coordinator is not available",
            ))?;
        Ok((node, KStr::from(host), port))
    };
    if version >= 4 {
        let coordinators = req
            .coordinator_keys
            .into_iter()
            .map(|key| match find(&key) {
                Ok((node_id, host, port)) => Coordinator {
                    key,
                    node_id,
                    host,
                    port,
                    error_code: 0,
                    error_message: None,
                    ..Default::default()
                },
                Err((code, message)) => Coordinator {
                    key,
                    node_id: -1,
                    host: KStr::default(),
                    port: -1,
                    error_code: code.code(),
                    error_message: Some(KStr::from_static(message)),
                    ..Default::default()
                },
            })
            .collect();
        return FindCoordinatorResponse {
            coordinators,
            ..Default::default()
        };
    }
    match find(&req.key) {
        Ok((node_id, host, port)) => FindCoordinatorResponse {
            error_code: 0,
            error_message: Some(KStr::from_static("NONE")),
            node_id,
            host,
            port,
            ..Default::default()
        },
        Err((code, message)) => FindCoordinatorResponse {
            error_code: code.code(),
            error_message: Some(KStr::from_static(message)),
            node_id: -1,
            host: KStr::default(),
            port: -1,
            ..Default::default()
        },
    }
}
