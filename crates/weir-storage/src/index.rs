//! Sparse index files: the offset index (`.index`) and, through the same
//! code, the time index (`.timeindex`, see [`crate::time_index`]).
//!
//! ## Format of `.index`
//!
//! A flat array of 8-byte entries, no header:
//!
//! | size | field             | notes                                         |
//! |-----:|-------------------|-----------------------------------------------|
//! |    4 | `relative_offset` | u32 BE: a batch's last offset − segment base  |
//! |    4 | `position`        | u32 BE: byte position of that batch in `.log` |
//!
//! An entry is added when more than `index_interval_bytes` of batches were
//! appended since the previous entry (checked before each batch, as Kafka
//! does), so the first batch of a segment never has one: position 0 is
//! implied. Entries are strictly increasing in both fields.
//!
//! ## Files are not preallocated
//!
//! Kafka preallocates index files to `segment_index_bytes` and mmaps them,
//! trimming on roll; a crash leaves a zero-filled tail that recovery must
//! tell apart from entries. Weir writes entries with positional writes
//! instead, so the file length is always a whole number of entries that
//! were written, and the sanity check on open is just "length is a multiple
//! of the entry size and entries are ordered".
//!
//! ## No descriptor between operations
//!
//! An `IndexFile` holds a path, not an open file: each operation opens
//! the file through [`FileIo`], does its positional reads or writes and
//! closes it. A segment therefore costs one descriptor, its `.log`, instead
//! of three, which is what lets a broker host 10,000 partitions under a
//! 20,000 `nofile` limit (Kafka gets the same by mmapping its indexes and
//! closing their descriptors).
//!
//! * **Active segment** (`mem` is `Some`): `append` only pushes to memory.
//!   The first `persisted` entries are in the file; `IndexFile::sync`
//!   writes the rest with one positional write at `persisted * LEN` and
//!   fsyncs, through one short-lived descriptor. The segment calls it
//!   exactly where index files were always fsynced: `flush`, roll (seal),
//!   clean close, the end of a recovery scan and of a cleaned segment.
//!   Nothing is written between those points, so an index costs no system
//!   call per entry either.
//! * **Closed segments** (`mem` is `None`): every entry is in the file. A
//!   lookup opens it, binary-searches with positional reads of single
//!   entries (served by the page cache) and closes it. Memory does not grow
//!   with the number of segments, and an `open` per lookup (a few
//!   microseconds) is small next to the fetch it serves.
//!
//! ## Crash safety of the unpersisted tail
//!
//! The file always holds a prefix of the index's entries. A crash loses the
//! entries that were only in memory, which leaves a shorter index that is
//! still valid: a lookup floors to an earlier entry and walks forward over
//! the batch headers. Only the active segment can have such a tail, and
//! recovery scans the active segment after every unclean stop and rewrites
//! both its indexes, so nothing relies on the lost entries. A segment
//! stops being active only through a seal, which persists and fsyncs its
//! indexes before the recovery point moves past it; a clean close does the
//! same before it writes the clean-shutdown marker that lets the next open
//! trust the active segment's indexes.
//!
//! The tail is written after the `.log` is fsynced (see
//! `Segment::sync`), so a persisted entry never points at bytes a power
//! loss could still take away. It is not written on
//! [`crate::Log::checkpoint`] or by a group-commit fsync (which covers the
//! `.log` only): that would buy nothing, since the active segment is
//! scanned after an unclean stop anyway, and would cost an `open` per
//! partition each time.
//!
//! ## Memory
//!
//! The active segment keeps its entries in a `Vec` (at most
//! `segment_index_bytes`); older segments keep only their length and last
//! entry.
//!
//! ## Invariants
//!
//! * `len` is the number of entries of the index; `last` is its last
//!   entry. With `mem` `Some`, `mem` holds all `len` entries.
//! * The file starts with the first `persisted` entries: `persisted ==
//!   len` whenever `mem` is `None` (a closed segment's index is all on
//!   disk), `persisted <= len` otherwise. Bytes after them can only be the
//!   remains of a failed write, which took the log offline; recovery
//!   rebuilds the index. `persisted` moves only after a write succeeded,
//!   so after a failure the index still answers from memory.
//!   (After `IndexFile::forget` the index is empty and the file is no
//!   longer its backing: `len == persisted == 0`, `mem` `None`.)
//! * `unsynced` is true when the file was written since its last fsync;
//!   `IndexFile::sync` with nothing to write and nothing unsynced touches
//!   no file.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::fs::File;
use std::io::ErrorKind;
use std::path::PathBuf;

use crate::error::StorageError;
use crate::io::FileIo;

/// A fixed-size index entry.
pub(crate) trait Entry: Copy + std::fmt::Debug {
    /// Encoded size.
    const LEN: usize;
    /// Sort key (strictly increasing along the file).
    type Key: Ord + Copy;
    fn key(&self) -> Self::Key;
    fn decode(bytes: &[u8]) -> Option<Self>;
    fn encode(&self, out: &mut Vec<u8>);
}

