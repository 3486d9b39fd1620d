//! The group task and the heartbeat task: the I/O around the sans-IO [`Membership`].
//!
//! The group task turns [`Step`]s into requests and callbacks: it revokes (committing
//! processed offsets, calling the listener, dropping the partitions from fetching), sends
//! JoinGroup with one protocol per configured assignor, computes the assignment when leader,
//! sends SyncGroup and applies the result. It also watches the metadata: a pattern
//! subscription that now matches other topics, or (as leader) a subscribed topic whose
//! partition count changed, triggers a rejoin.
//!
//! The heartbeat task (`heartbeat`) is separate so heartbeats go on while the group task
//! waits on a listener.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_client::metadata::TopicSelection;
use kafka_client::{SendOptions, Target};
use kafka_protocol::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafka_protocol::messages::leave_group_request::{LeaveGroupRequest, MemberIdentity};
use kafka_protocol::messages::sync_group_request::{SyncGroupRequest, SyncGroupRequestAssignment};
use kafka_protocol::messages::{ApiKey, RequestBody, ResponseBody};
use kafka_protocol::{ErrorCode, KStr};

use crate::assignor::{Assignor, GroupMember, MemberContext, RebalanceProtocol};
use crate::error::ConsumerError;
use crate::listener::RebalanceContext;
use crate::membership::{JoinArgs, JoinOutcome, JoinedMember, Step, SyncArgs};
use crate::offsets::Offsets;
use crate::protocol::{
    CONSUMER_PROTOCOL_TYPE, Subscription, decode_assignment, decode_subscription,
    encode_assignment, encode_subscription,
};
use crate::record::{OffsetAndMetadata, TopicPartition};
use crate::state::{Shared, SubscriptionKind};

/// How often the group task looks at the metadata for subscription changes.
const METADATA_CHECK: Duration = Duration::from_millis(500);

/// What the group task remembers between steps.
#[derive(Debug, Default)]
struct GroupTask {
    /// The topics of the last JoinGroup.
    joined_topics: BTreeSet<String>,
    /// As leader: the partition counts the assignment was computed from.
    leader_snapshot: Option<BTreeMap<String, i32>>,
    last_pattern_refresh: Option<Instant>,
}

pub(crate) fn membership(shared: &Shared) -> &parking_lot::Mutex<crate::membership::Membership> {
    shared
        .membership
        .as_ref()
        .expect("group tasks run only with a group.id")
}

/// The group task.
pub(crate) async fn run_group(shared: Arc<Shared>) {
    let mut task = GroupTask::default();
    while !shared.is_closed() {
        check_metadata(&shared, &mut task).await;
        let woken = shared.group_wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let step = membership(&shared).lock().next_step(Instant::now());
        match step {
            Step::Wait(until) => {
                let until = until.min(Instant::now() + METADATA_CHECK);
                tokio::select! {
                    _ = &mut woken => {}
                    _ = tokio::time::sleep_until(until.into()) => {}
                }
            }
            Step::Revoke { partitions, lost } => {
                revoke(&shared, &partitions, lost).await;
                membership(&shared).lock().revoke_done(&partitions);
                shared.heartbeat_wake.notify_one();
            }
            Step::Join(args) => {
                let outcome = join(&shared, &mut task, &args).await;
                membership(&shared).lock().on_join(Instant::now(), outcome);
                shared.heartbeat_wake.notify_one();
            }
            Step::Sync(args) => {
                let outcome = sync(&shared, &mut task, &args).await;
                membership(&shared).lock().on_sync(Instant::now(), outcome);
                shared.heartbeat_wake.notify_one();
            }
            Step::Apply { added, revoked } => {
                if !revoked.is_empty() {
                    revoke(&shared, &revoked, false).await;
                }
                assign(&shared, &added).await;
            }
            Step::Leave { member_id } => {
                if let Some(id) = member_id {
                    leave(&shared, &id, "the consumer is leaving the group").await;
                }
                task.leader_snapshot = None;
                shared.left_group.notify_one();
            }
            Step::Fatal(e) => {
                tracing::error!(error = %e, "consumer group membership failed");
                let all = shared.positions.lock().assigned();
                shared.positions.lock().remove(&all);
                shared.set_fatal(e.clone());
                shared.report(e);
                shared.left_group.notify_one();
                return;
            }
        }
    }
}

