//! ListOffsets by timestamp through the time index.
#![allow(missing_docs)]

mod common;

use common::{batch, small_config};
use weir_storage::{Log, RecoveryMode};

#[test]
fn finds_first_record_at_or_after_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    // Batch i: 3 records, offsets 3i..3i+2, timestamps 100i .. 100i+2.
    for i in 0..50 {
        log.append(batch("t", 3, 100 * i, 50), None, 0).unwrap();
    }
    assert!(log.segment_count() > 2);
    let check = |log: &Log| {
        assert_eq!(log.offset_for_timestamp(-5).unwrap(), Some((0, 0)));
        assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 0)));
        assert_eq!(log.offset_for_timestamp(1).unwrap(), Some((1, 1)));
        assert_eq!(log.offset_for_timestamp(3).unwrap(), Some((3, 100)));
        for i in 0..50i64 {
            assert_eq!(
                log.offset_for_timestamp(100 * i + 2).unwrap(),
                Some((3 * i + 2, 100 * i + 2))
            );
            assert_eq!(
                log.offset_for_timestamp(100 * i - 50).unwrap(),
                Some((3 * i, 100 * i)).filter(|_| i > 0).or(Some((0, 0)))
            );
        }
        assert_eq!(log.offset_for_timestamp(4_902).unwrap(), Some((149, 4_902)));
        assert_eq!(log.offset_for_timestamp(4_903).unwrap(), None);
    };
    check(&log);
    log.close().unwrap();
    let log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    check(&log);
    drop(log);
    let log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    assert!(!log.recovery_stats().clean_shutdown);
    check(&log);
}

#[test]
fn out_of_order_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    log.append(batch("a", 1, 500, 10), None, 0).unwrap(); // offset 0, ts 500
    log.append(batch("b", 1, 100, 10), None, 0).unwrap(); // offset 1, ts 100
    log.append(batch("c", 1, 900, 10), None, 0).unwrap(); // offset 2, ts 900
    assert_eq!(log.offset_for_timestamp(50).unwrap(), Some((0, 500)));
    assert_eq!(log.offset_for_timestamp(600).unwrap(), Some((2, 900)));
}

#[test]
fn log_append_time_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    log.append(batch("a", 3, 5, 10), None, 1_000).unwrap();
    log.append(batch("b", 3, 5, 10), Some(2_000), 2_000)
        .unwrap();
    assert_eq!(log.offset_for_timestamp(6).unwrap(), Some((1, 6)));
    assert_eq!(log.offset_for_timestamp(8).unwrap(), Some((3, 2_000)));
    assert_eq!(log.offset_for_timestamp(2_000).unwrap(), Some((3, 2_000)));
    assert_eq!(log.offset_for_timestamp(2_001).unwrap(), None);
}
