//! DeleteGroups (key 42), versions 0-2.
//!
//! Deletes Empty groups with their committed offsets. A group with members is
//! NON_EMPTY_GROUP; one that does not exist is GROUP_ID_NOT_FOUND.

use kafka_protocol::messages::delete_groups_request::DeleteGroupsRequest;
use kafka_protocol::messages::delete_groups_response::{
    DeletableGroupResult, DeleteGroupsResponse,
};

use crate::state::BrokerState;

pub(crate) fn handle(state: &BrokerState, req: DeleteGroupsRequest) -> DeleteGroupsResponse {
    DeleteGroupsResponse {
        results: req
            .groups_names
            .into_iter()
            .map(|group_id| {
                let error = state.groups().delete_group(&group_id);
                DeletableGroupResult {
                    group_id,
                    error_code: error.code(),
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    }
}
