//! Helpers shared by the scenario tests.
#![allow(dead_code, unreachable_pub, missing_docs)]

use bytes::{Bytes, BytesMut};
use weir_protocol::record_batch::validate_record_set;
use weir_protocol::records::{BatchBuilder, decode_batch_records};
use weir_storage::LogConfig;

/// A batch of `records` records with values `"<tag>-<i>"` padded to
/// `value_len`, timestamps `ts, ts+1, ...`.
pub fn batch(tag: &str, records: usize, ts: i64, value_len: usize) -> BytesMut {
    let mut b = BatchBuilder::new(ts);
    for i in 0..records {
        let mut v = format!("{tag}-{i}").into_bytes();
        v.resize(value_len.max(v.len()), b'.');
        b.push(
            Some(format!("k{i}").as_bytes()),
            Some(&v),
            &[],
            ts + i as i64,
        );
    }
    BytesMut::from(&b.build()[..])
}

/// Small segments and dense indexes so tests exercise rolls and lookups.
pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        segment_ms: None,
        index_interval_bytes: 256,
        segment_index_bytes: 1024,
        file_delete_delay_ms: 0,
    }
}

/// Decode every record in `bytes` (whole batches), returning
/// `(offset, value)`.
pub fn records(bytes: &Bytes) -> Vec<(i64, Bytes)> {
    let headers = validate_record_set(bytes).expect("read returns valid batches");
    let mut out = Vec::new();
    let mut pos = 0;
    for h in headers {
        let one = bytes.slice(pos..pos + h.total_len());
        let (_, recs) = decode_batch_records(&one).expect("decodes");
        out.extend(
            recs.into_iter()
                .map(|r| (r.offset, r.value.unwrap_or_default())),
        );
        pos += h.total_len();
    }
    out
}

/// Every record from `from` to the log end, read with `max_bytes` per call.
pub fn read_all(log: &weir_storage::Log, from: i64, max_bytes: usize) -> Vec<(i64, Bytes)> {
    let mut out = Vec::new();
    let mut next = from;
    let end = log.log_end_offset();
    while next < end {
        let bytes = log.read(next, max_bytes, i64::MAX).expect("read");
        assert!(
            !bytes.is_empty(),
            "read at {next} below log end {end} returned nothing"
        );
        let recs = records(&bytes);
        out.extend(recs.into_iter().filter(|(o, _)| *o >= next));
        next = out.last().map(|(o, _)| o + 1).expect("progress");
    }
    out
}

/// One batch of keyed records `(key, value)` (`None` value: tombstone),
/// timestamps all `ts`.
pub fn keyed_batch(entries: &[(&str, Option<&str>)], ts: i64) -> BytesMut {
    let mut b = BatchBuilder::new(ts);
    for (k, v) in entries {
        b.push(Some(k.as_bytes()), v.map(str::as_bytes), &[], ts);
    }
    BytesMut::from(&b.build()[..])
}

/// A record read back: offset, key, value (`None`: tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kv {
    pub offset: i64,
    pub key: Option<String>,
    pub value: Option<String>,
}

/// Every record of the log from its start, batch by batch, accepting the
/// offset gaps compaction leaves. Checks offsets strictly increase.
pub fn read_kv(log: &weir_storage::Log) -> Vec<Kv> {
    use weir_protocol::record_batch::BatchIter;
    let mut out: Vec<Kv> = Vec::new();
    let mut next = log.log_start_offset();
    let end = log.log_end_offset();
    while next < end {
        let bytes = log.read(next, 1 << 20, i64::MAX).expect("read");
        if bytes.is_empty() {
            break;
        }
        let mut last_batch_end = next;
        for item in BatchIter::verified(&bytes) {
            let (pos, h) = item.expect("valid batch");
            let one = bytes.slice(pos..pos + h.total_len());
            let (_, recs) = decode_batch_records(&one).expect("decodes");
            for r in recs {
                if r.offset < next {
                    continue;
                }
                if let Some(prev) = out.last() {
                    assert!(r.offset > prev.offset, "offsets must increase");
                }
                out.push(Kv {
                    offset: r.offset,
                    key: r.key.map(|k| String::from_utf8_lossy(&k).into_owned()),
                    value: r.value.map(|v| String::from_utf8_lossy(&v).into_owned()),
                });
            }
            last_batch_end = h.last_offset() + 1;
        }
        assert!(last_batch_end > next, "read made progress");
        next = last_batch_end;
    }
    out
}

/// The last record of each key, in key order.
pub fn latest_by_key(records: &[Kv]) -> std::collections::BTreeMap<String, Kv> {
    let mut map = std::collections::BTreeMap::new();
    for r in records {
        if let Some(k) = &r.key {
            map.insert(k.clone(), r.clone());
        }
    }
    map
}
