//! One partition this broker leads: its log, effective configs, and the
//! group-commit fsync used by `acks=all`.
//!
//! Locking: `log` is a plain mutex held only for one append or one read
//! (page-cache work, microseconds). fsync never runs under it: the flusher
//! takes a [`weir_storage::SyncTarget`] (a file handle and the end offset
//! it covers) under the lock and syncs outside it.
//!
//! Group commit: `flush_lock` is held by whoever is running an fsync. A
//! producer waiting for durability of offset `o` takes the lock; if the
//! previous holder's sync already covered `o` it returns at once, otherwise
//! it syncs everything appended so far, covering every producer queued
//! behind it with one `fdatasync`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, RwLock};

use bytes::{Bytes, BytesMut};
use weir_metadata::topic_config::EffectiveTopicConfig;
use weir_protocol::record_batch::{BatchHeader, BatchIter};
use weir_storage::{AppendInfo, Log, StorageError};
use weir_types::TopicId;

use crate::producer_state::{
    AbortedTxn, BatchMeta, Check, MarkerRefused, ProducerStates, SequenceError,
};
use weir_protocol::control::{Marker, build_marker_batch, decode_marker};

/// File beside the log holding the producer-state snapshot.
pub const PRODUCER_SNAPSHOT_FILE: &str = "producer-state.snapshot";

/// Result of appending one producer batch.
#[derive(Debug)]
pub enum AppendOutcome {
    /// Written.
    Appended(AppendInfo),
    /// A retry of a batch already in the log; not written again.
    Duplicate(BatchMeta),
}

/// Why an append failed.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Idempotent-producer sequence or epoch check failed.
    #[error(transparent)]
    Sequence(#[from] SequenceError),
    /// A transaction marker was refused.
    #[error(transparent)]
    Marker(#[from] MarkerRefused),
}

/// Last sequence of a batch: base sequence plus record count, wrapping at
/// `i32::MAX` like Kafka's `DefaultRecordBatch.incrementSequence`.
pub fn last_sequence(h: &BatchHeader) -> i32 {
    let delta = h.last_offset_delta.max(0);
    if h.base_sequence > i32::MAX - delta {
        delta - (i32::MAX - h.base_sequence) - 1
    } else {
        h.base_sequence + delta
    }
}

/// Snapshot format: JSON `{"offset": <log-end offset covered>, "state": {...}}`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Snapshot {
    offset: i64,
    state: ProducerStates,
}

/// The per-topic throughput counters of one partition (`weir_records_in_total`
/// and friends, labelled by topic). Resolved once per partition so Produce
/// and Fetch only add to atomics: no label allocation or registry lookup per
/// request.
pub struct TopicCounters {
    /// Records appended by Produce.
    pub records_in: metrics::Counter,
    /// Record-batch bytes appended by Produce.
    pub bytes_in: metrics::Counter,
    /// Records returned to consumers.
    pub records_out: metrics::Counter,
    /// Record-batch bytes returned to consumers.
    pub bytes_out: metrics::Counter,
}

impl TopicCounters {
    fn new(topic: &str) -> Self {
        let counter = |name: &'static str| metrics::counter!(name, "topic" => topic.to_string());
        TopicCounters {
            records_in: counter(weir_metrics::RECORDS_IN),
            bytes_in: counter(weir_metrics::BYTES_IN),
            records_out: counter(weir_metrics::RECORDS_OUT),
            bytes_out: counter(weir_metrics::BYTES_OUT),
        }
    }
}

