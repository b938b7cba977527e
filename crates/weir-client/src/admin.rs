//! Topic administration: create, delete, list, describe.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::sync::Arc;

use weir_protocol::api::ApiKey;
use weir_protocol::codec::Uuid;
use weir_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use weir_protocol::messages::delete_topics_request::DeleteTopicState;
use weir_protocol::messages::describe_configs_request::DescribeConfigsResource;
use weir_protocol::messages::{
    CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    DescribeConfigsRequest, DescribeConfigsResponse,
};

use crate::client::{BrokerMetadata, Client, PartitionMetadata};
use crate::error::{ClientError, check_code};

/// How long the broker may take to create or delete topics.
const ADMIN_TIMEOUT_MS: i32 = 30_000;
/// DescribeConfigs' resource type for topics.
pub const RESOURCE_TYPE_TOPIC: i8 = 2;
/// DescribeConfigs' resource type for brokers.
pub const RESOURCE_TYPE_BROKER: i8 = 4;

/// One IncrementalAlterConfigs operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Set `key` to `value`.
    Set(String, String),
    /// Remove the override of `key`.
    Delete(String),
}
/// Kafka's `ConfigSource.TOPIC_CONFIG`.
const CONFIG_SOURCE_TOPIC: i8 = 1;

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Topic name.
    pub name: String,
    /// Partitions; `None` uses the broker's `num.partitions`.
    pub partitions: Option<i32>,
    /// Replication factor; `None` uses `default.replication.factor`.
    pub replication_factor: Option<i16>,
    /// Topic configs (`retention.ms`, `cleanup.policy`, ...).
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with broker defaults for everything but the name.
    pub fn new(name: impl Into<String>) -> NewTopic {
        NewTopic {
            name: name.into(),
            partitions: None,
            replication_factor: None,
            configs: Vec::new(),
        }
    }
}

/// A topic the broker created (or, with `validate_only`, would create).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopic {
    /// Topic name.
    pub name: String,
    /// Topic id (zero when the broker does not report it, or validate-only).
    pub topic_id: Uuid,
    /// Partitions (-1 when the broker does not report it).
    pub partitions: i32,
    /// Replication factor (-1 when the broker does not report it).
    pub replication_factor: i16,
}

/// A topic in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicListing {
    /// Topic name.
    pub name: String,
    /// Topic id.
    pub topic_id: Uuid,
    /// Whether it is internal.
    pub is_internal: bool,
    /// Number of partitions.
    pub partitions: i32,
}

/// One config entry of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Config name.
    pub name: String,
    /// Value (`None` for sensitive or unset values).
    pub value: Option<String>,
    /// Whether the value is the default.
    pub is_default: bool,
    /// Whether the value is sensitive (and hidden).
    pub is_sensitive: bool,
    /// Whether it cannot be changed.
    pub read_only: bool,
    /// Kafka's `ConfigSource`: 1 a topic override, 4 the broker's static
    /// config, 5 the default; -1 when unknown (DescribeConfigs v0).
    pub source: i8,
}

impl ConfigEntry {
    /// Whether the value was set on the topic (as `kafka-topics.sh
    /// --describe` shows them).
    pub fn is_topic_override(&self) -> bool {
        self.source == CONFIG_SOURCE_TOPIC || (self.source == -1 && !self.is_default)
    }
}

/// Everything known about one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    /// Topic name.
    pub name: String,
    /// Topic id.
    pub topic_id: Uuid,
    /// Whether it is internal.
    pub is_internal: bool,
    /// Partitions, sorted by index.
    pub partitions: Vec<PartitionMetadata>,
    /// Configs, when the broker serves DescribeConfigs.
    pub configs: Option<Vec<ConfigEntry>>,
}

/// The brokers and controller of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// Cluster id.
    pub cluster_id: Option<String>,
    /// Controller id (-1 if unknown).
    pub controller_id: i32,
    /// Brokers, sorted by id.
    pub brokers: Vec<BrokerMetadata>,
}

/// Topic administration over a [`Client`].
#[derive(Debug, Clone)]
pub struct Admin {
    client: Arc<Client>,
}

impl Admin {
    /// An admin client sharing `client`'s connections.
    pub fn new(client: Arc<Client>) -> Admin {
        Admin { client }
    }

