//! One segment: a `.log` file of whole record batches and its two indexes.
//!
//! ## Files
//!
//! `<base offset, 20 digits>.log`, `.index`, `.timeindex`, where the base
//! offset is the first offset the segment may hold (the log-end offset when
//! it was created). The `.log` file is the concatenation of record batches
//! exactly as stored by `append`: producer bytes with the base offset (and
//! possibly leader epoch and LogAppendTime) rewritten. Nothing else is in it:
//! no header, no padding, no preallocation; the file length is the segment
//! size, and a recovering log truncates it to the end of the last good batch.
//!
//! ## Descriptors
//!
//! A segment holds one open file, its `.log`. The index files are opened
//! only for the duration of an operation (see [`crate::index`]), so a
//! broker's descriptor count is one per segment, as in Kafka.
//!
//! ## Invariants
//!
//! * `size` is the byte length of whole batches written; bytes past it (a
//!   failed partial write) are never read and are cut by recovery.
//! * Batches are in strictly increasing offset order, every offset within
//!   `base_offset ..= base_offset + u32::MAX` and every position within
//!   `u32`, so index entries always fit.
//! * `next_offset` is one past the last offset in the segment (the base
//!   offset when empty); for a closed segment loaded without a scan it is
//!   the next segment's base offset.
//! * `max_timestamp` is the largest batch max timestamp (-1 when none) and
//!   `offset_of_max_timestamp` the last offset of the first batch that
//!   reached it.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use weir_protocol::record_batch::{BATCH_HEADER_LEN, BatchHeader, BatchIter};

use crate::error::{Corruption, StorageError};
use crate::index::{IndexFile, OffsetEntry};
use crate::io::FileIo;
use crate::time_index::TimeEntry;

/// Suffix of segment data files.
pub const LOG_SUFFIX: &str = ".log";
/// Suffix of offset index files.
pub const INDEX_SUFFIX: &str = ".index";
/// Suffix of time index files.
pub const TIME_INDEX_SUFFIX: &str = ".timeindex";

/// `<dir>/<base offset, 20 digits><suffix>`.
pub fn segment_file(dir: &Path, base_offset: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}{suffix}"))
}

/// Parse a file name `<20 digits><suffix>` back to its base offset.
pub fn parse_segment_file(name: &str, suffix: &str) -> Option<i64> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) base_offset: i64,
    log_path: PathBuf,
    log: File,
    pub(crate) size: u64,
    pub(crate) index: IndexFile<OffsetEntry>,
    pub(crate) time_index: IndexFile<TimeEntry>,
    pub(crate) next_offset: i64,
    pub(crate) max_timestamp: i64,
    pub(crate) offset_of_max_timestamp: i64,
    pub(crate) bytes_since_index_entry: u64,
    /// Time the segment's age is measured from, for `segment_ms`.
    pub(crate) roll_base_ms: i64,
}

/// Index entries produced by one batch.
pub(crate) struct BatchEntries {
    pub(crate) offset: Option<OffsetEntry>,
    pub(crate) time: Option<TimeEntry>,
}

impl Segment {
    /// Create a new, empty segment (truncating leftovers with its name).
    pub(crate) fn create(
        io: &dyn FileIo,
        dir: &Path,
        base_offset: i64,
        segment_index_bytes: u64,
        now_ms: i64,
    ) -> Result<Segment, StorageError> {
        Segment::create_named(io, dir, base_offset, segment_index_bytes, now_ms, "")
    }

    /// [`Segment::create`] with `extra` after each file's suffix
    /// (`<base>.log.cleaned`, ...): the cleaner writes a replacement segment
    /// under these names before swapping it in.
    pub(crate) fn create_named(
        io: &dyn FileIo,
        dir: &Path,
        base_offset: i64,
        segment_index_bytes: u64,
        now_ms: i64,
        extra: &str,
    ) -> Result<Segment, StorageError> {
        let log_path = segment_file(dir, base_offset, &format!("{LOG_SUFFIX}{extra}"));
        let log = io
            .create(&log_path)
            .map_err(|e| StorageError::io("create", &log_path, e))?;
        let index = IndexFile::create(
            io,
            segment_file(dir, base_offset, &format!("{INDEX_SUFFIX}{extra}")),
            segment_index_bytes,
            true,
        )?;
        let time_index = IndexFile::create(
            io,
            segment_file(dir, base_offset, &format!("{TIME_INDEX_SUFFIX}{extra}")),
            segment_index_bytes,
            true,
        )?;
        Ok(Segment {
            base_offset,
            log_path,
            log,
            size: 0,
            index,
            time_index,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            bytes_since_index_entry: 0,
            roll_base_ms: now_ms,
        })
    }

