//! [`Log`]: one partition's log on disk.
//!
//! ## Invariants
//!
//! * `segments` is never empty, sorted by base offset; the last one is the
//!   active segment, the only one written to and the only one whose index
//!   lives in memory. Every other segment was fsynced (data and indexes)
//!   when it stopped being active.
//! * `log_start_offset <= log_end_offset`; the first segment's base offset
//!   is `<= log_start_offset`. Offsets are contiguous within what `append`
//!   wrote: the next append starts at `log_end_offset`.
//! * `recovery_point` (a.k.a. flushed offset) only grows and never passes
//!   `log_end_offset`; every offset below it is on stable storage. It moves
//!   on roll, [`Log::flush`] and [`Log::mark_flushed`], and is persisted by
//!   [`Log::checkpoint`] (also called on roll and close).
//! * `offline` is sticky: once a write or fsync failed, every later write,
//!   flush or checkpoint returns [`StorageError::LogOffline`] (STYLE.md rule
//!   8); reads still work, because the in-memory state only ever advances
//!   after a write succeeded. Reopening the log runs recovery.
//!
//! * Retention ([`crate::retention`]) deletes segments from the front of
//!   `segments` only, never the active one, and moves `log_start_offset`
//!   forward (persisted before any file is removed). The cleaner
//!   ([`crate::cleaner`]) replaces a closed segment in place with a
//!   thinned copy of the same base offset; offsets may then have gaps.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use weir_protocol::record_batch::{
    self, BatchError, BatchHeader, BatchIter, Compression, TimestampType,
};
use weir_protocol::records::decode_batch_records;

use crate::checkpoint::{self, LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE};
use crate::config::LogConfig;
use crate::error::{Corruption, StorageError};
use crate::io::{FileIo, StdFileIo};
use crate::recovery::{self, CLEAN_SHUTDOWN_FILE, RecoveryMode, RecoveryStats};
use crate::segment::Segment;

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset assigned to the first record.
    pub first_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// Largest batch max timestamp in the set (the LogAppendTime if set).
    pub max_timestamp: i64,
    /// Last offset of the first batch that has `max_timestamp` (Kafka's
    /// "shallow" offset of the max timestamp).
    pub offset_of_max_timestamp: i64,
    /// The LogAppendTime stamped on the batches, if any.
    pub log_append_time_ms: Option<i64>,
    /// Bytes written.
    pub bytes: usize,
}

/// A handle to fsync the active segment without holding the log's lock
/// (group commit).
#[derive(Debug)]
pub struct SyncTarget {
    /// A clone of the active segment's file handle.
    pub file: File,
    /// Log-end offset when the handle was taken: once `sync` succeeds,
    /// every offset below it is durable.
    pub offset: i64,
    path: PathBuf,
    io: Arc<dyn FileIo>,
}

impl SyncTarget {
    /// `fdatasync` the segment through the log's [`FileIo`]. On success,
    /// call [`Log::mark_flushed`] with [`SyncTarget::offset`]; on failure,
    /// [`Log::mark_offline`].
    pub fn sync(&self) -> Result<(), StorageError> {
        self.io
            .sync_data(&self.file)
            .map_err(|e| StorageError::io("fsync", &self.path, e))
    }
}

/// One partition's log: a directory of segments.
#[derive(Debug)]
pub struct Log {
    pub(crate) dir: PathBuf,
    pub(crate) config: LogConfig,
    pub(crate) io: Arc<dyn FileIo>,
    pub(crate) segments: VecDeque<Segment>,
    pub(crate) log_start_offset: i64,
    pub(crate) recovery_point: i64,
    pub(crate) recovery_point_on_disk: Option<i64>,
    pub(crate) log_start_on_disk: Option<i64>,
    pub(crate) offline: bool,
    pub(crate) stats: RecoveryStats,
    /// When the cleaner may next remove a tombstone it kept (see
    /// [`crate::cleaner::CleanStats::tombstone_deadline_ms`]); `Some(i64::MIN)`
    /// after open, where it is unknown, so the first check asks for a pass.
    pub(crate) tombstone_deadline_ms: Option<i64>,
}

