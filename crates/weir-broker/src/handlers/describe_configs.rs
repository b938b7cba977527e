//! DescribeConfigs (key 32): every topic config with its effective value,
//! source and synonyms (topic override, then the broker's `log.*` keys:
//! this broker's dynamic value, the cluster-wide dynamic default, the
//! static value; then the built-in default), and the broker's configs
//! (entity name = node id: static and dynamic with their sources; empty
//! name: the cluster-wide dynamic defaults).

use std::collections::BTreeMap;

use weir_metadata::broker_config::{BrokerLayers, BrokerSource, dynamic_broker_config};
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
    layers: &BrokerLayers,
    keys: &Option<Vec<String>>,
    synonyms: bool,
    docs: bool,
) -> Vec<DescribeConfigsResourceResult> {
    let broker = layers.effective();
    TOPIC_CONFIGS
        .iter()
        .filter(|d| wanted(keys, d.name))
        .map(|def| {
            let (value, source) = resolve(def, overrides, &broker);
            // Which broker layer supplied it (the first synonym present).
            let source_code = match source {
                ConfigSource::StaticBroker => def
                    .synonyms
                    .iter()
                    .find_map(|(k, _)| layers.sources(k).first().map(|(_, s)| s.code()))
                    .unwrap_or(SOURCE_STATIC_BROKER),
                other => other.code(),
            };
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
                    for (v, src) in layers.sources(key) {
                        syns.push(DescribeConfigsSynonym {
                            name: (*key).into(),
                            value: Some(v),
                            source: src.code(),
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
                config_source: source_code,
                is_sensitive: false,
                synonyms: syns,
                config_type: def.ty.describe_code(),
                documentation: docs.then(String::new),
                ..Default::default()
            }
        })
        .collect()
}

/// One broker key: its winning value and source, and (with `synonyms`)
/// every layer that sets it.
fn broker_entry(
    key: &str,
    sources: Vec<(String, BrokerSource)>,
    synonyms: bool,
    docs: bool,
) -> Option<DescribeConfigsResourceResult> {
    let (value, source) = sources.first().cloned()?;
    Some(DescribeConfigsResourceResult {
        name: key.to_string(),
        value: Some(value),
        // Only the broker defaults of topic configs change at run time.
        read_only: dynamic_broker_config(key).is_none(),
        is_default: false,
        config_source: source.code(),
        is_sensitive: false,
        synonyms: if synonyms {
            sources
                .into_iter()
                .map(|(v, s)| DescribeConfigsSynonym {
                    name: key.to_string(),
                    value: Some(v),
                    source: s.code(),
                    ..Default::default()
                })
                .collect()
        } else {
            Vec::new()
        },
        config_type: 2,
        documentation: docs.then(String::new),
        ..Default::default()
    })
}

fn broker_configs(
    layers: &BrokerLayers,
    default_entity: bool,
    keys: &Option<Vec<String>>,
    synonyms: bool,
    docs: bool,
) -> Vec<DescribeConfigsResourceResult> {
    let names: Vec<String> = if default_entity {
        layers.dynamic_default.keys().cloned().collect()
    } else {
        layers.effective().into_keys().collect()
    };
    names
        .into_iter()
        .filter(|k| wanted(keys, k))
        .filter_map(|k| {
            let sources = if default_entity {
                layers
                    .sources(&k)
                    .into_iter()
                    .filter(|(_, s)| *s != BrokerSource::DynamicBroker)
                    .collect()
            } else {
                layers.sources(&k)
            };
            broker_entry(&k, sources, synonyms, docs)
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
                            &broker.broker_layers(),
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
                    out.configs = broker_configs(
                        &broker.broker_layers(),
                        r.resource_name.is_empty(),
                        &r.configuration_keys,
                        synonyms,
                        docs,
                    );
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
