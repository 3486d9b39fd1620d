//! ListGroups (key 16), versions 0-5.
//!
//! Every group this broker coordinates, with its protocol type (empty for groups that only
//! store offsets), its state (v4+) and its type (v5+: always "classic"). The states filter
//! (v4+) and the types filter (v5+) are case-insensitive; an empty filter keeps everything,
//! and a type filter without "classic" keeps nothing.

use kafka_protocol::KStr;
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::messages::list_groups_response::{ListGroupsResponse, ListedGroup};

use crate::group::CLASSIC_TYPE;
use crate::state::BrokerState;

pub(crate) fn handle(
    state: &BrokerState,
    req: &ListGroupsRequest,
    version: i16,
) -> ListGroupsResponse {
    let strings = |v: &[KStr]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let states = if version >= 4 {
        strings(&req.states_filter)
    } else {
        Vec::new()
    };
    let types = if version >= 5 {
        strings(&req.types_filter)
    } else {
        Vec::new()
    };
    ListGroupsResponse {
        error_code: 0,
        groups: state
            .groups()
            .list(&states, &types)
            .into_iter()
            .map(|g| ListedGroup {
                group_id: KStr::from(g.group_id),
                protocol_type: KStr::from(g.protocol_type),
                group_state: KStr::from_static(g.state.name()),
                group_type: KStr::from_static(CLASSIC_TYPE),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
