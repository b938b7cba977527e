//! Shared broker state and the operations that change metadata.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use weir_metadata::broker_config::BrokerLayers;
use weir_metadata::topic_config::ConfigError;
use weir_metadata::topics::{CreateTopic, CreateTopicError, create_topic, delete_topic};
use weir_metadata::{MetadataImage, MetadataRecord};
use weir_types::TopicId;

use crate::config::BrokerConfig;
use crate::log_manager::LogManager;
use crate::metadata_store::{MetadataError, MetadataStore};

/// Wall-clock milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// 16 random bytes from the OS.
pub fn random_bytes() -> [u8; 16] {
    let mut out = [0u8; 16];
    let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut out));
    if filled.is_err() {
        // No urandom: fall back to time and pid; ids only need uniqueness.
        let seed = (now_ms() as u128) << 64
            | u128::from(std::process::id()) << 32
            | Instant::now().elapsed().as_nanos();
        out = seed.to_le_bytes();
    }
    out
}

/// A fresh topic id (never the zero id).
pub fn new_topic_id() -> TopicId {
    loop {
        let id = TopicId(random_bytes());
        if !id.is_zero() {
            return id;
        }
    }
}

/// Errors starting the broker's state.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Metadata log failed to open or replay.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// A partition log failed to open.
    #[error("opening partition logs: {0}")]
    Storage(#[from] weir_storage::StorageError),
    /// Data directory problems.
    #[error("data directory {path}: {reason}")]
    DataDir {
        /// Directory.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Why creating a topic failed.
#[derive(Debug, thiserror::Error)]
pub enum TopicOpError {
    /// The request was invalid for the current metadata.
    #[error(transparent)]
    Rejected(#[from] CreateTopicError),
    /// The metadata log could not be written.
    #[error("metadata log failure: {0}")]
    MetadataLog(String),
}

/// Outcome of creating one topic.
pub type CreateResult = Result<(), TopicOpError>;

/// Why a topic config change failed.
#[derive(Debug, thiserror::Error)]
pub enum AlterConfigsError {
    /// No such topic.
    #[error("topic '{0}' does not exist")]
    UnknownTopic(String),
    /// A value or key was refused.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    /// The metadata log could not be written.
    #[error("metadata log failure: {0}")]
    MetadataLog(String),
}

/// Why adding partitions failed.
#[derive(Debug, thiserror::Error)]
pub enum PartitionsOpError {
    /// Refused for the current metadata.
    #[error(transparent)]
    Rejected(#[from] weir_metadata::topics::CreatePartitionsError),
    /// The metadata log could not be written.
    #[error("metadata log failure: {0}")]
    MetadataLog(String),
}

/// Everything the request handlers share.
pub struct Broker {
    /// Static configuration.
    pub config: BrokerConfig,
    /// Cluster id (from `meta.properties`).
    pub cluster_id: String,
    /// Metadata log and image.
    pub metadata: MetadataStore,
    /// Hosted partitions.
    pub logs: LogManager,
    /// The group coordinator and its driver.
    pub groups: crate::group_service::GroupService,
    /// The transaction coordinator and its driver.
    pub txns: crate::txn_service::TxnService,
    /// Signalled after every append, to wake long-polling fetches.
    pub data_appended: Notify,
    /// Advertised (host, port) of this node, fixed once listeners are bound.
    advertised: Mutex<(String, i32)>,
    /// Serializes metadata changes (validate + commit is atomic).
    controller: tokio::sync::Mutex<()>,
    /// Producer ids: (next to hand out, end of the block recorded in the metadata log).
    producer_ids: tokio::sync::Mutex<(i64, i64)>,
}

/// Producer ids reserved per metadata record.
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

/// Read or create `meta.properties` (Kafka's format: `version`, `node.id`,
/// `cluster.id`), refusing a directory that belongs to another node.
fn load_meta_properties(dir: &Path, node_id: i32) -> Result<String, StartError> {
    let path = dir.join("meta.properties");
    let err = |reason: String| StartError::DataDir {
        path: dir.display().to_string(),
        reason,
    };
    if let Ok(file) = std::fs::File::open(&path) {
        let props: BTreeMap<String, String> = java_properties::read(std::io::BufReader::new(file))
            .map_err(|e| err(e.to_string()))?
            .into_iter()
            .collect();
        let stored: i32 = props
            .get("node.id")
            .and_then(|v| v.parse().ok())
            .unwrap_or(node_id);
        if stored != node_id {
            return Err(err(format!(
                "belongs to node.id {stored}, but this broker is node.id {node_id}"
            )));
        }
        return props
            .get("cluster.id")
            .cloned()
            .ok_or_else(|| err("meta.properties has no cluster.id".into()));
    }
    let cluster_id = base64_url(&random_bytes());
    let body = format!(
        "#Written by weir; do not edit\nversion=1\nnode.id={node_id}\ncluster.id={cluster_id}\n"
    );
    let tmp = dir.join("meta.properties.tmp");
    std::fs::write(&tmp, body).map_err(|e| err(e.to_string()))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, &path).map_err(|e| err(e.to_string()))?;
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| err(e.to_string()))?;
    Ok(cluster_id)
}

/// Kafka's Uuid text form: URL-safe base64 without padding (22 chars).
fn base64_url(bytes: &[u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let n = u128::from_be_bytes(*bytes);
    // 128 bits = 21 six-bit groups + 2 bits, left-aligned like base64.
    (0..22)
        .map(|i| {
            let shift = 128i32 - 6 * (i + 1);
            let v = if shift >= 0 {
                (n >> shift) & 0x3f
            } else {
                (n << (-shift)) & 0x3f
            };
            char::from(ALPHABET[v as usize])
        })
        .collect()
}

/// The config layers of `config`'s broker under `image`'s dynamic configs.
fn broker_layers(config: &BrokerConfig, image: &MetadataImage) -> BrokerLayers {
    BrokerLayers {
        dynamic_broker: image.broker_configs(Some(config.node_id)),
        dynamic_default: image.broker_configs(None),
        static_props: config.props.clone(),
    }
}

impl Broker {
    /// Open the data directory: replay metadata and open every partition.
    pub fn open(config: BrokerConfig) -> Result<Broker, StartError> {
        let dir = config
            .log_dirs
            .first()
            .cloned()
            .unwrap_or_else(|| "./weir-data".into());
        std::fs::create_dir_all(&dir).map_err(|e| StartError::DataDir {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let cluster_id = load_meta_properties(&dir, config.node_id)?;
        let now = now_ms();
        let metadata = MetadataStore::open(&dir, now)?;
        let layers = broker_layers(&config, &metadata.image());
        let logs = LogManager::new(&dir, config.node_id, layers.effective());
        logs.open_all(&metadata.image(), now)?;
        let advertised = config
            .advertised_listeners
            .first()
            .map(|l| (l.host.clone(), i32::from(l.port)))
            .unwrap_or_else(|| ("127.0.0.1".into(), 9092));
        let next_pid = metadata.image().next_producer_id();
        let seed = u64::from_le_bytes(random_bytes()[..8].try_into().unwrap_or([7; 8]));
        Ok(Broker {
            groups: crate::group_service::GroupService::new(config.group.clone(), seed),
            txns: crate::txn_service::TxnService::new(weir_txn::TxnConfig {
                max_timeout_ms: config.txn.max_timeout_ms,
                id_expiration_ms: config.txn.id_expiration_ms,
            }),
            producer_ids: tokio::sync::Mutex::new((next_pid, next_pid)),
            config,
            cluster_id,
            metadata,
            logs,
            data_appended: Notify::new(),
            advertised: Mutex::new(advertised),
            controller: tokio::sync::Mutex::new(()),
        })
    }

    /// Set the advertised address once the listener is bound (port 0 → real port).
    pub fn set_advertised(&self, host: String, port: i32) {
        *self.advertised.lock().unwrap_or_else(|p| p.into_inner()) = (host, port);
    }

    /// Advertised (host, port).
    pub fn advertised(&self) -> (String, i32) {
        self.advertised
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Node id.
    pub fn node_id(&self) -> i32 {
        self.config.node_id
    }

    /// Current metadata image.
    pub fn image(&self) -> std::sync::Arc<MetadataImage> {
        self.metadata.image()
    }

    /// Create topics (or only validate them). Results are in request order.
    pub async fn create_topics(
        &self,
        reqs: Vec<CreateTopic>,
        validate_only: bool,
    ) -> Vec<CreateResult> {
        let _guard = self.controller.lock().await;
        let brokers = [self.node_id()];
        let mut out = Vec::with_capacity(reqs.len());
        for req in reqs {
            let image = self.image();
            let records = match create_topic(&image, &brokers, &req, new_topic_id()) {
                Ok(r) => r,
                Err(e) => {
                    out.push(Err(TopicOpError::Rejected(e)));
                    continue;
                }
            };
            if validate_only {
                out.push(Ok(()));
                continue;
            }
            out.push(self.commit_and_open(&req.name, &records));
        }
        out
    }

    fn commit_and_open(&self, name: &str, records: &[MetadataRecord]) -> CreateResult {
        let now = now_ms();
        if let Err(e) = self.metadata.commit(records, now) {
            tracing::error!(topic = name, error = %e, "metadata commit failed");
            return Err(TopicOpError::MetadataLog(e.to_string()));
        }
        if let Some(topic) = self.image().topic(name)
            && let Err(e) = self.logs.open_topic(topic, now)
        {
            tracing::error!(topic = name, error = %e, "creating partition logs failed");
        }
        tracing::info!(topic = name, "created topic");
        Ok(())
    }

    /// Auto-create `name` with broker defaults if allowed; returns whether it
    /// exists afterwards.
    pub async fn auto_create(&self, name: &str) -> Result<bool, TopicOpError> {
        if self.image().topic(name).is_some() {
            return Ok(true);
        }
        if !self.config.auto_create_topics {
            return Ok(false);
        }
        let req = CreateTopic {
            name: name.to_string(),
            num_partitions: self.config.num_partitions,
            replication_factor: self.config.default_replication_factor,
            assignments: BTreeMap::new(),
            configs: BTreeMap::new(),
        };
        match self.create_topics(vec![req], false).await.pop() {
            Some(Ok(()))
            | Some(Err(TopicOpError::Rejected(CreateTopicError::AlreadyExists(_)))) => Ok(true),
            Some(Err(e)) => Err(e),
            None => Ok(false),
        }
    }

    /// A producer id never handed out before (blocks are recorded in the
    /// metadata log before use, so a restart continues after the block).
    pub async fn next_producer_id(&self) -> Result<i64, MetadataError> {
        let mut ids = self.producer_ids.lock().await;
        if ids.0 >= ids.1 {
            let _guard = self.controller.lock().await;
            let end = ids.1.max(self.image().next_producer_id()) + PRODUCER_ID_BLOCK_SIZE;
            self.metadata.commit(
                &[MetadataRecord::ProducerIds {
                    next_producer_id: end,
                }],
                now_ms(),
            )?;
            *ids = (end - PRODUCER_ID_BLOCK_SIZE, end);
        }
        let id = ids.0;
        ids.0 += 1;
        Ok(id)
    }

    /// Delete a topic. `Ok(false)` if it does not exist.
    pub async fn delete_topic(&self, name: &str) -> Result<bool, MetadataError> {
        let _guard = self.controller.lock().await;
        let Some(records) = delete_topic(&self.image(), name) else {
            return Ok(false);
        };
        self.metadata.commit(&records, now_ms())?;
        self.logs.delete_topic(name);
        tracing::info!(topic = name, "deleted topic");
        Ok(true)
    }

    /// Change a topic's dynamic config overrides: `compute` turns the current
    /// overrides into the new ones (validating them); the difference is
    /// committed to the metadata log and applied to the topic's partitions
    /// at once (no restart).
    pub async fn alter_topic_configs(
        &self,
        name: &str,
        compute: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ConfigError>,
        validate_only: bool,
    ) -> Result<(), AlterConfigsError> {
        let _guard = self.controller.lock().await;
        let image = self.image();
        let topic = image
            .topic(name)
            .ok_or_else(|| AlterConfigsError::UnknownTopic(name.to_string()))?;
        let next = compute(&topic.configs)?;
        if validate_only {
            return Ok(());
        }
        let records = weir_metadata::config_ops::diff_records(name, &topic.configs, &next);
        self.metadata
            .commit(&records, now_ms())
            .map_err(|e| AlterConfigsError::MetadataLog(e.to_string()))?;
        if let Some(topic) = self.image().topic(name) {
            self.logs.refresh_topic_config(topic);
        }
        tracing::info!(
            topic = name,
            changes = records.len(),
            "altered topic configs"
        );
        Ok(())
    }

    /// Static and dynamic broker configs of this broker.
    pub fn broker_layers(&self) -> BrokerLayers {
        broker_layers(&self.config, &self.image())
    }

    /// Change dynamic broker configs of `entity` (`None`: the cluster-wide
    /// default, else this broker's id): `compute` turns the current ones
    /// into the new ones. Takes effect on every topic at once.
    pub async fn alter_broker_configs(
        &self,
        entity: Option<i32>,
        compute: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ConfigError>,
        validate_only: bool,
    ) -> Result<(), AlterConfigsError> {
        let _guard = self.controller.lock().await;
        let current = self.image().broker_configs(entity);
        let next = compute(&current)?;
        if validate_only {
            return Ok(());
        }
        let mut records = Vec::new();
        for (k, v) in &next {
            if current.get(k) != Some(v) {
                records.push(MetadataRecord::BrokerConfig {
                    broker: entity,
                    name: k.clone(),
                    value: Some(v.clone()),
                });
            }
        }
        for k in current.keys().filter(|k| !next.contains_key(*k)) {
            records.push(MetadataRecord::BrokerConfig {
                broker: entity,
                name: k.clone(),
                value: None,
            });
        }
        self.metadata
            .commit(&records, now_ms())
            .map_err(|e| AlterConfigsError::MetadataLog(e.to_string()))?;
        let image = self.image();
        self.logs
            .set_broker_props(broker_layers(&self.config, &image).effective());
        for topic in image.topics() {
            self.logs.refresh_topic_config(topic);
        }
        tracing::info!(
            entity = ?entity,
            changes = records.len(),
            "altered dynamic broker configs"
        );
        Ok(())
    }

    /// Grow `name` to `total` partitions and open their logs.
    pub async fn create_partitions(
        &self,
        name: &str,
        total: i32,
        assignments: Option<&[Vec<i32>]>,
        validate_only: bool,
    ) -> Result<(), PartitionsOpError> {
        let _guard = self.controller.lock().await;
        let records = weir_metadata::topics::create_partitions(
            &self.image(),
            &[self.node_id()],
            name,
            total,
            assignments,
        )?;
        if validate_only {
            return Ok(());
        }
        let now = now_ms();
        self.metadata
            .commit(&records, now)
            .map_err(|e| PartitionsOpError::MetadataLog(e.to_string()))?;
        if let Some(topic) = self.image().topic(name)
            && let Err(e) = self.logs.open_topic(topic, now)
        {
            tracing::error!(topic = name, error = %e, "opening new partition logs failed");
        }
        tracing::info!(topic = name, total, "added partitions");
        Ok(())
    }

    /// Clean shutdown: close every log (flush + clean-shutdown marker).
    pub fn shutdown(&self) {
        self.logs.close_all();
        if let Err(e) = self.metadata.close() {
            tracing::error!(error = %e, "closing metadata log failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_uuid_form_is_22_url_safe_chars() {
        let s = base64_url(&[0xff; 16]);
        assert_eq!(s.len(), 22);
        assert_eq!(s, "_____________________w");
        assert_eq!(base64_url(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
    }
}
