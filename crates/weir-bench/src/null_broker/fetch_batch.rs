//! The one record batch the null broker's Fetch serves, over and over.
//!
//! The batch is built once at start-up with `weir-protocol`'s
//! [`BatchBuilder`]: `records` uncompressed records with no key, a value of
//! `value_bytes` bytes and the start-up time as timestamp, partition leader
//! epoch [`crate::null_broker::LEADER_EPOCH`]. A Fetch at offset `o` gets
//! copies of it whose base offsets are `o`, `o + records`, `o + 2 * records`,
//! ..., so a consumer sees dense, increasing offsets. Rewriting the base
//! offset needs no new CRC: the CRC-32C of a v2 batch starts at
//! `attributes` and leaves the base offset out (see
//! `weir_protocol::record_batch`), which is exactly why a real broker can
//! assign offsets in place too.

use bytes::{Bytes, BytesMut};
use weir_protocol::record_batch::set_base_offset;
use weir_protocol::records::BatchBuilder;

use crate::null_broker::LEADER_EPOCH;

/// Largest pre-built batch. Fetch serves at least one whole copy per
/// partition (KIP-74), so this also bounds a response's size per partition
/// once the byte limits are below it.
pub const FETCH_BATCH_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Why the pre-built batch cannot be built.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum FetchBatchError {
    /// A batch holds at least one record.
    #[error("fetch batch records must be at least 1, not {0}")]
    NoRecords(i32),
    /// The batch would be larger than [`FETCH_BATCH_BYTES_MAX`].
    #[error(
        "a fetch batch of {records} records of {value_bytes} bytes exceeds {FETCH_BATCH_BYTES_MAX} bytes"
    )]
    TooLarge {
        /// Records asked for.
        records: i32,
        /// Value size asked for.
        value_bytes: usize,
    },
}

/// A pre-built batch and how many records it holds.
#[derive(Debug, Clone)]
pub struct FetchBatch {
    batch: Bytes,
    records: i64,
    timestamp_ms: i64,
}

impl FetchBatch {
    /// Build the batch: `records` records with `value_bytes`-byte values,
    /// stamped `timestamp_ms`.
    pub fn new(
        records: i32,
        value_bytes: usize,
        timestamp_ms: i64,
    ) -> Result<FetchBatch, FetchBatchError> {
        if records < 1 {
            return Err(FetchBatchError::NoRecords(records));
        }
        // A record's overhead is a few varints; 32 bytes is a safe upper bound.
        let estimate = usize::try_from(records)
            .ok()
            .and_then(|n| n.checked_mul(value_bytes.saturating_add(32)));
        if estimate.is_none_or(|n| n > FETCH_BATCH_BYTES_MAX) {
            return Err(FetchBatchError::TooLarge {
                records,
                value_bytes,
            });
        }
        // Not all one byte value, so a compressing proxy or a checksum bug
        // cannot hide behind uniform bytes.
        let value: Vec<u8> = (0..value_bytes).map(|i| (i % 251) as u8).collect();
        let mut builder = BatchBuilder::new(timestamp_ms);
        builder.partition_leader_epoch(LEADER_EPOCH);
        for _ in 0..records {
            builder.push(None, Some(&value), &[], timestamp_ms);
        }
        Ok(FetchBatch {
            batch: builder.build(),
            records: i64::from(records),
            timestamp_ms,
        })
    }

    /// Records in one copy.
    pub fn records(&self) -> i64 {
        self.records
    }

    /// Bytes of one copy.
    pub fn len_bytes(&self) -> usize {
        self.batch.len()
    }

