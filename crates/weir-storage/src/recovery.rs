//! Opening a partition directory: listing segments, trusting or scanning
//! them, truncating a torn tail, rebuilding indexes.
//!
//! ## What is trusted
//!
//! | segment                                        | clean shutdown marker | no marker            |
//! |------------------------------------------------|-----------------------|----------------------|
//! | ends at or below the recovery point            | trusted               | trusted              |
//! | holds or follows the recovery point (incl. the last) | trusted         | scanned with CRCs    |
//! | any, with a missing or malformed index         | scanned               | scanned              |
//!
//! "Trusted" means its indexes are used as they are; for the last segment
//! the few batches after its last index entry are walked (headers only) to
//! find the log-end offset. "Scanned" means every batch is read, its CRC and
//! offset order checked, and both indexes are rebuilt from the batches.
//!
//! A scan stops at the first bad batch. With
//! [`RecoveryMode::TolerateCorruptTail`] the segment is truncated there and
//! every later segment is deleted (their offsets would no longer follow on);
//! with [`RecoveryMode::Strict`] `open` fails with
//! [`StorageError::Corrupt`] and changes nothing in the log files.
//!
//! After a successful open every byte of the log is durable (trusted
//! segments were fsynced before the recovery point passed them, scanned
//! segments are fsynced by the scan), so the recovery point becomes the
//! log-end offset.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::path::Path;

use weir_protocol::record_batch::{
    BATCH_HEADER_LEN, BatchError, BatchHeader, BatchIter, CRC_START,
};

use crate::checkpoint::{self, LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE, TMP_SUFFIX};
use crate::config::LogConfig;
use crate::error::{Corruption, StorageError};
use crate::index::OffsetEntry;
use crate::io::FileIo;
use crate::retention::DELETED_SUFFIX;
use crate::segment::{INDEX_SUFFIX, LOG_SUFFIX, Segment, TIME_INDEX_SUFFIX, parse_segment_file};
use crate::time_index::TimeEntry;

/// Marker left by a clean [`crate::Log::close`]; removed by `open`.
pub const CLEAN_SHUTDOWN_FILE: &str = ".clean_shutdown";

/// Bytes read at a time while scanning a segment. Bounds scan memory: a
/// batch larger than this is checked by streaming its CRC.
pub const SCAN_CHUNK_BYTES: usize = 1 << 20;
const _: () = assert!(SCAN_CHUNK_BYTES >= BATCH_HEADER_LEN);

/// How `open` treats bytes that fail their checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryMode {
    /// Truncate a torn or corrupt tail after the recovery point (and drop
    /// any later segment); the normal mode after a crash.
    TolerateCorruptTail,
    /// Refuse to open on any corruption.
    Strict,
}

/// What `open` did, for logs, metrics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryStats {
    /// A clean-shutdown marker was found, so nothing was scanned (unless an
    /// index was missing).
    pub clean_shutdown: bool,
    /// Segments found on disk.
    pub segments_loaded: usize,
    /// Segments read batch by batch with CRC checks.
    pub segments_scanned: usize,
    /// Batches read by those scans.
    pub batches_scanned: u64,
    /// Bytes cut from the tail of a segment.
    pub bytes_truncated: u64,
    /// Segments deleted because an earlier one was truncated.
    pub segments_deleted: usize,
    /// Segments whose index files were missing or malformed.
    pub indexes_rebuilt: usize,
}

/// The result of loading a directory.
pub(crate) struct Loaded {
    pub(crate) segments: VecDeque<Segment>,
    pub(crate) log_start_offset: i64,
    pub(crate) recovery_point_on_disk: Option<i64>,
    pub(crate) log_start_on_disk: Option<i64>,
    pub(crate) stats: RecoveryStats,
}

/// Outcome of scanning one segment.
struct Scan {
    corruption: Option<(u64, Corruption)>,
    offsets: Vec<OffsetEntry>,
    times: Vec<TimeEntry>,
    batches: u64,
}

