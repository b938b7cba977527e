//! The coordinator state machine (Kafka's `TransactionCoordinator` and
//! `TransactionMetadata`).
//!
//! ```text
//!            InitProducerId (epoch+1)
//!   Empty / CompleteCommit / CompleteAbort ──AddPartitions──▶ Ongoing
//!        ▲                                                     │ EndTxn, timeout (epoch+1),
//!        │ complete (markers written)                          │ InitProducerId (fence, epoch+1)
//!        └──── CompleteCommit / CompleteAbort ◀── PrepareCommit / PrepareAbort
//! ```
//!
//! While a transaction is in a Prepare state its markers are being
//! written; calls for it get CONCURRENT_TRANSACTIONS (retriable).
//! A producer whose epoch is older than the id's current epoch is fenced.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};

use crate::record::{TxnLogValue, TxnRecord};
use crate::state::TxnState;

/// Coordinator settings (Kafka's broker configs of the same meaning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnConfig {
    /// `transaction.max.timeout.ms`.
    pub max_timeout_ms: i32,
    /// `transactional.id.expiration.ms`.
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

/// Why an operation was refused; the broker maps each to a Kafka code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    /// INVALID_PRODUCER_ID_MAPPING (49).
    #[error("invalid producer id mapping: {0}")]
    InvalidProducerIdMapping(String),
    /// PRODUCER_FENCED (90), INVALID_PRODUCER_EPOCH (47) for old versions.
    #[error("producer fenced: {0}")]
    ProducerFenced(String),
    /// CONCURRENT_TRANSACTIONS (51).
    #[error("concurrent transactions: {0}")]
    ConcurrentTransactions(String),
    /// INVALID_TXN_STATE (48).
    #[error("invalid transaction state: {0}")]
    InvalidTxnState(String),
    /// INVALID_TRANSACTION_TIMEOUT (50).
    #[error("invalid transaction timeout: {0}")]
    InvalidTransactionTimeout(String),
    /// TRANSACTIONAL_ID_NOT_FOUND (105).
    #[error("transactional id not found: {0}")]
    TransactionalIdNotFound(String),
    /// INVALID_REQUEST (42).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

/// State of one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    /// Current producer id.
    pub producer_id: i64,
    /// Previous producer id (-1: none), for KIP-360 retries.
    pub last_producer_id: i64,
    /// Current epoch.
    pub producer_epoch: i16,
    /// Previous epoch (-1: none), for KIP-360 retries.
    pub last_producer_epoch: i16,
    /// `transaction.timeout.ms`.
    pub timeout_ms: i32,
    /// State.
    pub state: TxnState,
    /// Partitions of the open (or ending) transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// Start of the open transaction (-1: none).
    pub start_ms: i64,
    /// Last change.
    pub last_update_ms: i64,
}

impl TxnMetadata {
    fn value(&self) -> TxnLogValue {
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

    fn job(&self, transactional_id: &str, commit: bool) -> MarkerJob {
        MarkerJob {
            transactional_id: transactional_id.to_string(),
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            commit,
            partitions: self.partitions.iter().cloned().collect(),
        }
    }

    /// Bump the epoch (remembering the previous one).
    fn bump(&mut self) {
        self.last_producer_id = self.producer_id;
        self.last_producer_epoch = self.producer_epoch;
        self.producer_epoch = self.producer_epoch.saturating_add(1);
    }
}

/// Markers to write when a transaction ends.
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
    /// Partitions that get a marker.
    pub partitions: Vec<(String, i32)>,
}

/// Outcome of [`TxnCoordinator::init_producer_id`].
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

/// Outcome of [`TxnCoordinator::end_txn`].
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

/// What [`TxnCoordinator::tick`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    /// Timed-out transactions being aborted (with a bumped epoch).
    pub aborts: Vec<(MarkerJob, TxnRecord)>,
    /// Tombstones of expired transactional ids.
    pub expired: Vec<TxnRecord>,
}

/// DescribeTransactions' view of one id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnDescription {
    /// State.
    pub state: TxnState,
    /// `transaction.timeout.ms`.
    pub timeout_ms: i32,
    /// Start of the open transaction (-1: none).
    pub start_ms: i64,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Partitions, by topic.
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

/// Every transactional id this coordinator owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnCoordinator {
    config: TxnConfig,
    txns: BTreeMap<String, TxnMetadata>,
}

/// Epoch at which a producer id is exhausted and replaced.
const EPOCH_EXHAUSTED: i16 = i16::MAX - 1;

