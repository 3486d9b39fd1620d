//! What happens to a request before and after its handler, for the cluster: the advertised
//! versions (`--as-version`), injected faults and latency (`cluster::faults`), and routing
//! of group requests to their coordinator (NOT_COORDINATOR elsewhere).
//!
//! The group coordinator's state is shared by the brokers of a cluster (like Kafka's
//! `__consumer_offsets`, it survives its coordinator moving); which broker answers for a
//! group is decided here, by the group id's hash over the live brokers
//! (`ClusterController::coordinator_for`), the broker FindCoordinator names.

use kafka_protocol::messages::api_versions_response::ApiVersionsResponse;
use kafka_protocol::messages::list_groups_response::ListGroupsResponse;
use kafka_protocol::messages::{ApiKey, RequestBody, ResponseBody};
use kafka_protocol::{ErrorCode, VersionRange};

use super::errors::{coordinator_keys, error_response};
use crate::cluster::FaultAction;
use crate::cluster::faults::{named_partitions, names};
use crate::group::routing::KeyType;
use crate::state::BrokerState;

/// What to do with a request after the interception.
pub(crate) enum Intercept {
    /// Handle it, then do this with the answer.
    Proceed(After),
    /// Answer with this instead of handling it.
    Respond(Box<ResponseBody>),
    /// Close the connection without handling it.
    Close(&'static str),
}

/// What to do with a handled request's answer.
pub(crate) enum After {
    /// Send it.
    Send,
    /// Close the connection instead (the request was applied).
    Drop,
    /// Send it with this error on every topic (Metadata).
    MetadataError(ErrorCode),
}

impl BrokerState {
    /// The versions of `api` this broker advertises and accepts: all it serves, or those of
    /// the release it poses as.
    pub(crate) fn served_versions(&self, api: ApiKey) -> Option<VersionRange> {
        let range = super::supported(api)?;
        match self.cluster().settings().as_version {
            Some(release) => release.cap(api, range),
            None => Some(range),
        }
    }

    /// Caps an ApiVersions answer to [`served_versions`](Self::served_versions).
    pub(crate) fn cap_api_versions(&self, resp: &mut ApiVersionsResponse) {
        if self.cluster().settings().as_version.is_none() {
            return;
        }
        resp.api_keys.retain_mut(|k| {
            let Some(range) = ApiKey::from_i16(k.api_key).and_then(|a| self.served_versions(a))
            else {
                return false;
            };
            k.min_version = range.min;
            k.max_version = range.max;
            true
        });
    }

    /// Keeps the groups this broker coordinates in a ListGroups answer (every broker shares
    /// the group state, but each lists its own, as in Kafka).
    pub(crate) fn keep_coordinated_groups(&self, resp: &mut ListGroupsResponse) {
        let me = self.node_id();
        let cluster = self.cluster();
        resp.groups
            .retain(|g| cluster.coordinator_for(&g.group_id, KeyType::Group) == Some(me));
    }

    /// Applies latency and faults to a request, and routes group requests.
    pub(crate) async fn intercept(
        &self,
        api: ApiKey,
        version: i16,
        body: &RequestBody,
    ) -> Intercept {
        let cluster = self.cluster();
        let me = self.node_id();
        let armed = cluster.faults.armed();
        let latency = if armed {
            cluster.faults.latency(me)
        } else {
            std::time::Duration::ZERO
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if armed && cluster.faults.any_for(api) {
            let named = named_partitions(body, &|id| self.topic_by_id(id).map(|t| t.name.clone()));
            let matcher = |t: &str, p: Option<i32>| names(&named, t, p);
            match cluster.faults.take(me, api, &matcher) {
                None => {}
                Some(FaultAction::Disconnect) => {
                    tracing::info!(api = api.name(), node = me, "fault: closing the connection");
                    return Intercept::Close("disconnect");
                }
                Some(FaultAction::DropResponse) => {
                    tracing::info!(
                        api = api.name(),
                        node = me,
                        "fault: the response will be dropped"
                    );
                    return Intercept::Proceed(After::Drop);
                }
                Some(FaultAction::Error(code)) => {
                    tracing::info!(
                        api = api.name(),
                        node = me,
                        error = code.name(),
                        "fault: answering with an error"
                    );
                    if api == ApiKey::Metadata {
                        return Intercept::Proceed(After::MetadataError(code));
                    }
                    if let Some(resp) = error_response(body, version, code) {
                        return Intercept::Respond(Box::new(resp));
                    }
                }
            }
        }
        let keys = coordinator_keys(body);
        if !keys.is_empty()
            && keys
                .iter()
                .any(|(key, kind)| cluster.coordinator_for(key, *kind) != Some(me))
            && let Some(resp) = error_response(body, version, ErrorCode::NotCoordinator)
        {
            return Intercept::Respond(Box::new(resp));
        }
        Intercept::Proceed(After::Send)
    }
}

/// Sets `code` on every topic of a Metadata answer (and drops their partitions).
pub(crate) fn set_metadata_error(body: &mut ResponseBody, code: ErrorCode) {
    if let ResponseBody::Metadata(m) = body {
        for t in &mut m.topics {
            t.error_code = code.code();
            t.partitions.clear();
        }
    }
}
