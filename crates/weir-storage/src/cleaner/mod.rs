//! The log cleaner: compaction for `cleanup.policy=compact` (Kafka's
//! `LogCleaner`).
//!
//! ## Sections of a compacted log
//!
//! ```text
//! log start          first dirty offset       first uncleanable offset   log end
//!    |---- clean ----------|------- dirty ------------|---- uncleanable ----|
//!                    (cleaner-offset-checkpoint)   (active segment, or records
//!                                                   newer than min.compaction.lag.ms)
//! ```
//!
//! One [`clean`] pass:
//!
//! 1. Build an [`offset_map::OffsetMap`] (key hash → latest offset) over the
//!    dirty section, in offset order, until the section ends or the map is
//!    full. `end` is the offset after the last record covered: the map
//!    holds the latest offset, below `end`, of every key it has.
//! 2. Rewrite every closed segment with base offset below `end`, oldest
//!    first (clean section included, as Kafka does: a key updated in the
//!    dirty section may have old values anywhere before). A record is kept
//!    unless its key is in the map with a larger offset, or it is a
//!    tombstone below `end` whose delete horizon passed. Records without a
//!    key, records at or after `end` and control batches are always kept.
//!    Offsets never change (see [`filter`]).
//! 3. Persist `end` as the new cleaner checkpoint.
//!
//! ## Delete horizon of tombstones
//!
//! Kafka keeps a tombstone for `delete.retention.ms` after the segment
//! holding it was first cleaned (legacy: the segment's mtime; KIP-534: a
//! horizon stamped into the batch). Weir uses the segment's largest record
//! timestamp instead of its mtime, so the decision depends only on data and
//! the clock passed in: a tombstone is removed once
//! `segment max timestamp < now - delete_retention_ms`. A consumer that
//! starts reading the log when the tombstone is written thus has
//! `delete.retention.ms` to reach it. Removing a tombstone needs a pass
//! after that time even if nothing is dirty by then:
//! [`CleanStats::tombstone_deadline_ms`] and
//! [`CleanableInfo::tombstone_deadline_passed`] ask for it.
//!
//! ## Crash safety
//!
//! Each rewritten segment replaces the old one through the swap protocol of
//! [`swap`]; the unit of atomicity is one segment. Why that is enough:
//! segments are replaced oldest first, and a record is only removed when a
//! later record of the same key (kept in every state) supersedes it, or it is
//! a tombstone whose older values sit in earlier segments, which were
//! replaced before it. So after a crash between two segment swaps, every
//! key still reads back its latest value, and the next pass finishes the
//! work. The checkpoint moves only after every swap of the pass.
//!
//! ## Transactions
//!
//! As in Kafka: nothing at or after the last stable offset is cleaned (an
//! open transaction's records may still be aborted); data batches of
//! aborted transactions ([`CleanerConfig::aborted`]) are removed and never
//! enter the map, so an aborted value never hides the committed one before
//! it; commit and abort markers are kept.
//!
//! Not yet: removing markers once their transaction's data is gone,
//! keeping the last batch of each producer for idempotence (Kafka keeps it
//! even when emptied), merging small cleaned segments.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod filter;
pub mod offset_map;
pub mod swap;

use std::sync::Arc;

use weir_protocol::record_batch::{self, BatchHeader};

use crate::checkpoint;
use crate::error::{Corruption, StorageError};
use crate::log::Log;
use crate::segment::Segment;
use filter::{Filtered, filter_batch};
use offset_map::{OffsetMap, hash_key};
use swap::CleanedWriter;

/// Records the end of the cleaned section (the first dirty offset), in the
/// format of [`crate::checkpoint`].
pub const CLEANER_OFFSET_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";

