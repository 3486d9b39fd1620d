//! Request handlers, one module per API key, and the dispatch from a request frame to the
//! response frame.
//!
//! [`BrokerState::handle_frame`] is the whole request path short of the socket: it reads the
//! header, refuses what Kafka refuses, decodes the body, runs the handler and encodes the
//! response. The connection loop and the fuzz target both call it. It never panics on input:
//! a frame it cannot or will not answer yields [`Reply::Close`], which is what Kafka does
//! for unknown API keys, unsupported versions and undecodable requests.

mod alter_configs;
mod api_versions;
mod create_partitions;
mod create_topics;
mod delete_groups;
mod delete_records;
mod delete_topics;
mod describe_cluster;
mod describe_configs;
mod describe_groups;
pub(crate) mod errors;
mod fetch;
mod find_coordinator;
mod heartbeat;
mod incremental_alter_configs;
mod init_producer_id;
mod intercept;
mod join_group;
mod leave_group;
mod list_groups;
mod list_offsets;
mod metadata;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
mod produce;
mod sasl_authenticate;
mod sasl_handshake;
mod sync_group;

use std::net::SocketAddr;

use bytes::Bytes;
use kafka_protocol::frame::{decode_request, encode_response, peek_request};
use kafka_protocol::messages::{ApiKey, RequestBody, ResponseBody};
use kafka_protocol::{DecodeError, EncodeError, ErrorCode, VersionRange};

use crate::state::BrokerState;
use intercept::{After, Intercept, set_metadata_error};

/// Every API the broker serves, with the versions it advertises in ApiVersions: the lowest
/// version Kafka 4 still accepts, up to the newest version of the message specs.
pub const SUPPORTED_APIS: &[(ApiKey, VersionRange)] = &[
    (ApiKey::Produce, VersionRange { min: 3, max: 11 }),
    (ApiKey::Fetch, VersionRange { min: 4, max: 17 }),
    (ApiKey::ListOffsets, VersionRange { min: 1, max: 10 }),
    (ApiKey::Metadata, VersionRange { min: 0, max: 12 }),
    (ApiKey::OffsetCommit, VersionRange { min: 2, max: 9 }),
    (ApiKey::OffsetFetch, VersionRange { min: 1, max: 9 }),
    (ApiKey::FindCoordinator, VersionRange { min: 0, max: 6 }),
    (ApiKey::JoinGroup, VersionRange { min: 0, max: 9 }),
    (ApiKey::Heartbeat, VersionRange { min: 0, max: 4 }),
    (ApiKey::LeaveGroup, VersionRange { min: 0, max: 5 }),
    (ApiKey::SyncGroup, VersionRange { min: 0, max: 5 }),
    (ApiKey::DescribeGroups, VersionRange { min: 0, max: 5 }),
    (ApiKey::ListGroups, VersionRange { min: 0, max: 5 }),
    (ApiKey::SaslHandshake, VersionRange { min: 0, max: 1 }),
    (ApiKey::ApiVersions, VersionRange { min: 0, max: 4 }),
    (ApiKey::CreateTopics, VersionRange { min: 2, max: 7 }),
    (ApiKey::DeleteTopics, VersionRange { min: 1, max: 6 }),
    (ApiKey::DeleteRecords, VersionRange { min: 0, max: 2 }),
    (ApiKey::InitProducerId, VersionRange { min: 0, max: 5 }),
    (ApiKey::DescribeConfigs, VersionRange { min: 1, max: 4 }),
    (ApiKey::AlterConfigs, VersionRange { min: 0, max: 2 }),
    (ApiKey::SaslAuthenticate, VersionRange { min: 0, max: 2 }),
    (ApiKey::CreatePartitions, VersionRange { min: 0, max: 3 }),
    (ApiKey::DeleteGroups, VersionRange { min: 0, max: 2 }),
    (
        ApiKey::IncrementalAlterConfigs,
        VersionRange { min: 0, max: 1 },
    ),
    (ApiKey::OffsetDelete, VersionRange { min: 0, max: 0 }),
    (ApiKey::DescribeCluster, VersionRange { min: 0, max: 1 }),
];

/// The versions of `api` the broker serves, if any.
pub(crate) fn supported(api: ApiKey) -> Option<VersionRange> {
    SUPPORTED_APIS
        .iter()
        .find(|(k, _)| *k == api)
        .map(|(_, r)| *r)
}

/// What to do with a request frame.
#[derive(Debug)]
#[non_exhaustive]
pub enum Reply {
    /// Write this response frame (size prefix included).
    Send(Bytes),
    /// Write nothing: an acks=0 produce that succeeded.
    Nothing,
    /// Close the connection, as Kafka does for this request.
    Close(CloseReason),
}

