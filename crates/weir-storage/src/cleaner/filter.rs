//! Thinning one record batch: keep some of its records, re-encode the rest.
//!
//! What is kept of the batch when records go, as Kafka's
//! `MemoryRecords.filterTo` does: the 61-byte header's base offset,
//! `lastOffsetDelta` (so the batch still spans the offsets it was given and
//! the next offset after it does not change), base timestamp, attributes,
//! partition leader epoch, producer id, epoch and base sequence. The kept
//! records' bytes are copied unchanged (each carries its own offset and
//! timestamp delta), so their offsets and timestamps stay exact; only
//! `recordsCount`, `batchLength`, `maxTimestamp` (CreateTime: the largest
//! kept timestamp) and the CRC are rewritten. A compressed batch is
//! decompressed, thinned and recompressed with its own codec. A batch that
//! keeps no record disappears; a control batch is always kept as is.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::{Bytes, BytesMut};
use weir_protocol::record_batch::{
    self, BATCH_HEADER_LEN, BatchError, BatchHeader, Compression, RecordError, TimestampType,
};
use weir_protocol::records::recompress_batch;

/// Byte ranges of header fields rewritten here (see
/// `weir_protocol::record_batch` for the layout).
const BATCH_LENGTH: std::ops::Range<usize> = 8..12;
const MAX_TIMESTAMP: std::ops::Range<usize> = 35..43;
const RECORDS_COUNT: std::ops::Range<usize> = 57..61;
const _: () = assert!(RECORDS_COUNT.end == BATCH_HEADER_LEN);

/// What the cleaner is told about one record.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// Absolute offset.
    pub offset: i64,
    /// Record timestamp (the batch's for LogAppendTime).
    pub timestamp: i64,
    /// Key bytes, `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// The value is null (a tombstone).
    pub tombstone: bool,
}

/// The outcome for one batch.
#[derive(Debug)]
pub enum Filtered {
    /// Every record kept: store the original bytes.
    Unchanged,
    /// Some records kept: store these bytes instead.
    Thinned(Bytes),
    /// No record kept: the batch disappears.
    Removed,
}

/// Counts of one batch's records.
#[derive(Debug, Default, Clone, Copy)]
pub struct FilterCounts {
    /// Records looked at.
    pub read: u64,
    /// Records kept.
    pub kept: u64,
}

/// Decide record by record with `keep` which records of `batch` (one whole
/// batch, CRC already checked by the reader) survive.
pub fn filter_batch(
    batch: &[u8],
    header: &BatchHeader,
    mut keep: impl FnMut(&RecordView<'_>) -> bool,
) -> Result<(Filtered, FilterCounts), BatchError> {
    if header.is_control() {
        let n = u64::try_from(header.records_count).unwrap_or(0);
        return Ok((Filtered::Unchanged, FilterCounts { read: n, kept: n }));
    }
    let plain_owned;
    let plain: &[u8] = if header.compression() == Compression::None {
        batch
            .get(..header.total_len())
            .ok_or(BatchError::Truncated {
                needed: header.total_len(),
                available: batch.len(),
            })?
    } else {
        plain_owned = recompress_batch(batch, Compression::None)?;
        &plain_owned
    };
    let log_append_time = header.timestamp_type() == TimestampType::LogAppendTime;
    let mut kept_ranges: Vec<std::ops::Range<usize>> = Vec::new();
    let mut counts = FilterCounts::default();
    let mut max_kept_timestamp = i64::MIN;
    let mut pos = BATCH_HEADER_LEN;
    for index in 0..header.records_count.max(0) {
        let raw =
            parse_record(plain, pos).map_err(|kind| BatchError::InvalidRecord { index, kind })?;
        let timestamp = if log_append_time {
            header.max_timestamp
        } else {
            header.base_timestamp.wrapping_add(raw.timestamp_delta)
        };
        let view = RecordView {
            offset: header.base_offset.wrapping_add(i64::from(raw.offset_delta)),
            timestamp,
            key: raw.key,
            tombstone: raw.tombstone,
        };
        counts.read += 1;
        if keep(&view) {
            counts.kept += 1;
            max_kept_timestamp = max_kept_timestamp.max(timestamp);
            kept_ranges.push(pos..raw.end);
        }
        pos = raw.end;
    }
    if pos != plain.len() {
        return Err(BatchError::TrailingBytes(plain.len().saturating_sub(pos)));
    }
    if counts.kept == counts.read {
        return Ok((Filtered::Unchanged, counts));
    }
    if counts.kept == 0 {
        return Ok((Filtered::Removed, counts));
    }
    let body_len: usize = kept_ranges.iter().map(|r| r.len()).sum();
    let mut out = BytesMut::with_capacity(BATCH_HEADER_LEN + body_len);
    out.extend_from_slice(plain.get(..BATCH_HEADER_LEN).unwrap_or(&[]));
    for r in kept_ranges {
        out.extend_from_slice(plain.get(r).unwrap_or(&[]));
    }
    let batch_length = i32::try_from(out.len() - record_batch::LOG_OVERHEAD)
        .map_err(|_| BatchError::InvalidLength(-1))?;
    let count = i32::try_from(counts.kept).map_err(|_| BatchError::InvalidLength(-1))?;
    put(&mut out, BATCH_LENGTH, &batch_length.to_be_bytes());
    put(&mut out, RECORDS_COUNT, &count.to_be_bytes());
    if !log_append_time {
        put(&mut out, MAX_TIMESTAMP, &max_kept_timestamp.to_be_bytes());
    }
    // The plain copy of a compressed batch still has the codec bits set;
    // clear them so the intermediate is a valid uncompressed batch.
    let attributes = header.attributes & !0x07;
    put(&mut out, 21..23, &attributes.to_be_bytes());
    record_batch::rewrite_crc(&mut out);
    let thinned = if header.compression() == Compression::None {
        out.freeze()
    } else {
        recompress_batch(&out, header.compression())?
    };
    debug_assert!(record_batch::check_batch(&thinned).is_ok());
    Ok((Filtered::Thinned(thinned), counts))
}

fn put(out: &mut [u8], range: std::ops::Range<usize>, bytes: &[u8]) {
    if let Some(dst) = out.get_mut(range) {
        dst.copy_from_slice(bytes);
    }
}

struct RawRecord<'a> {
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&'a [u8]>,
    tombstone: bool,
    /// Position just past the record.
    end: usize,
}

