//! The active segment's index entries live in memory and reach the file
//! only when the segment is synced (flush, roll, clean close). A crash
//! before that, or a failed index write, loses entries from the tail of the
//! sparse index; the log must reopen with every lookup still correct.
#![allow(missing_docs)]

mod common;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{batch, read_all, small_config};
use weir_storage::{FileIo, Log, LogConfig, RecoveryMode, StorageError};

/// One segment big enough for every append of a test, with a dense index.
fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1 << 20,
        index_interval_bytes: 128,
        segment_index_bytes: 4096,
        ..small_config()
    }
}

/// Appends and remembers every record's `(offset, timestamp)`.
#[derive(Default)]
struct Model {
    records: Vec<(i64, i64)>,
}

impl Model {
    /// Batch `i`: 1-3 records of about 100 bytes; timestamps mostly
    /// growing, every fifth batch going back in time.
    fn append(&mut self, log: &mut Log, i: i64) {
        let count = 1 + (i % 3) as usize;
        let ts = 1_000 + 7 * i - if i % 5 == 3 { 30 } else { 0 };
        let info = log.append(batch("u", count, ts, 100), None, 0).unwrap();
        for (k, offset) in (info.first_offset..=info.last_offset).enumerate() {
            self.records.push((offset, ts + k as i64));
        }
    }

    /// Every record is read back at its offset, one batch per read, and
    /// every timestamp lookup gives the first record at or after it.
    fn check(&self, log: &Log) {
        let got: Vec<i64> = read_all(log, 0, 1).into_iter().map(|(o, _)| o).collect();
        let want: Vec<i64> = self.records.iter().map(|(o, _)| *o).collect();
        assert_eq!(got, want);
        for &(offset, _) in &self.records {
            let bytes = log.read(offset, 1, i64::MAX).unwrap();
            let first = common::records(&bytes);
            assert!(
                first.iter().any(|(o, _)| *o == offset),
                "read at {offset} returned {:?}",
                first.iter().map(|(o, _)| o).collect::<Vec<_>>()
            );
        }
        let (lo, hi) = (990, 1_000 + 7 * (self.records.len() as i64) + 10);
        for t in lo..hi {
            let want = self.records.iter().find(|(_, ts)| *ts >= t).copied();
            assert_eq!(log.offset_for_timestamp(t).unwrap(), want, "timestamp {t}");
        }
    }
}

fn index_len(dir: &Path, base: i64, suffix: &str) -> u64 {
    std::fs::metadata(dir.join(format!("{base:020}{suffix}")))
        .unwrap()
        .len()
}

#[test]
fn entries_only_in_memory_are_rebuilt_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), config(), RecoveryMode::Strict, 0).unwrap();
    let mut model = Model::default();
    for i in 0..60 {
        model.append(&mut log, i);
    }
    assert_eq!(log.segment_count(), 1);
    // Dozens of entries, none written yet: the lookups run from memory.
    assert_eq!(index_len(dir.path(), 0, ".index"), 0);
    assert_eq!(index_len(dir.path(), 0, ".timeindex"), 0);
    model.check(&log);

    // A crash (no close): the reopen scans the segment and writes both
    // indexes, identical to the ones a flush persists.
    drop(log);
    let mut log = Log::open(dir.path(), config(), RecoveryMode::Strict, 0).unwrap();
    assert!(!log.recovery_stats().clean_shutdown);
    assert_eq!(log.recovery_stats().segments_scanned, 1);
    model.check(&log);
    let rebuilt = std::fs::read(dir.path().join(format!("{:020}.index", 0))).unwrap();
    assert!(rebuilt.len() >= 8 * 20, "{} bytes", rebuilt.len());

    let twin = tempfile::tempdir().unwrap();
    let mut twin_log = Log::open(twin.path(), config(), RecoveryMode::Strict, 0).unwrap();
    let mut twin_model = Model::default();
    for i in 0..60 {
        twin_model.append(&mut twin_log, i);
    }
    twin_log.flush().unwrap();
    for suffix in [".index", ".timeindex"] {
        let name = format!("{:020}{suffix}", 0);
        assert_eq!(
            std::fs::read(dir.path().join(&name)).unwrap(),
            std::fs::read(twin.path().join(&name)).unwrap(),
            "{name}"
        );
    }

    // The reopened log indexes new appends after the rebuilt entries.
    for i in 60..90 {
        model.append(&mut log, i);
    }
    model.check(&log);
    log.close().unwrap();
    let log = Log::open(dir.path(), config(), RecoveryMode::Strict, 0).unwrap();
    assert!(log.recovery_stats().clean_shutdown);
    model.check(&log);
}

