//! Records inside an uncompressed v2 batch, and a builder for such batches.
//!
//! ## Format
//!
//! After the 61-byte batch header (see [`crate::record_batch`]) come
//! `recordsCount` records, each:
//!
//! | field            | type            | notes                                      |
//! |------------------|-----------------|--------------------------------------------|
//! | `length`         | varint          | bytes of the record after this field       |
//! | `attributes`     | int8            | unused, 0                                  |
//! | `timestampDelta` | varlong         | record timestamp minus `baseTimestamp`     |
//! | `offsetDelta`    | varint          | record offset minus `baseOffset`           |
//! | `keyLength`      | varint          | negative (normally -1) means null key      |
//! | `key`            | bytes           |                                            |
//! | `valueLength`    | varint          | negative (normally -1) means null value    |
//! | `value`          | bytes           |                                            |
//! | `headersCount`   | varint          | must be >= 0                               |
//! | headers          | see below       |                                            |
//!
//! Each header: `keyLength` varint (>= 0), `key` (UTF-8), `valueLength` varint
//! (negative = null), `value`.
//!
//! Varints are zigzag-encoded base-128 varints as in protobuf: 7 bits per
//! byte, least significant group first, high bit set on every byte but the
//! last; varint (32-bit) is at most 5 bytes, varlong at most 10.
//!
//! ## Decoding rules
//!
//! * Every count and length is checked against the bytes that remain before
//!   anything is allocated, so a hostile count cannot cause a large
//!   allocation.
//! * The fields of a record must use exactly `length` bytes, and the batch
//!   must end exactly after `recordsCount` records (Kafka rejects both).
//! * Header keys that are not valid UTF-8 are decoded lossily, as Kafka's Java
//!   code does; the broker never re-encodes records, so stored bytes stay
//!   exactly as the producer sent them.
//! * In a LogAppendTime batch every record's timestamp is the batch's
//!   `maxTimestamp`.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::{BufMut, Bytes, BytesMut};

use crate::record_batch::{
    self, BATCH_HEADER_LEN, BatchError, BatchHeader, Compression, RecordError, TimestampType,
};

/// Smallest encoded record: length, attributes, timestampDelta, offsetDelta,
/// keyLength, valueLength and headersCount, one byte each.
const MIN_RECORD_LEN: usize = 7;
/// Smallest encoded header: keyLength and valueLength, one byte each.
const MIN_HEADER_LEN: usize = 2;

/// One record, with absolute offset and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute offset (`baseOffset + offsetDelta`).
    pub offset: i64,
    /// Absolute timestamp in ms (`baseTimestamp + timestampDelta`, or the
    /// batch's `maxTimestamp` for LogAppendTime).
    pub timestamp: i64,
    /// Key, `None` for null.
    pub key: Option<Bytes>,
    /// Value, `None` for null (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers in wire order; duplicates are kept.
    pub headers: Vec<RecordHeader>,
}

/// One record header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    /// Header key.
    pub key: String,
    /// Header value, `None` for null.
    pub value: Option<Bytes>,
}

