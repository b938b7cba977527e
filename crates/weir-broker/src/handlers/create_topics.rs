//! CreateTopics (key 19): validate and create topics, with configs and
//! `validate_only`. From v5 the response carries the resulting partition
//! count, replication factor and every config with its source.

use std::collections::BTreeMap;

use weir_metadata::topic_config::{TOPIC_CONFIGS, resolve};
use weir_metadata::topics::CreateTopic;
use weir_protocol::codec::Uuid;
use weir_protocol::messages::create_topics_request::CreateTopicsRequest;
use weir_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult, CreateTopicsResponse,
};

use crate::broker::{Broker, TopicOpError};
use crate::errors::{ErrorCode, create_topic_error_code};

/// Answer CreateTopics.
pub async fn handle(
    broker: &Broker,
    version: i16,
    req: CreateTopicsRequest,
    client_id: &str,
) -> CreateTopicsResponse {
    let mut results: Vec<Option<CreatableTopicResult>> = Vec::with_capacity(req.topics.len());
    let mut creates = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for t in &req.topics {
        if !seen.insert(t.name.clone()) {
            // Kafka refuses a name listed twice in one request.
            results.push(Some(error_result(
                &t.name,
                ErrorCode::InvalidRequest,
                "duplicate topic name in request",
            )));
            continue;
        }
        let mut configs = BTreeMap::new();
        let mut null_config = None;
        for c in &t.configs {
            match &c.value {
                Some(v) => {
                    configs.insert(c.name.clone(), v.clone());
                }
                None => null_config = Some(c.name.clone()),
            }
        }
        if let Some(k) = null_config {
            results.push(Some(error_result(
                &t.name,
                ErrorCode::InvalidConfig,
                &format!("null value for config {k}"),
            )));
            continue;
        }
        let num_partitions = if t.num_partitions == -1 {
            broker.config.num_partitions
        } else {
            t.num_partitions
        };
        let replication_factor = if t.replication_factor == -1 {
            broker.config.default_replication_factor
        } else {
            t.replication_factor
        };
        if !t.assignments.is_empty() && (t.num_partitions != -1 || t.replication_factor != -1) {
            results.push(Some(error_result(
                &t.name,
                ErrorCode::InvalidRequest,
                "both partition count/replication factor and replica assignment were given",
            )));
            continue;
        }
        let assignments = t
            .assignments
            .iter()
            .map(|a| (a.partition_index, a.broker_ids.clone()))
            .collect();
        results.push(None);
        creates.push(CreateTopic {
            name: t.name.clone(),
            num_partitions,
            replication_factor,
            assignments,
            configs,
        });
    }
    let names: Vec<String> = creates.iter().map(|c| c.name.clone()).collect();
    let outcomes = broker.create_topics(creates, req.validate_only).await;
    let mut outcomes = names.into_iter().zip(outcomes);
    let image = broker.image();
    let topics = results
        .into_iter()
        .map(|slot| {
            if let Some(r) = slot {
                return r;
            }
            let Some((name, outcome)) = outcomes.next() else {
                return error_result("", ErrorCode::UnknownServerError, "internal error");
            };
            match outcome {
                Ok(()) => {
                    let req_topic = req.topics.iter().find(|t| t.name == name);
                    success_result(broker, version, &name, req_topic, &image)
                }
                Err(TopicOpError::Rejected(e)) => {
                    tracing::info!(topic = %name, client_id, error = %e, "CreateTopics refused");
                    error_result(&name, create_topic_error_code(&e), &e.to_string())
                }
                Err(TopicOpError::MetadataLog(msg)) => {
                    error_result(&name, ErrorCode::UnknownServerError, &msg)
                }
            }
        })
        .collect();
    CreateTopicsResponse {
        throttle_time_ms: 0,
        topics,
        ..Default::default()
    }
}

fn error_result(name: &str, code: ErrorCode, message: &str) -> CreatableTopicResult {
    CreatableTopicResult {
        name: name.to_string(),
        error_code: code.code(),
        error_message: Some(message.to_string()),
        num_partitions: -1,
        replication_factor: -1,
        configs: None,
        ..Default::default()
    }
}

fn success_result(
    broker: &Broker,
    _version: i16,
    name: &str,
    req_topic: Option<&weir_protocol::messages::create_topics_request::CreatableTopic>,
    image: &weir_metadata::MetadataImage,
) -> CreatableTopicResult {
    // validate_only: nothing was created; describe what would have been.
    let (id, partitions, rf, overrides) = match image.topic(name) {
        Some(t) => (
            Uuid(t.id.0),
            t.partitions.len() as i32,
            t.partitions
                .values()
                .next()
                .map(|p| p.replicas.len() as i16)
                .unwrap_or(-1),
            t.configs.clone(),
        ),
        None => {
            let t = req_topic;
            let parts = t.map(|t| {
                if t.num_partitions == -1 {
                    broker.config.num_partitions
                } else {
                    t.num_partitions
                }
            });
            let rf = t.map(|t| {
                if t.replication_factor == -1 {
                    broker.config.default_replication_factor
                } else {
                    t.replication_factor
                }
            });
            let overrides = t
                .map(|t| {
                    t.configs
                        .iter()
                        .filter_map(|c| Some((c.name.clone(), c.value.clone()?)))
                        .collect()
                })
                .unwrap_or_default();
            (Uuid::ZERO, parts.unwrap_or(-1), rf.unwrap_or(-1), overrides)
        }
    };
    let broker_props = broker.broker_layers().effective();
    let configs = TOPIC_CONFIGS
        .iter()
        .map(|def| {
            let (value, source) = resolve(def, &overrides, &broker_props);
            CreatableTopicConfigs {
                name: def.name.to_string(),
                value: Some(value),
                read_only: false,
                config_source: source.code(),
                is_sensitive: false,
                ..Default::default()
            }
        })
        .collect();
    CreatableTopicResult {
        name: name.to_string(),
        topic_id: id,
        error_code: 0,
        error_message: None,
        num_partitions: partitions,
        replication_factor: rf,
        configs: Some(configs),
        ..Default::default()
    }
}
