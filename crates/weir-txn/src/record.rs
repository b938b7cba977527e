//! Records of `__transaction_state`, in Kafka's own schemas
//! (`TransactionLogKey` / `TransactionLogValue`), so Kafka tooling
//! (`kafka-dump-log --transaction-log-decoder`) reads them.
//!
//! ## Format
//!
//! Integers are big-endian; classic strings have an `int16` length, classic
//! arrays an `int32` count (-1 = null).
//!
//! Key: `int16` version 0, transactional id (classic string).
//!
//! Value v0 (written): `int16` version 0, producer id `int64`, producer epoch
//! `int16`, transaction timeout ms `int32`, status `int8`, partitions
//! (nullable array of { topic string, partition ids array of `int32` }),
//! last update timestamp `int64`, start timestamp `int64`.
//!
//! Value v1 (read only; Kafka 4 writes it with KIP-890): the same fields in
//! the flexible encoding (compact strings and arrays with unsigned-varint
//! length + 1, a tagged-field section after each partitions element and at
//! the end). Tagged fields (previous/next producer id, client transaction
//! version) are skipped.
//!
//! Status: Empty 0, Ongoing 1, PrepareCommit 2, PrepareAbort 3,
//! CompleteCommit 4, CompleteAbort 5, Dead 6, PrepareEpochFence 7.
//! A null value (tombstone) removes the transactional id.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::{Bytes, BytesMut};
use weir_protocol::codec::{
    read_array, read_i8, read_i16, read_i32, read_i64, read_nullable_array, read_string,
    read_tagged_data, read_unsigned_varint, write_array_len, write_i8, write_i16, write_i32,
    write_i64, write_null_array, write_string,
};
use weir_protocol::error::{DecodeError, EncodeError};

use crate::state::TxnState;

/// Key version written.
pub const KEY_VERSION: i16 = 0;
/// Value version written.
pub const VALUE_VERSION: i16 = 0;

/// Why a record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The bytes are malformed.
    #[error("malformed transaction record: {0}")]
    Decode(#[from] DecodeError),
    /// A field cannot be encoded (too long).
    #[error("transaction record not encodable: {0}")]
    Encode(#[from] EncodeError),
    /// A key or value version this reader does not know.
    #[error("unknown transaction record {what} version {version}")]
    UnknownVersion {
        /// Which part.
        what: &'static str,
        /// The version read.
        version: i16,
    },
    /// A status byte outside 0..=7.
    #[error("unknown transaction status {0}")]
    UnknownStatus(i8),
    /// A record without a key.
    #[error("transaction record has no key")]
    MissingKey,
}

/// The value of one transactional id (`TransactionLogValue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnLogValue {
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// `transaction.timeout.ms`.
    pub timeout_ms: i32,
    /// State.
    pub state: TxnState,
    /// Partitions in the transaction, by topic.
    pub partitions: Vec<(String, Vec<i32>)>,
    /// Last update time.
    pub last_update_ms: i64,
    /// When the transaction started (-1: none).
    pub start_ms: i64,
}

/// One `__transaction_state` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnRecord {
    /// The transactional id (the key).
    pub transactional_id: String,
    /// Its state; `None` removes the id.
    pub value: Option<TxnLogValue>,
}

impl TxnRecord {
    /// Encode as (key, value) bytes.
    pub fn encode(&self) -> Result<(Bytes, Option<Bytes>), RecordError> {
        let mut key = BytesMut::new();
        write_i16(&mut key, KEY_VERSION);
        write_string(&mut key, &self.transactional_id, false)?;
        let value = match &self.value {
            None => None,
            Some(v) => Some(encode_value(v)?.freeze()),
        };
        Ok((key.freeze(), value))
    }

    /// Decode a record; never panics on arbitrary bytes.
    pub fn decode(key: Option<&Bytes>, value: Option<&Bytes>) -> Result<TxnRecord, RecordError> {
        let mut k = key.ok_or(RecordError::MissingKey)?.clone();
        let version = read_i16(&mut k)?;
        if version != KEY_VERSION {
            return Err(RecordError::UnknownVersion {
                what: "key",
                version,
            });
        }
        let transactional_id = read_string(&mut k, false)?;
        let value = match value {
            None => None,
            Some(v) => Some(decode_value(&mut v.clone())?),
        };
        Ok(TxnRecord {
            transactional_id,
            value,
        })
    }
}

fn encode_value(v: &TxnLogValue) -> Result<BytesMut, RecordError> {
    let mut b = BytesMut::new();
    write_i16(&mut b, VALUE_VERSION);
    write_i64(&mut b, v.producer_id);
    write_i16(&mut b, v.producer_epoch);
    write_i32(&mut b, v.timeout_ms);
    write_i8(&mut b, v.state.id());
    if v.partitions.is_empty() && matches!(v.state, TxnState::Empty) {
        // Kafka writes a null partition list for Empty transactions.
        write_null_array(&mut b, false);
    } else {
        write_array_len(&mut b, v.partitions.len(), false)?;
        for (topic, ids) in &v.partitions {
            write_string(&mut b, topic, false)?;
            write_array_len(&mut b, ids.len(), false)?;
            for id in ids {
                write_i32(&mut b, *id);
            }
        }
    }
    write_i64(&mut b, v.last_update_ms);
    write_i64(&mut b, v.start_ms);
    Ok(b)
}

/// Skip a tagged-field section.
fn skip_tagged(b: &mut Bytes) -> Result<(), DecodeError> {
    let n = read_unsigned_varint(b)?;
    for _ in 0..n {
        let _tag = read_unsigned_varint(b)?;
        read_tagged_data(b)?;
    }
    Ok(())
}

