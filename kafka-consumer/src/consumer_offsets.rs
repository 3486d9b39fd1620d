//! The consumer's offset operations: commits (sync and async, of positions or explicit
//! offsets), committed offsets, and offset look-ups by time or log end.

use std::collections::BTreeMap;

use crate::consumer::Consumer;
use crate::error::{ConsumerError, Result};
use crate::list_offsets::{OffsetSpec, list_offsets};
use crate::offsets::{Offsets, fetch_committed};
use crate::record::{OffsetAndMetadata, OffsetAndTimestamp, TopicPartition};

/// A pending [`Consumer::commit_async`]: await it for the outcome, or drop it (the commit
/// still happens).
#[derive(Debug)]
pub struct CommitHandle(tokio::sync::oneshot::Receiver<Result<()>>);

impl std::future::Future for CommitHandle {
    type Output = Result<()>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(ConsumerError::Closed)))
    }
}

impl Consumer {
    fn positions_to_commit(&self) -> Offsets {
        self.shared
            .positions
            .lock()
            .partitions()
            .filter_map(|p| {
                let (offset, leader_epoch) = p.position_with_epoch()?;
                Some((
                    p.tp.clone(),
                    OffsetAndMetadata {
                        offset,
                        leader_epoch,
                        metadata: String::new(),
                    },
                ))
            })
            .collect()
    }

    /// Commits the positions of every assigned partition (everything received so far) and
    /// waits for the answer.
    pub async fn commit_sync(&mut self) -> Result<()> {
        let offsets = self.positions_to_commit();
        self.commit_offsets_sync(offsets).await
    }

    /// Commits `offsets` (the next offset to read per partition, with metadata) and waits.
    pub async fn commit_offsets_sync(&self, offsets: Offsets) -> Result<()> {
        self.check_open()?;
        if offsets.is_empty() {
            return Ok(());
        }
        self.commit_offsets_async(offsets).await
    }

    /// Commits the positions of every assigned partition in the background.
    pub fn commit_async(&mut self) -> CommitHandle {
        let offsets = self.positions_to_commit();
        self.commit_offsets_async(offsets)
    }

    /// Commits `offsets` in the background. Commits are sent in the order they were made.
    pub fn commit_offsets_async(&self, offsets: Offsets) -> CommitHandle {
        CommitHandle(self.shared.committer.commit(offsets))
    }

    /// The group's committed offsets for `partitions` (`None` where nothing is committed).
    pub async fn committed(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        let group = self
            .shared
            .config
            .group_id()
            .ok_or_else(|| ConsumerError::illegal("committed offsets need a group.id"))?;
        let timeout = self.shared.config.client().default_api_timeout();
        fetch_committed(&self.shared.client, group, &partitions, timeout).await
    }

    async fn list(
        &self,
        wanted: Vec<(TopicPartition, OffsetSpec)>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>> {
        let timeout = self.shared.config.client().default_api_timeout();
        let found = list_offsets(
            &self.shared.client,
            self.shared.config.isolation_level,
            wanted,
            timeout,
        )
        .await;
        found
            .into_iter()
            .map(|(tp, r)| r.map(|v| (tp, v)))
            .collect()
    }

    /// For each partition, the earliest offset whose timestamp is at or after the given
    /// one (`None` when there is none).
    pub async fn offsets_for_times(
        &self,
        timestamps: impl IntoIterator<Item = (TopicPartition, i64)>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>> {
        self.list(
            timestamps
                .into_iter()
                .map(|(tp, ts)| (tp, OffsetSpec::Timestamp(ts)))
                .collect(),
        )
        .await
    }

    async fn offsets(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
        spec: OffsetSpec,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        let found = self
            .list(partitions.into_iter().map(|tp| (tp, spec)).collect())
            .await?;
        Ok(found
            .into_iter()
            .filter_map(|(tp, o)| Some((tp, o?.offset)))
            .collect())
    }

    /// The log start offsets of `partitions`.
    pub async fn beginning_offsets(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.offsets(partitions, OffsetSpec::Earliest).await
    }

    /// The log end offsets of `partitions` (the last stable offsets under read_committed).
    pub async fn end_offsets(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.offsets(partitions, OffsetSpec::Latest).await
    }
}
