//! LeaveGroup (key 13), versions 0-5.
//!
//! v0-2 name one member; from v3 a batch, each named by member id or (for static members,
//! which is how admins remove them) by instance id alone, with one error each. A group that
//! does not exist gives UNKNOWN_MEMBER_ID per member. Before v3 the first member error
//! becomes the response's error, as Kafka's `LeaveGroupResponse` does. The leave reason (v5)
//! is only logged by Kafka and ignored here.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::leave_group_request::LeaveGroupRequest;
use kafka_protocol::messages::leave_group_response::{LeaveGroupResponse, MemberResponse};

use crate::group::LeavingMember;
use crate::state::BrokerState;

pub(crate) fn handle(
    state: &BrokerState,
    req: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let leaving: Vec<LeavingMember> = if version >= 3 {
        req.members
            .iter()
            .map(|m| LeavingMember {
                member_id: m.member_id.to_string(),
                instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
            })
            .collect()
    } else {
        vec![LeavingMember {
            member_id: req.member_id.to_string(),
            instance_id: None,
        }]
    };
    let errors = match state.groups().leave(&req.group_id, &leaving) {
        Ok(errors) => errors,
        Err(e) => {
            return LeaveGroupResponse {
                error_code: e.code(),
                ..Default::default()
            };
        }
    };
    if version < 3 {
        let first = errors
            .iter()
            .copied()
            .find(|e| !e.is_ok())
            .unwrap_or(ErrorCode::None);
        return LeaveGroupResponse {
            error_code: first.code(),
            ..Default::default()
        };
    }
    LeaveGroupResponse {
        error_code: 0,
        members: req
            .members
            .into_iter()
            .zip(errors)
            .map(|(m, e)| MemberResponse {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                error_code: e.code(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
