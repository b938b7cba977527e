//! Compaction keeps the latest record of every key at its original offset,
//! removes tombstones only after `delete.retention.ms`, leaves records newer
//! than `min.compaction.lag.ms` alone, cleans with a bounded key map in
//! several passes, and the result survives a reopen.
#![allow(missing_docs)]

mod common;

use std::collections::BTreeMap;

use bytes::BytesMut;
use common::{Kv, keyed_batch, latest_by_key, read_kv, small_config};
use weir_protocol::record_batch::Compression;
use weir_protocol::records::recompress_batch;
use weir_storage::{CleanerConfig, Log, RecoveryMode, clean};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn cfg() -> CleanerConfig {
    CleanerConfig {
        min_compaction_lag_ms: 0,
        delete_retention_ms: DAY_MS,
        min_cleanable_dirty_ratio: 0.5,
        max_compaction_lag_ms: i64::MAX,
        key_map_bytes: 1 << 20,
        ..CleanerConfig::default()
    }
}

/// `rounds` rounds writing every key of `keys` once, value `"<key>@<round>"`;
/// returns the expected latest value per key.
fn write_rounds(log: &mut Log, keys: usize, rounds: usize, ts: i64) -> BTreeMap<String, String> {
    let mut expected = BTreeMap::new();
    for round in 0..rounds {
        for chunk in (0..keys).collect::<Vec<_>>().chunks(7) {
            let owned: Vec<(String, String)> = chunk
                .iter()
                .map(|k| (format!("key{k}"), format!("key{k}@{round}")))
                .collect();
            let entries: Vec<(&str, Option<&str>)> = owned
                .iter()
                .map(|(k, v)| (k.as_str(), Some(v.as_str())))
                .collect();
            log.append(keyed_batch(&entries, ts), None, ts).unwrap();
            for (k, v) in owned {
                expected.insert(k, v);
            }
        }
    }
    expected
}

fn values(records: &[Kv]) -> BTreeMap<String, String> {
    latest_by_key(records)
        .into_iter()
        .filter_map(|(k, r)| r.value.map(|v| (k, v)))
        .collect()
}

#[test]
fn keeps_latest_value_per_key_at_original_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    let expected = write_rounds(&mut log, 50, 10, 1000);
    let before = read_kv(&log);
    assert_eq!(before.len(), 500);
    let end = log.log_end_offset();
    let info = log.cleanable_dirty_ratio(&cfg(), 2000).unwrap();
    assert_eq!(info.first_dirty_offset, 0);
    assert!(
        info.dirty_ratio > 0.99 && info.needs_cleaning(&cfg()),
        "{info:?}"
    );
    let stats = clean(&mut log, &cfg(), 2000).unwrap();
    assert_eq!(
        stats.cleaned_up_to,
        *log.segment_base_offsets().last().unwrap()
    );
    assert!(stats.segments_rewritten > 0);
    assert!(!stats.map_full);
    let after = read_kv(&log);
    // Everything cleanable now holds one record per key; the active segment
    // is not touched.
    assert!(after.len() < before.len());
    assert_eq!(values(&after), expected);
    // Every survivor sits at its original offset with its original value.
    let by_offset: BTreeMap<i64, &Kv> = before.iter().map(|r| (r.offset, r)).collect();
    for r in &after {
        assert_eq!(by_offset.get(&r.offset), Some(&r), "record moved");
    }
    assert_eq!(log.log_end_offset(), end);
    let info = log.cleanable_dirty_ratio(&cfg(), 2000).unwrap();
    assert_eq!(info.cleanable_bytes, 0);
    assert!(!info.needs_cleaning(&cfg()));
    // A second pass with nothing dirty changes nothing.
    let again = clean(&mut log, &cfg(), 2000).unwrap();
    assert_eq!(again.segments_rewritten, 0);
    drop(log);
    for mode in [RecoveryMode::Strict, RecoveryMode::TolerateCorruptTail] {
        let log = Log::open(dir.path(), small_config(), mode, 3000).unwrap();
        assert_eq!(read_kv(&log), after, "reopen after clean");
        assert_eq!(log.log_end_offset(), end);
    }
    // A crash-style open (no clean shutdown marker, recovery point 0)
    // rescans the cleaned segments, offset gaps included.
    std::fs::remove_file(dir.path().join("recovery-point-offset-checkpoint")).unwrap();
    let log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 3000).unwrap();
    assert!(log.recovery_stats().segments_scanned > 1);
    assert_eq!(read_kv(&log), after);
}

