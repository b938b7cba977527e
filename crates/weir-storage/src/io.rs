//! File operations behind a small trait, so tests can inject faults.
//!
//! Every write-side operation the log performs (create, positional write,
//! truncate, fsync, rename, remove) goes through [`FileIo`]. The default
//! methods do the real thing with `std::fs`; [`StdFileIo`] uses them as is.
//! A test implements the trait, overrides one method to fail (a full disk, a
//! failed fsync) and checks that the log goes offline and stays offline.
//!
//! Reads go through the trait too so that a fault injector can simulate a
//! failing disk on the read path as well.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The file operations a [`crate::Log`] performs.
pub trait FileIo: Send + Sync + std::fmt::Debug {
    /// Open an existing file for reading and writing.
    fn open(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).open(path)
    }

    /// Create a file (truncating any existing one) for reading and writing.
    fn create(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// Write all of `buf` at byte position `pos`.
    fn write_all_at(&self, file: &File, buf: &[u8], pos: u64) -> io::Result<()> {
        file.write_all_at(buf, pos)
    }

    /// Fill `buf` from byte position `pos`.
    fn read_exact_at(&self, file: &File, buf: &mut [u8], pos: u64) -> io::Result<()> {
        file.read_exact_at(buf, pos)
    }

    /// Truncate or extend the file.
    fn set_len(&self, file: &File, len: u64) -> io::Result<()> {
        file.set_len(len)
    }

    /// `fdatasync`: the data and the metadata needed to read it back.
    fn sync_data(&self, file: &File) -> io::Result<()> {
        file.sync_data()
    }

    /// Make directory entries (created, renamed, removed files) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    /// Atomically rename a file or directory.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    /// Remove a file.
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    /// Create a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    /// Remove a directory tree.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(path)
    }
}

/// Real file operations through `std::fs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdFileIo;

impl FileIo for StdFileIo {}