fn decode_value(b: &mut Bytes) -> Result<TxnLogValue, RecordError> {
    let version = read_i16(b)?;
    let flexible = match version {
        0 => false,
        1 => true,
        other => {
            return Err(RecordError::UnknownVersion {
                what: "value",
                version: other,
            });
        }
    };
    let producer_id = read_i64(b)?;
    let producer_epoch = read_i16(b)?;
    let timeout_ms = read_i32(b)?;
    let status = read_i8(b)?;
    let state = TxnState::from_id(status).ok_or(RecordError::UnknownStatus(status))?;
    // topic (>= 2 bytes) + partition array (>= 4 bytes, 1 compact).
    let min_element = if flexible { 3 } else { 6 };
    let partitions = read_nullable_array(b, flexible, min_element, |b| {
        let topic = read_string(b, flexible)?;
        let ids = read_array(b, flexible, 4, read_i32)?;
        if flexible {
            skip_tagged(b)?;
        }
        Ok((topic, ids))
    })?
    .unwrap_or_default();
    let last_update_ms = read_i64(b)?;
    let start_ms = read_i64(b)?;
    if flexible {
        skip_tagged(b)?;
    }
    Ok(TxnLogValue {
        producer_id,
        producer_epoch,
        timeout_ms,
        state,
        partitions,
        last_update_ms,
        start_ms,
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden_key_and_value() {
        let r = TxnRecord {
            transactional_id: "tx".into(),
            value: Some(TxnLogValue {
                producer_id: 5,
                producer_epoch: 2,
                timeout_ms: 60_000,
                state: TxnState::Ongoing,
                partitions: vec![("t".into(), vec![0, 3])],
                last_update_ms: 1000,
                start_ms: 900,
            }),
        };
        let (key, value) = r.encode().unwrap();
        assert_eq!(&key[..], &[0, 0, 0, 2, b't', b'x']);
        let expected: Vec<u8> = [
            &[0u8, 0][..],            // value version 0
            &5i64.to_be_bytes(),      // producer id
            &2i16.to_be_bytes(),      // epoch
            &60_000i32.to_be_bytes(), // timeout
            &[1],                     // Ongoing
            &1i32.to_be_bytes(),      // one topic
            &[0, 1, b't'],            // "t"
            &2i32.to_be_bytes(),      // two partitions
            &0i32.to_be_bytes(),
            &3i32.to_be_bytes(),
            &1000i64.to_be_bytes(), // last update
            &900i64.to_be_bytes(),  // start
        ]
        .concat();
        assert_eq!(&value.clone().unwrap()[..], &expected[..]);
        assert_eq!(TxnRecord::decode(Some(&key), value.as_ref()).unwrap(), r);
        let tomb = TxnRecord {
            transactional_id: "tx".into(),
            value: None,
        };
        let (k, v) = tomb.encode().unwrap();
        assert_eq!(TxnRecord::decode(Some(&k), v.as_ref()).unwrap(), tomb);
    }

    #[test]
    fn reads_flexible_v1_values() {
        let mut b = BytesMut::new();
        write_i16(&mut b, 1);
        write_i64(&mut b, 9);
        write_i16(&mut b, 4);
        write_i32(&mut b, 1000);
        write_i8(&mut b, 4); // CompleteCommit
        b.extend_from_slice(&[2]); // compact array: one element
        b.extend_from_slice(&[2, b'a']); // compact string "a"
        b.extend_from_slice(&[2]); // one partition
        write_i32(&mut b, 7);
        b.extend_from_slice(&[0]); // element tags
        write_i64(&mut b, 50);
        write_i64(&mut b, -1);
        b.extend_from_slice(&[1, 0, 8]); // one tagged field: tag 0, 8 bytes
        write_i64(&mut b, 3);
        let v = decode_value(&mut b.freeze()).unwrap();
        assert_eq!(v.state, TxnState::CompleteCommit);
        assert_eq!(v.partitions, vec![("a".to_string(), vec![7])]);
        assert_eq!((v.producer_id, v.producer_epoch, v.start_ms), (9, 4, -1));
    }

    fn any_state() -> impl Strategy<Value = TxnState> {
        (0i8..8).prop_map(|i| TxnState::from_id(i).unwrap())
    }

    proptest! {
        #[test]
        fn round_trip(id in "[a-z]{1,12}", pid in any::<i64>(), epoch in any::<i16>(),
                      timeout in any::<i32>(), state in any_state(),
                      parts in proptest::collection::vec(("[a-z]{1,5}", proptest::collection::vec(0i32..100, 1..4)), 0..4),
                      upd in any::<i64>(), start in any::<i64>()) {
            let parts = if parts.is_empty() && state == TxnState::Empty { vec![] } else { parts };
            let r = TxnRecord { transactional_id: id, value: Some(TxnLogValue {
                producer_id: pid, producer_epoch: epoch, timeout_ms: timeout, state,
                partitions: parts, last_update_ms: upd, start_ms: start })};
            let (k, v) = r.encode().unwrap();
            prop_assert_eq!(TxnRecord::decode(Some(&k), v.as_ref()).unwrap(), r);
        }

        #[test]
        fn arbitrary_bytes_never_panic(k in proptest::collection::vec(any::<u8>(), 0..64),
                                       v in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = TxnRecord::decode(Some(&Bytes::from(k)), Some(&Bytes::from(v)));
        }
    }
}
