//! Retention: deleting whole segments from the front of a log.
//!
//! Three triggers, with Kafka's semantics:
//!
//! * time ([`Log::delete_retention_ms_breached`], `retention.ms`): a segment
//!   is breached when its largest timestamp is older than
//!   `now - retention_ms`;
//! * size ([`Log::delete_retention_size_breached`], `retention.bytes`):
//!   oldest segments go while the log stays at or above `retention_bytes`
//!   without them;
//! * DeleteRecords ([`Log::delete_records_before`], KIP-107): the log-start
//!   offset moves to a given offset and segments wholly below it go.
//!
//! ## Invariants
//!
//! * Only a prefix of the segments is deleted, and never the active segment.
//!   Time retention rolls a breached, non-empty active segment first (as
//!   Kafka does), so a topic whose producers stopped still empties.
//! * The log-start offset moves first and is persisted (atomic checkpoint)
//!   before any file is touched: a crash in between leaves files below the
//!   log start, which `open` ignores (reads below the log start are
//!   [`StorageError::OffsetOutOfRange`]) and the next retention run removes.
//! * Files are renamed to `<name>.deleted` and then removed (Kafka removes
//!   them after `file.delete.delay.ms`; nothing in this process reads a
//!   segment after it left `segments`, because every read holds the log,
//!   so they are removed at once). `open` removes any `.deleted` leftover.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::io::ErrorKind;
use std::sync::Arc;

use crate::error::StorageError;
use crate::log::Log;
use crate::segment::{INDEX_SUFFIX, LOG_SUFFIX, Segment, TIME_INDEX_SUFFIX, segment_file};

/// Suffix of a segment file being deleted.
pub const DELETED_SUFFIX: &str = ".deleted";

/// What a retention run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionOutcome {
    /// Whole segments deleted.
    pub segments_deleted: usize,
    /// Bytes of those segments' `.log` files.
    pub bytes_deleted: u64,
    /// The log-start offset after the run.
    pub log_start_offset: i64,
}

impl Log {
    /// Delete the oldest segments whose largest timestamp is older than
    /// `now_ms - retention_ms` (`retention.ms`; negative: keep forever),
    /// stopping at the first segment that is not breached. If every segment
    /// is breached and the active one is not empty, roll it first so it can
    /// go too. An empty closed segment (its records all compacted away) is
    /// breached; a segment whose records carry no timestamp (-1) is not.
    pub fn delete_retention_ms_breached(
        &mut self,
        retention_ms: i64,
        now_ms: i64,
    ) -> Result<RetentionOutcome, StorageError> {
        self.ensure_online()?;
        if retention_ms < 0 {
            return self.delete_log_start_breached();
        }
        let horizon_ms = now_ms.saturating_sub(retention_ms);
        let breached = |seg: &Segment| {
            seg.size == 0 || (seg.max_timestamp >= 0 && seg.max_timestamp < horizon_ms)
        };
        let closed = self.segments.len().saturating_sub(1);
        let mut count = self
            .segments
            .iter()
            .take(closed)
            .take_while(|s| breached(s))
            .count()
            .max(self.segments_below_log_start());
        let active = self.active();
        if count == closed && active.size > 0 && breached(active) {
            self.roll(now_ms)?;
            count += 1;
        }
        let log_start = self
            .segments
            .get(count)
            .map_or(self.log_start_offset, |s| s.base_offset);
        self.delete_front(count, log_start)
    }

    /// Delete the oldest closed segments while the log, without the next
    /// one, would still hold at least `retention_bytes` (`retention.bytes`;
    /// negative: no limit). The active segment is never deleted.
    pub fn delete_retention_size_breached(
        &mut self,
        retention_bytes: i64,
    ) -> Result<RetentionOutcome, StorageError> {
        self.ensure_online()?;
        if retention_bytes < 0 {
            return self.delete_log_start_breached();
        }
        let size = i64::try_from(self.size_bytes()).unwrap_or(i64::MAX);
        let mut excess = size.saturating_sub(retention_bytes);
        let closed = self.segments.len().saturating_sub(1);
        let mut count = 0;
        for seg in self.segments.iter().take(closed) {
            let seg_size = i64::try_from(seg.size).unwrap_or(i64::MAX);
            if excess - seg_size < 0 {
                break;
            }
            excess -= seg_size;
            count += 1;
        }
        let count = count.max(self.segments_below_log_start());
        let log_start = self
            .segments
            .get(count)
            .map_or(self.log_start_offset, |s| s.base_offset);
        self.delete_front(count, log_start)
    }