/// Why a connection is closed instead of answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// The frame cannot hold a request header.
    #[error("frame of {0} bytes is too short for a request header")]
    TooShort(usize),
    /// The API key is not one Kafka defines.
    #[error("unknown API key {0}")]
    UnknownApi(i16),
    /// The broker does not serve this API.
    #[error("API {} is not served by this broker", .0.name())]
    NotServed(ApiKey),
    /// The broker does not serve this version of the API.
    #[error("{} v{version} is not supported", api.name())]
    UnsupportedVersion {
        /// The API.
        api: ApiKey,
        /// The version asked for.
        version: i16,
    },
    /// The header or body does not decode.
    #[error("malformed request: {0}")]
    Malformed(DecodeError),
    /// The response could not be encoded at the request's version (a broker bug).
    #[error("cannot encode the response: {0}")]
    Encode(EncodeError),
    /// An acks=0 produce failed: Kafka closes the connection so the producer notices.
    #[error("a produce request with acks=0 failed")]
    FailedWithoutAcks,
    /// An injected fault closes the connection (see `cluster::faults`).
    #[error("injected fault: {0}")]
    Fault(&'static str),
}

/// What a handler produced, before encoding.
pub(crate) enum Handled {
    Response(ResponseBody),
    Nothing,
    Close(CloseReason),
}

impl From<ResponseBody> for Handled {
    fn from(body: ResponseBody) -> Self {
        Handled::Response(body)
    }
}

impl BrokerState {
    /// Handles one request frame (without its size prefix) and says what to send back.
    ///
    /// Requests that wait (a fetch with `max_wait_ms`) make this future wait; everything
    /// else completes without blocking.
    pub async fn handle_frame(&self, frame: Bytes) -> Reply {
        self.handle_frame_from(frame, None).await
    }