/// One `.index` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    /// Batch last offset minus segment base offset.
    pub(crate) relative_offset: u32,
    /// Byte position of the batch in the segment.
    pub(crate) position: u32,
}

impl Entry for OffsetEntry {
    const LEN: usize = 8;
    type Key = u32;
    fn key(&self) -> u32 {
        self.relative_offset
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        let relative_offset = u32::from_be_bytes(bytes.get(0..4)?.try_into().ok()?);
        let position = u32::from_be_bytes(bytes.get(4..8)?.try_into().ok()?);
        Some(OffsetEntry {
            relative_offset,
            position,
        })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
    }
}

/// An index file, with its entries in memory for the active segment.
#[derive(Debug)]
pub(crate) struct IndexFile<E: Entry> {
    path: PathBuf,
    len: usize,
    persisted: usize,
    unsynced: bool,
    max_entries: usize,
    mem: Option<Vec<E>>,
    last: Option<E>,
}

fn max_entries<E: Entry>(segment_index_bytes: u64) -> usize {
    usize::try_from(segment_index_bytes / E::LEN as u64).unwrap_or(usize::MAX)
}

fn encode_all<E: Entry>(entries: &[E]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(entries.len() * E::LEN);
    for e in entries {
        e.encode(&mut raw);
    }
    debug_assert_eq!(raw.len(), entries.len() * E::LEN);
    raw
}

impl<E: Entry> IndexFile<E> {
    /// Create an empty index file (truncating any existing one). The file
    /// exists from the segment's creation on, so that a missing index
    /// always means damage to recovery.
    pub(crate) fn create(
        io: &dyn FileIo,
        path: PathBuf,
        segment_index_bytes: u64,
        in_memory: bool,
    ) -> Result<Self, StorageError> {
        io.create(&path)
            .map_err(|e| StorageError::io("create", &path, e))?;
        Ok(IndexFile {
            path,
            len: 0,
            persisted: 0,
            // The truncation of a leftover file of the same name must be
            // durable too: the first sync fsyncs even an empty file.
            unsynced: true,
            max_entries: max_entries::<E>(segment_index_bytes),
            mem: in_memory.then(Vec::new),
            last: None,
        })
    }

