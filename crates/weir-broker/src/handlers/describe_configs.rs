//! DescribeConfigs (key 32): every topic config with its effective value,
//! source and synonyms (topic override, then the broker's static `log.*`
//! keys, then the default), and the broker's static configs.

use std::collections::BTreeMap;

use weir_metadata::topic_config::{ConfigSource, TOPIC_CONFIGS, resolve};
use weir_protocol::messages::describe_configs_request::DescribeConfigsRequest;
use weir_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult,
    DescribeConfigsSynonym,
};

use crate::broker::Broker;
use crate::errors::ErrorCode;

/// ConfigResource types (Kafka's `ConfigResource.Type`).
pub const RESOURCE_TOPIC: i8 = 2;
/// Broker resource.
pub const RESOURCE_BROKER: i8 = 4;
/// Broker logger resource.
pub const RESOURCE_BROKER_LOGGER: i8 = 8;

/// DescribeConfigs' source code for a static broker key.
const SOURCE_STATIC_BROKER: i8 = 4;
/// DescribeConfigs' source code for a default.
const SOURCE_DEFAULT: i8 = 5;

fn wanted(keys: &Option<Vec<String>>, name: &str) -> bool {
    keys.as_ref()
        .is_none_or(|k| k.is_empty() || k.iter().any(|x| x == name))
}

fn topic_configs(
    overrides: &BTreeMap<String, String>,
    broker: &BTreeMap<String, String>,
    keys: &Option<Vec<String>>,
    synonyms: bool,
    docs: bool,
) -> Vec<DescribeConfigsResourceResult> {
    TOPIC_CONFIGS
        .iter()
        .filter(|d| wanted(keys, d.name))
        .map(|def| {
            let (value, source) = resolve(def, overrides, broker);
            let mut syns = Vec::new();
            if synonyms {
                if let Some(v) = overrides.get(def.name) {
                    syns.push(DescribeConfigsSynonym {
                        name: def.name.into(),
                        value: Some(v.clone()),
                        source: ConfigSource::DynamicTopic.code(),
                        ..Default::default()
                    });
                }
                for (key, _) in def.synonyms {
                    if let Some(v) = broker.get(*key) {
                        syns.push(DescribeConfigsSynonym {
                            name: (*key).into(),
                            value: Some(v.clone()),
                            source: SOURCE_STATIC_BROKER,
                            ..Default::default()
                        });
                    }
                }
                syns.push(DescribeConfigsSynonym {
                    name: def
                        .synonyms
                        .first()
                        .map(|(k, _)| *k)
                        .unwrap_or(def.name)
                        .into(),
                    value: Some(def.default.into()),
                    source: SOURCE_DEFAULT,
                    ..Default::default()
                });
            }
            DescribeConfigsResourceResult {
                name: def.name.into(),
                value: Some(value),
                read_only: false,
                is_default: source == ConfigSource::Default,
                config_source: source.code(),
                is_sensitive: false,
                synonyms: syns,
                config_type: def.ty.describe_code(),
                documentation: docs.then(String::new),
                ..Default::default()
            }
        })
        .collect()
}

fn broker_configs(
    props: &BTreeMap<String, String>,
    keys: &Option<Vec<String>>,
    docs: bool,
) -> Vec<DescribeConfigsResourceResult> {
    props
        .iter()
        .filter(|(k, _)| wanted(keys, k))
        .map(|(k, v)| DescribeConfigsResourceResult {
            name: k.clone(),
            value: Some(v.clone()),
            // Dynamic broker configs are not served: everything is static.
            read_only: true,
            is_default: false,
            config_source: SOURCE_STATIC_BROKER,
            is_sensitive: false,
            synonyms: Vec::new(),
            config_type: 2,
            documentation: docs.then(String::new),
            ..Default::default()
        })
        .collect()
}

/// Answer DescribeConfigs.
pub fn handle(
    broker: &Broker,
    version: i16,
    req: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let synonyms = version >= 1 && req.include_synonyms;
    let docs = version >= 3 && req.include_documentation;
    let image = broker.image();
    let results = req
        .resources
        .into_iter()
        .map(|r| {
            let mut out = DescribeConfigsResult {
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                ..Default::default()
            };
            match r.resource_type {
                RESOURCE_TOPIC => match image.topic(&r.resource_name) {
                    Some(t) => {
                        out.configs = topic_configs(
                            &t.configs,
                            &broker.config.props,
                            &r.configuration_keys,
                            synonyms,
                            docs,
                        )
                    }
                    None => {
                        out.error_code = ErrorCode::UnknownTopicOrPartition.code();
                        out.error_message =
                            Some(format!("topic '{}' does not exist", r.resource_name));
                    }
                },
                RESOURCE_BROKER
                    if r.resource_name.is_empty()
                        || r.resource_name == broker.node_id().to_string() =>
                {
                    out.configs = broker_configs(&broker.config.props, &r.configuration_keys, docs);
                }
                RESOURCE_BROKER => {
                    out.error_code = ErrorCode::InvalidRequest.code();
                    out.error_message = Some(format!("unexpected broker id {}", r.resource_name));
                }
                RESOURCE_BROKER_LOGGER => {}
                other => {
                    out.error_code = ErrorCode::InvalidRequest.code();
                    out.error_message = Some(format!("unsupported resource type {other}"));
                }
            }
            out
        })
        .collect();
    DescribeConfigsResponse {
        throttle_time_ms: 0,
        results,
        ..Default::default()
    }
}
