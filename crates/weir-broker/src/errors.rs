//! The one place where internal errors become Kafka error codes.
//!
//! Every handler reports failures through [`ErrorCode`]; the mapping from the
//! typed errors of the lower crates (storage, record batches, metadata) lives
//! here and is covered by a table-driven test.

use weir_metadata::topics::CreateTopicError;
use weir_protocol::record_batch::BatchError;
use weir_storage::StorageError;

use weir_group::GroupError;

use crate::partition::AppendError;
use crate::producer_state::{MarkerRefused, SequenceError};
use crate::txn_service::TxnCallError;
use weir_txn::TxnError;

/// Kafka error codes Weir answers with (`org.apache.kafka.common.protocol.Errors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i16)]
pub enum ErrorCode {
    /// Success.
    None = 0,
    /// Unexpected server error.
    UnknownServerError = -1,
    /// Requested offset is outside the log.
    OffsetOutOfRange = 1,
    /// CRC or structure of a batch is wrong.
    CorruptMessage = 2,
    /// Unknown topic or partition.
    UnknownTopicOrPartition = 3,
    /// No leader for the partition right now.
    LeaderNotAvailable = 5,
    /// This broker does not lead the partition.
    NotLeaderOrFollower = 6,
    /// The request timed out.
    RequestTimedOut = 7,
    /// A batch is larger than `max.message.bytes`.
    MessageTooLarge = 10,
    /// OffsetCommit metadata longer than `offset.metadata.max.bytes`.
    OffsetMetadataTooLarge = 12,
    /// The group coordinator is not available (loading, or group dying).
    CoordinatorNotAvailable = 15,
    /// This broker is not the coordinator for the key.
    NotCoordinator = 16,
    /// Illegal topic name or internal topic misuse.
    InvalidTopicException = 17,
    /// Produce request larger than the socket limit.
    RecordListTooLarge = 18,
    /// acks=all while the in-sync replicas are fewer than
    /// `min.insync.replicas` (nothing was written).
    NotEnoughReplicas = 19,
    /// `acks` other than -1, 0, 1.
    InvalidRequiredAcks = 21,
    /// Stale group generation.
    IllegalGeneration = 22,
    /// Member protocols incompatible with the group's.
    InconsistentGroupProtocol = 23,
    /// Empty or invalid group id.
    InvalidGroupId = 24,
    /// Member id not in the group.
    UnknownMemberId = 25,
    /// Session timeout outside the broker's bounds.
    InvalidSessionTimeout = 26,
    /// The group is rebalancing.
    RebalanceInProgress = 27,
    /// Timestamp out of the allowed range.
    InvalidTimestamp = 32,
    /// API version not supported.
    UnsupportedVersion = 35,
    /// Topic already exists.
    TopicAlreadyExists = 36,
    /// Invalid partition count.
    InvalidPartitions = 37,
    /// Invalid replication factor.
    InvalidReplicationFactor = 38,
    /// Invalid manual replica assignment.
    InvalidReplicaAssignment = 39,
    /// Invalid config.
    InvalidConfig = 40,
    /// Malformed request.
    InvalidRequest = 42,
    /// Old message format.
    UnsupportedForMessageFormat = 43,
    /// A log directory failed; the partition is offline.
    KafkaStorageError = 56,
    /// Sequence gap for an idempotent producer.
    OutOfOrderSequenceNumber = 45,
    /// Producer epoch older than the current one.
    InvalidProducerEpoch = 47,
    /// Transactional state does not allow the operation.
    InvalidTxnState = 48,
    /// The producer id does not belong to the transactional id.
    InvalidProducerIdMapping = 49,
    /// `transaction.timeout.ms` above `transaction.max.timeout.ms`.
    InvalidTransactionTimeout = 50,
    /// Another operation on the same transaction is in progress; retry.
    ConcurrentTransactions = 51,
    /// A marker from an older transaction coordinator.
    TransactionCoordinatorFenced = 52,
    /// The coordinator is still loading its state.
    CoordinatorLoadInProgress = 14,
    /// Producer id unknown to this broker.
    UnknownProducerId = 59,
    /// Not attempted because another part of the request failed.
    OperationNotAttempted = 55,
    /// Offsets of an open transaction are pending for this partition.
    UnstableOffsetCommit = 88,
    /// A newer producer with the same transactional id exists.
    ProducerFenced = 90,
    /// No such transactional id.
    TransactionalIdNotFound = 105,
    /// Fetch session id not found.
    FetchSessionIdNotFound = 70,
    /// Leader epoch in the request is older than ours.
    FencedLeaderEpoch = 74,
    /// Leader epoch in the request is newer than ours.
    UnknownLeaderEpoch = 75,
    /// DeleteGroups of a group with members.
    NonEmptyGroup = 68,
    /// The group does not exist.
    GroupIdNotFound = 69,
    /// JoinGroup v4+: rejoin with the assigned member id.
    MemberIdRequired = 79,
    /// `group.max.size` reached.
    GroupMaxSizeReached = 81,
    /// A newer member holds this static instance id.
    FencedInstanceId = 82,
    /// OffsetDelete of a topic the group subscribes to.
    GroupSubscribedToTopic = 86,
    /// Compression codec not allowed for this request version.
    UnsupportedCompressionType = 76,
    /// Unknown topic id.
    UnknownTopicId = 100,
}

