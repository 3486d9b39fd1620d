//! Consumer groups: `list_consumer_groups` (ListGroups on every broker),
//! `describe_consumer_groups` (DescribeGroups) and `delete_consumer_groups` (DeleteGroups),
//! the latter two sent to each group's coordinator.
//!
//! Groups are handled one request per group, all groups in parallel, each to its own
//! coordinator (found and cached by the client core). A coordinator that moved or is still
//! loading (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS) is
//! forgotten and the group retried, whether the client core saw the code or only the
//! response body names it.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::Instant;

use bytes::Bytes;
use kafka_client::Target;
use kafka_client::metadata::{BrokerInfo, CoordinatorType, TopicSelection};
use kafka_protocol::messages::RequestBody;
use kafka_protocol::messages::delete_groups_request::DeleteGroupsRequest;
use kafka_protocol::messages::describe_groups_request::DescribeGroupsRequest;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::{ApiKey, ErrorCode, KStr};

use crate::acl::{AclOperation, decode_operations};
use crate::client::{expect_response, within};
use crate::consumer_protocol::{CONSUMER_PROTOCOL_TYPE, decode_assignment, decode_subscription};
use crate::retry::{Outcome, Policy, join_all, run_rounds};
use crate::{AdminClient, AdminError, AdminOptions};
use crate::{MemberAssignment, MemberSubscription};

/// A group's state, as brokers name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum GroupState {
    /// Members are (re)joining.
    PreparingRebalance,
    /// Waiting for the leader's assignment.
    CompletingRebalance,
    /// Members have their assignments.
    Stable,
    /// No members (offsets may remain).
    Empty,
    /// Being removed (or, from DescribeGroups before v6, never existed).
    Dead,
    /// A consumer-protocol group (KIP-848) computing its assignment.
    Assigning,
    /// A consumer-protocol group whose members are taking up their assignments.
    Reconciling,
    /// A state this client does not know, as the broker named it.
    Other(String),
}

impl GroupState {
    /// The state a broker calls `name` (case-insensitive, as KIP-848 brokers use lower case).
    pub fn parse(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "preparingrebalance" => GroupState::PreparingRebalance,
            "completingrebalance" => GroupState::CompletingRebalance,
            "stable" => GroupState::Stable,
            "empty" => GroupState::Empty,
            "dead" => GroupState::Dead,
            "assigning" => GroupState::Assigning,
            "reconciling" => GroupState::Reconciling,
            _ => GroupState::Other(name.to_owned()),
        }
    }

    /// Kafka's name for the state.
    pub fn as_str(&self) -> &str {
        match self {
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Empty => "Empty",
            GroupState::Dead => "Dead",
            GroupState::Assigning => "Assigning",
            GroupState::Reconciling => "Reconciling",
            GroupState::Other(s) => s,
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A consumer group in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerGroupListing {
    /// Group id.
    pub group_id: String,
    /// "consumer", or empty for a group that only stores offsets.
    pub protocol_type: String,
    /// Its state (ListGroups v4+).
    pub state: Option<GroupState>,
    /// "classic" or "consumer" (ListGroups v5+).
    pub group_type: Option<String>,
}

impl ConsumerGroupListing {
    /// Whether the group only stores offsets (no consumer protocol).
    pub fn is_simple(&self) -> bool {
        self.protocol_type.is_empty()
    }
}

/// The consumer groups of every broker that answered, and the brokers that did not.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ConsumerGroupListings {
    /// The groups, sorted by id.
    pub groups: Vec<ConsumerGroupListing>,
    /// Brokers whose groups are missing, by node id, and why.
    pub errors: BTreeMap<i32, AdminError>,
}

/// A member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberDescription {
    /// Member id.
    pub member_id: String,
    /// Static membership id (DescribeGroups v4+).
    pub group_instance_id: Option<String>,
    /// The member's `client.id`.
    pub client_id: String,
    /// The member's host.
    pub client_host: String,
    /// Its decoded subscription, for consumer-protocol groups whose data decodes.
    pub subscription: Option<MemberSubscription>,
    /// Its decoded assignment, for consumer-protocol groups once assigned.
    pub assignment: Option<MemberAssignment>,
    /// The raw subscription (JoinGroup metadata), whatever the protocol.
    pub metadata_bytes: Bytes,
    /// The raw assignment, whatever the protocol.
    pub assignment_bytes: Bytes,
}

