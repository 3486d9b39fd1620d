//! Reading topics: `list_topics` and `describe_topics`, both from a fresh Metadata request to
//! any broker.

use std::collections::{BTreeSet, HashMap};

use kafka_protocol::Uuid;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;

use crate::acl::{AclOperation, decode_operations};
use crate::retry::{Policy, run_rounds};
use crate::{AdminClient, AdminError, AdminOptions};

/// A topic in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicListing {
    /// Name.
    pub name: String,
    /// Topic id (Metadata v10+).
    pub topic_id: Option<Uuid>,
    /// Whether it is internal (`__consumer_offsets`, `__transaction_state`).
    pub is_internal: bool,
}

/// One partition of a described topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicPartitionInfo {
    /// Partition index.
    pub partition: i32,
    /// The leader's node id, `None` while there is none.
    pub leader: Option<i32>,
    /// The leader epoch (Metadata v7+).
    pub leader_epoch: Option<i32>,
    /// Every replica's node id, preferred leader first.
    pub replicas: Vec<i32>,
    /// The in-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas that are offline (Metadata v5+).
    pub offline_replicas: Vec<i32>,
}

/// A described topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicDescription {
    /// Name.
    pub name: String,
    /// Topic id (Metadata v10+).
    pub topic_id: Option<Uuid>,
    /// Whether it is internal.
    pub is_internal: bool,
    /// Partitions, by index.
    pub partitions: Vec<TopicPartitionInfo>,
    /// What the caller may do with the topic, when asked for
    /// ([`AdminOptions::include_authorized_operations`]) and the broker says (Metadata v8+).
    pub authorized_operations: Option<BTreeSet<AclOperation>>,
}

fn topic_id(id: Uuid) -> Option<Uuid> {
    (id != Uuid::ZERO).then_some(id)
}

fn describe(t: &MetadataResponseTopic, name: &str, version: i16) -> TopicDescription {
    let mut partitions: Vec<TopicPartitionInfo> = t
        .partitions
        .iter()
        .map(|p| TopicPartitionInfo {
            partition: p.partition_index,
            leader: (p.leader_id >= 0).then_some(p.leader_id),
            leader_epoch: (version >= 7 && p.leader_epoch >= 0).then_some(p.leader_epoch),
            replicas: p.replica_nodes.clone(),
            isr: p.isr_nodes.clone(),
            offline_replicas: p.offline_replicas.clone(),
        })
        .collect();
    partitions.sort_by_key(|p| p.partition);
    TopicDescription {
        name: name.to_owned(),
        topic_id: topic_id(t.topic_id),
        is_internal: t.is_internal,
        partitions,
        authorized_operations: if version >= 8 {
            decode_operations(t.topic_authorized_operations)
        } else {
            None
        },
    }
}

impl AdminClient {
    /// Lists the cluster's topics, sorted by name; internal topics only with
    /// [`AdminOptions::include_internal`].
    pub async fn list_topics(
        &self,
        options: &AdminOptions,
    ) -> Result<Vec<TopicListing>, AdminError> {
        let deadline = self.deadline(options);
        let (resp, _) = self.fetch_metadata(None, false, deadline).await?;
        let mut topics: Vec<TopicListing> = resp
            .topics
            .iter()
            .filter(|t| t.error_code == 0 && (options.include_internal || !t.is_internal))
            .filter_map(|t| {
                Some(TopicListing {
                    name: t.name.as_ref()?.to_string(),
                    topic_id: topic_id(t.topic_id),
                    is_internal: t.is_internal,
                })
            })
            .collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(topics)
    }

    /// Describes topics by name: partitions with their leader, replicas and ISR, the topic id,
    /// and (when asked for) the authorized operations. Each topic is answered separately; one
    /// that does not exist gets `UNKNOWN_TOPIC_OR_PARTITION`.
    pub async fn describe_topics<S: Into<String>>(
        &self,
        names: impl IntoIterator<Item = S>,
        options: &AdminOptions,
    ) -> HashMap<String, Result<TopicDescription, AdminError>> {
        let deadline = self.deadline(options);
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        let ops = options.include_authorized_operations;
        run_rounds(self, deadline, names, |pending: Vec<String>| async move {
            let (resp, version) = self.fetch_metadata(Some(&pending), ops, deadline).await?;
            Ok(resp
                .topics
                .iter()
                .filter_map(|t| {
                    let name = t.name.as_deref()?;
                    let outcome =
                        Policy::Lookup.outcome(t.error_code, None, || describe(t, name, version));
                    Some((name.to_owned(), outcome))
                })
                .collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::MetadataResponsePartition;

    #[test]
    fn descriptions_sort_partitions_and_drop_sentinels() {
        let t = MetadataResponseTopic {
            name: Some("t".into()),
            partitions: vec![
                MetadataResponsePartition {
                    partition_index: 1,
                    leader_id: -1,
                    leader_epoch: -1,
                    ..Default::default()
                },
                MetadataResponsePartition {
                    partition_index: 0,
                    leader_id: 2,
                    leader_epoch: 5,
                    replica_nodes: vec![2, 3],
                    isr_nodes: vec![2],
                    ..Default::default()
                },
            ],
            topic_authorized_operations: i32::MIN,
            ..Default::default()
        };
        let d = describe(&t, "t", 12);
        assert_eq!(d.partitions[0].partition, 0);
        assert_eq!(d.partitions[0].leader, Some(2));
        assert_eq!(d.partitions[0].leader_epoch, Some(5));
        assert_eq!(d.partitions[1].leader, None);
        assert_eq!(d.partitions[1].leader_epoch, None);
        assert_eq!(d.topic_id, None);
        assert_eq!(d.authorized_operations, None);
    }
}
