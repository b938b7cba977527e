//! A view over Kafka record batches, format v2 (magic 2).
//!
//! A record batch is the unit that producers send, that the log stores and
//! that Fetch serves. Weir stores batches exactly as received; the only bytes
//! the broker ever changes are the base offset, the partition leader epoch
//! and, when the topic uses `LogAppendTime`, the timestamp type bit and the
//! max timestamp (see [`set_log_append_time`], which recomputes the CRC).
//!
//! ## Format
//!
//! All integers are big-endian. Positions are from the start of the batch.
//!
//! | pos | size | field                  | notes                                                   |
//! |----:|-----:|------------------------|---------------------------------------------------------|
//! |   0 |    8 | `baseOffset`           | offset of the first record; assigned by the broker      |
//! |   8 |    4 | `batchLength`          | bytes **after** this field (total = 12 + batchLength)   |
//! |  12 |    4 | `partitionLeaderEpoch` | assigned by the broker                                  |
//! |  16 |    1 | `magic`                | always 2                                                |
//! |  17 |    4 | `crc`                  | CRC-32C (Castagnoli) of bytes 21 .. end (unsigned)     |
//! |  21 |    2 | `attributes`           | bits 0-2 compression, 3 timestamp type, 4 transactional, 5 control |
//! |  23 |    4 | `lastOffsetDelta`      | offset of the last record minus `baseOffset`            |
//! |  27 |    8 | `baseTimestamp`        | timestamp of the first record (ms)                      |
//! |  35 |    8 | `maxTimestamp`         | largest record timestamp, or the LogAppendTime          |
//! |  43 |    8 | `producerId`           | -1 when not idempotent                                  |
//! |  51 |    2 | `producerEpoch`        | -1 when not idempotent                                  |
//! |  53 |    4 | `baseSequence`         | -1 when not idempotent                                  |
//! |  57 |    4 | `recordsCount`         | number of records that follow                           |
//! |  61 |    … | records                | see [`crate::records`]; compressed as a whole if bits 0-2 ≠ 0 |
//!
//! Compression codes: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd; 5-7 are invalid.
//! Timestamp type: 0 CreateTime, 1 LogAppendTime.
//!
//! ## Why the CRC skips the first 21 bytes
//!
//! The CRC covers everything from `attributes` to the end, and deliberately
//! leaves out `baseOffset`, `batchLength`, `partitionLeaderEpoch` and `magic`
//! (the CRC field itself obviously too). The first three are exactly what a
//! broker rewrites when it appends a producer's batch: the offsets are only
//! known once the leader assigns them, and the leader epoch is stamped by
//! whichever replica leads at the time. Keeping them outside the CRC lets the
//! broker assign them in place without recomputing a checksum over the whole
//! batch, and lets the producer's CRC protect the payload end to end, from the
//! producer's memory to every consumer. `batchLength` is checked structurally
//! instead (it must match the bytes that follow), and `magic` must be read
//! before we even know which CRC algorithm applies (v0/v1 used CRC-32 over a
//! different range). LogAppendTime is the one broker-side change inside the
//! CRC'd range, so it forces a CRC recomputation (Kafka does the same).
//!
//! ## Invariants
//!
//! * A [`BatchHeader`] returned by [`BatchHeader::parse`] has `magic == 2`,
//!   `batch_length >= 49` (a header with zero records) and a valid
//!   compression codec; nothing is said about the CRC or whether the whole
//!   batch is present. [`validate_record_set`] and [`BatchIter::verified`]
//!   check the rest.
//! * Nothing here panics on any input bytes; arithmetic on wire values wraps
//!   or is checked. The `set_*` functions panic only when handed a slice
//!   shorter than a header, which is a caller bug (they run on validated
//!   batches).

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use crate::records;

/// Size of the fixed batch header, from `baseOffset` through `recordsCount`.
pub const BATCH_HEADER_LEN: usize = 61;
/// Bytes before `batchLength` counts: `baseOffset` (8) + `batchLength` (4).
pub const LOG_OVERHEAD: usize = 12;
/// The only batch format Weir accepts.
pub const MAGIC_V2: i8 = 2;
/// Smallest legal `batchLength`: a header with no records.
pub const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32;

