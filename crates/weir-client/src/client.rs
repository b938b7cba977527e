//! The cluster as the client sees it: brokers, topic metadata, and one
//! connection per broker.
//!
//! ## Invariants
//!
//! * The metadata cache holds only topics the broker described without an
//!   error; a topic is dropped from it when an operation finds it stale
//!   (see [`Client::invalidate_topic`]) and fetched again on next use.
//! * At most one live connection per broker id is kept. A closed
//!   connection is replaced on next use; connecting happens outside the
//!   state lock, so two tasks may race to connect, and the loser's
//!   connection is simply dropped.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use weir_protocol::codec::Uuid;
use weir_protocol::messages::metadata_request::MetadataRequestTopic;
use weir_protocol::messages::metadata_response::MetadataResponseTopic;
use weir_protocol::messages::{MetadataRequest, MetadataResponse};

use crate::connection::{Connection, ConnectionTimeouts};
use crate::error::{ClientError, check_code};

/// Kafka's `LEADER_NOT_AVAILABLE`.
const LEADER_NOT_AVAILABLE: i16 = 5;

/// How to reach the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// `host:port` of one or more brokers to learn the cluster from.
    pub bootstrap_servers: Vec<String>,
    /// Sent in every request header (brokers log it and use it for quotas).
    pub client_id: String,
    /// Connect and request timeouts.
    pub timeouts: ConnectionTimeouts,
}

impl ClientConfig {
    /// A config for a comma-separated bootstrap list, with defaults otherwise.
    pub fn new(bootstrap: &str) -> ClientConfig {
        ClientConfig {
            bootstrap_servers: bootstrap
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            client_id: "weir-client".to_owned(),
            timeouts: ConnectionTimeouts::default(),
        }
    }

    /// Set the client id.
    pub fn client_id(mut self, client_id: impl Into<String>) -> ClientConfig {
        self.client_id = client_id.into();
        self
    }
}

/// One partition of a topic, as Metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// Partition index.
    pub partition: i32,
    /// Leader broker id, -1 when there is none.
    pub leader_id: i32,
    /// Leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// Replica broker ids.
    pub replicas: Vec<i32>,
    /// In-sync replica broker ids.
    pub isr: Vec<i32>,
    /// Offline replica broker ids.
    pub offline_replicas: Vec<i32>,
    /// Partition-level error code (0 for none).
    pub error_code: i16,
}

/// One topic, as Metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// Topic name.
    pub name: String,
    /// Topic id (zero from brokers older than Metadata v10).
    pub topic_id: Uuid,
    /// Whether it is an internal topic (`__consumer_offsets`, ...).
    pub is_internal: bool,
    /// Partitions, sorted by index.
    pub partitions: Vec<PartitionMetadata>,
}

impl TopicMetadata {
    /// Number of partitions.
    pub fn partition_count(&self) -> i32 {
        i32::try_from(self.partitions.len()).unwrap_or(i32::MAX)
    }

    /// The metadata of partition `partition`.
    pub fn partition(&self, partition: i32) -> Option<&PartitionMetadata> {
        self.partitions.iter().find(|p| p.partition == partition)
    }

    fn from_response(t: MetadataResponseTopic, name: String) -> TopicMetadata {
        let mut partitions: Vec<PartitionMetadata> = t
            .partitions
            .into_iter()
            .map(|p| PartitionMetadata {
                partition: p.partition_index,
                leader_id: p.leader_id,
                leader_epoch: p.leader_epoch,
                replicas: p.replica_nodes,
                isr: p.isr_nodes,
                offline_replicas: p.offline_replicas,
                error_code: p.error_code,
            })
            .collect();
        partitions.sort_by_key(|p| p.partition);
        TopicMetadata {
            name,
            topic_id: t.topic_id,
            is_internal: t.is_internal,
            partitions,
        }
    }
}

/// A broker of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerMetadata {
    /// Broker (node) id.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// Rack, if configured.
    pub rack: Option<String>,
}