static DELETE_ID: AtomicU64 = AtomicU64::new(0);

impl Log {
    /// Open or create the log in `dir` (see [`crate::recovery`] for what
    /// is trusted and what is scanned).
    pub fn open(
        dir: &Path,
        config: LogConfig,
        mode: RecoveryMode,
        now_ms: i64,
    ) -> Result<Log, StorageError> {
        Log::open_with_io(dir, config, mode, now_ms, Arc::new(StdFileIo))
    }

    /// [`Log::open`] with a custom [`FileIo`] (fault injection in tests).
    pub fn open_with_io(
        dir: &Path,
        config: LogConfig,
        mode: RecoveryMode,
        now_ms: i64,
        io: Arc<dyn FileIo>,
    ) -> Result<Log, StorageError> {
        config.validate()?;
        let existed = dir.is_dir();
        io.create_dir_all(dir)
            .map_err(|e| StorageError::io("create dir", dir, e))?;
        if !existed && let Some(parent) = dir.parent() {
            // Make the new partition directory's own entry durable.
            io.sync_dir(parent)
                .map_err(|e| StorageError::io("fsync dir", parent, e))?;
        }
        let loaded = recovery::load(&*io, dir, &config, mode, now_ms)?;
        let mut log = Log {
            dir: dir.to_path_buf(),
            config,
            io,
            segments: loaded.segments,
            log_start_offset: loaded.log_start_offset,
            recovery_point: 0,
            recovery_point_on_disk: loaded.recovery_point_on_disk,
            log_start_on_disk: loaded.log_start_on_disk,
            offline: false,
            stats: loaded.stats,
            tombstone_deadline_ms: Some(i64::MIN),
        };
        log.recovery_point = log.log_end_offset();
        log.checkpoint()?;
        Ok(log)
    }

    /// What `open` found and did.
    pub fn recovery_stats(&self) -> &RecoveryStats {
        &self.stats
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration in force.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Replace the configuration (a dynamic topic config change). Segment
    /// size and age limits apply from the next append; existing segments
    /// and indexes are left as they are.
    pub fn set_config(&mut self, config: LogConfig) -> Result<(), StorageError> {
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// First offset that may be read.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// Offset the next append gets.
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset
    }

    /// Bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    /// Number of segments (the active one included).
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.iter().map(|s| s.base_offset).collect()
    }

    /// True after a write or fsync failure (sticky).
    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// Take the log offline, e.g. after a [`SyncTarget::sync`] failed.
    pub fn mark_offline(&mut self) {
        self.offline = true;
    }