const BASE_OFFSET_POS: usize = 0;
const LENGTH_POS: usize = 8;
const PARTITION_LEADER_EPOCH_POS: usize = 12;
const MAGIC_POS: usize = 16;
const CRC_POS: usize = 17;
/// First byte covered by the CRC.
pub const CRC_START: usize = 21;
const ATTRIBUTES_POS: usize = 21;
const LAST_OFFSET_DELTA_POS: usize = 23;
const BASE_TIMESTAMP_POS: usize = 27;
const MAX_TIMESTAMP_POS: usize = 35;
const PRODUCER_ID_POS: usize = 43;
const PRODUCER_EPOCH_POS: usize = 51;
const BASE_SEQUENCE_POS: usize = 53;
const RECORDS_COUNT_POS: usize = 57;

const _: () = assert!(RECORDS_COUNT_POS + 4 == BATCH_HEADER_LEN);
const _: () = assert!(LENGTH_POS + 4 == LOG_OVERHEAD);
const _: () = assert!(CRC_POS + 4 == CRC_START);

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;

/// Errors found while checking a record batch or the records in it.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// Fewer bytes than a field or the declared batch length needs.
    #[error("truncated batch: need {needed} bytes, {available} available")]
    Truncated {
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// `magic` is not 2 (v0/v1 message sets are not supported).
    #[error("unsupported record batch magic {0}")]
    InvalidMagic(i8),
    /// The stored CRC does not match the bytes.
    #[error("record batch CRC mismatch: stored {expected:#010x}, computed {actual:#010x}")]
    CorruptCrc {
        /// CRC stored in the batch.
        expected: u32,
        /// CRC computed over the bytes.
        actual: u32,
    },
    /// `batchLength` is smaller than a header.
    #[error("invalid record batch length {0}")]
    InvalidLength(i32),
    /// `recordsCount` is negative or disagrees with `lastOffsetDelta`.
    #[error("invalid record count {records_count} (last offset delta {last_offset_delta})")]
    InvalidRecordCount {
        /// `recordsCount` field.
        records_count: i32,
        /// `lastOffsetDelta` field.
        last_offset_delta: i32,
    },
    /// Compression bits hold 5, 6 or 7.
    #[error("invalid compression codec {0}")]
    InvalidCompression(u8),
    /// The batch is compressed and this code cannot decompress it yet.
    #[error("compression {0:?} is not supported yet")]
    CompressionUnsupported(Compression),
    /// A record set with no batch at all.
    #[error("empty record set")]
    EmptyRecordSet,
    /// A record inside the batch is malformed.
    #[error("record {index}: {kind}")]
    InvalidRecord {
        /// Zero-based index of the record in its batch.
        index: i32,
        /// What is wrong with it.
        kind: RecordError,
    },
    /// The batch holds more or fewer records than `recordsCount` says.
    #[error("batch declares {declared} records but holds {actual}")]
    RecordCountMismatch {
        /// `recordsCount`.
        declared: i32,
        /// Records actually decoded before the bytes ran out.
        actual: i32,
    },
    /// The compressed records could not be decompressed.
    #[error("compressed records: {0}")]
    Decompression(#[from] crate::compression::CompressionError),
    /// Bytes left in the batch after its last declared record.
    #[error("{0} bytes after the last record of the batch")]
    TrailingBytes(usize),
}

/// What is wrong with one record (see [`BatchError::InvalidRecord`]).
#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// The record ends before its fields do.
    #[error("truncated")]
    Truncated,
    /// A varint longer than its type allows.
    #[error("malformed varint")]
    MalformedVarint,
    /// Negative or too-large record length.
    #[error("invalid record length {0}")]
    InvalidLength(i32),
    /// The fields do not add up to the declared record length.
    #[error("record length {declared} but fields use {actual} bytes")]
    LengthMismatch {
        /// Declared length.
        declared: i32,
        /// Bytes used by the fields.
        actual: usize,
    },
    /// `offsetDelta` is not the record's index in the batch.
    #[error("offset delta {0} is not sequential")]
    NonSequentialOffset(i32),
    /// Negative header count.
    #[error("invalid header count {0}")]
    InvalidHeaderCount(i32),
    /// Negative header key length.
    #[error("invalid header key length {0}")]
    InvalidHeaderKeyLength(i32),
}