fn record(id: &str, m: &TxnMetadata) -> TxnRecord {
    TxnRecord {
        transactional_id: id.to_string(),
        value: Some(m.value()),
    }
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

impl TxnCoordinator {
    /// An empty coordinator.
    pub fn new(config: TxnConfig) -> Self {
        TxnCoordinator {
            config,
            txns: BTreeMap::new(),
        }
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

    /// Whether InitProducerId for `txn_id` needs a fresh producer id.
    pub fn needs_producer_id(&self, txn_id: &str) -> bool {
        self.txns
            .get(txn_id)
            .is_none_or(|m| m.producer_epoch >= EPOCH_EXHAUSTED)
    }

    /// InitProducerId with a transactional id (see [`InitOutcome`]).
    pub fn init_producer_id(
        &mut self,
        txn_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        fresh_producer_id: Option<i64>,
        now_ms: i64,
    ) -> Result<InitOutcome, TxnError> {
        if txn_id.is_empty() {
            return Err(TxnError::InvalidRequest("empty transactional id".into()));
        }
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(TxnError::InvalidTransactionTimeout(format!(
                "{timeout_ms} ms is outside 1..={} (transaction.max.timeout.ms)",
                self.config.max_timeout_ms
            )));
        }
        let Some(m) = self.txns.get_mut(txn_id) else {
            let Some(pid) = fresh_producer_id else {
                return Err(TxnError::ConcurrentTransactions(
                    "a producer id must be allocated first".into(),
                ));
            };
            let m = TxnMetadata {
                producer_id: pid,
                last_producer_id: -1,
                producer_epoch: 0,
                last_producer_epoch: -1,
                timeout_ms,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                start_ms: -1,
                last_update_ms: now_ms,
            };
            let r = record(txn_id, &m);
            self.txns.insert(txn_id.to_string(), m);
            return Ok(InitOutcome::Ready {
                producer_id: pid,
                producer_epoch: 0,
                record: Some(r),
            });
        };
        if m.state.is_preparing() {
            return Err(TxnError::ConcurrentTransactions(format!(
                "{txn_id} is completing a transaction ({})",
                m.state.as_str()
            )));
        }
        let mut retry = false;
        if let Some((pid, epoch)) = expected {
            let current = pid == m.producer_id && epoch == m.producer_epoch;
            retry = m.last_producer_epoch >= 0
                && epoch == m.last_producer_epoch
                && (pid == m.last_producer_id || pid == m.producer_id);
            if !current && !retry {
                return Err(TxnError::ProducerFenced(format!(
                    "{txn_id}: producer {pid} epoch {epoch} is not current (producer {} epoch {})",
                    m.producer_id, m.producer_epoch
                )));
            }
        }
        if m.state == TxnState::Ongoing {
            // Fence the older producer: abort its transaction with a bumped epoch.
            m.bump();
            m.state = TxnState::PrepareAbort;
            m.last_update_ms = now_ms;
            return Ok(InitOutcome::AbortFirst {
                job: m.job(txn_id, false),
                record: record(txn_id, m),
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
            let Some(pid) = fresh_producer_id else {
                return Err(TxnError::ConcurrentTransactions(
                    "a producer id must be allocated first".into(),
                ));
            };
            m.last_producer_id = m.producer_id;
            m.last_producer_epoch = m.producer_epoch;
            m.producer_id = pid;
            m.producer_epoch = 0;
        } else {
            m.bump();
        }
        m.timeout_ms = timeout_ms;
        m.state = TxnState::Empty;
        m.partitions.clear();
        m.start_ms = -1;
        m.last_update_ms = now_ms;
        Ok(InitOutcome::Ready {
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            record: Some(record(txn_id, m)),
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

    /// AddPartitionsToTxn: the record to persist, `None` if nothing changed.
    pub fn add_partitions(
        &mut self,
        txn_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        now_ms: i64,
    ) -> Result<Option<TxnRecord>, TxnError> {
        let m = self.checked(txn_id, producer_id, epoch)?;
        if m.state.is_preparing() {
            return Err(TxnError::ConcurrentTransactions(format!(
                "{txn_id} is completing a transaction ({})",
                m.state.as_str()
            )));
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
        Ok(Some(record(txn_id, m)))
    }

    /// AddPartitionsToTxn `verify_only` (and Produce's KIP-890 check): each
    /// partition must be in the open transaction of this producer.
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

    /// EndTxn (see [`EndOutcome`]).
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
                    record: record(txn_id, m),
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

    /// After a job's markers were written: PrepareX → CompleteX. `None` if
    /// the job is stale (the id moved on).
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
        Some(record(txn_id, m))
    }

    /// Abort timed-out transactions (bumping the epoch, which fences their
    /// producer) and expire idle ids, at most `limit` of each.
    pub fn tick(&mut self, now_ms: i64, limit: usize) -> Tick {
        let mut tick = Tick::default();
        let expiration = self.config.id_expiration_ms;
        let mut expired_ids = Vec::new();
        for (id, m) in &mut self.txns {
            if m.state == TxnState::Ongoing
                && m.start_ms.saturating_add(i64::from(m.timeout_ms)) < now_ms
                && tick.aborts.len() < limit
            {
                m.bump();
                m.state = TxnState::PrepareAbort;
                m.last_update_ms = now_ms;
                tick.aborts.push((m.job(id, false), record(id, m)));
            } else if m.state.is_idle()
                && m.last_update_ms.saturating_add(expiration) < now_ms
                && expired_ids.len() < limit
            {
                expired_ids.push(id.clone());
            }
        }
        for id in expired_ids {
            self.txns.remove(&id);
            tick.expired.push(TxnRecord {
                transactional_id: id,
                value: None,
            });
        }
        tick
    }

    /// The earliest time an open transaction times out (`i64::MAX`: none).
    pub fn next_deadline(&self) -> i64 {
        self.txns
            .values()
            .filter(|m| m.state == TxnState::Ongoing)
            .map(|m| m.start_ms.saturating_add(i64::from(m.timeout_ms)))
            .min()
            .unwrap_or(i64::MAX)
    }

    /// Apply a record read back from `__transaction_state`.
    pub fn replay(&mut self, r: TxnRecord) {
        let Some(v) = r.value else {
            self.txns.remove(&r.transactional_id);
            return;
        };
        let mut m = TxnMetadata {
            producer_id: v.producer_id,
            last_producer_id: -1,
            producer_epoch: v.producer_epoch,
            last_producer_epoch: -1,
            timeout_ms: v.timeout_ms,
            state: v.state,
            partitions: v
                .partitions
                .into_iter()
                .flat_map(|(t, ids)| ids.into_iter().map(move |p| (t.clone(), p)))
                .collect(),
            start_ms: v.start_ms,
            last_update_ms: v.last_update_ms,
        };
        if m.state == TxnState::PrepareEpochFence {
            // Kafka's fence in progress: finish it as an abort with the next epoch.
            m.bump();
            m.state = TxnState::PrepareAbort;
        }
        self.txns.insert(r.transactional_id, m);
    }

    /// Transactions left in a Prepare state (after replay: the broker
    /// stopped while writing their markers).
    pub fn unfinished(&self) -> Vec<MarkerJob> {
        self.txns
            .iter()
            .filter_map(|(id, m)| match m.state {
                TxnState::PrepareCommit => Some(m.job(id, true)),
                TxnState::PrepareAbort => Some(m.job(id, false)),
                _ => None,
            })
            .collect()
    }

    /// DescribeTransactions.
    pub fn describe(&self, txn_id: &str) -> Result<TxnDescription, TxnError> {
        let m = self
            .txns
            .get(txn_id)
            .ok_or_else(|| TxnError::TransactionalIdNotFound(txn_id.to_string()))?;
        Ok(TxnDescription {
            state: m.state,
            timeout_ms: m.timeout_ms,
            start_ms: m.start_ms,
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            topics: m.value().partitions,
        })
    }

    /// ListTransactions: ids in one of `states` (all if empty), owned by one
    /// of `producer_ids` (all if empty), and (`duration_ms` >= 0) open for
    /// at least that long.
    pub fn list(
        &self,
        states: &[String],
        producer_ids: &[i64],
        duration_ms: i64,
        now_ms: i64,
    ) -> Vec<TxnListing> {
        self.txns
            .iter()
            .filter(|(_, m)| states.is_empty() || states.iter().any(|s| s == m.state.as_str()))
            .filter(|(_, m)| producer_ids.is_empty() || producer_ids.contains(&m.producer_id))
            .filter(|(_, m)| {
                duration_ms < 0
                    || (m.start_ms >= 0 && now_ms.saturating_sub(m.start_ms) >= duration_ms)
            })
            .map(|(id, m)| TxnListing {
                transactional_id: id.clone(),
                producer_id: m.producer_id,
                state: m.state,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
