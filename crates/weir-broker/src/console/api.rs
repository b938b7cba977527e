//! The console's JSON API, read by its page: `GET /api/overview`,
//! `/api/topics`, `/api/topics/{topic}`, `/api/topics/{topic}/records`,
//! `/api/groups`, `/api/groups/{group}`. Every value comes from the same
//! state the Kafka APIs serve (metadata image, partition logs, group
//! coordinator); rates and charts come from [`super::history`].

use std::collections::BTreeMap;

use serde_json::{Value, json};
use weir_metadata::names::is_internal_topic;
use weir_metadata::topic_config::{ConfigSource, TOPIC_CONFIGS, resolve};

use super::Console;
use crate::lag::group_lags;

fn source_name(s: ConfigSource) -> &'static str {
    match s {
        ConfigSource::DynamicTopic => "DYNAMIC_TOPIC_CONFIG",
        ConfigSource::StaticBroker => "STATIC_BROKER_CONFIG",
        ConfigSource::Default => "DEFAULT_CONFIG",
    }
}

fn rates_json(r: Option<&super::history::Rates>) -> Value {
    let r = r.copied().unwrap_or_default();
    json!({
        "records_in": r[0], "bytes_in": r[1], "records_out": r[2], "bytes_out": r[3],
    })
}

/// Cluster overview: brokers, controller, version, uptime, counts, and the
/// broker's throughput over time.
pub fn overview(c: &Console) -> Value {
    let b = &c.broker;
    let image = b.image();
    let (host, port) = b.advertised();
    let partitions: usize = image.topics().map(|t| t.partitions.len()).sum();
    let groups = if b.groups.is_ready() {
        b.groups.read(|g| g.list(&[]).len())
    } else {
        0
    };
    let throughput: Vec<Value> = c
        .history
        .broker_rates()
        .into_iter()
        .map(|(ts, r)| json!({"ts": ts, "rates": rates_json(Some(&r))}))
        .collect();
    json!({
        "cluster_id": b.cluster_id,
        "controller_id": b.node_id(),
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": c.started.elapsed().as_secs(),
        "read_only": c.read_only,
        "brokers": [{"id": b.node_id(), "host": host, "port": port}],
        "topics": image.topic_count(),
        "partitions": partitions,
        "groups": groups,
        "size_bytes": b.logs.all().iter().map(|p| p.size_bytes()).sum::<u64>(),
        "throughput": throughput,
    })
}

/// Every topic with partition count, size, retention and live rates.
pub fn topics(c: &Console) -> Value {
    let image = c.broker.image();
    let broker_props = c.broker.broker_layers().effective();
    let rates = c.history.topic_rates();
    let list: Vec<Value> = image
        .topics()
        .map(|t| {
            let mut size = 0u64;
            let mut records = 0i64;
            for i in t.partitions.keys() {
                if let Some(p) = c.broker.logs.get(&t.name, *i) {
                    size += p.size_bytes();
                    if let Ok((start, end)) = p.offsets() {
                        records += end - start;
                    }
                }
            }
            let config = |name: &str| {
                TOPIC_CONFIGS
                    .iter()
                    .find(|d| d.name == name)
                    .map(|d| resolve(d, &t.configs, &broker_props).0)
            };
            json!({
                "name": t.name,
                "internal": is_internal_topic(&t.name),
                "partitions": t.partitions.len(),
                "replication_factor": t.partitions.values().next().map(|p| p.replicas.len()),
                "size_bytes": size,
                "records": records,
                "cleanup_policy": config("cleanup.policy"),
                "retention_ms": config("retention.ms"),
                "rates": rates_json(rates.get(&t.name)),
            })
        })
        .collect();
    json!({ "topics": list })
}