/// A described consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerGroupDescription {
    /// Group id.
    pub group_id: String,
    /// Its state.
    pub state: GroupState,
    /// "consumer", or empty for a group that only stores offsets.
    pub protocol_type: String,
    /// The partition assignor in use (e.g. "range"), empty unless stable.
    pub partition_assignor: String,
    /// Its members.
    pub members: Vec<MemberDescription>,
    /// The coordinator that answered.
    pub coordinator: Option<BrokerInfo>,
    /// What the caller may do with the group, when asked for
    /// ([`AdminOptions::include_authorized_operations`]) and the broker says (v3+).
    pub authorized_operations: Option<BTreeSet<AclOperation>>,
}

impl ConsumerGroupDescription {
    /// Whether the group only stores offsets (no consumer protocol).
    pub fn is_simple(&self) -> bool {
        self.protocol_type.is_empty()
    }
}

fn member(m: &DescribedGroupMember, consumer: bool) -> MemberDescription {
    // Undecodable data is kept raw rather than failing the whole group: the description is
    // still useful, and the bytes say what the member sent.
    let decoded = |b: &Bytes| consumer && !b.is_empty();
    MemberDescription {
        member_id: m.member_id.to_string(),
        group_instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
        client_id: m.client_id.to_string(),
        client_host: m.client_host.to_string(),
        subscription: decoded(&m.member_metadata)
            .then(|| decode_subscription(&m.member_metadata).ok())
            .flatten(),
        assignment: decoded(&m.member_assignment)
            .then(|| decode_assignment(&m.member_assignment).ok())
            .flatten(),
        metadata_bytes: m.member_metadata.clone(),
        assignment_bytes: m.member_assignment.clone(),
    }
}

fn description(g: &DescribedGroup, version: i16) -> Result<ConsumerGroupDescription, AdminError> {
    let state = GroupState::parse(&g.group_state);
    if state == GroupState::Dead && g.members.is_empty() {
        // Before DescribeGroups v6 a group that does not exist is described as Dead rather
        // than refused; report it the way v6 does.
        return Err(AdminError::broker(
            ErrorCode::GroupIdNotFound,
            Some(format!("Group {} not found.", g.group_id.as_str())),
        ));
    }
    let consumer = g.protocol_type.as_str() == CONSUMER_PROTOCOL_TYPE;
    Ok(ConsumerGroupDescription {
        group_id: g.group_id.to_string(),
        state,
        protocol_type: g.protocol_type.to_string(),
        partition_assignor: g.protocol_data.to_string(),
        members: g.members.iter().map(|m| member(m, consumer)).collect(),
        coordinator: None,
        authorized_operations: if version >= 3 {
            decode_operations(g.authorized_operations)
        } else {
            None
        },
    })
}

impl AdminClient {
    /// The outcome of a group-coordinator answer: a coordinator that moved or is not ready is
    /// forgotten and the item retried, as is a group in the middle of a rebalance; other codes
    /// follow [`Policy::Lookup`].
    pub(crate) fn group_outcome<T>(
        &self,
        group: &str,
        code: i16,
        message: Option<&KStr>,
        ok: impl FnOnce() -> T,
    ) -> Outcome<T> {
        let c = ErrorCode::from_code(code);
        if matches!(
            c,
            ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable
        ) {
            self.client()
                .invalidate_coordinator(group, CoordinatorType::Group);
        }
        if matches!(
            c,
            ErrorCode::NotCoordinator
                | ErrorCode::CoordinatorNotAvailable
                | ErrorCode::CoordinatorLoadInProgress
                | ErrorCode::RebalanceInProgress
        ) {
            return Outcome::Retry(AdminError::from_response(code, message));
        }
        Policy::Lookup.outcome(code, message, ok)
    }

    /// Lists the consumer groups of every broker (those with protocol type "consumer", and
    /// groups that only store offsets), optionally only those in `states` (ListGroups v4+).
    /// A broker that cannot answer within the timeout is reported in
    /// [`ConsumerGroupListings::errors`] while the others' groups are listed; when no broker
    /// answers, the call fails with the first broker's error.
    pub async fn list_consumer_groups(
        &self,
        states: &[GroupState],
        options: &AdminOptions,
    ) -> Result<ConsumerGroupListings, AdminError> {
        let deadline = self.deadline(options);
        let mut brokers: Vec<i32> = self.client().metadata().brokers().map(|b| b.id).collect();
        if brokers.is_empty() {
            let refresh = async {
                Ok(self
                    .client()
                    .refresh_metadata(TopicSelection::none())
                    .await?)
            };
            let cluster = within(deadline, refresh).await?;
            brokers = cluster.brokers().map(|b| b.id).collect();
        }
        let states: Vec<String> = states.iter().map(|s| s.as_str().to_owned()).collect();
        let states = &states;
        let answers = run_rounds(self, deadline, brokers, |pending: Vec<i32>| async move {
            let requests = pending.iter().map(|&broker| {
                let admin = self.clone();
                let states = states.clone();
                async move {
                    (
                        broker,
                        admin.list_groups_at(broker, &states, deadline).await,
                    )
                }
            });
            Ok(join_all(requests.collect::<Vec<_>>()).await)
        })
        .await;
        let answered = answers.len();
        let mut listings = ConsumerGroupListings::default();
        let mut seen = BTreeSet::new();
        for (broker, answer) in answers {
            match answer {
                Ok(groups) => {
                    for g in groups {
                        if seen.insert(g.group_id.clone()) {
                            listings.groups.push(g);
                        }
                    }
                }
                Err(e) => {
                    listings.errors.insert(broker, e);
                }
            }
        }
        if listings.groups.is_empty()
            && let Some(e) = listings.errors.values().next()
            && listings.errors.len() == answered
        {
            // No broker answered: there is no listing to speak of, only the failure.
            return Err(e.clone());
        }
        listings.groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(listings)
    }

