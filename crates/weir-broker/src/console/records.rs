//! The console's record browser: a bounded page of records of one
//! partition, from an offset or from the first record at or after a
//! timestamp, as read_uncommitted consumers see them (transaction markers
//! are skipped). Keys, values and headers are untrusted bytes: they are sent
//! as JSON strings (UTF-8 text, else hex) and the page renders them as text.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::partition::Partition;
use crate::replay::{Item, walk};

/// Records per page when the request names no limit.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest page.
pub const MAX_LIMIT: usize = 100;
/// Bytes of one key, value or header value shown; the rest is cut.
pub const MAX_SHOWN_BYTES: usize = 16 * 1024;

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At this offset (clamped to the log start).
    Offset(i64),
    /// At the first record with a timestamp at or after this (ms).
    Timestamp(i64),
}

/// A key, value or header value as JSON: null, or
/// `{"text": ..., "encoding": "utf8"|"hex", "size": n, "truncated": bool}`.
pub fn bytes_json(b: Option<&Bytes>) -> Value {
    let Some(b) = b else { return Value::Null };
    let shown = b.get(..b.len().min(MAX_SHOWN_BYTES)).unwrap_or_default();
    let (text, encoding) = match std::str::from_utf8(shown) {
        Ok(s) => (s.to_string(), "utf8"),
        // A cut through a multi-byte character still reads as text.
        Err(e) if e.error_len().is_none() && b.len() > MAX_SHOWN_BYTES => (
            String::from_utf8_lossy(shown.get(..e.valid_up_to()).unwrap_or_default()).into_owned(),
            "utf8",
        ),
        Err(_) => (shown.iter().map(|x| format!("{x:02x}")).collect(), "hex"),
    };
    json!({
        "text": text,
        "encoding": encoding,
        "size": b.len(),
        "truncated": b.len() > MAX_SHOWN_BYTES,
    })
}

/// One page of `p`: the records and where the next page starts.
pub fn page(
    p: &Partition,
    start: Start,
    limit: usize,
) -> Result<Value, weir_storage::StorageError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let (log_start, hw) = p.offsets()?;
    let from = match start {
        Start::Offset(o) => o.max(log_start),
        Start::Timestamp(ts) => match p.offset_for_timestamp(ts)? {
            Some((o, _)) => o.max(log_start),
            None => hw,
        },
    };
    let mut records = Vec::new();
    let mut next = from;
    if from < hw {
        walk(p, from, |item| {
            let Item::Record(_, r) = item else {
                return true;
            };
            if r.offset < from {
                return true;
            }
            next = r.offset + 1;
            records.push(json!({
                "offset": r.offset,
                "timestamp": r.timestamp,
                "key": bytes_json(r.key.as_ref()),
                "value": bytes_json(r.value.as_ref()),
                "headers": r.headers.iter().map(|h| json!({
                    "key": h.key,
                    "value": bytes_json(h.value.as_ref()),
                })).collect::<Vec<_>>(),
            }));
            records.len() < limit
        })?;
    }
    Ok(json!({
        "topic": p.topic,
        "partition": p.index,
        "log_start_offset": log_start,
        "high_watermark": hw,
        "from": from,
        "next_offset": next.max(from),
        "records": records,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_bytes_become_text_or_hex_and_are_cut() {
        assert_eq!(bytes_json(None), Value::Null);
        let v = bytes_json(Some(&Bytes::from_static(b"<script>alert(1)</script>")));
        assert_eq!(v["text"], "<script>alert(1)</script>");
        assert_eq!(v["encoding"], "utf8");
        let v = bytes_json(Some(&Bytes::from_static(&[0xff, 0x00, 0x10])));
        assert_eq!(v["text"], "ff0010");
        assert_eq!(v["encoding"], "hex");
        let mut long = "é".repeat(MAX_SHOWN_BYTES);
        long.push('x');
        let v = bytes_json(Some(&Bytes::from(long.clone())));
        assert_eq!(v["truncated"], true);
        assert_eq!(v["size"], long.len());
        assert_eq!(v["encoding"], "utf8");
        assert_eq!(v["text"].as_str().map(str::len), Some(MAX_SHOWN_BYTES));
    }
}