    /// Create `topics`; one result per topic, in order. With
    /// `validate_only` the broker checks the request without creating.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
        validate_only: bool,
    ) -> Result<Vec<(String, Result<CreatedTopic, ClientError>)>, ClientError> {
        let req = CreateTopicsRequest {
            topics: topics
                .iter()
                .map(|t| CreatableTopic {
                    name: t.name.clone(),
                    num_partitions: t.partitions.unwrap_or(-1),
                    replication_factor: t.replication_factor.unwrap_or(-1),
                    assignments: Vec::new(),
                    configs: t
                        .configs
                        .iter()
                        .map(|(k, v)| CreatableTopicConfig {
                            name: k.clone(),
                            value: Some(v.clone()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            timeout_ms: ADMIN_TIMEOUT_MS,
            validate_only,
            ..Default::default()
        };
        let conn = self.client.controller_connection().await?;
        let (_, resp): (i16, CreateTopicsResponse) = conn.send(&req).await?;
        for t in topics {
            self.client.invalidate_topic(&t.name);
        }
        let mut out = Vec::with_capacity(topics.len());
        for t in topics {
            let result = match resp.topics.iter().find(|r| r.name == t.name) {
                None => Err(ClientError::UnexpectedResponse(
                    "topic missing from CreateTopics response",
                )),
                Some(r) => {
                    check_code(r.error_code, r.error_message.as_deref()).map(|()| CreatedTopic {
                        name: r.name.clone(),
                        topic_id: r.topic_id,
                        partitions: r.num_partitions,
                        replication_factor: r.replication_factor,
                    })
                }
            };
            out.push((t.name.clone(), result));
        }
        Ok(out)
    }

    /// Create one topic.
    pub async fn create_topic(
        &self,
        topic: &NewTopic,
        validate_only: bool,
    ) -> Result<CreatedTopic, ClientError> {
        self.create_topics(std::slice::from_ref(topic), validate_only)
            .await?
            .into_iter()
            .next()
            .map(|(_, r)| r)
            .unwrap_or(Err(ClientError::UnexpectedResponse(
                "empty CreateTopics result",
            )))
    }

    /// Delete topics by name; one result per topic, in order.
    pub async fn delete_topics(
        &self,
        names: &[String],
    ) -> Result<Vec<(String, Result<(), ClientError>)>, ClientError> {
        // v0-v5 use `topic_names`, v6+ `topics`; each version encodes only its own field.
        let req = DeleteTopicsRequest {
            topics: names
                .iter()
                .map(|n| DeleteTopicState {
                    name: Some(n.clone()),
                    topic_id: Uuid::ZERO,
                    ..Default::default()
                })
                .collect(),
            topic_names: names.to_vec(),
            timeout_ms: ADMIN_TIMEOUT_MS,
            ..Default::default()
        };
        let conn = self.client.controller_connection().await?;
        let (_, resp): (i16, DeleteTopicsResponse) = conn.send(&req).await?;
        for n in names {
            self.client.invalidate_topic(n);
        }
        Ok(names
            .iter()
            .map(|n| {
                let result = match resp.responses.iter().find(|r| r.name.as_deref() == Some(n)) {
                    None => Err(ClientError::UnexpectedResponse(
                        "topic missing from DeleteTopics response",
                    )),
                    Some(r) => check_code(r.error_code, r.error_message.as_deref()),
                };
                (n.clone(), result)
            })
            .collect())
    }

    /// Delete one topic.
    pub async fn delete_topic(&self, name: &str) -> Result<(), ClientError> {
        self.delete_topics(&[name.to_owned()])
            .await?
            .into_iter()
            .next()
            .map(|(_, r)| r)
            .unwrap_or(Err(ClientError::UnexpectedResponse(
                "empty DeleteTopics result",
            )))
    }

    /// Every topic, sorted by name (internal ones only if asked).
    pub async fn list_topics(
        &self,
        include_internal: bool,
    ) -> Result<Vec<TopicListing>, ClientError> {
        let snapshot = self.client.metadata(None, false).await?;
        let mut out: Vec<TopicListing> = snapshot
            .topics
            .into_iter()
            .filter_map(|(_, r)| r.ok())
            .filter(|t| include_internal || !t.is_internal)
            .map(|t| TopicListing {
                partitions: t.partition_count(),
                name: t.name,
                topic_id: t.topic_id,
                is_internal: t.is_internal,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Describe one topic: partitions with leader, replicas and ISR, the
    /// topic id, and its configs when the broker serves DescribeConfigs.
    pub async fn describe_topic(&self, name: &str) -> Result<TopicDescription, ClientError> {
        self.client.invalidate_topic(name);
        let meta = self.client.topic(name, false).await?;
        let configs = self.describe_topic_configs(name).await?;
        Ok(TopicDescription {
            name: meta.name,
            topic_id: meta.topic_id,
            is_internal: meta.is_internal,
            partitions: meta.partitions,
            configs,
        })
    }

    /// The configs of topic `name`, or `None` when the broker does not serve
    /// DescribeConfigs.
    pub async fn describe_topic_configs(
        &self,
        name: &str,
    ) -> Result<Option<Vec<ConfigEntry>>, ClientError> {
        self.describe_configs(RESOURCE_TYPE_TOPIC, name).await
    }

    /// Change configs of a resource with IncrementalAlterConfigs.
    pub async fn alter_configs(
        &self,
        resource_type: i8,
        name: &str,
        ops: &[AlterConfigOp],
    ) -> Result<(), ClientError> {
        use weir_protocol::messages::incremental_alter_configs_request as inc;
        use weir_protocol::messages::incremental_alter_configs_response::IncrementalAlterConfigsResponse;
        let configs = ops
            .iter()
            .map(|op| match op {
                AlterConfigOp::Set(k, v) => inc::AlterableConfig {
                    name: k.clone(),
                    config_operation: 0,
                    value: Some(v.clone()),
                    ..Default::default()
                },
                AlterConfigOp::Delete(k) => inc::AlterableConfig {
                    name: k.clone(),
                    config_operation: 1,
                    value: None,
                    ..Default::default()
                },
            })
            .collect();
        let req = inc::IncrementalAlterConfigsRequest {
            resources: vec![inc::AlterConfigsResource {
                resource_type,
                resource_name: name.to_owned(),
                configs,
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        };
        let conn = self.client.controller_connection().await?;
        let (_, resp): (i16, IncrementalAlterConfigsResponse) = conn.send(&req).await?;
        let r = resp
            .responses
            .first()
            .ok_or(ClientError::UnexpectedResponse(
                "empty IncrementalAlterConfigs response",
            ))?;
        check_code(r.error_code, r.error_message.as_deref())
    }

    /// Grow topic `name` to `total` partitions.
    pub async fn create_partitions(&self, name: &str, total: i32) -> Result<(), ClientError> {
        use weir_protocol::messages::create_partitions_request::{
            CreatePartitionsRequest, CreatePartitionsTopic,
        };
        use weir_protocol::messages::create_partitions_response::CreatePartitionsResponse;
        let req = CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: name.to_owned(),
                count: total,
                assignments: None,
                ..Default::default()
            }],
            timeout_ms: ADMIN_TIMEOUT_MS,
            validate_only: false,
            ..Default::default()
        };
        let conn = self.client.controller_connection().await?;
        let (_, resp): (i16, CreatePartitionsResponse) = conn.send(&req).await?;
        let r = resp.results.first().ok_or(ClientError::UnexpectedResponse(
            "empty CreatePartitions response",
        ))?;
        self.client.invalidate_topic(name);
        check_code(r.error_code, r.error_message.as_deref())
    }

    /// Delete the records of `topic`/`partition` below `before` (-1: all up
    /// to the high watermark). Returns the new log-start offset.
    pub async fn delete_records(
        &self,
        topic: &str,
        partition: i32,
        before: i64,
    ) -> Result<i64, ClientError> {
        use weir_protocol::messages::delete_records_request::{
            DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic,
        };
        use weir_protocol::messages::delete_records_response::DeleteRecordsResponse;
        let leader = self.client.leader(topic, partition, false).await?;
        let conn = self.client.broker_connection(leader).await?;
        let req = DeleteRecordsRequest {
            topics: vec![DeleteRecordsTopic {
                name: topic.to_owned(),
                partitions: vec![DeleteRecordsPartition {
                    partition_index: partition,
                    offset: before,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            timeout_ms: ADMIN_TIMEOUT_MS,
            ..Default::default()
        };
        let (_, resp): (i16, DeleteRecordsResponse) = conn.send(&req).await?;
        let p = resp
            .topics
            .first()
            .and_then(|t| t.partitions.first())
            .ok_or(ClientError::UnexpectedResponse(
                "empty DeleteRecords response",
            ))?;
        check_code(p.error_code, None)?;
        Ok(p.low_watermark)
    }

    /// The configs of a resource (`RESOURCE_TYPE_TOPIC` or
    /// `RESOURCE_TYPE_BROKER`), or `None` when DescribeConfigs is not served.
    pub async fn describe_configs(
        &self,
        resource_type: i8,
        name: &str,
    ) -> Result<Option<Vec<ConfigEntry>>, ClientError> {
        let conn = self.client.any_connection().await?;
        if conn
            .broker_versions()
            .negotiate(ApiKey::DescribeConfigs)
            .is_none()
        {
            return Ok(None);
        }
        let req = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type,
                resource_name: name.to_owned(),
                configuration_keys: None,
                ..Default::default()
            }],
            ..Default::default()
        };
        let (_, resp): (i16, DescribeConfigsResponse) = conn.send(&req).await?;
        let result = resp
            .results
            .into_iter()
            .find(|r| r.resource_name == name)
            .ok_or(ClientError::UnexpectedResponse(
                "resource missing from DescribeConfigs response",
            ))?;
        check_code(result.error_code, result.error_message.as_deref())?;
        let mut configs: Vec<ConfigEntry> = result
            .configs
            .into_iter()
            .map(|c| ConfigEntry {
                name: c.name,
                value: c.value,
                // v0 has `is_default`; v1+ report the source (5 = DEFAULT_CONFIG).
                is_default: c.is_default || c.config_source == 5,
                is_sensitive: c.is_sensitive,
                read_only: c.read_only,
                source: c.config_source,
            })
            .collect();
        configs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Some(configs))
    }

    /// The brokers and controller.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription, ClientError> {
        let snapshot = self.client.metadata(Some(&[][..]), false).await?;
        Ok(ClusterDescription {
            cluster_id: snapshot.cluster_id,
            controller_id: snapshot.controller_id,
            brokers: snapshot.brokers,
        })
    }
}