/// One topic: partitions (leader, replicas, ISR, offsets, size) and every
/// config with its source. `None` if there is no such topic.
pub fn topic(c: &Console, name: &str) -> Option<Value> {
    let image = c.broker.image();
    let t = image.topic(name)?;
    let broker_props = c.broker.broker_layers().effective();
    let partitions: Vec<Value> = t
        .partitions
        .iter()
        .map(|(i, pi)| {
            let p = c.broker.logs.get(name, *i);
            let offsets = p.as_ref().and_then(|p| p.offsets().ok());
            json!({
                "partition": i,
                "leader": pi.leader,
                "leader_epoch": pi.leader_epoch,
                "replicas": pi.replicas,
                "isr": pi.isr,
                "log_start_offset": offsets.map(|o| o.0),
                "high_watermark": offsets.map(|o| o.1),
                "size_bytes": p.as_ref().map(|p| p.size_bytes()),
                "online": offsets.is_some(),
            })
        })
        .collect();
    let configs: Vec<Value> = TOPIC_CONFIGS
        .iter()
        .map(|d| {
            let (value, source) = resolve(d, &t.configs, &broker_props);
            json!({"name": d.name, "value": value, "source": source_name(source)})
        })
        .collect();
    Some(json!({
        "name": t.name,
        "id": t.id.to_string(),
        "internal": is_internal_topic(&t.name),
        "partitions": partitions,
        "configs": configs,
        "rates": rates_json(c.history.topic_rates().get(name)),
    }))
}

/// Every group with state, member count and total lag.
pub fn groups(c: &Console) -> Value {
    let b = &c.broker;
    if !b.groups.is_ready() {
        return json!({"loading": true, "groups": []});
    }
    let mut lag: BTreeMap<String, i64> = BTreeMap::new();
    for l in group_lags(b, None) {
        *lag.entry(l.group).or_default() += l.lag;
    }
    let list: Vec<Value> = b.groups.read(|g| {
        g.list(&[])
            .into_iter()
            .map(|l| {
                let members = g
                    .describe(&l.group_id)
                    .map(|d| d.members.len())
                    .unwrap_or(0);
                json!({
                    "group_id": l.group_id,
                    "state": l.state,
                    "protocol_type": l.protocol_type,
                    "members": members,
                    "lag": lag.get(&l.group_id).copied().unwrap_or(0),
                })
            })
            .collect()
    });
    json!({"loading": false, "groups": list})
}

/// One group: state, members with their assignment, per-partition lag,
/// and total lag over time. `None` if the group is unknown.
pub fn group(c: &Console, id: &str) -> Option<Value> {
    let b = &c.broker;
    if !b.groups.is_ready() {
        return None;
    }
    let d = b.groups.read(|g| g.describe(id)).ok()?;
    if d.state == "Dead" {
        return None;
    }
    let consumer = d.protocol_type == "consumer";
    let members: Vec<Value> = d
        .members
        .iter()
        .map(|m| {
            let assignment: Vec<Value> = if consumer {
                weir_protocol::consumer_protocol::assigned_partitions(&m.assignment)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(topic, partitions)| json!({"topic": topic, "partitions": partitions}))
                    .collect()
            } else {
                Vec::new()
            };
            json!({
                "member_id": m.member_id,
                "group_instance_id": m.group_instance_id,
                "client_id": m.client_id,
                "client_host": m.client_host,
                "assignment": assignment,
            })
        })
        .collect();
    let offsets: Vec<Value> = group_lags(b, Some(&[id.to_string()]))
        .into_iter()
        .map(|l| {
            json!({
                "topic": l.topic, "partition": l.partition,
                "committed": l.committed, "end": l.end, "lag": l.lag,
            })
        })
        .collect();
    let history: Vec<Value> = c
        .history
        .group_lag(id)
        .into_iter()
        .map(|(ts, lag)| json!({"ts": ts, "lag": lag}))
        .collect();
    Some(json!({
        "group_id": d.group_id,
        "state": d.state,
        "protocol_type": d.protocol_type,
        "protocol": d.protocol,
        "members": members,
        "offsets": offsets,
        "lag_history": history,
    }))
}
