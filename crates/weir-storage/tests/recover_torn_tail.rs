//! Recovery after an unclean stop: torn and corrupt tails.
#![allow(missing_docs)]

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{batch, read_all, small_config};
use weir_storage::{Corruption, Log, LogConfig, RecoveryMode, StorageError};

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1 << 20,
        ..small_config()
    }
}

/// Ten batches of 3 records, then an unclean stop (drop without close).
fn write_ten(dir: &Path) -> Vec<usize> {
    let mut log = Log::open(dir, config(), RecoveryMode::Strict, 0).unwrap();
    let mut sizes = Vec::new();
    for i in 0..10 {
        let b = batch(&format!("b{i}"), 3, i, 30);
        sizes.push(b.len());
        log.append(b, None, 0).unwrap();
    }
    sizes
}

fn active_log_file(dir: &Path) -> PathBuf {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

fn check_continues(log: &mut Log, expected_end: i64) {
    assert_eq!(log.log_end_offset(), expected_end);
    let got = read_all(log, 0, 1 << 20);
    assert_eq!(
        got.iter().map(|r| r.0).collect::<Vec<_>>(),
        (0..expected_end).collect::<Vec<_>>()
    );
    let info = log.append(batch("after", 2, 100, 10), None, 0).unwrap();
    assert_eq!(info.first_offset, expected_end);
    let got = read_all(log, 0, 1 << 20);
    assert_eq!(got.len() as i64, expected_end + 2);
}

#[test]
fn garbage_after_last_batch_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = write_ten(dir.path());
    let file = active_log_file(dir.path());
    OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(&[0xab; 37])
        .unwrap();
    let mut log = Log::open(dir.path(), config(), RecoveryMode::TolerateCorruptTail, 0).unwrap();
    let stats = log.recovery_stats().clone();
    assert!(!stats.clean_shutdown);
    assert_eq!(stats.segments_scanned, 1);
    assert_eq!(stats.batches_scanned, 10);
    assert_eq!(stats.bytes_truncated, 37);
    assert_eq!(file_len(&file), sizes.iter().sum::<usize>() as u64);
    check_continues(&mut log, 30);
}

#[test]
fn batch_cut_mid_way_is_dropped() {
    for cut in [1u64, 5, 40, 60] {
        let dir = tempfile::tempdir().unwrap();
        let sizes = write_ten(dir.path());
        let file = active_log_file(dir.path());
        let len = file_len(&file);
        OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_len(len - cut)
            .unwrap();
        let mut log =
            Log::open(dir.path(), config(), RecoveryMode::TolerateCorruptTail, 0).unwrap();
        assert_eq!(
            log.recovery_stats().bytes_truncated,
            sizes[9] as u64 - cut,
            "cut {cut}"
        );
        assert_eq!(file_len(&file), len - sizes[9] as u64);
        check_continues(&mut log, 27);
    }
}

#[test]
fn corrupt_crc_in_last_batch_truncates_or_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = write_ten(dir.path());
    let file = active_log_file(dir.path());
    let mut bytes = std::fs::read(&file).unwrap();
    let last_start = bytes.len() - sizes[9];
    bytes[last_start + 70] ^= 0x40;
    std::fs::write(&file, &bytes).unwrap();

    match Log::open(dir.path(), config(), RecoveryMode::Strict, 0) {
        Err(StorageError::Corrupt {
            position,
            reason: Corruption::Batch(weir_protocol::record_batch::BatchError::CorruptCrc { .. }),
            ..
        }) => assert_eq!(position, last_start as u64),
        other => panic!("{other:?}"),
    }
    // Strict changed nothing.
    assert_eq!(std::fs::read(&file).unwrap(), bytes);

    let mut log = Log::open(dir.path(), config(), RecoveryMode::TolerateCorruptTail, 0).unwrap();
    assert_eq!(log.recovery_stats().bytes_truncated, sizes[9] as u64);
    check_continues(&mut log, 27);
}

#[test]
fn corruption_in_an_earlier_unflushed_segment_drops_later_ones() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
        for i in 0..40 {
            log.append(batch("x", 2, i, 100), None, 0).unwrap();
        }
        assert!(log.segment_count() >= 3);
    }
    // Forget the recovery point so every segment is scanned.
    std::fs::remove_file(dir.path().join("recovery-point-offset-checkpoint")).unwrap();
    let first = dir.path().join(format!("{:020}.log", 0));
    let mut bytes = std::fs::read(&first).unwrap();
    let len = bytes.len();
    bytes[len - 10] ^= 1;
    std::fs::write(&first, &bytes).unwrap();

    let log = Log::open(
        dir.path(),
        small_config(),
        RecoveryMode::TolerateCorruptTail,
        0,
    )
    .unwrap();
    assert_eq!(log.segment_count(), 1);
    assert!(log.recovery_stats().segments_deleted >= 2);
    let got = read_all(&log, 0, 1 << 20);
    assert_eq!(got.len() as i64, log.log_end_offset());
    assert_eq!(got.last().unwrap().0 + 1, log.log_end_offset());
}

#[test]
fn only_segments_past_the_recovery_point_are_scanned() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
        for i in 0..40 {
            log.append(batch("x", 2, i, 100), None, 0).unwrap();
        }
        assert!(log.segment_count() >= 3);
        // Rolls moved the recovery point to the active segment's base.
        assert_eq!(
            log.flushed_offset(),
            *log.segment_base_offsets().last().unwrap()
        );
    }
    let log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    assert_eq!(log.recovery_stats().segments_scanned, 1);
    assert_eq!(log.log_end_offset(), 80);
    assert_eq!(log.flushed_offset(), 80);
}

#[test]
fn garbage_only_segment_recovers_to_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(format!("{:020}.log", 0)), [7u8; 100]).unwrap();
    let mut log = Log::open(dir.path(), config(), RecoveryMode::TolerateCorruptTail, 0).unwrap();
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.recovery_stats().bytes_truncated, 100);
    check_continues(&mut log, 0);
}
