//! The bytes of `.index` and `.timeindex` files, frozen: a fixed sequence of
//! appends must leave exactly these files, whether the entries were
//! persisted by a flush, a roll, a clean close or rebuilt by a recovery
//! scan. The expected bytes were captured from the first version of the
//! format (entries written one by one as they were appended); any change
//! here is a format change and belongs in `docs/storage-format.md`.
#![allow(missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{batch, read_all, small_config};
use weir_storage::{Log, LogConfig, RecoveryMode};

/// `small_config` with an index entry every few batches.
fn config() -> LogConfig {
    LogConfig {
        index_interval_bytes: 600,
        ..small_config()
    }
}

/// Batches appended: three segments and part of a fourth.
const BATCHES: i64 = 65;

/// Max timestamp of batch `i`: growing, with a step back every fourth
/// batch, so the time index skips entries whose timestamp did not grow.
fn stamp(i: i64) -> i64 {
    1_000 + 10 * i - if i % 4 == 2 { 25 } else { 0 }
}

fn append_all(log: &mut Log) {
    for i in 0..BATCHES {
        let records = 1 + (i % 3) as usize;
        // `batch` stamps records ts, ts+1, ...: start so the max is `stamp(i)`.
        log.append(
            batch("g", records, stamp(i) - records as i64 + 1, 60),
            None,
            0,
        )
        .unwrap();
    }
}

// Reading the tables: `.index` entries are 8 bytes (`00000006 0000025b`:
// the batch ending at relative offset 6 starts at byte 603), `.timeindex`
// entries 12 (`0000000000000406 00000006`: max timestamp 1030 first
// reached by the batch ending at relative offset 6), all big-endian.

/// Every index file of the directory, name → bytes as hex.
fn index_files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.ends_with(".index") || name.ends_with(".timeindex") {
            let bytes = std::fs::read(entry.path()).unwrap();
            out.insert(name, bytes.iter().map(|b| format!("{b:02x}")).collect());
        }
    }
    out
}

fn expected(table: &[(&str, &str)]) -> BTreeMap<String, String> {
    table
        .iter()
        .map(|(n, h)| ((*n).to_owned(), (*h).to_owned()))
        .collect()
}

fn assert_files(dir: &Path, table: &[(&str, &str)]) {
    let got = index_files(dir);
    let want = expected(table);
    let table: String = got
        .iter()
        .map(|(n, h)| format!("    (\"{n}\", \"{h}\"),\n"))
        .collect();
    assert_eq!(got, want, "index bytes changed; got:\n{table}");
}

/// After a clean close: closed segments and the active one all carry their
/// final time-index entry.
const CLOSED: &[(&str, &str)] = &[
    (
        "00000000000000000000.index",
        "000000060000025b0000000c000004b60000001200000711000000180000096c0000001e00000bc70000002400000e22",
    ),
    (
        "00000000000000000000.timeindex",
        "000000000000040600000006000000000000041a0000000b000000000000044200000012000000000000046000000018000000000000047e0000001e00000000000004920000002300000000000004a600000026",
    ),
    (
        "00000000000000000039.index",
        "000000080000025b0000000e000004b600000014000007110000001a0000096c0000002000000bc70000002600000e22",
    ),
    (
        "00000000000000000039.timeindex",
        "00000000000004ce0000000800000000000004e20000000b000000000000050a0000001400000000000005280000001a000000000000054600000020000000000000055a00000023000000000000056e00000027",
    ),
    (
        "00000000000000000079.index",
        "000000070000025b0000000d000004b60000001300000711000000190000096c0000001f00000bc70000002500000e22",
    ),
    (
        "00000000000000000079.timeindex",
        "00000000000005960000000700000000000005aa0000000b00000000000005d20000001300000000000005f000000019000000000000060e0000001f000000000000062200000023000000000000063600000028",
    ),
    ("00000000000000000120.index", "000000060000025b"),
    (
        "00000000000000000120.timeindex",
        "000000000000065e00000006000000000000066800000008",
    ),
];

/// After `flush` (log still open): as `CLOSED`, but the active segment's
/// time index has no final entry yet.
const FLUSHED: &[(&str, &str)] = &[
    (
        "00000000000000000000.index",
        "000000060000025b0000000c000004b60000001200000711000000180000096c0000001e00000bc70000002400000e22",
    ),
    (
        "00000000000000000000.timeindex",
        "000000000000040600000006000000000000041a0000000b000000000000044200000012000000000000046000000018000000000000047e0000001e00000000000004920000002300000000000004a600000026",
    ),
    (
        "00000000000000000039.index",
        "000000080000025b0000000e000004b600000014000007110000001a0000096c0000002000000bc70000002600000e22",
    ),
    (
        "00000000000000000039.timeindex",
        "00000000000004ce0000000800000000000004e20000000b000000000000050a0000001400000000000005280000001a000000000000054600000020000000000000055a00000023000000000000056e00000027",
    ),
    (
        "00000000000000000079.index",
        "000000070000025b0000000d000004b60000001300000711000000190000096c0000001f00000bc70000002500000e22",
    ),
    (
        "00000000000000000079.timeindex",
        "00000000000005960000000700000000000005aa0000000b00000000000005d20000001300000000000005f000000019000000000000060e0000001f000000000000062200000023000000000000063600000028",
    ),
    ("00000000000000000120.index", "000000060000025b"),
    ("00000000000000000120.timeindex", "000000000000065e00000006"),
];

#[test]
fn persisted_indexes_match_the_golden_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), config(), RecoveryMode::Strict, 0).unwrap();
    append_all(&mut log);
    assert!(log.segment_count() >= 3, "the scenario rolls");
    log.flush().unwrap();
    assert_files(dir.path(), FLUSHED);
    log.close().unwrap();
    assert_files(dir.path(), CLOSED);
}

#[test]
fn rebuilt_indexes_match_the_golden_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), config(), RecoveryMode::Strict, 0).unwrap();
    append_all(&mut log);
    let end = log.log_end_offset();
    // A crash: nothing of the active segment's indexes needs to be on disk.
    drop(log);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.ends_with("index") {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let log = Log::open(dir.path(), config(), RecoveryMode::Strict, 0).unwrap();
    assert_eq!(log.log_end_offset(), end);
    // Closed segments are rebuilt with their final entry; the active one
    // as an open log holds it.
    assert_files(dir.path(), FLUSHED);
    assert_eq!(read_all(&log, 0, 1).len() as i64, end);
    log.close().unwrap();
    assert_files(dir.path(), CLOSED);
}