    /// Open an existing segment's files. The indexes are `None` when missing
    /// or malformed; the caller then rebuilds them with a scan. Tracking
    /// state is left at "empty" for the caller to fill (scan or trusted
    /// load).
    pub(crate) fn open(
        io: &dyn FileIo,
        dir: &Path,
        base_offset: i64,
        segment_index_bytes: u64,
        active: bool,
    ) -> Result<(Segment, bool), StorageError> {
        let log_path = segment_file(dir, base_offset, LOG_SUFFIX);
        let log = io
            .open(&log_path)
            .map_err(|e| StorageError::io("open", &log_path, e))?;
        let size = log
            .metadata()
            .map_err(|e| StorageError::io("stat", &log_path, e))?
            .len();
        let index_path = segment_file(dir, base_offset, INDEX_SUFFIX);
        let time_path = segment_file(dir, base_offset, TIME_INDEX_SUFFIX);
        let index = IndexFile::open(
            io,
            index_path.clone(),
            segment_index_bytes,
            active,
            |e: &OffsetEntry| u64::from(e.position) < size,
        )?;
        let time_index = IndexFile::open(
            io,
            time_path.clone(),
            segment_index_bytes,
            active,
            |_: &TimeEntry| true,
        )?;
        let indexes_ok = index.is_some() && time_index.is_some();
        let index = match index {
            Some(i) => i,
            None => IndexFile::create(io, index_path, segment_index_bytes, active)?,
        };
        let time_index = match time_index {
            Some(i) => i,
            None => IndexFile::create(io, time_path, segment_index_bytes, active)?,
        };
        Ok((
            Segment {
                base_offset,
                log_path,
                log,
                size,
                index,
                time_index,
                next_offset: base_offset,
                max_timestamp: -1,
                offset_of_max_timestamp: base_offset,
                bytes_since_index_entry: 0,
                roll_base_ms: 0,
            },
            indexes_ok,
        ))
    }

    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub(crate) fn log_file(&self) -> &File {
        &self.log
    }

    /// `offset - base_offset` as an index key, if it fits.
    pub(crate) fn relative(&self, offset: i64) -> Option<u32> {
        u32::try_from(offset.checked_sub(self.base_offset)?).ok()
    }

    /// Check that a batch found at `position` may follow what the segment
    /// holds so far.
    pub(crate) fn check_order(
        &self,
        header: &BatchHeader,
        position: u64,
    ) -> Result<(), Corruption> {
        let last = header
            .base_offset
            .checked_add(i64::from(header.last_offset_delta));
        // `last < i64::MAX` so that the next offset always exists.
        let ok_order = header.base_offset >= self.next_offset
            && header.last_offset_delta >= 0
            && last.is_some_and(|l| l < i64::MAX);
        if !ok_order {
            return Err(Corruption::OffsetOrder {
                base_offset: header.base_offset,
                last_offset: header.last_offset(),
                expected_at_least: self.next_offset,
            });
        }
        if self.relative(header.last_offset()).is_none() || u32::try_from(position).is_err() {
            return Err(Corruption::OutOfIndexRange);
        }
        Ok(())
    }

