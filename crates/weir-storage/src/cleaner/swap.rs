//! Writing a cleaned segment and swapping it in, crash-safely.
//!
//! ## Protocol (one segment at a time)
//!
//! 1. Write `<base>.log.cleaned`, `<base>.index.cleaned`,
//!    `<base>.timeindex.cleaned`, and fsync all three.
//! 2. Rename the two indexes to `.index.swap` / `.timeindex.swap`, fsync
//!    the directory, then rename the log to `<base>.log.swap` and fsync the
//!    directory. **The rename of the `.log` file is the commit point**: from
//!    then on the swap is decided.
//! 3. Rename `.index.swap` and `.timeindex.swap` over the old indexes, fsync
//!    the directory, then `.log.swap` over the old `.log` (each rename
//!    atomically replaces the old file), and fsync the directory. The
//!    directory fsync between the indexes and the log keeps the order of
//!    the renames on disk, which recovery relies on.
//!
//! ## Recovery ([`recover`], run by `open` before segments are listed)
//!
//! * Any `*.cleaned` file: the clean did not reach its commit point; delete
//!   it. The old segment is intact.
//! * `<base>.log.swap` exists: the swap was decided; finish step 3 (rename
//!   whichever `.swap` files are left into place, indexes before the log).
//! * `.index.swap` / `.timeindex.swap` without a `.log.swap`: either step 2
//!   stopped before its commit point (delete them: the old indexes still
//!   match the old log) or step 3 already moved the log (impossible: the
//!   log moves last), so delete.
//!
//! Every state a crash can leave therefore opens as the old segment or the
//! new one, never a log of one with the indexes of the other.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::Path;

use bytes::BytesMut;
use weir_protocol::record_batch::BatchHeader;

use crate::error::StorageError;
use crate::io::FileIo;
use crate::segment::{
    INDEX_SUFFIX, LOG_SUFFIX, Segment, TIME_INDEX_SUFFIX, parse_segment_file, segment_file,
};

/// Suffix added to the files of a segment being written by the cleaner.
pub const CLEANED_SUFFIX: &str = ".cleaned";
/// Suffix added to the files of a cleaned segment whose swap is decided.
pub const SWAP_SUFFIX: &str = ".swap";

/// Bytes buffered before a write while copying batches into a cleaned
/// segment.
const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// The three files of a segment.
const SEGMENT_SUFFIXES: [&str; 3] = [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX];

fn with(suffix: &str, extra: &str) -> String {
    format!("{suffix}{extra}")
}

/// Writes the batches of a cleaned segment to `<base>.*.cleaned`.
pub(crate) struct CleanedWriter {
    seg: Segment,
    interval: u32,
    buf: BytesMut,
    batches: Vec<(usize, BatchHeader)>,
}

impl CleanedWriter {
    pub(crate) fn create(
        io: &dyn FileIo,
        dir: &Path,
        base_offset: i64,
        segment_index_bytes: u64,
        interval: u32,
        now_ms: i64,
    ) -> Result<CleanedWriter, StorageError> {
        let seg = Segment::create_named(
            io,
            dir,
            base_offset,
            segment_index_bytes,
            now_ms,
            CLEANED_SUFFIX,
        )?;
        Ok(CleanedWriter {
            seg,
            interval,
            buf: BytesMut::new(),
            batches: Vec::new(),
        })
    }

    /// Add one whole batch (bytes and their parsed header).
    pub(crate) fn push(
        &mut self,
        io: &dyn FileIo,
        batch: &[u8],
        header: BatchHeader,
    ) -> Result<(), StorageError> {
        self.batches.push((self.buf.len(), header));
        self.buf.extend_from_slice(batch);
        if self.buf.len() >= WRITE_BUFFER_BYTES {
            self.flush(io)?;
        }
        Ok(())
    }

    fn flush(&mut self, io: &dyn FileIo) -> Result<(), StorageError> {
        if !self.buf.is_empty() {
            self.seg
                .append(io, &self.buf, &self.batches, self.interval)?;
        }
        self.buf.clear();
        self.batches.clear();
        Ok(())
    }

    /// Write what is buffered, the final time-index entry, and fsync.
    /// Returns the segment's size, max timestamp and its offset.
    pub(crate) fn finish(mut self, io: &dyn FileIo) -> Result<(u64, i64, i64), StorageError> {
        self.flush(io)?;
        self.seg.finish_time_index(io)?;
        self.seg.sync(io)?;
        Ok((
            self.seg.size,
            self.seg.max_timestamp,
            self.seg.offset_of_max_timestamp,
        ))
    }
}

