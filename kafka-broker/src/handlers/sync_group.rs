//! SyncGroup (key 14), versions 0-5.
//!
//! The leader's SyncGroup carries every member's assignment (members it leaves out get an
//! empty one); each member's SyncGroup waits for it and returns the member's own. Errors:
//! UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID (v3+ static members), ILLEGAL_GENERATION,
//! REBALANCE_IN_PROGRESS (the group is rejoining), and from v5 INCONSISTENT_GROUP_PROTOCOL
//! when the protocol type or name given is not the group's; v5 answers carry both.

use kafka_protocol::KStr;
use kafka_protocol::messages::sync_group_request::SyncGroupRequest;
use kafka_protocol::messages::sync_group_response::SyncGroupResponse;

use crate::group::SyncArgs;
use crate::state::BrokerState;

pub(crate) async fn handle(state: &BrokerState, req: SyncGroupRequest) -> SyncGroupResponse {
    let args = SyncArgs {
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.map(|s| s.to_string()),
        generation_id: req.generation_id,
        protocol_type: req.protocol_type.map(|s| s.to_string()),
        protocol_name: req.protocol_name.map(|s| s.to_string()),
        assignments: req
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    };
    let r = state.groups().sync(&req.group_id, args).await;
    SyncGroupResponse {
        error_code: r.error.code(),
        protocol_type: r.protocol_type.map(KStr::from),
        protocol_name: r.protocol_name.map(KStr::from),
        assignment: r.assignment,
        ..Default::default()
    }
}
