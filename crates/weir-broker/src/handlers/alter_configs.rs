//! AlterConfigs (key 33, replace all overrides) and IncrementalAlterConfigs
//! (key 44: SET, DELETE, APPEND, SUBTRACT) for topics. Changes are persisted
//! as metadata records and take effect without a restart. Dynamic broker
//! configs are not served: broker resources get INVALID_REQUEST.

use std::collections::BTreeMap;

use weir_metadata::config_ops::{ConfigOp, incremental_alter, replace_all};
use weir_protocol::messages::alter_configs_request::AlterConfigsRequest;
use weir_protocol::messages::alter_configs_response::{
    AlterConfigsResourceResponse, AlterConfigsResponse,
};
use weir_protocol::messages::incremental_alter_configs_request::IncrementalAlterConfigsRequest;
use weir_protocol::messages::incremental_alter_configs_response as inc;

use crate::broker::{AlterConfigsError, Broker};
use crate::errors::ErrorCode;
use crate::handlers::describe_configs::RESOURCE_TOPIC;

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
        let (code, message) = if r.resource_type != RESOURCE_TOPIC {
            not_a_topic(r.resource_type)
        } else {
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
                None => outcome(
                    broker
                        .alter_topic_configs(
                            &r.resource_name,
                            |_| replace_all(&configs),
                            req.validate_only,
                        )
                        .await,
                ),
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
        let (code, message) = if r.resource_type != RESOURCE_TOPIC {
            not_a_topic(r.resource_type)
        } else {
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
                Ok(ops) => outcome(
                    broker
                        .alter_topic_configs(
                            &r.resource_name,
                            |cur| incremental_alter(cur, &ops),
                            req.validate_only,
                        )
                        .await,
                ),
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