impl ErrorCode {
    /// The wire value.
    pub fn code(self) -> i16 {
        self as i16
    }
}

/// Storage failures on the produce/fetch paths.
pub fn storage_error_code(e: &StorageError) -> ErrorCode {
    match e {
        StorageError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        // A batch that storage refuses was already validated by the broker;
        // if it still fails it is corrupt.
        StorageError::InvalidBatch(_) => ErrorCode::CorruptMessage,
        // I/O failure, corruption found while reading, or a log taken
        // offline after an earlier failure: Kafka answers KAFKA_STORAGE_ERROR
        // so clients refresh metadata and retry elsewhere.
        _ => ErrorCode::KafkaStorageError,
    }
}

/// Append failures (storage or idempotent-producer checks).
pub fn append_error_code(e: &AppendError) -> ErrorCode {
    match e {
        AppendError::Storage(s) => storage_error_code(s),
        AppendError::Sequence(SequenceError::OutOfOrder { .. }) => {
            ErrorCode::OutOfOrderSequenceNumber
        }
        AppendError::Sequence(SequenceError::InvalidProducerEpoch { .. }) => {
            ErrorCode::InvalidProducerEpoch
        }
        AppendError::Sequence(SequenceError::InvalidTxnState { .. }) => ErrorCode::InvalidTxnState,
        AppendError::Marker(MarkerRefused::StaleProducerEpoch { .. }) => {
            ErrorCode::InvalidProducerEpoch
        }
        AppendError::Marker(MarkerRefused::CoordinatorFenced { .. }) => {
            ErrorCode::TransactionCoordinatorFenced
        }
    }
}

/// Transaction coordinator failures. `fenced_as_epoch`: the request
/// version predates PRODUCER_FENCED (KIP-588), so a fenced producer gets
/// INVALID_PRODUCER_EPOCH as older Kafka answered.
pub fn txn_error_code(e: &TxnError, fenced_as_epoch: bool) -> ErrorCode {
    match e {
        TxnError::InvalidProducerIdMapping(_) => ErrorCode::InvalidProducerIdMapping,
        TxnError::ProducerFenced(_) if fenced_as_epoch => ErrorCode::InvalidProducerEpoch,
        TxnError::ProducerFenced(_) => ErrorCode::ProducerFenced,
        TxnError::ConcurrentTransactions(_) => ErrorCode::ConcurrentTransactions,
        TxnError::InvalidTxnState(_) => ErrorCode::InvalidTxnState,
        TxnError::InvalidTransactionTimeout(_) => ErrorCode::InvalidTransactionTimeout,
        TxnError::TransactionalIdNotFound(_) => ErrorCode::TransactionalIdNotFound,
        TxnError::InvalidRequest(_) => ErrorCode::InvalidRequest,
    }
}

/// Transaction coordinator driver failures.
pub fn txn_call_error_code(e: &TxnCallError, fenced_as_epoch: bool) -> ErrorCode {
    match e {
        TxnCallError::Txn(t) => txn_error_code(t, fenced_as_epoch),
        TxnCallError::Loading => ErrorCode::CoordinatorLoadInProgress,
        // Kafka answers NOT_COORDINATOR when the state log append fails
        // (the client looks the coordinator up again and retries).
        TxnCallError::Storage(_) => ErrorCode::NotCoordinator,
        // Markers not written yet: the transaction completes later; the
        // client retries EndTxn and gets CONCURRENT_TRANSACTIONS meanwhile.
        TxnCallError::Markers(_) => ErrorCode::ConcurrentTransactions,
    }
}

/// Record batch validation failures (Produce).
pub fn batch_error_code(e: &BatchError) -> ErrorCode {
    match e {
        // Kafka 3+ refuses message format v0/v1 on produce v3+.
        BatchError::InvalidMagic(_) => ErrorCode::UnsupportedForMessageFormat,
        // Everything else is a structurally broken batch: Kafka's
        // CorruptRecordException (CORRUPT_MESSAGE).
        _ => ErrorCode::CorruptMessage,
    }
}

/// CreateTopics failures.
pub fn create_topic_error_code(e: &CreateTopicError) -> ErrorCode {
    match e {
        CreateTopicError::InvalidName(_) => ErrorCode::InvalidTopicException,
        CreateTopicError::AlreadyExists(_) => ErrorCode::TopicAlreadyExists,
        CreateTopicError::InvalidPartitions(_) => ErrorCode::InvalidPartitions,
        CreateTopicError::InvalidReplicationFactor { .. } => ErrorCode::InvalidReplicationFactor,
        CreateTopicError::InvalidReplicaAssignment(_) => ErrorCode::InvalidReplicaAssignment,
        CreateTopicError::InvalidConfig(_) => ErrorCode::InvalidConfig,
    }
}

