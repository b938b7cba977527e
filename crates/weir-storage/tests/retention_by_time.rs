//! `retention.ms`: whole segments older than the retention go, oldest
//! first, never past a segment that is not breached; a breached active
//! segment is rolled and deleted too; the log start follows and survives a
//! reopen; reads below it are out of range.
#![allow(missing_docs)]

mod common;

use common::{batch, read_all, small_config};
use weir_storage::{Log, LogConfig, RecoveryMode, StorageError};

fn config() -> LogConfig {
    LogConfig {
        segment_ms: Some(500),
        ..small_config()
    }
}

fn no_deleted_files(dir: &std::path::Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(!name.ends_with(".deleted"), "{name} left behind");
    }
}

#[test]
fn deletes_breached_prefix_and_advances_log_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), config(), RecoveryMode::Strict, 0).unwrap();
    // One segment per 1000 ms of clock, record timestamps = clock.
    for t in 0..5i64 {
        let now = t * 1000;
        log.append(batch("r", 3, now, 10), None, now).unwrap();
    }
    assert_eq!(log.segment_count(), 5);
    let bases = log.segment_base_offsets();
    // now 4500, retention 2000: horizon 2500; segments with max ts 0+2,
    // 1000+2, 2000+2 are older than it, 3002 is not.
    let out = log.delete_retention_ms_breached(2000, 4500).unwrap();
    assert_eq!(out.segments_deleted, 3);
    assert!(out.bytes_deleted > 0);
    assert_eq!(out.log_start_offset, bases[3]);
    assert_eq!(log.log_start_offset(), bases[3]);
    assert_eq!(log.segment_base_offsets(), bases[3..].to_vec());
    match log.read(0, 1000, i64::MAX) {
        Err(StorageError::OffsetOutOfRange { log_start, .. }) => assert_eq!(log_start, bases[3]),
        other => panic!("{other:?}"),
    }
    assert_eq!(read_all(&log, bases[3], 1 << 16).len(), 6);
    no_deleted_files(dir.path());
    // Nothing more to do at the same time; -1 never deletes.
    assert_eq!(
        log.delete_retention_ms_breached(2000, 4500)
            .unwrap()
            .segments_deleted,
        0
    );
    assert_eq!(
        log.delete_retention_ms_breached(-1, i64::MAX)
            .unwrap()
            .segments_deleted,
        0
    );
    drop(log);
    let log = Log::open(dir.path(), config(), RecoveryMode::Strict, 5000).unwrap();
    assert_eq!(log.log_start_offset(), bases[3]);
    assert_eq!(log.segment_count(), 2);
}

#[test]
fn stops_at_first_unbreached_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), config(), RecoveryMode::Strict, 0).unwrap();
    // Second segment carries a future timestamp: it shields the third.
    log.append(batch("a", 2, 0, 10), None, 0).unwrap();
    log.append(batch("b", 2, 1_000_000, 10), None, 1000)
        .unwrap();
    log.append(batch("c", 2, 2000, 10), None, 2000).unwrap();
    log.append(batch("d", 2, 3000, 10), None, 3000).unwrap();
    let out = log.delete_retention_ms_breached(100, 10_000).unwrap();
    assert_eq!(out.segments_deleted, 1);
    assert_eq!(log.segment_count(), 3);
}

#[test]
fn breached_active_segment_is_rolled_and_deleted() {
    // retention.ms=2000, segment.ms=500: a topic nobody writes to empties.
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), config(), RecoveryMode::Strict, 0).unwrap();
    log.append(batch("a", 4, 0, 10), None, 0).unwrap();
    log.append(batch("b", 4, 600, 10), None, 600).unwrap();
    assert_eq!(log.segment_count(), 2);
    let out = log.delete_retention_ms_breached(2000, 1000).unwrap();
    assert_eq!(out.segments_deleted, 0, "nothing is old enough yet");
    let out = log.delete_retention_ms_breached(2000, 3000).unwrap();
    assert_eq!(out.segments_deleted, 2);
    assert_eq!(log.log_start_offset(), 8);
    assert_eq!(log.log_end_offset(), 8);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.size_bytes(), 0);
    assert!(matches!(
        log.read(0, 100, i64::MAX),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    // The log goes on at the same offsets.
    let info = log.append(batch("c", 1, 3000, 10), None, 3000).unwrap();
    assert_eq!(info.first_offset, 8);
    // An empty active segment is never rolled for retention.
    let mut empty = Log::open(&dir.path().join("e"), config(), RecoveryMode::Strict, 0).unwrap();
    assert_eq!(
        empty
            .delete_retention_ms_breached(0, 1 << 40)
            .unwrap()
            .segments_deleted,
        0
    );
    drop(log);
    let log = Log::open(dir.path(), config(), RecoveryMode::Strict, 4000).unwrap();
    assert_eq!(log.log_start_offset(), 8);
    assert_eq!(read_all(&log, 8, 1 << 16).len(), 1);
}
