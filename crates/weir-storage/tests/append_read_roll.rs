//! Append and read back across segment rolls, then after a clean reopen.
#![allow(missing_docs)]

mod common;

use common::{batch, read_all, small_config};
use weir_storage::{Log, RecoveryMode};

#[test]
fn append_read_across_rolls_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t-0");
    let mut log = Log::open(&path, small_config(), RecoveryMode::Strict, 0).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    let mut expected = Vec::new();
    for i in 0..60 {
        let n = 1 + i % 4;
        let info = log
            .append(batch(&format!("b{i}"), n, 1_000 + i as i64, 40), None, 0)
            .unwrap();
        assert_eq!(info.first_offset, expected.len() as i64);
        assert_eq!(info.last_offset, info.first_offset + n as i64 - 1);
        for r in 0..n {
            expected.push(format!("b{i}-{r}"));
        }
    }
    assert!(
        log.segment_count() >= 3,
        "segments: {:?}",
        log.segment_base_offsets()
    );
    assert_eq!(log.log_end_offset(), expected.len() as i64);
    let check = |log: &Log| {
        for max_bytes in [1, 300, 1 << 20] {
            let got = read_all(log, 0, max_bytes);
            assert_eq!(got.len(), expected.len());
            for (i, (offset, value)) in got.iter().enumerate() {
                assert_eq!(*offset, i as i64);
                assert!(value.starts_with(expected[i].as_bytes()));
            }
        }
        // Reading from every offset starts at the batch that contains it.
        for o in 0..expected.len() as i64 {
            let bytes = log.read(o, 1, i64::MAX).unwrap();
            let recs = common::records(&bytes);
            assert!(recs.first().unwrap().0 <= o && recs.last().unwrap().0 >= o);
        }
    };
    check(&log);
    let segments = log.segment_base_offsets();
    log.close().unwrap();
    assert!(path.join(".clean_shutdown").exists());
    let log = Log::open(&path, small_config(), RecoveryMode::Strict, 0).unwrap();
    assert!(!path.join(".clean_shutdown").exists());
    assert_eq!(log.segment_base_offsets(), segments);
    assert_eq!(log.log_end_offset(), expected.len() as i64);
    check(&log);
}

#[test]
fn segment_files_use_kafka_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    for i in 0..30 {
        log.append(batch("x", 3, i, 100), None, 0).unwrap();
    }
    for base in log.segment_base_offsets() {
        for ext in ["log", "index", "timeindex"] {
            assert!(dir.path().join(format!("{base:020}.{ext}")).exists());
        }
    }
}

#[test]
fn time_based_roll() {
    let dir = tempfile::tempdir().unwrap();
    let config = weir_storage::LogConfig {
        segment_ms: Some(1_000),
        ..small_config()
    };
    let mut log = Log::open(dir.path(), config, RecoveryMode::Strict, 10_000).unwrap();
    log.append(batch("a", 1, 10_000, 10), None, 10_000).unwrap();
    log.append(batch("a", 1, 10_500, 10), None, 10_500).unwrap();
    assert_eq!(log.segment_count(), 1);
    log.append(batch("a", 1, 11_500, 10), None, 11_001).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    // Rolling fsyncs the old segment, so the recovery point moves.
    assert_eq!(log.flushed_offset(), 2);
}

#[test]
fn log_append_time_and_leader_epoch_are_stamped() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    let info = log
        .append_with_leader_epoch(batch("a", 3, 5, 10), Some(7), Some(99_000), 0)
        .unwrap();
    assert_eq!(info.max_timestamp, 99_000);
    assert_eq!(info.log_append_time_ms, Some(99_000));
    let bytes = log.read(0, 1 << 20, i64::MAX).unwrap();
    let h = weir_protocol::record_batch::validate_record_set(&bytes).unwrap()[0];
    assert_eq!(h.partition_leader_epoch, 7);
    assert_eq!(h.max_timestamp, 99_000);
    let (_, recs) = weir_protocol::records::decode_batch_records(&bytes).unwrap();
    assert!(recs.iter().all(|r| r.timestamp == 99_000));
}

#[test]
fn multi_batch_record_set_gets_contiguous_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    log.append(batch("first", 2, 0, 10), None, 0).unwrap();
    let mut set = batch("a", 3, 100, 10);
    set.extend_from_slice(&batch("b", 2, 50, 10));
    let info = log.append(set, None, 0).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (2, 6));
    assert_eq!(info.max_timestamp, 102);
    assert_eq!(info.offset_of_max_timestamp, 4);
    let got = read_all(&log, 0, 1 << 20);
    assert_eq!(
        got.iter().map(|r| r.0).collect::<Vec<_>>(),
        (0..7).collect::<Vec<_>>()
    );
}

#[test]
fn oversized_and_invalid_record_sets_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    assert!(matches!(
        log.append(batch("big", 1, 0, 5000), None, 0),
        Err(weir_storage::StorageError::RecordSetTooLarge { .. })
    ));
    let mut torn = batch("x", 2, 0, 10);
    torn.truncate(torn.len() - 1);
    assert!(matches!(
        log.append(torn, None, 0),
        Err(weir_storage::StorageError::InvalidBatch(_))
    ));
    assert!(!log.is_offline());
    assert_eq!(log.log_end_offset(), 0);
}
