//! `read`: max_bytes trimming, KIP-74, the high watermark, range errors.
#![allow(missing_docs)]

mod common;

use common::{batch, records, small_config};
use weir_storage::{Log, RecoveryMode, StorageError};

fn log_with_batches(dir: &std::path::Path) -> (Log, Vec<usize>) {
    let config = weir_storage::LogConfig {
        segment_bytes: 1 << 20,
        ..small_config()
    };
    let mut log = Log::open(dir, config, RecoveryMode::Strict, 0).unwrap();
    let mut sizes = Vec::new();
    for i in 0..10 {
        let b = batch("v", 2, i * 10, 50);
        sizes.push(b.len());
        log.append(b, None, 0).unwrap();
    }
    (log, sizes)
}

#[test]
fn max_bytes_trims_to_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let (log, sizes) = log_with_batches(dir.path());
    let one = sizes[0];
    // Exactly two batches fit; one byte less → one batch.
    assert_eq!(log.read(0, 2 * one, i64::MAX).unwrap().len(), 2 * one);
    assert_eq!(log.read(0, 2 * one - 1, i64::MAX).unwrap().len(), one);
    // KIP-74: at least one whole batch even if max_bytes is smaller.
    assert_eq!(log.read(0, 1, i64::MAX).unwrap().len(), one);
    assert_eq!(log.read(0, 0, i64::MAX).unwrap().len(), one);
    // Starting mid-batch returns the containing batch.
    let r = records(&log.read(5, 1, i64::MAX).unwrap());
    assert_eq!(r.iter().map(|x| x.0).collect::<Vec<_>>(), vec![4, 5]);
    // Everything.
    assert_eq!(
        log.read(0, usize::MAX, i64::MAX).unwrap().len(),
        sizes.iter().sum::<usize>()
    );
}

#[test]
fn high_watermark_limits_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (log, sizes) = log_with_batches(dir.path());
    // HW 6: batches [0,1] [2,3] [4,5] only.
    let r = log.read(0, 1 << 20, 6).unwrap();
    assert_eq!(r.len(), 3 * sizes[0]);
    // HW inside a batch excludes that batch.
    let r = log.read(0, 1 << 20, 5).unwrap();
    assert_eq!(r.len(), 2 * sizes[0]);
    // Offset at or past the HW: nothing, not even under KIP-74.
    assert!(log.read(6, 1 << 20, 6).unwrap().is_empty());
    assert!(log.read(4, 1, 5).unwrap().is_empty());
}

#[test]
fn out_of_range_and_log_end() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = log_with_batches(dir.path());
    assert!(log.read(20, 100, i64::MAX).unwrap().is_empty());
    match log.read(21, 100, i64::MAX) {
        Err(StorageError::OffsetOutOfRange {
            requested: 21,
            log_start: 0,
            log_end: 20,
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        log.read(-1, 100, i64::MAX),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn empty_log_reads_empty() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    assert!(log.read(0, 100, i64::MAX).unwrap().is_empty());
    assert_eq!(log.offset_for_timestamp(0).unwrap(), None);
}