/// Compression codec of a batch (attribute bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// 0: records stored as is.
    None,
    /// 1: gzip.
    Gzip,
    /// 2: snappy (xerial framing).
    Snappy,
    /// 3: lz4 (frame format).
    Lz4,
    /// 4: zstd.
    Zstd,
}

impl Compression {
    /// Decode attribute bits 0-2.
    pub fn from_bits(bits: u8) -> Result<Compression, BatchError> {
        match bits {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(BatchError::InvalidCompression(other)),
        }
    }

    /// The attribute bits for this codec.
    pub fn bits(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }
}

/// Meaning of record timestamps (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// Set by the producer.
    CreateTime,
    /// Set by the broker on append; every record's timestamp is `maxTimestamp`.
    LogAppendTime,
}

/// The fixed 61-byte header of a v2 record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the `batchLength` field.
    pub batch_length: i32,
    /// Leader epoch of the leader that appended the batch.
    pub partition_leader_epoch: i32,
    /// Format version, always 2.
    pub magic: i8,
    /// CRC-32C over attributes .. end.
    pub crc: u32,
    /// Compression, timestamp type, transactional and control bits.
    pub attributes: i16,
    /// Last record's offset minus `base_offset`.
    pub last_offset_delta: i32,
    /// First record's timestamp (ms).
    pub base_timestamp: i64,
    /// Largest timestamp in the batch, or the LogAppendTime (ms).
    pub max_timestamp: i64,
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence of the first record, or -1.
    pub base_sequence: i32,
    /// Number of records.
    pub records_count: i32,
}

fn read_array<const N: usize>(buf: &[u8], pos: usize) -> Result<[u8; N], BatchError> {
    buf.get(pos..pos + N)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or(BatchError::Truncated {
            needed: pos + N,
            available: buf.len(),
        })
}

fn be_i64(buf: &[u8], pos: usize) -> Result<i64, BatchError> {
    read_array::<8>(buf, pos).map(i64::from_be_bytes)
}
fn be_i32(buf: &[u8], pos: usize) -> Result<i32, BatchError> {
    read_array::<4>(buf, pos).map(i32::from_be_bytes)
}
fn be_u32(buf: &[u8], pos: usize) -> Result<u32, BatchError> {
    read_array::<4>(buf, pos).map(u32::from_be_bytes)
}
fn be_i16(buf: &[u8], pos: usize) -> Result<i16, BatchError> {
    read_array::<2>(buf, pos).map(i16::from_be_bytes)
}

