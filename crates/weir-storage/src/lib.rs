//! One partition's log on disk, in Kafka's layout.
//!
//! ```text
//! <log.dir>/<topic>-<partition>/
//!     00000000000000000000.log        record batches, as stored by append
//!     00000000000000000000.index      sparse offset index
//!     00000000000000000000.timeindex  sparse time index
//!     00000000000000004096.log ...    next segment, named by its base offset
//!     recovery-point-offset-checkpoint
//!     log-start-offset-checkpoint
//!     cleaner-offset-checkpoint       compacted logs: end of the cleaned section
//!     .clean_shutdown                 only between a clean close and the next open
//! ```
//!
//! The byte formats are documented beside the code that reads them
//! ([`segment`], [`index`], [`time_index`], [`checkpoint`]) and collected in
//! `docs/storage-format.md`; what `open` trusts or scans is in
//! [`recovery`]; the log's invariants are in [`log`].
//!
//! The API is synchronous and does no fsync on the append path: the broker
//! wraps a [`Log`] in a mutex and fsyncs through [`Log::sync_target`]
//! outside it (group commit). All file operations go through [`FileIo`] so
//! tests can inject faults; any write or fsync failure takes the log offline
//! for good ([`StorageError::LogOffline`]).

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod checkpoint;
pub mod cleaner;
mod config;
mod error;
pub mod index;
pub mod io;
pub mod log;
pub mod recovery;
pub mod retention;
pub mod segment;
pub mod time_index;

pub use cleaner::{AbortedRange, CleanStats, CleanableInfo, CleanerConfig, clean};
pub use config::{LogConfig, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN, SEGMENT_INDEX_BYTES_MAX};
pub use error::{Corruption, StorageError};
pub use io::{FileIo, StdFileIo};
pub use log::{AppendInfo, Log, SyncTarget};
pub use recovery::{RecoveryMode, RecoveryStats};
pub use retention::RetentionOutcome;

pub(crate) const BATCH_HEADER_LEN_U64: u64 = weir_protocol::record_batch::BATCH_HEADER_LEN as u64;

/// Longest topic name Kafka accepts.
pub const TOPIC_NAME_LEN_MAX: usize = 249;

/// The directory name of a partition's log: `<topic>-<partition>`.
pub fn partition_dir_name(topic: &str, partition: i32) -> String {
    format!("{topic}-{partition}")
}

/// Parse `<topic>-<partition>` back. Rejects names that are not a legal
/// Kafka topic followed by a non-negative partition number in canonical form,
/// which also rejects directories being deleted (`<name>.<id>-delete`) and
/// other leftovers (`-future`, `-stray`).
pub fn parse_partition_dir_name(name: &str) -> Option<(String, i32)> {
    let (topic, partition) = name.rsplit_once('-')?;
    let legal_topic = !topic.is_empty()
        && topic.len() <= TOPIC_NAME_LEN_MAX
        && topic != "."
        && topic != ".."
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    let canonical = !partition.is_empty()
        && partition.bytes().all(|b| b.is_ascii_digit())
        && (partition == "0" || !partition.starts_with('0'));
    if !legal_topic || !canonical {
        return None;
    }
    let partition: i32 = partition.parse().ok()?;
    Some((topic.to_owned(), partition))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_names() {
        assert_eq!(partition_dir_name("orders", 3), "orders-3");
        assert_eq!(
            parse_partition_dir_name("orders-3"),
            Some(("orders".into(), 3))
        );
        assert_eq!(
            parse_partition_dir_name("my-topic-12"),
            Some(("my-topic".into(), 12))
        );
        assert_eq!(
            parse_partition_dir_name("__consumer_offsets-49"),
            Some(("__consumer_offsets".into(), 49))
        );
        for bad in [
            "orders",
            "orders-",
            "-3",
            "orders-03",
            "orders-+1",
            "orders-3.abc-delete",
            "orders-3.abc-future",
            "or ders-3",
            "orders-99999999999",
        ] {
            assert_eq!(parse_partition_dir_name(bad), None, "{bad}");
        }
    }
}
