//! Committed offsets: OffsetCommit and OffsetFetch with the group coordinator, the committer
//! task that sends commits one at a time in the order they were asked for, and the automatic
//! commit schedule.
//!
//! Commits go through one task so that an older asynchronous commit can never land after a
//! newer one and move the group's offset backwards. A commit carries the member's current
//! generation and id (or -1 and "" for a consumer outside the group, which Kafka accepts as a
//! "simple" commit); a rebalance in between makes the coordinator refuse it
//! ([`ConsumerError::CommitFailed`]) and tells the group task to rejoin.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use kafka_client::{Client, SendOptions, Target};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{ApiKey, RequestBody, ResponseBody};
use kafka_protocol::{ErrorCode, KStr};
use tokio::sync::{mpsc, oneshot};

use crate::error::{ConsumerError, Result};
use crate::record::{OffsetAndMetadata, TopicPartition};
use crate::state::Shared;

/// Offsets to commit, by partition.
pub type Offsets = BTreeMap<TopicPartition, OffsetAndMetadata>;

/// Who commits: the member's generation and id, or -1 and "" outside the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitIdentity {
    pub generation: i32,
    pub member_id: String,
    pub instance_id: Option<String>,
}

impl CommitIdentity {
    pub fn simple() -> Self {
        Self {
            generation: -1,
            member_id: String::new(),
            instance_id: None,
        }
    }
}

fn group_by_topic<T>(
    items: impl IntoIterator<Item = (TopicPartition, T)>,
) -> BTreeMap<String, Vec<(i32, T)>> {
    let mut out: BTreeMap<String, Vec<(i32, T)>> = BTreeMap::new();
    for (tp, v) in items {
        out.entry(tp.topic).or_default().push((tp.partition, v));
    }
    out
}

/// Why a commit failed: the group moved on (with the code), or anything else.
#[derive(Debug)]
pub(crate) enum CommitError {
    Group(ErrorCode, ConsumerError),
    Other(ConsumerError),
}

impl From<CommitError> for ConsumerError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Group(_, e) | CommitError::Other(e) => e,
        }
    }
}

impl From<kafka_client::Error> for CommitError {
    fn from(e: kafka_client::Error) -> Self {
        CommitError::Other(e.into())
    }
}