impl BrokerMetadata {
    /// `host:port`, with brackets around an IPv6 host.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Result of one Metadata request: the brokers and, per requested topic,
/// its metadata or its error.
#[derive(Debug)]
pub struct MetadataSnapshot {
    /// Cluster id, if the broker reports one.
    pub cluster_id: Option<String>,
    /// Controller broker id (-1 if unknown).
    pub controller_id: i32,
    /// Brokers, sorted by id.
    pub brokers: Vec<BrokerMetadata>,
    /// Topics in the order the broker listed them.
    pub topics: Vec<(String, Result<TopicMetadata, ClientError>)>,
}

#[derive(Default)]
struct State {
    brokers: BTreeMap<i32, BrokerMetadata>,
    controller_id: i32,
    topics: HashMap<String, TopicMetadata>,
    connections: HashMap<i32, Arc<Connection>>,
    bootstrap: Option<Arc<Connection>>,
}

/// A client of one Kafka cluster: metadata, leaders and connections.
///
/// Shared (behind an `Arc`) by [`crate::Admin`], [`crate::Producer`] and
/// [`crate::Consumer`].
pub struct Client {
    config: ClientConfig,
    state: Mutex<State>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("bootstrap_servers", &self.config.bootstrap_servers)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connect to the first reachable bootstrap server and load the list of
    /// brokers.
    pub async fn connect(config: ClientConfig) -> Result<Client, ClientError> {
        let client = Client {
            config,
            state: Mutex::new(State::default()),
        };
        client.metadata(Some(&[]), false).await?;
        Ok(client)
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a plain insert/replace, so a poisoned lock still
        // holds consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn bootstrap(&self) -> Result<Arc<Connection>, ClientError> {
        if let Some(c) = self.lock().bootstrap.clone().filter(|c| !c.is_closed()) {
            return Ok(c);
        }
        let mut last = None;
        for addr in &self.config.bootstrap_servers {
            if !addr.contains(':') {
                return Err(ClientError::InvalidAddress(addr.clone()));
            }
            match Connection::connect(addr, &self.config.client_id, self.config.timeouts).await {
                Ok(c) => {
                    let c = Arc::new(c);
                    self.lock().bootstrap = Some(c.clone());
                    return Ok(c);
                }
                Err(e) => {
                    tracing::debug!(addr, error = %e, "bootstrap server unreachable");
                    last = Some(e.to_string());
                }
            }
        }
        Err(ClientError::NoBrokerAvailable {
            bootstrap: self.config.bootstrap_servers.join(","),
            last,
        })
    }

    /// A connection to any broker: a live broker connection if there is
    /// one, else the bootstrap connection.
    pub async fn any_connection(&self) -> Result<Arc<Connection>, ClientError> {
        let live = {
            let st = self.lock();
            st.connections.values().find(|c| !c.is_closed()).cloned()
        };
        match live {
            Some(c) => Ok(c),
            None => self.bootstrap().await,
        }
    }

    /// The connection to broker `node_id`, connecting if needed.
    pub async fn broker_connection(&self, node_id: i32) -> Result<Arc<Connection>, ClientError> {
        let (existing, broker) = {
            let st = self.lock();
            (
                st.connections
                    .get(&node_id)
                    .filter(|c| !c.is_closed())
                    .cloned(),
                st.brokers.get(&node_id).cloned(),
            )
        };
        if let Some(c) = existing {
            return Ok(c);
        }
        let broker = match broker {
            Some(b) => b,
            None => {
                // Unknown broker id: refresh the broker list once.
                self.metadata(Some(&[]), false).await?;
                self.lock()
                    .brokers
                    .get(&node_id)
                    .cloned()
                    .ok_or(ClientError::kafka(LEADER_NOT_AVAILABLE, None))?
            }
        };
        let conn = Arc::new(
            Connection::connect(&broker.addr(), &self.config.client_id, self.config.timeouts)
                .await?,
        );
        let mut st = self.lock();
        let slot = st
            .connections
            .entry(node_id)
            .or_insert_with(|| conn.clone());
        if slot.is_closed() {
            *slot = conn.clone();
        }
        Ok(slot.clone())
    }

    /// The connection to the controller (any broker when the controller is
    /// unknown; KRaft brokers forward admin requests to it).
    pub async fn controller_connection(&self) -> Result<Arc<Connection>, ClientError> {
        let controller = {
            let st = self.lock();
            st.brokers
                .contains_key(&st.controller_id)
                .then_some(st.controller_id)
        };
        match controller {
            Some(id) => self.broker_connection(id).await,
            None => self.any_connection().await,
        }
    }