/// Rejoins when the subscription's topics or (as leader) their partition counts changed.
async fn check_metadata(shared: &Shared, task: &mut GroupTask) {
    let (pattern, in_group) = {
        let sub = shared.subscription.lock();
        (
            matches!(*sub, SubscriptionKind::Pattern(_)),
            sub.is_group_managed(),
        )
    };
    if !in_group {
        return;
    }
    if pattern {
        let due = task
            .last_pattern_refresh
            .is_none_or(|t| t.elapsed() >= shared.config.client().metadata_max_age());
        if due {
            task.last_pattern_refresh = Some(Instant::now());
            if let Err(e) = shared.client.refresh_metadata(TopicSelection::All).await {
                tracing::debug!(error = %e, "metadata refresh for the pattern failed");
            }
        }
    }
    let cluster = shared.client.metadata();
    let topics = shared
        .subscription
        .lock()
        .topics(&cluster, shared.config.exclude_internal_topics);
    let mut m = membership(shared).lock();
    if !m.is_stable() {
        return;
    }
    if topics != task.joined_topics {
        m.request_rejoin("the subscription changed");
        return;
    }
    if let Some(snapshot) = &task.leader_snapshot {
        let changed = snapshot
            .iter()
            .any(|(t, &n)| cluster.partition_count(t).unwrap_or(0) as i32 != n);
        if changed {
            m.request_rejoin("partitions were added to a subscribed topic");
        }
    }
}

/// Gives partitions up: commit what was processed (unless lost), tell the listener, stop
/// fetching them.
async fn revoke(shared: &Arc<Shared>, partitions: &[TopicPartition], lost: bool) {
    if partitions.is_empty() {
        return;
    }
    tracing::info!(?partitions, lost, "giving up partitions");
    if !lost && shared.config.enable_auto_commit {
        let offsets = processed_offsets(shared, partitions);
        if !offsets.is_empty()
            && let Ok(Err(e)) = shared.committer.commit(offsets).await
        {
            tracing::warn!(error = %e, "committing revoked partitions failed");
        }
    }
    if let Some(listener) = &shared.listener {
        let ctx = RebalanceContext {
            shared: shared.clone(),
        };
        if lost {
            listener.on_partitions_lost(&ctx, partitions).await;
        } else {
            listener.on_partitions_revoked(&ctx, partitions).await;
        }
    }
    shared.positions.lock().remove(partitions);
}

/// The processed position of each partition that has one.
pub(crate) fn processed_offsets(shared: &Shared, partitions: &[TopicPartition]) -> Offsets {
    let pos = shared.positions.lock();
    partitions
        .iter()
        .filter_map(|tp| {
            let (offset, epoch) = pos.get(tp)?.processed()?;
            Some((
                tp.clone(),
                OffsetAndMetadata {
                    offset,
                    leader_epoch: epoch,
                    metadata: String::new(),
                },
            ))
        })
        .collect()
}

/// Starts consuming newly assigned partitions.
async fn assign(shared: &Arc<Shared>, added: &[TopicPartition]) {
    shared
        .positions
        .lock()
        .add(added.iter().cloned(), true, shared.config.auto_offset_reset);
    if let Some(listener) = &shared.listener {
        let ctx = RebalanceContext {
            shared: shared.clone(),
        };
        listener.on_partitions_assigned(&ctx, added).await;
    }
    shared.wake_fetching();
}

fn join_timeout(shared: &Shared) -> Duration {
    // JoinGroup waits for the whole rebalance: give it the rebalance timeout and a margin,
    // as the Java client does.
    shared.config.max_poll_interval + Duration::from_secs(5)
}

