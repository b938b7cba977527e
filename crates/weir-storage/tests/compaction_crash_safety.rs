//! A crash at any step of a cleaning pass leaves, after `open`, every
//! segment either as it was or as the pass wrote it (never a log with the
//! other version's indexes, never a leftover `.cleaned` / `.swap` file),
//! and every key's latest value readable.
//!
//! The crash is injected through [`FileIo`]: the Nth rename of the pass
//! fails and every file operation after it fails too, so the directory is
//! left exactly as a process killed at that point would leave it (the
//! cleaner's best-effort removal of its files fails as well). N runs over
//! every rename of a pass: `.cleaned` → `.swap` (commit), `.swap` → final
//! names, the checkpoint.
#![allow(missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{Kv, keyed_batch, latest_by_key, read_kv, small_config};
use weir_storage::{CleanerConfig, FileIo, Log, RecoveryMode, clean};

#[derive(Debug, Default)]
struct CrashAtRename {
    armed: AtomicBool,
    renames_before_crash: AtomicUsize,
    dead: AtomicBool,
}

impl CrashAtRename {
    fn check(&self) -> std::io::Result<()> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("crashed"));
        }
        Ok(())
    }
}

impl FileIo for CrashAtRename {
    fn create(&self, path: &Path) -> std::io::Result<File> {
        self.check()?;
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }
    fn write_all_at(&self, file: &File, buf: &[u8], pos: u64) -> std::io::Result<()> {
        self.check()?;
        std::os::unix::fs::FileExt::write_all_at(file, buf, pos)
    }
    fn sync_data(&self, file: &File) -> std::io::Result<()> {
        self.check()?;
        file.sync_data()
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        self.check()?;
        File::open(dir)?.sync_all()
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.check()?;
        if self.armed.load(Ordering::SeqCst) {
            if self.renames_before_crash.load(Ordering::SeqCst) == 0 {
                self.dead.store(true, Ordering::SeqCst);
                return Err(std::io::Error::other("crash"));
            }
            self.renames_before_crash.fetch_sub(1, Ordering::SeqCst);
        }
        std::fs::rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        self.check()?;
        std::fs::remove_file(path)
    }
}

fn cfg() -> CleanerConfig {
    CleanerConfig {
        key_map_bytes: 1 << 16,
        ..CleanerConfig::default()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// `.log` contents by file name.
fn segment_logs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".log") {
            out.insert(name.clone(), std::fs::read(dir.join(&name)).unwrap());
        }
    }
    out
}

fn values(records: &[Kv]) -> BTreeMap<String, Option<String>> {
    latest_by_key(records)
        .into_iter()
        .map(|(k, r)| (k, r.value))
        .collect()
}

/// Every record can be found by its offset (exercises the indexes).
fn every_offset_readable(log: &Log, records: &[Kv]) {
    for r in records {
        let bytes = log.read(r.offset, 1, i64::MAX).unwrap();
        let mut found = false;
        for item in weir_protocol::record_batch::BatchIter::verified(&bytes) {
            let (_, h) = item.unwrap();
            found |= h.base_offset <= r.offset && r.offset <= h.last_offset();
        }
        assert!(found, "offset {} not found through the index", r.offset);
    }
}

fn build_template(dir: &Path) -> BTreeMap<String, Option<String>> {
    let mut log = Log::open(dir, small_config(), RecoveryMode::Strict, 0).unwrap();
    for round in 0..12 {
        for chunk in 0..5 {
            let owned: Vec<(String, Option<String>)> = (0..8)
                .map(|k| {
                    let key = format!("k{}", chunk * 8 + k);
                    // Some keys end deleted (tombstones stay: same day).
                    let value =
                        (round != 11 || k != 3).then(|| format!("{key}@{round}{:.>40}", ""));
                    (key, value)
                })
                .collect();
            let entries: Vec<(&str, Option<&str>)> = owned
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref()))
                .collect();
            log.append(keyed_batch(&entries, 1000), None, 1000).unwrap();
        }
    }
    let expected = values(&read_kv(&log));
    log.close().unwrap();
    expected
}

