//! The partitions this broker hosts, keyed by topic-partition, and their
//! lifecycle: open on start, create with a new topic, delete with it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use weir_metadata::topic_config::EffectiveTopicConfig;
use weir_metadata::{MetadataImage, TopicImage};
use weir_storage::{
    Log, LogConfig, RecoveryMode, StorageError, parse_partition_dir_name, partition_dir_name,
};
use weir_types::TopicPartition;

use crate::metadata_store::METADATA_LOG_DIR;
use crate::partition::Partition;

/// Hosted partitions.
pub struct LogManager {
    dir: PathBuf,
    node_id: i32,
    /// Effective broker props (static plus dynamic broker configs).
    broker_props: RwLock<std::collections::BTreeMap<String, String>>,
    partitions: RwLock<HashMap<TopicPartition, Arc<Partition>>>,
}

/// The storage settings of a topic config.
pub fn log_config(cfg: &EffectiveTopicConfig) -> LogConfig {
    LogConfig {
        segment_bytes: cfg.segment_bytes,
        segment_ms: Some(cfg.segment_ms),
        index_interval_bytes: cfg.index_interval_bytes,
        segment_index_bytes: cfg.segment_index_bytes,
        file_delete_delay_ms: cfg.file_delete_delay_ms,
    }
}

/// Log what recovery did when the previous stop was not clean.
pub fn report_recovery(name: &str, log: &Log) {
    let stats = log.recovery_stats();
    if !stats.clean_shutdown && stats.segments_scanned > 0 {
        tracing::info!(
            log = name,
            segments_scanned = stats.segments_scanned,
            batches_scanned = stats.batches_scanned,
            bytes_truncated = stats.bytes_truncated,
            log_end_offset = log.log_end_offset(),
            "recovering after unclean shutdown: scanned the unflushed tail"
        );
    }
}

impl LogManager {
    /// A manager over `dir` (the first `log.dirs` entry).
    pub fn new(
        dir: &Path,
        node_id: i32,
        broker_props: std::collections::BTreeMap<String, String>,
    ) -> Self {
        LogManager {
            dir: dir.to_path_buf(),
            node_id,
            broker_props: RwLock::new(broker_props),
            partitions: RwLock::new(HashMap::new()),
        }
    }

    /// The effective config of a topic.
    pub fn effective_config(&self, topic: &TopicImage) -> EffectiveTopicConfig {
        let props = self.broker_props.read().unwrap_or_else(|p| p.into_inner());
        EffectiveTopicConfig::resolve(&topic.configs, &props)
    }

    /// Replace the effective broker props (a dynamic broker config
    /// changed); the caller then refreshes every topic's config.
    pub fn set_broker_props(&self, props: std::collections::BTreeMap<String, String>) {
        *self.broker_props.write().unwrap_or_else(|p| p.into_inner()) = props;
    }

    /// Partition by topic and index.
    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        let map = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        map.get(&TopicPartition::new(topic, partition)).cloned()
    }

    /// Every hosted partition.
    pub fn all(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Open or create the logs of every partition of `topic` led by this node.
    pub fn open_topic(&self, topic: &TopicImage, now_ms: i64) -> Result<(), StorageError> {
        let cfg = self.effective_config(topic);
        for (index, p) in &topic.partitions {
            if p.leader != self.node_id {
                continue;
            }
            let tp = TopicPartition::new(&topic.name, *index);
            if self
                .partitions
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&tp)
            {
                continue;
            }
            let dir = self.dir.join(partition_dir_name(&topic.name, *index));
            let log = Log::open(
                &dir,
                log_config(&cfg),
                RecoveryMode::TolerateCorruptTail,
                now_ms,
            )?;
            report_recovery(&tp.to_string(), &log);
            let part = Arc::new(Partition::new(
                topic.name.clone(),
                *index,
                topic.id,
                p.leader_epoch,
                log,
                cfg.clone(),
            ));
            self.partitions
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(tp, part);
        }
        Ok(())
    }

    /// Open every partition in the image and delete directories of topics
    /// that no longer exist (a delete interrupted by a crash).
    pub fn open_all(&self, image: &MetadataImage, now_ms: i64) -> Result<(), StorageError> {
        for topic in image.topics() {
            self.open_topic(topic, now_ms)?;
        }
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if name == METADATA_LOG_DIR || !entry.path().is_dir() {
                    continue;
                }
                let stale = match parse_partition_dir_name(&name) {
                    Some((topic, p)) => image
                        .topic(&topic)
                        .is_none_or(|t| !t.partitions.contains_key(&p)),
                    None => name.ends_with("-delete"),
                };
                if stale {
                    tracing::info!(dir = %name, "removing directory of a deleted topic");
                    if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                        tracing::warn!(dir = %name, error = %e, "could not remove stale directory");
                    }
                }
            }
        }
        Ok(())
    }

    /// Apply a topic's current configs to its open partitions (after a
    /// dynamic config change).
    pub fn refresh_topic_config(&self, topic: &TopicImage) {
        let cfg = self.effective_config(topic);
        for p in self.all().into_iter().filter(|p| p.topic == topic.name) {
            p.set_config(cfg.clone());
        }
    }

    /// Close and delete every partition of `topic`.
    pub fn delete_topic(&self, topic: &str) {
        let removed: Vec<Arc<Partition>> = {
            let mut map = self.partitions.write().unwrap_or_else(|e| e.into_inner());
            let keys: Vec<TopicPartition> =
                map.keys().filter(|tp| tp.topic == topic).cloned().collect();
            keys.into_iter().filter_map(|k| map.remove(&k)).collect()
        };
        for p in removed {
            if let Err(e) = p.delete() {
                tracing::warn!(topic, partition = p.index, error = %e, "deleting partition files failed");
            }
        }
    }

    /// Cleanly close every partition.
    pub fn close_all(&self) {
        let all: Vec<Arc<Partition>> = {
            let mut map = self.partitions.write().unwrap_or_else(|e| e.into_inner());
            map.drain().map(|(_, p)| p).collect()
        };
        for p in all {
            if let Err(e) = p.close() {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "closing partition failed");
            }
        }
    }
}