#[test]
fn a_persisted_prefix_and_a_lost_tail_reopen_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), config(), RecoveryMode::Strict, 0).unwrap();
    let mut model = Model::default();
    for i in 0..40 {
        model.append(&mut log, i);
    }
    log.flush().unwrap();
    let persisted = index_len(dir.path(), 0, ".index");
    let persisted_time = index_len(dir.path(), 0, ".timeindex");
    assert!(persisted >= 8 * 10);
    for i in 40..80 {
        model.append(&mut log, i);
    }
    // Only the flushed prefix is in the files.
    assert_eq!(index_len(dir.path(), 0, ".index"), persisted);
    assert_eq!(index_len(dir.path(), 0, ".timeindex"), persisted_time);
    model.check(&log);
    drop(log);

    // Pretend the stop was clean, so the short indexes are trusted rather
    // than rebuilt: a shorter sparse index is still a valid one (lookups
    // floor to an earlier entry and walk forward).
    std::fs::write(dir.path().join(".clean_shutdown"), b"").unwrap();
    let mut log = Log::open(dir.path(), config(), RecoveryMode::Strict, 0).unwrap();
    assert!(log.recovery_stats().clean_shutdown);
    assert_eq!(log.recovery_stats().segments_scanned, 0);
    assert_eq!(index_len(dir.path(), 0, ".index"), persisted);
    model.check(&log);
    // New entries continue after the short index, in order.
    for i in 80..120 {
        model.append(&mut log, i);
    }
    model.check(&log);
    log.close().unwrap();
    assert!(index_len(dir.path(), 0, ".index") > persisted);
    let log = Log::open(dir.path(), config(), RecoveryMode::Strict, 0).unwrap();
    model.check(&log);
}

/// Fails operations on index files (found through the descriptor's path)
/// while `broken` is on: `open` fails, or a write stores half its bytes
/// and fails (a torn write).
#[derive(Debug, Default)]
struct BrokenIndexIo {
    broken: AtomicBool,
    torn_writes: bool,
}

fn is_index(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == "index" || e == "timeindex")
}

impl FileIo for BrokenIndexIo {
    fn open(&self, path: &Path) -> std::io::Result<File> {
        if !self.torn_writes && self.broken.load(Ordering::SeqCst) && is_index(path) {
            return Err(std::io::Error::from_raw_os_error(libc::EMFILE));
        }
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
    }

    fn write_all_at(&self, file: &File, buf: &[u8], pos: u64) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let path = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
        if self.torn_writes && self.broken.load(Ordering::SeqCst) && is_index(&path) {
            file.write_all_at(&buf[..buf.len() / 2 + 1], pos)?;
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        file.write_all_at(buf, pos)
    }
}

fn failed_index_write_goes_offline_and_reopens(torn_writes: bool) {
    let dir = tempfile::tempdir().unwrap();
    let io = Arc::new(BrokenIndexIo {
        torn_writes,
        ..BrokenIndexIo::default()
    });
    let mut log =
        Log::open_with_io(dir.path(), config(), RecoveryMode::Strict, 0, io.clone()).unwrap();
    let mut model = Model::default();
    for i in 0..30 {
        model.append(&mut log, i);
    }
    log.flush().unwrap();
    for i in 30..70 {
        model.append(&mut log, i);
    }
    io.broken.store(true, Ordering::SeqCst);
    let op = if torn_writes { "write" } else { "open" };
    match log.flush() {
        Err(StorageError::Io { op: got, path, .. }) => {
            assert_eq!(got, op);
            assert!(is_index(&path), "{}", path.display());
        }
        other => panic!("{other:?}"),
    }
    assert!(log.is_offline());
    // The in-memory index still serves reads.
    model.check(&log);
    io.broken.store(false, Ordering::SeqCst);
    assert!(matches!(log.flush(), Err(StorageError::LogOffline)));
    drop(log);

    let log = Log::open(dir.path(), config(), RecoveryMode::Strict, 0).unwrap();
    assert_eq!(log.recovery_stats().segments_scanned, 1);
    model.check(&log);
}

#[test]
fn index_that_cannot_be_opened_takes_the_log_offline() {
    failed_index_write_goes_offline_and_reopens(false);
}

#[test]
fn torn_index_write_takes_the_log_offline() {
    failed_index_write_goes_offline_and_reopens(true);
}

#[test]
fn failed_index_write_on_roll_keeps_the_old_segment_active() {
    let dir = tempfile::tempdir().unwrap();
    let io = Arc::new(BrokenIndexIo::default());
    let config = LogConfig {
        segment_bytes: 16 * 1024,
        ..config()
    };
    let mut log = Log::open_with_io(
        dir.path(),
        config.clone(),
        RecoveryMode::Strict,
        0,
        io.clone(),
    )
    .unwrap();
    let mut model = Model::default();
    let mut i = 0;
    while log.segment_count() < 3 {
        model.append(&mut log, i);
        i += 1;
    }
    io.broken.store(true, Ordering::SeqCst);
    let segments = log.segment_count();
    let result = loop {
        let before = log.log_end_offset();
        let count = 1 + (i % 3) as usize;
        let ts = 1_000 + 7 * i - if i % 5 == 3 { 30 } else { 0 };
        match log.append(batch("u", count, ts, 100), None, 0) {
            Ok(info) => {
                for (k, offset) in (info.first_offset..=info.last_offset).enumerate() {
                    model.records.push((offset, ts + k as i64));
                }
                i += 1;
            }
            Err(e) => {
                assert_eq!(log.log_end_offset(), before);
                break e;
            }
        }
    };
    assert!(
        matches!(result, StorageError::Io { op: "open", .. }),
        "{result:?}"
    );
    assert!(log.is_offline());
    assert_eq!(log.segment_count(), segments, "no roll happened");
    // Lookups in closed segments open their index files again.
    io.broken.store(false, Ordering::SeqCst);
    model.check(&log);
    drop(log);

    let log = Log::open(dir.path(), config, RecoveryMode::Strict, 0).unwrap();
    model.check(&log);
}
