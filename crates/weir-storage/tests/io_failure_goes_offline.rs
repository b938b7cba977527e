//! A failed write or fsync takes the log offline for good (STYLE.md rule 8),
//! and reopening recovers exactly what was written before the failure.
#![allow(missing_docs)]

mod common;

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{batch, read_all, small_config};
use weir_storage::{FileIo, Log, RecoveryMode, StorageError};

/// Fails `.log` writes (after writing half the buffer, like a full disk)
/// and/or fsyncs while the switches are on.
#[derive(Debug, Default)]
struct FaultyIo {
    fail_log_writes: AtomicBool,
    fail_syncs: AtomicBool,
}

impl FileIo for FaultyIo {
    fn write_all_at(&self, file: &File, buf: &[u8], pos: u64) -> std::io::Result<()> {
        if self.fail_log_writes.load(Ordering::SeqCst) && buf.len() > 12 {
            use std::os::unix::fs::FileExt;
            file.write_all_at(&buf[..buf.len() / 2], pos)?;
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        std::os::unix::fs::FileExt::write_all_at(file, buf, pos)
    }

    fn sync_data(&self, file: &File) -> std::io::Result<()> {
        if self.fail_syncs.load(Ordering::SeqCst) {
            return Err(std::io::Error::from_raw_os_error(libc::EIO));
        }
        file.sync_data()
    }
}

#[test]
fn failed_write_is_sticky_and_recoverable() {
    let dir = tempfile::tempdir().unwrap();
    let io = Arc::new(FaultyIo::default());
    let mut log = Log::open_with_io(
        dir.path(),
        small_config(),
        RecoveryMode::Strict,
        0,
        io.clone(),
    )
    .unwrap();
    for i in 0..5 {
        log.append(batch("ok", 2, i, 20), None, 0).unwrap();
    }
    io.fail_log_writes.store(true, Ordering::SeqCst);
    match log.append(batch("lost", 2, 9, 20), None, 0) {
        Err(StorageError::Io { op: "write", .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(log.is_offline());
    // The disk is fine again, but the log stays offline.
    io.fail_log_writes.store(false, Ordering::SeqCst);
    assert!(matches!(
        log.append(batch("x", 1, 0, 1), None, 0),
        Err(StorageError::LogOffline)
    ));
    assert!(matches!(log.flush(), Err(StorageError::LogOffline)));
    assert!(matches!(log.checkpoint(), Err(StorageError::LogOffline)));
    assert!(matches!(log.sync_target(), Err(StorageError::LogOffline)));
    // Reads still see exactly what was acknowledged.
    assert_eq!(log.log_end_offset(), 10);
    assert_eq!(read_all(&log, 0, 1 << 20).len(), 10);
    assert!(matches!(log.close(), Err(StorageError::LogOffline)));

    // No clean-shutdown marker: the reopen scans and cuts the half batch.
    let mut log = Log::open(
        dir.path(),
        small_config(),
        RecoveryMode::TolerateCorruptTail,
        0,
    )
    .unwrap();
    assert!(!log.recovery_stats().clean_shutdown);
    assert!(log.recovery_stats().bytes_truncated > 0);
    assert_eq!(log.log_end_offset(), 10);
    assert_eq!(
        log.append(batch("new", 1, 0, 1), None, 0)
            .unwrap()
            .first_offset,
        10
    );
}

#[test]
fn failed_fsync_is_sticky() {
    let dir = tempfile::tempdir().unwrap();
    let io = Arc::new(FaultyIo::default());
    let mut log = Log::open_with_io(
        dir.path(),
        small_config(),
        RecoveryMode::Strict,
        0,
        io.clone(),
    )
    .unwrap();
    log.append(batch("a", 2, 0, 20), None, 0).unwrap();
    io.fail_syncs.store(true, Ordering::SeqCst);
    assert!(matches!(
        log.flush(),
        Err(StorageError::Io { op: "fsync", .. })
    ));
    io.fail_syncs.store(false, Ordering::SeqCst);
    assert!(matches!(log.flush(), Err(StorageError::LogOffline)));
    assert_eq!(log.flushed_offset(), 0);
    assert!(matches!(
        log.append(batch("b", 1, 0, 1), None, 0),
        Err(StorageError::LogOffline)
    ));
}

#[test]
fn failed_group_commit_fsync_is_reported_by_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let io = Arc::new(FaultyIo::default());
    let mut log = Log::open_with_io(
        dir.path(),
        small_config(),
        RecoveryMode::Strict,
        0,
        io.clone(),
    )
    .unwrap();
    log.append(batch("a", 2, 0, 20), None, 0).unwrap();
    let target = log.sync_target().unwrap();
    io.fail_syncs.store(true, Ordering::SeqCst);
    assert!(target.sync().is_err());
    log.mark_offline();
    log.mark_flushed(target.offset);
    assert_eq!(log.flushed_offset(), 0, "an offline log never advances");
    assert!(matches!(
        log.append(batch("b", 1, 0, 1), None, 0),
        Err(StorageError::LogOffline)
    ));
}

#[test]
fn failed_roll_goes_offline() {
    let dir = tempfile::tempdir().unwrap();
    let io = Arc::new(FaultyIo::default());
    let mut log = Log::open_with_io(
        dir.path(),
        small_config(),
        RecoveryMode::Strict,
        0,
        io.clone(),
    )
    .unwrap();
    log.append(batch("a", 1, 0, 3000), None, 0).unwrap();
    io.fail_syncs.store(true, Ordering::SeqCst);
    // This append needs a roll, whose fsync fails.
    assert!(log.append(batch("b", 1, 0, 3000), None, 0).is_err());
    assert!(log.is_offline());
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_end_offset(), 1);
}