impl BatchHeader {
    /// Parse the header at the start of `buf`.
    ///
    /// Checks magic, that `batchLength` covers at least a header and the
    /// compression codec; does not check the CRC or that `buf` holds the
    /// whole batch.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, BatchError> {
        if buf.len() < BATCH_HEADER_LEN {
            // Report a wrong magic before a short buffer when we can see it:
            // it is the more useful error for a v0/v1 message set.
            if let Some(&m) = buf.get(MAGIC_POS) {
                let magic = m as i8;
                if magic != MAGIC_V2 {
                    return Err(BatchError::InvalidMagic(magic));
                }
            }
            return Err(BatchError::Truncated {
                needed: BATCH_HEADER_LEN,
                available: buf.len(),
            });
        }
        let magic = read_array::<1>(buf, MAGIC_POS)?[0] as i8;
        if magic != MAGIC_V2 {
            return Err(BatchError::InvalidMagic(magic));
        }
        let batch_length = be_i32(buf, LENGTH_POS)?;
        if batch_length < MIN_BATCH_LENGTH {
            return Err(BatchError::InvalidLength(batch_length));
        }
        let attributes = be_i16(buf, ATTRIBUTES_POS)?;
        Compression::from_bits((attributes & COMPRESSION_MASK) as u8)?;
        Ok(BatchHeader {
            base_offset: be_i64(buf, BASE_OFFSET_POS)?,
            batch_length,
            partition_leader_epoch: be_i32(buf, PARTITION_LEADER_EPOCH_POS)?,
            magic,
            crc: be_u32(buf, CRC_POS)?,
            attributes,
            last_offset_delta: be_i32(buf, LAST_OFFSET_DELTA_POS)?,
            base_timestamp: be_i64(buf, BASE_TIMESTAMP_POS)?,
            max_timestamp: be_i64(buf, MAX_TIMESTAMP_POS)?,
            producer_id: be_i64(buf, PRODUCER_ID_POS)?,
            producer_epoch: be_i16(buf, PRODUCER_EPOCH_POS)?,
            base_sequence: be_i32(buf, BASE_SEQUENCE_POS)?,
            records_count: be_i32(buf, RECORDS_COUNT_POS)?,
        })
    }

    /// Whole size of the batch in bytes: 12 + `batch_length`.
    pub fn total_len(&self) -> usize {
        // batch_length >= MIN_BATCH_LENGTH > 0 for parsed headers.
        LOG_OVERHEAD + usize::try_from(self.batch_length).unwrap_or(0)
    }

    /// Offset of the last record (`base_offset + last_offset_delta`).
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// Offset that follows this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// Compression codec. Parsed headers always hold a valid codec; an
    /// invalid one (only possible for hand-built headers) reads as `None`.
    pub fn compression(&self) -> Compression {
        Compression::from_bits((self.attributes & COMPRESSION_MASK) as u8)
            .unwrap_or(Compression::None)
    }

    /// Part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// A control batch (transaction markers).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// CreateTime or LogAppendTime.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// True when the producer id is set (idempotent or transactional).
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }
}

/// CRC-32C over the CRC'd range of a whole batch (`batch` must be exactly
/// one batch, at least [`BATCH_HEADER_LEN`] long).
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(CRC_START..).unwrap_or(&[]))
}

/// Check one whole batch at the start of `buf`: header, length within `buf`,
/// CRC. Returns the header; the batch is `buf[..header.total_len()]`.
pub fn check_batch(buf: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(buf)?;
    let total = header.total_len();
    let batch = buf.get(..total).ok_or(BatchError::Truncated {
        needed: total,
        available: buf.len(),
    })?;
    let actual = compute_crc(batch);
    if actual != header.crc {
        return Err(BatchError::CorruptCrc {
            expected: header.crc,
            actual,
        });
    }
    Ok(header)
}

/// Validate a record set as sent by a producer.
///
/// The set must be one or more whole batches, each magic 2, length within the
/// buffer and at least a header, CRC-32C correct, `recordsCount >= 1` and
/// equal to `lastOffsetDelta + 1` (producers write dense offsets; an empty
/// batch would take no offsets and is never sent by a producer), with no
/// trailing partial batch. The records are parsed too (compressed ones after
/// decompressing them, at most
/// [`crate::compression::DECOMPRESSED_BATCH_BYTES_MAX`]) and their count and
/// offset deltas checked, as Kafka's `LogValidator` does; the stored bytes
/// stay exactly as received. Returns the headers in order.
pub fn validate_record_set(buf: &[u8]) -> Result<Vec<BatchHeader>, BatchError> {
    if buf.is_empty() {
        return Err(BatchError::EmptyRecordSet);
    }
    let mut headers = Vec::new();
    let mut pos = 0usize;
    while let Some(rest) = buf.get(pos..) {
        if rest.is_empty() {
            break;
        }
        let header = check_batch(rest)?;
        if header.records_count < 1
            || i64::from(header.last_offset_delta) != i64::from(header.records_count) - 1
        {
            return Err(BatchError::InvalidRecordCount {
                records_count: header.records_count,
                last_offset_delta: header.last_offset_delta,
            });
        }
        let total = header.total_len();
        let batch = rest.get(..total).ok_or(BatchError::Truncated {
            needed: total,
            available: rest.len(),
        })?;
        if header.compression() == Compression::None {
            records::check_records(&header, batch)?;
        } else {
            let plain = records::decompressed_batch(&header, batch)?;
            records::check_records(&header, &plain)?;
        }
        headers.push(header);
        pos += total;
    }
    Ok(headers)
}