#[test]
fn compressed_batches_are_thinned_and_recompressed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    let codecs = [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    let mut expected = BTreeMap::new();
    for round in 0..8 {
        let codec = codecs[round % codecs.len()];
        let owned: Vec<(String, String)> = (0..6)
            .map(|k| (format!("c{k}"), format!("c{k}@{round}")))
            .collect();
        let entries: Vec<(&str, Option<&str>)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), Some(v.as_str())))
            .collect();
        let plain = keyed_batch(&entries, 10);
        let compressed = recompress_batch(&plain, codec).unwrap();
        log.append(BytesMut::from(&compressed[..]), None, 10)
            .unwrap();
        expected.extend(owned);
    }
    // Roll so everything is cleanable.
    log.append(keyed_batch(&[("other", Some("x"))], 10), None, 10)
        .unwrap();
    let mut roll_cfg = small_config();
    roll_cfg.segment_ms = Some(1);
    drop(log);
    let mut log = Log::open(dir.path(), roll_cfg, RecoveryMode::Strict, 10).unwrap();
    log.append(keyed_batch(&[("tail", Some("t"))], 100), None, 100)
        .unwrap();
    let before = read_kv(&log);
    clean(&mut log, &cfg(), 200).unwrap();
    let after = read_kv(&log);
    assert!(after.len() < before.len());
    let mut got = values(&after);
    got.remove("other");
    got.remove("tail");
    assert_eq!(got, expected);
    // The rewritten batches kept their codec.
    let bytes = log.read(0, 1 << 20, i64::MAX).unwrap();
    let mut seen = Vec::new();
    for item in weir_protocol::record_batch::BatchIter::verified(&bytes) {
        let h = item.unwrap().1;
        if h.base_offset < 48 {
            seen.push(h.compression());
        }
    }
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|c| *c != Compression::None), "{seen:?}");
}

#[test]
fn tombstones_go_only_after_delete_retention() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    write_rounds(&mut log, 20, 3, 1000);
    let tombstones: Vec<(&str, Option<&str>)> = vec![("key1", None), ("key2", None)];
    log.append(keyed_batch(&tombstones, 5000), None, 5000)
        .unwrap();
    write_rounds(&mut log, 1, 40, 6000); // pushes the tombstones out of the active segment
    let c = cfg();
    let stats = clean(&mut log, &c, 10_000).unwrap();
    assert_eq!(stats.tombstones_removed, 0);
    // The tombstones' segment also holds records written at 6000.
    let deadline = stats.tombstone_deadline_ms.unwrap();
    assert!(
        (5000 + DAY_MS + 1..=6000 + DAY_MS + 1).contains(&deadline),
        "{deadline}"
    );
    let info = log.cleanable_dirty_ratio(&c, deadline - 1).unwrap();
    assert!(!info.needs_cleaning(&c), "{info:?}");
    let info = log.cleanable_dirty_ratio(&c, deadline).unwrap();
    assert!(
        info.needs_cleaning(&c) && info.cleanable_bytes == 0,
        "{info:?}"
    );
    // Just before it, a pass still keeps them.
    let early = clean(&mut log, &c, deadline - 1).unwrap();
    assert_eq!(early.tombstones_removed, 0);
    assert_eq!(early.tombstone_deadline_ms, Some(deadline));
    let latest = latest_by_key(&read_kv(&log));
    assert_eq!(
        latest["key1"].value, None,
        "tombstone kept within delete.retention.ms"
    );
    assert_eq!(latest["key2"].value, None);
    // Older values of the deleted keys are gone already.
    assert_eq!(
        read_kv(&log)
            .iter()
            .filter(|r| r.key.as_deref() == Some("key1"))
            .count(),
        1
    );
    // A day later the tombstones themselves go.
    let stats = clean(&mut log, &c, deadline).unwrap();
    assert_eq!(stats.tombstones_removed, 2);
    assert_eq!(stats.tombstone_deadline_ms, None);
    assert!(
        !log.cleanable_dirty_ratio(&c, i64::MAX)
            .unwrap()
            .needs_cleaning(&c)
    );
    // After a reopen the deadline is unknown: one pass is asked for.
    drop(log);
    let log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    assert!(log.cleanable_dirty_ratio(&c, 0).unwrap().needs_cleaning(&c));
    let latest = latest_by_key(&read_kv(&log));
    assert!(!latest.contains_key("key1"));
    assert!(!latest.contains_key("key2"));
    assert_eq!(latest["key3"].value.as_deref(), Some("key3@2"));
}

#[test]
fn min_compaction_lag_leaves_recent_segments_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    write_rounds(&mut log, 30, 8, 1000);
    write_rounds(&mut log, 30, 4, 50_000);
    let before = read_kv(&log);
    let c = CleanerConfig {
        min_compaction_lag_ms: 10_000,
        ..cfg()
    };
    // At 55 000 only segments whose records are all older than 45 000 may
    // be cleaned: the ones written at 1000.
    let stats = clean(&mut log, &c, 55_000).unwrap();
    let after = read_kv(&log);
    let recent_before: Vec<&Kv> = before
        .iter()
        .filter(|r| r.offset >= stats.cleaned_up_to)
        .collect();
    let recent_after: Vec<&Kv> = after
        .iter()
        .filter(|r| r.offset >= stats.cleaned_up_to)
        .collect();
    assert_eq!(recent_before, recent_after);
    assert!(
        stats.cleaned_up_to > 0 && stats.cleaned_up_to <= 240,
        "{stats:?} {:?}",
        log.segment_base_offsets()
    );
    // Records at 50_000 are untouched, though they supersede older ones.
    assert_eq!(after.iter().filter(|r| r.offset >= 240).count(), 120);
    assert!(stats.segments_rewritten > 0);
    assert_eq!(values(&after), values(&before));
}