/// A partition led by this broker.
pub struct Partition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub index: i32,
    /// Topic id.
    pub topic_id: TopicId,
    /// Leader epoch (single node: from metadata, 0 until leadership moves).
    pub leader_epoch: i32,
    log: Mutex<Option<Log>>,
    config: RwLock<EffectiveTopicConfig>,
    flush_lock: tokio::sync::Mutex<()>,
    /// Offset (exclusive) below which everything is fsynced.
    flushed_offset: AtomicI64,
    /// Set when an fsync failed: the partition takes no more writes.
    failed: AtomicBool,
    /// Idempotent producers; locked only while `log` is held.
    producers: Mutex<ProducerStates>,
    /// The log dir (a `log.dirs` entry) holding this partition's directory.
    log_dir: PathBuf,
    /// Taken on first use, not at open: partitions open at start-up before
    /// the metrics recorder is installed, and a handle taken then would stay
    /// a no-op for the life of the process.
    counters: OnceLock<TopicCounters>,
}

impl Partition {
    /// Wrap an opened log.
    pub fn new(
        topic: String,
        index: i32,
        topic_id: TopicId,
        leader_epoch: i32,
        log: Log,
        config: EffectiveTopicConfig,
    ) -> Self {
        let flushed = log.flushed_offset();
        let producers = load_producer_state(&log);
        let log_dir = log
            .dir()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Partition {
            topic,
            index,
            topic_id,
            leader_epoch,
            log: Mutex::new(Some(log)),
            config: RwLock::new(config),
            flush_lock: tokio::sync::Mutex::new(()),
            flushed_offset: AtomicI64::new(flushed),
            failed: AtomicBool::new(false),
            producers: Mutex::new(producers),
            log_dir,
            counters: OnceLock::new(),
        }
    }

    /// The log dir (a `log.dirs` entry) this partition's directory is in.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// This partition's throughput counters.
    pub fn counters(&self) -> &TopicCounters {
        self.counters
            .get_or_init(|| TopicCounters::new(&self.topic))
    }

