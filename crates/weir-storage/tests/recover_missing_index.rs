//! Index files deleted or damaged are rebuilt, identical to the originals.
#![allow(missing_docs)]

mod common;

use std::path::Path;

use common::{batch, read_all, small_config};
use weir_storage::{Log, RecoveryMode};

fn build(dir: &Path) -> Vec<i64> {
    let mut log = Log::open(dir, small_config(), RecoveryMode::Strict, 0).unwrap();
    for i in 0..80 {
        log.append(batch("x", 1 + (i % 3) as usize, i * 7, 60), None, 0)
            .unwrap();
    }
    let bases = log.segment_base_offsets();
    log.close().unwrap();
    bases
}

fn index_files(dir: &Path, base: i64) -> (Vec<u8>, Vec<u8>) {
    (
        std::fs::read(dir.join(format!("{base:020}.index"))).unwrap(),
        std::fs::read(dir.join(format!("{base:020}.timeindex"))).unwrap(),
    )
}

#[test]
fn deleted_indexes_are_rebuilt_identically() {
    let dir = tempfile::tempdir().unwrap();
    let bases = build(dir.path());
    assert!(bases.len() >= 3);
    let old = bases[1];
    let active = *bases.last().unwrap();
    let before_old = index_files(dir.path(), old);
    let before_active = index_files(dir.path(), active);
    assert!(!before_old.0.is_empty(), "segment has index entries");
    std::fs::remove_file(dir.path().join(format!("{old:020}.index"))).unwrap();
    std::fs::remove_file(dir.path().join(format!("{active:020}.timeindex"))).unwrap();

    let log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    assert_eq!(log.recovery_stats().indexes_rebuilt, 2);
    assert_eq!(log.recovery_stats().segments_scanned, 2);
    assert_eq!(index_files(dir.path(), old), before_old);
    // The active segment's time index lacks only the final entry a clean
    // close adds (it records the max timestamp; an open log tracks that in
    // memory).
    let (index, time_index) = index_files(dir.path(), active);
    assert_eq!(index, before_active.0);
    assert!(before_active.1.starts_with(&time_index));
    assert!(before_active.1.len() - time_index.len() <= 12);
    let got = read_all(&log, 0, 1);
    assert_eq!(got.len() as i64, log.log_end_offset());
}

#[test]
fn malformed_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let bases = build(dir.path());
    let old = bases[0];
    let before = index_files(dir.path(), old);
    // A length that is not a whole number of entries.
    let mut damaged = before.0.clone();
    damaged.push(0);
    std::fs::write(dir.path().join(format!("{old:020}.index")), damaged).unwrap();
    // Entries pointing past the end of the segment.
    let log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    assert_eq!(log.recovery_stats().indexes_rebuilt, 1);
    assert_eq!(index_files(dir.path(), old), before);
    log.close().unwrap();
    std::fs::write(
        dir.path().join(format!("{old:020}.index")),
        [0, 0, 0, 5, 0xff, 0, 0, 0],
    )
    .unwrap();
    let log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    assert_eq!(log.recovery_stats().indexes_rebuilt, 1);
    assert_eq!(index_files(dir.path(), old), before);
    assert_eq!(
        read_all(&log, 0, 1 << 20).len() as i64,
        log.log_end_offset()
    );
}

#[test]
fn orphan_index_and_temp_files_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let orphan = dir.path().join(format!("{:020}.index", 999_999));
    std::fs::write(&orphan, [0u8; 8]).unwrap();
    let tmp = dir.path().join("recovery-point-offset-checkpoint.tmp");
    std::fs::write(&tmp, "0\n1").unwrap();
    let _log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    assert!(!orphan.exists());
    assert!(!tmp.exists());
}
