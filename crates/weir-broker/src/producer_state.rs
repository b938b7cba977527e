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
    /// First offset of its open transaction in this partition, if any.
    #[serde(default)]
    pub txn_first_offset: Option<i64>,
    /// Epoch of the coordinator that wrote its last marker (-1: none yet).
    #[serde(default = "no_coordinator_epoch")]
    pub coordinator_epoch: i32,
}

fn no_coordinator_epoch() -> i32 {
    -1
}

/// A transaction aborted in this partition: Fetch with read_committed
/// returns these ranges so clients drop the producer's records in them
/// (Kafka's `.txnindex` entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortedTxn {
    /// Producer whose records in the range are aborted.
    pub producer_id: i64,
    /// First offset of the transaction.
    pub first_offset: i64,
    /// Offset of its abort marker.
    pub last_offset: i64,
}

/// Why a transaction marker was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkerRefused {
    /// The marker's producer epoch is older than the producer's.
    #[error("marker for producer {producer_id} has epoch {epoch}, older than {current}")]
    StaleProducerEpoch {
        /// Producer id.
        producer_id: i64,
        /// Marker epoch.
        epoch: i16,
        /// Current epoch.
        current: i16,
    },
    /// A newer coordinator already wrote a marker for this producer.
    #[error(
        "marker for producer {producer_id} has coordinator epoch {epoch}, older than {current}"
    )]
    CoordinatorFenced {
        /// Producer id.
        producer_id: i64,
        /// Marker coordinator epoch.
        epoch: i32,
        /// Epoch of the last marker.
        current: i32,
    },
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
    /// A plain batch from a producer whose transaction is open here.
    #[error("producer {producer_id} sent a non-transactional batch inside a transaction")]
    InvalidTxnState {
        /// Producer id.
        producer_id: i64,
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
    /// Aborted transactions, by marker offset.
    #[serde(default)]
    aborted: Vec<AbortedTxn>,
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
        transactional: bool,
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
        if !transactional && epoch == entry.epoch && entry.txn_first_offset.is_some() {
            return Err(SequenceError::InvalidTxnState { producer_id });
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

    fn entry(&mut self, producer_id: i64, epoch: i16, timestamp: i64) -> &mut ProducerEntry {
        let entry = self
            .producers
            .entry(producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch,
                batches: VecDeque::new(),
                last_timestamp: timestamp,
                txn_first_offset: None,
                coordinator_epoch: -1,
            });
        if epoch != entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
        entry
    }

    /// Record an appended batch (also used when replaying the log); a
    /// transactional batch opens the producer's transaction here if none is.
    pub fn update(
        &mut self,
        producer_id: i64,
        epoch: i16,
        meta: BatchMeta,
        timestamp: i64,
        transactional: bool,
    ) {
        let entry = self.entry(producer_id, epoch, timestamp);
        if transactional && entry.txn_first_offset.is_none() {
            entry.txn_first_offset = Some(meta.first_offset);
        }
        entry.batches.push_back(meta);
        while entry.batches.len() > BATCHES_PER_PRODUCER_MAX {
            entry.batches.pop_front();
        }
        entry.last_timestamp = timestamp;
    }

    /// Check a coordinator-written transactional batch (offsets committed
    /// in a transaction): only the epoch is checked, sequences are unused.
    pub fn check_coordinator_batch(
        &self,
        producer_id: i64,
        epoch: i16,
    ) -> Result<(), SequenceError> {
        match self.producers.get(&producer_id) {
            Some(e) if epoch < e.epoch => Err(SequenceError::InvalidProducerEpoch {
                producer_id,
                epoch,
                current: e.epoch,
            }),
            _ => Ok(()),
        }
    }

    /// Record a coordinator-written transactional batch at `first_offset`.
    pub fn update_coordinator_batch(
        &mut self,
        producer_id: i64,
        epoch: i16,
        first_offset: i64,
        timestamp: i64,
    ) {
        let entry = self.entry(producer_id, epoch, timestamp);
        entry.txn_first_offset.get_or_insert(first_offset);
        entry.last_timestamp = timestamp;
    }

    /// Check a transaction marker before appending it (Kafka's
    /// `ProducerAppendInfo.appendEndTxnMarker`). A marker for a producer
    /// never seen here is accepted: the transaction wrote nothing to this
    /// partition.
    pub fn check_marker(
        &self,
        producer_id: i64,
        epoch: i16,
        coordinator_epoch: i32,
    ) -> Result<(), MarkerRefused> {
        let Some(e) = self.producers.get(&producer_id) else {
            return Ok(());
        };
        if epoch < e.epoch {
            return Err(MarkerRefused::StaleProducerEpoch {
                producer_id,
                epoch,
                current: e.epoch,
            });
        }
        if coordinator_epoch < e.coordinator_epoch {
            return Err(MarkerRefused::CoordinatorFenced {
                producer_id,
                epoch: coordinator_epoch,
                current: e.coordinator_epoch,
            });
        }
        Ok(())
    }

    /// Record an appended marker at `offset`: closes the producer's open
    /// transaction; an abort is remembered as an [`AbortedTxn`].
    pub fn apply_marker(
        &mut self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        offset: i64,
        timestamp: i64,
    ) {
        let entry = self.entry(producer_id, epoch, timestamp);
        entry.coordinator_epoch = coordinator_epoch;
        entry.last_timestamp = timestamp;
        if let Some(first_offset) = entry.txn_first_offset.take()
            && !commit
        {
            self.aborted.push(AbortedTxn {
                producer_id,
                first_offset,
                last_offset: offset,
            });
        }
    }

    /// First offset of the oldest open transaction (bounds the last stable offset).
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.producers
            .values()
            .filter_map(|e| e.txn_first_offset)
            .min()
    }

    /// Aborted transactions overlapping `[from, to)`, in marker order.
    pub fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < to)
            .copied()
            .collect()
    }

    /// Forget aborted ranges wholly below the log-start offset.
    pub fn prune_aborted(&mut self, log_start_offset: i64) {
        self.aborted.retain(|a| a.last_offset >= log_start_offset);
    }

    /// Forget producers idle longer than `expiration_ms`
    /// (`producer.id.expiration.ms`), except those with an open transaction.
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.txn_first_offset.is_some() || now_ms.saturating_sub(e.last_timestamp) < expiration_ms
        });
        before - self.producers.len()
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
        assert_eq!(s.check(7, 0, 0, 4, false), Ok(Check::Append));
        s.update(7, 0, meta(0, 4, 100), 1, false);
        assert_eq!(s.check(7, 0, 5, 9, false), Ok(Check::Append));
        s.update(7, 0, meta(5, 9, 105), 2, false);
        // The retry of the first batch is answered with its original offsets.
        assert_eq!(
            s.check(7, 0, 0, 4, false),
            Ok(Check::Duplicate(meta(0, 4, 100)))
        );
        assert!(matches!(
            s.check(7, 0, 11, 12, false),
            Err(SequenceError::OutOfOrder { expected: 10, .. })
        ));
        assert!(matches!(
            s.check(7, -1, 10, 10, false),
            Err(SequenceError::InvalidProducerEpoch { current: 0, .. })
        ));
        // New epoch must restart at 0.
        assert!(matches!(
            s.check(7, 1, 10, 10, false),
            Err(SequenceError::OutOfOrder { .. })
        ));
        assert_eq!(s.check(7, 1, 0, 0, false), Ok(Check::Append));
        // Unknown producer must start at 0.
        assert!(matches!(
            s.check(8, 0, 3, 3, false),
            Err(SequenceError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn remembers_only_the_last_five_batches_and_wraps() {
        let mut s = ProducerStates::new();
        for i in 0..7 {
            s.update(1, 0, meta(i, i, i64::from(i)), 0, false);
        }
        assert_eq!(s.get(1).unwrap().batches.len(), BATCHES_PER_PRODUCER_MAX);
        assert!(matches!(
            s.check(1, 0, 0, 0, false),
            Err(SequenceError::OutOfOrder { .. })
        ));
        assert_eq!(
            s.check(1, 0, 2, 2, false),
            Ok(Check::Duplicate(meta(2, 2, 2)))
        );
        let mut w = ProducerStates::new();
        w.update(2, 0, meta(i32::MAX - 1, i32::MAX, 0), 0, false);
        assert_eq!(w.check(2, 0, 0, 3, false), Ok(Check::Append));
    }

    #[test]
    fn expiry_drops_idle_producers() {
        let mut s = ProducerStates::new();
        s.update(1, 0, meta(0, 0, 0), 1_000, false);
        s.update(2, 0, meta(0, 0, 1), 9_000, false);
        s.expire(10_000, 5_000);
        assert!(s.get(1).is_none() && s.get(2).is_some());
    }

    #[test]
    fn transactions_open_close_and_abort_ranges() {
        let mut s = ProducerStates::new();
        s.update(5, 0, meta(0, 1, 10), 1, true);
        s.update(5, 0, meta(2, 3, 14), 1, true);
        s.update(6, 0, meta(0, 0, 12), 1, true);
        assert_eq!(s.first_unstable_offset(), Some(10));
        // A plain batch inside the open transaction is refused.
        assert!(matches!(
            s.check(5, 0, 4, 4, false),
            Err(SequenceError::InvalidTxnState { .. })
        ));
        assert_eq!(s.check_marker(5, 0, 0), Ok(()));
        s.apply_marker(5, 0, false, 0, 16, 2);
        assert_eq!(s.first_unstable_offset(), Some(12));
        s.apply_marker(6, 0, true, 0, 17, 2);
        assert_eq!(s.first_unstable_offset(), None);
        let aborted = AbortedTxn {
            producer_id: 5,
            first_offset: 10,
            last_offset: 16,
        };
        assert_eq!(s.aborted_between(0, 11), vec![aborted]);
        assert_eq!(s.aborted_between(16, 100), vec![aborted]);
        assert!(s.aborted_between(17, 100).is_empty());
        assert!(s.aborted_between(0, 10).is_empty());
        // Stale epochs and older coordinators are refused.
        s.apply_marker(5, 2, false, 3, 18, 3);
        assert!(matches!(
            s.check_marker(5, 1, 3),
            Err(MarkerRefused::StaleProducerEpoch { current: 2, .. })
        ));
        assert!(matches!(
            s.check_marker(5, 2, 2),
            Err(MarkerRefused::CoordinatorFenced { current: 3, .. })
        ));
        assert_eq!(s.check_marker(99, 0, 0), Ok(()));
        s.prune_aborted(17);
        assert!(s.aborted_between(0, 100).is_empty());
    }

    #[test]
    fn open_transactions_do_not_expire() {
        let mut s = ProducerStates::new();
        s.update(1, 0, meta(0, 0, 0), 0, true);
        s.update(2, 0, meta(0, 0, 1), 0, false);
        assert_eq!(s.expire(1_000_000, 10), 1);
        assert!(s.get(1).is_some() && s.get(2).is_none());
    }
}
