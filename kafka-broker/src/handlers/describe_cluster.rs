//! DescribeCluster (key 60), versions 0-1.
//!
//! The cluster id, the live brokers and the controller (as Metadata reports them), and, when
//! asked for, the cluster's authorized operations (all of them:
//! there is no authorizer). From v1 the endpoint type must be brokers (1): asking a broker for
//! controller endpoints (2) is MISMATCHED_ENDPOINT_TYPE and any other type
//! UNSUPPORTED_ENDPOINT_TYPE, as in Kafka.

use kafka_protocol::messages::describe_cluster_request::DescribeClusterRequest;
use kafka_protocol::messages::describe_cluster_response::{
    DescribeClusterBroker, DescribeClusterResponse,
};
use kafka_protocol::{ErrorCode, KStr};

use super::metadata::CLUSTER_OPERATIONS;
use crate::state::BrokerState;

const ENDPOINT_BROKER: i8 = 1;
const ENDPOINT_CONTROLLER: i8 = 2;

pub(crate) fn handle(
    state: &BrokerState,
    req: &DescribeClusterRequest,
    version: i16,
) -> DescribeClusterResponse {
    let endpoint_type = if version >= 1 {
        req.endpoint_type
    } else {
        ENDPOINT_BROKER
    };
    if endpoint_type != ENDPOINT_BROKER {
        let (code, message) = if endpoint_type == ENDPOINT_CONTROLLER {
            (
                ErrorCode::MismatchedEndpointType,
                "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER",
            )
        } else {
            (
                ErrorCode::UnsupportedEndpointType,
                "Unsupported endpoint type",
            )
        };
        return DescribeClusterResponse {
            error_code: code.code(),
            error_message: Some(KStr::from_static(message)),
            endpoint_type,
            ..Default::default()
        };
    }
    DescribeClusterResponse {
        error_code: 0,
        error_message: None,
        endpoint_type,
        cluster_id: KStr::from(state.cluster_id()),
        controller_id: super::metadata::controller_id(state),
        brokers: super::metadata::brokers(state)
            .into_iter()
            .map(|(broker_id, host, port)| DescribeClusterBroker {
                broker_id,
                host: KStr::from(host),
                port,
                rack: None,
                ..Default::default()
            })
            .collect(),
        cluster_authorized_operations: if req.include_cluster_authorized_operations {
            CLUSTER_OPERATIONS
        } else {
            i32::MIN
        },
        ..Default::default()
    }
}