/// Parse the record starting at `pos` far enough to decide on it (the full
/// check of every field was done when the batch was produced).
fn parse_record(buf: &[u8], pos: usize) -> Result<RawRecord<'_>, RecordError> {
    let mut at = pos;
    let length = read_varint(buf, &mut at)?;
    let length = usize::try_from(length).map_err(|_| RecordError::InvalidLength(length))?;
    let end = at.checked_add(length).ok_or(RecordError::Truncated)?;
    let record = buf.get(..end).ok_or(RecordError::Truncated)?;
    at += 1; // attributes
    let timestamp_delta = read_varlong(record, &mut at)?;
    let offset_delta = read_varint(record, &mut at)?;
    let key_len = read_varint(record, &mut at)?;
    let key = match usize::try_from(key_len) {
        Ok(n) => {
            let key = record.get(at..at + n).ok_or(RecordError::Truncated)?;
            at += n;
            Some(key)
        }
        Err(_) => None,
    };
    let value_len = read_varint(record, &mut at)?;
    Ok(RawRecord {
        timestamp_delta,
        offset_delta,
        key,
        tombstone: value_len < 0,
        end,
    })
}

fn read_unsigned(buf: &[u8], at: &mut usize, max_bytes: usize) -> Result<u64, RecordError> {
    let mut value = 0u64;
    for i in 0..max_bytes {
        let b = *buf.get(*at).ok_or(RecordError::Truncated)?;
        *at += 1;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(RecordError::Truncated)
}

fn read_varint(buf: &[u8], at: &mut usize) -> Result<i32, RecordError> {
    let v = read_unsigned(buf, at, 5)? as u32;
    Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
}

fn read_varlong(buf: &[u8], at: &mut usize) -> Result<i64, RecordError> {
    let v = read_unsigned(buf, at, 10)?;
    Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;
    use weir_protocol::record_batch::validate_record_set;
    use weir_protocol::records::{BatchBuilder, decode_batch_records};

    fn batch() -> Bytes {
        let mut b = BatchBuilder::new(100);
        b.base_offset(50).producer(7, 1, 3);
        for i in 0..5i64 {
            let key = format!("k{i}");
            let value = (i != 3).then(|| format!("v{i}"));
            b.push(
                Some(key.as_bytes()),
                value.as_deref().map(str::as_bytes),
                &[],
                100 + i,
            );
        }
        b.build()
    }

    #[test]
    fn thinned_batch_keeps_offsets_and_producer_fields() {
        let original = batch();
        let header = BatchHeader::parse(&original).unwrap();
        let (out, counts) = filter_batch(&original, &header, |r| r.offset % 2 == 1).unwrap();
        assert_eq!((counts.read, counts.kept), (5, 2));
        let Filtered::Thinned(bytes) = out else {
            panic!("{out:?}")
        };
        let (h, records) = decode_batch_records(&bytes).unwrap();
        assert_eq!((h.base_offset, h.last_offset()), (50, 54));
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (7, 1, 3)
        );
        assert_eq!(h.records_count, 2);
        assert_eq!(h.max_timestamp, 103);
        let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![51, 53]);
        assert_eq!(records[1].value, None, "tombstone kept as such");
        assert_eq!(records[0].timestamp, 101);
        // Producers must still send dense offsets.
        assert!(validate_record_set(&bytes).is_err());
        // Compressed: same records, same codec.
        let zstd = recompress_batch(&original, Compression::Zstd).unwrap();
        let header = BatchHeader::parse(&zstd).unwrap();
        let (out, _) = filter_batch(&zstd, &header, |r| r.offset % 2 == 1).unwrap();
        let Filtered::Thinned(z) = out else {
            panic!("{out:?}")
        };
        assert_eq!(
            BatchHeader::parse(&z).unwrap().compression(),
            Compression::Zstd
        );
        assert_eq!(decode_batch_records(&z).unwrap().1, records);
    }

    #[test]
    fn all_or_nothing() {
        let original = batch();
        let header = BatchHeader::parse(&original).unwrap();
        assert!(matches!(
            filter_batch(&original, &header, |_| true).unwrap().0,
            Filtered::Unchanged
        ));
        assert!(matches!(
            filter_batch(&original, &header, |_| false).unwrap().0,
            Filtered::Removed
        ));
        // Truncated record bytes are an error, not a panic.
        let mut cut = original.to_vec();
        cut.truncate(cut.len() - 3);
        assert!(filter_batch(&cut, &header, |_| true).is_err());
    }
}
