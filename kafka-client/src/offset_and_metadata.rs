//! [`OffsetAndMetadata`]: a group's committed position in one partition, the type the consumer
//! commits and the admin client lists and alters (one type, so either's answer feeds the
//! other).

/// An offset to commit, or one that was committed: the next offset to read, the leader epoch
/// of the record before it (for log truncation detection, OffsetCommit v6+), and free-form
/// metadata.
///
/// ```
/// use kafka_client::OffsetAndMetadata;
///
/// let o = OffsetAndMetadata::new(42).with_metadata("checkpoint 7");
/// assert_eq!((o.offset, o.metadata.as_str(), o.leader_epoch), (42, "checkpoint 7", None));
/// assert_eq!(o.with_leader_epoch(3).leader_epoch, Some(3));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct OffsetAndMetadata {
    /// The next offset the group should read.
    pub offset: i64,
    /// The leader epoch of the last record read, when known.
    pub leader_epoch: Option<i32>,
    /// Application metadata stored with the offset.
    pub metadata: String,
}

impl OffsetAndMetadata {
    /// `offset`, with no leader epoch and empty metadata.
    pub fn new(offset: i64) -> Self {
        Self {
            offset,
            leader_epoch: None,
            metadata: String::new(),
        }
    }

    /// Sets the metadata.
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = metadata.into();
        self
    }

    /// Sets the leader epoch.
    pub fn with_leader_epoch(mut self, epoch: i32) -> Self {
        self.leader_epoch = Some(epoch);
        self
    }
}
