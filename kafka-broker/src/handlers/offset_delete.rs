//! OffsetDelete (key 47), version 0.
//!
//! Deletes a group's committed offsets of some partitions. Partitions of unknown topics get
//! UNKNOWN_TOPIC_OR_PARTITION. An Empty group loses any of them; a consumer group with
//! members keeps those of topics its members subscribe to (GROUP_SUBSCRIBED_TO_TOPIC, read
//! from the members' `ConsumerProtocolSubscription` metadata) and loses the rest; any other
//! group with members is NON_EMPTY_GROUP, and an unknown group GROUP_ID_NOT_FOUND. A group
//! error leaves the partition list empty, as in Kafka.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::offset_delete_request::OffsetDeleteRequest;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponse, OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};

use crate::state::BrokerState;

pub(crate) fn handle(state: &BrokerState, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    let mut known = Vec::new();
    let mut slots = Vec::new();
    for (ti, t) in req.topics.iter().enumerate() {
        let topic = state.topic(&t.name);
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for (pi, p) in t.partitions.iter().enumerate() {
            let exists = topic
                .as_ref()
                .is_some_and(|t| t.partition(p.partition_index).is_some());
            if exists {
                known.push((t.name.to_string(), p.partition_index));
                slots.push((ti, pi));
            }
            partitions.push(OffsetDeleteResponsePartition {
                partition_index: p.partition_index,
                error_code: if exists {
                    0
                } else {
                    ErrorCode::UnknownTopicOrPartition.code()
                },
            });
        }
        topics.push(OffsetDeleteResponseTopic {
            name: t.name.clone(),
            partitions,
        });
    }
    match state.groups().delete_offsets(&req.group_id, &known) {
        Ok(errors) => {
            for ((ti, pi), e) in slots.into_iter().zip(errors) {
                if let Some(p) = topics.get_mut(ti).and_then(|t| t.partitions.get_mut(pi)) {
                    p.error_code = e.code();
                }
            }
            OffsetDeleteResponse {
                error_code: 0,
                topics,
                ..Default::default()
            }
        }
        Err(e) => OffsetDeleteResponse {
            error_code: e.code(),
            ..Default::default()
        },
    }
}
