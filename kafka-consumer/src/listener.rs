//! Rebalance listeners: application code the group task runs when partitions are assigned,
//! revoked (the member gives them up cleanly; offsets can still be committed) or lost (the
//! group moved on without this member; committing is no longer possible).
//!
//! Callbacks are async and run in the consumer's group task, which heartbeats
//! independently, so a slow callback does not cost the member its session (it must still
//! finish within `max.poll.interval.ms`, the rebalance timeout). During `on_partitions_revoked`
//! the partitions are still assigned: commit what was processed there.
//!
//! ```
//! use kafka_consumer::{BoxFuture, RebalanceContext, RebalanceListener, TopicPartition};
//!
//! #[derive(Debug)]
//! struct Log;
//!
//! impl RebalanceListener for Log {
//!     fn on_partitions_assigned<'a>(
//!         &'a self,
//!         _ctx: &'a RebalanceContext,
//!         partitions: &'a [TopicPartition],
//!     ) -> BoxFuture<'a, ()> {
//!         Box::pin(async move { println!("assigned {partitions:?}") })
//!     }
//! }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::{ConsumerError, Result};
use crate::offsets::Offsets;
use crate::record::TopicPartition;
use crate::state::Shared;

/// A boxed future, as listener callbacks return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Reacts to assignment changes. Every method has a default that does nothing (lost
/// partitions default to the revocation callback, as in Java).
pub trait RebalanceListener: Send + Sync + std::fmt::Debug {
    /// Partitions are about to be taken away (eager: all of them before every rebalance;
    /// cooperative: only those moving). Still assigned: commit here.
    fn on_partitions_revoked<'a>(
        &'a self,
        ctx: &'a RebalanceContext,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        let _ = (ctx, partitions);
        Box::pin(async {})
    }

    /// Partitions were assigned (cooperative: only the new ones; possibly none). Seek here to
    /// start from an offset of your own.
    fn on_partitions_assigned<'a>(
        &'a self,
        ctx: &'a RebalanceContext,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        let _ = (ctx, partitions);
        Box::pin(async {})
    }

    /// Partitions were lost: another member may already own them; do not commit.
    fn on_partitions_lost<'a>(
        &'a self,
        ctx: &'a RebalanceContext,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        self.on_partitions_revoked(ctx, partitions)
    }
}

/// What a listener callback may do with the consumer.
#[derive(Debug, Clone)]
pub struct RebalanceContext {
    pub(crate) shared: Arc<Shared>,
}

impl RebalanceContext {
    /// Commits offsets and waits for the answer.
    pub async fn commit(&self, offsets: Offsets) -> Result<()> {
        self.shared
            .committer
            .commit(offsets)
            .await
            .unwrap_or(Err(ConsumerError::Closed))
    }

    /// The next offset the application would get from a partition.
    pub fn position(&self, partition: &TopicPartition) -> Option<i64> {
        self.shared.positions.lock().get(partition)?.position()
    }

    /// Starts a partition at `offset` (instead of the committed offset).
    pub fn seek(&self, partition: &TopicPartition, offset: i64) -> Result<()> {
        if !self.shared.positions.lock().seek(partition, offset, None) {
            return Err(ConsumerError::illegal(format!(
                "{partition} is not assigned"
            )));
        }
        self.shared.wake_fetching();
        Ok(())
    }

    /// The partitions assigned now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.shared.positions.lock().assigned()
    }

    /// The member's generation (-1 outside a group).
    pub fn generation(&self) -> i32 {
        self.shared
            .membership
            .as_ref()
            .map_or(-1, |m| m.lock().generation())
    }
}
