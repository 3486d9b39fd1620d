//! JoinGroup (key 11), versions 0-9.
//!
//! The request goes to the group coordinator (see `group::classic_join` for the rules) and
//! the response waits until the group answers: at once for errors, MEMBER_ID_REQUIRED (v4+
//! dynamic members) and rejoins that change nothing, otherwise when the rebalance completes.
//! v0 has no rebalance timeout: the session timeout stands in for it, as in Kafka. The member
//! id of a new member is its client id (or static instance id, v5+), a dash and a UUID. The
//! protocol name is null on errors from v7 and "" before; `skip_assignment` is only set for
//! v9+ static leaders (KIP-814).

use kafka_protocol::KStr;
use kafka_protocol::messages::join_group_request::JoinGroupRequest;
use kafka_protocol::messages::join_group_response::{JoinGroupResponse, JoinGroupResponseMember};

use crate::group::{JoinArgs, Protocol};
use crate::state::BrokerState;

pub(crate) async fn handle(
    state: &BrokerState,
    req: JoinGroupRequest,
    version: i16,
    client_id: &str,
    client_host: &str,
) -> JoinGroupResponse {
    let instance_id = req.group_instance_id.map(|s| s.to_string());
    let session_timeout = i64::from(req.session_timeout_ms);
    let args = JoinArgs {
        member_id: req.member_id.to_string(),
        require_known_member_id: version >= 4 && instance_id.is_none(),
        instance_id,
        client_id: client_id.to_string(),
        client_host: client_host.to_string(),
        session_timeout,
        rebalance_timeout: if version == 0 {
            session_timeout
        } else {
            i64::from(req.rebalance_timeout_ms)
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .into_iter()
            .map(|p| Protocol {
                name: p.name.to_string(),
                metadata: p.metadata,
            })
            .collect(),
        supports_skip_assignment: version >= 9,
    };
    let r = state.groups().join(&req.group_id, args).await;
    let protocol_name = match r.protocol_name {
        Some(name) => Some(KStr::from(name)),
        None if version < 7 => Some(KStr::default()),
        None => None,
    };
    JoinGroupResponse {
        error_code: r.error.code(),
        generation_id: r.generation_id,
        protocol_type: r.protocol_type.map(KStr::from),
        protocol_name,
        leader: KStr::from(r.leader),
        skip_assignment: r.skip_assignment && version >= 9,
        member_id: KStr::from(r.member_id),
        members: r
            .members
            .into_iter()
            .map(|m| JoinGroupResponseMember {
                member_id: KStr::from(m.member_id),
                group_instance_id: m.instance_id.map(KStr::from),
                metadata: m.metadata,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
