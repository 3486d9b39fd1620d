//! Kafka's error table: every error code a broker can put in a response, as a typed enum.
//!
//! Responses carry errors as bare `int16` fields; [`ErrorCode`] gives each known code a
//! variant, its Kafka name, whether the Java client treats it as retriable, and a short
//! description. Codes this table does not know (a newer broker) are kept as
//! [`ErrorCode::Unknown`] rather than collapsed, so nothing read from the wire is lost and a
//! proxy or broker can pass them on unchanged.
//!
//! The numbers and names follow Apache Kafka's `Errors.java`; `retriable` is true exactly
//! where Kafka's exception for the code extends `RetriableException`. The descriptions are
//! this crate's own.

use std::fmt;
use std::hash::{Hash, Hasher};

/// Builds [`ErrorCode`] and its lookups from one table, so a code, its name, its
/// retriability and its description can never drift apart.
macro_rules! error_codes {
    ($( ($variant:ident, $code:literal, $name:literal, $retriable:literal, $desc:literal) ),* $(,)?) => {
        /// A Kafka protocol error code.
        ///
        /// Build one from the wire with [`ErrorCode::from_code`] (or `From<i16>`), which maps
        /// unrecognised codes to [`ErrorCode::Unknown`]. Equality and hashing go by the numeric
        /// code, so `Unknown(3)` equals `UnknownTopicOrPartition`.
        ///
        /// ```
        /// use kafka_protocol::ErrorCode;
        ///
        /// let e = ErrorCode::from_code(6);
        /// assert_eq!(e, ErrorCode::NotLeaderOrFollower);
        /// assert_eq!(e.name(), "NOT_LEADER_OR_FOLLOWER");
        /// assert!(e.is_retriable());
        /// assert_eq!(i16::from(ErrorCode::from_code(999)), 999);
        /// ```
        #[derive(Debug, Clone, Copy)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(
                #[doc = $desc]
                $variant,
            )*
            /// A code this table does not know, kept as received.
            Unknown(i16),
        }

        impl ErrorCode {
            /// Every known code, in ascending numeric order (no [`ErrorCode::Unknown`]).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The error for a wire code; unrecognised codes become [`ErrorCode::Unknown`].
            pub const fn from_code(code: i16) -> Self {
                match code {
                    $($code => ErrorCode::$variant,)*
                    other => ErrorCode::Unknown(other),
                }
            }

            /// The numeric code as it appears on the wire.
            pub const fn code(self) -> i16 {
                match self {
                    $(ErrorCode::$variant => $code,)*
                    ErrorCode::Unknown(code) => code,
                }
            }

            /// Kafka's UPPER_SNAKE_CASE name, or `"UNKNOWN_ERROR_CODE"` for an unknown code.
            pub const fn name(self) -> &'static str {
                // Normalise first so that a hand-built `Unknown(known)` still gets its name.
                match Self::from_code(self.code()) {
                    $(ErrorCode::$variant => $name,)*
                    ErrorCode::Unknown(_) => "UNKNOWN_ERROR_CODE",
                }
            }

            /// Whether retrying the same request may succeed: true exactly where the Java
            /// client's exception for this code extends `RetriableException`. Unknown codes are
            /// not retriable, as in the Java client (it maps them to `UNKNOWN_SERVER_ERROR`).
            pub const fn is_retriable(self) -> bool {
                match Self::from_code(self.code()) {
                    $(ErrorCode::$variant => $retriable,)*
                    ErrorCode::Unknown(_) => false,
                }
            }

            /// A one-sentence explanation of the error.
            pub const fn description(self) -> &'static str {
                match Self::from_code(self.code()) {
                    $(ErrorCode::$variant => $desc,)*
                    ErrorCode::Unknown(_) => "The broker returned an error code this library does not recognise.",
                }
            }
        }
    };
}

