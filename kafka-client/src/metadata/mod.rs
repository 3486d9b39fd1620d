//! What the client knows about the cluster: brokers, topics, partition leaders and
//! coordinators, as sans-IO caches the client drives with responses and the current time.

mod cache;
mod cluster;
mod coordinator;

use kafka_protocol::ErrorCode;

pub use cache::{MetadataCache, RefreshTicket, TopicSelection};
pub use cluster::{BrokerInfo, Cluster, PartitionMetadata, TopicMetadata};
pub use coordinator::{CoordinatorCache, CoordinatorType, is_coordinator_error};

/// Whether a response error means the cached metadata is stale and should be refreshed: the
/// leader moved or the client's view of it is out of date, the topic or partition is unknown
/// (created or deleted since), or a replica's log directory failed.
pub fn is_stale_metadata_error(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NotLeaderOrFollower
            | ErrorCode::UnknownTopicOrPartition
            | ErrorCode::LeaderNotAvailable
            | ErrorCode::FencedLeaderEpoch
            | ErrorCode::UnknownLeaderEpoch
            | ErrorCode::ReplicaNotAvailable
            | ErrorCode::KafkaStorageError
            | ErrorCode::UnknownTopicId
            | ErrorCode::InconsistentTopicId
            | ErrorCode::NotController
            | ErrorCode::BrokerNotAvailable
    )
}
