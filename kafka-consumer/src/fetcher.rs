//! The fetch manager task: everything the per-broker fetch tasks need before they can fetch.
//!
//! - Starts a [`source`](crate::source) task for every broker that leads an assigned
//!   partition (a task ends when its broker leaves the metadata; the manager starts it again
//!   if the broker comes back).
//! - Looks up where newly assigned partitions start: the group's committed offset
//!   (OffsetFetch), else `auto.offset.reset` (ListOffsets); also resets asked for by
//!   `seek_to_beginning/end` and by out-of-range fetches.
//! - Refreshes the metadata of assigned topics whose leaders are unknown.
//!
//! Look-ups are applied only if the partition's generation did not change meanwhile, so a
//! seek by the application always wins over a look-up that was in flight.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kafka_client::metadata::TopicSelection;
use tokio::task::JoinHandle;

use crate::config::OffsetReset;
use crate::error::ConsumerError;
use crate::list_offsets::{OffsetSpec, list_offsets};
use crate::offsets::fetch_committed;
use crate::positions::ResetTo;
use crate::record::TopicPartition;
use crate::state::Shared;

/// How often the manager looks around even when nobody woke it.
const TICK: Duration = Duration::from_millis(250);

/// The manager task.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut sources: HashMap<i32, JoinHandle<()>> = HashMap::new();
    while !shared.is_closed() {
        let woken = shared.manager_wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let mut progressed = initialize(&shared).await;
        progressed |= ensure_sources(&shared, &mut sources).await;
        if progressed {
            shared.fetch_wake.notify_waiters();
        }
        let retry = shared.positions.lock().needs_initialization();
        let wait = if retry {
            shared.config.client().retry_backoff()
        } else {
            TICK
        };
        tokio::select! {
            _ = &mut woken => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    for (_, s) in sources {
        s.abort();
    }
}

/// Starts missing source tasks; refreshes metadata for partitions without a leader.
async fn ensure_sources(shared: &Arc<Shared>, sources: &mut HashMap<i32, JoinHandle<()>>) -> bool {
    sources.retain(|_, h| !h.is_finished());
    let cluster = shared.client.metadata();
    let (leaders, missing): (Vec<i32>, Vec<String>) = {
        let pos = shared.positions.lock();
        let mut leaders = Vec::new();
        let mut missing = Vec::new();
        for p in pos.partitions() {
            match Shared::leader(&cluster, &p.tp) {
                Some((l, _)) => leaders.push(l),
                None => missing.push(p.tp.topic.clone()),
            }
        }
        (leaders, missing)
    };
    let mut started = false;
    for leader in leaders {
        if let std::collections::hash_map::Entry::Vacant(slot) = sources.entry(leader) {
            tracing::debug!(broker = leader, "starting a fetch task");
            slot.insert(tokio::spawn(crate::source::run(shared.clone(), leader)));
            started = true;
        }
    }
    if !missing.is_empty() {
        let mut topics = missing;
        topics.sort();
        topics.dedup();
        if let Err(e) = shared
            .client
            .refresh_metadata(TopicSelection::topics(topics))
            .await
        {
            tracing::debug!(error = %e, "metadata refresh for assigned topics failed");
        }
    }
    started
}

/// Looks up starting offsets; returns whether any partition became fetchable.
async fn initialize(shared: &Arc<Shared>) -> bool {
    let (todo, eras) = shared.positions.lock().to_initialize();
    let mut progressed = false;
    if !todo.committed.is_empty() {
        progressed |= from_committed(shared, &todo.committed, &eras).await;
    }
    // Partitions without a committed offset were just moved to a reset: look again.
    let (todo, eras) = shared.positions.lock().to_initialize();
    if !todo.resets.is_empty() {
        progressed |= reset(shared, &todo.resets, &eras).await;
    }
    progressed
}

async fn from_committed(
    shared: &Arc<Shared>,
    partitions: &[TopicPartition],
    eras: &BTreeMap<TopicPartition, u64>,
) -> bool {
    let Some(group) = shared.config.group_id() else {
        // No group, no committed offsets: the reset policy decides.
        let mut pos = shared.positions.lock();
        for tp in partitions {
            apply_policy(shared, &mut pos, tp);
        }
        return false;
    };
    let timeout = shared.config.client().default_api_timeout();
    match fetch_committed(&shared.client, group, partitions, timeout).await {
        Ok(found) => {
            let mut progressed = false;
            let mut pos = shared.positions.lock();
            for tp in partitions {
                match found.get(tp).cloned().flatten() {
                    Some(o) => {
                        tracing::debug!(partition = %tp, offset = o.offset, "starting at the committed offset");
                        progressed |= pos.initialized(tp, eras[tp], o.offset, o.leader_epoch);
                    }
                    None => {
                        if pos.get(tp).is_some_and(|p| p.era() == eras[tp]) {
                            apply_policy(shared, &mut pos, tp);
                        }
                    }
                }
            }
            progressed
        }
        Err(e) => {
            tracing::warn!(error = %e, "fetching committed offsets failed");
            if matches!(&e, ConsumerError::Client(c) if !c.is_retriable()) {
                shared.report(e);
            }
            false
        }
    }
}

/// No usable offset: reset by policy, or tell the application (policy `none`).
fn apply_policy(shared: &Shared, pos: &mut crate::positions::Positions, tp: &TopicPartition) {
    let policy = shared.config.auto_offset_reset;
    if policy == OffsetReset::None {
        pos.fail(tp);
        shared.report(ConsumerError::NoOffset {
            partition: tp.clone(),
        });
    } else {
        pos.apply_reset_policy(tp, policy);
    }
}

async fn reset(
    shared: &Arc<Shared>,
    resets: &[(TopicPartition, ResetTo)],
    eras: &BTreeMap<TopicPartition, u64>,
) -> bool {
    let wanted = resets
        .iter()
        .map(|(tp, to)| {
            let spec = match to {
                ResetTo::Earliest => OffsetSpec::Earliest,
                ResetTo::Latest => OffsetSpec::Latest,
            };
            (tp.clone(), spec)
        })
        .collect();
    let timeout = shared.config.client().default_api_timeout();
    let found = list_offsets(
        &shared.client,
        shared.config.isolation_level,
        wanted,
        timeout,
    )
    .await;
    let mut progressed = false;
    let mut pos = shared.positions.lock();
    for (tp, result) in found {
        match result {
            Ok(Some(o)) => {
                tracing::debug!(partition = %tp, offset = o.offset, "reset");
                progressed |= pos.initialized(&tp, eras[&tp], o.offset, o.leader_epoch);
            }
            Ok(None) => tracing::warn!(partition = %tp, "no offset to reset to"),
            Err(e) => tracing::warn!(partition = %tp, error = %e, "offset reset failed"),
        }
    }
    progressed
}
