//! A clean close lets the next open skip scanning; an unclean stop does not.
#![allow(missing_docs)]

mod common;

use common::{batch, read_all, small_config};
use weir_storage::{Log, RecoveryMode};

#[test]
fn clean_close_skips_scan() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    for i in 0..25 {
        log.append(batch("c", 2, i, 100), None, 0).unwrap();
    }
    log.close().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    let stats = log.recovery_stats().clone();
    assert!(stats.clean_shutdown);
    assert_eq!(stats.segments_scanned, 0);
    assert_eq!(stats.batches_scanned, 0);
    assert_eq!(log.log_end_offset(), 50);
    assert_eq!(log.flushed_offset(), 50);
    assert_eq!(log.offset_for_timestamp(20).unwrap(), Some((39, 20)));
    log.append(batch("c", 2, 100, 10), None, 0).unwrap();
    assert_eq!(read_all(&log, 0, 1 << 20).len(), 52);
    // The marker is gone: dropping now is an unclean stop.
    drop(log);
    let log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    let stats = log.recovery_stats();
    assert!(!stats.clean_shutdown);
    assert_eq!(stats.segments_scanned, 1);
    assert_eq!(log.log_end_offset(), 52);
}

#[test]
fn checkpoints_are_readable_text() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    log.append(batch("c", 3, 0, 10), None, 0).unwrap();
    log.flush().unwrap();
    let rp = std::fs::read_to_string(dir.path().join("recovery-point-offset-checkpoint")).unwrap();
    assert_eq!(rp, "0\n3\n");
    let ls = std::fs::read_to_string(dir.path().join("log-start-offset-checkpoint")).unwrap();
    assert_eq!(ls, "0\n0\n");
}

#[test]
fn group_commit_handle_advances_recovery_point() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    log.append(batch("c", 3, 0, 10), None, 0).unwrap();
    let target = log.sync_target().unwrap();
    assert_eq!(target.offset, 3);
    log.append(batch("c", 3, 0, 10), None, 0).unwrap();
    target.sync().unwrap();
    assert_eq!(log.flushed_offset(), 0);
    log.mark_flushed(target.offset);
    assert_eq!(log.flushed_offset(), 3);
    log.checkpoint().unwrap();
    let rp = std::fs::read_to_string(dir.path().join("recovery-point-offset-checkpoint")).unwrap();
    assert_eq!(rp, "0\n3\n");
    // mark_flushed never passes the log end nor goes backwards.
    log.mark_flushed(1_000);
    assert_eq!(log.flushed_offset(), 6);
    log.mark_flushed(1);
    assert_eq!(log.flushed_offset(), 6);
}

#[test]
fn delete_removes_the_directory() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(weir_storage::partition_dir_name("t", 0));
    let mut log = Log::open(&dir, small_config(), RecoveryMode::Strict, 0).unwrap();
    log.append(batch("c", 3, 0, 10), None, 0).unwrap();
    log.delete().unwrap();
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
}
