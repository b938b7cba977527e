//! Single-offset checkpoint files, written atomically.
//!
//! ## Format
//!
//! A small text file, like Kafka's checkpoint files, so an operator can read
//! it with `cat`:
//!
//! ```text
//! 0          <- format version
//! 12345      <- the offset
//! ```
//!
//! Each line ends with `\n`. Any other content is [`Corruption::Checkpoint`].
//!
//! ## Atomic write
//!
//! Write `<name>.tmp`, fsync it, rename over `<name>`, fsync the directory.
//! A crash at any point leaves either the old or the new file in place (and
//! possibly a stale `.tmp`, which `open` removes).

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::io::ErrorKind;
use std::path::Path;

use crate::error::{Corruption, StorageError};
use crate::io::FileIo;

/// Recovery point: every offset below it is known to be fsynced.
pub const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";
/// Log-start offset: offsets below it are logically deleted.
pub const LOG_START_OFFSET_FILE: &str = "log-start-offset-checkpoint";
/// Suffix of a checkpoint being written.
pub const TMP_SUFFIX: &str = ".tmp";

const VERSION: &str = "0";

/// Read a checkpoint; `Ok(None)` if the file does not exist.
pub(crate) fn read(io: &dyn FileIo, dir: &Path, name: &str) -> Result<Option<i64>, StorageError> {
    let path = dir.join(name);
    let file = match io.open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("open", path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| StorageError::io("stat", &path, e))?
        .len();
    // A checkpoint is a few dozen bytes; anything large is not ours.
    if len > 64 {
        return Err(corrupt(&path));
    }
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
    io.read_exact_at(&file, &mut buf, 0)
        .map_err(|e| StorageError::io("read", &path, e))?;
    parse(&buf).map(Some).ok_or_else(|| corrupt(&path))
}

fn corrupt(path: &Path) -> StorageError {
    StorageError::Corrupt {
        path: path.to_path_buf(),
        position: 0,
        reason: Corruption::Checkpoint,
    }
}

fn parse(buf: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(buf).ok()?;
    let body = text.strip_suffix('\n')?;
    let (version, offset) = body.split_once('\n')?;
    if version != VERSION || offset.contains('\n') {
        return None;
    }
    let value: i64 = offset.parse().ok()?;
    (value >= 0).then_some(value)
}

/// Atomically replace a checkpoint with `offset`.
pub(crate) fn write(
    io: &dyn FileIo,
    dir: &Path,
    name: &str,
    offset: i64,
) -> Result<(), StorageError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let text = format!("{VERSION}\n{offset}\n");
    let file = io
        .create(&tmp)
        .map_err(|e| StorageError::io("create", &tmp, e))?;
    io.write_all_at(&file, text.as_bytes(), 0)
        .map_err(|e| StorageError::io("write", &tmp, e))?;
    io.sync_data(&file)
        .map_err(|e| StorageError::io("fsync", &tmp, e))?;
    drop(file);
    io.rename(&tmp, &path)
        .map_err(|e| StorageError::io("rename", &path, e))?;
    io.sync_dir(dir)
        .map_err(|e| StorageError::io("fsync dir", dir, e))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::io::StdFileIo;

    #[test]
    fn round_trip_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(&StdFileIo, dir.path(), "x").unwrap(), None);
        write(&StdFileIo, dir.path(), "x", 42).unwrap();
        assert_eq!(read(&StdFileIo, dir.path(), "x").unwrap(), Some(42));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("x")).unwrap(),
            "0\n42\n"
        );
        for bad in [
            "",
            "0\n",
            "1\n5\n",
            "0\n-1\n",
            "0\n5",
            "0\n5\n6\n",
            "0\nx\n",
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad:?}");
        }
    }
}
