//! The coordinator state machine (Kafka's `TransactionCoordinator` and
//! `TransactionMetadata`), one [`TxnMetadata`] per transactional id.
//!
//! ## Transitions
//!
//! | from | to | by |
//! |---|---|---|
//! | (unknown) | Empty, fresh producer id, epoch 0 | `init_producer_id` |
//! | Empty, CompleteCommit, CompleteAbort | Empty, epoch + 1 (a fresh producer id at epoch 0 once the epoch is exhausted) | `init_producer_id` |
//! | Ongoing | PrepareAbort, epoch + 1 (fences the old producer) | `init_producer_id`, `tick` (timeout) |
//! | Empty, CompleteCommit, CompleteAbort, Ongoing | Ongoing | `add_partitions` |
//! | Ongoing | PrepareCommit / PrepareAbort | `end_txn` |
//! | PrepareCommit / PrepareAbort | CompleteCommit / CompleteAbort | `complete` (markers written) |
//! | Empty, CompleteCommit, CompleteAbort | removed (tombstone) | `tick` (idle for `id_expiration_ms`) |
//!
//! Kafka passes through PrepareEpochFence in memory on the way from Ongoing
//! to PrepareAbort and never writes it; Weir goes straight to PrepareAbort,
//! and treats a PrepareEpochFence read from a Kafka log as a PrepareAbort
//! with the next epoch. Dead is likewise never held: expiry removes the id.
//!
//! While a transaction is in a Prepare state its markers are being written;
//! calls for it get CONCURRENT_TRANSACTIONS (retriable). A producer whose
//! epoch is not the id's current epoch is fenced.
//!
//! Every change returns the id's full record (as Kafka writes it); replaying
//! those records through [`TxnCoordinator::replay`] rebuilds the same state,
//! except the KIP-360 `last_producer_*` fields, which value v0 cannot hold
//! (a retry that spans a restart is fenced, as in Kafka before KIP-890).

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};

pub use crate::error::TxnError;
use crate::record::TxnRecord;
use crate::state::TxnState;
pub use crate::types::{
    EndOutcome, InitOutcome, MarkerJob, NO_EPOCH, NO_PRODUCER, Tick, TxnConfig, TxnDescription,
    TxnListing, TxnMetadata,
};

/// Epoch at which a producer id is exhausted and replaced by a fresh one
/// (Kafka's `isEpochExhausted`): i16::MAX stays free so that the
/// coordinator can always fence the last producer.
pub const EPOCH_EXHAUSTED: i16 = i16::MAX - 1;

/// Longest transactional id or topic name, in bytes: what a classic
/// string in a `__transaction_state` record can hold.
pub const NAME_MAX_BYTES: usize = i16::MAX as usize;

/// Every transactional id this coordinator owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnCoordinator {
    config: TxnConfig,
    txns: BTreeMap<String, TxnMetadata>,
}

fn check_producer(id: &str, m: &TxnMetadata, producer_id: i64, epoch: i16) -> Result<(), TxnError> {
    if m.producer_id != producer_id {
        return Err(TxnError::InvalidProducerIdMapping(format!(
            "{id} belongs to producer {}, not {producer_id}",
            m.producer_id
        )));
    }
    if m.producer_epoch != epoch {
        return Err(TxnError::ProducerFenced(format!(
            "{id}: epoch {epoch} is not the current epoch {}",
            m.producer_epoch
        )));
    }
    Ok(())
}

fn concurrent(id: &str, m: &TxnMetadata) -> TxnError {
    TxnError::ConcurrentTransactions(format!(
        "{id} is completing a transaction ({})",
        m.state.as_str()
    ))
}

fn no_fresh_id() -> TxnError {
    TxnError::ConcurrentTransactions("a producer id must be allocated first".into())
}

impl TxnCoordinator {
    /// An empty coordinator.
    pub fn new(config: TxnConfig) -> Self {
        TxnCoordinator {
            config,
            txns: BTreeMap::new(),
        }
    }

    /// Its settings.
    pub fn config(&self) -> &TxnConfig {
        &self.config
    }

    /// Number of transactional ids.
    pub fn len(&self) -> usize {
        self.txns.len()
    }

