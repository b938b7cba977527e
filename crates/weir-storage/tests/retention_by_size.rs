//! `retention.bytes`: oldest closed segments go while the rest still holds
//! at least the retention; the active segment never goes.
#![allow(missing_docs)]

mod common;

use common::{batch, small_config};
use weir_storage::{Log, RecoveryMode, StorageError};

#[test]
fn caps_size_without_touching_active_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    for i in 0..40 {
        log.append(batch("r", 4, i, 200), None, 0).unwrap();
    }
    let count = log.segment_count();
    assert!(count >= 6, "{count}");
    let before = log.size_bytes();
    assert_eq!(
        log.delete_retention_size_breached(-1)
            .unwrap()
            .segments_deleted,
        0
    );
    let retention = (before / 2) as i64;
    let out = log.delete_retention_size_breached(retention).unwrap();
    assert!(out.segments_deleted > 0);
    assert!(
        log.size_bytes() as i64 >= retention,
        "never below retention"
    );
    assert_eq!(log.size_bytes() + out.bytes_deleted, before);
    assert_eq!(out.log_start_offset, log.segment_base_offsets()[0]);
    // Deleting one more segment would go below the retention.
    assert_eq!(
        log.delete_retention_size_breached(retention)
            .unwrap()
            .segments_deleted,
        0
    );
    // Retention 0 removes every closed segment but keeps the active one.
    let end = log.log_end_offset();
    let active_base = *log.segment_base_offsets().last().unwrap();
    log.delete_retention_size_breached(0).unwrap();
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_start_offset(), active_base);
    assert_eq!(log.log_end_offset(), end);
    assert!(matches!(
        log.read(0, 100, i64::MAX),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    log.close().unwrap();
    let log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    assert_eq!(log.log_start_offset(), active_base);
    assert_eq!(log.log_end_offset(), end);
}
