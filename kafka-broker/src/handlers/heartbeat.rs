//! Heartbeat (key 12), versions 0-4.
//!
//! Keeps a member's session alive. REBALANCE_IN_PROGRESS tells it to rejoin; otherwise
//! UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID (v3+ static members) or
//! INVALID_GROUP_ID (empty group id).

use kafka_protocol::messages::heartbeat_request::HeartbeatRequest;
use kafka_protocol::messages::heartbeat_response::HeartbeatResponse;

use crate::state::BrokerState;

pub(crate) fn handle(state: &BrokerState, req: &HeartbeatRequest) -> HeartbeatResponse {
    let error = state.groups().heartbeat(
        &req.group_id,
        &req.member_id,
        req.group_instance_id.as_deref(),
        req.generation_id,
    );
    HeartbeatResponse {
        error_code: error.code(),
        ..Default::default()
    }
}