    /// [`handle_frame`](Self::handle_frame) for a request from `peer`: group members are
    /// described with the address they joined from, as Kafka does.
    pub async fn handle_frame_from(&self, frame: Bytes, peer: Option<SocketAddr>) -> Reply {
        let Some(prefix) = peek_request(&frame) else {
            return Reply::Close(CloseReason::TooShort(frame.len()));
        };
        let Some(api) = ApiKey::from_i16(prefix.api_key) else {
            return Reply::Close(CloseReason::UnknownApi(prefix.api_key));
        };
        let Some(range) = self.served_versions(api) else {
            return Reply::Close(CloseReason::NotServed(api));
        };
        let version = prefix.api_version;
        if !range.contains(version) {
            if api == ApiKey::ApiVersions {
                // KIP-511: an ApiVersions version the broker does not know is answered with
                // UNSUPPORTED_VERSION at v0, which every client can read, so it can retry
                // with a version the broker has.
                let mut resp = api_versions::unsupported_version();
                self.cap_api_versions(&mut resp);
                return encode(prefix.correlation_id, 0, &ResponseBody::ApiVersions(resp));
            }
            return Reply::Close(CloseReason::UnsupportedVersion { api, version });
        }
        let request = match decode_request(&frame) {
            Ok(r) => r,
            Err(e) => return Reply::Close(CloseReason::Malformed(e)),
        };
        // Injected faults and routing to the right broker (see `cluster`).
        let after = match self.intercept(api, version, &request.body).await {
            Intercept::Proceed(a) => a,
            Intercept::Respond(body) => return encode(prefix.correlation_id, version, &body),
            Intercept::Close(why) => return Reply::Close(CloseReason::Fault(why)),
        };
        let handled: Handled = match request.body {
            RequestBody::ApiVersions(r) => {
                let mut resp = api_versions::handle(&r, version);
                self.cap_api_versions(&mut resp);
                ResponseBody::ApiVersions(resp).into()
            }
            RequestBody::Metadata(r) => {
                ResponseBody::Metadata(metadata::handle(self, r, version)).into()
            }
            RequestBody::Produce(r) => produce::handle(self, r, version).await,
            RequestBody::Fetch(r) => {
                ResponseBody::Fetch(fetch::handle(self, r, version).await).into()
            }
            RequestBody::ListOffsets(r) => {
                ResponseBody::ListOffsets(list_offsets::handle(self, r, version)).into()
            }
            RequestBody::CreateTopics(r) => {
                ResponseBody::CreateTopics(create_topics::handle(self, r, version)).into()
            }
            RequestBody::DeleteTopics(r) => {
                ResponseBody::DeleteTopics(delete_topics::handle(self, r, version)).into()
            }
            RequestBody::DeleteRecords(r) => {
                ResponseBody::DeleteRecords(delete_records::handle(self, r)).into()
            }
            RequestBody::InitProducerId(r) => {
                ResponseBody::InitProducerId(init_producer_id::handle(self, &r, version)).into()
            }
            RequestBody::CreatePartitions(r) => {
                ResponseBody::CreatePartitions(create_partitions::handle(self, r)).into()
            }
            RequestBody::DescribeConfigs(r) => {
                ResponseBody::DescribeConfigs(describe_configs::handle(self, r, version)).into()
            }
            RequestBody::AlterConfigs(r) => {
                ResponseBody::AlterConfigs(alter_configs::handle(self, r)).into()
            }
            RequestBody::IncrementalAlterConfigs(r) => {
                ResponseBody::IncrementalAlterConfigs(incremental_alter_configs::handle(self, r))
                    .into()
            }
            RequestBody::DescribeCluster(r) => {
                ResponseBody::DescribeCluster(describe_cluster::handle(self, &r, version)).into()
            }
            // Outside a SASL exchange (see `server::sasl::gate` for the exchange itself).
            RequestBody::SaslHandshake(_) => {
                ResponseBody::SaslHandshake(sasl_handshake::handle()).into()
            }
            RequestBody::SaslAuthenticate(_) => {
                ResponseBody::SaslAuthenticate(sasl_authenticate::handle()).into()
            }
            RequestBody::FindCoordinator(r) => {
                ResponseBody::FindCoordinator(find_coordinator::handle(self, r, version)).into()
            }
            RequestBody::JoinGroup(r) => {
                let client_id = request.header.client_id.as_deref().unwrap_or_default();
                // Kafka's `InetAddress.toString` form: "/127.0.0.1".
                let host = peer.map(|p| format!("/{}", p.ip())).unwrap_or_default();
                let r = join_group::handle(self, r, version, client_id, &host).await;
                ResponseBody::JoinGroup(r).into()
            }
            RequestBody::SyncGroup(r) => {
                ResponseBody::SyncGroup(sync_group::handle(self, r).await).into()
            }
            RequestBody::Heartbeat(r) => {
                ResponseBody::Heartbeat(heartbeat::handle(self, &r)).into()
            }
            RequestBody::LeaveGroup(r) => {
                ResponseBody::LeaveGroup(leave_group::handle(self, r, version)).into()
            }
            RequestBody::OffsetCommit(r) => {
                ResponseBody::OffsetCommit(offset_commit::handle(self, r, version)).into()
            }
            RequestBody::OffsetFetch(r) => {
                ResponseBody::OffsetFetch(offset_fetch::handle(self, r, version)).into()
            }
            RequestBody::ListGroups(r) => {
                let mut resp = list_groups::handle(self, &r, version);
                self.keep_coordinated_groups(&mut resp);
                ResponseBody::ListGroups(resp).into()
            }
            RequestBody::DescribeGroups(r) => {
                ResponseBody::DescribeGroups(describe_groups::handle(self, r, version)).into()
            }
            RequestBody::DeleteGroups(r) => {
                ResponseBody::DeleteGroups(delete_groups::handle(self, r)).into()
            }
            RequestBody::OffsetDelete(r) => {
                ResponseBody::OffsetDelete(offset_delete::handle(self, r)).into()
            }
            // Unreachable while SUPPORTED_APIS and this match agree; closing is the safe answer.
            _ => Handled::Close(CloseReason::NotServed(api)),
        };
        match (handled, after) {
            (Handled::Close(reason), _) => Reply::Close(reason),
            (_, After::Drop) => Reply::Close(CloseReason::Fault("response dropped")),
            (Handled::Response(mut body), After::MetadataError(code)) => {
                set_metadata_error(&mut body, code);
                encode(prefix.correlation_id, version, &body)
            }
            (Handled::Response(body), _) => encode(prefix.correlation_id, version, &body),
            (Handled::Nothing, _) => Reply::Nothing,
        }
    }
}

fn encode(correlation_id: i32, version: i16, body: &ResponseBody) -> Reply {
    match encode_response(correlation_id, version, body) {
        Ok(buf) => Reply::Send(buf.freeze()),
        Err(e) => {
            tracing::error!(api = body.api_key().name(), version, error = %e, "cannot encode response");
            Reply::Close(CloseReason::Encode(e))
        }
    }
}

/// Checks a request's `current_leader_epoch` against the partition's `current` (KIP-320):
/// -1 skips the check, an older epoch is fenced, a newer one is unknown to this broker.
pub(crate) fn check_leader_epoch(requested: i32, current: i32) -> Result<(), ErrorCode> {
    use std::cmp::Ordering;
    if requested == -1 {
        return Ok(());
    }
    match requested.cmp(&current) {
        Ordering::Less => Err(ErrorCode::FencedLeaderEpoch),
        Ordering::Equal => Ok(()),
        Ordering::Greater => Err(ErrorCode::UnknownLeaderEpoch),
    }
}
