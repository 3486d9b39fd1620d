//! The heartbeat task: heartbeats at `heartbeat.interval.ms` while the member is in the
//! group, independently of the application and of the group task (which may be waiting on a
//! rebalance listener), and enforces `max.poll.interval.ms`: a member whose application has
//! not polled for that long leaves the group (dynamic members send LeaveGroup) and rejoins
//! when the application polls again.
//!
//! The timing and the reactions to answers are in the sans-IO
//! [`Membership`](crate::membership::Membership); this task only sends.

use std::sync::Arc;
use std::time::Instant;

use kafka_client::{SendOptions, Target};
use kafka_protocol::messages::heartbeat_request::HeartbeatRequest;
use kafka_protocol::messages::{ApiKey, RequestBody, ResponseBody};
use kafka_protocol::{ErrorCode, KStr};

use crate::consumer_group::{leave, membership};
use crate::membership::HeartbeatStep;
use crate::state::Shared;

/// The heartbeat task.
pub(crate) async fn run_heartbeat(shared: Arc<Shared>) {
    while !shared.is_closed() {
        let woken = shared.heartbeat_wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let now = Instant::now();
        let last_poll = if shared.in_poll() {
            now
        } else {
            shared.last_poll()
        };
        let step = membership(&shared).lock().heartbeat_step(now, last_poll);
        match step {
            HeartbeatStep::Wait(until) => {
                tokio::select! {
                    _ = &mut woken => {}
                    _ = tokio::time::sleep_until(until.into()) => {}
                }
            }
            HeartbeatStep::Send {
                member_id,
                generation,
            } => {
                let outcome = heartbeat(&shared, &member_id, generation).await;
                let wants_group = {
                    let mut m = membership(&shared).lock();
                    m.on_heartbeat(Instant::now(), generation, outcome);
                    !m.is_stable()
                };
                if wants_group {
                    shared.group_wake.notify_one();
                }
            }
            HeartbeatStep::LeaveForPollTimeout { member_id } => {
                shared.poll_expired();
                if let Some(id) = member_id {
                    leave(&shared, &id, "consumer poll timeout has expired").await;
                }
                shared.group_wake.notify_one();
            }
        }
    }
}

async fn heartbeat(shared: &Shared, member_id: &str, generation: i32) -> Result<ErrorCode, ()> {
    let Some(group_id) = shared.config.group_id() else {
        return Err(());
    };
    let instance_id = shared.config.group_instance_id();
    let build = |version: i16| {
        std::borrow::Cow::Owned(RequestBody::Heartbeat(HeartbeatRequest {
            group_id: KStr::from(group_id),
            generation_id: generation,
            member_id: KStr::from(member_id),
            group_instance_id: if version >= 3 {
                instance_id.map(KStr::from)
            } else {
                None
            },
            ..Default::default()
        }))
    };
    // A heartbeat older than the session timeout is useless: never wait longer.
    let timeout = shared
        .config
        .client()
        .request_timeout()
        .min(shared.config.session_timeout);
    let options = SendOptions::new()
        .timeout(timeout)
        .request_timeout(timeout)
        .no_retry();
    match shared
        .client
        .send_with(Target::group(group_id), ApiKey::Heartbeat, &options, build)
        .await
    {
        Ok(ResponseBody::Heartbeat(r)) => Ok(ErrorCode::from_code(r.error_code)),
        Ok(_) => Err(()),
        Err(e) => {
            tracing::debug!(error = %e, "heartbeat failed");
            Err(())
        }
    }
}