    /// Send a Metadata request for `topics` (`None`: all topics) and update
    /// the cache. `allow_auto_create` lets the broker create missing topics
    /// when it is configured to.
    pub async fn metadata(
        &self,
        topics: Option<&[&str]>,
        allow_auto_create: bool,
    ) -> Result<MetadataSnapshot, ClientError> {
        let conn = self.any_connection().await?;
        let req = MetadataRequest {
            topics: topics.map(|ts| {
                ts.iter()
                    .map(|name| MetadataRequestTopic {
                        name: Some((*name).to_owned()),
                        topic_id: Uuid::ZERO,
                        ..Default::default()
                    })
                    .collect()
            }),
            allow_auto_topic_creation: allow_auto_create,
            ..Default::default()
        };
        let (_, resp): (i16, MetadataResponse) = conn.send(&req).await?;
        Ok(self.apply_metadata(resp))
    }

    fn apply_metadata(&self, resp: MetadataResponse) -> MetadataSnapshot {
        let mut brokers: Vec<BrokerMetadata> = resp
            .brokers
            .into_iter()
            .map(|b| BrokerMetadata {
                node_id: b.node_id,
                host: b.host,
                port: b.port,
                rack: b.rack,
            })
            .collect();
        brokers.sort_by_key(|b| b.node_id);
        let mut topics = Vec::with_capacity(resp.topics.len());
        let mut st = self.lock();
        st.brokers = brokers.iter().map(|b| (b.node_id, b.clone())).collect();
        st.controller_id = resp.controller_id;
        for t in resp.topics {
            let name = t.name.clone().unwrap_or_default();
            let result = match check_code(t.error_code, None) {
                Ok(()) => {
                    let meta = TopicMetadata::from_response(t, name.clone());
                    st.topics.insert(name.clone(), meta.clone());
                    Ok(meta)
                }
                Err(e) => {
                    st.topics.remove(&name);
                    Err(e)
                }
            };
            topics.push((name, result));
        }
        MetadataSnapshot {
            cluster_id: resp.cluster_id,
            controller_id: resp.controller_id,
            brokers,
            topics,
        }
    }

    /// The metadata of `topic`, from the cache or the broker.
    pub async fn topic(
        &self,
        topic: &str,
        allow_auto_create: bool,
    ) -> Result<TopicMetadata, ClientError> {
        if let Some(t) = self.lock().topics.get(topic).cloned() {
            return Ok(t);
        }
        let snapshot = self.metadata(Some(&[topic]), allow_auto_create).await?;
        snapshot
            .topics
            .into_iter()
            .find(|(name, _)| name == topic)
            .map(|(_, r)| r)
            .unwrap_or(Err(ClientError::UnexpectedResponse(
                "topic missing from Metadata response",
            )))
    }

    /// The cached metadata of `topic`, without asking the broker.
    pub fn cached_topic(&self, topic: &str) -> Option<TopicMetadata> {
        self.lock().topics.get(topic).cloned()
    }

    /// The name of the topic with `topic_id`, if it is cached.
    pub fn topic_name(&self, topic_id: Uuid) -> Option<String> {
        self.lock()
            .topics
            .values()
            .find(|t| t.topic_id == topic_id)
            .map(|t| t.name.clone())
    }

    /// Forget the cached metadata of `topic` (after an error that says the
    /// client's view is stale).
    pub fn invalidate_topic(&self, topic: &str) {
        self.lock().topics.remove(topic);
    }

    /// The leader broker id of `topic`-`partition`.
    pub async fn leader(
        &self,
        topic: &str,
        partition: i32,
        allow_auto_create: bool,
    ) -> Result<i32, ClientError> {
        let meta = self.topic(topic, allow_auto_create).await?;
        let p = meta
            .partition(partition)
            .ok_or_else(|| ClientError::NoSuchPartition {
                topic: topic.to_owned(),
                partition,
            })?;
        if p.leader_id < 0 {
            self.invalidate_topic(topic);
            return Err(ClientError::kafka(LEADER_NOT_AVAILABLE, None));
        }
        Ok(p.leader_id)
    }
}
