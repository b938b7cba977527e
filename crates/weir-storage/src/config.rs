//! Per-log configuration (Kafka's `log.*` / `segment.*` settings).

use crate::error::StorageError;

/// Largest segment size: positions in the offset index are `u32`, and Kafka
/// keeps `segment.bytes` within an `int`.
pub const SEGMENT_BYTES_MAX: u64 = i32::MAX as u64;
/// Smallest segment size accepted (Kafka's minimum for `segment.bytes` is
/// 14, the size of an empty legacy log entry; a batch header is bigger).
pub const SEGMENT_BYTES_MIN: u64 = crate::BATCH_HEADER_LEN_U64;
/// Largest index file: Kafka caps `segment.index.bytes` the same way.
pub const SEGMENT_INDEX_BYTES_MAX: u64 = i32::MAX as u64;

/// Configuration of one partition's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Roll to a new segment before the active one would exceed this size
    /// (`segment.bytes`, default 1 GiB).
    pub segment_bytes: u64,
    /// Roll when the active segment is older than this (`segment.ms`,
    /// default 7 days); `None` disables time-based rolling.
    pub segment_ms: Option<u64>,
    /// Bytes of batches between two offset-index entries
    /// (`index.interval.bytes`, default 4096).
    pub index_interval_bytes: u32,
    /// Largest size of each index file; a full index rolls the segment
    /// (`segment.index.bytes`, default 10 MiB).
    pub segment_index_bytes: u64,
    /// Delay before deleted segment files are removed
    /// (`file.delete.delay.ms`, default 60 s). Used by retention (later).
    pub file_delete_delay_ms: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: Some(7 * 24 * 60 * 60 * 1000),
            index_interval_bytes: 4096,
            segment_index_bytes: 10 << 20,
            file_delete_delay_ms: 60_000,
        }
    }
}

impl LogConfig {
    /// Check the relations the log relies on.
    pub fn validate(&self) -> Result<(), StorageError> {
        if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&self.segment_bytes) {
            return Err(StorageError::InvalidConfig {
                field: "segment_bytes",
                reason: "must be between a batch header and i32::MAX",
            });
        }
        if self.segment_index_bytes < 12 || self.segment_index_bytes > SEGMENT_INDEX_BYTES_MAX {
            return Err(StorageError::InvalidConfig {
                field: "segment_index_bytes",
                reason: "must hold at least one entry and be at most i32::MAX",
            });
        }
        if self.segment_ms == Some(0) {
            return Err(StorageError::InvalidConfig {
                field: "segment_ms",
                reason: "must be positive",
            });
        }
        Ok(())
    }
}