async fn join(shared: &Shared, task: &mut GroupTask, args: &JoinArgs) -> Result<JoinOutcome, ()> {
    let cluster = shared.client.metadata();
    let topics = shared
        .subscription
        .lock()
        .topics(&cluster, shared.config.exclude_internal_topics);
    let topic_list: Vec<String> = topics.iter().cloned().collect();
    let (group_id, instance_id, cooperative) = {
        let m = membership(shared).lock();
        (
            m.group_id().to_owned(),
            m.instance_id().map(str::to_owned),
            m.protocol() == RebalanceProtocol::Cooperative,
        )
    };
    let rack = shared.config.client().client_rack();
    let protocols: Vec<(String, bytes::Bytes)> = shared
        .assignors
        .iter()
        .map(|a| {
            let ctx = MemberContext {
                topics: &topic_list,
                previous_assignment: &args.previous_assignment,
                generation: args.generation,
            };
            let mut s = Subscription::new(topic_list.clone());
            s.user_data = a.user_data(&ctx);
            if cooperative {
                s.owned_partitions = args.owned.clone();
            }
            s.generation_id = (args.generation >= 0).then_some(args.generation);
            s.rack_id = (!rack.is_empty()).then(|| rack.to_owned());
            (a.name().to_owned(), encode_subscription(&s))
        })
        .collect();
    tracing::debug!(group = %group_id, member = %args.member_id, reason = %args.reason, ?topics, "joining");
    let config = &shared.config;
    let build = |version: i16| {
        std::borrow::Cow::Owned(RequestBody::JoinGroup(JoinGroupRequest {
            group_id: KStr::from(group_id.as_str()),
            session_timeout_ms: millis(config.session_timeout),
            rebalance_timeout_ms: millis(config.max_poll_interval),
            member_id: KStr::from(args.member_id.as_str()),
            group_instance_id: if version >= 5 {
                instance_id.as_deref().map(KStr::from)
            } else {
                None
            },
            protocol_type: KStr::from(CONSUMER_PROTOCOL_TYPE),
            protocols: protocols
                .iter()
                .map(|(name, metadata)| JoinGroupRequestProtocol {
                    name: KStr::from(name.as_str()),
                    metadata: metadata.clone(),
                    ..Default::default()
                })
                .collect(),
            reason: (version >= 8 && !args.reason.is_empty())
                .then(|| KStr::from(args.reason.as_str())),
            ..Default::default()
        }))
    };
    let timeout = join_timeout(shared);
    let options = SendOptions::new()
        .timeout(timeout)
        .request_timeout(timeout)
        .no_retry();
    let resp = shared
        .client
        .send_with(
            Target::group(group_id.as_str()),
            ApiKey::JoinGroup,
            &options,
            build,
        )
        .await;
    task.joined_topics = topics;
    match resp {
        Ok(ResponseBody::JoinGroup(r)) => {
            let code = ErrorCode::from_code(r.error_code);
            Ok(JoinOutcome {
                error: (code != ErrorCode::None).then_some(code),
                member_id: r.member_id.to_string(),
                generation: r.generation_id,
                protocol_name: r.protocol_name.map(|p| p.to_string()),
                leader: r.leader.to_string(),
                skip_assignment: r.skip_assignment,
                members: r
                    .members
                    .into_iter()
                    .map(|m| JoinedMember {
                        member_id: m.member_id.to_string(),
                        instance_id: m.group_instance_id.map(|i| i.to_string()),
                        metadata: m.metadata,
                    })
                    .collect(),
            })
        }
        Ok(_) => Err(()),
        Err(e) => {
            tracing::debug!(error = %e, "JoinGroup failed");
            Err(())
        }
    }
}

fn millis(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}

/// The assignor for the protocol the coordinator chose.
fn chosen_assignor<'a>(shared: &'a Shared, name: Option<&str>) -> Option<&'a Arc<dyn Assignor>> {
    shared.assignors.iter().find(|a| Some(a.name()) == name)
}

/// Runs the assignor as leader: decode the members' subscriptions, look up the partition
/// counts of every subscribed topic, assign, encode.
async fn lead(
    shared: &Shared,
    task: &mut GroupTask,
    protocol: Option<&str>,
    members: &[JoinedMember],
) -> Result<Vec<(String, bytes::Bytes)>, ConsumerError> {
    let assignor = chosen_assignor(shared, protocol).ok_or_else(|| ConsumerError::Assignor {
        assignor: protocol.unwrap_or_default().to_owned(),
        reason: "the coordinator chose a protocol this member does not have".into(),
    })?;
    let mut group = Vec::with_capacity(members.len());
    let mut topics = BTreeSet::new();
    for m in members {
        let subscription =
            decode_subscription(&m.metadata).map_err(|e| ConsumerError::Assignor {
                assignor: assignor.name().to_owned(),
                reason: format!("member {}: {e}", m.member_id),
            })?;
        topics.extend(subscription.topics.iter().cloned());
        let mut member = GroupMember::new(m.member_id.clone(), subscription);
        member.group_instance_id = m.instance_id.clone();
        group.push(member);
    }
    let cluster = if topics.is_empty() {
        shared.client.metadata()
    } else {
        shared
            .client
            .refresh_metadata(TopicSelection::topics(topics.iter().cloned()))
            .await?
    };
    // Every subscribed topic, 0 for those that do not exist (yet): creating one later is a
    // change the leader must notice.
    let snapshot: BTreeMap<String, i32> = topics
        .iter()
        .map(|t| (t.clone(), cluster.partition_count(t).unwrap_or(0) as i32))
        .collect();
    let counts: BTreeMap<String, i32> = snapshot
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(t, n)| (t.clone(), *n))
        .collect();
    let assignment =
        assignor
            .assign(&counts, &group)
            .map_err(|reason| ConsumerError::Assignor {
                assignor: assignor.name().to_owned(),
                reason,
            })?;
    tracing::info!(
        assignor = assignor.name(),
        members = group.len(),
        topics = counts.len(),
        "assigned partitions as leader"
    );
    task.leader_snapshot = Some(snapshot);
    Ok(group
        .iter()
        .map(|m| {
            let a = assignment.get(&m.member_id).cloned().unwrap_or_default();
            (m.member_id.clone(), encode_assignment(&a))
        })
        .collect())
}