    /// The timestamp of every record.
    pub fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms
    }

    /// How many copies a Fetch at `fetch_offset` gets from a partition whose
    /// log end offset is `log_end_offset`, within `limit_bytes`; at least
    /// one when `first_in_response` (KIP-74: the first batch is returned
    /// even when larger than the limits, so a consumer always progresses).
    /// No more copies than needed to reach the log end offset.
    pub fn copies_for(
        &self,
        fetch_offset: i64,
        log_end_offset: i64,
        limit_bytes: usize,
        first_in_response: bool,
    ) -> usize {
        let available = log_end_offset.saturating_sub(fetch_offset);
        if available <= 0 {
            return 0;
        }
        let needed =
            usize::try_from((available + self.records - 1) / self.records).unwrap_or(usize::MAX);
        let fit = limit_bytes / self.batch.len().max(1);
        let fit = if first_in_response { fit.max(1) } else { fit };
        needed.min(fit)
    }

    /// `copies` copies back to back, the first at base offset
    /// `first_offset`, each next one `records` later. CRCs stay valid.
    pub fn copies(&self, first_offset: i64, copies: usize) -> Bytes {
        let len = self.batch.len();
        let mut out = BytesMut::with_capacity(len.saturating_mul(copies));
        let mut base_offset = first_offset;
        for _ in 0..copies {
            let start = out.len();
            out.extend_from_slice(&self.batch);
            if let Some(copy) = out.get_mut(start..) {
                set_base_offset(copy, base_offset);
            }
            base_offset = base_offset.saturating_add(self.records);
        }
        debug_assert_eq!(out.len(), len * copies);
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
    use weir_protocol::record_batch::{BatchHeader, BatchIter, check_batch, validate_record_set};
    use weir_protocol::records::decode_batch_records;

    use super::*;

    #[test]
    fn base_offset_is_rewritten_and_crc_stays_valid() {
        let fb = FetchBatch::new(10, 100, 1_700_000_000_000).unwrap();
        let bytes = fb.copies(12_345, 1);
        let header = check_batch(&bytes).unwrap();
        assert_eq!(header.base_offset, 12_345);
        assert_eq!(header.records_count, 10);
        assert_eq!(header.partition_leader_epoch, LEADER_EPOCH);
        // The validator a broker runs on Produce accepts it whole: CRC,
        // record count, every record.
        let headers = validate_record_set(&bytes).unwrap();
        assert_eq!(headers.len(), 1);
        let (_, records) = decode_batch_records(&bytes).unwrap();
        let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, (12_345..12_355).collect::<Vec<_>>());
        assert!(
            records
                .iter()
                .all(|r| r.value.as_ref().unwrap().len() == 100)
        );
    }

    #[test]
    fn copies_have_increasing_offsets_and_valid_crcs() {
        let fb = FetchBatch::new(7, 33, 0).unwrap();
        let bytes = fb.copies(100, 5);
        assert_eq!(bytes.len(), 5 * fb.len_bytes());
        let headers: Vec<BatchHeader> = BatchIter::verified(&bytes).map(|r| r.unwrap().1).collect();
        let bases: Vec<i64> = headers.iter().map(|h| h.base_offset).collect();
        assert_eq!(bases, vec![100, 107, 114, 121, 128]);
        validate_record_set(&bytes).unwrap();
        // Only the base offset differs between copies: the CRC is the same.
        assert!(headers.iter().all(|h| h.crc == headers[0].crc));
    }

    #[test]
    fn copies_respect_limits_and_log_end() {
        let fb = FetchBatch::new(10, 100, 0).unwrap();
        let one = fb.len_bytes();
        // Limited by bytes.
        assert_eq!(fb.copies_for(0, 1_000, 3 * one + 1, false), 3);
        // Limited by the log end offset: 25 records need 3 copies of 10.
        assert_eq!(fb.copies_for(0, 25, 100 * one, false), 3);
        // Nothing at or past the log end.
        assert_eq!(fb.copies_for(25, 25, 100 * one, true), 0);
        // KIP-74: the first partition gets one copy even over the limit.
        assert_eq!(fb.copies_for(0, 1_000, 1, true), 1);
        assert_eq!(fb.copies_for(0, 1_000, 1, false), 0);
    }

    #[test]
    fn refuses_empty_and_oversized_batches() {
        assert_eq!(
            FetchBatch::new(0, 10, 0).unwrap_err(),
            FetchBatchError::NoRecords(0)
        );
        assert!(matches!(
            FetchBatch::new(1_000_000, 1_000, 0),
            Err(FetchBatchError::TooLarge { .. })
        ));
    }
}
