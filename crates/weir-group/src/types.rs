//! Inputs and outputs of the coordinator: configuration, effects, the
//! version-independent results the broker encodes, and errors.

use bytes::Bytes;

use crate::record::GroupRecord;

/// Identifies a parked JoinGroup/SyncGroup request; chosen by the driver.
pub type RequestId = u64;

/// Kafka's broker settings for groups and offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay_ms: i32,
    /// `group.max.size`.
    pub max_size: usize,
    /// `offset.metadata.max.bytes`.
    pub offset_metadata_max_bytes: usize,
    /// `offsets.retention.minutes`, in milliseconds.
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`.
    pub offsets_retention_check_interval_ms: i64,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            max_size: i32::MAX as usize,
            offset_metadata_max_bytes: 4_096,
            offsets_retention_ms: 7 * 24 * 60 * 60 * 1000,
            offsets_retention_check_interval_ms: 600_000,
        }
    }
}

/// What the driver must do after a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Append these records (all for `group_id`'s partition of
    /// `__consumer_offsets`), in order, before anything that follows.
    Persist {
        /// The group whose partition receives the records.
        group_id: String,
        /// Records in append order.
        records: Vec<GroupRecord>,
    },
    /// Append these records as one transactional batch of the producer
    /// (offsets committed inside a transaction, TxnOffsetCommit), checked
    /// against its epoch. Only once the batch is appended does the driver
    /// feed the records, in order, to [`GroupCoordinator::replay_txn`]
    /// (which holds them as pending until the transaction's marker): a
    /// refused batch must change nothing.
    ///
    /// [`GroupCoordinator::replay_txn`]: crate::GroupCoordinator::replay_txn
    PersistTxn {
        /// The group whose partition receives the records.
        group_id: String,
        /// Producer id of the transaction.
        producer_id: i64,
        /// Its epoch.
        producer_epoch: i16,
        /// Records in append order.
        records: Vec<GroupRecord>,
    },
    /// Answer a parked request, once every earlier `Persist` of the same
    /// call is durable.
    Respond(RequestId, Response),
}

/// The answer to a parked request.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// A JoinGroup answer.
    Join(JoinOutcome),
    /// A SyncGroup answer.
    Sync(SyncOutcome),
}

/// One member as the JoinGroup leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinMember {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// The member's metadata for the selected protocol.
    pub metadata: Bytes,
}

/// A JoinGroup answer, independent of the request version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinOutcome {
    /// Error, if any.
    pub error: Option<GroupError>,
    /// Generation id (-1 on error).
    pub generation_id: i32,
    /// Protocol type.
    pub protocol_type: Option<String>,
    /// Selected protocol.
    pub protocol_name: Option<String>,
    /// Leader's member id.
    pub leader: String,
    /// The receiver's member id (also set with MEMBER_ID_REQUIRED).
    pub member_id: String,
    /// Members with their metadata (leader only).
    pub members: Vec<JoinMember>,
    /// A static leader rejoining a stable group keeps the assignment (v9+).
    pub skip_assignment: bool,
}

impl JoinOutcome {
    /// An error answer.
    pub fn failed(error: GroupError, member_id: &str) -> JoinOutcome {
        JoinOutcome {
            error: Some(error),
            generation_id: -1,
            member_id: member_id.to_string(),
            ..Default::default()
        }
    }
}

/// A SyncGroup answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncOutcome {
    /// Error, if any.
    pub error: Option<GroupError>,
    /// Protocol type.
    pub protocol_type: Option<String>,
    /// Selected protocol.
    pub protocol_name: Option<String>,
    /// The member's assignment.
    pub assignment: Bytes,
}

impl SyncOutcome {
    /// An error answer.
    pub fn failed(error: GroupError) -> SyncOutcome {
        SyncOutcome {
            error: Some(error),
            ..Default::default()
        }
    }
}

/// A direct (not parked) result plus the effects the call caused.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<T> {
    /// The caller's answer, sent after the effects' records are durable.
    pub result: T,
    /// Records to persist and parked requests to answer.
    pub effects: Vec<Effect>,
}

/// A committed offset as OffsetFetch returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Offset.
    pub offset: i64,
    /// Leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// Metadata string.
    pub metadata: String,
    /// Commit time (ms).
    pub commit_timestamp_ms: i64,
}

/// One partition of an OffsetCommit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitPartition {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset to commit.
    pub offset: i64,
    /// Leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// Metadata string (`None` is stored as empty).
    pub metadata: Option<String>,
}

/// The group part of an OffsetCommit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRequest {
    /// Group id.
    pub group_id: String,
    /// Generation (-1 for a commit from outside the group).
    pub generation_id: i32,
    /// Member id ("" outside the group).
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
    /// Partitions.
    pub partitions: Vec<CommitPartition>,
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// Kafka's state name (`Dead` for an unknown group).
    pub state: String,
    /// Protocol type.
    pub protocol_type: String,
    /// Selected protocol (empty unless Stable).
    pub protocol: String,
    /// Members.
    pub members: Vec<MemberDescription>,
}

/// One member in DescribeGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// Member id.
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Metadata for the selected protocol (empty unless Stable).
    pub metadata: Bytes,
    /// Assignment (empty unless Stable).
    pub assignment: Bytes,
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Protocol type ("" for groups that only hold offsets).
    pub protocol_type: String,
    /// Kafka's state name.
    pub state: String,
}

/// Why a group operation failed. Each maps to one Kafka error code in the
/// broker's error module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// The group is being deleted or not loaded.
    #[error("coordinator not available")]
    CoordinatorNotAvailable,
    /// Empty or otherwise invalid group id.
    #[error("invalid group id")]
    InvalidGroupId,
    /// Session timeout outside the broker's bounds.
    #[error("invalid session timeout")]
    InvalidSessionTimeout,
    /// The member's protocols do not match the group's.
    #[error("inconsistent group protocol")]
    InconsistentGroupProtocol,
    /// The member id is not in the group.
    #[error("unknown member id")]
    UnknownMemberId,
    /// The generation is not the group's current one.
    #[error("illegal generation")]
    IllegalGeneration,
    /// The group is rebalancing.
    #[error("rebalance in progress")]
    RebalanceInProgress,
    /// JoinGroup v4+: rejoin with the member id given in the answer.
    #[error("member id required")]
    MemberIdRequired,
    /// `group.max.size` members already.
    #[error("group max size reached")]
    GroupMaxSizeReached,
    /// Another member holds this `group.instance.id`.
    #[error("fenced instance id")]
    FencedInstanceId,
    /// The group does not exist.
    #[error("group id not found")]
    GroupIdNotFound,
    /// The group still has members.
    #[error("group not empty")]
    NonEmptyGroup,
    /// OffsetDelete of a topic a member subscribes to.
    #[error("group subscribed to topic")]
    GroupSubscribedToTopic,
    /// Commit metadata longer than `offset.metadata.max.bytes`.
    #[error("offset metadata too large")]
    OffsetMetadataTooLarge,
    /// The topic or partition does not exist.
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
}
