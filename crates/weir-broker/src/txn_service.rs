//! The transaction coordinator's driver: owns the pure
//! [`weir_txn::TxnCoordinator`], appends its records to
//! `__transaction_state`, writes the commit/abort markers when a
//! transaction ends, and aborts transactions that outlive their timeout.
//!
//! Like Kafka, `__transaction_state` is created on first use (the first
//! FindCoordinator or InitProducerId for a transactional id) and, when it
//! exists, replayed at start-up; transactions found half-ended (PrepareCommit
//! or PrepareAbort) then get their markers written again and are completed.
//!
//! Ordering: the coordinator mutex is held while a call runs and while its
//! record is appended (page cache), so the log holds records in state order.
//! Waiting for fsync and writing markers happen after it is released; while
//! markers are being written the transaction is in a Prepare state and other
//! calls for it get CONCURRENT_TRANSACTIONS, as in Kafka.
//!
//! Single node: the coordinator epoch written into markers is 0 (the
//! `__transaction_state` partition's leader epoch, which never changes here).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use weir_metadata::topics::CreateTopic;
use weir_protocol::control::Marker;
use weir_protocol::records::BatchBuilder;
use weir_txn::{EndOutcome, InitOutcome, MarkerJob, TxnCoordinator, TxnError, TxnRecord};

use crate::broker::{Broker, now_ms};
use crate::errors::ErrorCode;
use crate::group_service::partition_for;
use crate::partition::Partition;
use crate::replay::Item;
use crate::txn_markers::{append_marker, wait_durable};

/// The internal topic holding transaction state.
pub const TXN_TOPIC: &str = "__transaction_state";
/// Coordinator epoch written into markers (see the module docs).
pub const COORDINATOR_EPOCH: i32 = 0;
/// InitProducerId rounds (fence an open transaction, then bump) at most.
const INIT_ROUNDS_MAX: usize = 4;

const NOT_STARTED: u8 = 0;
const LOADING: u8 = 1;
const READY: u8 = 2;

