//! DeleteRecords (KIP-107): the log start moves to the given offset and is
//! persisted; segments wholly below it go; reads below it are out of range;
//! a read at a log start inside a batch returns that batch.
#![allow(missing_docs)]

mod common;

use common::{batch, read_all, records, small_config};
use weir_storage::{Log, RecoveryMode, StorageError};

#[test]
fn advances_log_start_and_deletes_segments_below() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    for i in 0..30 {
        log.append(batch("r", 5, i, 100), None, 0).unwrap();
    }
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 4);
    // Inside a batch of the third segment.
    let target = bases[2] + 2;
    assert_eq!(log.delete_records_before(target).unwrap(), target);
    assert_eq!(log.log_start_offset(), target);
    assert_eq!(log.segment_base_offsets(), bases[2..].to_vec());
    match log.read(target - 1, 1000, i64::MAX) {
        Err(StorageError::OffsetOutOfRange {
            requested,
            log_start,
            ..
        }) => {
            assert_eq!((requested, log_start), (target - 1, target));
        }
        other => panic!("{other:?}"),
    }
    // The batch holding the log start comes back whole; the reader skips.
    let first = records(&log.read(target, 1, i64::MAX).unwrap());
    assert_eq!(first.first().unwrap().0, bases[2]);
    assert!(first.iter().any(|(o, _)| *o == target));
    assert_eq!(read_all(&log, target, 1 << 16).first().unwrap().0, target);
    // Going backwards changes nothing; beyond the log end is refused.
    assert_eq!(log.delete_records_before(1).unwrap(), target);
    let end = log.log_end_offset();
    assert!(matches!(
        log.delete_records_before(end + 1),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    drop(log);
    let mut log = Log::open(
        dir.path(),
        small_config(),
        RecoveryMode::TolerateCorruptTail,
        0,
    )
    .unwrap();
    assert_eq!(log.log_start_offset(), target);
    // Up to the log end: every closed segment goes, the log stays usable.
    assert_eq!(log.delete_records_before(end).unwrap(), end);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(
        log.append(batch("n", 1, 0, 10), None, 0)
            .unwrap()
            .first_offset,
        end
    );
}

/// Fails every rename to a `.deleted` name, as a crash right after the new
/// log start was persisted would leave things.
#[derive(Debug, Default)]
struct NoDelete;

impl weir_storage::FileIo for NoDelete {
    fn rename(&self, from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
        if to.to_string_lossy().ends_with(".deleted") {
            return Err(std::io::Error::other("crash"));
        }
        std::fs::rename(from, to)
    }
}

#[test]
fn segments_left_below_log_start_by_a_crash_are_deleted_later() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open_with_io(
        dir.path(),
        small_config(),
        RecoveryMode::Strict,
        0,
        std::sync::Arc::new(NoDelete),
    )
    .unwrap();
    for i in 0..30 {
        log.append(batch("r", 5, i, 100), None, 0).unwrap();
    }
    let bases = log.segment_base_offsets();
    assert!(log.delete_records_before(bases[3]).is_err());
    assert!(log.is_offline());
    drop(log);
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    // The new log start was persisted first; the files are still there.
    assert_eq!(log.log_start_offset(), bases[3]);
    assert!(matches!(
        log.read(0, 100, i64::MAX),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    assert_eq!(log.segment_base_offsets().len(), bases.len());
    // Retention removes them even with its own limit disabled.
    let out = log.delete_retention_ms_breached(-1, 0).unwrap();
    assert_eq!(out.segments_deleted, 3);
    assert_eq!(log.segment_base_offsets(), bases[3..].to_vec());
    assert_eq!(
        read_all(&log, bases[3], 1 << 16).first().unwrap().0,
        bases[3]
    );
}