fn rename_if_present(io: &dyn FileIo, from: &Path, to: &Path) -> Result<(), StorageError> {
    match io.rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::io("rename", from, e)),
    }
}

fn remove_if_present(io: &dyn FileIo, path: &Path) -> Result<(), StorageError> {
    match io.remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::io("remove", path, e)),
    }
}

fn sync_dir(io: &dyn FileIo, dir: &Path) -> Result<(), StorageError> {
    io.sync_dir(dir)
        .map_err(|e| StorageError::io("fsync dir", dir, e))
}

/// Step 2: `.cleaned` → `.swap`, log last; the swap is decided once this
/// returns.
pub(crate) fn commit(io: &dyn FileIo, dir: &Path, base_offset: i64) -> Result<(), StorageError> {
    let rename = |suffix: &str| {
        let from = segment_file(dir, base_offset, &with(suffix, CLEANED_SUFFIX));
        let to = segment_file(dir, base_offset, &with(suffix, SWAP_SUFFIX));
        io.rename(&from, &to)
            .map_err(|e| StorageError::io("rename", &from, e))
    };
    rename(INDEX_SUFFIX)?;
    rename(TIME_INDEX_SUFFIX)?;
    // The index renames must be durable before the commit point: a
    // `.log.swap` next to a `.index.cleaned` would be completed with the
    // old index.
    sync_dir(io, dir)?;
    rename(LOG_SUFFIX)?;
    sync_dir(io, dir)
}

/// Step 3: `.swap` → final names, log last.
pub(crate) fn complete(io: &dyn FileIo, dir: &Path, base_offset: i64) -> Result<(), StorageError> {
    let rename = |suffix: &str| {
        let from = segment_file(dir, base_offset, &with(suffix, SWAP_SUFFIX));
        let to = segment_file(dir, base_offset, suffix);
        rename_if_present(io, &from, &to)
    };
    rename(INDEX_SUFFIX)?;
    rename(TIME_INDEX_SUFFIX)?;
    // Durable before the log moves: an `.index.swap` without a
    // `.log.swap` is taken for an undecided swap and deleted.
    sync_dir(io, dir)?;
    rename(LOG_SUFFIX)?;
    sync_dir(io, dir)
}

/// Remove the `.cleaned` files of one segment (a clean that gave up, or
/// found nothing to remove).
pub(crate) fn discard(io: &dyn FileIo, dir: &Path, base_offset: i64) -> Result<(), StorageError> {
    for suffix in SEGMENT_SUFFIXES {
        remove_if_present(
            io,
            &segment_file(dir, base_offset, &with(suffix, CLEANED_SUFFIX)),
        )?;
    }
    Ok(())
}

/// What [`recover`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SwapRecovery {
    /// Base offsets of segments whose decided swap was completed.
    pub completed: Vec<i64>,
    /// Files of unfinished cleans that were deleted.
    pub files_removed: usize,
}

/// Complete decided swaps and roll back undecided ones (see the module
/// documentation). Runs before the segments are listed.
pub fn recover(io: &dyn FileIo, dir: &Path) -> Result<SwapRecovery, StorageError> {
    let mut out = SwapRecovery::default();
    let mut decided = BTreeSet::new();
    let mut swap_indexes = Vec::new();
    let mut cleaned = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| StorageError::io("read dir", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StorageError::io("read dir", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(CLEANED_SUFFIX) {
            cleaned.push(entry.path());
        } else if let Some(base) = parse_segment_file(name, &with(LOG_SUFFIX, SWAP_SUFFIX)) {
            decided.insert(base);
        } else if let Some(base) = parse_segment_file(name, &with(INDEX_SUFFIX, SWAP_SUFFIX))
            .or_else(|| parse_segment_file(name, &with(TIME_INDEX_SUFFIX, SWAP_SUFFIX)))
        {
            swap_indexes.push((base, entry.path()));
        }
    }
    for path in cleaned {
        remove_if_present(io, &path)?;
        out.files_removed += 1;
    }
    for (base, path) in swap_indexes {
        if !decided.contains(&base) {
            remove_if_present(io, &path)?;
            out.files_removed += 1;
        }
    }
    for &base in &decided {
        tracing::info!(dir = %dir.display(), base_offset = base, "completing cleaned segment swap");
        complete(io, dir, base)?;
    }
    out.completed = decided.into_iter().collect();
    if out.files_removed > 0 {
        sync_dir(io, dir)?;
    }
    Ok(out)
}
