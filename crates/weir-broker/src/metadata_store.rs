//! The metadata log on disk and the image built from it.
//!
//! Records live in `<first log dir>/__cluster_metadata-0`, a normal Weir log
//! (see `docs/metadata-log.md`): one record batch per committed change, each
//! record's value a JSON-encoded [`MetadataRecord`]. Every commit is fsynced
//! before it is applied, so an acknowledged CreateTopics survives kill -9.
//! On start the whole log is replayed through [`MetadataImage::apply`].

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use bytes::BytesMut;
use weir_metadata::{MetadataImage, MetadataRecord};
use weir_protocol::record_batch::BatchIter;
use weir_protocol::records::{BatchBuilder, decode_batch_records};
use weir_storage::{Log, LogConfig, RecoveryMode, StorageError};

/// Directory name of the metadata log, as KRaft names it.
pub const METADATA_LOG_DIR: &str = "__cluster_metadata-0";

/// Largest read while replaying (one call); replay loops until the end.
const REPLAY_READ_BYTES: usize = 1 << 20;

/// Errors of the metadata store.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// The log failed.
    #[error("metadata log: {0}")]
    Storage(#[from] StorageError),
    /// A stored record could not be decoded or applied.
    #[error("metadata log is corrupt at offset {offset}: {reason}")]
    Corrupt {
        /// Offset of the bad record.
        offset: i64,
        /// What was wrong.
        reason: String,
    },
}

/// The persisted metadata log plus the current image.
pub struct MetadataStore {
    log: Mutex<Option<Log>>,
    image: RwLock<Arc<MetadataImage>>,
}

impl MetadataStore {
    /// Open (or create) the metadata log under `dir` and replay it.
    pub fn open(dir: &Path, now_ms: i64) -> Result<MetadataStore, MetadataError> {
        let log = Log::open(
            &dir.join(METADATA_LOG_DIR),
            LogConfig::default(),
            RecoveryMode::TolerateCorruptTail,
            now_ms,
        )?;
        crate::log_manager::report_recovery(METADATA_LOG_DIR, &log);
        let mut image = MetadataImage::new();
        let mut offset = log.log_start_offset();
        let end = log.log_end_offset();
        while offset < end {
            let chunk = log.read(offset, REPLAY_READ_BYTES, end)?;
            if chunk.is_empty() {
                break;
            }
            let mut pos = 0usize;
            for item in BatchIter::new(&chunk) {
                let (start, header) = item.map_err(|e| MetadataError::Corrupt {
                    offset,
                    reason: e.to_string(),
                })?;
                let batch = chunk.slice(start..start + header.total_len());
                let (_, records) =
                    decode_batch_records(&batch).map_err(|e| MetadataError::Corrupt {
                        offset: header.base_offset,
                        reason: e.to_string(),
                    })?;
                for r in records {
                    if r.offset < offset {
                        continue;
                    }
                    let value = r.value.unwrap_or_default();
                    let rec =
                        MetadataRecord::decode(&value).map_err(|e| MetadataError::Corrupt {
                            offset: r.offset,
                            reason: e.to_string(),
                        })?;
                    image.apply(&rec).map_err(|e| MetadataError::Corrupt {
                        offset: r.offset,
                        reason: e.to_string(),
                    })?;
                }
                offset = header.last_offset() + 1;
                pos = start + header.total_len();
            }
            if pos == 0 {
                break;
            }
        }
        tracing::info!(
            topics = image.topic_count(),
            records = end,
            "metadata log replayed"
        );
        Ok(MetadataStore {
            log: Mutex::new(Some(log)),
            image: RwLock::new(Arc::new(image)),
        })
    }

    /// The current image (cheap: an `Arc` clone).
    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Durably append `records` as one batch, then apply them. Callers
    /// serialize commits (the controller lock) so validation against
    /// [`MetadataStore::image`] and the commit are atomic.
    pub fn commit(&self, records: &[MetadataRecord], now_ms: i64) -> Result<(), MetadataError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut next = (*self.image()).clone();
        for r in records {
            next.apply(r).map_err(|e| MetadataError::Corrupt {
                offset: -1,
                reason: e.to_string(),
            })?;
        }
        let mut builder = BatchBuilder::new(now_ms);
        for r in records {
            builder.push(None, Some(&r.encode()), &[], now_ms);
        }
        let batch = builder.build();
        {
            let mut guard = self.log.lock().unwrap_or_else(|p| p.into_inner());
            let log = guard.as_mut().ok_or(StorageError::LogOffline)?;
            log.append(BytesMut::from(&batch[..]), None, now_ms)?;
            log.flush()?;
        }
        *self.image.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        Ok(())
    }

    /// Clean close.
    pub fn close(&self) -> Result<(), StorageError> {
        match self.log.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(log) => log.close(),
            None => Ok(()),
        }
    }
}