async fn sync(
    shared: &Shared,
    task: &mut GroupTask,
    args: &SyncArgs,
) -> Result<Vec<TopicPartition>, Option<ErrorCode>> {
    let assignments = match &args.leader {
        Some(members) => match lead(shared, task, args.protocol_name.as_deref(), members).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "assignment failed");
                // Without a SyncGroup from the leader the generation fails and everyone
                // rejoins; the application hears why.
                if matches!(e, ConsumerError::Assignor { .. }) {
                    shared.report(e);
                }
                return Err(None);
            }
        },
        None => {
            task.leader_snapshot = None;
            Vec::new()
        }
    };
    let (group_id, instance_id) = {
        let m = membership(shared).lock();
        (m.group_id().to_owned(), m.instance_id().map(str::to_owned))
    };
    let build = |version: i16| {
        std::borrow::Cow::Owned(RequestBody::SyncGroup(SyncGroupRequest {
            group_id: KStr::from(group_id.as_str()),
            generation_id: args.generation,
            member_id: KStr::from(args.member_id.as_str()),
            group_instance_id: if version >= 3 {
                instance_id.as_deref().map(KStr::from)
            } else {
                None
            },
            protocol_type: (version >= 5).then(|| KStr::from(CONSUMER_PROTOCOL_TYPE)),
            protocol_name: if version >= 5 {
                args.protocol_name.as_deref().map(KStr::from)
            } else {
                None
            },
            assignments: assignments
                .iter()
                .map(|(member_id, assignment)| SyncGroupRequestAssignment {
                    member_id: KStr::from(member_id.as_str()),
                    assignment: assignment.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }))
    };
    let timeout = join_timeout(shared);
    let options = SendOptions::new()
        .timeout(timeout)
        .request_timeout(timeout)
        .no_retry();
    let resp = shared
        .client
        .send_with(
            Target::group(group_id.as_str()),
            ApiKey::SyncGroup,
            &options,
            build,
        )
        .await;
    match resp {
        Ok(ResponseBody::SyncGroup(r)) => {
            let code = ErrorCode::from_code(r.error_code);
            if code != ErrorCode::None {
                return Err(Some(code));
            }
            match decode_assignment(&r.assignment) {
                Ok(a) => {
                    if let Some(assignor) = chosen_assignor(shared, args.protocol_name.as_deref()) {
                        assignor.on_assignment(&a, args.generation);
                    }
                    Ok(a.partitions)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "undecodable assignment");
                    Err(None)
                }
            }
        }
        Ok(_) => Err(None),
        Err(e) => {
            tracing::debug!(error = %e, "SyncGroup failed");
            Err(e.code())
        }
    }
}

/// Best-effort LeaveGroup.
pub(crate) async fn leave(shared: &Shared, member_id: &str, reason: &str) {
    let Some(group_id) = shared.config.group_id() else {
        return;
    };
    let instance_id = shared.config.group_instance_id();
    let build = |version: i16| {
        let mut req = LeaveGroupRequest {
            group_id: KStr::from(group_id),
            ..Default::default()
        };
        if version >= 3 {
            req.members = vec![MemberIdentity {
                member_id: KStr::from(member_id),
                group_instance_id: instance_id.map(KStr::from),
                reason: (version >= 5).then(|| KStr::from(reason)),
                ..Default::default()
            }];
        } else {
            req.member_id = KStr::from(member_id);
        }
        std::borrow::Cow::Owned(RequestBody::LeaveGroup(req))
    };
    let options = SendOptions::new().timeout(
        shared
            .config
            .client()
            .request_timeout()
            .min(Duration::from_secs(5)),
    );
    match shared
        .client
        .send_with(Target::group(group_id), ApiKey::LeaveGroup, &options, build)
        .await
    {
        Ok(_) => tracing::info!(
            group = group_id,
            member = member_id,
            reason,
            "left the group"
        ),
        Err(e) => tracing::debug!(error = %e, "LeaveGroup failed"),
    }
}
