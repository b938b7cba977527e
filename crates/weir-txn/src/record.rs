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
//! the end of the value). The tagged fields PreviousProducerId (`int64`,
//! tag 0), NextProducerId (`int64`, tag 1) and ClientTransactionVersion
//! (`int16`, tag 2) belong to transaction version 2, which Weir does not
//! run; they and unknown tags are skipped. Any other value version is
//! refused with [`RecordError::UnknownVersion`].
//!
//! Why v0 is written: every Kafka version's tooling reads it, and Weir's
//! state needs no v1 field. Like Kafka, an Empty value carries a null
//! partition list rather than an empty one.
//!
//! Decoding never panics and allocates at most in proportion to the bytes
//! left: every array count is checked against the smallest encoding of its
//! elements before anything is reserved (see `weir_protocol::codec`).
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
mod tests;
