//! Random sequences of appends, reads, flushes and reopens (clean, unclean,
//! with a torn tail) keep offsets contiguous and data identical to a model.
#![allow(missing_docs)]

mod common;

use std::io::Write;
use std::path::Path;

use common::{batch, read_all, records};
use proptest::prelude::*;
use weir_storage::{Log, LogConfig, RecoveryMode};

#[derive(Debug, Clone)]
enum Op {
    Append {
        batches: usize,
        records: usize,
        value_len: usize,
        ts: i64,
    },
    Read {
        at: prop::sample::Index,
        max_bytes: usize,
    },
    Flush,
    GroupCommit,
    ReopenClean,
    ReopenUnclean,
    ReopenTorn {
        garbage: Vec<u8>,
    },
    Lookup {
        ts: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..4, 1usize..5, 0usize..300, 0i64..1000).prop_map(|(batches, records, value_len, ts)| Op::Append { batches, records, value_len, ts }),
        3 => (any::<prop::sample::Index>(), 0usize..2000).prop_map(|(at, max_bytes)| Op::Read { at, max_bytes }),
        1 => Just(Op::Flush),
        1 => Just(Op::GroupCommit),
        1 => Just(Op::ReopenClean),
        1 => Just(Op::ReopenUnclean),
        1 => proptest::collection::vec(any::<u8>(), 1..80).prop_map(|garbage| Op::ReopenTorn { garbage }),
        1 => (0i64..1100).prop_map(|ts| Op::Lookup { ts }),
    ]
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        segment_ms: None,
        index_interval_bytes: 128,
        segment_index_bytes: 96,
        file_delete_delay_ms: 0,
    }
}

fn active_log_file(dir: &Path, log: &Log) -> std::path::PathBuf {
    let base = *log.segment_base_offsets().last().unwrap();
    dir.join(format!("{base:020}.log"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn log_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        let mut log = Log::open(path, config(), RecoveryMode::Strict, 0).unwrap();
        // (offset, value, timestamp) of every record.
        let mut model: Vec<(i64, Vec<u8>, i64)> = Vec::new();
        for op in ops {
            match op {
                Op::Append { batches, records, value_len, ts } => {
                    let mut set = bytes::BytesMut::new();
                    let mut expected = Vec::new();
                    for b in 0..batches {
                        let tag = format!("o{}b{b}", model.len());
                        let one = batch(&tag, records, ts + b as i64, value_len);
                        for r in 0..records {
                            let mut v = format!("{tag}-{r}").into_bytes();
                            v.resize(value_len.max(v.len()), b'.');
                            expected.push((v, ts + b as i64 + r as i64));
                        }
                        set.extend_from_slice(&one);
                    }
                    let info = log.append(set, None, 0).unwrap();
                    prop_assert_eq!(info.first_offset, model.len() as i64);
                    for (v, t) in expected {
                        model.push((model.len() as i64, v, t));
                    }
                    prop_assert_eq!(info.last_offset + 1, model.len() as i64);
                }
                Op::Read { at, max_bytes } => {
                    if model.is_empty() {
                        prop_assert!(log.read(0, max_bytes, i64::MAX).unwrap().is_empty());
                        continue;
                    }
                    let offset = at.index(model.len()) as i64;
                    let got = records(&log.read(offset, max_bytes, i64::MAX).unwrap());
                    prop_assert!(!got.is_empty());
                    prop_assert!(got[0].0 <= offset);
                    for (o, v) in got {
                        prop_assert_eq!(&v[..], &model[o as usize].1[..]);
                    }
                }
                Op::Flush => {
                    log.flush().unwrap();
                    prop_assert_eq!(log.flushed_offset(), log.log_end_offset());
                }
                Op::GroupCommit => {
                    let target = log.sync_target().unwrap();
                    target.sync().unwrap();
                    log.mark_flushed(target.offset);
                    log.checkpoint().unwrap();
                    prop_assert_eq!(log.flushed_offset(), log.log_end_offset());
                }
                Op::ReopenClean => {
                    log.close().unwrap();
                    log = Log::open(path, config(), RecoveryMode::Strict, 0).unwrap();
                    prop_assert_eq!(log.recovery_stats().segments_scanned, 0);
                }
                Op::ReopenUnclean => {
                    drop(log);
                    log = Log::open(path, config(), RecoveryMode::Strict, 0).unwrap();
                }
                Op::ReopenTorn { garbage } => {
                    let file = active_log_file(path, &log);
                    drop(log);
                    std::fs::OpenOptions::new().append(true).open(&file).unwrap().write_all(&garbage).unwrap();
                    log = Log::open(path, config(), RecoveryMode::TolerateCorruptTail, 0).unwrap();
                }
                Op::Lookup { ts } => {
                    let expected = model.iter().find(|r| r.2 >= ts).map(|r| (r.0, r.2));
                    prop_assert_eq!(log.offset_for_timestamp(ts).unwrap(), expected);
                }
            }
            prop_assert_eq!(log.log_end_offset(), model.len() as i64);
        }
        let all = read_all(&log, 0, 700);
        prop_assert_eq!(all.len(), model.len());
        for ((o, v), m) in all.iter().zip(&model) {
            prop_assert_eq!(*o, m.0);
            prop_assert_eq!(&v[..], &m.1[..]);
        }
    }
}
