//! The Kafka error codes the null broker answers with, and the one place
//! its internal errors become codes.

use weir_protocol::record_batch::BatchError;

use crate::null_broker::topics::TopicError;

/// Kafka error codes (`org.apache.kafka.common.protocol.Errors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i16)]
pub enum ErrorCode {
    /// No error.
    None = 0,
    /// Fetch or ListOffsets outside `[0, log end offset]`.
    OffsetOutOfRange = 1,
    /// A batch that fails the batch-level checks.
    CorruptMessage = 2,
    /// A partition index the topic does not have.
    UnknownTopicOrPartition = 3,
    /// A topic name Kafka would refuse.
    InvalidTopicException = 17,
    /// `acks` other than -1, 0 or 1.
    InvalidRequiredAcks = 21,
    /// An ApiVersions version the broker does not know (KIP-511).
    UnsupportedVersion = 35,
    /// CreateTopics for a topic that exists.
    TopicAlreadyExists = 36,
    /// A partition count outside the broker's bounds.
    InvalidPartitions = 37,
    /// A replication factor other than 1 on a one-broker cluster.
    InvalidReplicationFactor = 38,
    /// A request the null broker refuses outright.
    InvalidRequest = 42,
    /// Record batches of magic 0 or 1.
    UnsupportedForMessageFormat = 43,
    /// The topic table is full.
    PolicyViolation = 44,
    /// Fetch naming an incremental fetch session (none are kept).
    FetchSessionIdNotFound = 70,
    /// A leader epoch newer than the broker's.
    UnknownLeaderEpoch = 75,
    /// Fetch naming a topic id that does not exist.
    UnknownTopicId = 100,
}

impl ErrorCode {
    /// The wire value.
    pub fn code(self) -> i16 {
        self as i16
    }
}

/// Produce: why a partition's record set was refused.
pub fn batch_error_code(e: &BatchError) -> ErrorCode {
    match e {
        // Kafka 3+ refuses message formats v0/v1 with this code.
        BatchError::InvalidMagic(_) => ErrorCode::UnsupportedForMessageFormat,
        // Everything else is a structurally broken batch: Kafka's
        // CorruptRecordException.
        _ => ErrorCode::CorruptMessage,
    }
}

/// Topic lookups and creation.
pub fn topic_error_code(e: &TopicError) -> ErrorCode {
    match e {
        TopicError::InvalidName(_) => ErrorCode::InvalidTopicException,
        TopicError::AlreadyExists => ErrorCode::TopicAlreadyExists,
        TopicError::InvalidPartitions(_) => ErrorCode::InvalidPartitions,
        // A bound of this bench server, not of Kafka: POLICY_VIOLATION says
        // "refused by configuration" and is not retriable, so a runaway
        // client stops instead of retrying forever.
        TopicError::TableFull => ErrorCode::PolicyViolation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_kafka() {
        let cases: &[(ErrorCode, i16)] = &[
            (
                batch_error_code(&BatchError::CorruptCrc {
                    expected: 1,
                    actual: 2,
                }),
                2,
            ),
            (batch_error_code(&BatchError::InvalidMagic(1)), 43),
            (batch_error_code(&BatchError::EmptyRecordSet), 2),
            (
                batch_error_code(&BatchError::InvalidRecordCount {
                    records_count: 0,
                    last_offset_delta: 0,
                }),
                2,
            ),
            (topic_error_code(&TopicError::InvalidName("empty")), 17),
            (topic_error_code(&TopicError::AlreadyExists), 36),
            (topic_error_code(&TopicError::InvalidPartitions(0)), 37),
            (topic_error_code(&TopicError::TableFull), 44),
            (ErrorCode::OffsetOutOfRange, 1),
            (ErrorCode::UnknownTopicOrPartition, 3),
            (ErrorCode::InvalidRequiredAcks, 21),
            (ErrorCode::UnsupportedVersion, 35),
            (ErrorCode::InvalidReplicationFactor, 38),
            (ErrorCode::InvalidRequest, 42),
            (ErrorCode::FetchSessionIdNotFound, 70),
            (ErrorCode::UnknownLeaderEpoch, 75),
            (ErrorCode::UnknownTopicId, 100),
        ];
        for (code, wire) in cases {
            assert_eq!(code.code(), *wire, "{code:?}");
        }
    }
}