    /// One ListGroups request to one broker.
    async fn list_groups_at(
        &self,
        broker: i32,
        states: &[String],
        deadline: Instant,
    ) -> Outcome<Vec<ConsumerGroupListing>> {
        let target = Target::Broker(broker);
        if !states.is_empty() {
            match self.version(&target, ApiKey::ListGroups, deadline).await {
                Ok(v) if v < 4 => {
                    return Outcome::Done(Err(AdminError::UnsupportedVersion {
                        api: ApiKey::ListGroups,
                        version: v,
                        what: "filter groups by state",
                    }));
                }
                Ok(_) => {}
                Err(e) => return Policy::Lookup.error(e),
            }
        }
        let mut version = 0;
        let resp = self
            .send(target, ApiKey::ListGroups, deadline, true, |v| {
                version = v;
                Cow::Owned(RequestBody::ListGroups(ListGroupsRequest {
                    states_filter: if v >= 4 {
                        states.iter().map(|s| KStr::from(s.as_str())).collect()
                    } else {
                        Vec::new()
                    },
                    ..Default::default()
                }))
            })
            .await
            .and_then(|r| expect_response!(r, ListGroups));
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Policy::Lookup.error(e),
        };
        Policy::Lookup.outcome(resp.error_code, None, || {
            resp.groups
                .iter()
                .filter(|g| g.protocol_type.is_empty() || g.protocol_type == CONSUMER_PROTOCOL_TYPE)
                .map(|g| ConsumerGroupListing {
                    group_id: g.group_id.to_string(),
                    protocol_type: g.protocol_type.to_string(),
                    state: (version >= 4).then(|| GroupState::parse(&g.group_state)),
                    group_type: (version >= 5 && !g.group_type.is_empty())
                        .then(|| g.group_type.to_string()),
                })
                .collect()
        })
    }

    /// Describes consumer groups: state, assignor, and members with their decoded
    /// subscriptions and assignments. Each group is answered separately; one that does not
    /// exist gets `GROUP_ID_NOT_FOUND`.
    pub async fn describe_consumer_groups<S: Into<String>>(
        &self,
        group_ids: impl IntoIterator<Item = S>,
        options: &AdminOptions,
    ) -> HashMap<String, Result<ConsumerGroupDescription, AdminError>> {
        let deadline = self.deadline(options);
        let groups: Vec<String> = group_ids.into_iter().map(Into::into).collect();
        let ops = options.include_authorized_operations;
        run_rounds(self, deadline, groups, |pending: Vec<String>| async move {
            let requests = pending.iter().map(|group| {
                let admin = self.clone();
                let group = group.clone();
                async move {
                    let outcome = admin.describe_group(&group, ops, deadline).await;
                    (group, outcome)
                }
            });
            Ok(join_all(requests.collect::<Vec<_>>()).await)
        })
        .await
    }

    /// One DescribeGroups request to a group's coordinator.
    async fn describe_group(
        &self,
        group: &str,
        ops: bool,
        deadline: Instant,
    ) -> Outcome<ConsumerGroupDescription> {
        let mut version = 0;
        let resp = self
            .send(
                Target::group(group),
                ApiKey::DescribeGroups,
                deadline,
                true,
                |v| {
                    version = v;
                    Cow::Owned(RequestBody::DescribeGroups(DescribeGroupsRequest {
                        groups: vec![KStr::from(group)],
                        include_authorized_operations: v >= 3 && ops,
                        ..Default::default()
                    }))
                },
            )
            .await
            .and_then(|r| expect_response!(r, DescribeGroups));
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Policy::Lookup.error(e),
        };
        let Some(g) = resp.groups.iter().find(|g| g.group_id.as_str() == group) else {
            return Outcome::Done(Err(AdminError::Protocol(format!(
                "DescribeGroups did not describe {group}"
            ))));
        };
        match self.group_outcome(group, g.error_code, None, || description(g, version)) {
            Outcome::Done(Ok(Ok(mut d))) => {
                // Cached by the request just made, unless a response since made the client
                // forget it; then it is looked up again, within the call's deadline.
                let lookup = async {
                    Ok(self
                        .client()
                        .coordinator(group, CoordinatorType::Group)
                        .await?)
                };
                d.coordinator = within(deadline, lookup).await.ok();
                Outcome::Done(Ok(d))
            }
            Outcome::Done(Ok(Err(e))) | Outcome::Done(Err(e)) => Outcome::Done(Err(e)),
            Outcome::Retry(e) => Outcome::Retry(e),
        }
    }

    /// Deletes consumer groups (with their committed offsets), each answered separately:
    /// `GROUP_ID_NOT_FOUND` for one that does not exist, `NON_EMPTY_GROUP` for one that still
    /// has members.
    pub async fn delete_consumer_groups<S: Into<String>>(
        &self,
        group_ids: impl IntoIterator<Item = S>,
        options: &AdminOptions,
    ) -> HashMap<String, Result<(), AdminError>> {
        let deadline = self.deadline(options);
        let groups: Vec<String> = group_ids.into_iter().map(Into::into).collect();
        run_rounds(self, deadline, groups, |pending: Vec<String>| async move {
            let requests = pending.iter().map(|group| {
                let admin = self.clone();
                let group = group.clone();
                async move {
                    let outcome = admin.delete_group(&group, deadline).await;
                    (group, outcome)
                }
            });
            Ok(join_all(requests.collect::<Vec<_>>()).await)
        })
        .await
    }

    /// One DeleteGroups request to a group's coordinator.
    async fn delete_group(&self, group: &str, deadline: Instant) -> Outcome<()> {
        let body = RequestBody::DeleteGroups(DeleteGroupsRequest {
            groups_names: vec![KStr::from(group)],
            ..Default::default()
        });
        let resp = self
            .send(
                Target::group(group),
                ApiKey::DeleteGroups,
                deadline,
                true,
                |_| Cow::Borrowed(&body),
            )
            .await
            .and_then(|r| expect_response!(r, DeleteGroups));
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Policy::Lookup.error(e),
        };
        match resp.results.iter().find(|r| r.group_id.as_str() == group) {
            Some(r) => self.group_outcome(group, r.error_code, None, || ()),
            None => Outcome::Done(Err(AdminError::Protocol(format!(
                "DeleteGroups did not answer for {group}"
            )))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_in_either_case() {
        assert_eq!(GroupState::parse("Stable"), GroupState::Stable);
        assert_eq!(GroupState::parse("stable"), GroupState::Stable);
        assert_eq!(GroupState::parse("Empty").as_str(), "Empty");
        assert_eq!(
            GroupState::parse("Shiny"),
            GroupState::Other("Shiny".into())
        );
    }

    #[test]
    fn dead_groups_are_not_found() {
        let g = DescribedGroup {
            group_id: "g".into(),
            group_state: "Dead".into(),
            ..Default::default()
        };
        let e = description(&g, 5).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::GroupIdNotFound));
    }

    #[test]
    fn consumer_members_are_decoded() {
        use crate::TopicPartition;
        use crate::consumer_protocol::{encode_assignment, encode_subscription};
        let sub = MemberSubscription::new(["t"]);
        let assignment = MemberAssignment::new([TopicPartition::new("t", 0)]);
        let m = DescribedGroupMember {
            member_id: "m".into(),
            member_metadata: encode_subscription(&sub),
            member_assignment: encode_assignment(&assignment),
            ..Default::default()
        };
        let g = DescribedGroup {
            group_id: "g".into(),
            group_state: "Stable".into(),
            protocol_type: "consumer".into(),
            protocol_data: "range".into(),
            members: vec![m.clone()],
            authorized_operations: i32::MIN,
            ..Default::default()
        };
        let d = description(&g, 5).unwrap();
        assert_eq!(d.members[0].subscription.as_ref(), Some(&sub));
        assert_eq!(d.members[0].assignment.as_ref(), Some(&assignment));
        assert_eq!(d.partition_assignor, "range");
        assert_eq!(d.authorized_operations, None);

        let other = DescribedGroup {
            protocol_type: "connect".into(),
            ..g
        };
        let d = description(&other, 5).unwrap();
        assert!(d.members[0].subscription.is_none());
        assert_eq!(d.members[0].metadata_bytes, m.member_metadata);
    }
}
