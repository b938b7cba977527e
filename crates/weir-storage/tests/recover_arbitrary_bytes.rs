//! Whatever bytes are on disk, `open` with TolerateCorruptTail never panics,
//! and valid batches followed by garbage come back exactly.
#![allow(missing_docs)]

mod common;

use std::path::Path;

use common::{batch, read_all, small_config};
use proptest::prelude::*;
use weir_storage::{Log, RecoveryMode};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn exercise(log: &mut Log) {
    let (start, end) = (log.log_start_offset(), log.log_end_offset());
    assert!(start <= end);
    let mut offset = start;
    for _ in 0..32 {
        match log.read(offset, 200, i64::MAX) {
            Ok(b) if !b.is_empty() => offset += 1,
            _ => break,
        }
    }
    for ts in [i64::MIN, 0, 1_000, i64::MAX] {
        let _ = log.offset_for_timestamp(ts);
    }
    if let Ok(info) = log.append(batch("z", 1, 0, 1), None, 0) {
        assert_eq!(info.first_offset, end);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_files_never_panic(
        log_bytes in proptest::collection::vec(any::<u8>(), 0..600),
        index in proptest::collection::vec(any::<u8>(), 0..40),
        time_index in proptest::collection::vec(any::<u8>(), 0..40),
        clean in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "00000000000000000000.log", &log_bytes);
        write(dir.path(), "00000000000000000000.index", &index);
        write(dir.path(), "00000000000000000000.timeindex", &time_index);
        if clean {
            write(dir.path(), ".clean_shutdown", b"");
        }
        if let Ok(mut log) = Log::open(dir.path(), small_config(), RecoveryMode::TolerateCorruptTail, 0) {
            exercise(&mut log);
            let _ = log.close();
        }
    }

    #[test]
    fn valid_prefix_survives_any_garbage_tail(
        batches in 1usize..6,
        garbage in proptest::collection::vec(any::<u8>(), 1..300),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut prefix = Vec::new();
        for i in 0..batches {
            let mut b = batch("p", 2, i as i64, 20);
            weir_protocol::record_batch::set_base_offset(&mut b, 2 * i as i64);
            prefix.extend_from_slice(&b);
        }
        let mut bytes = prefix.clone();
        bytes.extend_from_slice(&garbage);
        write(dir.path(), "00000000000000000000.log", &bytes);
        let log = Log::open(dir.path(), small_config(), RecoveryMode::TolerateCorruptTail, 0).unwrap();
        // Garbage could by chance extend the last batch validly only if it
        // carried a correct CRC; random bytes do not.
        prop_assert_eq!(log.log_end_offset(), 2 * batches as i64);
        prop_assert_eq!(read_all(&log, 0, 1 << 20).len(), 2 * batches);
        prop_assert_eq!(std::fs::read(dir.path().join("00000000000000000000.log")).unwrap(), prefix);
    }
}

/// Regression (found by the segment_reader fuzz target): with a clean
/// shutdown marker, an index whose last entry names an offset the batch at
/// its position does not have made the next append write index entries out
/// of order. Such a segment is now scanned instead of trusted.
#[test]
fn trusted_index_that_disagrees_with_the_log_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let one = batch("p", 2, 0, 1);
    let mut log_bytes = one.to_vec();
    log_bytes.extend_from_slice(&one); // same offsets twice: only the index is trusted
    write(dir.path(), "00000000000000000000.log", &log_bytes);
    let mut entry = 258u32.to_be_bytes().to_vec();
    entry.extend_from_slice(&(one.len() as u32).to_be_bytes());
    write(dir.path(), "00000000000000000000.index", &entry);
    write(dir.path(), "00000000000000000000.timeindex", b"");
    write(dir.path(), ".clean_shutdown", b"");
    let mut log = Log::open(
        dir.path(),
        small_config(),
        RecoveryMode::TolerateCorruptTail,
        0,
    )
    .unwrap();
    assert_eq!(log.recovery_stats().segments_scanned, 1);
    // The scan keeps the first batch and cuts the duplicate.
    assert_eq!(log.log_end_offset(), 2);
    for i in 0..20 {
        log.append(batch("n", 1, i, 50), None, 0).unwrap();
    }
    assert_eq!(read_all(&log, 0, 1).len(), 22);
}