    /// Open an existing index. `Ok(None)` when it is missing or fails the
    /// sanity check (the caller rebuilds it from the segment). `valid`
    /// checks each entry that is looked at against the segment.
    pub(crate) fn open(
        io: &dyn FileIo,
        path: PathBuf,
        segment_index_bytes: u64,
        in_memory: bool,
        valid: impl Fn(&E) -> bool,
    ) -> Result<Option<Self>, StorageError> {
        // Held for this call only (see "No descriptor between operations").
        let file = match io.open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StorageError::io("open", path, e)),
        };
        let bytes = file
            .metadata()
            .map_err(|e| StorageError::io("stat", &path, e))?
            .len();
        let max_entries = max_entries::<E>(segment_index_bytes);
        // One entry of slack: the time index gets a final entry on roll
        // even when full, as Kafka's does.
        let limit = (max_entries as u64 + 1) * E::LEN as u64;
        if bytes % E::LEN as u64 != 0 || bytes > limit {
            return Ok(None);
        }
        let len = usize::try_from(bytes / E::LEN as u64).unwrap_or(0);
        let mut index = IndexFile {
            path,
            len,
            persisted: len,
            unsynced: false,
            max_entries,
            mem: None,
            last: None,
        };
        if in_memory {
            let mut raw = vec![0u8; len * E::LEN];
            io.read_exact_at(&file, &mut raw, 0)
                .map_err(|e| StorageError::io("read", &index.path, e))?;
            let mut entries = Vec::with_capacity(len);
            for chunk in raw.chunks_exact(E::LEN) {
                match E::decode(chunk) {
                    Some(e) if valid(&e) => entries.push(e),
                    _ => return Ok(None),
                }
            }
            if !entries.windows(2).all(|w| match w {
                [a, b] => a.key() < b.key(),
                _ => true,
            }) {
                return Ok(None);
            }
            index.last = entries.last().copied();
            index.mem = Some(entries);
        } else if len > 0 {
            let first = index.read_entry(io, &file, 0)?;
            let last = index.read_entry(io, &file, len - 1)?;
            if !valid(&first) || !valid(&last) || first.key() > last.key() {
                return Ok(None);
            }
            index.last = Some(last);
        }
        Ok(Some(index))
    }

    /// Room for `n` more entries.
    pub(crate) fn has_room_for(&self, n: usize) -> bool {
        self.len.saturating_add(n) <= self.max_entries
    }

    pub(crate) fn last(&self) -> Option<E> {
        self.last
    }

    fn open_file(&self, io: &dyn FileIo) -> Result<File, StorageError> {
        io.open(&self.path)
            .map_err(|e| StorageError::io("open", &self.path, e))
    }

    /// Entry `i` of the file, by one positional read.
    fn read_entry(&self, io: &dyn FileIo, file: &File, i: usize) -> Result<E, StorageError> {
        debug_assert!(i < self.persisted);
        let mut buf = [0u8; 16];
        let raw = buf.get_mut(..E::LEN).unwrap_or(&mut []);
        io.read_exact_at(file, raw, (i * E::LEN) as u64)
            .map_err(|e| StorageError::io("read", &self.path, e))?;
        E::decode(raw).ok_or_else(|| {
            StorageError::io(
                "decode",
                &self.path,
                std::io::Error::from(ErrorKind::InvalidData),
            )
        })
    }

    /// The last entry whose key is `<= target`, by binary search (in
    /// memory, or in the file through a descriptor held for this call).
    pub(crate) fn floor(&self, io: &dyn FileIo, target: E::Key) -> Result<Option<E>, StorageError> {
        if let Some(m) = &self.mem {
            let n = m.partition_point(|e| e.key() <= target);
            return Ok(n.checked_sub(1).and_then(|i| m.get(i)).copied());
        }
        if self.len == 0 {
            return Ok(None);
        }
        let file = self.open_file(io)?;
        // Invariant: entries [0, lo) have key <= target, [hi, len) > target.
        let (mut lo, mut hi) = (0usize, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.read_entry(io, &file, mid)?.key() <= target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        match lo {
            0 => Ok(None),
            n => self.read_entry(io, &file, n - 1).map(Some),
        }
    }

    /// Append one entry (the caller keeps keys increasing). The active
    /// segment's index only records it in memory; `IndexFile::sync`
    /// persists it.
    pub(crate) fn append(&mut self, io: &dyn FileIo, entry: E) -> Result<(), StorageError> {
        debug_assert!(self.last.is_none_or(|l| l.key() < entry.key()));
        match self.mem.as_mut() {
            Some(m) => m.push(entry),
            None => {
                // A closed segment's index is all on disk (invariant), so
                // an entry for it is written through. Nothing appends to
                // one today; this keeps `append` correct if that changes.
                let mut raw = Vec::with_capacity(E::LEN);
                entry.encode(&mut raw);
                let file = self.open_file(io)?;
                io.write_all_at(&file, &raw, (self.len * E::LEN) as u64)
                    .map_err(|e| StorageError::io("write", &self.path, e))?;
                self.persisted += 1;
                self.unsynced = true;
            }
        }
        self.len += 1;
        self.last = Some(entry);
        Ok(())
    }

    /// Most entries the index may hold (`segment_index_bytes / entry size`).
    pub(crate) fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// Replace the whole file with `entries` (index rebuild); keeps them in
    /// memory when `resident` (the active segment). Not fsynced: the caller
    /// syncs the segment.
    pub(crate) fn replace(
        &mut self,
        io: &dyn FileIo,
        entries: Vec<E>,
        resident: bool,
    ) -> Result<(), StorageError> {
        let raw = encode_all(&entries);
        let file = io
            .create(&self.path)
            .map_err(|e| StorageError::io("truncate", &self.path, e))?;
        self.len = 0;
        self.persisted = 0;
        self.last = None;
        self.mem = resident.then(Vec::new);
        self.unsynced = true;
        io.write_all_at(&file, &raw, 0)
            .map_err(|e| StorageError::io("write", &self.path, e))?;
        self.len = entries.len();
        self.persisted = entries.len();
        self.last = entries.last().copied();
        self.mem = resident.then_some(entries);
        Ok(())
    }

    /// Drop the in-memory copy (the segment stopped being active). Only
    /// once every entry is in the file: the caller syncs first.
    pub(crate) fn release_memory(&mut self) {
        debug_assert_eq!(self.persisted, self.len, "release before sync");
        if self.persisted == self.len {
            self.mem = None;
        }
    }

    /// Act as an empty index that is no longer backed by the file (see
    /// `Segment::forget_indexes`): `floor` finds nothing, so lookups start
    /// at the segment's first batch. Only for a closed segment of a log
    /// that went offline, so nothing appends to it afterwards.
    pub(crate) fn forget(&mut self) {
        self.len = 0;
        self.persisted = 0;
        self.unsynced = false;
        self.mem = None;
        self.last = None;
    }

    /// Write the entries that are only in memory, then fsync the file. Opens
    /// the file only when there is something to write or to fsync.
    pub(crate) fn sync(&mut self, io: &dyn FileIo) -> Result<(), StorageError> {
        let tail = match &self.mem {
            Some(m) => m.get(self.persisted..).unwrap_or(&[]),
            None => &[],
        };
        if tail.is_empty() && !self.unsynced {
            return Ok(());
        }
        let file = self.open_file(io)?;
        if !tail.is_empty() {
            let raw = encode_all(tail);
            let appended = tail.len();
            io.write_all_at(&file, &raw, (self.persisted * E::LEN) as u64)
                .map_err(|e| StorageError::io("write", &self.path, e))?;
            self.persisted += appended;
            self.unsynced = true;
        }
        io.sync_data(&file)
            .map_err(|e| StorageError::io("fsync", &self.path, e))?;
        self.unsynced = false;
        debug_assert_eq!(self.persisted, self.len);
        Ok(())
    }
}