    #[expect(
        clippy::expect_used,
        reason = "segments is never empty (module invariant)"
    )]
    pub(crate) fn active(&self) -> &Segment {
        self.segments.back().expect("log has an active segment")
    }

    pub(crate) fn ensure_online(&self) -> Result<(), StorageError> {
        if self.offline {
            Err(StorageError::LogOffline)
        } else {
            Ok(())
        }
    }

    /// Run a write-side step; a failure takes the log offline.
    pub(crate) fn guard<T>(&mut self, result: Result<T, StorageError>) -> Result<T, StorageError> {
        if let Err(e) = &result {
            tracing::error!(dir = %self.dir.display(), error = %e, "log I/O failed, taking the log offline");
            self.offline = true;
        }
        result
    }

    /// Append a record set (see [`Log::append_with_leader_epoch`]).
    pub fn append(
        &mut self,
        record_set: BytesMut,
        log_append_time_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<AppendInfo, StorageError> {
        self.append_with_leader_epoch(record_set, None, log_append_time_ms, now_ms)
    }

    /// Append an already validated record set (one or more v2 batches).
    ///
    /// Assigns offsets from the log-end offset (rewriting each base offset
    /// in place), stamps `leader_epoch` and LogAppendTime when given, rolls
    /// first if the active segment is full or old, then writes the set with
    /// one positional write (page cache only, no fsync) and updates the
    /// indexes.
    pub fn append_with_leader_epoch(
        &mut self,
        mut record_set: BytesMut,
        leader_epoch: Option<i32>,
        log_append_time_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<AppendInfo, StorageError> {
        self.ensure_online()?;
        if record_set.is_empty() {
            return Err(BatchError::EmptyRecordSet.into());
        }
        let bytes = record_set.len();
        if bytes as u64 > self.config.segment_bytes {
            return Err(StorageError::RecordSetTooLarge {
                bytes,
                segment_bytes: self.config.segment_bytes,
            });
        }
        let first_offset = self.log_end_offset();
        let mut batches: Vec<(usize, BatchHeader)> = Vec::new();
        for item in BatchIter::new(&record_set) {
            let (position, header) = item?;
            if header.last_offset_delta < 0 {
                return Err(BatchError::InvalidRecordCount {
                    records_count: header.records_count,
                    last_offset_delta: header.last_offset_delta,
                }
                .into());
            }
            batches.push((position, header));
        }
        let mut next = first_offset;
        let mut max_timestamp = i64::MIN;
        let mut offset_of_max_timestamp = first_offset;
        for (position, header) in &mut batches {
            let Some(batch) = record_set.get_mut(*position..*position + header.total_len()) else {
                return Err(BatchError::Truncated {
                    needed: *position + header.total_len(),
                    available: bytes,
                }
                .into());
            };
            record_batch::set_base_offset(batch, next);
            if let Some(epoch) = leader_epoch {
                record_batch::set_partition_leader_epoch(batch, epoch);
            }
            if let Some(t) = log_append_time_ms {
                record_batch::set_log_append_time(batch, t);
            }
            *header = BatchHeader::parse(batch)?;
            debug_assert_eq!(header.base_offset, next);
            next = header
                .last_offset()
                .checked_add(1)
                .ok_or(BatchError::InvalidLength(header.batch_length))?;
            if header.max_timestamp > max_timestamp {
                max_timestamp = header.max_timestamp;
                offset_of_max_timestamp = header.last_offset();
            }
        }
        let last_offset = next - 1;
        if u32::try_from(last_offset - first_offset).is_err() {
            return Err(StorageError::InvalidBatch(BatchError::InvalidRecordCount {
                records_count: -1,
                last_offset_delta: -1,
            }));
        }
        if self.should_roll(bytes, batches.len(), last_offset, now_ms) {
            self.roll(now_ms)?;
        }
        let interval = self.config.index_interval_bytes;
        let io = Arc::clone(&self.io);
        let result = match self.segments.back_mut() {
            Some(active) => active.append(&*io, &record_set, &batches, interval),
            None => unreachable!("log has an active segment"),
        };
        self.guard(result)?;
        Ok(AppendInfo {
            first_offset,
            last_offset,
            max_timestamp,
            offset_of_max_timestamp,
            log_append_time_ms,
            bytes,
        })
    }

    fn should_roll(&self, bytes: usize, batch_count: usize, last_offset: i64, now_ms: i64) -> bool {
        let active = self.active();
        if active.size == 0 {
            return false;
        }
        let too_big = active.size + bytes as u64 > self.config.segment_bytes;
        let too_old = self.config.segment_ms.is_some_and(|ms| {
            now_ms.saturating_sub(active.roll_base_ms) > i64::try_from(ms).unwrap_or(i64::MAX)
        });
        let index_full =
            !active.index.has_room_for(batch_count) || !active.time_index.has_room_for(batch_count);
        let offsets_overflow = active.relative(last_offset).is_none();
        too_big || too_old || index_full || offsets_overflow
    }

    /// Seal the active segment (final time-index entry, fsync) and start a
    /// new one at the log-end offset. The recovery point moves to it.
    pub(crate) fn roll(&mut self, now_ms: i64) -> Result<(), StorageError> {
        let next = self.log_end_offset();
        let io = Arc::clone(&self.io);
        let result = (|| {
            if let Some(active) = self.segments.back_mut() {
                active.seal(&*io)?;
            }
            let seg = Segment::create(
                &*io,
                &self.dir,
                next,
                self.config.segment_index_bytes,
                now_ms,
            )?;
            io.sync_dir(&self.dir)
                .map_err(|e| StorageError::io("fsync dir", &self.dir, e))?;
            Ok(seg)
        })();
        let seg = self.guard(result)?;
        tracing::debug!(dir = %self.dir.display(), base_offset = next, "rolled segment");
        self.segments.push_back(seg);
        self.recovery_point = self.recovery_point.max(next);
        self.checkpoint()
    }

    /// Whole batches from the one containing `offset`: up to `max_bytes`
    /// but at least one batch if any (KIP-74), never a batch whose last
    /// offset reaches `max_offset_exclusive` (the high watermark). Reads
    /// within one segment. `offset == log_end_offset` returns empty.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset_exclusive: i64,
    ) -> Result<Bytes, StorageError> {
        let log_end = self.log_end_offset();
        if offset < self.log_start_offset || offset > log_end {
            return Err(StorageError::OffsetOutOfRange {
                requested: offset,
                log_start: self.log_start_offset,
                log_end,
            });
        }
        if offset == log_end || offset >= max_offset_exclusive {
            return Ok(Bytes::new());
        }
        let first = self
            .segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1);
        for seg in self.segments.range(first..) {
            if let Some(bytes) = seg.read(&*self.io, offset, max_bytes, max_offset_exclusive)? {
                return Ok(bytes);
            }
        }
        Ok(Bytes::new())
    }

    /// First offset (at or after the log start) whose record timestamp is
    /// `>= timestamp_ms`, with that record's timestamp; `None` if there is
    /// none. Uses the time index to skip, then decodes the batch. For a
    /// compressed batch (not decodable yet) it answers the batch's first
    /// offset and max timestamp.
    pub fn offset_for_timestamp(
        &self,
        timestamp_ms: i64,
    ) -> Result<Option<(i64, i64)>, StorageError> {
        let io = &*self.io;
        for seg in &self.segments {
            if seg.max_timestamp < timestamp_ms || seg.next_offset <= self.log_start_offset {
                continue;
            }
            let start_relative = seg
                .time_index
                .floor(io, timestamp_ms)?
                .map_or(0, |e| e.relative_offset);
            let start = seg
                .base_offset
                .saturating_add(i64::from(start_relative))
                .max(self.log_start_offset);
            let Some((mut position, mut header)) = seg.find_batch(io, start)? else {
                continue;
            };
            loop {
                if header.max_timestamp >= timestamp_ms
                    && let Some(found) = self.search_batch(seg, position, &header, timestamp_ms)?
                {
                    return Ok(Some(found));
                }
                position += header.total_len() as u64;
                match seg.header_at(io, position)? {
                    Some(h) => header = h,
                    None => break,
                }
            }
        }
        Ok(None)
    }

    fn search_batch(
        &self,
        seg: &Segment,
        position: u64,
        header: &BatchHeader,
        timestamp_ms: i64,
    ) -> Result<Option<(i64, i64)>, StorageError> {
        if header.compression() != Compression::None {
            let offset = header.base_offset.max(self.log_start_offset);
            return Ok((offset <= header.last_offset()).then_some((offset, header.max_timestamp)));
        }
        if header.timestamp_type() == TimestampType::LogAppendTime {
            let offset = header.base_offset.max(self.log_start_offset);
            return Ok(Some((offset, header.max_timestamp)));
        }
        let bytes = seg
            .read_at(&*self.io, position, header.total_len())?
            .freeze();
        let (_, records) = decode_batch_records(&bytes).map_err(|e| StorageError::Corrupt {
            path: seg.log_path().to_path_buf(),
            position,
            reason: Corruption::Batch(e),
        })?;
        Ok(records
            .iter()
            .find(|r| r.timestamp >= timestamp_ms && r.offset >= self.log_start_offset)
            .map(|r| (r.offset, r.timestamp)))
    }

    /// A handle to fsync what was written so far without holding the log.
    pub fn sync_target(&self) -> Result<SyncTarget, StorageError> {
        self.ensure_online()?;
        let active = self.active();
        let file = active
            .log_file()
            .try_clone()
            .map_err(|e| StorageError::io("dup", active.log_path(), e))?;
        Ok(SyncTarget {
            file,
            offset: self.log_end_offset(),
            path: active.log_path().to_path_buf(),
            io: Arc::clone(&self.io),
        })
    }

    /// Record that everything below `offset` is durable (after a successful
    /// [`SyncTarget::sync`]). Persisted by the next [`Log::checkpoint`].
    pub fn mark_flushed(&mut self, offset: i64) {
        if self.offline {
            return;
        }
        let offset = offset.min(self.log_end_offset());
        self.recovery_point = self.recovery_point.max(offset);
    }

    /// Every offset below this is durable (the recovery point).
    pub fn flushed_offset(&self) -> i64 {
        self.recovery_point
    }

    /// fsync the active segment and its indexes, advance the recovery point
    /// to the log end and persist it.
    pub fn flush(&mut self) -> Result<(), StorageError> {
        self.ensure_online()?;
        let io = Arc::clone(&self.io);
        let result = match self.segments.back_mut() {
            Some(active) => active.sync(&*io),
            None => unreachable!("log has an active segment"),
        };
        self.guard(result)?;
        self.recovery_point = self.log_end_offset();
        self.checkpoint()
    }

    /// Persist the recovery point and log-start offset if they changed.
    pub fn checkpoint(&mut self) -> Result<(), StorageError> {
        self.ensure_online()?;
        let io = Arc::clone(&self.io);
        if self.recovery_point_on_disk != Some(self.recovery_point) {
            let result =
                checkpoint::write(&*io, &self.dir, RECOVERY_POINT_FILE, self.recovery_point);
            self.guard(result)?;
            self.recovery_point_on_disk = Some(self.recovery_point);
        }
        if self.log_start_on_disk != Some(self.log_start_offset) {
            let result = checkpoint::write(
                &*io,
                &self.dir,
                LOG_START_OFFSET_FILE,
                self.log_start_offset,
            );
            self.guard(result)?;
            self.log_start_on_disk = Some(self.log_start_offset);
        }
        Ok(())
    }

    /// Clean shutdown: final time-index entry, flush, checkpoints, then the
    /// clean-shutdown marker so the next open skips scanning.
    pub fn close(mut self) -> Result<(), StorageError> {
        self.ensure_online()?;
        let io = Arc::clone(&self.io);
        let result = match self.segments.back_mut() {
            Some(active) => active.finish_time_index(&*io),
            None => Ok(()),
        };
        self.guard(result)?;
        self.flush()?;
        let marker = self.dir.join(CLEAN_SHUTDOWN_FILE);
        let result = io
            .create(&marker)
            .and_then(|f| io.sync_data(&f))
            .and_then(|()| io.sync_dir(&self.dir))
            .map_err(|e| StorageError::io("create", marker, e));
        self.guard(result)
    }

    /// Delete the partition (topic deletion): rename the directory to
    /// `<dir>.<id>-delete`, make the rename durable, then remove it. A
    /// crash after the rename leaves a `-delete` directory that
    /// [`crate::parse_partition_dir_name`] does not accept, so a log manager
    /// removes it on start instead of loading it.
    pub fn delete(self) -> Result<(), StorageError> {
        let io = Arc::clone(&self.io);
        let dir = self.dir.clone();
        drop(self);
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("partition")
            .to_owned();
        let parent = dir.parent().unwrap_or(Path::new("."));
        let mut target = None;
        for _ in 0..64 {
            let id = DELETE_ID.fetch_add(1, Ordering::Relaxed);
            let candidate = parent.join(format!("{name}.{:x}{id:04x}-delete", std::process::id()));
            if !candidate.exists() {
                target = Some(candidate);
                break;
            }
        }
        let target = target.ok_or_else(|| {
            StorageError::io(
                "rename",
                &dir,
                std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            )
        })?;
        io.rename(&dir, &target)
            .map_err(|e| StorageError::io("rename", &dir, e))?;
        io.sync_dir(parent)
            .map_err(|e| StorageError::io("fsync dir", parent, e))?;
        io.remove_dir_all(&target)
            .map_err(|e| StorageError::io("remove dir", &target, e))
    }
}