error_codes! {
    (UnknownServerError, -1, "UNKNOWN_SERVER_ERROR", false, "The broker hit an unexpected internal failure while handling the request."),
    (None, 0, "NONE", false, "No error: the operation succeeded."),
    (OffsetOutOfRange, 1, "OFFSET_OUT_OF_RANGE", false, "The requested offset lies outside the range the partition currently holds."),
    (CorruptMessage, 2, "CORRUPT_MESSAGE", true, "A record failed its checksum or size validation, or is otherwise malformed."),
    (UnknownTopicOrPartition, 3, "UNKNOWN_TOPIC_OR_PARTITION", true, "The broker does not host the named topic or partition."),
    (InvalidFetchSize, 4, "INVALID_FETCH_SIZE", false, "The fetch size given in the request is not acceptable."),
    (LeaderNotAvailable, 5, "LEADER_NOT_AVAILABLE", true, "The partition has no leader right now, usually because an election is under way."),
    (NotLeaderOrFollower, 6, "NOT_LEADER_OR_FOLLOWER", true, "The broker is not the partition's leader or, for requests any replica may serve, not one of its replicas."),
    (RequestTimedOut, 7, "REQUEST_TIMED_OUT", true, "The broker did not complete the request within its timeout."),
    (BrokerNotAvailable, 8, "BROKER_NOT_AVAILABLE", false, "The addressed broker is not available."),
    (ReplicaNotAvailable, 9, "REPLICA_NOT_AVAILABLE", true, "A replica of the partition is not available."),
    (MessageTooLarge, 10, "MESSAGE_TOO_LARGE", false, "A record exceeds the largest message size the broker accepts."),
    (StaleControllerEpoch, 11, "STALE_CONTROLLER_EPOCH", false, "The request carried an outdated controller epoch because the controller has moved."),
    (OffsetMetadataTooLarge, 12, "OFFSET_METADATA_TOO_LARGE", false, "The metadata string attached to an offset commit is too long."),
    (NetworkException, 13, "NETWORK_EXCEPTION", true, "The connection was closed before a response arrived."),
    (CoordinatorLoadInProgress, 14, "COORDINATOR_LOAD_IN_PROGRESS", true, "The coordinator is still loading its state and cannot serve requests yet."),
    (CoordinatorNotAvailable, 15, "COORDINATOR_NOT_AVAILABLE", true, "The group or transaction coordinator is not available."),
    (NotCoordinator, 16, "NOT_COORDINATOR", true, "The broker is not the coordinator for this group or transactional id."),
    (InvalidTopicException, 17, "INVALID_TOPIC_EXCEPTION", false, "The topic name is invalid or the operation is not allowed on this topic."),
    (RecordListTooLarge, 18, "RECORD_LIST_TOO_LARGE", false, "A record batch is larger than the broker's configured segment size."),
    (NotEnoughReplicas, 19, "NOT_ENOUGH_REPLICAS", true, "The write was refused because too few replicas are in sync."),
    (NotEnoughReplicasAfterAppend, 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true, "The write reached the log but was acknowledged by fewer in-sync replicas than required."),
    (InvalidRequiredAcks, 21, "INVALID_REQUIRED_ACKS", false, "The produce request's acks value is not a valid setting."),
    (IllegalGeneration, 22, "ILLEGAL_GENERATION", false, "The group generation id in the request is not the current one."),
    (InconsistentGroupProtocol, 23, "INCONSISTENT_GROUP_PROTOCOL", false, "The member's protocol type or protocol list does not fit the group's."),
    (InvalidGroupId, 24, "INVALID_GROUP_ID", false, "The group id is empty or otherwise invalid."),
    (UnknownMemberId, 25, "UNKNOWN_MEMBER_ID", false, "The coordinator does not know this member id."),
    (InvalidSessionTimeout, 26, "INVALID_SESSION_TIMEOUT", false, "The session timeout falls outside the range the broker allows."),
    (RebalanceInProgress, 27, "REBALANCE_IN_PROGRESS", false, "The group is rebalancing and the member has to rejoin."),
    (InvalidCommitOffsetSize, 28, "INVALID_COMMIT_OFFSET_SIZE", false, "The size of the offset commit data is not acceptable."),
    (TopicAuthorizationFailed, 29, "TOPIC_AUTHORIZATION_FAILED", false, "The client is not authorized to access the topic."),
    (GroupAuthorizationFailed, 30, "GROUP_AUTHORIZATION_FAILED", false, "The client is not authorized to access the group."),
    (ClusterAuthorizationFailed, 31, "CLUSTER_AUTHORIZATION_FAILED", false, "The client is not authorized for this cluster-level operation."),
    (InvalidTimestamp, 32, "INVALID_TIMESTAMP", false, "A record timestamp is outside the range the broker accepts."),
    (UnsupportedSaslMechanism, 33, "UNSUPPORTED_SASL_MECHANISM", false, "The broker does not offer the requested SASL mechanism."),
    (IllegalSaslState, 34, "ILLEGAL_SASL_STATE", false, "The request is not allowed at this point of the SASL exchange."),
    (UnsupportedVersion, 35, "UNSUPPORTED_VERSION", false, "The broker does not support this version of the API."),
    (TopicAlreadyExists, 36, "TOPIC_ALREADY_EXISTS", false, "A topic with this name already exists."),
    (InvalidPartitions, 37, "INVALID_PARTITIONS", false, "The requested partition count is not valid."),
    (InvalidReplicationFactor, 38, "INVALID_REPLICATION_FACTOR", false, "The replication factor is below one or exceeds the number of available brokers."),
    (InvalidReplicaAssignment, 39, "INVALID_REPLICA_ASSIGNMENT", false, "The explicit replica assignment is not valid."),
    (InvalidConfig, 40, "INVALID_CONFIG", false, "A configuration value in the request is not valid."),
    (NotController, 41, "NOT_CONTROLLER", true, "The broker is not the active controller."),
    (InvalidRequest, 42, "INVALID_REQUEST", false, "The request is malformed or not valid for this broker; its logs hold the details."),
    (UnsupportedForMessageFormat, 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false, "The broker's message format version cannot serve this request."),
    (PolicyViolation, 44, "POLICY_VIOLATION", false, "The request breaks a policy configured on the broker."),
    (OutOfOrderSequenceNumber, 45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false, "The broker saw a producer sequence number that is out of order."),
    (DuplicateSequenceNumber, 46, "DUPLICATE_SEQUENCE_NUMBER", false, "The broker saw a producer sequence number it has already written."),
    (InvalidProducerEpoch, 47, "INVALID_PRODUCER_EPOCH", false, "The producer used an epoch older than the current one."),
    (InvalidTxnState, 48, "INVALID_TXN_STATE", false, "The transactional operation is not valid in the transaction's current state."),
    (InvalidProducerIdMapping, 49, "INVALID_PRODUCER_ID_MAPPING", false, "The producer id is not the one currently assigned to the transactional id."),
    (InvalidTransactionTimeout, 50, "INVALID_TRANSACTION_TIMEOUT", false, "The transaction timeout exceeds the broker's transaction.max.timeout.ms."),
    (ConcurrentTransactions, 51, "CONCURRENT_TRANSACTIONS", true, "Another operation on the same transaction is still in progress."),
    (TransactionCoordinatorFenced, 52, "TRANSACTION_COORDINATOR_FENCED", false, "The transaction coordinator that sent the marker is no longer the current one."),
    (TransactionalIdAuthorizationFailed, 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false, "The client is not authorized to use the transactional id."),
    (SecurityDisabled, 54, "SECURITY_DISABLED", false, "Security features are not enabled on the broker."),
    (OperationNotAttempted, 55, "OPERATION_NOT_ATTEMPTED", false, "The broker skipped this operation because another one in the same batch failed."),
    (KafkaStorageError, 56, "KAFKA_STORAGE_ERROR", true, "The broker hit a disk error while accessing the log."),
    (LogDirNotFound, 57, "LOG_DIR_NOT_FOUND", false, "The named log directory is not configured on the broker."),
    (SaslAuthenticationFailed, 58, "SASL_AUTHENTICATION_FAILED", false, "SASL authentication did not succeed."),
    (UnknownProducerId, 59, "UNKNOWN_PRODUCER_ID", false, "The broker holds no state for this producer id, for example because its records expired."),
    (ReassignmentInProgress, 60, "REASSIGNMENT_IN_PROGRESS", false, "A partition reassignment is already in progress."),
    (DelegationTokenAuthDisabled, 61, "DELEGATION_TOKEN_AUTH_DISABLED", false, "Delegation tokens are not enabled on the broker."),
    (DelegationTokenNotFound, 62, "DELEGATION_TOKEN_NOT_FOUND", false, "The broker has no such delegation token."),
    (DelegationTokenOwnerMismatch, 63, "DELEGATION_TOKEN_OWNER_MISMATCH", false, "The principal is neither the owner nor a renewer of the delegation token."),
    (DelegationTokenRequestNotAllowed, 64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false, "Delegation token requests are refused on this kind of connection."),
    (DelegationTokenAuthorizationFailed, 65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", false, "The client is not authorized for this delegation token operation."),
    (DelegationTokenExpired, 66, "DELEGATION_TOKEN_EXPIRED", false, "The delegation token has expired."),
    (InvalidPrincipalType, 67, "INVALID_PRINCIPAL_TYPE", false, "The principal type is not supported."),
    (NonEmptyGroup, 68, "NON_EMPTY_GROUP", false, "The operation needs an empty group but the group still has members."),
    (GroupIdNotFound, 69, "GROUP_ID_NOT_FOUND", false, "No group with this id exists."),
    (FetchSessionIdNotFound, 70, "FETCH_SESSION_ID_NOT_FOUND", true, "The broker has no fetch session with this id."),
    (InvalidFetchSessionEpoch, 71, "INVALID_FETCH_SESSION_EPOCH", true, "The fetch session epoch does not match the broker's."),
    (ListenerNotFound, 72, "LISTENER_NOT_FOUND", true, "The leader has no listener matching the one the metadata request arrived on."),
    (TopicDeletionDisabled, 73, "TOPIC_DELETION_DISABLED", false, "Topic deletion is disabled on the cluster."),
    (FencedLeaderEpoch, 74, "FENCED_LEADER_EPOCH", true, "The request's leader epoch is older than the broker's."),
    (UnknownLeaderEpoch, 75, "UNKNOWN_LEADER_EPOCH", true, "The request's leader epoch is newer than any the broker knows."),
    (UnsupportedCompressionType, 76, "UNSUPPORTED_COMPRESSION_TYPE", false, "The client cannot read the compression type used for the partition."),
    (StaleBrokerEpoch, 77, "STALE_BROKER_EPOCH", false, "The broker epoch in the request is out of date."),
    (OffsetNotAvailable, 78, "OFFSET_NOT_AVAILABLE", true, "The new leader's high watermark has not caught up yet, so offsets cannot be served safely."),
    (MemberIdRequired, 79, "MEMBER_ID_REQUIRED", false, "The member must obtain a member id before it can join the group."),
    (PreferredLeaderNotAvailable, 80, "PREFERRED_LEADER_NOT_AVAILABLE", true, "The preferred leader replica is not available."),
    (GroupMaxSizeReached, 81, "GROUP_MAX_SIZE_REACHED", false, "The group already has the maximum number of members."),
    (FencedInstanceId, 82, "FENCED_INSTANCE_ID", false, "Another member registered with the same group.instance.id, so this static member was fenced."),
    (EligibleLeadersNotAvailable, 83, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true, "No eligible leader is available for the partition."),
    (ElectionNotNeeded, 84, "ELECTION_NOT_NEEDED", true, "The partition already has the desired leader, so no election is needed."),
    (NoReassignmentInProgress, 85, "NO_REASSIGNMENT_IN_PROGRESS", false, "There is no partition reassignment in progress to act on."),
    (GroupSubscribedToTopic, 86, "GROUP_SUBSCRIBED_TO_TOPIC", false, "Offsets cannot be deleted while the group is subscribed to the topic."),
    (InvalidRecord, 87, "INVALID_RECORD", false, "The broker rejected a record that failed its validation."),
    (UnstableOffsetCommit, 88, "UNSTABLE_OFFSET_COMMIT", true, "Pending transactional offsets must settle before committed offsets can be returned."),
    (ThrottlingQuotaExceeded, 89, "THROTTLING_QUOTA_EXCEEDED", true, "The request exceeded a throttling quota."),
    (ProducerFenced, 90, "PRODUCER_FENCED", false, "A newer producer with the same transactional id has fenced this one."),
    (ResourceNotFound, 91, "RESOURCE_NOT_FOUND", false, "The request refers to a resource that does not exist."),
    (DuplicateResource, 92, "DUPLICATE_RESOURCE", false, "The request names the same resource more than once."),
    (UnacceptableCredential, 93, "UNACCEPTABLE_CREDENTIAL", false, "The requested credential does not meet the acceptability criteria."),
    (InconsistentVoterSet, 94, "INCONSISTENT_VOTER_SET", false, "The sender or receiver of a voter-only request is not an expected voter."),
    (InvalidUpdateVersion, 95, "INVALID_UPDATE_VERSION", false, "The feature update version is not valid."),
    (FeatureUpdateFailed, 96, "FEATURE_UPDATE_FAILED", false, "Finalized features could not be updated because of an unexpected broker error."),
    (PrincipalDeserializationFailure, 97, "PRINCIPAL_DESERIALIZATION_FAILURE", false, "The broker could not deserialize the principal of a forwarded request."),
    (SnapshotNotFound, 98, "SNAPSHOT_NOT_FOUND", false, "The requested snapshot does not exist."),
    (PositionOutOfRange, 99, "POSITION_OUT_OF_RANGE", false, "The requested snapshot position is negative or beyond the snapshot's size."),
    (UnknownTopicId, 100, "UNKNOWN_TOPIC_ID", true, "The broker does not host a topic with this id."),
    (DuplicateBrokerRegistration, 101, "DUPLICATE_BROKER_REGISTRATION", false, "Another broker is already registered with this id."),
    (BrokerIdNotRegistered, 102, "BROKER_ID_NOT_REGISTERED", false, "No broker is registered with this id."),
    (InconsistentTopicId, 103, "INCONSISTENT_TOPIC_ID", true, "The topic id in the request does not match the id recorded in the log."),
    (InconsistentClusterId, 104, "INCONSISTENT_CLUSTER_ID", false, "The cluster id in the request does not match the server's."),
    (TransactionalIdNotFound, 105, "TRANSACTIONAL_ID_NOT_FOUND", false, "No transaction exists for this transactional id."),
    (FetchSessionTopicIdError, 106, "FETCH_SESSION_TOPIC_ID_ERROR", true, "The fetch session used topic ids inconsistently."),
    (IneligibleReplica, 107, "INELIGIBLE_REPLICA", false, "The proposed in-sync replica set includes a replica that is not eligible."),
    (NewLeaderElected, 108, "NEW_LEADER_ELECTED", false, "The partition state was updated, but a new leader has been elected since."),
    (OffsetMovedToTieredStorage, 109, "OFFSET_MOVED_TO_TIERED_STORAGE", false, "The requested offset is now only in tiered storage."),
    (FencedMemberEpoch, 110, "FENCED_MEMBER_EPOCH", false, "The coordinator fenced the member's epoch; it must give up its partitions and rejoin."),
    (UnreleasedInstanceId, 111, "UNRELEASED_INSTANCE_ID", false, "Another member still holds this instance id and has to leave first."),
    (UnsupportedAssignor, 112, "UNSUPPORTED_ASSIGNOR", false, "The group does not support the requested assignor or assignor version."),
    (StaleMemberEpoch, 113, "STALE_MEMBER_EPOCH", false, "The member epoch is stale; the member should retry once it has learned its current epoch."),
    (MismatchedEndpointType, 114, "MISMATCHED_ENDPOINT_TYPE", false, "The request reached an endpoint of the wrong type."),
    (UnsupportedEndpointType, 115, "UNSUPPORTED_ENDPOINT_TYPE", false, "This type of endpoint is not supported yet."),
    (UnknownControllerId, 116, "UNKNOWN_CONTROLLER_ID", false, "No controller with this id is known."),
    (UnknownSubscriptionId, 117, "UNKNOWN_SUBSCRIPTION_ID", false, "The telemetry subscription id is unknown or out of date."),
    (TelemetryTooLarge, 118, "TELEMETRY_TOO_LARGE", false, "The pushed telemetry exceeds the broker's size limit."),
    (InvalidRegistration, 119, "INVALID_REGISTRATION", false, "The controller judged the broker's registration to be invalid."),
    (TransactionAbortable, 120, "TRANSACTION_ABORTABLE", false, "The transaction hit an error; aborting it lets the transactional id be used again."),
    (InvalidRecordState, 121, "INVALID_RECORD_STATE", false, "The record is not in a state that allows this acknowledgement."),
    (ShareSessionNotFound, 122, "SHARE_SESSION_NOT_FOUND", true, "The broker has no share session with this id."),
    (InvalidShareSessionEpoch, 123, "INVALID_SHARE_SESSION_EPOCH", true, "The share session epoch does not match the broker's."),
    (FencedStateEpoch, 124, "FENCED_STATE_EPOCH", false, "The share coordinator refused the request because the share-group state epoch did not match."),
    (InvalidVoterKey, 125, "INVALID_VOTER_KEY", false, "The voter key does not match the receiving replica's key."),
    (DuplicateVoter, 126, "DUPLICATE_VOTER", false, "The voter already belongs to the voter set."),
    (VoterNotFound, 127, "VOTER_NOT_FOUND", false, "The voter is not a member of the voter set."),
    (InvalidRegularExpression, 128, "INVALID_REGULAR_EXPRESSION", false, "The regular expression in the request is not valid."),
    (RebootstrapRequired, 129, "REBOOTSTRAP_REQUIRED", false, "The client's metadata is stale and it should bootstrap again."),
    (StreamsInvalidTopology, 130, "STREAMS_INVALID_TOPOLOGY", false, "The Streams topology supplied is not valid."),
    (StreamsInvalidTopologyEpoch, 131, "STREAMS_INVALID_TOPOLOGY_EPOCH", false, "The Streams topology epoch supplied is not valid."),
    (StreamsTopologyFenced, 132, "STREAMS_TOPOLOGY_FENCED", false, "The Streams topology epoch supplied is older than the current one."),
    (ShareSessionLimitReached, 133, "SHARE_SESSION_LIMIT_REACHED", true, "The broker has reached its limit of open share sessions."),
}

impl ErrorCode {
    /// True for [`ErrorCode::None`], the code of a successful operation.
    pub const fn is_ok(self) -> bool {
        self.code() == 0
    }

    /// `Ok(())` for [`ErrorCode::None`], otherwise `Err(self)`, so a response's error field
    /// can be checked with `?`.
    pub const fn into_result(self) -> Result<(), ErrorCode> {
        if self.is_ok() { Ok(()) } else { Err(self) }
    }
}

// Equality and hashing go by the wire code, so a hand-built `Unknown(n)` for a known `n`
// is the same error as the named variant.
impl PartialEq for ErrorCode {
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code()
    }
}