/// Sends one OffsetCommit (retrying coordinator moves within `timeout`).
pub(crate) async fn commit(
    client: &Client,
    group_id: &str,
    identity: &CommitIdentity,
    offsets: &Offsets,
    timeout: Duration,
) -> Result<(), CommitError> {
    if offsets.is_empty() {
        return Ok(());
    }
    let by_topic = group_by_topic(offsets.iter().map(|(tp, o)| (tp.clone(), o.clone())));
    let build = |version: i16| {
        let topics = by_topic
            .iter()
            .map(|(topic, parts)| OffsetCommitRequestTopic {
                name: KStr::from(topic.as_str()),
                partitions: parts
                    .iter()
                    .map(|(p, o)| OffsetCommitRequestPartition {
                        partition_index: *p,
                        committed_offset: o.offset,
                        committed_leader_epoch: if version >= 6 {
                            o.leader_epoch.unwrap_or(-1)
                        } else {
                            -1
                        },
                        committed_metadata: Some(KStr::from(o.metadata.as_str())),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        std::borrow::Cow::Owned(RequestBody::OffsetCommit(OffsetCommitRequest {
            group_id: KStr::from(group_id),
            generation_id_or_member_epoch: identity.generation,
            member_id: KStr::from(identity.member_id.as_str()),
            group_instance_id: if version >= 7 {
                identity.instance_id.as_deref().map(KStr::from)
            } else {
                None
            },
            topics,
            ..Default::default()
        }))
    };
    let resp = client
        .send_with(
            Target::group(group_id),
            ApiKey::OffsetCommit,
            &SendOptions::new().timeout(timeout),
            build,
        )
        .await?;
    let ResponseBody::OffsetCommit(r) = resp else {
        return Err(CommitError::Other(ConsumerError::illegal(
            "unexpected response to OffsetCommit",
        )));
    };
    for t in &r.topics {
        for p in &t.partitions {
            let code = ErrorCode::from_code(p.error_code);
            match code {
                ErrorCode::None => {}
                ErrorCode::IllegalGeneration
                | ErrorCode::UnknownMemberId
                | ErrorCode::RebalanceInProgress => {
                    return Err(CommitError::Group(
                        code,
                        ConsumerError::CommitFailed(format!(
                            "the group rebalanced ({}); the partitions may have moved",
                            code.name()
                        )),
                    ));
                }
                ErrorCode::FencedInstanceId => {
                    return Err(CommitError::Group(
                        code,
                        ConsumerError::FencedInstanceId(
                            identity.instance_id.clone().unwrap_or_default(),
                        ),
                    ));
                }
                _ => {
                    return Err(CommitError::Other(ConsumerError::Client(
                        kafka_client::Error::broker(code, None)
                            .with_api(ApiKey::OffsetCommit)
                            .with_partition(t.name.as_str(), Some(p.partition_index)),
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The group's committed offsets for `partitions` (`None`: nothing committed). Retries
/// UNSTABLE_OFFSET_COMMIT (transactional offsets still pending) within `timeout`.
pub(crate) async fn fetch_committed(
    client: &Client,
    group_id: &str,
    partitions: &[TopicPartition],
    timeout: Duration,
) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
    let deadline = Instant::now() + timeout;
    loop {
        match fetch_committed_once(client, group_id, partitions, timeout).await {
            Err(ConsumerError::Client(e))
                if e.code() == Some(ErrorCode::UnstableOffsetCommit)
                    && Instant::now() < deadline =>
            {
                tokio::time::sleep(client.config().retry_backoff()).await;
            }
            other => return other,
        }
    }
}

async fn fetch_committed_once(
    client: &Client,
    group_id: &str,
    partitions: &[TopicPartition],
    timeout: Duration,
) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
    let by_topic = group_by_topic(partitions.iter().map(|tp| (tp.clone(), ())));
    let build = |version: i16| {
        let names = || {
            by_topic.iter().map(|(t, ps)| {
                (
                    KStr::from(t.as_str()),
                    ps.iter().map(|(p, _)| *p).collect::<Vec<i32>>(),
                )
            })
        };
        let mut req = OffsetFetchRequest {
            require_stable: version >= 7,
            ..Default::default()
        };
        if version >= 8 {
            req.groups = vec![OffsetFetchRequestGroup {
                group_id: KStr::from(group_id),
                topics: Some(
                    names()
                        .map(|(name, partition_indexes)| OffsetFetchRequestTopics {
                            name,
                            partition_indexes,
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }];
        } else {
            req.group_id = KStr::from(group_id);
            req.topics = Some(
                names()
                    .map(|(name, partition_indexes)| OffsetFetchRequestTopic {
                        name,
                        partition_indexes,
                        ..Default::default()
                    })
                    .collect(),
            );
        }
        std::borrow::Cow::Owned(RequestBody::OffsetFetch(req))
    };
    let resp = client
        .send_with(
            Target::group(group_id),
            ApiKey::OffsetFetch,
            &SendOptions::new().timeout(timeout),
            build,
        )
        .await?;
    let ResponseBody::OffsetFetch(r) = resp else {
        return Err(ConsumerError::illegal("unexpected response to OffsetFetch"));
    };
    let broker_error = |code: ErrorCode, tp: Option<(&str, i32)>| {
        let e = kafka_client::Error::broker(code, None).with_api(ApiKey::OffsetFetch);
        ConsumerError::Client(match tp {
            Some((t, p)) => e.with_partition(t, Some(p)),
            None => e,
        })
    };
    let mut out = BTreeMap::new();
    let mut add = |topic: &str, p: i32, offset: i64, epoch: i32, meta: Option<&KStr>, code: i16| {
        let code = ErrorCode::from_code(code);
        if code != ErrorCode::None {
            return Err(broker_error(code, Some((topic, p))));
        }
        let value = (offset >= 0).then(|| OffsetAndMetadata {
            offset,
            leader_epoch: (epoch >= 0).then_some(epoch),
            metadata: meta.map(|m| m.to_string()).unwrap_or_default(),
        });
        out.insert(TopicPartition::new(topic, p), value);
        Ok(())
    };
    if let Some(g) = r.groups.first() {
        let code = ErrorCode::from_code(g.error_code);
        if code != ErrorCode::None {
            return Err(broker_error(code, None));
        }
        for t in &g.topics {
            for p in &t.partitions {
                add(
                    t.name.as_str(),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_ref(),
                    p.error_code,
                )?;
            }
        }
    } else {
        let code = ErrorCode::from_code(r.error_code);
        if code != ErrorCode::None {
            return Err(broker_error(code, None));
        }
        for t in &r.topics {
            for p in &t.partitions {
                add(
                    t.name.as_str(),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_ref(),
                    p.error_code,
                )?;
            }
        }
    }
    Ok(out)
}

/// The automatic commit schedule (sans-IO): due every `auto.commit.interval.ms`.
#[derive(Debug, Clone)]
pub(crate) struct AutoCommit {
    interval: Duration,
    next: Instant,
    enabled: bool,
}

impl AutoCommit {
    pub fn new(enabled: bool, interval: Duration, now: Instant) -> Self {
        Self {
            interval,
            next: now + interval,
            enabled,
        }
    }

    /// Whether a commit is due now; if so, the next one is scheduled.
    pub fn due(&mut self, now: Instant) -> bool {
        if !self.enabled || now < self.next {
            return false;
        }
        self.next = now + self.interval;
        true
    }

    /// When the next commit is due (`None`: disabled).
    pub fn next_at(&self) -> Option<Instant> {
        self.enabled.then_some(self.next)
    }
}

/// A commit waiting for the committer task.
#[derive(Debug)]
struct CommitJob {
    offsets: Offsets,
    reply: Option<oneshot::Sender<Result<()>>>,
}

/// The handle to the committer task.
#[derive(Debug, Clone)]
pub(crate) struct Committer {
    tx: mpsc::UnboundedSender<CommitJob>,
}

impl Committer {
    /// The handle and the receiving end for [`run_committer`].
    pub fn channel() -> (Self, CommitterInbox) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, CommitterInbox(rx))
    }

    /// Queues a commit; the receiver resolves when it is done.
    pub fn commit(&self, offsets: Offsets) -> oneshot::Receiver<Result<()>> {
        let (reply, rx) = oneshot::channel();
        let job = CommitJob {
            offsets,
            reply: Some(reply),
        };
        if let Err(mpsc::error::SendError(job)) = self.tx.send(job)
            && let Some(reply) = job.reply
        {
            let _ = reply.send(Err(ConsumerError::Closed));
        }
        rx
    }

    /// Queues a commit nobody waits for.
    pub fn commit_detached(&self, offsets: Offsets) {
        let _ = self.tx.send(CommitJob {
            offsets,
            reply: None,
        });
    }
}

/// The receiving end of the committer channel.
#[derive(Debug)]
pub(crate) struct CommitterInbox(mpsc::UnboundedReceiver<CommitJob>);

/// The committer task: one commit at a time, in order, with the membership's identity at
/// the moment it is sent. Holds the shared state weakly, so it ends with the consumer.
pub(crate) async fn run_committer(shared: Weak<Shared>, mut inbox: CommitterInbox) {
    while let Some(job) = inbox.0.recv().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let result = commit_now(&shared, &job.offsets).await;
        if let Err(e) = &result {
            tracing::warn!(error = %e, partitions = job.offsets.len(), "offset commit failed");
        }
        if let Some(reply) = job.reply {
            let _ = reply.send(result);
        }
    }
}

/// Commits with the current identity, telling the membership when the group moved on.
pub(crate) async fn commit_now(shared: &Arc<Shared>, offsets: &Offsets) -> Result<()> {
    let Some(group_id) = shared.config.group_id() else {
        return Err(ConsumerError::illegal(
            "committing offsets needs a group.id",
        ));
    };
    let identity = match &shared.membership {
        Some(m) if shared.subscription.lock().is_group_managed() => {
            let m = m.lock();
            let (generation, member_id) = m.commit_identity();
            CommitIdentity {
                generation,
                member_id,
                instance_id: m.instance_id().map(str::to_owned),
            }
        }
        _ => CommitIdentity::simple(),
    };
    let timeout = shared.config.client().default_api_timeout();
    match commit(&shared.client, group_id, &identity, offsets, timeout).await {
        Ok(()) => Ok(()),
        Err(CommitError::Group(code, e)) => {
            if let Some(m) = &shared.membership {
                // The coordinator says this generation is over: rejoin (losing the
                // partitions if the member was fenced).
                m.lock().on_group_error(code);
                shared.group_wake.notify_one();
            }
            Err(e)
        }
        Err(CommitError::Other(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_commit_schedule() {
        let t0 = Instant::now();
        let mut a = AutoCommit::new(true, Duration::from_secs(5), t0);
        assert!(!a.due(t0));
        assert!(a.due(t0 + Duration::from_secs(5)));
        assert!(!a.due(t0 + Duration::from_secs(6)));
        assert_eq!(a.next_at(), Some(t0 + Duration::from_secs(10)));
        let mut off = AutoCommit::new(false, Duration::from_secs(5), t0);
        assert!(!off.due(t0 + Duration::from_secs(60)));
        assert_eq!(off.next_at(), None);
    }
}