    /// Append one validated producer batch, checking idempotent-producer
    /// sequences when it carries a producer id.
    pub fn append_batch(
        &self,
        records: BytesMut,
        header: &BatchHeader,
        log_append_time_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<AppendOutcome, AppendError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(StorageError::LogOffline.into());
        }
        let mut guard = self.lock();
        let log = guard.as_mut().ok_or(StorageError::LogOffline)?;
        if !header.has_producer_id() {
            return Ok(AppendOutcome::Appended(log.append_with_leader_epoch(
                records,
                Some(self.leader_epoch),
                log_append_time_ms,
                now_ms,
            )?));
        }
        let mut producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        let last_seq = last_sequence(header);
        let transactional = header.is_transactional();
        match producers.check(
            header.producer_id,
            header.producer_epoch,
            header.base_sequence,
            last_seq,
            transactional,
        )? {
            Check::Duplicate(meta) => Ok(AppendOutcome::Duplicate(meta)),
            Check::Append => {
                let info = log.append_with_leader_epoch(
                    records,
                    Some(self.leader_epoch),
                    log_append_time_ms,
                    now_ms,
                )?;
                let meta = BatchMeta {
                    first_seq: header.base_sequence,
                    last_seq,
                    first_offset: info.first_offset,
                    last_offset: info.last_offset,
                };
                producers.update(
                    header.producer_id,
                    header.producer_epoch,
                    meta,
                    info.max_timestamp,
                    transactional,
                );
                Ok(AppendOutcome::Appended(info))
            }
        }
    }

    /// Append a transactional batch written by a coordinator (offsets
    /// committed in a transaction, in `__consumer_offsets`): the producer
    /// epoch is checked, sequences are not (Kafka's coordinator origin).
    pub fn append_coordinator_batch(
        &self,
        records: BytesMut,
        header: &BatchHeader,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(StorageError::LogOffline.into());
        }
        let mut guard = self.lock();
        let log = guard.as_mut().ok_or(StorageError::LogOffline)?;
        let mut producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        producers.check_coordinator_batch(header.producer_id, header.producer_epoch)?;
        let info = log.append_with_leader_epoch(records, Some(self.leader_epoch), None, now_ms)?;
        producers.update_coordinator_batch(
            header.producer_id,
            header.producer_epoch,
            info.first_offset,
            info.max_timestamp,
        );
        Ok(info)
    }

    /// Append a commit or abort marker for `marker.producer_id`'s
    /// transaction and close it here.
    pub fn append_marker(&self, marker: &Marker, now_ms: i64) -> Result<AppendInfo, AppendError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(StorageError::LogOffline.into());
        }
        let mut guard = self.lock();
        let log = guard.as_mut().ok_or(StorageError::LogOffline)?;
        let mut producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        producers.check_marker(
            marker.producer_id,
            marker.producer_epoch,
            marker.coordinator_epoch,
        )?;
        let batch = build_marker_batch(marker, now_ms);
        let info = log.append_with_leader_epoch(
            BytesMut::from(&batch[..]),
            Some(self.leader_epoch),
            None,
            now_ms,
        )?;
        producers.apply_marker(
            marker.producer_id,
            marker.producer_epoch,
            marker.commit,
            marker.coordinator_epoch,
            info.first_offset,
            now_ms,
        );
        Ok(info)
    }

    /// Last stable offset: the first offset of the oldest open transaction,
    /// or the high watermark when none is open.
    pub fn last_stable_offset(&self) -> Result<i64, StorageError> {
        let guard = self.lock();
        let log = guard.as_ref().ok_or(StorageError::LogOffline)?;
        Ok(self.lso_locked(log))
    }

    fn lso_locked(&self, log: &Log) -> i64 {
        let hw = log.log_end_offset();
        let producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        producers.first_unstable_offset().map_or(hw, |o| o.min(hw))
    }

    /// read_committed read: whole batches from `offset` below the last
    /// stable offset, and the aborted transactions overlapping them.
    pub fn read_committed(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<(Bytes, Vec<AbortedTxn>), StorageError> {
        let guard = self.lock();
        let log = guard.as_ref().ok_or(StorageError::LogOffline)?;
        let lso = self.lso_locked(log);
        let bytes = log.read(offset, max_bytes, lso)?;
        let end = BatchIter::new(&bytes)
            .filter_map(Result::ok)
            .last()
            .map_or(offset, |(_, h)| h.next_offset());
        let producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        Ok((bytes, producers.aborted_between(offset, end)))
    }

    /// Forget idle producers (`producer.id.expiration.ms`); returns how many.
    pub fn expire_producers(&self, now_ms: i64, expiration_ms: i64) -> usize {
        let _log = self.lock();
        self.producers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .expire(now_ms, expiration_ms)
    }

    fn prune_aborted(&self, log: &Log) {
        self.producers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .prune_aborted(log.log_start_offset());
    }

    /// Write the producer-state snapshot (atomically: temp, fsync, rename).
    fn write_producer_snapshot(&self, log: &Log) {
        let producers = self
            .producers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let snap = Snapshot {
            offset: log.log_end_offset(),
            state: producers,
        };
        let path = log.dir().join(PRODUCER_SNAPSHOT_FILE);
        let tmp = log.dir().join(format!("{PRODUCER_SNAPSHOT_FILE}.tmp"));
        let result = serde_json::to_vec(&snap)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = result {
            tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "producer snapshot not written");
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Log>> {
        // A panic while holding the lock cannot leave the Log half-updated
        // in a way the next caller could observe (appends write the file
        // before updating offsets), so poisoning is ignored.
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replace the effective topic config (dynamic config change).
    pub fn set_config(&self, config: EffectiveTopicConfig) {
        if let Some(log) = self.lock().as_mut()
            && let Err(e) = log.set_config(crate::log_manager::log_config(&config))
        {
            tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "segment configs not applied");
        }
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = config;
    }

    /// Current effective topic config.
    pub fn config(&self) -> EffectiveTopicConfig {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Append a validated record set.
    pub fn append(
        &self,
        records: BytesMut,
        log_append_time_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<AppendInfo, StorageError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(StorageError::LogOffline);
        }
        let mut guard = self.lock();
        let log = guard.as_mut().ok_or(StorageError::LogOffline)?;
        log.append_with_leader_epoch(records, Some(self.leader_epoch), log_append_time_ms, now_ms)
    }

    /// Read whole batches from `offset`, at most `max_bytes` (but at least
    /// one batch), up to the high watermark.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<Bytes, StorageError> {
        let guard = self.lock();
        let log = guard.as_ref().ok_or(StorageError::LogOffline)?;
        let hw = log.log_end_offset();
        log.read(offset, max_bytes, hw)
    }

    /// (log-start offset, high watermark). On a single node the high
    /// watermark is the log-end offset: the only in-sync replica has it.
    pub fn offsets(&self) -> Result<(i64, i64), StorageError> {
        let guard = self.lock();
        let log = guard.as_ref().ok_or(StorageError::LogOffline)?;
        Ok((log.log_start_offset(), log.log_end_offset()))
    }

    /// First offset with timestamp >= `ts`.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, StorageError> {
        let guard = self.lock();
        let log = guard.as_ref().ok_or(StorageError::LogOffline)?;
        log.offset_for_timestamp(ts)
    }

    /// Bytes on disk.
    pub fn size_bytes(&self) -> u64 {
        self.lock().as_ref().map(|l| l.size_bytes()).unwrap_or(0)
    }

    /// Wait until everything below `offset_exclusive` is fsynced (group commit).
    pub async fn wait_durable(&self, offset_exclusive: i64) -> Result<(), StorageError> {
        loop {
            if self.flushed_offset.load(Ordering::Acquire) >= offset_exclusive {
                return Ok(());
            }
            let _syncing = self.flush_lock.lock().await;
            if self.flushed_offset.load(Ordering::Acquire) >= offset_exclusive {
                return Ok(());
            }
            self.sync_once().await?;
        }
    }

    /// One fsync of everything appended so far. Caller holds `flush_lock`.
    async fn sync_once(&self) -> Result<(), StorageError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(StorageError::LogOffline);
        }
        let target = {
            let guard = self.lock();
            guard
                .as_ref()
                .ok_or(StorageError::LogOffline)?
                .sync_target()?
        };
        let end = target.offset;
        let result = tokio::task::spawn_blocking(move || target.sync()).await;
        match result {
            Ok(Ok(())) => {
                if let Some(log) = self.lock().as_mut() {
                    log.mark_flushed(end);
                }
                self.flushed_offset.fetch_max(end, Ordering::AcqRel);
                Ok(())
            }
            Ok(Err(e)) => {
                // STYLE rule 8: after a failed fsync the page cache state is
                // unknown; never write to this log again.
                self.failed.store(true, Ordering::Release);
                if let Some(log) = self.lock().as_mut() {
                    log.mark_offline();
                }
                tracing::error!(topic = %self.topic, partition = self.index, error = %e, "fsync failed; partition offline");
                Err(e)
            }
            Err(join) => {
                self.failed.store(true, Ordering::Release);
                tracing::error!(topic = %self.topic, partition = self.index, error = %join, "fsync task failed; partition offline");
                Err(StorageError::LogOffline)
            }
        }
    }

    /// Fsync if more than `flush.messages` are unflushed or the last flush
    /// is older than `flush.ms` (Kafka's `log.flush.interval.*`).
    pub async fn maybe_flush(&self, ms_since_last: i64) -> Result<(), StorageError> {
        let cfg = self.config();
        let (_, leo) = self.offsets()?;
        let unflushed = leo - self.flushed_offset.load(Ordering::Acquire);
        if unflushed > 0 && (unflushed >= cfg.flush_messages || ms_since_last >= cfg.flush_ms) {
            self.wait_durable(leo).await?;
        }
        Ok(())
    }

    /// Write the recovery-point checkpoint.
    pub fn checkpoint(&self) -> Result<(), StorageError> {
        match self.lock().as_mut() {
            Some(log) => {
                self.write_producer_snapshot(log);
                log.checkpoint()
            }
            None => Ok(()),
        }
    }

    /// Clean close: flush and mark the log cleanly shut down.
    pub fn close(&self) -> Result<(), StorageError> {
        match self.lock().take() {
            Some(log) => {
                self.write_producer_snapshot(&log);
                log.close()
            }
            None => Ok(()),
        }
    }

    /// Close and delete the partition's files.
    pub fn delete(&self) -> Result<(), StorageError> {
        match self.lock().take() {
            Some(log) => log.delete(),
            None => Ok(()),
        }
    }
}

