//! Kafka's log manager background work: every
//! `log.retention.check.interval.ms`, delete segments past `retention.ms` /
//! `retention.bytes` on `cleanup.policy=delete` topics and run a log-cleaner
//! pass on `cleanup.policy=compact` topics that are dirty enough
//! (`min.cleanable.dirty.ratio`, `max.compaction.lag.ms`). The disk work runs
//! on the blocking pool, one partition at a time, so it never stalls the
//! network threads; each partition's log lock is held only for its own pass.

use std::sync::Arc;
use std::time::Duration;

use crate::broker::{Broker, now_ms};

/// Every `producer.id.expiration.check.interval.ms`, drop the state of
/// producers idle longer than `producer.id.expiration.ms` from every
/// partition (producers with an open transaction are kept).
pub async fn expire_producers(broker: Arc<Broker>) {
    let txn = &broker.config.txn;
    let every = Duration::from_millis(txn.producer_id_expiration_check_interval_ms);
    loop {
        tokio::time::sleep(every).await;
        let now = now_ms();
        for p in broker.logs.all() {
            let n = p.expire_producers(now, txn.producer_id_expiration_ms);
            if n > 0 {
                tracing::info!(topic = %p.topic, partition = p.index, producers = n, "expired idle producer ids");
            }
        }
    }
}

/// Run retention and the cleaner forever (until the task is aborted).
pub async fn run(broker: Arc<Broker>) {
    let every = Duration::from_millis(broker.config.log_retention_check_interval_ms);
    loop {
        tokio::time::sleep(every).await;
        for p in broker.logs.all() {
            let cleaner = broker.config.log_cleaner_enable;
            let key_map_bytes = broker.config.log_cleaner_dedupe_buffer_size;
            let part = p.clone();
            let result = tokio::task::spawn_blocking(move || {
                let now = now_ms();
                let retention = part.enforce_retention(now);
                let cleaned = if cleaner {
                    part.maybe_clean(key_map_bytes, now)
                } else {
                    Ok(None)
                };
                (retention, cleaned)
            })
            .await;
            match result {
                Ok((Err(e), _)) => {
                    tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "retention failed")
                }
                Ok((_, Err(e))) => {
                    tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "log cleaner failed")
                }
                Ok((Ok(deleted), Ok(cleaned))) => {
                    if deleted > 0 {
                        metrics::counter!(weir_metrics::RETENTION_DELETED).increment(deleted);
                    }
                    if let Some(stats) = cleaned.filter(|s| s.records_read > 0) {
                        metrics::counter!(weir_metrics::CLEANER_PASSES).increment(1);
                        tracing::info!(
                            topic = %p.topic,
                            partition = p.index,
                            records_read = stats.records_read,
                            records_kept = stats.records_kept,
                            bytes_read = stats.bytes_read,
                            bytes_written = stats.bytes_written,
                            "log cleaner compacted"
                        );
                    }
                }
                Err(e) => tracing::error!(error = %e, "log maintenance task failed"),
            }
        }
    }
}