    /// Whether no id is known.
    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }

    /// State of one id.
    pub fn get(&self, txn_id: &str) -> Option<&TxnMetadata> {
        self.txns.get(txn_id)
    }

    /// Whether InitProducerId for `txn_id` needs a fresh producer id: the
    /// id is unknown or its epoch is exhausted. The driver then allocates
    /// one and passes it to [`TxnCoordinator::init_producer_id`].
    pub fn needs_producer_id(&self, txn_id: &str) -> bool {
        self.txns
            .get(txn_id)
            .is_none_or(|m| m.producer_epoch >= EPOCH_EXHAUSTED)
    }

    /// InitProducerId with a transactional id (see [`InitOutcome`]).
    ///
    /// `expected` is KIP-360's producer id and epoch (InitProducerId v3+,
    /// `None` for -1/-1): the client's own, when it re-initialises after an
    /// error. It must be the current pair (then the epoch is bumped and the
    /// old one remembered) or the pair before the last such bump (a retry:
    /// the current pair is returned unchanged); otherwise PRODUCER_FENCED.
    /// A new id accepts any `expected` (Kafka: a producer recovering from
    /// UNKNOWN_PRODUCER_ID).
    pub fn init_producer_id(
        &mut self,
        txn_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        fresh_producer_id: Option<i64>,
        now_ms: i64,
    ) -> Result<InitOutcome, TxnError> {
        if txn_id.is_empty() || txn_id.len() > NAME_MAX_BYTES {
            return Err(TxnError::InvalidRequest(format!(
                "a transactional id must have 1..={NAME_MAX_BYTES} bytes"
            )));
        }
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(TxnError::InvalidTransactionTimeout(format!(
                "{timeout_ms} ms is outside 1..={} (transaction.max.timeout.ms)",
                self.config.max_timeout_ms
            )));
        }
        let Some(m) = self.txns.get_mut(txn_id) else {
            let pid = fresh_producer_id.ok_or_else(no_fresh_id)?;
            let m = TxnMetadata {
                producer_id: pid,
                last_producer_id: NO_PRODUCER,
                producer_epoch: 0,
                last_producer_epoch: NO_EPOCH,
                timeout_ms,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                start_ms: -1,
                last_update_ms: now_ms,
            };
            let record = m.record(txn_id);
            self.txns.insert(txn_id.to_string(), m);
            return Ok(InitOutcome::Ready {
                producer_id: pid,
                producer_epoch: 0,
                record: Some(record),
            });
        };
        if m.state.is_preparing() {
            return Err(concurrent(txn_id, m));
        }
        let mut retry = false;
        if let Some((pid, epoch)) = expected {
            let current = pid == m.producer_id && epoch == m.producer_epoch;
            retry = m.last_producer_epoch != NO_EPOCH
                && (pid, epoch) == (m.last_producer_id, m.last_producer_epoch);
            if !current && !retry {
                return Err(TxnError::ProducerFenced(format!(
                    "{txn_id}: producer {pid} epoch {epoch} is not current (producer {} epoch {})",
                    m.producer_id, m.producer_epoch
                )));
            }
        }
        if m.state == TxnState::Ongoing {
            // Fence the older producer: abort its transaction with a bumped
            // epoch. That epoch is never handed out: the driver completes
            // the abort and calls again, which bumps once more.
            m.bump_epoch(false);
            m.state = TxnState::PrepareAbort;
            m.last_update_ms = now_ms;
            return Ok(InitOutcome::AbortFirst {
                job: m.job(txn_id, false),
                record: m.record(txn_id),
            });
        }
        if retry {
            return Ok(InitOutcome::Ready {
                producer_id: m.producer_id,
                producer_epoch: m.producer_epoch,
                record: None,
            });
        }
        if m.producer_epoch >= EPOCH_EXHAUSTED {
            let pid = fresh_producer_id.ok_or_else(no_fresh_id)?;
            m.last_producer_id = m.producer_id;
            m.last_producer_epoch = if expected.is_some() {
                m.producer_epoch
            } else {
                NO_EPOCH
            };
            m.producer_id = pid;
            m.producer_epoch = 0;
        } else {
            m.bump_epoch(expected.is_some());
        }
        m.timeout_ms = timeout_ms;
        m.state = TxnState::Empty;
        m.partitions.clear();
        m.start_ms = -1;
        m.last_update_ms = now_ms;
        Ok(InitOutcome::Ready {
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            record: Some(m.record(txn_id)),
        })
    }

    fn checked(
        &mut self,
        txn_id: &str,
        producer_id: i64,
        epoch: i16,
    ) -> Result<&mut TxnMetadata, TxnError> {
        let m = self.txns.get_mut(txn_id).ok_or_else(|| {
            TxnError::InvalidProducerIdMapping(format!("unknown transactional id {txn_id}"))
        })?;
        check_producer(txn_id, m, producer_id, epoch)?;
        Ok(m)
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn with the group's offsets
    /// partition): the record to persist, `None` if every partition already
    /// is in the open transaction.
    pub fn add_partitions(
        &mut self,
        txn_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        now_ms: i64,
    ) -> Result<Option<TxnRecord>, TxnError> {
        if let Some((topic, _)) = partitions.iter().find(|(t, _)| t.len() > NAME_MAX_BYTES) {
            return Err(TxnError::InvalidRequest(format!(
                "topic name of {} bytes is longer than {NAME_MAX_BYTES}",
                topic.len()
            )));
        }
        let m = self.checked(txn_id, producer_id, epoch)?;
        if m.state.is_preparing() {
            return Err(concurrent(txn_id, m));
        }
        if m.state == TxnState::Dead {
            return Err(TxnError::InvalidTxnState(format!(
                "{txn_id} is being removed"
            )));
        }
        if m.state == TxnState::Ongoing && partitions.iter().all(|p| m.partitions.contains(p)) {
            return Ok(None);
        }
        if m.state != TxnState::Ongoing {
            m.start_ms = now_ms;
            m.partitions.clear();
        }
        m.partitions.extend(partitions.iter().cloned());
        m.state = TxnState::Ongoing;
        m.last_update_ms = now_ms;
        Ok(Some(m.record(txn_id)))
    }

    /// AddPartitionsToTxn v4+ `verify_only` (and Produce's KIP-890 check):
    /// each partition must be in the open transaction of this producer and
    /// epoch; a partition not added yet gets INVALID_TXN_STATE, as in Kafka.
    pub fn verify_partitions(
        &self,
        txn_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Vec<((String, i32), Result<(), TxnError>)> {
        let base = match self.txns.get(txn_id) {
            None => Err(TxnError::InvalidProducerIdMapping(format!(
                "unknown transactional id {txn_id}"
            ))),
            Some(m) => check_producer(txn_id, m, producer_id, epoch).map(|()| m),
        };
        partitions
            .iter()
            .map(|p| {
                let r = match &base {
                    Err(e) => Err(e.clone()),
                    Ok(m) if m.state == TxnState::Ongoing && m.partitions.contains(p) => Ok(()),
                    Ok(_) => Err(TxnError::InvalidTxnState(format!(
                        "{}-{} is not in the open transaction of {txn_id}",
                        p.0, p.1
                    ))),
                };
                (p.clone(), r)
            })
            .collect()
    }

    /// EndTxn (see [`EndOutcome`]). An Ongoing transaction without
    /// partitions ends too (its job has no partitions).
    pub fn end_txn(
        &mut self,
        txn_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        now_ms: i64,
    ) -> Result<EndOutcome, TxnError> {
        let m = self.checked(txn_id, producer_id, epoch)?;
        let wanted = if commit { "commit" } else { "abort" };
        match (m.state, commit) {
            (TxnState::Ongoing, _) => {
                m.state = if commit {
                    TxnState::PrepareCommit
                } else {
                    TxnState::PrepareAbort
                };
                m.last_update_ms = now_ms;
                Ok(EndOutcome::WriteMarkers {
                    job: m.job(txn_id, commit),
                    record: m.record(txn_id),
                })
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {
                Ok(EndOutcome::AlreadyDone)
            }
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => Err(
                TxnError::ConcurrentTransactions(format!("{txn_id} is already completing")),
            ),
            (state, _) => Err(TxnError::InvalidTxnState(format!(
                "cannot {wanted} {txn_id} in state {}",
                state.as_str()
            ))),
        }
    }

    /// After a job's markers were written: PrepareX → CompleteX, with the
    /// partitions and start time cleared. `None` if the job is stale (the
    /// id is gone, has another producer id or epoch, or is not preparing).
    pub fn complete(
        &mut self,
        txn_id: &str,
        producer_id: i64,
        epoch: i16,
        now_ms: i64,
    ) -> Option<TxnRecord> {
        let m = self.txns.get_mut(txn_id)?;
        if m.producer_id != producer_id || m.producer_epoch != epoch {
            return None;
        }
        m.state = match m.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            TxnState::PrepareAbort | TxnState::PrepareEpochFence => TxnState::CompleteAbort,
            _ => return None,
        };
        m.partitions.clear();
        m.start_ms = -1;
        m.last_update_ms = now_ms;
        Some(m.record(txn_id))
    }
}

mod recovery;
mod views;

#[cfg(test)]
mod replay_tests;
#[cfg(test)]
mod tests;