    /// Delete closed segments that lie wholly below the log-start offset
    /// (left by a crash between persisting a new log start and removing the
    /// files). Both retention calls do this first, as Kafka does, even when
    /// their limit is disabled.
    fn delete_log_start_breached(&mut self) -> Result<RetentionOutcome, StorageError> {
        let count = self.segments_below_log_start();
        self.delete_front(count, self.log_start_offset)
    }

    /// Number of leading closed segments whose successor starts at or below
    /// the log-start offset.
    fn segments_below_log_start(&self) -> usize {
        let closed = self.segments.len().saturating_sub(1);
        (0..closed)
            .take_while(|&i| {
                self.segments
                    .get(i + 1)
                    .is_some_and(|next| next.base_offset <= self.log_start_offset)
            })
            .count()
    }

    /// DeleteRecords (KIP-107): make `offset` the log-start offset, persist
    /// it and delete the closed segments wholly below it. The caller (the
    /// broker) has already checked `offset` against the high watermark; here
    /// it must be within `[0, log_end_offset]`, else
    /// [`StorageError::OffsetOutOfRange`]. An offset at or below the current
    /// log start changes nothing. Returns the log-start offset after the
    /// call. A read at the new log start, inside a batch, returns that whole
    /// batch (the consumer skips the records below its position).
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, StorageError> {
        self.ensure_online()?;
        let log_end = self.log_end_offset();
        if !(0..=log_end).contains(&offset) {
            return Err(StorageError::OffsetOutOfRange {
                requested: offset,
                log_start: self.log_start_offset,
                log_end,
            });
        }
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        let closed = self.segments.len().saturating_sub(1);
        let count = (0..closed)
            .take_while(|&i| {
                self.segments
                    .get(i + 1)
                    .is_some_and(|next| next.base_offset <= offset)
            })
            .count();
        self.delete_front(count, offset)
            .map(|outcome| outcome.log_start_offset)
    }

    fn retention_outcome(&self, segments_deleted: usize, bytes_deleted: u64) -> RetentionOutcome {
        RetentionOutcome {
            segments_deleted,
            bytes_deleted,
            log_start_offset: self.log_start_offset,
        }
    }

    /// Move the log start to `log_start` (never backwards), persist it,
    /// then delete the first `count` segments (never the active one).
    fn delete_front(
        &mut self,
        count: usize,
        log_start: i64,
    ) -> Result<RetentionOutcome, StorageError> {
        let count = count.min(self.segments.len().saturating_sub(1));
        debug_assert!(
            self.segments
                .get(count)
                .is_some_and(|s| s.base_offset <= log_start.max(self.log_start_offset))
        );
        debug_assert!(log_start <= self.log_end_offset());
        if log_start > self.log_start_offset {
            self.log_start_offset = log_start;
            self.checkpoint()?;
        }
        let io = Arc::clone(&self.io);
        let mut bytes = 0u64;
        let mut deleted = 0usize;
        for _ in 0..count {
            let Some(seg) = self.segments.pop_front() else {
                break;
            };
            bytes += seg.size;
            let base = seg.base_offset;
            drop(seg);
            let result = delete_segment_files(&*io, &self.dir, base);
            self.guard(result)?;
            deleted += 1;
            tracing::info!(dir = %self.dir.display(), base_offset = base, "deleted segment");
        }
        if deleted > 0 {
            let result = io
                .sync_dir(&self.dir)
                .map_err(|e| StorageError::io("fsync dir", &self.dir, e));
            self.guard(result)?;
        }
        Ok(self.retention_outcome(deleted, bytes))
    }
}

/// Rename a segment's files to `.deleted`, then remove them.
fn delete_segment_files(
    io: &dyn crate::io::FileIo,
    dir: &std::path::Path,
    base_offset: i64,
) -> Result<(), StorageError> {
    for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
        let path = segment_file(dir, base_offset, suffix);
        let deleted = segment_file(dir, base_offset, &format!("{suffix}{DELETED_SUFFIX}"));
        match io.rename(&path, &deleted) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(StorageError::io("rename", path, e)),
        }
        io.remove_file(&deleted)
            .map_err(|e| StorageError::io("remove", deleted, e))?;
    }
    Ok(())
}