#[test]
fn small_key_map_cleans_a_prefix_per_pass() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    let expected = write_rounds(&mut log, 300, 3, 1000);
    write_rounds(&mut log, 1, 30, 1000);
    let small = CleanerConfig {
        key_map_bytes: 24 * 40, // 36 keys
        ..cfg()
    };
    let mut passes = 0;
    let mut last = -1;
    loop {
        let stats = clean(&mut log, &small, 2000).unwrap();
        assert!(stats.keys_mapped <= 36);
        assert!(stats.cleaned_up_to > last || !stats.map_full);
        // Never loses a latest value, whatever pass it is at.
        let mut got = values(&read_kv(&log));
        got.remove("key0");
        let mut want = expected.clone();
        want.remove("key0");
        assert_eq!(got, want, "pass {passes}");
        passes += 1;
        if !stats.map_full {
            break;
        }
        last = stats.cleaned_up_to;
        assert!(passes < 100);
    }
    assert!(passes > 5, "{passes}");
    // Below the active segment every key is left once.
    let active_base = log.segment_base_offsets().last().copied().unwrap();
    let compacted: Vec<Kv> = read_kv(&log)
        .into_iter()
        .filter(|r| r.offset < active_base)
        .collect();
    let keyed: BTreeMap<String, i64> = latest_by_key(&compacted)
        .into_iter()
        .map(|(k, r)| (k, r.offset))
        .collect();
    for r in &compacted {
        assert_eq!(
            keyed[r.key.as_ref().unwrap()],
            r.offset,
            "duplicate {r:?} left"
        );
    }
}

/// A transactional batch of `producer_id` (its records keyed `k`).
fn txn_batch(producer_id: i64, seq: i32, entries: &[(&str, &str)], ts: i64) -> BytesMut {
    let mut b = weir_protocol::records::BatchBuilder::new(ts);
    b.producer(producer_id, 0, seq).transactional(true);
    for (k, v) in entries {
        b.push(Some(k.as_bytes()), Some(v.as_bytes()), &[], ts);
    }
    BytesMut::from(&b.build()[..])
}

fn marker(producer_id: i64, commit: bool, ts: i64) -> BytesMut {
    let m = weir_protocol::control::Marker {
        producer_id,
        producer_epoch: 0,
        commit,
        coordinator_epoch: 0,
    };
    BytesMut::from(&weir_protocol::control::build_marker_batch(&m, ts)[..])
}

#[test]
fn aborted_values_never_hide_committed_ones_and_open_transactions_wait() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), small_config(), RecoveryMode::Strict, 0).unwrap();
    // Committed plain values, then an aborted transaction overwriting k1.
    log.append(
        keyed_batch(&[("k1", Some("committed")), ("k2", Some("old"))], 1000),
        None,
        1000,
    )
    .unwrap();
    let aborted_first = log.log_end_offset();
    log.append(txn_batch(7, 0, &[("k1", "aborted")], 1000), None, 1000)
        .unwrap();
    let abort_at = log.log_end_offset();
    log.append(marker(7, false, 1000), None, 1000).unwrap();
    // A committed transaction overwriting k2.
    log.append(txn_batch(8, 0, &[("k2", "new")], 1000), None, 1000)
        .unwrap();
    log.append(marker(8, true, 1000), None, 1000).unwrap();
    // An open transaction: from here on nothing is cleaned.
    let lso = log.log_end_offset();
    log.append(txn_batch(9, 0, &[("k1", "open")], 1000), None, 1000)
        .unwrap();
    // Fill segments so everything above sits in closed segments.
    write_rounds(&mut log, 50, 10, 1000);
    assert!(log.segment_base_offsets().len() > 2);
    let c = CleanerConfig {
        last_stable_offset: lso,
        aborted: vec![weir_storage::AbortedRange {
            producer_id: 7,
            first_offset: aborted_first,
            last_offset: abort_at,
        }],
        ..cfg()
    };
    let stats = clean(&mut log, &c, 2000).unwrap();
    assert_eq!(stats.cleaned_up_to, lso);
    let after = read_kv(&log);
    let value_of = |key: &str| -> Vec<Option<String>> {
        after
            .iter()
            .filter(|r| r.key.as_deref() == Some(key))
            .map(|r| r.value.clone())
            .collect()
    };
    // k1: the aborted value is gone, the committed one stays (it is not
    // superseded by an aborted write), and the open transaction's value is
    // untouched.
    assert_eq!(
        value_of("k1"),
        vec![Some("committed".to_string()), Some("open".to_string())]
    );
    // k2: the committed transaction superseded the old value.
    assert_eq!(value_of("k2"), vec![Some("new".to_string())]);
    // Records at or after the last stable offset were not cleaned at all.
    let before_lso = after.iter().filter(|r| r.offset >= lso).count();
    assert_eq!(before_lso, 1 + 50 * 10);
}
