//! Random keyed appends, cleaning passes (small key maps, moving clocks,
//! tombstone horizons), DeleteRecords and reopens never lose the latest
//! value of any key at or above the log start, and offsets only increase.
#![allow(missing_docs)]

mod common;

use std::collections::BTreeMap;

use common::{keyed_batch, latest_by_key, read_kv};
use proptest::prelude::*;
use weir_storage::{CleanerConfig, Log, LogConfig, RecoveryMode, clean};

#[derive(Debug, Clone)]
enum Op {
    /// Records `(key index, value or tombstone)`.
    Append(Vec<(u8, Option<u16>)>),
    Clean {
        map_keys: usize,
        delete_retention_ms: i64,
    },
    Tick(i64),
    Reopen,
    DeleteRecords(prop::sample::Index),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => prop::collection::vec((0u8..24, prop::option::weighted(0.85, any::<u16>())), 1..12)
            .prop_map(Op::Append),
        3 => (2usize..40, prop_oneof![Just(0i64), Just(50), Just(1_000_000)])
            .prop_map(|(map_keys, delete_retention_ms)| Op::Clean { map_keys, delete_retention_ms }),
        2 => (1i64..100).prop_map(Op::Tick),
        1 => Just(Op::Reopen),
        1 => any::<prop::sample::Index>().prop_map(Op::DeleteRecords),
    ]
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 600,
        segment_ms: None,
        index_interval_bytes: 64,
        segment_index_bytes: 1024,
        file_delete_delay_ms: 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn latest_value_of_every_key_survives(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), config(), RecoveryMode::Strict, 0).unwrap();
        // Model: key → (offset, value) of its latest record.
        let mut model: BTreeMap<String, (i64, Option<String>)> = BTreeMap::new();
        let mut now = 0i64;
        let mut last_end = 0;
        for op in ops {
            match op {
                Op::Append(entries) => {
                    let owned: Vec<(String, Option<String>)> = entries
                        .iter()
                        .map(|(k, v)| (format!("key{k}"), v.map(|v| format!("v{v}"))))
                        .collect();
                    let refs: Vec<(&str, Option<&str>)> =
                        owned.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
                    let info = log.append(keyed_batch(&refs, now), None, now).unwrap();
                    for (i, (k, v)) in owned.into_iter().enumerate() {
                        model.insert(k, (info.first_offset + i as i64, v));
                    }
                }
                Op::Clean { map_keys, delete_retention_ms } => {
                    let cfg = CleanerConfig {
                        key_map_bytes: map_keys * 24,
                        delete_retention_ms,
                        ..CleanerConfig::default()
                    };
                    clean(&mut log, &cfg, now).unwrap();
                }
                Op::Tick(ms) => now += ms,
                Op::DeleteRecords(at) => {
                    let start = log.log_start_offset();
                    let span = usize::try_from(log.log_end_offset() - start).unwrap() + 1;
                    let offset = start + at.index(span) as i64;
                    prop_assert_eq!(log.delete_records_before(offset).unwrap(), offset);
                    model.retain(|_, (o, _)| *o >= offset);
                }
                Op::Reopen => {
                    drop(log);
                    log = Log::open(dir.path(), config(), RecoveryMode::Strict, now).unwrap();
                }
            }
            prop_assert!(log.log_end_offset() >= last_end);
            last_end = log.log_end_offset();
            // read_kv asserts offsets strictly increase.
            let latest = latest_by_key(&read_kv(&log));
            for (key, (offset, value)) in &model {
                match latest.get(key) {
                    Some(r) => {
                        prop_assert_eq!(r.offset, *offset, "key {} moved", key);
                        prop_assert_eq!(&r.value, value);
                    }
                    // Only a tombstone may disappear.
                    None => prop_assert!(value.is_none(), "key {} lost", key),
                }
            }
            prop_assert_eq!(latest.len() <= model.len(), true);
        }
    }
}
