//! A log holds exactly one open descriptor per segment (its `.log`): index
//! files are opened only for the duration of an operation. Without this a
//! broker with 10,000 partitions needs 30,000+ descriptors and cannot even
//! restart under a 20,000 `nofile` limit.
//!
//! The test counts `/proc/self/fd`, so it must be the only test of this
//! binary (other tests in parallel threads would open files too); nextest
//! also runs each test in its own process.
#![allow(missing_docs)]

mod common;

use common::{batch, keyed_batch, read_all, small_config};
use weir_storage::{CleanerConfig, Log, RecoveryMode, clean};

/// Descriptors open in this process now.
fn open_fds() -> usize {
    // The directory handle of the listing is counted too, in every call.
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// One batch of about 3 KiB: with `small_config` (4 KiB segments) every
/// append after the first rolls.
fn big(i: i64) -> bytes::BytesMut {
    batch("d", 3, 1_000 + i, 1_000)
}

/// Read every record one batch at a time and look up a few timestamps;
/// returns the number of records read.
fn exercise_reads(log: &Log) -> usize {
    for ts in [0, 1_005, 1_010, i64::MAX] {
        log.offset_for_timestamp(ts).unwrap();
    }
    read_all(log, log.log_start_offset(), 1).len()
}

/// `exercise_reads` on a log without offset gaps.
fn read_everything(log: &Log) {
    let expected = log.log_end_offset() - log.log_start_offset();
    assert_eq!(exercise_reads(log) as i64, expected);
}

#[test]
fn a_log_holds_one_descriptor_per_segment() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let baseline = open_fds();

    // Build 20 segments, then close.
    let mut log = Log::open(dir.path(), config.clone(), RecoveryMode::Strict, 0).unwrap();
    assert_eq!(open_fds(), baseline + 1, "a new log: one segment");
    for i in 0..20 {
        log.append(big(i), None, 0).unwrap();
        assert_eq!(
            open_fds(),
            baseline + log.segment_count(),
            "after append {i}"
        );
    }
    assert_eq!(log.segment_count(), 20);
    log.flush().unwrap();
    assert_eq!(open_fds(), baseline + 20);
    log.close().unwrap();
    assert_eq!(open_fds(), baseline, "close releases everything");

    // A clean reopen trusts the indexes; reads and time lookups in every
    // segment open no descriptor that outlives them.
    let mut log = Log::open(dir.path(), config.clone(), RecoveryMode::Strict, 0).unwrap();
    assert!(log.recovery_stats().clean_shutdown);
    assert_eq!(log.segment_count(), 20);
    assert_eq!(open_fds(), baseline + 20);
    read_everything(&log);
    assert_eq!(open_fds(), baseline + 20);

    // Retention removes segments and their descriptor.
    let outcome = log.delete_retention_size_breached(10 * 3_500).unwrap();
    assert!(outcome.segments_deleted > 0);
    assert_eq!(open_fds(), baseline + log.segment_count());
    read_everything(&log);
    assert_eq!(open_fds(), baseline + log.segment_count());

    // An unclean stop: the reopen scans the active segment and rewrites
    // its indexes, still without keeping them open.
    drop(log);
    assert_eq!(open_fds(), baseline);
    let log = Log::open(dir.path(), config.clone(), RecoveryMode::Strict, 0).unwrap();
    assert!(!log.recovery_stats().clean_shutdown);
    assert_eq!(open_fds(), baseline + log.segment_count());
    read_everything(&log);
    assert_eq!(open_fds(), baseline + log.segment_count());
    drop(log);

    // Every index rebuilt (deleted index files): the same.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|e| e == "index" || e == "timeindex")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    let log = Log::open(dir.path(), config.clone(), RecoveryMode::Strict, 0).unwrap();
    assert_eq!(log.recovery_stats().indexes_rebuilt, log.segment_count());
    assert_eq!(open_fds(), baseline + log.segment_count());
    read_everything(&log);
    assert_eq!(open_fds(), baseline + log.segment_count());
    drop(log);
    assert_eq!(open_fds(), baseline);

    // A compaction pass swaps segments in place: still one each.
    let compacted = dir.path().join("compacted");
    let mut log = Log::open(&compacted, config, RecoveryMode::Strict, 0).unwrap();
    for round in 0..12 {
        let value = format!("{round:0>900}");
        let entries = [("a", Some(value.as_str())), ("b", Some(value.as_str()))];
        log.append(keyed_batch(&entries, 0), None, 0).unwrap();
    }
    let segments = log.segment_count();
    assert!(segments > 3);
    let cfg = CleanerConfig {
        min_compaction_lag_ms: 0,
        min_cleanable_dirty_ratio: 0.0,
        key_map_bytes: 1 << 16,
        ..CleanerConfig::default()
    };
    let stats = clean(&mut log, &cfg, 0).unwrap();
    assert!(stats.segments_rewritten > 0, "{stats:?}");
    assert_eq!(open_fds(), baseline + log.segment_count());
    assert!(exercise_reads(&log) > 0);
    assert_eq!(open_fds(), baseline + log.segment_count());
    log.close().unwrap();
    assert_eq!(open_fds(), baseline);
}