/// Bytes read per step while scanning for the largest timestamp.
const SCAN_CHUNK_BYTES: usize = 1 << 20;

impl Partition {
    /// Offset and timestamp of the record with the largest timestamp
    /// (ListOffsets `MAX_TIMESTAMP`, KIP-734). Scans batch headers; for an
    /// uncompressed batch the exact record is found, for a compressed one
    /// its last offset is reported.
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>, StorageError> {
        use weir_protocol::record_batch::{BatchIter, Compression};
        use weir_protocol::records::decode_batch_records;
        let (start, end) = self.offsets()?;
        let mut best: Option<(i64, i64)> = None;
        let mut offset = start;
        while offset < end {
            let chunk = self.read(offset, SCAN_CHUNK_BYTES)?;
            let mut advanced = false;
            for item in BatchIter::new(&chunk) {
                let Ok((pos, h)) = item else { break };
                advanced = true;
                offset = h.last_offset() + 1;
                if best.is_some_and(|(_, ts)| ts >= h.max_timestamp) {
                    continue;
                }
                let mut at = h.last_offset();
                if h.compression() == Compression::None
                    && let Ok((_, records)) =
                        decode_batch_records(&chunk.slice(pos..pos + h.total_len()))
                    && let Some(r) = records.iter().find(|r| r.timestamp == h.max_timestamp)
                {
                    at = r.offset;
                }
                best = Some((at, h.max_timestamp));
            }
            if !advanced {
                break;
            }
        }
        Ok(best)
    }
}