pub(crate) fn load(
    io: &dyn FileIo,
    dir: &Path,
    config: &LogConfig,
    mode: RecoveryMode,
    now_ms: i64,
) -> Result<Loaded, StorageError> {
    let mut stats = RecoveryStats::default();
    let marker = dir.join(CLEAN_SHUTDOWN_FILE);
    match io.remove_file(&marker) {
        Ok(()) => {
            stats.clean_shutdown = true;
            // Make the removal durable before anything is appended: a crash
            // after new appends must not find a stale marker.
            io.sync_dir(dir)
                .map_err(|e| StorageError::io("fsync dir", dir, e))?;
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(StorageError::io("remove", marker, e)),
    }
    let clean = stats.clean_shutdown;
    // Before listing: a decided cleaner swap replaces its segment's files,
    // an undecided one is removed (see `cleaner::swap`).
    crate::cleaner::swap::recover(io, dir)?;
    let bases = list_segments(io, dir)?;
    stats.segments_loaded = bases.len();
    let recovery_point_on_disk = read_checkpoint(io, dir, RECOVERY_POINT_FILE, mode)?;
    let log_start_on_disk = read_checkpoint(io, dir, LOG_START_OFFSET_FILE, mode)?;
    let recovery_point = recovery_point_on_disk.unwrap_or(0);
    let interval = config.index_interval_bytes;

    let mut segments = VecDeque::with_capacity(bases.len());
    for (i, &base) in bases.iter().enumerate() {
        let next_base = bases.get(i + 1).copied();
        let active = next_base.is_none();
        let (mut seg, indexes_ok) =
            Segment::open(io, dir, base, config.segment_index_bytes, active)?;
        let trusted = indexes_ok && (clean || next_base.is_some_and(|nb| nb <= recovery_point));
        if trusted && load_trusted(io, &mut seg, next_base)? {
            segments.push_back(seg);
            continue;
        }
        if !indexes_ok {
            stats.indexes_rebuilt += 1;
        }
        stats.segments_scanned += 1;
        let scan = scan(io, &mut seg, interval)?;
        stats.batches_scanned += scan.batches;
        let Some((position, reason)) = scan.corruption.clone() else {
            apply(io, &mut seg, scan, active, None)?;
            segments.push_back(seg);
            continue;
        };
        if mode == RecoveryMode::Strict {
            return Err(StorageError::Corrupt {
                path: seg.log_path().to_path_buf(),
                position,
                reason,
            });
        }
        tracing::warn!(
            path = %seg.log_path().display(),
            position,
            %reason,
            bytes_truncated = seg.size - position,
            later_segments_deleted = bases.len() - i - 1,
            "truncating corrupt or torn log tail"
        );
        stats.bytes_truncated += seg.size - position;
        // This segment becomes the last one: keep its index in memory.
        apply(io, &mut seg, scan, true, Some(position))?;
        for &later in bases.get(i + 1..).unwrap_or(&[]) {
            Segment::remove_files(io, dir, later)?;
            stats.segments_deleted += 1;
        }
        segments.push_back(seg);
        break;
    }

    let first_base = segments.front().map(|s| s.base_offset);
    let log_end = segments.back().map(|s| s.next_offset);
    let mut log_start_offset = match (log_start_on_disk, first_base) {
        (Some(ls), Some(fb)) => ls.max(fb),
        (None, Some(fb)) => fb,
        (Some(ls), None) => ls,
        (None, None) => 0,
    };
    if log_end.is_none_or(|end| log_start_offset > end) {
        // No segment, or every stored offset is below the log start (the
        // unflushed tail was lost after the log start had moved past it):
        // start an empty log at the log-start offset, as Kafka does.
        for seg in segments.drain(..) {
            Segment::remove_files(io, dir, seg.base_offset)?;
            stats.segments_deleted += 1;
        }
        log_start_offset = log_start_offset.max(0);
        segments.push_back(Segment::create(
            io,
            dir,
            log_start_offset,
            config.segment_index_bytes,
            now_ms,
        )?);
    } else if let Some(active) = segments.back_mut() {
        active.roll_base_ms = roll_base(io, active, now_ms)?;
    }
    io.sync_dir(dir)
        .map_err(|e| StorageError::io("fsync dir", dir, e))?;
    Ok(Loaded {
        segments,
        log_start_offset,
        recovery_point_on_disk,
        log_start_on_disk,
        stats,
    })
}

fn read_checkpoint(
    io: &dyn FileIo,
    dir: &Path,
    name: &str,
    mode: RecoveryMode,
) -> Result<Option<i64>, StorageError> {
    match checkpoint::read(io, dir, name) {
        Ok(v) => Ok(v),
        Err(e @ StorageError::Corrupt { .. }) if mode == RecoveryMode::TolerateCorruptTail => {
            // Both checkpoints have safe fallbacks: recovery point 0 scans
            // everything, and the log start falls back to the first segment.
            tracing::warn!(error = %e, "ignoring malformed checkpoint");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Segment base offsets in the directory, ascending. Removes leftovers of
/// interrupted operations: checkpoint temp files, files of deleted segments
/// (`.deleted`) and index files whose `.log` is gone.
fn list_segments(io: &dyn FileIo, dir: &Path) -> Result<Vec<i64>, StorageError> {
    let mut logs = Vec::new();
    let mut indexes = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| StorageError::io("read dir", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StorageError::io("read dir", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(base) = parse_segment_file(name, LOG_SUFFIX) {
            logs.push(base);
        } else if let Some(base) = parse_segment_file(name, INDEX_SUFFIX)
            .or_else(|| parse_segment_file(name, TIME_INDEX_SUFFIX))
        {
            indexes.push((base, entry.path()));
        } else if name.ends_with(TMP_SUFFIX) || name.ends_with(DELETED_SUFFIX) {
            io.remove_file(&entry.path())
                .map_err(|e| StorageError::io("remove", entry.path(), e))?;
        }
    }
    logs.sort_unstable();
    for (base, path) in indexes {
        if logs.binary_search(&base).is_err() {
            io.remove_file(&path)
                .map_err(|e| StorageError::io("remove", path, e))?;
        }
    }
    Ok(logs)
}

/// Fill a trusted segment's state from its indexes. For the last segment,
/// walk the batches after the last index entry. `Ok(false)` if those
/// batches do not check out (the caller scans the segment instead).
fn load_trusted(
    io: &dyn FileIo,
    seg: &mut Segment,
    next_base: Option<i64>,
) -> Result<bool, StorageError> {
    if let Some(t) = seg.time_index.last() {
        seg.max_timestamp = t.timestamp;
        seg.offset_of_max_timestamp = seg.base_offset.saturating_add(i64::from(t.relative_offset));
    }
    if let Some(nb) = next_base {
        seg.next_offset = nb;
        return Ok(true);
    }
    // The last index entry must name the batch found at its position, and
    // the time index must not point past the end: otherwise appends would
    // add entries out of order. A mismatch means the files disagree, so scan.
    let start = seg.index.last().map_or(0, |e| u64::from(e.position));
    let mut expected_last_offset = seg
        .index
        .last()
        .map(|e| seg.base_offset.saturating_add(i64::from(e.relative_offset)));
    let time_last_offset = seg
        .time_index
        .last()
        .map(|t| seg.base_offset.saturating_add(i64::from(t.relative_offset)));
    let mut position = start;
    loop {
        let header = match seg.header_at(io, position) {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(StorageError::Corrupt { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        if seg.check_order(&header, position).is_err()
            || expected_last_offset
                .take()
                .is_some_and(|o| o != header.last_offset())
        {
            return Ok(false);
        }
        if header.max_timestamp > seg.max_timestamp {
            seg.max_timestamp = header.max_timestamp;
            seg.offset_of_max_timestamp = header.last_offset();
        }
        seg.next_offset = header.last_offset() + 1;
        position += header.total_len() as u64;
    }
    if expected_last_offset.is_some() || time_last_offset.is_some_and(|o| o >= seg.next_offset) {
        return Ok(false);
    }
    seg.bytes_since_index_entry = seg.size - start;
    Ok(true)
}

/// Read every batch of the segment with CRC and order checks, computing the
/// index entries and tracking state. Stops at the first bad batch.
fn scan(io: &dyn FileIo, seg: &mut Segment, interval: u32) -> Result<Scan, StorageError> {
    seg.next_offset = seg.base_offset;
    seg.max_timestamp = -1;
    seg.offset_of_max_timestamp = seg.base_offset;
    seg.bytes_since_index_entry = 0;
    let mut out = Scan {
        corruption: None,
        offsets: Vec::new(),
        times: Vec::new(),
        batches: 0,
    };
    let size = seg.size;
    let mut position = 0u64;
    let mut buf = Vec::new();
    while position < size {
        let chunk_len =
            usize::try_from((size - position).min(SCAN_CHUNK_BYTES as u64)).unwrap_or(0);
        let reaches_end = position + chunk_len as u64 == size;
        buf.resize(chunk_len, 0);
        io.read_exact_at(seg.log_file(), &mut buf, position)
            .map_err(|e| StorageError::io("read", seg.log_path(), e))?;
        let mut batches = BatchIter::verified(&buf);
        let mut stop = None;
        for item in &mut batches {
            match item {
                Ok((p, header)) => {
                    let at = position + p as u64;
                    if let Err(reason) = seg.check_order(&header, at) {
                        out.corruption = Some((at, reason));
                        return Ok(out);
                    }
                    accept(seg, &mut out, at, &header, interval);
                }
                Err(e) => {
                    stop = Some(e);
                    break;
                }
            }
        }
        let consumed = batches.valid_len() as u64;
        position += consumed;
        match stop {
            None => {}
            // A batch that crosses the chunk boundary: read again from it.
            Some(BatchError::Truncated { .. }) if !reaches_end && consumed > 0 => {}
            // A batch bigger than a chunk: check it by streaming.
            Some(BatchError::Truncated { .. }) if !reaches_end => {
                match check_large_batch(io, seg, position)? {
                    Ok(header) => {
                        if let Err(reason) = seg.check_order(&header, position) {
                            out.corruption = Some((position, reason));
                            return Ok(out);
                        }
                        accept(seg, &mut out, position, &header, interval);
                        position += header.total_len() as u64;
                    }
                    Err(reason) => {
                        out.corruption = Some((position, reason));
                        return Ok(out);
                    }
                }
            }
            Some(e) => {
                out.corruption = Some((position, Corruption::Batch(e)));
                return Ok(out);
            }
        }
    }
    Ok(out)
}

fn accept(seg: &mut Segment, out: &mut Scan, position: u64, header: &BatchHeader, interval: u32) {
    let last_time = out.times.last().map(|t| t.timestamp);
    let entries = seg.track_batch(position, header, interval, last_time);
    if let Some(e) = entries.offset
        && out.offsets.len() < seg.index.max_entries()
    {
        out.offsets.push(e);
    }
    if let Some(e) = entries.time
        && out.times.len() < seg.time_index.max_entries()
    {
        out.times.push(e);
    }
    out.batches += 1;
}

/// Check a batch larger than a scan chunk, streaming its CRC.
fn check_large_batch(
    io: &dyn FileIo,
    seg: &Segment,
    position: u64,
) -> Result<Result<BatchHeader, Corruption>, StorageError> {
    let head = seg.read_at(io, position, BATCH_HEADER_LEN)?;
    let header = match BatchHeader::parse(&head) {
        Ok(h) => h,
        Err(e) => return Ok(Err(Corruption::Batch(e))),
    };
    let end = position + header.total_len() as u64;
    if end > seg.size {
        return Ok(Err(Corruption::Batch(BatchError::Truncated {
            needed: header.total_len(),
            available: usize::try_from(seg.size - position).unwrap_or(usize::MAX),
        })));
    }
    let mut crc = 0u32;
    let mut at = position + CRC_START as u64;
    while at < end {
        let n = usize::try_from((end - at).min(SCAN_CHUNK_BYTES as u64)).unwrap_or(0);
        let chunk = seg.read_at(io, at, n)?;
        crc = crc32c::crc32c_append(crc, &chunk);
        at += n as u64;
    }
    if crc != header.crc {
        return Ok(Err(Corruption::Batch(BatchError::CorruptCrc {
            expected: header.crc,
            actual: crc,
        })));
    }
    Ok(Ok(header))
}

/// Write the scan's results: truncate at `truncate_at`, replace both
/// indexes, and fsync.
fn apply(
    io: &dyn FileIo,
    seg: &mut Segment,
    scan: Scan,
    active: bool,
    truncate_at: Option<u64>,
) -> Result<(), StorageError> {
    if let Some(len) = truncate_at {
        seg.truncate_log(io, len)?;
    }
    let mut times = scan.times;
    if !active {
        // A closed segment's final time-index entry (see `Segment::seal`),
        // written with the others: its index is all on disk from here on.
        if let Some(e) = seg.time_entry_if_grown(times.last().map(|t| t.timestamp)) {
            times.push(e);
        }
    }
    seg.index.replace(io, scan.offsets, active)?;
    seg.time_index.replace(io, times, active)?;
    seg.sync(io)
}

/// When the active segment's age starts, for `segment_ms`: the first
/// batch's max timestamp (Kafka's rule, so a restart does not reset the
/// age), but never later than now; now for an empty segment.
fn roll_base(io: &dyn FileIo, seg: &Segment, now_ms: i64) -> Result<i64, StorageError> {
    match seg.header_at(io, 0) {
        Ok(Some(h)) if h.max_timestamp >= 0 => Ok(h.max_timestamp.min(now_ms)),
        Ok(_) | Err(StorageError::Corrupt { .. }) => Ok(now_ms),
        Err(e) => Err(e),
    }
}