/// Iterates whole batches in a byte slice (recovery, fetch trimming).
///
/// Yields `(position, header)` for each batch, where `position` is the byte
/// position of the batch in the slice. Iteration ends with `None` at the
/// exact end of the slice; a torn or corrupt batch yields one `Err` and then
/// `None`. [`BatchIter::valid_len`] is then the end of the last good batch,
/// which is where a recovering log truncates.
///
/// [`BatchIter::new`] checks the header structure only (cheap, for data the
/// log already validated); [`BatchIter::verified`] also checks each CRC.
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    verify_crc: bool,
    done: bool,
}

impl<'a> BatchIter<'a> {
    /// Structural checks only (header, length within the slice).
    pub fn new(buf: &'a [u8]) -> BatchIter<'a> {
        BatchIter {
            buf,
            pos: 0,
            verify_crc: false,
            done: false,
        }
    }

    /// Structural checks plus CRC-32C of every batch.
    pub fn verified(buf: &'a [u8]) -> BatchIter<'a> {
        BatchIter {
            verify_crc: true,
            ..BatchIter::new(buf)
        }
    }

    /// End of the last whole, good batch yielded so far.
    pub fn valid_len(&self) -> usize {
        self.pos
    }
}

impl Iterator for BatchIter<'_> {
    type Item = Result<(usize, BatchHeader), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let checked = if self.verify_crc {
            check_batch(rest)
        } else {
            BatchHeader::parse(rest).and_then(|h| {
                if h.total_len() > rest.len() {
                    Err(BatchError::Truncated {
                        needed: h.total_len(),
                        available: rest.len(),
                    })
                } else {
                    Ok(h)
                }
            })
        };
        match checked {
            Ok(header) => {
                let position = self.pos;
                self.pos += header.total_len();
                Some(Ok((position, header)))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn put(batch: &mut [u8], pos: usize, bytes: &[u8]) {
    let len = batch.len();
    match batch.get_mut(pos..pos + bytes.len()) {
        Some(dst) => dst.copy_from_slice(bytes),
        None => panic!("record batch of {len} bytes is shorter than its header"),
    }
}

/// Overwrite the base offset (outside the CRC, so no recomputation).
///
/// # Panics
/// If `batch` is shorter than a batch header.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    put(batch, BASE_OFFSET_POS, &base_offset.to_be_bytes());
}

/// Overwrite the partition leader epoch (outside the CRC).
///
/// # Panics
/// If `batch` is shorter than a batch header.
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    put(batch, PARTITION_LEADER_EPOCH_POS, &epoch.to_be_bytes());
}

/// Stamp LogAppendTime: set the timestamp-type bit, set `maxTimestamp` to
/// `timestamp_ms` and recompute the CRC (Kafka semantics: `baseTimestamp`
/// and the record deltas are left alone; readers use `maxTimestamp` for
/// every record of a LogAppendTime batch).
///
/// # Panics
/// If `batch` is shorter than a batch header.
pub fn set_log_append_time(batch: &mut [u8], timestamp_ms: i64) {
    let attributes = be_i16(batch, ATTRIBUTES_POS)
        .unwrap_or_else(|_| panic!("record batch shorter than its header"));
    put(
        batch,
        ATTRIBUTES_POS,
        &(attributes | TIMESTAMP_TYPE_BIT).to_be_bytes(),
    );
    put(batch, MAX_TIMESTAMP_POS, &timestamp_ms.to_be_bytes());
    let crc = compute_crc(batch);
    put(batch, CRC_POS, &crc.to_be_bytes());
}

/// Overwrite the CRC with one computed over the bytes (used by builders).
///
/// # Panics
/// If `batch` is shorter than a batch header.
pub fn rewrite_crc(batch: &mut [u8]) {
    let crc = compute_crc(batch);
    put(batch, CRC_POS, &crc.to_be_bytes());
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on purpose"
)]
mod tests {
    use super::*;
    use crate::records::BatchBuilder;

