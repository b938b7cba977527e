//! The coordinator's state per transactional id, its settings, and what
//! its operations hand back to the driver.

use std::collections::BTreeSet;

use crate::record::{TxnLogValue, TxnRecord};
use crate::state::TxnState;

/// No previous producer id / epoch (Kafka's `NO_PRODUCER_ID`, `NO_PRODUCER_EPOCH`).
pub const NO_PRODUCER: i64 = -1;
/// No previous producer epoch.
pub const NO_EPOCH: i16 = -1;

/// Coordinator settings (Kafka's broker configs of the same meaning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnConfig {
    /// `transaction.max.timeout.ms`: the largest `transaction.timeout.ms`
    /// a producer may ask for.
    pub max_timeout_ms: i32,
    /// `transactional.id.expiration.ms`: an id without a transaction and
    /// without any change for this long is removed.
    pub id_expiration_ms: i64,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            max_timeout_ms: 900_000,
            id_expiration_ms: 604_800_000,
        }
    }
}

/// State of one transactional id (Kafka's `TransactionMetadata`).
///
/// Invariant (checked by [`TxnMetadata::is_consistent`] where records are
/// written and where they are replayed): outside Ongoing and the Prepare
/// states there are no partitions and `start_ms` is -1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    /// Current producer id.
    pub producer_id: i64,
    /// Producer id before the last InitProducerId (-1: none), for KIP-360
    /// retries. Kept in memory only: value v0 has no field for it.
    pub last_producer_id: i64,
    /// Current epoch.
    pub producer_epoch: i16,
    /// Epoch before the last InitProducerId (-1: none, or that bump must
    /// not be retried), for KIP-360 retries. Memory only, like
    /// `last_producer_id`.
    pub last_producer_epoch: i16,
    /// `transaction.timeout.ms`.
    pub timeout_ms: i32,
    /// State.
    pub state: TxnState,
    /// Partitions of the open (or ending) transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// Start of the open transaction (-1: none).
    pub start_ms: i64,
    /// Last change; idle ids expire `id_expiration_ms` after it.
    pub last_update_ms: i64,
}

impl TxnMetadata {
    /// Whether the state invariant holds (see the type docs).
    pub fn is_consistent(&self) -> bool {
        self.state == TxnState::Ongoing
            || self.state.is_preparing()
            || (self.partitions.is_empty() && self.start_ms == -1)
    }

    /// The value written to `__transaction_state`.
    pub(crate) fn value(&self) -> TxnLogValue {
        let mut partitions: Vec<(String, Vec<i32>)> = Vec::new();
        for (topic, p) in &self.partitions {
            match partitions.last_mut() {
                Some((t, ids)) if t == topic => ids.push(*p),
                _ => partitions.push((topic.clone(), vec![*p])),
            }
        }
        TxnLogValue {
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            timeout_ms: self.timeout_ms,
            state: self.state,
            partitions,
            last_update_ms: self.last_update_ms,
            start_ms: self.start_ms,
        }
    }

    /// The full record of this id, as every state change persists it.
    pub(crate) fn record(&self, transactional_id: &str) -> TxnRecord {
        debug_assert!(self.is_consistent(), "{transactional_id}: {self:?}");
        TxnRecord {
            transactional_id: transactional_id.to_string(),
            value: Some(self.value()),
        }
    }

    pub(crate) fn job(&self, transactional_id: &str, commit: bool) -> MarkerJob {
        MarkerJob {
            transactional_id: transactional_id.to_string(),
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            commit,
            partitions: self.partitions.iter().cloned().collect(),
        }
    }

    /// Bump the epoch. With `retriable`, the old epoch is remembered so a
    /// KIP-360 retry of this very InitProducerId gets the same answer; every
    /// other bump (a new producer instance, a fence) forgets it, so a fenced
    /// zombie cannot claim the new epoch by "retrying" (Kafka's
    /// `prepareIncrementProducerEpoch` / `prepareFenceProducerEpoch`).
    pub(crate) fn bump_epoch(&mut self, retriable: bool) {
        self.last_producer_id = self.producer_id;
        self.last_producer_epoch = if retriable {
            self.producer_epoch
        } else {
            NO_EPOCH
        };
        // Never past i16::MAX: InitProducerId switches to a fresh producer
        // id at EPOCH_EXHAUSTED, so only a fence can reach i16::MAX.
        self.producer_epoch = self.producer_epoch.saturating_add(1);
    }
}

/// Markers to write when a transaction ends: the driver appends a commit
/// or abort marker with this producer id and epoch to every partition, waits
/// until they are durable, then calls `TxnCoordinator::complete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerJob {
    /// The transactional id.
    pub transactional_id: String,
    /// Producer id to write into the markers.
    pub producer_id: i64,
    /// Producer epoch to write into the markers.
    pub producer_epoch: i16,
    /// Commit (true) or abort.
    pub commit: bool,
    /// Partitions that get a marker (may be empty).
    pub partitions: Vec<(String, i32)>,
}

/// Outcome of `TxnCoordinator::init_producer_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    /// Answer with these; persist `record` first (if any).
    Ready {
        /// Producer id.
        producer_id: i64,
        /// Producer epoch.
        producer_epoch: i16,
        /// State to persist (`None`: a KIP-360 retry, nothing changed).
        record: Option<TxnRecord>,
    },
    /// An older producer's transaction is open: persist `record`, write
    /// the abort markers, `complete`, then call `init_producer_id` again.
    AbortFirst {
        /// The abort.
        job: MarkerJob,
        /// State to persist (PrepareAbort with the bumped epoch).
        record: TxnRecord,
    },
}

/// Outcome of `TxnCoordinator::end_txn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndOutcome {
    /// Persist `record` (the Prepare state), write the markers, `complete`.
    WriteMarkers {
        /// The markers.
        job: MarkerJob,
        /// State to persist.
        record: TxnRecord,
    },
    /// A retry of an EndTxn that already completed: answer success.
    AlreadyDone,
}

/// What `TxnCoordinator::tick` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    /// Timed-out transactions being aborted (with a bumped epoch): persist
    /// each record, then carry out its job.
    pub aborts: Vec<(MarkerJob, TxnRecord)>,
    /// Tombstones of expired transactional ids, to persist.
    pub expired: Vec<TxnRecord>,
}

/// DescribeTransactions' view of one id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnDescription {
    /// State ([`TxnState::as_str`] is the response's name).
    pub state: TxnState,
    /// `transaction.timeout.ms`.
    pub timeout_ms: i32,
    /// Start of the open transaction (-1: none).
    pub start_ms: i64,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Partitions, by topic (topics and partitions ascending).
    pub topics: Vec<(String, Vec<i32>)>,
}

/// ListTransactions' view of one id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnListing {
    /// The transactional id.
    pub transactional_id: String,
    /// Producer id.
    pub producer_id: i64,
    /// State.
    pub state: TxnState,
}