impl Eq for ErrorCode {}

impl Hash for ErrorCode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.code().hash(state);
    }
}

impl Default for ErrorCode {
    /// [`ErrorCode::None`], matching the zero default of an `int16` error field.
    fn default() -> Self {
        ErrorCode::None
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

impl std::error::Error for ErrorCode {}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        ErrorCode::from_code(code)
    }
}

impl From<ErrorCode> for i16 {
    fn from(error: ErrorCode) -> Self {
        error.code()
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use std::collections::HashSet;

    #[test]
    fn every_known_code_round_trips() {
        for &e in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(e.code()), e);
            assert!(
                !matches!(ErrorCode::from_code(e.code()), ErrorCode::Unknown(_)),
                "{e}"
            );
            assert_eq!(i16::from(ErrorCode::from(e.code())), e.code());
        }
    }

    #[test]
    fn table_is_contiguous_unique_and_well_formed() {
        // Kafka assigns codes densely from -1; a gap or repeat means a typo in the table.
        let codes: Vec<i16> = ErrorCode::ALL.iter().map(|e| e.code()).collect();
        let expected: Vec<i16> = (-1..=133).collect();
        assert_eq!(codes, expected);
        let names: HashSet<&str> = ErrorCode::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for &e in ErrorCode::ALL {
            let name = e.name();
            assert!(
                name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{name}"
            );
            let desc = e.description();
            assert!(desc.ends_with('.') && desc.len() > 10, "{name}: {desc}");
        }
    }

    #[test]
    fn unknown_codes_are_preserved() {
        for code in [-2, 134, 1000, i16::MAX, i16::MIN] {
            let e = ErrorCode::from_code(code);
            assert_eq!(e, ErrorCode::Unknown(code));
            assert_eq!(e.code(), code);
            assert_eq!(e.name(), "UNKNOWN_ERROR_CODE");
            assert!(!e.is_retriable());
            assert!(!e.is_ok());
        }
        assert_eq!(
            ErrorCode::from_code(1000).to_string(),
            "UNKNOWN_ERROR_CODE (1000)"
        );
    }

    #[test]
    fn hand_built_unknown_of_a_known_code_is_that_code() {
        let e = ErrorCode::Unknown(3);
        assert_eq!(e, ErrorCode::UnknownTopicOrPartition);
        assert_eq!(e.name(), "UNKNOWN_TOPIC_OR_PARTITION");
        assert!(e.is_retriable());
        let set: HashSet<ErrorCode> = [e, ErrorCode::UnknownTopicOrPartition].into();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn names_and_codes_match_kafka() {
        let spot = [
            (ErrorCode::UnknownServerError, -1, "UNKNOWN_SERVER_ERROR"),
            (ErrorCode::None, 0, "NONE"),
            (ErrorCode::NotLeaderOrFollower, 6, "NOT_LEADER_OR_FOLLOWER"),
            (ErrorCode::UnsupportedVersion, 35, "UNSUPPORTED_VERSION"),
            (ErrorCode::ProducerFenced, 90, "PRODUCER_FENCED"),
            (ErrorCode::UnknownTopicId, 100, "UNKNOWN_TOPIC_ID"),
            (ErrorCode::InvalidRecordState, 121, "INVALID_RECORD_STATE"),
            (
                ErrorCode::InvalidRegularExpression,
                128,
                "INVALID_REGULAR_EXPRESSION",
            ),
            (
                ErrorCode::StreamsInvalidTopology,
                130,
                "STREAMS_INVALID_TOPOLOGY",
            ),
            (
                ErrorCode::ShareSessionLimitReached,
                133,
                "SHARE_SESSION_LIMIT_REACHED",
            ),
        ];
        for (e, code, name) in spot {
            assert_eq!((e.code(), e.name()), (code, name));
        }
    }

    #[test]
    fn retriable_follows_the_java_client() {
        use ErrorCode::*;
        for e in [
            CorruptMessage,
            UnknownTopicOrPartition,
            LeaderNotAvailable,
            NotLeaderOrFollower,
            RequestTimedOut,
            NetworkException,
            CoordinatorLoadInProgress,
            CoordinatorNotAvailable,
            NotCoordinator,
            NotEnoughReplicas,
            NotEnoughReplicasAfterAppend,
            NotController,
            ConcurrentTransactions,
            KafkaStorageError,
            FetchSessionIdNotFound,
            InvalidFetchSessionEpoch,
            FencedLeaderEpoch,
            UnknownLeaderEpoch,
            OffsetNotAvailable,
            PreferredLeaderNotAvailable,
            UnstableOffsetCommit,
            ThrottlingQuotaExceeded,
            UnknownTopicId,
            ShareSessionNotFound,
        ] {
            assert!(e.is_retriable(), "{e} should be retriable");
        }
        for e in [
            None,
            UnknownServerError,
            OffsetOutOfRange,
            BrokerNotAvailable,
            MessageTooLarge,
            TopicAuthorizationFailed,
            RebalanceInProgress,
            UnsupportedVersion,
            ProducerFenced,
            InvalidProducerEpoch,
            TransactionAbortable,
            FencedStateEpoch,
        ] {
            assert!(!e.is_retriable(), "{e} should not be retriable");
        }
        let count = ErrorCode::ALL.iter().filter(|e| e.is_retriable()).count();
        assert_eq!(count, 32);
    }

    #[test]
    fn ok_display_and_result() {
        assert!(ErrorCode::None.is_ok());
        assert!(!ErrorCode::NotCoordinator.is_ok());
        assert_eq!(ErrorCode::default(), ErrorCode::None);
        assert_eq!(ErrorCode::None.into_result(), Ok(()));
        assert_eq!(
            ErrorCode::from(16).into_result(),
            Err(ErrorCode::NotCoordinator)
        );
        assert_eq!(
            ErrorCode::NotCoordinator.to_string(),
            "NOT_COORDINATOR (16)"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(ErrorCode::RequestTimedOut);
        assert_eq!(boxed.to_string(), "REQUEST_TIMED_OUT (7)");
    }
}