    /// Account for a batch stored at `position` and return the index
    /// entries it causes (Kafka's rule: an entry when more than
    /// `interval` bytes were added since the last one, checked before adding
    /// this batch's size). `last_time` is the last time-index timestamp.
    /// The caller has checked the batch with [`Segment::check_order`].
    pub(crate) fn track_batch(
        &mut self,
        position: u64,
        header: &BatchHeader,
        interval: u32,
        last_time: Option<i64>,
    ) -> BatchEntries {
        let last_offset = header.last_offset();
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = last_offset;
        }
        let mut entries = BatchEntries {
            offset: None,
            time: None,
        };
        if self.bytes_since_index_entry > u64::from(interval) {
            let relative_offset = self.relative(last_offset).unwrap_or(u32::MAX);
            entries.offset = Some(OffsetEntry {
                relative_offset,
                position: u32::try_from(position).unwrap_or(u32::MAX),
            });
            entries.time = self.time_entry_if_grown(last_time);
            self.bytes_since_index_entry = 0;
        }
        self.bytes_since_index_entry += header.total_len() as u64;
        self.next_offset = last_offset + 1;
        entries
    }

    /// A time-index entry for the current max timestamp, if it grew past
    /// `last_time`.
    pub(crate) fn time_entry_if_grown(&self, last_time: Option<i64>) -> Option<TimeEntry> {
        let grown = match last_time {
            Some(t) => self.max_timestamp > t,
            None => self.max_timestamp >= 0,
        };
        if !grown {
            return None;
        }
        Some(TimeEntry {
            timestamp: self.max_timestamp,
            relative_offset: self.relative(self.offset_of_max_timestamp)?,
        })
    }

    /// Write `buf` (whole batches at positions `batches` within it) at the
    /// end of the segment and update the indexes.
    pub(crate) fn append(
        &mut self,
        io: &dyn FileIo,
        buf: &[u8],
        batches: &[(usize, BatchHeader)],
        interval: u32,
    ) -> Result<(), StorageError> {
        let start = self.size;
        io.write_all_at(&self.log, buf, start)
            .map_err(|e| StorageError::io("write", &self.log_path, e))?;
        self.size += buf.len() as u64;
        for (p, header) in batches {
            let position = start + *p as u64;
            debug_assert!(self.check_order(header, position).is_ok());
            let last_time = self.time_index.last().map(|t| t.timestamp);
            let entries = self.track_batch(position, header, interval, last_time);
            if let Some(e) = entries.offset {
                self.index.append(io, e)?;
            }
            if let Some(e) = entries.time {
                self.time_index.append(io, e)?;
            }
        }
        Ok(())
    }

    /// Read `len` bytes at `position`.
    pub(crate) fn read_at(
        &self,
        io: &dyn FileIo,
        position: u64,
        len: usize,
    ) -> Result<BytesMut, StorageError> {
        let mut buf = BytesMut::zeroed(len);
        io.read_exact_at(&self.log, &mut buf, position)
            .map_err(|e| StorageError::io("read", &self.log_path, e))?;
        Ok(buf)
    }

    fn corrupt(&self, position: u64, reason: Corruption) -> StorageError {
        StorageError::Corrupt {
            path: self.log_path.clone(),
            position,
            reason,
        }
    }

    /// The header of the batch at `position`, `None` at the segment end.
    pub(crate) fn header_at(
        &self,
        io: &dyn FileIo,
        position: u64,
    ) -> Result<Option<BatchHeader>, StorageError> {
        if position >= self.size {
            return Ok(None);
        }
        if self.size - position < BATCH_HEADER_LEN as u64 {
            return Err(self.corrupt(
                position,
                Corruption::Batch(weir_protocol::record_batch::BatchError::Truncated {
                    needed: BATCH_HEADER_LEN,
                    available: (self.size - position) as usize,
                }),
            ));
        }
        let buf = self.read_at(io, position, BATCH_HEADER_LEN)?;
        let header =
            BatchHeader::parse(&buf).map_err(|e| self.corrupt(position, Corruption::Batch(e)))?;
        if header.total_len() as u64 > self.size - position {
            return Err(self.corrupt(
                position,
                Corruption::Batch(weir_protocol::record_batch::BatchError::Truncated {
                    needed: header.total_len(),
                    available: (self.size - position) as usize,
                }),
            ));
        }
        Ok(Some(header))
    }

    /// Position and header of the first batch whose last offset is
    /// `>= offset`, starting from the offset index; `None` if the segment
    /// has no such batch.
    pub(crate) fn find_batch(
        &self,
        io: &dyn FileIo,
        offset: i64,
    ) -> Result<Option<(u64, BatchHeader)>, StorageError> {
        if offset >= self.next_offset {
            return Ok(None);
        }
        let relative = match offset.checked_sub(self.base_offset) {
            Some(r) if r <= 0 => 0,
            Some(r) => u32::try_from(r).unwrap_or(u32::MAX),
            None => 0,
        };
        let entry = self.index.floor(io, relative)?;
        let mut position = entry.map_or(0, |e| u64::from(e.position));
        // An entry names the batch at its position by that batch's last
        // offset (see `track_batch`); check it on the way, so an index that
        // disagrees with the log gives an error instead of wrong batches.
        let mut expected_last_offset = entry.map(|e| {
            self.base_offset
                .saturating_add(i64::from(e.relative_offset))
        });
        while let Some(header) = self.header_at(io, position)? {
            if let Some(expected) = expected_last_offset.take()
                && header.last_offset() != expected
            {
                return Err(self.corrupt(
                    position,
                    Corruption::IndexMismatch {
                        expected_last_offset: expected,
                        last_offset: header.last_offset(),
                    },
                ));
            }
            if header.last_offset() >= offset {
                return Ok(Some((position, header)));
            }
            position += header.total_len() as u64;
        }
        Ok(None)
    }

    /// Whole batches from the one containing `offset`: at most `max_bytes`
    /// but at least one batch (KIP-74), only batches whose last offset is
    /// below `max_offset_exclusive`. `None` when the segment has no batch at
    /// or after `offset`.
    pub(crate) fn read(
        &self,
        io: &dyn FileIo,
        offset: i64,
        max_bytes: usize,
        max_offset_exclusive: i64,
    ) -> Result<Option<Bytes>, StorageError> {
        let Some((position, first)) = self.find_batch(io, offset)? else {
            return Ok(None);
        };
        if first.last_offset() >= max_offset_exclusive {
            return Ok(Some(Bytes::new()));
        }
        let available = usize::try_from(self.size - position).unwrap_or(usize::MAX);
        let want = max_bytes.min(available).max(first.total_len());
        let mut buf = self.read_at(io, position, want)?;
        let mut end = 0;
        let mut batches = BatchIter::new(&buf);
        for item in &mut batches {
            match item {
                Ok((p, h)) if h.last_offset() < max_offset_exclusive => end = p + h.total_len(),
                _ => break,
            }
        }
        debug_assert!(end >= first.total_len());
        buf.truncate(end);
        Ok(Some(buf.freeze()))
    }

    /// Record the final max timestamp, persist and fsync everything and
    /// drop the in-memory index: the segment stops being active.
    pub(crate) fn seal(&mut self, io: &dyn FileIo) -> Result<(), StorageError> {
        self.finish_time_index(io)?;
        self.sync(io)?;
        self.index.release_memory();
        self.time_index.release_memory();
        Ok(())
    }

    /// Stop using the index files: lookups walk the segment from its
    /// start. For a segment whose index files were replaced under it (a
    /// cleaner swap that failed half way; the log is offline then).
    pub(crate) fn forget_indexes(&mut self) {
        self.index.forget();
        self.time_index.forget();
    }

    /// Append the final time-index entry if the max timestamp grew.
    pub(crate) fn finish_time_index(&mut self, io: &dyn FileIo) -> Result<(), StorageError> {
        let last_time = self.time_index.last().map(|t| t.timestamp);
        if let Some(e) = self.time_entry_if_grown(last_time) {
            self.time_index.append(io, e)?;
        }
        Ok(())
    }

    /// fsync the log, then write the index entries held only in memory
    /// and fsync both indexes. The log goes first so that an index entry on
    /// disk never names bytes that a power loss could still take away.
    pub(crate) fn sync(&mut self, io: &dyn FileIo) -> Result<(), StorageError> {
        io.sync_data(&self.log)
            .map_err(|e| StorageError::io("fsync", &self.log_path, e))?;
        self.index.sync(io)?;
        self.time_index.sync(io)
    }

    /// Cut the log file to `len` bytes (recovery of a torn tail).
    pub(crate) fn truncate_log(&mut self, io: &dyn FileIo, len: u64) -> Result<(), StorageError> {
        io.set_len(&self.log, len)
            .map_err(|e| StorageError::io("truncate", &self.log_path, e))?;
        self.size = len;
        Ok(())
    }

    /// Remove the segment's three files (missing ones are fine).
    pub(crate) fn remove_files(
        io: &dyn FileIo,
        dir: &Path,
        base_offset: i64,
    ) -> Result<(), StorageError> {
        for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            let path = segment_file(dir, base_offset, suffix);
            match io.remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io("remove", path, e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        let p = segment_file(Path::new("/d"), 42, LOG_SUFFIX);
        assert_eq!(p, Path::new("/d/00000000000000000042.log"));
        assert_eq!(
            parse_segment_file("00000000000000000042.log", LOG_SUFFIX),
            Some(42)
        );
        assert_eq!(
            parse_segment_file("0000000000000000042.log", LOG_SUFFIX),
            None
        );
        assert_eq!(
            parse_segment_file("0000000000000000004x.log", LOG_SUFFIX),
            None
        );
        assert_eq!(
            parse_segment_file("00000000000000000042.index", LOG_SUFFIX),
            None
        );
        assert_eq!(
            parse_segment_file("99999999999999999999.log", LOG_SUFFIX),
            None,
            "beyond i64"
        );
        assert_eq!(
            parse_segment_file("00000000000000000000.log", LOG_SUFFIX).unwrap(),
            0
        );
    }
}
