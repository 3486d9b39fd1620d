//! The public consumer: subscribe or assign, receive records, commit, seek, pause.
//!
//! A [`Consumer`] is the application's handle; the work happens in background tasks it
//! starts (see the crate docs). Receiving is the only hot path: records come out of fetched
//! data the fetch tasks queued, decoded in the caller's task, with no lock per record.
//!
//! Polling means something to the group: every call of [`Consumer::recv`],
//! [`Consumer::poll`] or the stream marks the records handed out before it as processed
//! (automatic commits and commits on revocation commit those, which gives at-least-once
//! delivery), runs a due automatic commit, and resets the `max.poll.interval.ms` timer.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use kafka_client::ClientConfig;
use kafka_client::metadata::TopicSelection;

use crate::builder::ConsumerBuilder;
use crate::completed_fetch::Drain;
use crate::config::ConsumerConfig;
use crate::error::{ConsumerError, Result};
use crate::fetch_buffer::Fetched;
use crate::offsets::{AutoCommit, Offsets};
use crate::positions::{PartitionShared, ResetTo};
use crate::record::{ConsumerRecord, OffsetAndMetadata, TopicPartition};
use crate::state::{Shared, SubscriptionKind};

/// A Kafka consumer.
///
/// ```no_run
/// use kafka_consumer::{Consumer, ConsumerConfig};
///
/// # async fn run() -> Result<(), kafka_consumer::ConsumerError> {
/// let config = ConsumerConfig::new()
///     .set("bootstrap.servers", "localhost:9092")?
///     .set("group.id", "audit")?
///     .set("auto.offset.reset", "earliest")?;
/// let mut consumer = Consumer::new(config).await?;
/// consumer.subscribe(["events"])?;
/// loop {
///     let record = consumer.recv().await?;
///     println!("{}@{}: {:?}", record.partition, record.offset, record.value);
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Consumer {
    pub(crate) shared: Arc<Shared>,
    drain: Option<Drain>,
    /// Drains of partitions resumed after a pause, read before the queue.
    resumed: VecDeque<Drain>,
    /// Drains of paused partitions.
    parked: Vec<Drain>,
    /// Partitions handed out from since the last poll (marked processed at the next one).
    delivered: Vec<Arc<PartitionShared>>,
    /// An error met after records were already collected, returned by the next call.
    pending_error: Option<ConsumerError>,
    auto_commit: AutoCommit,
    last_auto_commit: BTreeMap<TopicPartition, i64>,
    /// Reused for single-record receives, so they allocate nothing.
    scratch: Vec<ConsumerRecord>,
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.shared.mark_closed();
        self.shared.abort_tasks();
    }
}

/// The member's place in its group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The generation (-1 when not joined).
    pub generation: i32,
    /// The coordinator-issued member id (empty when not joined).
    pub member_id: String,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// The assignor the group chose.
    pub protocol: Option<String>,
}

impl Consumer {
    /// A handle on freshly started tasks (see [`ConsumerBuilder::build`]).
    pub(crate) fn from_parts(shared: Arc<Shared>, auto_commit: AutoCommit) -> Self {
        Consumer {
            shared,
            drain: None,
            resumed: VecDeque::new(),
            parked: Vec::new(),
            delivered: Vec::new(),
            pending_error: None,
            auto_commit,
            last_auto_commit: BTreeMap::new(),
            scratch: Vec::with_capacity(1),
        }
    }

    /// Connects with `config` (see [`Consumer::builder`] for a listener or custom assignors).
    pub async fn new(config: ConsumerConfig) -> Result<Consumer> {
        Self::builder(config).build().await
    }

    /// A builder.
    pub fn builder(config: ConsumerConfig) -> ConsumerBuilder {
        ConsumerBuilder::new(config)
    }

    /// The configuration.
    pub fn config(&self) -> &ConsumerConfig {
        &self.shared.config
    }

