//! AlterConfigs (key 33, replace all overrides) and IncrementalAlterConfigs
//! (key 44: SET, DELETE, APPEND, SUBTRACT) for topics and brokers. Changes
//! are persisted as metadata records and take effect without a restart.
//! A broker resource named with this node's id changes its own dynamic
//! configs, an empty name the cluster-wide defaults; only the broker
//! defaults of topic configs (`log.retention.ms`, ...) are dynamic, other
//! keys get INVALID_CONFIG naming the key.

use std::collections::BTreeMap;

use weir_metadata::broker_config::BROKERS;
use weir_metadata::config_ops::{ConfigOp, Scope, TOPICS, incremental_alter_in, replace_all_in};
use weir_protocol::messages::alter_configs_request::AlterConfigsRequest;
use weir_protocol::messages::alter_configs_response::{
    AlterConfigsResourceResponse, AlterConfigsResponse,
};
use weir_protocol::messages::incremental_alter_configs_request::IncrementalAlterConfigsRequest;
use weir_protocol::messages::incremental_alter_configs_response as inc;

use crate::broker::{AlterConfigsError, Broker};
use crate::errors::ErrorCode;
use crate::handlers::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};

/// What a resource names.
enum Target {
    Topic(String),
    /// A broker entity: `None` = the cluster-wide default.
    Broker(Option<i32>),
}

fn target(broker: &Broker, resource_type: i8, name: &str) -> Result<Target, (i16, Option<String>)> {
    match resource_type {
        RESOURCE_TOPIC => Ok(Target::Topic(name.to_string())),
        RESOURCE_BROKER if name.is_empty() => Ok(Target::Broker(None)),
        RESOURCE_BROKER if name == broker.node_id().to_string() => {
            Ok(Target::Broker(Some(broker.node_id())))
        }
        RESOURCE_BROKER => Err((
            ErrorCode::InvalidRequest.code(),
            Some(format!("unexpected broker id {name}")),
        )),
        other => Err(not_a_topic(other)),
    }
}

/// Apply `compute` (given the scope of the target's configs) to the target.
async fn alter(
    broker: &Broker,
    target: Target,
    validate_only: bool,
    compute: impl FnOnce(
        &Scope<'static>,
        &BTreeMap<String, String>,
    )
        -> Result<BTreeMap<String, String>, weir_metadata::topic_config::ConfigError>,
) -> (i16, Option<String>) {
    match target {
        Target::Topic(name) => outcome(
            broker
                .alter_topic_configs(&name, |cur| compute(&TOPICS, cur), validate_only)
                .await,
        ),
        Target::Broker(entity) => outcome(
            broker
                .alter_broker_configs(entity, |cur| compute(&BROKERS, cur), validate_only)
                .await,
        ),
    }
}

fn outcome(result: Result<(), AlterConfigsError>) -> (i16, Option<String>) {
    match result {
        Ok(()) => (0, None),
        Err(AlterConfigsError::UnknownTopic(t)) => (
            ErrorCode::UnknownTopicOrPartition.code(),
            Some(format!("topic '{t}' does not exist")),
        ),
        Err(AlterConfigsError::Invalid(e)) => {
            (ErrorCode::InvalidConfig.code(), Some(e.to_string()))
        }
        Err(AlterConfigsError::MetadataLog(m)) => (ErrorCode::UnknownServerError.code(), Some(m)),
    }
}

fn not_a_topic(resource_type: i8) -> (i16, Option<String>) {
    (
        ErrorCode::InvalidRequest.code(),
        Some(format!(
            "altering resource type {resource_type} is not supported"
        )),
    )
}

/// Answer AlterConfigs.
pub async fn handle_alter(
    broker: &Broker,
    _version: i16,
    req: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let (code, message) = match target(broker, r.resource_type, &r.resource_name) {
            Err(e) => e,
            Ok(t) => {
                let mut configs = BTreeMap::new();
                let mut null_key = None;
                for c in &r.configs {
                    match &c.value {
                        Some(v) => {
                            configs.insert(c.name.clone(), v.clone());
                        }
                        None => null_key = Some(c.name.clone()),
                    }
                }
                match null_key {
                    Some(k) => (
                        ErrorCode::InvalidConfig.code(),
                        Some(format!("null value for config {k}")),
                    ),
                    None => {
                        alter(broker, t, req.validate_only, |scope, _| {
                            replace_all_in(scope, &configs)
                        })
                        .await
                    }
                }
            }
        };
        responses.push(AlterConfigsResourceResponse {
            error_code: code,
            error_message: message,
            resource_type: r.resource_type,
            resource_name: r.resource_name,
            ..Default::default()
        });
    }
    AlterConfigsResponse {
        throttle_time_ms: 0,
        responses,
        ..Default::default()
    }
}

/// Answer IncrementalAlterConfigs.
pub async fn handle_incremental(
    broker: &Broker,
    _version: i16,
    req: IncrementalAlterConfigsRequest,
) -> inc::IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let (code, message) = match target(broker, r.resource_type, &r.resource_name) {
            Err(e) => e,
            Ok(t) => {
                let ops: Result<Vec<ConfigOp>, String> = r
                    .configs
                    .iter()
                    .map(|c| {
                        let v = c.value.clone().unwrap_or_default();
                        match c.config_operation {
                            0 => Ok(ConfigOp::Set(c.name.clone(), v)),
                            1 => Ok(ConfigOp::Delete(c.name.clone())),
                            2 => Ok(ConfigOp::Append(c.name.clone(), v)),
                            3 => Ok(ConfigOp::Subtract(c.name.clone(), v)),
                            op => Err(format!("unknown config operation {op} for {}", c.name)),
                        }
                    })
                    .collect();
                match ops {
                    Err(m) => (ErrorCode::InvalidRequest.code(), Some(m)),
                    Ok(ops) => {
                        alter(broker, t, req.validate_only, |scope, cur| {
                            incremental_alter_in(scope, cur, &ops)
                        })
                        .await
                    }
                }
            }
        };
        responses.push(inc::AlterConfigsResourceResponse {
            error_code: code,
            error_message: message,
            resource_type: r.resource_type,
            resource_name: r.resource_name,
            ..Default::default()
        });
    }
    inc::IncrementalAlterConfigsResponse {
        throttle_time_ms: 0,
        responses,
        ..Default::default()
    }
}
