//! The inputs and outputs of a group's state machine: what each request brings, what each
//! answer carries, and how DescribeGroups sees a group. Plain data, converted from and to
//! the wire messages by the handlers.

use bytes::Bytes;
use kafka_protocol::ErrorCode;

use super::GroupState;
use super::member::{Protocol, Ticket};

/// A JoinGroup request.
#[derive(Debug, Clone, Default)]
pub(crate) struct JoinArgs {
    /// Empty for a new member.
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: i64,
    pub rebalance_timeout: i64,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
    /// v4+: a new dynamic member must first obtain its id (MEMBER_ID_REQUIRED).
    pub require_known_member_id: bool,
    /// v9+: a rejoining static leader can be told to skip the assignment.
    pub supports_skip_assignment: bool,
}

/// The answer to a parked (or immediately answered) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Completion {
    Join(Ticket, JoinResult),
    Sync(Ticket, SyncResult),
}

/// What a JoinGroup gets back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinResult {
    pub error: ErrorCode,
    pub member_id: String,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub skip_assignment: bool,
    /// Every member and its metadata for the chosen protocol: for the leader only.
    pub members: Vec<JoinedMember>,
}

impl JoinResult {
    /// A failed join: generation -1, no protocol, no leader.
    pub fn error(member_id: impl Into<String>, error: ErrorCode) -> Self {
        Self {
            error,
            member_id: member_id.into(),
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            members: Vec::new(),
        }
    }
}

/// One member as the leader sees it in its JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinedMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub metadata: Bytes,
}

/// What a SyncGroup gets back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncResult {
    pub error: ErrorCode,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub fn error(error: ErrorCode) -> Self {
        Self {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// A SyncGroup request.
#[derive(Debug, Clone, Default)]
pub(crate) struct SyncArgs {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub generation_id: i32,
    /// Checked against the group's from v5 (absent before).
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// The leader's assignment, by member id (ignored from followers).
    pub assignments: Vec<(String, Bytes)>,
}

/// One member named in a LeaveGroup.
#[derive(Debug, Clone, Default)]
pub(crate) struct LeavingMember {
    pub member_id: String,
    pub instance_id: Option<String>,
}

/// DescribeGroups' view of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupDescription {
    pub state: GroupState,
    pub protocol_type: String,
    /// The chosen protocol, only while Stable (as Kafka).
    pub protocol: String,
    pub members: Vec<DescribedMember>,
}

/// A member in DescribeGroups: metadata and assignment only while the group is Stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DescribedMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}
