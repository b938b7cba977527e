//! Idempotent-producer state of one partition: for each producer id its
//! epoch and the metadata of its last [`BATCHES_PER_PRODUCER_MAX`] batches,
//! used to detect retried batches and sequence gaps exactly as Kafka's
//! `ProducerStateManager` does.
//!
//! Rules checked on every batch with a producer id (Kafka semantics):
//! * epoch older than the producer's current epoch → INVALID_PRODUCER_EPOCH;
//! * a newer epoch must start at sequence 0 → else OUT_OF_ORDER_SEQUENCE;
//! * an unknown producer must start at sequence 0 (its state may have been
//!   lost only by expiry, which is reported as OUT_OF_ORDER_SEQUENCE);
//! * a batch whose sequence range equals one of the cached batches is a
//!   retry: it is not appended again and is answered with the original
//!   offsets;
//! * otherwise the first sequence must follow the last one (wrapping at
//!   `i32::MAX` to 0) → else OUT_OF_ORDER_SEQUENCE.
//!
//! Pure: the partition calls [`ProducerStates::check`] and, after a
//! successful append, [`ProducerStates::update`] under its log lock. State
//! survives restarts through a snapshot written beside the log (see
//! `docs/storage-format.md`) plus a replay of the batches after it.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Batches remembered per producer (Kafka: 5, the most a producer keeps in flight).
pub const BATCHES_PER_PRODUCER_MAX: usize = 5;

/// Metadata of one appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMeta {
    /// First sequence number.
    pub first_seq: i32,
    /// Last sequence number.
    pub last_seq: i32,
    /// Offset of its first record.
    pub first_offset: i64,
    /// Offset of its last record.
    pub last_offset: i64,
}

/// State of one producer id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerEntry {
    /// Current epoch.
    pub epoch: i16,
    /// Most recent batches, oldest first.
    pub batches: VecDeque<BatchMeta>,
    /// Max timestamp of its last batch (for expiry).
    pub last_timestamp: i64,
}

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    /// Epoch older than current.
    #[error("producer {producer_id} epoch {epoch} is older than the current epoch {current}")]
    InvalidProducerEpoch {
        /// Producer id.
        producer_id: i64,
        /// Batch epoch.
        epoch: i16,
        /// Current epoch.
        current: i16,
    },
    /// Sequence gap or bad start.
    #[error("producer {producer_id}: out of order sequence {first_seq} (expected {expected})")]
    OutOfOrder {
        /// Producer id.
        producer_id: i64,
        /// Batch first sequence.
        first_seq: i32,
        /// Sequence that would have been accepted.
        expected: i32,
    },
}

/// Outcome of [`ProducerStates::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Append it.
    Append,
    /// A retry of an appended batch: answer with these offsets.
    Duplicate(BatchMeta),
}

/// All producers of one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerStates {
    producers: BTreeMap<i64, ProducerEntry>,
}

fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX { 0 } else { seq + 1 }
}

impl ProducerStates {
    /// Empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of producers tracked.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Whether no producer is tracked.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Entry of a producer.
    pub fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Check a batch before appending it.
    pub fn check(
        &self,
        producer_id: i64,
        epoch: i16,
        first_seq: i32,
        last_seq: i32,
    ) -> Result<Check, SequenceError> {
        let Some(entry) = self.producers.get(&producer_id) else {
            if first_seq != 0 {
                return Err(SequenceError::OutOfOrder {
                    producer_id,
                    first_seq,
                    expected: 0,
                });
            }
            return Ok(Check::Append);
        };
        if epoch < entry.epoch {
            return Err(SequenceError::InvalidProducerEpoch {
                producer_id,
                epoch,
                current: entry.epoch,
            });
        }
        if epoch > entry.epoch {
            if first_seq != 0 {
                return Err(SequenceError::OutOfOrder {
                    producer_id,
                    first_seq,
                    expected: 0,
                });
            }
            return Ok(Check::Append);
        }
        if let Some(dup) = entry
            .batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
        {
            return Ok(Check::Duplicate(*dup));
        }
        let expected = entry
            .batches
            .back()
            .map(|b| next_seq(b.last_seq))
            .unwrap_or(0);
        if first_seq != expected {
            return Err(SequenceError::OutOfOrder {
                producer_id,
                first_seq,
                expected,
            });
        }
        Ok(Check::Append)
    }

