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
//! Kafka preallocates index files to `segment.index.bytes` and mmaps them,
//! trimming on roll; a crash leaves a zero-filled tail that recovery must
//! tell apart from entries. Weir appends entries with positional writes
//! instead, so the file length is always a whole number of entries that
//! were written, and the sanity check on open is just "length is a multiple
//! of the entry size and entries are ordered". The cost is one small write
//! per index entry (every ~4 KiB of data), which lands in the page cache.
//!
//! ## Memory
//!
//! The active segment keeps its entries in a `Vec` (at most
//! `segment_index_bytes`); older segments are searched on demand by binary
//! search with positional reads of single entries, which the page cache
//! serves, so memory does not grow with the number of segments.
//!
//! Invariant: `len` is the number of entries in the file and, when `mem` is
//! `Some`, in `mem`; both are updated only after the write succeeded.

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
    file: File,
    len: usize,
    max_entries: usize,
    mem: Option<Vec<E>>,
    last: Option<E>,
}

fn max_entries<E: Entry>(segment_index_bytes: u64) -> usize {
    usize::try_from(segment_index_bytes / E::LEN as u64).unwrap_or(usize::MAX)
}

impl<E: Entry> IndexFile<E> {
    /// Create an empty index file (truncating any existing one).
    pub(crate) fn create(
        io: &dyn FileIo,
        path: PathBuf,
        segment_index_bytes: u64,
        in_memory: bool,
    ) -> Result<Self, StorageError> {
        let file = io
            .create(&path)
            .map_err(|e| StorageError::io("create", &path, e))?;
        Ok(IndexFile {
            path,
            file,
            len: 0,
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
            file,
            len,
            max_entries,
            mem: None,
            last: None,
        };
        if in_memory {
            let mut raw = vec![0u8; len * E::LEN];
            io.read_exact_at(&index.file, &mut raw, 0)
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
            let first = index.get(io, 0)?;
            let last = index.get(io, len - 1)?;
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

    /// Entry `i` (from memory, or one positional read).
    pub(crate) fn get(&self, io: &dyn FileIo, i: usize) -> Result<E, StorageError> {
        if let Some(e) = self.mem.as_ref().and_then(|m| m.get(i)) {
            return Ok(*e);
        }
        let mut buf = [0u8; 16];
        let raw = buf.get_mut(..E::LEN).unwrap_or(&mut []);
        io.read_exact_at(&self.file, raw, (i * E::LEN) as u64)
            .map_err(|e| StorageError::io("read", &self.path, e))?;
        E::decode(raw).ok_or_else(|| {
            StorageError::io(
                "decode",
                &self.path,
                std::io::Error::from(ErrorKind::InvalidData),
            )
        })
    }

    /// The last entry whose key is `<= target`, by binary search.
    pub(crate) fn floor(&self, io: &dyn FileIo, target: E::Key) -> Result<Option<E>, StorageError> {
        // Invariant: entries [0, lo) have key <= target, [hi, len) > target.
        let (mut lo, mut hi) = (0usize, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(io, mid)?.key() <= target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        match lo {
            0 => Ok(None),
            n => self.get(io, n - 1).map(Some),
        }
    }

    /// Append one entry (the caller keeps keys increasing).
    pub(crate) fn append(&mut self, io: &dyn FileIo, entry: E) -> Result<(), StorageError> {
        debug_assert!(self.last.is_none_or(|l| l.key() < entry.key()));
        let mut raw = Vec::with_capacity(E::LEN);
        entry.encode(&mut raw);
        io.write_all_at(&self.file, &raw, (self.len * E::LEN) as u64)
            .map_err(|e| StorageError::io("write", &self.path, e))?;
        self.len += 1;
        self.last = Some(entry);
        if let Some(m) = self.mem.as_mut() {
            m.push(entry);
        }
        Ok(())
    }

    /// Most entries the index may hold (`segment_index_bytes / entry size`).
    pub(crate) fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// Replace the whole file with `entries` (index rebuild); keeps them in
    /// memory when `resident` (the active segment).
    pub(crate) fn replace(
        &mut self,
        io: &dyn FileIo,
        entries: Vec<E>,
        resident: bool,
    ) -> Result<(), StorageError> {
        let mut raw = Vec::with_capacity(entries.len() * E::LEN);
        for e in &entries {
            e.encode(&mut raw);
        }
        io.set_len(&self.file, 0)
            .map_err(|e| StorageError::io("truncate", &self.path, e))?;
        self.len = 0;
        self.last = None;
        io.write_all_at(&self.file, &raw, 0)
            .map_err(|e| StorageError::io("write", &self.path, e))?;
        self.len = entries.len();
        self.last = entries.last().copied();
        self.mem = resident.then_some(entries);
        Ok(())
    }

    /// Drop the in-memory copy (the segment stopped being active).
    pub(crate) fn release_memory(&mut self) {
        self.mem = None;
    }

    pub(crate) fn sync(&self, io: &dyn FileIo) -> Result<(), StorageError> {
        io.sync_data(&self.file)
            .map_err(|e| StorageError::io("fsync", &self.path, e))
    }
}