/// Group coordinator failures: one Kafka code each, same names.
pub fn group_error_code(e: &GroupError) -> ErrorCode {
    match e {
        GroupError::CoordinatorNotAvailable => ErrorCode::CoordinatorNotAvailable,
        GroupError::InvalidGroupId => ErrorCode::InvalidGroupId,
        GroupError::InvalidSessionTimeout => ErrorCode::InvalidSessionTimeout,
        GroupError::InconsistentGroupProtocol => ErrorCode::InconsistentGroupProtocol,
        GroupError::UnknownMemberId => ErrorCode::UnknownMemberId,
        GroupError::IllegalGeneration => ErrorCode::IllegalGeneration,
        GroupError::RebalanceInProgress => ErrorCode::RebalanceInProgress,
        GroupError::MemberIdRequired => ErrorCode::MemberIdRequired,
        GroupError::GroupMaxSizeReached => ErrorCode::GroupMaxSizeReached,
        GroupError::FencedInstanceId => ErrorCode::FencedInstanceId,
        GroupError::GroupIdNotFound => ErrorCode::GroupIdNotFound,
        GroupError::NonEmptyGroup => ErrorCode::NonEmptyGroup,
        GroupError::GroupSubscribedToTopic => ErrorCode::GroupSubscribedToTopic,
        GroupError::OffsetMetadataTooLarge => ErrorCode::OffsetMetadataTooLarge,
        GroupError::UnknownTopicOrPartition => ErrorCode::UnknownTopicOrPartition,
    }
}

/// The code of an optional group error (`None` is success).
pub fn group_code(e: Option<GroupError>) -> i16 {
    e.map_or(ErrorCode::None, |e| group_error_code(&e)).code()
}

/// The code of a group result.
pub fn group_result_code(r: &Result<(), GroupError>) -> i16 {
    group_code(r.err())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_metadata::names::TopicNameError;
    use weir_metadata::topic_config::ConfigError;

    #[test]
    fn error_table() {
        let cases: Vec<(ErrorCode, i16)> = vec![
            (
                batch_error_code(&BatchError::CorruptCrc {
                    expected: 1,
                    actual: 2,
                }),
                2,
            ),
            (batch_error_code(&BatchError::InvalidMagic(1)), 43),
            (
                batch_error_code(&BatchError::Truncated {
                    needed: 61,
                    available: 3,
                }),
                2,
            ),
            (
                create_topic_error_code(&CreateTopicError::InvalidName(TopicNameError::Empty)),
                17,
            ),
            (
                create_topic_error_code(&CreateTopicError::AlreadyExists("t".into())),
                36,
            ),
            (
                create_topic_error_code(&CreateTopicError::InvalidPartitions(-5)),
                37,
            ),
            (
                create_topic_error_code(&CreateTopicError::InvalidReplicationFactor {
                    requested: 3,
                    available: 1,
                }),
                38,
            ),
            (
                create_topic_error_code(&CreateTopicError::InvalidConfig(ConfigError::UnknownKey(
                    "x".into(),
                ))),
                40,
            ),
            (
                storage_error_code(&StorageError::OffsetOutOfRange {
                    requested: 9,
                    log_start: 0,
                    log_end: 1,
                }),
                1,
            ),
            (storage_error_code(&StorageError::LogOffline), 56),
            (
                append_error_code(&AppendError::Sequence(SequenceError::OutOfOrder {
                    producer_id: 1,
                    first_seq: 3,
                    expected: 0,
                })),
                45,
            ),
            (
                append_error_code(&AppendError::Sequence(
                    SequenceError::InvalidProducerEpoch {
                        producer_id: 1,
                        epoch: 0,
                        current: 1,
                    },
                )),
                47,
            ),
        ];
        let group_cases = [
            (GroupError::CoordinatorNotAvailable, 15),
            (GroupError::InvalidGroupId, 24),
            (GroupError::InvalidSessionTimeout, 26),
            (GroupError::InconsistentGroupProtocol, 23),
            (GroupError::UnknownMemberId, 25),
            (GroupError::IllegalGeneration, 22),
            (GroupError::RebalanceInProgress, 27),
            (GroupError::MemberIdRequired, 79),
            (GroupError::GroupMaxSizeReached, 81),
            (GroupError::FencedInstanceId, 82),
            (GroupError::GroupIdNotFound, 69),
            (GroupError::NonEmptyGroup, 68),
            (GroupError::GroupSubscribedToTopic, 86),
            (GroupError::OffsetMetadataTooLarge, 12),
            (GroupError::UnknownTopicOrPartition, 3),
        ];
        for (e, want) in group_cases {
            assert_eq!(group_error_code(&e).code(), want, "{e:?}");
        }
        for (got, want) in cases {
            assert_eq!(got.code(), want, "{got:?}");
        }
    }
}