    /// The client core's configuration.
    pub fn client_config(&self) -> &ClientConfig {
        self.shared.config.client()
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.shared.is_closed() {
            return Err(ConsumerError::Closed);
        }
        if let Some(e) = self.shared.fatal() {
            return Err(e);
        }
        Ok(())
    }

    fn require_group(&self) -> Result<()> {
        if self.shared.membership.is_none() {
            return Err(ConsumerError::illegal(
                "subscribing needs a group.id (or use assign)",
            ));
        }
        Ok(())
    }

    /// Subscribes to `topics`; the group assigns their partitions. Replaces any earlier
    /// subscription.
    pub fn subscribe<I, S>(&mut self, topics: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.check_open()?;
        self.require_group()?;
        let topics: BTreeSet<String> = topics.into_iter().map(Into::into).collect();
        if topics.is_empty() {
            return Err(ConsumerError::InvalidArgument(
                "subscribe to at least one topic (or unsubscribe)".into(),
            ));
        }
        self.set_group_subscription(SubscriptionKind::Topics(topics.clone()))?;
        let client = self.shared.client.clone();
        // Keep these topics' metadata fresh from now on.
        tokio::spawn(async move {
            let _ = client
                .refresh_metadata(TopicSelection::topics(topics))
                .await;
        });
        Ok(())
    }

    /// Subscribes to every topic whose name matches the regular expression `pattern`
    /// (anchored as written; Java's `Pattern` is matched against the whole name, so write
    /// `^...$` for the same meaning). New matching topics are picked up within
    /// `metadata.max.age.ms`.
    pub fn subscribe_pattern(&mut self, pattern: &str) -> Result<()> {
        self.check_open()?;
        self.require_group()?;
        let re = regex::Regex::new(pattern)
            .map_err(|e| ConsumerError::InvalidArgument(format!("pattern {pattern:?}: {e}")))?;
        self.set_group_subscription(SubscriptionKind::Pattern(re))
    }

    fn set_group_subscription(&mut self, kind: SubscriptionKind) -> Result<()> {
        {
            let mut sub = self.shared.subscription.lock();
            if matches!(*sub, SubscriptionKind::Manual) {
                return Err(ConsumerError::illegal(
                    "subscribe and assign cannot be mixed; unsubscribe first",
                ));
            }
            *sub = kind;
        }
        if let Some(m) = &self.shared.membership {
            m.lock().request_rejoin("the subscription changed");
        }
        self.shared.group_wake.notify_one();
        Ok(())
    }

    /// Assigns partitions manually (no group management). Replaces any earlier assignment;
    /// an empty list is [`Consumer::unsubscribe`] without the group.
    pub fn assign(&mut self, partitions: impl IntoIterator<Item = TopicPartition>) -> Result<()> {
        self.check_open()?;
        let wanted: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        {
            let mut sub = self.shared.subscription.lock();
            if sub.is_group_managed() {
                return Err(ConsumerError::illegal(
                    "subscribe and assign cannot be mixed; unsubscribe first",
                ));
            }
            *sub = if wanted.is_empty() {
                SubscriptionKind::None
            } else {
                SubscriptionKind::Manual
            };
        }
        let use_committed = self.shared.config.group_id().is_some();
        let reset = self.shared.config.auto_offset_reset;
        {
            let mut pos = self.shared.positions.lock();
            let gone: Vec<TopicPartition> = pos
                .assigned()
                .into_iter()
                .filter(|tp| !wanted.contains(tp))
                .collect();
            pos.remove(&gone);
            pos.add(wanted.iter().cloned(), use_committed, reset);
        }
        let topics: BTreeSet<String> = wanted.iter().map(|tp| tp.topic.clone()).collect();
        let client = self.shared.client.clone();
        tokio::spawn(async move {
            let _ = client
                .refresh_metadata(TopicSelection::topics(topics))
                .await;
        });
        self.shared.wake_fetching();
        Ok(())
    }

