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

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};

use bytes::{Bytes, BytesMut};
use weir_metadata::topic_config::EffectiveTopicConfig;
use weir_storage::{AppendInfo, Log, StorageError};
use weir_types::TopicId;

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
}

impl Partition {
    /// Wrap an opened log.
    pub fn new(topic: String, index: i32, topic_id: TopicId, leader_epoch: i32, log: Log, config: EffectiveTopicConfig) -> Self {
        let flushed = log.flushed_offset();
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
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Log>> {
        // A panic while holding the lock cannot leave the Log half-updated
        // in a way the next caller could observe (appends write the file
        // before updating offsets), so poisoning is ignored.
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Current effective topic config.
    pub fn config(&self) -> EffectiveTopicConfig {
        self.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Append a validated record set.
    pub fn append(&self, records: BytesMut, log_append_time_ms: Option<i64>, now_ms: i64) -> Result<AppendInfo, StorageError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(StorageError::LogOffline);
        }
        let mut guard = self.lock();
        let log = guard.as_mut().ok_or(StorageError::LogOffline)?;
        log.append(records, log_append_time_ms, now_ms)
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
            guard.as_ref().ok_or(StorageError::LogOffline)?.sync_target()?
        };
        let end = target.end_offset;
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
            Some(log) => log.checkpoint(),
            None => Ok(()),
        }
    }

    /// Clean close: flush and mark the log cleanly shut down.
    pub fn close(&self) -> Result<(), StorageError> {
        match self.lock().take() {
            Some(log) => log.close(),
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
                    && let Ok((_, records)) = decode_batch_records(&chunk.slice(pos..pos + h.total_len()))
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