#[test]
fn crash_at_every_rename_opens_old_or_new_segments() {
    let root = tempfile::tempdir().unwrap();
    let template = root.path().join("template");
    let expected = build_template(&template);
    let old = segment_logs(&template);
    assert!(old.len() >= 4, "{}", old.len());

    // The outcome of an uninterrupted pass.
    let reference = root.path().join("reference");
    copy_dir(&template, &reference);
    let mut log = Log::open(&reference, small_config(), RecoveryMode::Strict, 2000).unwrap();
    let stats = clean(&mut log, &cfg(), 2000).unwrap();
    assert!(stats.segments_rewritten >= 3, "{stats:?}");
    drop(log);
    let new = segment_logs(&reference);

    let mut crashes = 0;
    for n in 0.. {
        let dir = root.path().join(format!("crash-{n}"));
        copy_dir(&template, &dir);
        let io = Arc::new(CrashAtRename::default());
        let mut log =
            Log::open_with_io(&dir, small_config(), RecoveryMode::Strict, 2000, io.clone())
                .unwrap();
        io.renames_before_crash.store(n, Ordering::SeqCst);
        io.armed.store(true, Ordering::SeqCst);
        let result = clean(&mut log, &cfg(), 2000);
        drop(log);
        if result.is_ok() {
            assert!(!io.dead.load(Ordering::SeqCst));
            break;
        }
        crashes += 1;
        assert!(io.dead.load(Ordering::SeqCst), "{result:?}");

        let log = Log::open(&dir, small_config(), RecoveryMode::Strict, 3000).unwrap();
        let now = segment_logs(&dir);
        assert_eq!(
            now.keys().collect::<Vec<_>>(),
            old.keys().collect::<Vec<_>>()
        );
        for (name, bytes) in &now {
            assert!(
                Some(bytes) == old.get(name) || Some(bytes) == new.get(name),
                "crash {n}: {name} is neither the old nor the new segment"
            );
        }
        for e in std::fs::read_dir(&dir).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(
                !name.ends_with(".cleaned") && !name.ends_with(".swap"),
                "crash {n}: {name} left after open"
            );
        }
        let records = read_kv(&log);
        assert_eq!(values(&records), expected, "crash {n}");
        every_offset_readable(&log, &records);
        drop(log);

        // The next pass finishes the job.
        let mut log = Log::open(&dir, small_config(), RecoveryMode::Strict, 3000).unwrap();
        clean(&mut log, &cfg(), 3000).unwrap();
        assert_eq!(values(&read_kv(&log)), expected);
        drop(log);
        assert_eq!(segment_logs(&dir), new, "crash {n}: rerun differs");
    }
    // Two renames per segment file and the checkpoint's.
    assert!(crashes >= 6 * stats.segments_rewritten, "{crashes}");
}

#[test]
fn leftover_files_of_an_interrupted_clean_are_resolved_on_open() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("log");
    let expected = build_template(&dir);
    let seg = |suffix: &str| dir.join(format!("{:020}{suffix}", 0));
    // Undecided: stray `.cleaned` and index `.swap` files (garbage content)
    // are deleted and the old segment stays.
    std::fs::write(seg(".log.cleaned"), b"junk").unwrap();
    std::fs::write(seg(".index.swap"), b"junk1234").unwrap();
    std::fs::write(seg(".timeindex.cleaned"), b"junk").unwrap();
    let old = std::fs::read(seg(".log")).unwrap();
    let log = Log::open(&dir, small_config(), RecoveryMode::Strict, 0).unwrap();
    assert_eq!(std::fs::read(seg(".log")).unwrap(), old);
    assert!(!seg(".log.cleaned").exists() && !seg(".index.swap").exists());
    assert_eq!(values(&read_kv(&log)), expected);
    drop(log);
    // Decided: a `.log.swap` (here a copy of the old segment minus its
    // index files, as after a crash past the indexes' renames) is moved
    // into place and its missing indexes rebuilt.
    std::fs::copy(seg(".log"), seg(".log.swap")).unwrap();
    std::fs::remove_file(seg(".log")).unwrap();
    std::fs::remove_file(seg(".index")).unwrap();
    let log = Log::open(&dir, small_config(), RecoveryMode::Strict, 0).unwrap();
    assert!(!seg(".log.swap").exists());
    assert_eq!(std::fs::read(seg(".log")).unwrap(), old);
    assert_eq!(values(&read_kv(&log)), expected);
    assert!(log.recovery_stats().indexes_rebuilt >= 1);
}