/// Settings of a cleaning pass (Kafka's topic configs of the same names).
#[derive(Debug, Clone, PartialEq)]
pub struct CleanerConfig {
    /// `min.compaction.lag.ms`: a segment whose largest timestamp is newer
    /// than `now - min_compaction_lag_ms` is not cleaned yet.
    pub min_compaction_lag_ms: i64,
    /// `delete.retention.ms`: how long tombstones stay (see the module
    /// documentation for the horizon).
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`: clean when dirty / (clean + dirty)
    /// bytes reaches this.
    pub min_cleanable_dirty_ratio: f64,
    /// `max.compaction.lag.ms`: clean regardless of the ratio once the first
    /// dirty record is older than this.
    pub max_compaction_lag_ms: i64,
    /// Memory for the key-hash map, in bytes (Kafka's
    /// `log.cleaner.dedupe.buffer.size`, per pass).
    pub key_map_bytes: usize,
    /// The last stable offset: records at or after it (an open
    /// transaction's, and everything after) are not cleaned yet.
    pub last_stable_offset: i64,
    /// Aborted transactions: their data batches are removed and never
    /// supersede other records.
    pub aborted: Vec<AbortedRange>,
}

/// A transaction aborted in this log (Kafka's `.txnindex` entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedRange {
    /// Producer whose batches in the range are aborted.
    pub producer_id: i64,
    /// First offset of the transaction.
    pub first_offset: i64,
    /// Offset of its abort marker.
    pub last_offset: i64,
}

impl CleanerConfig {
    /// Whether `header` is a data batch of an aborted transaction.
    fn is_aborted(&self, header: &BatchHeader) -> bool {
        header.is_transactional()
            && !header.is_control()
            && self.aborted.iter().any(|a| {
                a.producer_id == header.producer_id
                    && (a.first_offset..a.last_offset).contains(&header.base_offset)
            })
    }
}

impl Default for CleanerConfig {
    fn default() -> Self {
        CleanerConfig {
            min_compaction_lag_ms: 0,
            delete_retention_ms: 24 * 60 * 60 * 1000,
            min_cleanable_dirty_ratio: 0.5,
            max_compaction_lag_ms: i64::MAX,
            key_map_bytes: 16 << 20,
            last_stable_offset: i64::MAX,
            aborted: Vec::new(),
        }
    }
}

/// What a cleaning pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Segments read.
    pub segments_read: usize,
    /// Segments replaced by a thinner copy.
    pub segments_rewritten: usize,
    /// Bytes of the segments read.
    pub bytes_read: u64,
    /// Bytes of the segments after the pass.
    pub bytes_written: u64,
    /// Records looked at while rewriting.
    pub records_read: u64,
    /// Records kept.
    pub records_kept: u64,
    /// Tombstones removed because their delete horizon passed.
    pub tombstones_removed: u64,
    /// The earliest `now_ms` at which a later pass would remove a tombstone
    /// this pass kept (its segment's largest timestamp plus
    /// `delete.retention.ms`, plus one); `None` if no tombstone waits. A
    /// pass removes expired tombstones even when nothing is dirty, so a log
    /// manager can schedule one then.
    pub tombstone_deadline_ms: Option<i64>,
    /// Distinct keys in the map.
    pub keys_mapped: usize,
    /// The map filled up before the dirty section ended.
    pub map_full: bool,
    /// The cleaner checkpoint after the pass (first dirty offset).
    pub cleaned_up_to: i64,
}

/// How much of a log is dirty, for choosing which log to clean.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanableInfo {
    /// Start of the dirty section (the cleaner checkpoint, within the log).
    pub first_dirty_offset: i64,
    /// End of what may be cleaned now.
    pub first_uncleanable_offset: i64,
    /// Bytes of segments wholly in the clean section.
    pub clean_bytes: u64,
    /// Bytes of the other segments below the first uncleanable offset.
    pub cleanable_bytes: u64,
    /// `cleanable / (clean + cleanable)`, 0 for an empty log.
    pub dirty_ratio: f64,
    /// The first cleanable dirty segment is older than
    /// `max.compaction.lag.ms`.
    pub max_compaction_lag_breached: bool,
    /// A tombstone kept by the last pass may now be removed (also true
    /// before the first pass after open, when this is unknown).
    pub tombstone_deadline_passed: bool,
}

impl CleanableInfo {
    /// Kafka's choice: something is cleanable and either the ratio reached
    /// `min.cleanable.dirty.ratio` or the max compaction lag passed.
    /// Also when a kept tombstone's delete horizon passed, which needs a
    /// pass even with nothing dirty (as KIP-534 does for Kafka).
    pub fn needs_cleaning(&self, cfg: &CleanerConfig) -> bool {
        let dirty = self.cleanable_bytes > 0
            && (self.dirty_ratio >= cfg.min_cleanable_dirty_ratio
                || self.max_compaction_lag_breached);
        dirty || self.tombstone_deadline_passed
    }
}

impl Log {
    /// The dirty ratio and sections of this log (see [`CleanableInfo`]).
    pub fn cleanable_dirty_ratio(
        &self,
        cfg: &CleanerConfig,
        now_ms: i64,
    ) -> Result<CleanableInfo, StorageError> {
        let first_dirty = first_dirty_offset(self)?;
        let first_uncleanable = first_uncleanable_at(self, cfg, first_dirty, now_ms);
        let mut clean_bytes = 0u64;
        let mut cleanable_bytes = 0u64;
        let mut first_dirty_seg: Option<&Segment> = None;
        for (i, seg) in self.segments.iter().enumerate() {
            let next_base = self.segments.get(i + 1).map(|s| s.base_offset);
            let Some(next_base) = next_base else { break };
            if next_base <= first_dirty {
                clean_bytes += seg.size;
            } else if seg.base_offset < first_uncleanable {
                cleanable_bytes += seg.size;
                first_dirty_seg.get_or_insert(seg);
            }
        }
        let total = clean_bytes + cleanable_bytes;
        let dirty_ratio = if total == 0 {
            0.0
        } else {
            cleanable_bytes as f64 / total as f64
        };
        let horizon = now_ms.saturating_sub(cfg.max_compaction_lag_ms);
        let max_compaction_lag_breached = match first_dirty_seg {
            Some(seg) => match seg.header_at(&*self.io, 0)? {
                Some(h) => h.max_timestamp >= 0 && h.max_timestamp < horizon,
                None => false,
            },
            None => false,
        };
        Ok(CleanableInfo {
            first_dirty_offset: first_dirty,
            first_uncleanable_offset: first_uncleanable,
            clean_bytes,
            cleanable_bytes,
            dirty_ratio,
            max_compaction_lag_breached,
            tombstone_deadline_passed: self
                .tombstone_deadline_ms
                .is_some_and(|deadline| now_ms >= deadline),
        })
    }
}

/// The cleaner checkpoint, kept within `[log start, log end]`.
fn first_dirty_offset(log: &Log) -> Result<i64, StorageError> {
    let stored = checkpoint::read(&*log.io, &log.dir, CLEANER_OFFSET_CHECKPOINT_FILE)?;
    let start = log.log_start_offset;
    Ok(stored.unwrap_or(start).clamp(start, log.log_end_offset()))
}

/// The active segment's base, or the base of the first closed segment at or
/// after the dirty section that is too new for `min.compaction.lag.ms`
/// (largest timestamp after `now - min_compaction_lag_ms`).
fn first_uncleanable_at(log: &Log, cfg: &CleanerConfig, first_dirty: i64, now_ms: i64) -> i64 {
    let horizon = now_ms.saturating_sub(cfg.min_compaction_lag_ms.max(0));
    let closed = log.segments.len().saturating_sub(1);
    for (i, seg) in log.segments.iter().enumerate().take(closed) {
        let ends_before_dirty = log
            .segments
            .get(i + 1)
            .is_some_and(|next| next.base_offset <= first_dirty);
        if !ends_before_dirty && seg.max_timestamp > horizon {
            return seg.base_offset.min(cfg.last_stable_offset).max(first_dirty);
        }
    }
    log.active()
        .base_offset
        .min(cfg.last_stable_offset)
        .max(first_dirty)
}

/// Compact `log` once (see the module documentation).
pub fn clean(log: &mut Log, cfg: &CleanerConfig, now_ms: i64) -> Result<CleanStats, StorageError> {
    log.ensure_online()?;
    let mut map = OffsetMap::with_bytes(cfg.key_map_bytes).ok_or(StorageError::InvalidConfig {
        field: "key_map_bytes",
        reason: "too small for one key",
    })?;
    let first_dirty = first_dirty_offset(log)?;
    let first_uncleanable = first_uncleanable_at(log, cfg, first_dirty, now_ms);
    let mut stats = CleanStats {
        cleaned_up_to: first_dirty,
        ..CleanStats::default()
    };
    // With nothing dirty the pass still runs, with an empty map: it removes
    // tombstones whose delete horizon passed since the last pass.
    let end = if first_dirty < first_uncleanable {
        build_map(log, cfg, &mut map, first_dirty, first_uncleanable)?
    } else {
        first_dirty
    };
    stats.keys_mapped = map.len();
    stats.map_full = end < first_uncleanable;
    let delete_horizon_ms = now_ms.saturating_sub(cfg.delete_retention_ms.max(0));
    let closed = log.segments.len().saturating_sub(1);
    for i in 0..closed {
        let Some(seg) = log.segments.get(i) else {
            break;
        };
        if seg.base_offset >= end {
            break;
        }
        let horizon = Horizon {
            delete_ms: delete_horizon_ms,
            delete_retention_ms: cfg.delete_retention_ms.max(0),
        };
        clean_segment(log, i, cfg, &map, end, horizon, now_ms, &mut stats)?;
    }
    let io = Arc::clone(&log.io);
    let result = checkpoint::write(&*io, &log.dir, CLEANER_OFFSET_CHECKPOINT_FILE, end);
    log.guard(result)?;
    stats.cleaned_up_to = end;
    log.tombstone_deadline_ms = stats.tombstone_deadline_ms;
    if stats.segments_read > 0 {
        tracing::info!(dir = %log.dir.display(), ?stats, "cleaned log");
    } else {
        tracing::debug!(dir = %log.dir.display(), ?stats, "nothing to clean");
    }
    Ok(stats)
}

fn corrupt(seg: &Segment, position: u64, e: record_batch::BatchError) -> StorageError {
    StorageError::Corrupt {
        path: seg.log_path().to_path_buf(),
        position,
        reason: Corruption::Batch(e),
    }
}

/// Walk the batches of `seg` from `from_offset`, checking each CRC, calling
/// `f` with the batch bytes and header; `f` returns false to stop.
fn for_each_batch(
    log: &Log,
    seg: &Segment,
    from_offset: i64,
    mut f: impl FnMut(&[u8], &BatchHeader, u64) -> Result<bool, StorageError>,
) -> Result<(), StorageError> {
    let io = &*log.io;
    let Some((mut position, _)) = seg.find_batch(io, from_offset)? else {
        return Ok(());
    };
    while let Some(header) = seg.header_at(io, position)? {
        let bytes = seg.read_at(io, position, header.total_len())?;
        record_batch::check_batch(&bytes).map_err(|e| corrupt(seg, position, e))?;
        if !f(&bytes, &header, position)? {
            break;
        }
        position += header.total_len() as u64;
    }
    Ok(())
}

/// Fill `map` from the dirty section; returns the offset after the last
/// record it covers.
fn build_map(
    log: &Log,
    cfg: &CleanerConfig,
    map: &mut OffsetMap,
    first_dirty: i64,
    first_uncleanable: i64,
) -> Result<i64, StorageError> {
    let mut stop: Option<i64> = None;
    for (i, seg) in log.segments.iter().enumerate() {
        if seg.base_offset >= first_uncleanable || stop.is_some() {
            break;
        }
        let ends_before = log
            .segments
            .get(i + 1)
            .is_some_and(|next| next.base_offset <= first_dirty);
        if ends_before {
            continue;
        }
        for_each_batch(log, seg, first_dirty, |bytes, header, position| {
            if header.is_control() || cfg.is_aborted(header) {
                return Ok(true);
            }
            filter_batch(bytes, header, |r| {
                if stop.is_some() || r.offset < first_dirty || r.offset >= first_uncleanable {
                    return true;
                }
                if let Some(key) = r.key
                    && map.put(&hash_key(key), r.offset).is_err()
                {
                    stop = Some(r.offset);
                }
                true
            })
            .map_err(|e| corrupt(seg, position, e))?;
            Ok(stop.is_none())
        })?;
    }
    Ok(stop.unwrap_or(first_uncleanable))
}

/// When tombstones may go.
#[derive(Debug, Clone, Copy)]
struct Horizon {
    /// Tombstones in segments whose largest timestamp is below this go.
    delete_ms: i64,
    /// `delete.retention.ms`, for [`CleanStats::tombstone_deadline_ms`].
    delete_retention_ms: i64,
}

/// Copy the batches of `seg` before byte `until` unchanged.
fn copy_batches(
    io: &dyn crate::io::FileIo,
    seg: &Segment,
    until: u64,
    writer: &mut CleanedWriter,
) -> Result<(), StorageError> {
    let mut position = 0;
    while position < until {
        let Some(header) = seg.header_at(io, position)? else {
            break;
        };
        let bytes = seg.read_at(io, position, header.total_len())?;
        writer.push(io, &bytes, header)?;
        position += header.total_len() as u64;
    }
    Ok(())
}

/// Rewrite segment `i` keeping what the map and the delete horizon allow,
/// and swap the result in if anything was removed.
#[expect(clippy::too_many_arguments, reason = "one pass's context")]
fn clean_segment(
    log: &mut Log,
    i: usize,
    cfg: &CleanerConfig,
    map: &OffsetMap,
    end: i64,
    horizon: Horizon,
    now_ms: i64,
    stats: &mut CleanStats,
) -> Result<(), StorageError> {
    let io = Arc::clone(&log.io);
    let dir = log.dir.clone();
    let Some(seg) = log.segments.get(i) else {
        return Ok(());
    };
    let base = seg.base_offset;
    let drop_tombstones = seg.max_timestamp >= 0 && seg.max_timestamp < horizon.delete_ms;
    let tombstone_deadline_ms = seg
        .max_timestamp
        .max(0)
        .saturating_add(horizon.delete_retention_ms)
        .saturating_add(1);
    let mut tombstone_kept = false;
    stats.segments_read += 1;
    stats.bytes_read += seg.size;
    let index_bytes = log.config.segment_index_bytes;
    let interval = log.config.index_interval_bytes;
    // The `.cleaned` copy is only started at the first batch that changes
    // (the unchanged batches before it are copied then), so a pass over an
    // already compact segment reads it and writes nothing.
    let mut writer: Option<CleanedWriter> = None;
    let mut tombstones_removed = 0u64;
    let mut records = (0u64, 0u64);
    let result = match log.segments.get(i) {
        None => Ok(()),
        Some(seg) => for_each_batch(log, seg, base, |bytes, header, position| {
            let aborted = header.base_offset < end && cfg.is_aborted(header);
            let (filtered, counts) = filter_batch(bytes, header, |r| {
                if aborted {
                    return false;
                }
                let Some(key) = r.key else { return true };
                if r.offset >= end {
                    return true;
                }
                if map
                    .get(&hash_key(key))
                    .is_some_and(|latest| r.offset < latest)
                {
                    return false;
                }
                if r.tombstone {
                    if drop_tombstones {
                        tombstones_removed += 1;
                        return false;
                    }
                    tombstone_kept = true;
                }
                true
            })
            .map_err(|e| corrupt(seg, position, e))?;
            records.0 += counts.read;
            records.1 += counts.kept;
            let w = match (&mut writer, &filtered) {
                (Some(w), _) => w,
                (None, Filtered::Unchanged) => return Ok(true),
                (None, _) => {
                    let mut w =
                        CleanedWriter::create(&*io, &dir, base, index_bytes, interval, now_ms)?;
                    copy_batches(&*io, seg, position, &mut w)?;
                    writer.insert(w)
                }
            };
            match filtered {
                Filtered::Unchanged => w.push(&*io, bytes, *header)?,
                Filtered::Thinned(b) => {
                    let h = BatchHeader::parse(&b).map_err(|e| corrupt(seg, position, e))?;
                    w.push(&*io, &b, h)?;
                }
                Filtered::Removed => {}
            }
            Ok(true)
        }),
    };
    if let Err(e) = result {
        drop(writer);
        // Best effort: `open` removes `.cleaned` leftovers anyway.
        let _ = swap::discard(&*io, &dir, base);
        return match e {
            StorageError::Io { .. } => log.guard(Err(e)),
            other => Err(other),
        };
    }
    stats.records_read += records.0;
    stats.records_kept += records.1;
    stats.tombstones_removed += tombstones_removed;
    if tombstone_kept {
        let deadline = stats
            .tombstone_deadline_ms
            .map_or(tombstone_deadline_ms, |d| d.min(tombstone_deadline_ms));
        stats.tombstone_deadline_ms = Some(deadline);
    }
    let Some(writer) = writer else {
        stats.bytes_written += log.segments.get(i).map_or(0, |s| s.size);
        return Ok(());
    };
    let finished = writer.finish(&*io);
    let (size, max_timestamp, offset_of_max_timestamp) = log.guard(finished)?;
    let result = swap::commit(&*io, &dir, base)
        .and_then(|()| swap::complete(&*io, &dir, base))
        .and_then(|()| Segment::open(&*io, &dir, base, log.config.segment_index_bytes, false));
    let (mut new_seg, _indexes_ok) = match result {
        Ok(opened) => opened,
        Err(e) => {
            // The old segment still reads its `.log` through its open
            // descriptor, but its index paths may now name the new
            // segment's indexes: stop using them (reads of the now offline
            // log then walk the segment from its start).
            if let Some(old) = log.segments.get_mut(i) {
                old.forget_indexes();
            }
            return log.guard(Err(e));
        }
    };
    debug_assert_eq!(new_seg.size, size);
    let Some(old) = log.segments.get_mut(i) else {
        return Ok(());
    };
    new_seg.next_offset = old.next_offset;
    new_seg.max_timestamp = max_timestamp;
    new_seg.offset_of_max_timestamp = offset_of_max_timestamp;
    new_seg.roll_base_ms = old.roll_base_ms;
    *old = new_seg;
    stats.segments_rewritten += 1;
    stats.bytes_written += size;
    Ok(())
}
