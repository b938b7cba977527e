//! Transaction markers: the control batches that commit or abort a
//! producer's transaction in a partition.
//!
//! ## Format (Kafka's `EndTransactionMarker`)
//!
//! A control batch has the transactional (0x10) and control (0x20)
//! attribute bits set, the producer's id and epoch, base sequence -1, and
//! exactly one record:
//!
//! | part | bytes |
//! |---|---|
//! | key | `int16` version 0, `int16` type: 0 = abort, 1 = commit |
//! | value | `int16` version 0, `int32` coordinator epoch |
//!
//! Integers are big-endian. Readers accept longer keys and values (newer
//! versions append fields) and refuse unknown marker types.

use bytes::{BufMut, Bytes, BytesMut};

use crate::record_batch::BatchError;
use crate::records::{BatchBuilder, decode_batch_records};

/// Control record type of an abort marker.
pub const ABORT_TYPE: i16 = 0;
/// Control record type of a commit marker.
pub const COMMIT_TYPE: i16 = 1;

/// One transaction marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    /// Producer whose transaction ends.
    pub producer_id: i64,
    /// The producer epoch the coordinator ended it with.
    pub producer_epoch: i16,
    /// Commit (true) or abort.
    pub commit: bool,
    /// Epoch of the coordinator that wrote it.
    pub coordinator_epoch: i32,
}

/// Why a control batch could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MarkerError {
    /// The batch itself is malformed.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// Not a control batch, not one record, or a short key/value.
    #[error("malformed transaction marker: {0}")]
    Malformed(&'static str),
    /// A control type other than commit or abort.
    #[error("unknown control record type {0}")]
    UnknownType(i16),
}

/// Build the control batch for `marker`, timestamped `now_ms`, base offset 0.
pub fn build_marker_batch(marker: &Marker, now_ms: i64) -> Bytes {
    let mut key = BytesMut::with_capacity(4);
    key.put_i16(0);
    key.put_i16(if marker.commit {
        COMMIT_TYPE
    } else {
        ABORT_TYPE
    });
    let mut value = BytesMut::with_capacity(6);
    value.put_i16(0);
    value.put_i32(marker.coordinator_epoch);
    let mut b = BatchBuilder::new(now_ms);
    b.producer(marker.producer_id, marker.producer_epoch, -1)
        .transactional(true)
        .control(true)
        .push(Some(&key), Some(&value), &[], now_ms);
    b.build()
}

/// Read the marker of one control batch (`batch` holds exactly it).
pub fn decode_marker(batch: &Bytes) -> Result<Marker, MarkerError> {
    let (h, records) = decode_batch_records(batch)?;
    if !h.is_control() {
        return Err(MarkerError::Malformed("not a control batch"));
    }
    let [record] = records.as_slice() else {
        return Err(MarkerError::Malformed("a control batch holds one record"));
    };
    let key = record
        .key
        .as_deref()
        .ok_or(MarkerError::Malformed("no key"))?;
    let kind = match key {
        [_, _, a, b, ..] => i16::from_be_bytes([*a, *b]),
        _ => return Err(MarkerError::Malformed("short key")),
    };
    let commit = match kind {
        COMMIT_TYPE => true,
        ABORT_TYPE => false,
        other => return Err(MarkerError::UnknownType(other)),
    };
    let coordinator_epoch = match record.value.as_deref() {
        Some([_, _, a, b, c, d, ..]) => i32::from_be_bytes([*a, *b, *c, *d]),
        _ => return Err(MarkerError::Malformed("short value")),
    };
    Ok(Marker {
        producer_id: h.producer_id,
        producer_epoch: h.producer_epoch,
        commit,
        coordinator_epoch,
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
mod tests {
    use super::*;
    use crate::record_batch::check_batch;

    #[test]
    fn marker_round_trip_and_golden_record() {
        let m = Marker {
            producer_id: 4000,
            producer_epoch: 3,
            commit: true,
            coordinator_epoch: 7,
        };
        let batch = build_marker_batch(&m, 1_700_000_000_000);
        let h = check_batch(&batch).unwrap();
        assert!(h.is_control() && h.is_transactional());
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (4000, 3, -1)
        );
        assert_eq!(decode_marker(&batch).unwrap(), m);
        // The key and value bytes sit at the end of the single record.
        let tail = &batch[batch.len() - 13..];
        assert_eq!(
            tail,
            &[0x08, 0, 0, 0, 1, 0x0c, 0, 0, 0, 0, 0, 7, 0][..],
            "key len 4 (zigzag 8), key 0000 0001, value len 6 (zigzag 12), value 0000 00000007, no headers"
        );
        let abort = Marker { commit: false, ..m };
        assert_eq!(
            decode_marker(&build_marker_batch(&abort, 1)).unwrap(),
            abort
        );
    }

    #[test]
    fn data_batches_are_not_markers() {
        let mut b = BatchBuilder::new(0);
        b.push(Some(b"k"), Some(b"v"), &[], 0);
        assert!(matches!(
            decode_marker(&b.build()),
            Err(MarkerError::Malformed(_))
        ));
    }
}
