//! The client's errors, and the table of Kafka error code names.
//!
//! [`ClientError::Kafka`] carries an error code a broker returned, its name
//! as Kafka spells it (from [`error_name`]) and the broker's message if it
//! sent one. Everything else is a failure on this side: I/O, a response that
//! does not decode, an API the broker does not serve, a timeout.

use weir_protocol::error::{DecodeError, EncodeError};
use weir_protocol::record_batch::{BatchError, Compression};

/// Kafka's `UNKNOWN_SERVER_ERROR` (-1).
pub const UNKNOWN_SERVER_ERROR: i16 = -1;
/// Kafka's `OFFSET_OUT_OF_RANGE`.
pub const OFFSET_OUT_OF_RANGE: i16 = 1;
/// Kafka's `UNKNOWN_TOPIC_OR_PARTITION`.
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
/// Kafka's `UNSUPPORTED_VERSION`.
pub const UNSUPPORTED_VERSION: i16 = 35;
/// Kafka's `TOPIC_ALREADY_EXISTS`.
pub const TOPIC_ALREADY_EXISTS: i16 = 36;

/// Everything a client operation can fail with.
#[derive(thiserror::Error, Debug, Clone)]
pub enum ClientError {
    /// The broker answered with a Kafka error code.
    #[error("{name} ({code}){}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Kafka {
        /// The error code.
        code: i16,
        /// Kafka's name for the code (`UNKNOWN` if not in the table).
        name: &'static str,
        /// The broker's error message, when it sent one.
        message: Option<String>,
    },
    /// Connecting to, reading from or writing to a broker failed.
    #[error("connection to {addr} failed: {source}")]
    Io {
        /// `host:port` of the broker.
        addr: String,
        /// The I/O error (shared so that one failure can be reported to
        /// every request it affected).
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },
    /// The connection closed while a request was waiting for its response.
    #[error("connection to {addr} closed")]
    ConnectionClosed {
        /// `host:port` of the broker.
        addr: String,
    },
    /// No bootstrap server could be reached.
    #[error("no broker reachable at {bootstrap}{}", last.as_deref().map(|l| format!(" (last error: {l})")).unwrap_or_default())]
    NoBrokerAvailable {
        /// The bootstrap servers, comma-separated.
        bootstrap: String,
        /// The last connection error, rendered.
        last: Option<String>,
    },
    /// A `host:port` that cannot be parsed.
    #[error("invalid broker address {0:?} (expected host:port)")]
    InvalidAddress(String),
    /// The broker does not serve this API in any version this client speaks.
    #[error("the broker does not support {api} in a version this client speaks")]
    UnsupportedApi {
        /// The API's name.
        api: &'static str,
    },
    /// No response within the request timeout.
    #[error("{what} timed out after {after_ms} ms")]
    Timeout {
        /// What was being waited for.
        what: &'static str,
        /// How long it waited.
        after_ms: u64,
    },
    /// A request could not be encoded (a value out of range for the wire).
    #[error("request could not be encoded: {0}")]
    Encode(#[from] EncodeError),
    /// A response could not be decoded.
    #[error("response could not be decoded: {0}")]
    Decode(#[from] DecodeError),
    /// A fetched record batch is malformed.
    #[error("invalid record batch from {topic}-{partition} at offset {offset}: {source}")]
    Batch {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Offset the consumer was reading.
        offset: i64,
        /// What is wrong with it.
        #[source]
        source: BatchError,
    },
    /// A fetched batch uses a compression codec this client cannot read yet.
    #[error(
        "record batch at {topic}-{partition} offset {offset} is compressed with {codec:?}, which this client cannot decompress yet"
    )]
    UnsupportedCompression {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Base offset of the batch.
        offset: i64,
        /// The codec.
        codec: Compression,
    },
    /// The response does not match the request (wrong correlation id,
    /// a partition that was not asked for, a missing entry).
    #[error("unexpected response: {0}")]
    UnexpectedResponse(&'static str),
    /// The topic has no partition with this index.
    #[error("topic '{topic}' has no partition {partition}")]
    NoSuchPartition {
        /// Topic.
        topic: String,
        /// Partition asked for.
        partition: i32,
    },
    /// A partition was used that the consumer was not assigned.
    #[error("partition {topic}-{partition} is not assigned to this consumer")]
    NotAssigned {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
    },
    /// The producer was closed, or its sender task stopped.
    #[error("the producer is closed")]
    ProducerClosed,
    /// A record larger than the producer's maximum request size.
    #[error("record of {size_bytes} bytes exceeds the maximum request size of {max_bytes} bytes")]
    RecordTooLarge {
        /// Encoded size of the record.
        size_bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
}

impl ClientError {
    /// A [`ClientError::Kafka`] for `code`, with its name from the table.
    pub fn kafka(code: i16, message: Option<String>) -> ClientError {
        ClientError::Kafka {
            code,
            name: error_name(code),
            message: message.filter(|m| !m.is_empty()),
        }
    }

    /// The Kafka error code, if the broker returned one.
    pub fn kafka_code(&self) -> Option<i16> {
        match self {
            ClientError::Kafka { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether retrying the same request later may succeed (Kafka's
    /// `RetriableException` family, plus lost connections and timeouts).
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Kafka { code, .. } => is_retriable_code(*code),
            ClientError::Io { .. }
            | ClientError::ConnectionClosed { .. }
            | ClientError::Timeout { .. } => true,
            _ => false,
        }
    }

    /// Whether the client's view of leaders is probably stale, so metadata
    /// should be refreshed before a retry.
    pub fn needs_metadata_refresh(&self) -> bool {
        match self {
            ClientError::Kafka { code, .. } => matches!(code, 3 | 5 | 6 | 56 | 74 | 75 | 100 | 103),
            ClientError::Io { .. } | ClientError::ConnectionClosed { .. } => true,
            _ => false,
        }
    }
}

/// `Ok(())` for code 0, else the [`ClientError::Kafka`] for it.
pub fn check_code(code: i16, message: Option<&str>) -> Result<(), ClientError> {
    if code == 0 {
        Ok(())
    } else {
        Err(ClientError::kafka(code, message.map(str::to_owned)))
    }
}

/// Codes of Kafka's retriable exceptions (`RetriableException` subclasses).
fn is_retriable_code(code: i16) -> bool {
    matches!(
        code,
        2 | 3
            | 5
            | 6
            | 7
            | 8
            | 9
            | 13
            | 14
            | 15
            | 16
            | 19
            | 20
            | 56
            | 74
            | 75
            | 78
            | 89
            | 100
            | 103
    )
}

/// Kafka's error names by code, from `org.apache.kafka.common.protocol.Errors`;
/// index is `code + 1` (the table starts at -1, UNKNOWN_SERVER_ERROR).
const ERROR_NAMES: &[&str] = &[
    "UNKNOWN_SERVER_ERROR",
    "NONE",
    "OFFSET_OUT_OF_RANGE",
    "CORRUPT_MESSAGE",
    "UNKNOWN_TOPIC_OR_PARTITION",
    "INVALID_FETCH_SIZE",
    "LEADER_NOT_AVAILABLE",
    "NOT_LEADER_OR_FOLLOWER",
    "REQUEST_TIMED_OUT",
    "BROKER_NOT_AVAILABLE",
    "REPLICA_NOT_AVAILABLE",
    "MESSAGE_TOO_LARGE",
    "STALE_CONTROLLER_EPOCH",
    "OFFSET_METADATA_TOO_LARGE",
    "NETWORK_EXCEPTION",
    "COORDINATOR_LOAD_IN_PROGRESS",
    "COORDINATOR_NOT_AVAILABLE",
    "NOT_COORDINATOR",
    "INVALID_TOPIC_EXCEPTION",
    "RECORD_LIST_TOO_LARGE",
    "NOT_ENOUGH_REPLICAS",
    "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
    "INVALID_REQUIRED_ACKS",
    "ILLEGAL_GENERATION",
    "INCONSISTENT_GROUP_PROTOCOL",
    "INVALID_GROUP_ID",
    "UNKNOWN_MEMBER_ID",
    "INVALID_SESSION_TIMEOUT",
    "REBALANCE_IN_PROGRESS",
    "INVALID_COMMIT_OFFSET_SIZE",
    "TOPIC_AUTHORIZATION_FAILED",
    "GROUP_AUTHORIZATION_FAILED",
    "CLUSTER_AUTHORIZATION_FAILED",
    "INVALID_TIMESTAMP",
    "UNSUPPORTED_SASL_MECHANISM",
    "ILLEGAL_SASL_STATE",
    "UNSUPPORTED_VERSION",
    "TOPIC_ALREADY_EXISTS",
    "INVALID_PARTITIONS",
    "INVALID_REPLICATION_FACTOR",
    "INVALID_REPLICA_ASSIGNMENT",
    "INVALID_CONFIG",
    "NOT_CONTROLLER",
    "INVALID_REQUEST",
    "UNSUPPORTED_FOR_MESSAGE_FORMAT",
    "POLICY_VIOLATION",
    "OUT_OF_ORDER_SEQUENCE_NUMBER",
    "DUPLICATE_SEQUENCE_NUMBER",
    "INVALID_PRODUCER_EPOCH",
    "INVALID_TXN_STATE",
    "INVALID_PRODUCER_ID_MAPPING",
    "INVALID_TRANSACTION_TIMEOUT",
    "CONCURRENT_TRANSACTIONS",
    "TRANSACTION_COORDINATOR_FENCED",
    "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
    "SECURITY_DISABLED",
    "OPERATION_NOT_ATTEMPTED",
    "KAFKA_STORAGE_ERROR",
    "LOG_DIR_NOT_FOUND",
    "SASL_AUTHENTICATION_FAILED",
    "UNKNOWN_PRODUCER_ID",
    "REASSIGNMENT_IN_PROGRESS",
    "DELEGATION_TOKEN_AUTH_DISABLED",
    "DELEGATION_TOKEN_NOT_FOUND",
    "DELEGATION_TOKEN_OWNER_MISMATCH",
    "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED",
    "DELEGATION_TOKEN_AUTHORIZATION_FAILED",
    "DELEGATION_TOKEN_EXPIRED",
    "INVALID_PRINCIPAL_TYPE",
    "NON_EMPTY_GROUP",
    "GROUP_ID_NOT_FOUND",
    "FETCH_SESSION_ID_NOT_FOUND",
    "INVALID_FETCH_SESSION_EPOCH",
    "LISTENER_NOT_FOUND",
    "TOPIC_DELETION_DISABLED",
    "FENCED_LEADER_EPOCH",
    "UNKNOWN_LEADER_EPOCH",
    "UNSUPPORTED_COMPRESSION_TYPE",
    "STALE_BROKER_EPOCH",
    "OFFSET_NOT_AVAILABLE",
    "MEMBER_ID_REQUIRED",
    "PREFERRED_LEADER_NOT_AVAILABLE",
    "GROUP_MAX_SIZE_REACHED",
    "FENCED_INSTANCE_ID",
    "ELIGIBLE_LEADERS_NOT_AVAILABLE",
    "ELECTION_NOT_NEEDED",
    "NO_REASSIGNMENT_IN_PROGRESS",
    "GROUP_SUBSCRIBED_TO_TOPIC",
    "INVALID_RECORD",
    "UNSTABLE_OFFSET_COMMIT",
    "THROTTLING_QUOTA_EXCEEDED",
    "PRODUCER_FENCED",
    "RESOURCE_NOT_FOUND",
    "DUPLICATE_RESOURCE",
    "UNACCEPTABLE_CREDENTIAL",
    "INCONSISTENT_VOTER_SET",
    "INVALID_UPDATE_VERSION",
    "FEATURE_UPDATE_FAILED",
    "PRINCIPAL_DESERIALIZATION_FAILURE",
    "SNAPSHOT_NOT_FOUND",
    "POSITION_OUT_OF_RANGE",
    "UNKNOWN_TOPIC_ID",
    "DUPLICATE_BROKER_REGISTRATION",
    "BROKER_ID_NOT_REGISTERED",
    "INCONSISTENT_TOPIC_ID",
    "INCONSISTENT_CLUSTER_ID",
    "TRANSACTIONAL_ID_NOT_FOUND",
    "FETCH_SESSION_TOPIC_ID_ERROR",
    "INELIGIBLE_REPLICA",
    "NEW_LEADER_ELECTED",
];

/// Kafka's name for an error code (`UNKNOWN` when it is not in the table).
pub fn error_name(code: i16) -> &'static str {
    usize::try_from(i32::from(code) + 1)
        .ok()
        .and_then(|i| ERROR_NAMES.get(i))
        .copied()
        .unwrap_or("UNKNOWN")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_kafka_codes() {
        for (code, name) in [
            (-1, "UNKNOWN_SERVER_ERROR"),
            (0, "NONE"),
            (1, "OFFSET_OUT_OF_RANGE"),
            (3, "UNKNOWN_TOPIC_OR_PARTITION"),
            (6, "NOT_LEADER_OR_FOLLOWER"),
            (10, "MESSAGE_TOO_LARGE"),
            (17, "INVALID_TOPIC_EXCEPTION"),
            (35, "UNSUPPORTED_VERSION"),
            (36, "TOPIC_ALREADY_EXISTS"),
            (37, "INVALID_PARTITIONS"),
            (38, "INVALID_REPLICATION_FACTOR"),
            (40, "INVALID_CONFIG"),
            (42, "INVALID_REQUEST"),
            (56, "KAFKA_STORAGE_ERROR"),
            (73, "TOPIC_DELETION_DISABLED"),
            (87, "INVALID_RECORD"),
            (100, "UNKNOWN_TOPIC_ID"),
            (108, "NEW_LEADER_ELECTED"),
            (109, "UNKNOWN"),
            (-2, "UNKNOWN"),
            (i16::MIN, "UNKNOWN"),
        ] {
            assert_eq!(error_name(code), name, "code {code}");
        }
    }

    #[test]
    fn kafka_error_displays_name_and_message() {
        let e = ClientError::kafka(36, Some("Topic 't' already exists.".into()));
        assert_eq!(
            e.to_string(),
            "TOPIC_ALREADY_EXISTS (36): Topic 't' already exists."
        );
        assert_eq!(
            ClientError::kafka(3, Some(String::new())).to_string(),
            "UNKNOWN_TOPIC_OR_PARTITION (3)"
        );
        assert!(ClientError::kafka(6, None).is_retriable());
        assert!(!ClientError::kafka(36, None).is_retriable());
    }
}
