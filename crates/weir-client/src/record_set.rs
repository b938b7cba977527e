//! Reading the record set of one partition in a Fetch response.
//!
//! ## Format
//!
//! The `records` field of a fetched partition is a run of record batches
//! (format v2, see `weir_protocol::record_batch`) laid end to end, exactly
//! as the log stores them. Three things make reading it more than "decode
//! every batch":
//!
//! * The run may end with a partial batch, cut at the fetch's byte limit.
//!   It is ignored; the next fetch starts at that batch again.
//! * The first batch may start *before* the fetch offset: the broker serves
//!   whole batches, and a fetch offset may point into the middle of one.
//!   Records below the fetch offset are skipped.
//! * Control batches (transaction markers) hold no user records; they are
//!   skipped, and the position moves past them.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::Bytes;
use weir_protocol::record_batch::{BatchHeader, Compression, LOG_OVERHEAD, TimestampType};
use weir_protocol::records::{RecordHeader, decode_batch_records};

use crate::error::ClientError;

/// One record read by a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp in ms since the epoch.
    pub timestamp_ms: i64,
    /// Whether the timestamp is the producer's create time or the broker's
    /// append time.
    pub timestamp_type: TimestampType,
    /// Key (`None` for null).
    pub key: Option<Bytes>,
    /// Value (`None` for null).
    pub value: Option<Bytes>,
    /// Headers in wire order (duplicates kept).
    pub headers: Vec<RecordHeader>,
}

/// The records of one partition's record set at or after `fetch_offset`,
/// and the offset to fetch next.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    pub(crate) records: Vec<ConsumerRecord>,
    pub(crate) next_offset: i64,
}

/// Read the whole batches of `set`, keeping records at or after
/// `fetch_offset`.
///
/// A compressed batch this client cannot read stops the walk: records
/// before it are returned (the next fetch starts at the compressed batch),
/// and if it is the first batch the error is returned.
pub(crate) fn decode_record_set(
    topic: &str,
    partition: i32,
    set: &Bytes,
    fetch_offset: i64,
) -> Result<Decoded, ClientError> {
    let mut out = Decoded {
        records: Vec::new(),
        next_offset: fetch_offset,
    };
    let mut pos = 0usize;
    loop {
        let rest = set.get(pos..).unwrap_or(&[]);
        if rest.len() < LOG_OVERHEAD {
            break;
        }
        let batch_error = |source| ClientError::Batch {
            topic: topic.to_owned(),
            partition,
            offset: out.next_offset,
            source,
        };
        let header = match BatchHeader::parse(rest) {
            Ok(h) => h,
            // A header cut short by the byte limit is a partial batch.
            Err(weir_protocol::record_batch::BatchError::Truncated { .. }) => break,
            Err(e) => return Err(batch_error(e)),
        };
        let total = header.total_len();
        if total > rest.len() {
            break;
        }
        let batch = set.slice(pos..pos + total);
        pos += total;
        if header.next_offset() <= out.next_offset {
            continue;
        }
        if header.is_control() {
            out.next_offset = header.next_offset();
            continue;
        }
        let codec = header.compression();
        if codec != Compression::None {
            if out.records.is_empty() {
                return Err(ClientError::UnsupportedCompression {
                    topic: topic.to_owned(),
                    partition,
                    offset: header.base_offset,
                    codec,
                });
            }
            break;
        }
        let (header, records) = decode_batch_records(&batch).map_err(batch_error)?;
        let timestamp_type = header.timestamp_type();
        out.records.extend(
            records
                .into_iter()
                .filter(|r| r.offset >= out.next_offset)
                .map(|r| ConsumerRecord {
                    topic: topic.to_owned(),
                    partition,
                    offset: r.offset,
                    timestamp_ms: r.timestamp,
                    timestamp_type,
                    key: r.key,
                    value: r.value,
                    headers: r.headers,
                }),
        );
        out.next_offset = header.next_offset();
    }
    Ok(out)
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on purpose"
)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use weir_protocol::record_batch::{rewrite_crc, set_base_offset};
    use weir_protocol::records::BatchBuilder;

    fn batch(base_offset: i64, values: &[&str]) -> Bytes {
        let mut b = BatchBuilder::new(1_000);
        for (i, v) in values.iter().enumerate() {
            b.push(Some(b"k"), Some(v.as_bytes()), &[], 1_000 + i as i64);
        }
        let mut bytes = BytesMut::from(&b.build()[..]);
        set_base_offset(&mut bytes, base_offset);
        bytes.freeze()
    }

    fn values(d: &Decoded) -> Vec<(i64, String)> {
        d.records
            .iter()
            .map(|r| {
                (
                    r.offset,
                    String::from_utf8(r.value.as_ref().unwrap().to_vec()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn skips_records_below_fetch_offset_and_partial_tail() {
        let mut set = BytesMut::new();
        set.extend_from_slice(&batch(10, &["a", "b", "c"]));
        set.extend_from_slice(&batch(13, &["d"]));
        let partial = batch(14, &["e", "f"]);
        set.extend_from_slice(&partial[..partial.len() - 3]);
        let d = decode_record_set("t", 0, &set.freeze(), 11).unwrap();
        assert_eq!(
            values(&d),
            vec![(11, "b".into()), (12, "c".into()), (13, "d".into())]
        );
        assert_eq!(d.next_offset, 14);
        assert_eq!(d.records[0].topic, "t");
        assert_eq!(d.records[0].timestamp_ms, 1_001);
    }

    #[test]
    fn empty_and_tiny_sets_read_nothing() {
        let d = decode_record_set("t", 0, &Bytes::new(), 5).unwrap();
        assert!(d.records.is_empty());
        assert_eq!(d.next_offset, 5);
        let d = decode_record_set("t", 0, &Bytes::from_static(&[0, 0, 0]), 5).unwrap();
        assert_eq!(d.next_offset, 5);
    }

    #[test]
    fn control_batches_are_skipped() {
        let mut control = BytesMut::from(&batch(3, &["marker"])[..]);
        control[22] |= 0x20; // attributes low byte: control bit
        rewrite_crc(&mut control);
        let mut set = BytesMut::new();
        set.extend_from_slice(&control);
        set.extend_from_slice(&batch(4, &["x"]));
        let d = decode_record_set("t", 1, &set.freeze(), 3).unwrap();
        assert_eq!(values(&d), vec![(4, "x".into())]);
        assert_eq!(d.next_offset, 5);
    }

    #[test]
    fn compressed_batch_is_a_clear_error_when_first() {
        let mut gz = BytesMut::from(&batch(0, &["a"])[..]);
        gz[22] |= 1; // gzip
        rewrite_crc(&mut gz);
        let gz = gz.freeze();
        let err = decode_record_set("t", 0, &gz, 0).unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::UnsupportedCompression {
                    codec: Compression::Gzip,
                    ..
                }
            ),
            "{err}"
        );
        // After plain records, it just stops there.
        let mut set = BytesMut::new();
        set.extend_from_slice(&batch(0, &["a"]));
        set.extend_from_slice(&gz);
        let d = decode_record_set("t", 0, &set.freeze(), 0).unwrap();
        assert_eq!(d.next_offset, 1);
    }

    #[test]
    fn corrupt_batch_is_an_error() {
        let mut bad = BytesMut::from(&batch(0, &["a"])[..]);
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let err = decode_record_set("t", 0, &bad.freeze(), 0).unwrap_err();
        assert!(matches!(err, ClientError::Batch { .. }), "{err}");
    }
}
