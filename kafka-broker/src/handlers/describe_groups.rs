//! DescribeGroups (key 15), versions 0-5.
//!
//! Each group's state, protocol type and members (id, instance id v4+, client id and host).
//! As in Kafka, the chosen protocol and each member's metadata and assignment are only given
//! while the group is Stable. A group that does not exist is described as Dead with no
//! members and no error. Authorized operations (v3+), when asked for, are all of a group's
//! (READ, DELETE, DESCRIBE): there is no authorizer.

use kafka_protocol::KStr;
use kafka_protocol::messages::describe_groups_request::DescribeGroupsRequest;
use kafka_protocol::messages::describe_groups_response::{
    DescribeGroupsResponse, DescribedGroup, DescribedGroupMember,
};

use crate::state::BrokerState;

/// Bit set of the operations a group supports (READ, DELETE, DESCRIBE).
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

pub(crate) fn handle(
    state: &BrokerState,
    req: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let ops = if version >= 3 && req.include_authorized_operations {
        GROUP_OPERATIONS
    } else {
        i32::MIN
    };
    let groups = req
        .groups
        .into_iter()
        .map(|group_id| match state.groups().describe(&group_id) {
            Ok(d) => DescribedGroup {
                error_code: 0,
                group_id,
                group_state: KStr::from_static(d.state.name()),
                protocol_type: KStr::from(d.protocol_type),
                protocol_data: KStr::from(d.protocol),
                members: d
                    .members
                    .into_iter()
                    .map(|m| DescribedGroupMember {
                        member_id: KStr::from(m.member_id),
                        group_instance_id: m.instance_id.map(KStr::from),
                        client_id: KStr::from(m.client_id),
                        client_host: KStr::from(m.client_host),
                        member_metadata: m.metadata,
                        member_assignment: m.assignment,
                        ..Default::default()
                    })
                    .collect(),
                authorized_operations: ops,
                ..Default::default()
            },
            Err(e) => DescribedGroup {
                error_code: e.code(),
                group_id,
                authorized_operations: ops,
                ..Default::default()
            },
        })
        .collect();
    DescribeGroupsResponse {
        groups,
        ..Default::default()
    }
}
