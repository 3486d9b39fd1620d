//! InitProducerId (key 22), versions 0-5.
//!
//! Grants idempotent producers a fresh producer id at epoch 0, and transactional ids a stable
//! id whose epoch is bumped by each init (fencing older epochs' writes); the rules, KIP-360
//! resumption included, are in `producer/ids.rs`. Errors answer producer id -1 and epoch -1,
//! as Kafka's `initTransactionError` does. PRODUCER_FENCED exists from v4 ("Version 4 adds
//! the support for new error code PRODUCER_FENCED", InitProducerIdRequest.json); older
//! versions get INVALID_PRODUCER_EPOCH for it, which their clients handle the same way.
//!
//! One broker is every transactional id's coordinator, so there is no NOT_COORDINATOR.
//! Transactions themselves (AddPartitionsToTxn, EndTxn, ...) are not served.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use kafka_protocol::messages::init_producer_id_response::InitProducerIdResponse;
use kafka_protocol::records::{NO_PRODUCER_EPOCH, NO_PRODUCER_ID};

use crate::producer::ids::InitRequest;
use crate::state::BrokerState;

pub(crate) fn handle(
    state: &BrokerState,
    req: &InitProducerIdRequest,
    version: i16,
) -> InitProducerIdResponse {
    let request = InitRequest {
        transactional_id: req.transactional_id.as_deref(),
        transaction_timeout_ms: req.transaction_timeout_ms,
        producer_id: req.producer_id,
        producer_epoch: req.producer_epoch,
    };
    match state.producer_ids().init(&request) {
        Ok(granted) => {
            tracing::debug!(
                transactional_id = request.transactional_id,
                producer_id = granted.producer_id,
                epoch = granted.epoch,
                "producer id granted"
            );
            InitProducerIdResponse {
                producer_id: granted.producer_id,
                producer_epoch: granted.epoch,
                ..Default::default()
            }
        }
        Err(e) => {
            let mut code = e.code();
            if code == ErrorCode::ProducerFenced && version < 4 {
                code = ErrorCode::InvalidProducerEpoch;
            }
            tracing::debug!(transactional_id = request.transactional_id, error = %e, code = code.name(), "InitProducerId refused");
            InitProducerIdResponse {
                error_code: code.code(),
                producer_id: NO_PRODUCER_ID,
                producer_epoch: NO_PRODUCER_EPOCH,
                ..Default::default()
            }
        }
    }
}
