//! kill -9 during cleaning: a child process runs cleaning passes over a
//! log until it is killed with SIGKILL at a varying moment; the log then
//! opens with every key's latest value readable and no cleaner leftovers.
//!
//! The test re-runs its own binary as the child (selected by an
//! environment variable), like sled's crash tests.
#![allow(missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{keyed_batch, latest_by_key, read_kv, small_config};
use weir_storage::{CleanerConfig, Log, RecoveryMode, clean};

const CHILD_ENV: &str = "WEIR_STORAGE_CLEAN_CHILD_DIR";

fn live_values(log: &Log) -> BTreeMap<String, String> {
    latest_by_key(&read_kv(log))
        .into_iter()
        .filter_map(|(k, r)| r.value.map(|v| (k, v)))
        .collect()
}

fn build(dir: &Path) -> BTreeMap<String, String> {
    let mut log = Log::open(dir, small_config(), RecoveryMode::Strict, 0).unwrap();
    for round in 0..12 {
        for chunk in 0..25 {
            let owned: Vec<(String, Option<String>)> = (0..8)
                .map(|k| {
                    let key = format!("k{}", chunk * 8 + k);
                    let value =
                        (round != 11 || k != 5).then(|| format!("{key}@{round}{:.>40}", ""));
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
    let values = live_values(&log);
    log.close().unwrap();
    values
}

/// The child: clean over and over, with a key map small enough that each
/// pass covers only part of the dirty section.
fn child(dir: &Path) {
    let mut log = Log::open(dir, small_config(), RecoveryMode::TolerateCorruptTail, 2000).unwrap();
    let cfg = CleanerConfig {
        key_map_bytes: 24 * 50,
        delete_retention_ms: 500,
        ..CleanerConfig::default()
    };
    for pass in 0..10_000 {
        clean(&mut log, &cfg, 2000 + pass).unwrap();
    }
}

#[test]
fn kill_9_during_cleaning_leaves_a_correct_log() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut rounds_that_cleaned = 0;
    for (round, delay_ms) in [5u64, 20, 40, 70, 110, 160, 230, 320, 1500]
        .into_iter()
        .enumerate()
    {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("log");
        let expected = build(&dir);
        let size_before = Log::open(&dir, small_config(), RecoveryMode::Strict, 0)
            .unwrap()
            .size_bytes();
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "kill_9_during_cleaning_leaves_a_correct_log",
                "--nocapture",
            ])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let log = Log::open(&dir, small_config(), RecoveryMode::Strict, 3000).unwrap();
        for e in std::fs::read_dir(&dir).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(
                !name.ends_with(".cleaned") && !name.ends_with(".swap"),
                "round {round} (killed after {delay_ms} ms): {name} left"
            );
        }
        assert_eq!(
            live_values(&log),
            expected,
            "round {round} (killed after {delay_ms} ms)"
        );
        if log.size_bytes() < size_before {
            rounds_that_cleaned += 1;
        }
        eprintln!(
            "round {round}: killed after {delay_ms} ms, {} of {size_before} bytes left",
            log.size_bytes()
        );
    }
    assert!(rounds_that_cleaned > 0, "the child never got to clean");
}