/// Rebuild producer state: the snapshot if it is not ahead of the log, then
/// every batch after it (after a crash the snapshot may be older than the
/// log end, or newer if the tail was truncated, in which case it is unused).
fn load_producer_state(log: &Log) -> ProducerStates {
    let end = log.log_end_offset();
    let snapshot = std::fs::read(log.dir().join(PRODUCER_SNAPSHOT_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<Snapshot>(&b).ok())
        .filter(|s| s.offset <= end && s.offset >= log.log_start_offset());
    let (mut state, mut offset) = match snapshot {
        Some(s) => (s.state, s.offset),
        None => (ProducerStates::new(), log.log_start_offset()),
    };
    while offset < end {
        let Ok(chunk) = log.read(offset, SCAN_CHUNK_BYTES, end) else {
            break;
        };
        let mut advanced = false;
        for item in BatchIter::new(&chunk) {
            let Ok((pos, h)) = item else { break };
            advanced = true;
            offset = h.last_offset() + 1;
            if !h.has_producer_id() {
                continue;
            }
            if h.is_control() {
                match chunk
                    .get(pos..pos + h.total_len())
                    .map(|b| decode_marker(&chunk.slice_ref(b)))
                {
                    Some(Ok(m)) => state.apply_marker(
                        m.producer_id,
                        m.producer_epoch,
                        m.commit,
                        m.coordinator_epoch,
                        h.base_offset,
                        h.max_timestamp,
                    ),
                    Some(Err(e)) => {
                        tracing::warn!(offset = h.base_offset, error = %e, "skipping unreadable transaction marker");
                    }
                    None => break,
                }
            } else if h.base_sequence < 0 && h.is_transactional() {
                state.update_coordinator_batch(
                    h.producer_id,
                    h.producer_epoch,
                    h.base_offset,
                    h.max_timestamp,
                );
            } else {
                let meta = BatchMeta {
                    first_seq: h.base_sequence,
                    last_seq: last_sequence(&h),
                    first_offset: h.base_offset,
                    last_offset: h.last_offset(),
                };
                state.update(
                    h.producer_id,
                    h.producer_epoch,
                    meta,
                    h.max_timestamp,
                    h.is_transactional(),
                );
            }
        }
        if !advanced {
            break;
        }
    }
    state
}

impl Partition {
    /// Apply `retention.ms` and `retention.bytes` (never the active segment
    /// unless it is itself past `retention.ms`). Returns bytes deleted.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<u64, StorageError> {
        let cfg = self.config();
        if !cfg.cleanup_delete {
            return Ok(0);
        }
        let mut guard = self.lock();
        let log = guard.as_mut().ok_or(StorageError::LogOffline)?;
        let by_time = log.delete_retention_ms_breached(cfg.retention_ms, now_ms)?;
        let by_size = log.delete_retention_size_breached(cfg.retention_bytes)?;
        self.prune_aborted(log);
        let deleted = by_time.bytes_deleted + by_size.bytes_deleted;
        if by_time.segments_deleted + by_size.segments_deleted > 0 {
            tracing::info!(
                topic = %self.topic,
                partition = self.index,
                segments = by_time.segments_deleted + by_size.segments_deleted,
                bytes = deleted,
                log_start_offset = by_size.log_start_offset,
                "retention deleted old segments"
            );
        }
        Ok(deleted)
    }

    /// DeleteRecords: advance the log-start offset to `offset` (-1 = the
    /// high watermark). Returns the new log-start offset.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, StorageError> {
        let mut guard = self.lock();
        let log = guard.as_mut().ok_or(StorageError::LogOffline)?;
        let hw = log.log_end_offset();
        let target = if offset == -1 { hw } else { offset };
        if target < 0 || target > hw {
            return Err(StorageError::OffsetOutOfRange {
                requested: target,
                log_start: log.log_start_offset(),
                log_end: hw,
            });
        }
        let start = log.delete_records_before(target)?;
        self.prune_aborted(log);
        Ok(start)
    }

    /// One log-cleaner pass if the topic is compacted and dirty enough.
    pub fn maybe_clean(
        &self,
        key_map_bytes: usize,
        now_ms: i64,
    ) -> Result<Option<weir_storage::cleaner::CleanStats>, StorageError> {
        let cfg = self.config();
        if !cfg.cleanup_compact {
            return Ok(None);
        }
        let mut guard = self.lock();
        let log = guard.as_mut().ok_or(StorageError::LogOffline)?;
        let last_stable_offset = self.lso_locked(log);
        let aborted = self
            .producers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .aborted_between(i64::MIN, i64::MAX)
            .into_iter()
            .map(|a| weir_storage::AbortedRange {
                producer_id: a.producer_id,
                first_offset: a.first_offset,
                last_offset: a.last_offset,
            })
            .collect();
        let cleaner = weir_storage::cleaner::CleanerConfig {
            min_compaction_lag_ms: cfg.min_compaction_lag_ms,
            delete_retention_ms: cfg.delete_retention_ms,
            min_cleanable_dirty_ratio: cfg.min_cleanable_dirty_ratio,
            max_compaction_lag_ms: cfg.max_compaction_lag_ms,
            key_map_bytes,
            last_stable_offset,
            aborted,
        };
        let info = log.cleanable_dirty_ratio(&cleaner, now_ms)?;
        if !info.needs_cleaning(&cleaner) {
            return Ok(None);
        }
        weir_storage::cleaner::clean(log, &cleaner, now_ms).map(Some)
    }
}