/// A bounded reader over the record bytes of one batch.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn u8(&mut self) -> Result<u8, RecordError> {
        let b = *self.buf.get(self.pos).ok_or(RecordError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn unsigned_varint(&mut self, max_bytes: usize) -> Result<u64, RecordError> {
        let mut value: u64 = 0;
        for i in 0..max_bytes {
            let b = self.u8()?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(RecordError::MalformedVarint)
    }

    fn varint(&mut self) -> Result<i32, RecordError> {
        let raw = self.unsigned_varint(5)?;
        // Bits beyond 32 in the fifth byte are ignored, as Kafka's
        // ByteUtils.readVarint does after its length check.
        let raw = raw as u32;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    fn varlong(&mut self) -> Result<i64, RecordError> {
        let raw = self.unsigned_varint(10)?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    fn bytes(&mut self, len: usize) -> Result<std::ops::Range<usize>, RecordError> {
        if len > self.remaining() {
            return Err(RecordError::Truncated);
        }
        let range = self.pos..self.pos + len;
        self.pos += len;
        Ok(range)
    }

    /// A nullable byte field: negative length is null.
    fn nullable(&mut self) -> Result<Option<std::ops::Range<usize>>, RecordError> {
        let len = self.varint()?;
        match usize::try_from(len) {
            Ok(len) => self.bytes(len).map(Some),
            Err(_) => Ok(None),
        }
    }
}

/// Where the fields of one record live in the batch bytes.
struct RawRecord {
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<std::ops::Range<usize>>,
    value: Option<std::ops::Range<usize>>,
    headers: Vec<(std::ops::Range<usize>, Option<std::ops::Range<usize>>)>,
}

fn read_record(r: &mut Reader<'_>) -> Result<RawRecord, RecordError> {
    let length = r.varint()?;
    let length_usize = usize::try_from(length).map_err(|_| RecordError::InvalidLength(length))?;
    if length_usize > r.remaining() {
        return Err(RecordError::Truncated);
    }
    let start = r.pos;
    let _attributes = r.u8()?;
    let timestamp_delta = r.varlong()?;
    let offset_delta = r.varint()?;
    let key = r.nullable()?;
    let value = r.nullable()?;
    let headers_count = r.varint()?;
    let headers_count = usize::try_from(headers_count)
        .map_err(|_| RecordError::InvalidHeaderCount(headers_count))?;
    if headers_count > r.remaining() / MIN_HEADER_LEN {
        return Err(RecordError::Truncated);
    }
    let mut headers = Vec::with_capacity(headers_count);
    for _ in 0..headers_count {
        let key_len = r.varint()?;
        let key_len =
            usize::try_from(key_len).map_err(|_| RecordError::InvalidHeaderKeyLength(key_len))?;
        let key = r.bytes(key_len)?;
        let value = r.nullable()?;
        headers.push((key, value));
    }
    let used = r.pos - start;
    if used != length_usize {
        return Err(RecordError::LengthMismatch {
            declared: length,
            actual: used,
        });
    }
    Ok(RawRecord {
        timestamp_delta,
        offset_delta,
        key,
        value,
        headers,
    })
}

/// Walk the records of an uncompressed batch (`batch` is exactly one whole
/// batch) calling `f` for each; checks counts, lengths and offset deltas.
/// With `dense` the deltas must be 0, 1, 2, ... as every producer writes
/// them; without it (batches read back from a log, which compaction may have
/// thinned, keeping the base offset and `lastOffsetDelta`) they must only be
/// strictly increasing within `0..=lastOffsetDelta`.
fn walk_records(
    header: &BatchHeader,
    batch: &[u8],
    dense: bool,
    mut f: impl FnMut(&[u8], RawRecord),
) -> Result<(), BatchError> {
    let mut r = Reader {
        buf: batch,
        pos: BATCH_HEADER_LEN,
    };
    let declared = header.records_count;
    let count = usize::try_from(declared).map_err(|_| BatchError::InvalidRecordCount {
        records_count: declared,
        last_offset_delta: header.last_offset_delta,
    })?;
    if count > r.remaining() / MIN_RECORD_LEN {
        return Err(BatchError::RecordCountMismatch {
            declared,
            actual: i32::try_from(r.remaining() / MIN_RECORD_LEN).unwrap_or(i32::MAX),
        });
    }
    let mut previous_delta = -1;
    for index in 0..declared {
        if r.remaining() == 0 {
            return Err(BatchError::RecordCountMismatch {
                declared,
                actual: index,
            });
        }
        let raw = read_record(&mut r).map_err(|kind| BatchError::InvalidRecord { index, kind })?;
        let in_order = if dense {
            raw.offset_delta == index
        } else {
            raw.offset_delta > previous_delta && raw.offset_delta <= header.last_offset_delta
        };
        previous_delta = raw.offset_delta;
        if !in_order {
            return Err(BatchError::InvalidRecord {
                index,
                kind: RecordError::NonSequentialOffset(raw.offset_delta),
            });
        }
        f(batch, raw);
    }
    if r.remaining() != 0 {
        return Err(BatchError::TrailingBytes(r.remaining()));
    }
    Ok(())
}

/// The batch with its records section decompressed: the 61-byte header
/// followed by the plain records, so the uncompressed walkers apply. The
/// header bytes (and so the CRC field) are those of the compressed batch.
pub(crate) fn decompressed_batch(
    header: &BatchHeader,
    batch: &[u8],
) -> Result<Vec<u8>, BatchError> {
    let head = batch.get(..BATCH_HEADER_LEN).ok_or(BatchError::Truncated {
        needed: BATCH_HEADER_LEN,
        available: batch.len(),
    })?;
    let body = batch
        .get(BATCH_HEADER_LEN..header.total_len())
        .ok_or(BatchError::Truncated {
            needed: header.total_len(),
            available: batch.len(),
        })?;
    let plain = crate::compression::decompress(
        header.compression(),
        body,
        crate::compression::DECOMPRESSED_BATCH_BYTES_MAX,
    )?;
    let mut out = Vec::with_capacity(BATCH_HEADER_LEN + plain.len());
    out.extend_from_slice(head);
    out.extend_from_slice(&plain);
    Ok(out)
}

/// Re-encode one whole batch with `target` compression: same header fields
/// (offsets, timestamps, producer id, sequence), new attributes, length and
/// CRC. Used for a topic's `compression.type` when it differs from the
/// producer's codec, as Kafka does.
pub fn recompress_batch(batch: &[u8], target: Compression) -> Result<Bytes, BatchError> {
    let header = record_batch::check_batch(batch)?;
    let plain = if header.compression() == Compression::None {
        batch
            .get(..header.total_len())
            .map(<[u8]>::to_vec)
            .ok_or(BatchError::Truncated {
                needed: header.total_len(),
                available: batch.len(),
            })?
    } else {
        decompressed_batch(&header, batch)?
    };
    // Offsets of a batch read back from a compacted log may have gaps.
    walk_records(&header, &plain, false, |_, _| {})?;
    let records = plain.get(BATCH_HEADER_LEN..).unwrap_or(&[]);
    let body = crate::compression::compress(target, records)?;
    let mut out = BytesMut::with_capacity(BATCH_HEADER_LEN + body.len());
    out.put_slice(plain.get(..BATCH_HEADER_LEN).unwrap_or(&[]));
    out.put_slice(&body);
    let batch_length = len_i32(out.len() - record_batch::LOG_OVERHEAD);
    let attributes = (header.attributes & !0x07) | i16::from(target.bits());
    if let Some(b) = out.get_mut(8..12) {
        b.copy_from_slice(&batch_length.to_be_bytes());
    }
    if let Some(b) = out.get_mut(21..23) {
        b.copy_from_slice(&attributes.to_be_bytes());
    }
    record_batch::rewrite_crc(&mut out);
    Ok(out.freeze())
}

/// Check the records of an uncompressed batch without building them
/// (producer validation). `batch` is exactly one whole batch.
pub(crate) fn check_records(header: &BatchHeader, batch: &[u8]) -> Result<(), BatchError> {
    walk_records(header, batch, true, |_, _| {})
}

/// Decode the records of the first batch in `batch` (bytes after that batch
/// are ignored; use [`record_batch::BatchIter`] to walk several).
///
/// Checks the CRC. Compressed batches are decompressed (gzip, snappy, lz4,
/// zstd; at most [`crate::compression::DECOMPRESSED_BATCH_BYTES_MAX`]).
/// For uncompressed batches keys, values and header values are zero-copy
/// slices of `batch`.
pub fn decode_batch_records(batch: &Bytes) -> Result<(BatchHeader, Vec<Record>), BatchError> {
    let header = record_batch::check_batch(batch)?;
    let whole = if header.compression() == Compression::None {
        batch.slice(..header.total_len())
    } else {
        Bytes::from(decompressed_batch(&header, batch)?)
    };
    // Bounded by walk_records' count check before the first push.
    let capacity = usize::try_from(header.records_count)
        .unwrap_or(0)
        .min(whole.len() / MIN_RECORD_LEN);
    let mut records = Vec::with_capacity(capacity);
    let log_append_time = header.timestamp_type() == TimestampType::LogAppendTime;
    walk_records(&header, &whole, false, |_, raw| {
        let slice = |r: std::ops::Range<usize>| whole.slice(r);
        let timestamp = if log_append_time {
            header.max_timestamp
        } else {
            header.base_timestamp.wrapping_add(raw.timestamp_delta)
        };
        records.push(Record {
            offset: header.base_offset.wrapping_add(i64::from(raw.offset_delta)),
            timestamp,
            key: raw.key.map(slice),
            value: raw.value.map(slice),
            headers: raw
                .headers
                .into_iter()
                .map(|(k, v)| RecordHeader {
                    key: String::from_utf8_lossy(whole.get(k).unwrap_or(&[])).into_owned(),
                    value: v.map(slice),
                })
                .collect(),
        });
    })?;
    Ok((header, records))
}

fn put_unsigned_varint(out: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

fn put_varint(out: &mut BytesMut, v: i32) {
    put_unsigned_varint(out, u64::from(((v << 1) ^ (v >> 31)) as u32));
}

fn put_varlong(out: &mut BytesMut, v: i64) {
    put_unsigned_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_nullable(out: &mut BytesMut, v: Option<&[u8]>) {
    match v {
        Some(b) => {
            put_varint(out, len_i32(b.len()));
            out.put_slice(b);
        }
        None => put_varint(out, -1),
    }
}

fn len_i32(len: usize) -> i32 {
    i32::try_from(len).expect("record field longer than i32::MAX bytes")
}

/// Builds one uncompressed v2 batch.
///
/// Offsets are relative to base offset 0 (the broker assigns the real base
/// offset on append). Producer id, epoch and base sequence are -1 unless set.
/// `max_timestamp` is the largest record timestamp.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    base_offset: i64,
    partition_leader_epoch: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
    count: i32,
    records: BytesMut,
    scratch: BytesMut,
}

impl BatchBuilder {
    /// A builder whose `baseTimestamp` is `base_timestamp_ms`.
    pub fn new(base_timestamp_ms: i64) -> BatchBuilder {
        BatchBuilder {
            base_offset: 0,
            partition_leader_epoch: -1,
            base_timestamp: base_timestamp_ms,
            max_timestamp: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            control: false,
            count: 0,
            records: BytesMut::new(),
            scratch: BytesMut::new(),
        }
    }

    /// Set the base offset (default 0).
    pub fn base_offset(&mut self, base_offset: i64) -> &mut Self {
        self.base_offset = base_offset;
        self
    }

    /// Set the partition leader epoch (default -1).
    pub fn partition_leader_epoch(&mut self, epoch: i32) -> &mut Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Set idempotent producer fields.
    pub fn producer(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    ) -> &mut Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Mark the batch transactional.
    pub fn transactional(&mut self, transactional: bool) -> &mut Self {
        self.transactional = transactional;
        self
    }

    /// Mark the batch a control batch (transaction markers).
    pub fn control(&mut self, control: bool) -> &mut Self {
        self.control = control;
        self
    }

    /// Number of records pushed so far.
    pub fn len(&self) -> usize {
        usize::try_from(self.count).unwrap_or(0)
    }

    /// True when no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Append a record with timestamp `timestamp_ms`.
    pub fn push(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[RecordHeader],
        timestamp_ms: i64,
    ) -> &mut Self {
        let body = &mut self.scratch;
        body.clear();
        body.put_u8(0);
        put_varlong(body, timestamp_ms.wrapping_sub(self.base_timestamp));
        put_varint(body, self.count);
        put_nullable(body, key);
        put_nullable(body, value);
        put_varint(body, len_i32(headers.len()));
        for h in headers {
            put_nullable(body, Some(h.key.as_bytes()));
            put_nullable(body, h.value.as_deref());
        }
        put_varint(&mut self.records, len_i32(body.len()));
        self.records.put_slice(body);
        self.count += 1;
        self.max_timestamp = self.max_timestamp.max(timestamp_ms);
        self
    }

    /// Append a record, keeping its key, value, headers and timestamp (its
    /// offset is ignored: records get consecutive offsets).
    pub fn push_record(&mut self, record: &Record) -> &mut Self {
        self.push(
            record.key.as_deref(),
            record.value.as_deref(),
            &record.headers,
            record.timestamp,
        )
    }

    /// The encoded batch with its CRC.
    pub fn build(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(BATCH_HEADER_LEN + self.records.len());
        let batch_length =
            len_i32(BATCH_HEADER_LEN - record_batch::LOG_OVERHEAD + self.records.len());
        let mut attributes: i16 = 0;
        if self.transactional {
            attributes |= 0x10;
        }
        if self.control {
            attributes |= 0x20;
        }
        out.put_i64(self.base_offset);
        out.put_i32(batch_length);
        out.put_i32(self.partition_leader_epoch);
        out.put_i8(record_batch::MAGIC_V2);
        out.put_u32(0); // CRC, filled below
        out.put_i16(attributes);
        out.put_i32(self.count - 1);
        out.put_i64(self.base_timestamp);
        out.put_i64(if self.count == 0 {
            self.base_timestamp
        } else {
            self.max_timestamp
        });
        out.put_i64(self.producer_id);
        out.put_i16(self.producer_epoch);
        out.put_i32(self.base_sequence);
        out.put_i32(self.count);
        out.put_slice(&self.records);
        record_batch::rewrite_crc(&mut out);
        debug_assert!(record_batch::check_batch(&out).is_ok());
        out.freeze()
    }
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on purpose"
)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip() {
        for v in [0i32, 1, -1, 63, -64, 64, 300, i32::MAX, i32::MIN] {
            let mut b = BytesMut::new();
            put_varint(&mut b, v);
            let mut r = Reader { buf: &b, pos: 0 };
            assert_eq!(r.varint().unwrap(), v);
            assert_eq!(r.remaining(), 0);
        }
        for v in [0i64, -1, i64::MAX, i64::MIN, 1 << 40] {
            let mut b = BytesMut::new();
            put_varlong(&mut b, v);
            let mut r = Reader { buf: &b, pos: 0 };
            assert_eq!(r.varlong().unwrap(), v);
        }
        let mut r = Reader {
            buf: &[0xff; 6],
            pos: 0,
        };
        assert_eq!(r.varint(), Err(RecordError::MalformedVarint));
    }

    /// Two records, hand-encoded from the format table in the module docs.
    const GOLDEN: [u8; 82] = [
        0, 0, 0, 0, 0, 0, 0, 0, // baseOffset 0
        0, 0, 0, 0x46, // batchLength 70
        0xff, 0xff, 0xff, 0xff, // partitionLeaderEpoch -1
        2,    // magic
        0x00, 0x00, 0x00, 0x00, // crc (patched by the test from GOLDEN_CRC)
        0, 0, // attributes
        0, 0, 0, 1, // lastOffsetDelta 1
        0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // baseTimestamp 1_700_000_000_000
        0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x05, // maxTimestamp +5
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // producerId -1
        0xff, 0xff, // producerEpoch -1
        0xff, 0xff, 0xff, 0xff, // baseSequence -1
        0, 0, 0, 2, // recordsCount 2
        // record 0: length 8, attrs, tsDelta 0, offsetDelta 0, key "a", value "b", 0 headers
        0x10, 0x00, 0x00, 0x00, 0x02, b'a', 0x02, b'b', 0x00,
        // record 1: length 11, attrs, tsDelta 5, offsetDelta 1, null key, value "b",
        // 1 header h=v
        0x16, 0x00, 0x0a, 0x02, 0x01, 0x02, b'b', 0x02, 0x02, b'h', 0x02, b'v',
    ];
    const GOLDEN_CRC: u32 = 0xfc18_e00c;

    fn golden() -> Vec<u8> {
        let mut g = GOLDEN.to_vec();
        g[17..21].copy_from_slice(&GOLDEN_CRC.to_be_bytes());
        g
    }

    fn golden_records() -> Vec<Record> {
        vec![
            Record {
                offset: 0,
                timestamp: 1_700_000_000_000,
                key: Some(Bytes::from_static(b"a")),
                value: Some(Bytes::from_static(b"b")),
                headers: vec![],
            },
            Record {
                offset: 1,
                timestamp: 1_700_000_000_005,
                key: None,
                value: Some(Bytes::from_static(b"b")),
                headers: vec![RecordHeader {
                    key: "h".into(),
                    value: Some(Bytes::from_static(b"v")),
                }],
            },
        ]
    }

    #[test]
    fn golden_crc_matches_crc32c() {
        assert_eq!(crc32c::crc32c(&GOLDEN[21..]), GOLDEN_CRC);
    }

    #[test]
    fn golden_decodes() {
        let bytes = Bytes::from(golden());
        let (header, records) = decode_batch_records(&bytes).unwrap();
        assert_eq!(header.records_count, 2);
        assert_eq!(header.crc, GOLDEN_CRC);
        assert_eq!(records, golden_records());
        assert_eq!(
            record_batch::validate_record_set(&bytes).unwrap(),
            vec![header]
        );
    }

    #[test]
    fn builder_matches_golden() {
        let mut b = BatchBuilder::new(1_700_000_000_000);
        for r in golden_records() {
            b.push_record(&r);
        }
        assert_eq!(&b.build()[..], &golden()[..]);
    }

    #[test]
    fn hostile_counts_do_not_allocate() {
        let mut g = golden();
        g[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        record_batch::rewrite_crc(&mut g);
        let err = decode_batch_records(&Bytes::from(g)).unwrap_err();
        assert!(
            matches!(err, BatchError::RecordCountMismatch { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn every_codec_decodes_and_validates() {
        let g = Bytes::from(golden());
        let (_, want) = decode_batch_records(&g).unwrap();
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
            Compression::None,
        ] {
            let packed = recompress_batch(&g, codec).unwrap();
            let (h, got) = decode_batch_records(&packed).unwrap();
            assert_eq!(h.compression(), codec);
            assert_eq!(got, want, "{codec:?}");
            assert!(
                record_batch::validate_record_set(&packed).is_ok(),
                "{codec:?}"
            );
        }
    }

    #[test]
    fn compressed_flag_on_plain_records_is_corrupt() {
        let mut g = golden();
        g[22] |= 4;
        record_batch::rewrite_crc(&mut g);
        let g = Bytes::from(g);
        assert!(matches!(
            decode_batch_records(&g),
            Err(BatchError::Decompression(_))
        ));
        assert!(matches!(
            record_batch::validate_record_set(&g),
            Err(BatchError::Decompression(_))
        ));
    }

    mod prop {
        use super::super::*;
        use super::golden;
        use proptest::prelude::*;

        /// Key, value, headers, timestamp delta.
        type Raw = (
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Vec<(String, Option<Vec<u8>>)>,
            i64,
        );

        fn arb_record() -> impl Strategy<Value = Raw> {
            (
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
                proptest::collection::vec(
                    (
                        "[a-z]{0,8}",
                        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..10)),
                    ),
                    0..4,
                ),
                -1_000_000i64..1_000_000,
            )
        }

        fn build(base_ts: i64, recs: &[Raw]) -> (Bytes, Vec<Record>) {
            let mut b = BatchBuilder::new(base_ts);
            let mut expected = Vec::new();
            for (i, (k, v, hs, dt)) in recs.iter().enumerate() {
                let headers: Vec<RecordHeader> = hs
                    .iter()
                    .map(|(k, v)| RecordHeader {
                        key: k.clone(),
                        value: v.clone().map(Bytes::from),
                    })
                    .collect();
                b.push(k.as_deref(), v.as_deref(), &headers, base_ts + dt);
                expected.push(Record {
                    offset: i as i64,
                    timestamp: base_ts + dt,
                    key: k.clone().map(Bytes::from),
                    value: v.clone().map(Bytes::from),
                    headers,
                });
            }
            (b.build(), expected)
        }

        proptest! {
            #[test]
            fn builder_decode_round_trip(
                base_ts in 0i64..2_000_000_000_000,
                recs in proptest::collection::vec(arb_record(), 1..20),
            ) {
                let (bytes, expected) = build(base_ts, &recs);
                let headers = record_batch::validate_record_set(&bytes).unwrap();
                prop_assert_eq!(headers.len(), 1);
                let (h, records) = decode_batch_records(&bytes).unwrap();
                prop_assert_eq!(h, headers[0]);
                prop_assert_eq!(h.max_timestamp, expected.iter().map(|r| r.timestamp).max().unwrap());
                prop_assert_eq!(records, expected);
            }

            #[test]
            fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = record_batch::validate_record_set(&bytes);
                let _ = decode_batch_records(&Bytes::from(bytes.clone()));
                for item in record_batch::BatchIter::verified(&bytes) {
                    let _ = item;
                }
            }

            #[test]
            fn random_bytes_after_valid_header_never_panic(
                tail in proptest::collection::vec(any::<u8>(), 0..200),
                count in -2i32..50,
            ) {
                let mut g = golden();
                g.truncate(61);
                g.extend_from_slice(&tail);
                let len = (g.len() - 12) as i32;
                g[8..12].copy_from_slice(&len.to_be_bytes());
                g[57..61].copy_from_slice(&count.to_be_bytes());
                g[23..27].copy_from_slice(&(count - 1).to_be_bytes());
                record_batch::rewrite_crc(&mut g);
                let _ = record_batch::validate_record_set(&g);
                let _ = decode_batch_records(&Bytes::from(g));
            }

            #[test]
            fn corrupting_crc_region_is_detected(
                recs in proptest::collection::vec(arb_record(), 1..5),
                pick in any::<prop::sample::Index>(),
                flip in 1u8..=255,
            ) {
                let (bytes, _) = build(1_000, &recs);
                let mut bad = bytes.to_vec();
                let i = record_batch::CRC_START + pick.index(bad.len() - record_batch::CRC_START);
                bad[i] ^= flip;
                prop_assert!(record_batch::validate_record_set(&bad).is_err());
                prop_assert!(decode_batch_records(&Bytes::from(bad)).is_err());
            }
        }
    }
}
