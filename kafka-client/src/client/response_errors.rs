//! Finding coordinator errors inside responses.
//!
//! A coordinator that moved answers with NOT_COORDINATOR (or is not ready yet:
//! COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS) in the response body, at the top
//! level or per partition depending on the API. The client looks for those codes in responses
//! from coordinator targets so it can forget the coordinator and retry; every other error in a
//! body is left for the caller, who knows what it means for that API.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::ResponseBody;

fn coordinator_code(code: i16) -> Option<ErrorCode> {
    let code = ErrorCode::from_code(code);
    matches!(
        code,
        ErrorCode::NotCoordinator
            | ErrorCode::CoordinatorNotAvailable
            | ErrorCode::CoordinatorLoadInProgress
    )
    .then_some(code)
}

/// The first coordinator error in a response from a group or transaction coordinator.
pub(crate) fn coordinator_error(resp: &ResponseBody) -> Option<ErrorCode> {
    match resp {
        ResponseBody::JoinGroup(r) => coordinator_code(r.error_code),
        ResponseBody::SyncGroup(r) => coordinator_code(r.error_code),
        ResponseBody::Heartbeat(r) => coordinator_code(r.error_code),
        ResponseBody::LeaveGroup(r) => coordinator_code(r.error_code),
        ResponseBody::InitProducerId(r) => coordinator_code(r.error_code),
        ResponseBody::AddOffsetsToTxn(r) => coordinator_code(r.error_code),
        ResponseBody::EndTxn(r) => coordinator_code(r.error_code),
        ResponseBody::ConsumerGroupHeartbeat(r) => coordinator_code(r.error_code),
        ResponseBody::OffsetFetch(r) => coordinator_code(r.error_code)
            .or_else(|| r.groups.iter().find_map(|g| coordinator_code(g.error_code))),
        ResponseBody::OffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .find_map(|p| coordinator_code(p.error_code)),
        ResponseBody::TxnOffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .find_map(|p| coordinator_code(p.error_code)),
        ResponseBody::DescribeGroups(r) => {
            r.groups.iter().find_map(|g| coordinator_code(g.error_code))
        }
        ResponseBody::DeleteGroups(r) => r
            .results
            .iter()
            .find_map(|g| coordinator_code(g.error_code)),
        ResponseBody::OffsetDelete(r) => coordinator_code(r.error_code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::heartbeat_response::HeartbeatResponse;
    use kafka_protocol::messages::metadata_response::MetadataResponse;

    #[test]
    fn finds_coordinator_codes_and_ignores_others() {
        let hb = |code: ErrorCode| {
            ResponseBody::Heartbeat(HeartbeatResponse {
                error_code: code.code(),
                ..Default::default()
            })
        };
        assert_eq!(
            coordinator_error(&hb(ErrorCode::NotCoordinator)),
            Some(ErrorCode::NotCoordinator)
        );
        assert_eq!(coordinator_error(&hb(ErrorCode::RebalanceInProgress)), None);
        assert_eq!(coordinator_error(&hb(ErrorCode::None)), None);
        assert_eq!(
            coordinator_error(&ResponseBody::Metadata(MetadataResponse::default())),
            None
        );
        let od = ResponseBody::OffsetDelete(
            kafka_protocol::messages::offset_delete_response::OffsetDeleteResponse {
                error_code: ErrorCode::NotCoordinator.code(),
                ..Default::default()
            },
        );
        assert_eq!(coordinator_error(&od), Some(ErrorCode::NotCoordinator));
        let dg = ResponseBody::DeleteGroups(
            kafka_protocol::messages::delete_groups_response::DeleteGroupsResponse {
                results: vec![
                    kafka_protocol::messages::delete_groups_response::DeletableGroupResult {
                        error_code: ErrorCode::CoordinatorLoadInProgress.code(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
        );
        assert_eq!(
            coordinator_error(&dg),
            Some(ErrorCode::CoordinatorLoadInProgress)
        );
    }
}
