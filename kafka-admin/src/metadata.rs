//! Metadata look-ups of the admin client's own: topic listings and descriptions, and the
//! partition leaders that partition requests are routed to.
//!
//! Each call asks a broker afresh instead of reading the client core's cache, as Kafka's admin
//! client does: a description must be current, and asking for topics through the cache would
//! make the background refresh keep them fresh for as long as the client lives.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use kafka_client::Target;
use kafka_protocol::messages::RequestBody;
use kafka_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kafka_protocol::messages::metadata_response::MetadataResponse;
use kafka_protocol::{ApiKey, ErrorCode, KStr};

use crate::client::expect_response;
use crate::{AdminClient, AdminError, TopicPartition};

/// A Metadata request for `topics` (`None`: all) at `version`, never creating topics.
pub(crate) fn metadata_request(
    topics: Option<&[String]>,
    include_authorized_operations: bool,
    version: i16,
) -> RequestBody {
    let mut req = MetadataRequest {
        topics: topics.map(|names| {
            names
                .iter()
                .map(|n| MetadataRequestTopic {
                    name: Some(KStr::from(n.as_str())),
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    };
    // v0 cannot ask for no topics (an empty list means all); callers never send v0 (the client
    // core's version caps start Metadata at v1).
    if version >= 4 {
        req.allow_auto_topic_creation = false;
    }
    if version >= 8 {
        req.include_topic_authorized_operations = include_authorized_operations;
        if version <= 10 {
            req.include_cluster_authorized_operations = include_authorized_operations;
        }
    }
    RequestBody::Metadata(req)
}

impl AdminClient {
    /// Fetches metadata for `topics` (`None`: all) from any broker; returns it with the
    /// version it was read at.
    pub(crate) async fn fetch_metadata(
        &self,
        topics: Option<&[String]>,
        include_authorized_operations: bool,
        deadline: Instant,
    ) -> Result<(MetadataResponse, i16), AdminError> {
        let mut version = 0;
        let resp = self
            .send(Target::Any, ApiKey::Metadata, deadline, true, |v| {
                version = v;
                Cow::Owned(metadata_request(topics, include_authorized_operations, v))
            })
            .await?;
        Ok((expect_response!(resp, Metadata)?, version))
    }

    /// Groups `partitions` by their leader's node id, from fresh metadata. Partitions without
    /// a leader right now come back with the error that says why (`UNKNOWN_TOPIC_OR_PARTITION`,
    /// `LEADER_NOT_AVAILABLE`, the topic's own error, ...), for the caller to retry or report.
    pub(crate) async fn leaders_of(
        &self,
        partitions: &[TopicPartition],
        deadline: Instant,
    ) -> Result<LeaderMap, AdminError> {
        let mut topics: Vec<String> = partitions.iter().map(|tp| tp.topic.clone()).collect();
        topics.sort_unstable();
        topics.dedup();
        let (resp, _) = self.fetch_metadata(Some(&topics), false, deadline).await?;
        Ok(group_by_leader(&resp, partitions))
    }
}

/// Partitions by leader, and the partitions that have none.
#[derive(Debug, Default)]
pub(crate) struct LeaderMap {
    /// Node id to the partitions it leads.
    pub(crate) by_leader: BTreeMap<i32, Vec<TopicPartition>>,
    /// Partitions without a usable leader, and why.
    pub(crate) leaderless: Vec<(TopicPartition, AdminError)>,
}

fn group_by_leader(resp: &MetadataResponse, partitions: &[TopicPartition]) -> LeaderMap {
    let topics: HashMap<&str, _> = resp
        .topics
        .iter()
        .filter_map(|t| Some((t.name.as_deref()?, t)))
        .collect();
    let mut map = LeaderMap::default();
    for tp in partitions {
        let leader = match topics.get(tp.topic.as_str()) {
            None => Err(ErrorCode::UnknownTopicOrPartition),
            Some(t) if t.error_code != 0 => Err(ErrorCode::from_code(t.error_code)),
            Some(t) => match t
                .partitions
                .iter()
                .find(|p| p.partition_index == tp.partition)
            {
                None => Err(ErrorCode::UnknownTopicOrPartition),
                Some(p) if p.leader_id < 0 => Err(if p.error_code != 0 {
                    ErrorCode::from_code(p.error_code)
                } else {
                    ErrorCode::LeaderNotAvailable
                }),
                Some(p) => Ok(p.leader_id),
            },
        };
        match leader {
            Ok(id) => map.by_leader.entry(id).or_default().push(tp.clone()),
            Err(code) => map
                .leaderless
                .push((tp.clone(), AdminError::broker(code, None))),
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponsePartition, MetadataResponseTopic,
    };

    fn partition(index: i32, leader: i32) -> MetadataResponsePartition {
        MetadataResponsePartition {
            partition_index: index,
            leader_id: leader,
            ..Default::default()
        }
    }

    #[test]
    fn groups_partitions_by_leader() {
        let resp = MetadataResponse {
            topics: vec![
                MetadataResponseTopic {
                    name: Some("a".into()),
                    partitions: vec![partition(0, 1), partition(1, 2), partition(2, -1)],
                    ..Default::default()
                },
                MetadataResponseTopic {
                    name: Some("gone".into()),
                    error_code: ErrorCode::UnknownTopicOrPartition.code(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let tps = [
            TopicPartition::new("a", 0),
            TopicPartition::new("a", 1),
            TopicPartition::new("a", 2),
            TopicPartition::new("a", 9),
            TopicPartition::new("gone", 0),
        ];
        let map = group_by_leader(&resp, &tps);
        assert_eq!(map.by_leader[&1], [tps[0].clone()]);
        assert_eq!(map.by_leader[&2], [tps[1].clone()]);
        let codes: Vec<_> = map.leaderless.iter().map(|(_, e)| e.code()).collect();
        assert_eq!(
            codes,
            [
                Some(ErrorCode::LeaderNotAvailable),
                Some(ErrorCode::UnknownTopicOrPartition),
                Some(ErrorCode::UnknownTopicOrPartition)
            ]
        );
    }

    #[test]
    fn requests_never_create_topics() {
        let names = ["t".to_string()];
        let RequestBody::Metadata(r) = metadata_request(Some(&names), true, 12) else {
            unreachable!()
        };
        assert!(!r.allow_auto_topic_creation && r.include_topic_authorized_operations);
        assert!(!r.include_cluster_authorized_operations, "gone after v10");
        let RequestBody::Metadata(r) = metadata_request(None, true, 3) else {
            unreachable!()
        };
        assert!(r.topics.is_none() && !r.include_topic_authorized_operations);
        metadata_request(None, false, 3).encoded_size(3).unwrap();
    }
}