/// Why a coordinator call failed, as the handler answers it.
#[derive(Debug, thiserror::Error)]
pub enum TxnCallError {
    /// The coordinator refused the operation.
    #[error(transparent)]
    Txn(#[from] TxnError),
    /// `__transaction_state` is being created or loaded.
    #[error("the transaction coordinator is loading")]
    Loading,
    /// Writing state failed.
    #[error("transaction state not written: {0}")]
    Storage(String),
    /// A marker could not be written; the transaction stays in its Prepare
    /// state and is retried by the timer.
    #[error("transaction markers not written: {0:?}")]
    Markers(ErrorCode),
}

/// The coordinator and its driver state.
pub struct TxnService {
    inner: Mutex<TxnCoordinator>,
    state: AtomicU8,
    partitions: AtomicI32,
    /// Transactional ids whose markers are being written right now.
    running: Mutex<HashSet<String>>,
}

impl TxnService {
    /// A coordinator with no state; [`TxnService::ensure_started`] loads it.
    pub fn new(config: weir_txn::TxnConfig) -> Self {
        TxnService {
            inner: Mutex::new(TxnCoordinator::new(config)),
            state: AtomicU8::new(NOT_STARTED),
            partitions: AtomicI32::new(0),
            running: Mutex::new(HashSet::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, TxnCoordinator> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the coordinator serves requests.
    pub fn is_ready(&self) -> bool {
        self.state.load(Ordering::Acquire) == READY
    }

    /// Start loading (creating `__transaction_state` if `create`) unless
    /// already started. Returns whether the coordinator is ready now.
    pub fn ensure_started(broker: &Arc<Broker>, create: bool) -> bool {
        let svc = &broker.txns;
        if svc.is_ready() {
            return true;
        }
        if !create && broker.image().topic(TXN_TOPIC).is_none() {
            return false;
        }
        if svc
            .state
            .compare_exchange(NOT_STARTED, LOADING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let b = broker.clone();
            tokio::spawn(async move {
                if let Err(e) = start(&b).await {
                    tracing::error!(error = %e, "transaction coordinator failed to load");
                    b.txns.state.store(NOT_STARTED, Ordering::Release);
                }
            });
        }
        false
    }

    /// Load at broker start if `__transaction_state` exists.
    pub async fn start_if_present(broker: &Arc<Broker>) -> Result<(), String> {
        if broker.image().topic(TXN_TOPIC).is_none() {
            return Ok(());
        }
        broker.txns.state.store(LOADING, Ordering::Release);
        start(broker).await
    }

    fn append(
        &self,
        broker: &Broker,
        record: &TxnRecord,
    ) -> Result<(Arc<Partition>, i64), TxnCallError> {
        let index = partition_for(
            &record.transactional_id,
            self.partitions.load(Ordering::Acquire),
        );
        let p = broker
            .logs
            .get(TXN_TOPIC, index)
            .ok_or_else(|| TxnCallError::Storage(format!("{TXN_TOPIC}-{index} is not open")))?;
        let (key, value) = record
            .encode()
            .map_err(|e| TxnCallError::Storage(e.to_string()))?;
        let now = now_ms();
        let mut batch = BatchBuilder::new(now);
        batch.push(Some(&key), value.as_deref(), &[], now);
        let info = p
            .append(BytesMut::from(&batch.build()[..]), None, now)
            .map_err(|e| TxnCallError::Storage(e.to_string()))?;
        Ok((p, info.last_offset + 1))
    }

    /// Append `record` (the caller holds the coordinator lock, so records
    /// land in state order); returns what must become durable.
    fn persist(
        &self,
        broker: &Broker,
        record: Option<TxnRecord>,
    ) -> Result<Option<(Arc<Partition>, i64)>, TxnCallError> {
        record.map(|r| self.append(broker, &r)).transpose()
    }

    /// Mark a transaction's markers as being written (by the caller, who
    /// must then call [`TxnService::finish`]). False if already claimed.
    fn claim(&self, txn_id: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(txn_id.to_string())
    }

    /// InitProducerId with a transactional id: (producer id, epoch).
    pub async fn init_producer_id(
        broker: &Arc<Broker>,
        txn_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), TxnCallError> {
        let svc = &broker.txns;
        if !Self::ensure_started(broker, true) {
            return Err(TxnCallError::Loading);
        }
        for _ in 0..INIT_ROUNDS_MAX {
            let fresh = if svc.lock().needs_producer_id(txn_id) {
                Some(
                    broker
                        .next_producer_id()
                        .await
                        .map_err(|e| TxnCallError::Storage(e.to_string()))?,
                )
            } else {
                None
            };
            let (outcome, wait) = {
                let mut c = svc.lock();
                let outcome = c.init_producer_id(txn_id, timeout_ms, expected, fresh, now_ms())?;
                let record = match &outcome {
                    InitOutcome::Ready { record, .. } => record.clone(),
                    InitOutcome::AbortFirst { record, .. } => Some(record.clone()),
                };
                let wait = svc.persist(broker, record)?;
                if let InitOutcome::AbortFirst { job, .. } = &outcome {
                    svc.claim(&job.transactional_id);
                }
                (outcome, wait)
            };
            durable(wait).await?;
            match outcome {
                InitOutcome::Ready {
                    producer_id,
                    producer_epoch,
                    ..
                } => return Ok((producer_id, producer_epoch)),
                InitOutcome::AbortFirst { job, .. } => {
                    tracing::info!(
                        transactional_id = txn_id,
                        producer_id = job.producer_id,
                        "fencing the open transaction of an older producer"
                    );
                    svc.finish(broker, job).await?;
                }
            }
        }
        Err(
            TxnError::ConcurrentTransactions(format!("transaction {txn_id} kept changing; retry"))
                .into(),
        )
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn with the group's offsets partition).
    pub async fn add_partitions(
        broker: &Arc<Broker>,
        txn_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<(), TxnCallError> {
        let svc = &broker.txns;
        if !Self::ensure_started(broker, false) {
            return Err(TxnCallError::Loading);
        }
        let wait = {
            let mut c = svc.lock();
            let record = c.add_partitions(txn_id, producer_id, epoch, partitions, now_ms())?;
            svc.persist(broker, record)?
        };
        durable(wait).await
    }

    /// AddPartitionsToTxn v4+ `verify_only`.
    pub fn verify_partitions(
        &self,
        txn_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Vec<((String, i32), Result<(), TxnError>)> {
        self.lock()
            .verify_partitions(txn_id, producer_id, epoch, partitions)
    }

    /// EndTxn: write the Prepare record, the markers, then the Complete
    /// record; answers once all are durable.
    pub async fn end_txn(
        broker: &Arc<Broker>,
        txn_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<(), TxnCallError> {
        let svc = &broker.txns;
        if !Self::ensure_started(broker, false) {
            return Err(TxnCallError::Loading);
        }
        let (job, wait) = {
            let mut c = svc.lock();
            match c.end_txn(txn_id, producer_id, epoch, commit, now_ms())? {
                EndOutcome::AlreadyDone => return Ok(()),
                EndOutcome::WriteMarkers { job, record } => {
                    let wait = svc.persist(broker, Some(record))?;
                    svc.claim(&job.transactional_id);
                    (job, wait)
                }
            }
        };
        durable(wait).await?;
        svc.finish(broker, job).await
    }

    /// Write a job's markers (durably), then its Complete record. The
    /// caller claimed the job ([`TxnService::claim`]); this releases it.
    async fn finish(&self, broker: &Arc<Broker>, job: MarkerJob) -> Result<(), TxnCallError> {
        let result = self.write_markers_and_complete(broker, &job).await;
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&job.transactional_id);
        result
    }

    async fn write_markers_and_complete(
        &self,
        broker: &Arc<Broker>,
        job: &MarkerJob,
    ) -> Result<(), TxnCallError> {
        let marker = Marker {
            producer_id: job.producer_id,
            producer_epoch: job.producer_epoch,
            commit: job.commit,
            coordinator_epoch: COORDINATOR_EPOCH,
        };
        let mut waits = Vec::with_capacity(job.partitions.len());
        for (topic, index) in &job.partitions {
            match append_marker(broker, topic, *index, &marker) {
                Ok(w) => waits.push(w),
                // A partition of a deleted topic needs no marker (Kafka
                // drops markers for partitions that no longer exist).
                Err(ErrorCode::UnknownTopicOrPartition) => {}
                Err(code) => return Err(TxnCallError::Markers(code)),
            }
        }
        for (p, end) in waits {
            wait_durable(&p, end).await.map_err(TxnCallError::Markers)?;
        }
        let wait = {
            let mut c = self.lock();
            let record = c.complete(
                &job.transactional_id,
                job.producer_id,
                job.producer_epoch,
                now_ms(),
            );
            self.persist(broker, record)?
        };
        durable(wait).await
    }

    /// A read-only look at the coordinator.
    pub fn read<T>(&self, f: impl FnOnce(&TxnCoordinator) -> T) -> T {
        f(&self.lock())
    }
}

async fn durable(wait: Option<(Arc<Partition>, i64)>) -> Result<(), TxnCallError> {
    if let Some((p, end)) = wait {
        p.wait_durable(end)
            .await
            .map_err(|e| TxnCallError::Storage(e.to_string()))?;
    }
    Ok(())
}

/// Create `__transaction_state` if missing, replay it, finish half-ended
/// transactions, start the timers.
async fn start(broker: &Arc<Broker>) -> Result<(), String> {
    let cfg = &broker.config.txn;
    if broker.image().topic(TXN_TOPIC).is_none() {
        let configs = BTreeMap::from([
            ("cleanup.policy".to_string(), "compact".to_string()),
            (
                "segment.bytes".to_string(),
                cfg.state_log_segment_bytes.to_string(),
            ),
        ]);
        let req = CreateTopic {
            name: TXN_TOPIC.to_string(),
            num_partitions: cfg.state_log_num_partitions,
            replication_factor: 1,
            assignments: BTreeMap::new(),
            configs,
        };
        if let Some(Err(e)) = broker.create_topics(vec![req], false).await.pop() {
            return Err(format!("creating {TXN_TOPIC}: {e}"));
        }
    }
    let count = broker
        .image()
        .topic(TXN_TOPIC)
        .map(|t| i32::try_from(t.partitions.len()).unwrap_or(i32::MAX))
        .unwrap_or(0);
    let svc = &broker.txns;
    let mut loaded = 0usize;
    let unfinished = {
        let mut c = svc.lock();
        for index in 0..count {
            if let Some(p) = broker.logs.get(TXN_TOPIC, index) {
                loaded += replay_partition(&p, &mut c).map_err(|e| e.to_string())?;
            }
        }
        let jobs = c.unfinished();
        for j in &jobs {
            svc.claim(&j.transactional_id);
        }
        jobs
    };
    svc.partitions.store(count, Ordering::Release);
    svc.state.store(READY, Ordering::Release);
    tracing::info!(
        partitions = count,
        records = loaded,
        transactions = svc.read(|c| c.len()),
        unfinished = unfinished.len(),
        "transaction coordinator loaded"
    );
    for job in unfinished {
        let b = broker.clone();
        tokio::spawn(async move {
            let id = job.transactional_id.clone();
            if let Err(e) = b.txns.finish(&b, job).await {
                tracing::warn!(transactional_id = %id, error = %e, "completing a recovered transaction failed; will retry");
            }
        });
    }
    tokio::spawn(timer_loop(broker.clone()));
    Ok(())
}

fn replay_partition(
    p: &Partition,
    c: &mut TxnCoordinator,
) -> Result<usize, weir_storage::StorageError> {
    let mut count = 0;
    crate::replay::replay_partition(p, |item| {
        // __transaction_state holds no transactions of its own.
        let Item::Record(_, r) = item else { return };
        match TxnRecord::decode(r.key.as_ref(), r.value.as_ref()) {
            Ok(rec) => {
                c.replay(rec);
                count += 1;
            }
            Err(e) => {
                tracing::warn!(partition = p.index, offset = r.offset, error = %e, "skipping unreadable record in {TXN_TOPIC}");
            }
        }
    })?;
    Ok(count)
}

/// Abort timed-out transactions, expire idle transactional ids, and retry
/// transactions whose markers could not be written.
async fn timer_loop(broker: Arc<Broker>) {
    let cfg = &broker.config.txn;
    let every = Duration::from_millis(cfg.abort_timed_out_interval_ms);
    let mut last_expiry = now_ms();
    loop {
        tokio::time::sleep(every).await;
        let svc = &broker.txns;
        let now = now_ms();
        let expire = now - last_expiry >= cfg.remove_expired_interval_ms as i64;
        let mut jobs = Vec::new();
        {
            let mut c = svc.lock();
            let tick = c.tick(now, usize::MAX);
            for (job, record) in tick.aborts {
                tracing::info!(
                    transactional_id = %job.transactional_id,
                    producer_id = job.producer_id,
                    producer_epoch = job.producer_epoch,
                    "aborting timed-out transaction"
                );
                match svc.append(&broker, &record) {
                    Ok(wait) => {
                        svc.claim(&job.transactional_id);
                        jobs.push((job, Some(wait)));
                    }
                    Err(e) => {
                        tracing::error!(transactional_id = %record.transactional_id, error = %e, "transaction state not written")
                    }
                }
            }
            if expire {
                last_expiry = now;
                for r in &tick.expired {
                    tracing::info!(transactional_id = %r.transactional_id, "transactional id expired");
                    if let Err(e) = svc.append(&broker, r) {
                        tracing::error!(transactional_id = %r.transactional_id, error = %e, "transaction state not written");
                    }
                }
            }
            for job in c.unfinished() {
                if svc.claim(&job.transactional_id) {
                    jobs.push((job, None));
                }
            }
        }
        for (job, wait) in jobs {
            let b = broker.clone();
            tokio::spawn(async move {
                let id = job.transactional_id.clone();
                let result = match durable(wait).await {
                    Ok(()) => b.txns.finish(&b, job).await,
                    Err(e) => {
                        b.txns
                            .running
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&id);
                        Err(e)
                    }
                };
                if let Err(e) = result {
                    tracing::warn!(transactional_id = %id, error = %e, "ending a transaction failed; will retry");
                }
            });
        }
    }
}
