//! Errors of the storage layer.
//!
//! The broker maps these to Kafka error codes (only the broker produces Kafka
//! codes): `OffsetOutOfRange` → OFFSET_OUT_OF_RANGE, `InvalidBatch` →
//! CORRUPT_MESSAGE / INVALID_RECORD, `RecordSetTooLarge` →
//! RECORD_LIST_TOO_LARGE, `LogOffline` / `Io` → KAFKA_STORAGE_ERROR.

use std::path::PathBuf;

use weir_protocol::record_batch::BatchError;

/// An error from a [`crate::Log`] operation.
#[derive(thiserror::Error, Debug)]
pub enum StorageError {
    /// A file operation failed. After a failed write or fsync the log also
    /// goes offline (see [`StorageError::LogOffline`]).
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`"write"`, `"fsync"`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Bytes on disk do not form a valid log (returned by `open` in
    /// [`crate::RecoveryMode::Strict`], or for corruption found in data that
    /// recovery trusted).
    #[error("corrupt log file {path} at byte {position}: {reason}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Byte position of the first bad byte or structure.
        position: u64,
        /// What is wrong.
        reason: Corruption,
    },
    /// Requested offset is below the log-start offset or above the log-end
    /// offset.
    #[error("offset {requested} out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        /// Offset asked for.
        requested: i64,
        /// Log-start offset.
        log_start: i64,
        /// Log-end offset.
        log_end: i64,
    },
    /// An earlier write or fsync failed; the log refuses further writes
    /// until it is reopened (sticky, STYLE.md rule 8).
    #[error("log is offline after an earlier I/O failure")]
    LogOffline,
    /// The record set handed to `append` is not a sequence of whole v2
    /// batches.
    #[error("invalid record batch: {0}")]
    InvalidBatch(#[from] BatchError),
    /// A record set bigger than a whole segment can never be appended.
    #[error("record set of {bytes} bytes exceeds segment size {segment_bytes}")]
    RecordSetTooLarge {
        /// Size of the record set.
        bytes: usize,
        /// `segment_bytes`.
        segment_bytes: u64,
    },
    /// A [`crate::LogConfig`] value out of range.
    #[error("invalid log config {field}: {reason}")]
    InvalidConfig {
        /// Field name.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
}

/// What is wrong with bytes on disk.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum Corruption {
    /// A record batch that fails its structural or CRC check, or a torn
    /// (partially written) batch at the end of a segment.
    #[error("{0}")]
    Batch(BatchError),
    /// A batch whose base offset goes backwards or whose last offset is
    /// before its base offset.
    #[error("batch offsets {base_offset}..={last_offset} after offset {expected_at_least}")]
    OffsetOrder {
        /// Batch base offset.
        base_offset: i64,
        /// Batch last offset.
        last_offset: i64,
        /// Smallest base offset allowed here.
        expected_at_least: i64,
    },
    /// A batch offset too far from the segment base to index (`u32`), or a
    /// position beyond `u32`.
    #[error("batch out of the segment's indexable range")]
    OutOfIndexRange,
    /// An offset-index entry whose position holds a batch with another
    /// last offset: the index does not describe this log file.
    #[error(
        "index names a batch ending at offset {expected_last_offset}, the log has one ending at {last_offset}"
    )]
    IndexMismatch {
        /// Last offset the index entry names.
        expected_last_offset: i64,
        /// Last offset of the batch found at the entry's position.
        last_offset: i64,
    },
    /// A checkpoint file that does not parse.
    #[error("malformed checkpoint file")]
    Checkpoint,
    /// A file name in the partition directory that claims to be a segment
    /// but has no valid base offset.
    #[error("malformed segment file name")]
    SegmentName,
}

impl StorageError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