    /// Record an appended batch (also used when replaying the log).
    pub fn update(&mut self, producer_id: i64, epoch: i16, meta: BatchMeta, timestamp: i64) {
        let entry = self
            .producers
            .entry(producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch,
                batches: VecDeque::new(),
                last_timestamp: timestamp,
            });
        if epoch != entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
        entry.batches.push_back(meta);
        while entry.batches.len() > BATCHES_PER_PRODUCER_MAX {
            entry.batches.pop_front();
        }
        entry.last_timestamp = timestamp;
    }

    /// Forget producers idle longer than `expiration_ms` (`producer.id.expiration.ms`).
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) {
        self.producers
            .retain(|_, e| now_ms.saturating_sub(e.last_timestamp) < expiration_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(first_seq: i32, last_seq: i32, first_offset: i64) -> BatchMeta {
        BatchMeta {
            first_seq,
            last_seq,
            first_offset,
            last_offset: first_offset + i64::from(last_seq - first_seq),
        }
    }

    #[test]
    fn in_order_duplicates_and_gaps() {
        let mut s = ProducerStates::new();
        assert_eq!(s.check(7, 0, 0, 4), Ok(Check::Append));
        s.update(7, 0, meta(0, 4, 100), 1);
        assert_eq!(s.check(7, 0, 5, 9), Ok(Check::Append));
        s.update(7, 0, meta(5, 9, 105), 2);
        // The retry of the first batch is answered with its original offsets.
        assert_eq!(s.check(7, 0, 0, 4), Ok(Check::Duplicate(meta(0, 4, 100))));
        assert!(matches!(
            s.check(7, 0, 11, 12),
            Err(SequenceError::OutOfOrder { expected: 10, .. })
        ));
        assert!(matches!(
            s.check(7, -1, 10, 10),
            Err(SequenceError::InvalidProducerEpoch { current: 0, .. })
        ));
        // New epoch must restart at 0.
        assert!(matches!(
            s.check(7, 1, 10, 10),
            Err(SequenceError::OutOfOrder { .. })
        ));
        assert_eq!(s.check(7, 1, 0, 0), Ok(Check::Append));
        // Unknown producer must start at 0.
        assert!(matches!(
            s.check(8, 0, 3, 3),
            Err(SequenceError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn remembers_only_the_last_five_batches_and_wraps() {
        let mut s = ProducerStates::new();
        for i in 0..7 {
            s.update(1, 0, meta(i, i, i64::from(i)), 0);
        }
        assert_eq!(s.get(1).unwrap().batches.len(), BATCHES_PER_PRODUCER_MAX);
        assert!(matches!(
            s.check(1, 0, 0, 0),
            Err(SequenceError::OutOfOrder { .. })
        ));
        assert_eq!(s.check(1, 0, 2, 2), Ok(Check::Duplicate(meta(2, 2, 2))));
        let mut w = ProducerStates::new();
        w.update(2, 0, meta(i32::MAX - 1, i32::MAX, 0), 0);
        assert_eq!(w.check(2, 0, 0, 3), Ok(Check::Append));
    }

    #[test]
    fn expiry_drops_idle_producers() {
        let mut s = ProducerStates::new();
        s.update(1, 0, meta(0, 0, 0), 1_000);
        s.update(2, 0, meta(0, 0, 1), 9_000);
        s.expire(10_000, 5_000);
        assert!(s.get(1).is_none() && s.get(2).is_some());
    }
}