    /// Stops consuming: a group member revokes its partitions (committing processed offsets
    /// when auto-commit is on) and leaves the group; a manual assignment is dropped.
    pub async fn unsubscribe(&mut self) -> Result<()> {
        self.check_open()?;
        let grouped = {
            let mut sub = self.shared.subscription.lock();
            let grouped = sub.is_group_managed();
            if !grouped {
                *sub = SubscriptionKind::None;
            }
            grouped
        };
        if grouped {
            self.mark_delivered_processed();
            self.leave_group().await;
            *self.shared.subscription.lock() = SubscriptionKind::None;
        }
        let all = self.shared.positions.lock().assigned();
        self.shared.positions.lock().remove(&all);
        self.drain = None;
        self.resumed.clear();
        self.parked.clear();
        Ok(())
    }

    /// Asks the group task to revoke and leave, and waits for it (bounded).
    async fn leave_group(&self) {
        let Some(m) = &self.shared.membership else {
            return;
        };
        let left = self.shared.left_group.notified();
        tokio::pin!(left);
        left.as_mut().enable();
        m.lock().request_leave();
        self.shared.group_wake.notify_one();
        let limit = self
            .shared
            .config
            .client()
            .default_api_timeout()
            .min(Duration::from_secs(30));
        if tokio::time::timeout(limit, left).await.is_err() {
            tracing::warn!("leaving the group took longer than {limit:?}");
        }
    }

    /// The partitions of `topic`, from fresh metadata.
    pub async fn partitions_for(&self, topic: &str) -> Result<Vec<TopicPartition>> {
        let cluster = self
            .shared
            .client
            .refresh_metadata(TopicSelection::topics([topic]))
            .await?;
        let t = cluster.topic(topic).ok_or_else(|| {
            ConsumerError::Client(
                kafka_client::Error::broker(
                    kafka_protocol::ErrorCode::UnknownTopicOrPartition,
                    None,
                )
                .with_partition(topic, None),
            )
        })?;
        if let Some(code) = t.error {
            return Err(kafka_client::Error::broker(code, None)
                .with_partition(topic, None)
                .into());
        }
        Ok(t.partitions
            .iter()
            .map(|p| TopicPartition::new(topic, p.partition))
            .collect())
    }

    /// The topics subscribed to now (for a pattern, those it matches).
    pub fn subscription(&self) -> BTreeSet<String> {
        let cluster = self.shared.client.metadata();
        self.shared
            .subscription
            .lock()
            .topics(&cluster, self.shared.config.exclude_internal_topics)
    }