    fn sample() -> Vec<u8> {
        let mut b = BatchBuilder::new(1_000);
        b.push(Some(b"k"), Some(b"v"), &[], 1_000);
        b.push(None, Some(b"w"), &[], 1_005);
        b.build().to_vec()
    }

    #[test]
    fn parse_sample() {
        let bytes = sample();
        let h = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(h.magic, 2);
        assert_eq!(h.records_count, 2);
        assert_eq!(h.last_offset_delta, 1);
        assert_eq!(h.total_len(), bytes.len());
        assert_eq!(h.max_timestamp, 1_005);
        assert_eq!(h.compression(), Compression::None);
        assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
        assert!(!h.is_transactional() && !h.is_control());
        assert_eq!(validate_record_set(&bytes).unwrap(), vec![h]);
    }

    #[test]
    fn offset_and_epoch_outside_crc() {
        let mut bytes = sample();
        set_base_offset(&mut bytes, 42);
        set_partition_leader_epoch(&mut bytes, 7);
        let h = validate_record_set(&bytes).unwrap()[0];
        assert_eq!(h.base_offset, 42);
        assert_eq!(h.last_offset(), 43);
        assert_eq!(h.partition_leader_epoch, 7);
    }

    #[test]
    fn log_append_time_recomputes_crc() {
        let mut bytes = sample();
        set_log_append_time(&mut bytes, 99_999);
        let h = validate_record_set(&bytes).unwrap()[0];
        assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(h.max_timestamp, 99_999);
        assert_eq!(h.base_timestamp, 1_000);
    }

    #[test]
    fn errors() {
        let bytes = sample();
        assert_eq!(validate_record_set(&[]), Err(BatchError::EmptyRecordSet));
        assert!(matches!(
            validate_record_set(&bytes[..bytes.len() - 1]),
            Err(BatchError::Truncated { .. })
        ));
        let mut m = bytes.clone();
        m[16] = 1;
        assert_eq!(validate_record_set(&m), Err(BatchError::InvalidMagic(1)));
        let mut c = bytes.clone();
        c[30] ^= 1;
        assert!(matches!(
            validate_record_set(&c),
            Err(BatchError::CorruptCrc { .. })
        ));
        let mut z = bytes.clone();
        z[22] |= 5;
        assert_eq!(
            validate_record_set(&z),
            Err(BatchError::InvalidCompression(5))
        );
        let mut l = bytes.clone();
        l[8..12].copy_from_slice(&10i32.to_be_bytes());
        assert_eq!(validate_record_set(&l), Err(BatchError::InvalidLength(10)));
        // Two batches plus a partial third.
        let mut two = bytes.clone();
        two.extend_from_slice(&bytes);
        assert_eq!(validate_record_set(&two).unwrap().len(), 2);
        two.extend_from_slice(&bytes[..20]);
        assert!(matches!(
            validate_record_set(&two),
            Err(BatchError::Truncated { .. })
        ));
    }

    #[test]
    fn iter_stops_at_torn_tail() {
        let one = sample();
        let mut buf = one.clone();
        buf.extend_from_slice(&one);
        buf.extend_from_slice(&one[..30]);
        let mut it = BatchIter::verified(&buf);
        assert_eq!(it.next().unwrap().unwrap().0, 0);
        assert_eq!(it.next().unwrap().unwrap().0, one.len());
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
        assert_eq!(it.valid_len(), 2 * one.len());
    }
}
