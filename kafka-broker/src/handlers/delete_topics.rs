//! DeleteTopics (key 20), versions 1-6.
//!
//! Topics by name (`topic_names` before v6, `topics[].name` from v6) or by id (v6). As in
//! Kafka's controller: a topic named or identified twice gets INVALID_REQUEST, as does an
//! entry with both a name and an id or with neither; an unknown name gets
//! UNKNOWN_TOPIC_OR_PARTITION, an unknown id UNKNOWN_TOPIC_ID. Deletion is immediate: the
//! partitions and their data are gone when the response is sent, and fetches parked on them
//! wake up to find the topic missing.

use std::collections::HashMap;

use kafka_protocol::messages::delete_topics_request::DeleteTopicsRequest;
use kafka_protocol::messages::delete_topics_response::{
    DeletableTopicResult, DeleteTopicsResponse,
};
use kafka_protocol::{ErrorCode, KStr, Uuid};

use crate::state::{AdminError, BrokerState};

pub(crate) fn handle(
    state: &BrokerState,
    req: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    let targets: Vec<(Option<KStr>, Uuid)> = if version >= 6 {
        req.topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        req.topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::ZERO))
            .collect()
    };
    let mut names: HashMap<KStr, usize> = HashMap::new();
    let mut ids: HashMap<Uuid, usize> = HashMap::new();
    for (name, id) in &targets {
        if let Some(n) = name {
            *names.entry(n.clone()).or_default() += 1;
        }
        if *id != Uuid::ZERO {
            *ids.entry(*id).or_default() += 1;
        }
    }
    let responses = targets
        .into_iter()
        .map(|(name, id)| {
            let duplicate = name
                .as_ref()
                .is_some_and(|n| names.get(n).copied().unwrap_or(0) > 1)
                || (id != Uuid::ZERO && ids.get(&id).copied().unwrap_or(0) > 1);
            let result = match (&name, id) {
                _ if duplicate => Err(AdminError::new(
                    ErrorCode::InvalidRequest,
                    "Duplicate topic in the request.",
                )),
                (Some(_), id) if id != Uuid::ZERO => Err(AdminError::new(
                    ErrorCode::InvalidRequest,
                    "You may not specify both topic name and topic id.",
                )),
                (None, Uuid::ZERO) => Err(AdminError::new(
                    ErrorCode::InvalidRequest,
                    "Neither topic name nor id were specified.",
                )),
                (Some(n), _) => state.delete_topic(n),
                (None, id) => match state.topic_by_id(id) {
                    Some(t) => state.delete_topic(&t.name),
                    None => Err(AdminError::new(
                        ErrorCode::UnknownTopicId,
                        "This server does not host this topic ID.",
                    )),
                },
            };
            match result {
                Ok(topic) => {
                    tracing::info!(topic = %topic.name, "deleted topic");
                    DeletableTopicResult {
                        name: Some(KStr::from(topic.name.as_str())),
                        topic_id: topic.id,
                        error_code: 0,
                        error_message: None,
                        ..Default::default()
                    }
                }
                Err(e) => DeletableTopicResult {
                    // Before v6 the name is never null (and always given).
                    name: if version < 6 {
                        Some(name.unwrap_or_default())
                    } else {
                        name
                    },
                    topic_id: id,
                    error_code: e.code.code(),
                    error_message: Some(KStr::from(e.message)),
                    ..Default::default()
                },
            }
        })
        .collect();
    DeleteTopicsResponse {
        responses,
        ..Default::default()
    }
}