    /// The partitions assigned now.
    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.shared
            .positions
            .lock()
            .assigned()
            .into_iter()
            .collect()
    }

    /// The group membership, when there is a `group.id`.
    pub fn group_metadata(&self) -> Option<GroupMetadata> {
        let m = self.shared.membership.as_ref()?.lock();
        Some(GroupMetadata {
            group_id: m.group_id().to_owned(),
            generation: m.generation(),
            member_id: m.member_id().to_owned(),
            group_instance_id: m.instance_id().map(str::to_owned),
            protocol: m.protocol_name().map(str::to_owned),
        })
    }

    // ---- receiving -------------------------------------------------------------------

    /// What every delivery call does first: the records handed out before are processed,
    /// a due automatic commit goes out, the poll timer restarts.
    fn begin_poll(&mut self) {
        self.mark_delivered_processed();
        let now = Instant::now();
        self.shared.touch_poll_at(now);
        if self.shared.take_poll_expired()
            && let Some(m) = &self.shared.membership
        {
            m.lock().poll_resumed();
            self.shared.group_wake.notify_one();
        }
        if self.auto_commit.due(now) {
            self.auto_commit_now();
        }
    }

    /// One record if one is ready, without allocating.
    fn fill_one(&mut self) -> Result<Option<ConsumerRecord>> {
        let mut out = std::mem::take(&mut self.scratch);
        let result = self.fill(1, &mut out);
        let record = out.pop();
        self.scratch = out;
        result.map(|()| record)
    }

    fn mark_delivered_processed(&mut self) {
        for p in self.delivered.drain(..) {
            p.mark_processed();
        }
    }

    /// Commits processed offsets in the background, if any moved and the group is stable.
    fn auto_commit_now(&mut self) {
        if let Some(m) = &self.shared.membership {
            let grouped = self.shared.subscription.lock().is_group_managed();
            if grouped && !m.lock().is_stable() {
                return;
            }
        }
        let mut offsets = Offsets::new();
        for p in self.shared.positions.lock().partitions() {
            if let Some((offset, epoch)) = p.processed()
                && self.last_auto_commit.get(&p.tp) != Some(&offset)
            {
                offsets.insert(
                    p.tp.clone(),
                    OffsetAndMetadata {
                        offset,
                        leader_epoch: epoch,
                        metadata: String::new(),
                    },
                );
            }
        }
        if offsets.is_empty() {
            return;
        }
        for (tp, o) in &offsets {
            self.last_auto_commit.insert(tp.clone(), o.offset);
        }
        self.shared.committer.commit_detached(offsets);
    }

    /// Moves up to `max` records into `out` without waiting.
    fn fill(&mut self, max: usize, out: &mut Vec<ConsumerRecord>) -> Result<()> {
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        let check_crcs = self.shared.config.check_crcs;
        let read_committed =
            self.shared.config.isolation_level == crate::config::IsolationLevel::ReadCommitted;
        while out.len() < max {
            if let Some(d) = self.drain.as_mut() {
                if d.is_paused() {
                    let d = self.drain.take().expect("checked above");
                    self.parked.push(d);
                    continue;
                }
                let before = out.len();
                let result = d.drain(max - out.len(), out);
                if out.len() > before
                    && self
                        .delivered
                        .last()
                        .is_none_or(|p| !Arc::ptr_eq(p, d.part()))
                {
                    self.delivered.push(d.part().clone());
                }
                if let Err(e) = result {
                    let tp = d.part().tp.clone();
                    self.shared.positions.lock().fail(&tp);
                    self.drain = None;
                    if out.is_empty() {
                        return Err(e);
                    }
                    self.pending_error = Some(e);
                    return Ok(());
                }
                if d.is_done() {
                    self.drain = None;
                }
                continue;
            }
            if let Some(d) = self.resumed.pop_front() {
                self.drain = Some(d);
                continue;
            }
            match self.shared.buffer.pop() {
                None => break,
                Some(Fetched::Error(e)) => {
                    if out.is_empty() {
                        return Err(e);
                    }
                    self.pending_error = Some(e);
                    return Ok(());
                }
                Some(Fetched::Data(fetch)) => {
                    self.drain = Drain::new(fetch, check_crcs, read_committed);
                }
            }
        }
        Ok(())
    }

    /// Waits until fetched data may be available, the next automatic commit is due, or
    /// `deadline`.
    async fn wait(&self, deadline: Option<Instant>) {
        let mut until = self.auto_commit.next_at();
        if let Some(d) = deadline {
            until = Some(until.map_or(d, |u| u.min(d)));
        }
        match until {
            Some(t) => {
                let _ = tokio::time::timeout_at(t.into(), self.shared.buffer.wait()).await;
            }
            None => self.shared.buffer.wait().await,
        }
    }

    /// Receives the next record, waiting as long as it takes.
    pub async fn recv(&mut self) -> Result<ConsumerRecord> {
        self.check_open()?;
        self.begin_poll();
        if let Some(r) = self.fill_one()? {
            return Ok(r);
        }
        let _polling = InPoll::new(self.shared.clone());
        loop {
            if let Some(r) = self.fill_one()? {
                return Ok(r);
            }
            self.check_open()?;
            self.wait(None).await;
            if self.auto_commit.due(Instant::now()) {
                self.auto_commit_now();
            }
        }
    }

    /// Receives up to `max.poll.records` records, waiting up to `timeout` for the first;
    /// an empty batch when none came.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        self.check_open()?;
        self.begin_poll();
        let _polling = InPoll::new(self.shared.clone());
        let deadline = Instant::now() + timeout;
        let max = self.shared.config.max_poll_records;
        let mut out = Vec::new();
        loop {
            self.fill(max, &mut out)?;
            if !out.is_empty() || Instant::now() >= deadline {
                return Ok(out);
            }
            self.check_open()?;
            self.wait(Some(deadline)).await;
            if self.auto_commit.due(Instant::now()) {
                self.auto_commit_now();
            }
        }
    }

    /// Like [`Consumer::poll`], appending to `out` (reusing its allocation); returns how
    /// many records were added.
    pub async fn poll_into(
        &mut self,
        timeout: Duration,
        out: &mut Vec<ConsumerRecord>,
    ) -> Result<usize> {
        self.check_open()?;
        self.begin_poll();
        let _polling = InPoll::new(self.shared.clone());
        let deadline = Instant::now() + timeout;
        let start = out.len();
        let max = start + self.shared.config.max_poll_records;
        loop {
            self.fill(max, out)?;
            if out.len() > start || Instant::now() >= deadline {
                return Ok(out.len() - start);
            }
            self.check_open()?;
            self.wait(Some(deadline)).await;
        }
    }

    /// Receives without waiting: one record if one is ready (used by the stream).
    pub(crate) fn try_next(&mut self) -> Option<Result<ConsumerRecord>> {
        if let Err(e) = self.check_open() {
            return Some(Err(e));
        }
        self.fill_one().transpose()
    }

    pub(crate) fn begin_stream_poll(&mut self) {
        self.begin_poll();
    }

    pub(crate) fn maybe_auto_commit(&mut self) {
        if self.auto_commit.due(Instant::now()) {
            self.auto_commit_now();
        }
    }

    pub(crate) fn weak_shared(&self) -> Weak<Shared> {
        Arc::downgrade(&self.shared)
    }

    pub(crate) fn next_auto_commit(&self) -> Option<Instant> {
        self.auto_commit.next_at()
    }

    // ---- positions ---------------------------------------------------------------------

    /// The next offset [`Consumer::recv`] would return for `partition`, once known.
    pub fn current_position(&self, partition: &TopicPartition) -> Option<i64> {
        self.shared.positions.lock().get(partition)?.position()
    }

    /// The next offset for `partition`, waiting (up to `default.api.timeout.ms`) while its
    /// starting offset is looked up.
    pub async fn position(&self, partition: &TopicPartition) -> Result<i64> {
        let timeout = self.shared.config.client().default_api_timeout();
        let deadline = Instant::now() + timeout;
        loop {
            match self.shared.positions.lock().get(partition) {
                None => {
                    return Err(ConsumerError::illegal(format!(
                        "{partition} is not assigned"
                    )));
                }
                Some(p) => {
                    if let Some(pos) = p.position() {
                        return Ok(pos);
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(ConsumerError::Timeout(timeout));
            }
            self.shared.manager_wake.notify_one();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Makes `offset` the next offset of `partition`.
    pub fn seek(&mut self, partition: &TopicPartition, offset: i64) -> Result<()> {
        if offset < 0 {
            return Err(ConsumerError::InvalidArgument(format!(
                "offset {offset} is negative"
            )));
        }
        if !self.shared.positions.lock().seek(partition, offset, None) {
            return Err(ConsumerError::illegal(format!(
                "{partition} is not assigned"
            )));
        }
        self.shared.wake_fetching();
        Ok(())
    }

    fn reset_to(
        &mut self,
        partitions: impl IntoIterator<Item = TopicPartition>,
        to: ResetTo,
    ) -> Result<()> {
        let mut partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        if partitions.is_empty() {
            partitions = self.shared.positions.lock().assigned();
        }
        let mut pos = self.shared.positions.lock();
        for tp in &partitions {
            if !pos.request_reset(tp, to) {
                return Err(ConsumerError::illegal(format!("{tp} is not assigned")));
            }
        }
        drop(pos);
        self.shared.wake_fetching();
        Ok(())
    }

    /// Moves `partitions` (all assigned ones when empty) to their log start.
    pub fn seek_to_beginning(
        &mut self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<()> {
        self.reset_to(partitions, ResetTo::Earliest)
    }

    /// Moves `partitions` (all assigned ones when empty) to their log end.
    pub fn seek_to_end(
        &mut self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<()> {
        self.reset_to(partitions, ResetTo::Latest)
    }

    /// Stops fetching `partitions` (data already fetched is kept for [`Consumer::resume`]).
    pub fn pause(&mut self, partitions: impl IntoIterator<Item = TopicPartition>) -> Result<()> {
        let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        let missing = self.shared.positions.lock().set_paused(&partitions, true);
        if let Some(tp) = missing.first() {
            return Err(ConsumerError::illegal(format!("{tp} is not assigned")));
        }
        Ok(())
    }

    /// Resumes paused partitions.
    pub fn resume(&mut self, partitions: impl IntoIterator<Item = TopicPartition>) -> Result<()> {
        let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        let missing = self.shared.positions.lock().set_paused(&partitions, false);
        let (ready, still): (Vec<Drain>, Vec<Drain>) = std::mem::take(&mut self.parked)
            .into_iter()
            .partition(|d| !d.is_paused());
        self.parked = still;
        self.resumed.extend(ready);
        self.shared.wake_fetching();
        if let Some(tp) = missing.first() {
            return Err(ConsumerError::illegal(format!("{tp} is not assigned")));
        }
        Ok(())
    }

    /// The paused partitions.
    pub fn paused(&self) -> BTreeSet<TopicPartition> {
        self.shared
            .positions
            .lock()
            .partitions()
            .filter(|p| p.is_paused())
            .map(|p| p.tp.clone())
            .collect()
    }

    /// How many records `partition` has after the position (to the high watermark, or the
    /// last stable offset under read_committed), as of the last fetch.
    pub fn lag(&self, partition: &TopicPartition) -> Option<i64> {
        let read_committed =
            self.shared.config.isolation_level == crate::config::IsolationLevel::ReadCommitted;
        self.shared
            .positions
            .lock()
            .get(partition)?
            .lag(read_committed)
    }

    /// The high watermark of `partition` as of the last fetch.
    pub fn high_watermark(&self, partition: &TopicPartition) -> Option<i64> {
        self.shared
            .positions
            .lock()
            .get(partition)?
            .high_watermark()
    }

    // ---- shutdown ----------------------------------------------------------------------

    /// Closes cleanly: commits the positions (with auto-commit on), revokes (listener) and
    /// leaves the group (dynamic members), then stops every task and connection.
    pub async fn close(mut self) -> Result<()> {
        if self.shared.is_closed() {
            return Ok(());
        }
        // Everything handed out is processed once the application closes.
        self.mark_delivered_processed();
        for p in self.shared.positions.lock().partitions() {
            p.mark_processed();
        }
        let grouped = self.shared.subscription.lock().is_group_managed();
        let mut result = Ok(());
        if grouped {
            self.leave_group().await;
        } else if self.shared.config.enable_auto_commit && self.shared.config.group_id().is_some() {
            result = self.commit_sync().await;
        }
        self.shared.mark_closed();
        self.shared.abort_tasks();
        self.shared.client.close();
        result
    }
}

/// Marks the application as inside a poll while a delivery call waits.
struct InPoll(Arc<Shared>);

impl InPoll {
    fn new(shared: Arc<Shared>) -> Self {
        shared.set_in_poll(true);
        Self(shared)
    }
}

impl Drop for InPoll {
    fn drop(&mut self) {
        self.0.set_in_poll(false);
        self.0.touch_poll();
    }
}
