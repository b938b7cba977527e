//! `weir topics create|list|describe|delete`, shaped like `kafka-topics.sh`.

use std::io::Write;
use std::process::ExitCode;

use serde_json::json;
use weir_client::{Admin, ClientError, NewTopic, TopicDescription};

use crate::output::OutputFormat;
use crate::{ConnectArgs, parse_key_value, topic_error};

/// Kafka's `UNKNOWN_TOPIC_OR_PARTITION`.
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
/// Kafka's `TOPIC_ALREADY_EXISTS`.
const TOPIC_ALREADY_EXISTS: i16 = 36;

/// `weir topics`.
#[derive(clap::Args, Debug)]
pub struct TopicsArgs {
    /// What to do
    #[command(subcommand)]
    pub action: TopicsAction,
}

/// The `weir topics` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum TopicsAction {
    /// Create a topic
    Create {
        /// Topic name
        #[arg(long)]
        topic: String,
        /// Number of partitions (default: the broker's num.partitions)
        #[arg(long, allow_negative_numbers = true)]
        partitions: Option<i32>,
        /// Replication factor (default: the broker's default.replication.factor)
        #[arg(long, allow_negative_numbers = true)]
        replication_factor: Option<i16>,
        /// Topic config, e.g. retention.ms=604800000 (repeatable)
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        configs: Vec<(String, String)>,
        /// Succeed without doing anything if the topic exists
        #[arg(long)]
        if_not_exists: bool,
        /// Only ask the broker to validate the request
        #[arg(long)]
        validate_only: bool,
        /// Connection and output flags
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// List topic names
    List {
        /// Leave out internal topics
        #[arg(long)]
        exclude_internal: bool,
        /// Connection and output flags
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Describe one topic, or all
    Describe {
        /// Topic name (default: every topic)
        #[arg(long)]
        topic: Option<String>,
        /// Connection and output flags
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Increase a topic's partition count
    Alter {
        /// Topic name
        #[arg(long)]
        topic: String,
        /// New total partition count (only increases)
        #[arg(long, allow_negative_numbers = true)]
        partitions: i32,
        /// Connection and output flags
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Delete a topic
    Delete {
        /// Topic name
        #[arg(long)]
        topic: String,
        /// Succeed without doing anything if the topic does not exist
        #[arg(long)]
        if_exists: bool,
        /// Connection and output flags
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

pub(crate) async fn run(args: TopicsArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout();
    match args.action {
        TopicsAction::Create {
            topic,
            partitions,
            replication_factor,
            configs,
            if_not_exists,
            validate_only,
            connect,
        } => {
            let admin = Admin::new(connect.connect().await?);
            let new = NewTopic {
                name: topic.clone(),
                partitions,
                replication_factor,
                configs,
            };
            match admin.create_topic(&new, validate_only).await {
                Ok(created) => match connect.output {
                    OutputFormat::Plain if validate_only => {
                        writeln!(out, "Topic {topic} is valid (validate only: not created).")?;
                    }
                    OutputFormat::Plain => writeln!(out, "Created topic {topic}.")?,
                    OutputFormat::Json => {
                        let doc = json!({
                            "topic": topic,
                            "created": !validate_only,
                            "validate_only": validate_only,
                            "topic_id": (!validate_only).then(|| created.topic_id.to_string()),
                            "partitions": created.partitions,
                            "replication_factor": created.replication_factor,
                        });
                        writeln!(out, "{doc}")?;
                    }
                },
                Err(e) if if_not_exists && e.kafka_code() == Some(TOPIC_ALREADY_EXISTS) => {
                    if connect.output == OutputFormat::Json {
                        let doc = json!({"topic": topic, "created": false, "already_exists": true});
                        writeln!(out, "{doc}")?;
                    }
                }
                Err(e) => return Err(topic_error("create", &topic, &e)),
            }
        }
        TopicsAction::List {
            exclude_internal,
            connect,
        } => {
            let admin = Admin::new(connect.connect().await?);
            let topics = admin
                .list_topics(!exclude_internal)
                .await
                .map_err(|e| anyhow::anyhow!("could not list topics: {e}"))?;
            match connect.output {
                OutputFormat::Plain => {
                    for t in &topics {
                        writeln!(out, "{}", t.name)?;
                    }
                }
                OutputFormat::Json => {
                    let doc: Vec<_> = topics
                        .iter()
                        .map(|t| {
                            json!({
                                "name": t.name,
                                "topic_id": t.topic_id.to_string(),
                                "partitions": t.partitions,
                                "internal": t.is_internal,
                            })
                        })
                        .collect();
                    writeln!(out, "{}", serde_json::Value::Array(doc))?;
                }
            }
        }
        TopicsAction::Describe { topic, connect } => {
            let admin = Admin::new(connect.connect().await?);
            let names = match topic {
                Some(t) => vec![t],
                None => admin
                    .list_topics(true)
                    .await
                    .map_err(|e| anyhow::anyhow!("could not list topics: {e}"))?
                    .into_iter()
                    .map(|t| t.name)
                    .collect(),
            };
            let mut described = Vec::with_capacity(names.len());
            for name in &names {
                let d = admin
                    .describe_topic(name)
                    .await
                    .map_err(|e| topic_error("describe", name, &e))?;
                described.push(d);
            }
            match connect.output {
                OutputFormat::Plain => {
                    for d in &described {
                        write_description(&mut out, d)?;
                    }
                }
                OutputFormat::Json => {
                    let doc: Vec<_> = described.iter().map(description_json).collect();
                    writeln!(out, "{}", serde_json::Value::Array(doc))?;
                }
            }
        }
        TopicsAction::Alter {
            topic,
            partitions,
            connect,
        } => {
            let admin = Admin::new(connect.connect().await?);
            admin
                .create_partitions(&topic, partitions)
                .await
                .map_err(|e| topic_error("alter", &topic, &e))?;
            match connect.output {
                OutputFormat::Plain => {
                    writeln!(out, "Topic {topic} now has {partitions} partitions.")?
                }
                OutputFormat::Json => {
                    writeln!(out, "{}", json!({"topic": topic, "partitions": partitions}))?
                }
            }
        }
        TopicsAction::Delete {
            topic,
            if_exists,
            connect,
        } => {
            let admin = Admin::new(connect.connect().await?);
            match admin.delete_topic(&topic).await {
                Ok(()) => match connect.output {
                    OutputFormat::Plain => writeln!(out, "Deleted topic {topic}.")?,
                    OutputFormat::Json => {
                        writeln!(out, "{}", json!({"topic": topic, "deleted": true}))?
                    }
                },
                Err(e) if if_exists && is_unknown_topic(&e) => {
                    if connect.output == OutputFormat::Json {
                        writeln!(
                            out,
                            "{}",
                            json!({"topic": topic, "deleted": false, "exists": false})
                        )?;
                    }
                }
                Err(e) => return Err(topic_error("delete", &topic, &e)),
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn is_unknown_topic(e: &ClientError) -> bool {
    // Kafka 2.8+ brokers answer DeleteTopics for a missing name with
    // UNKNOWN_TOPIC_OR_PARTITION; by id, UNKNOWN_TOPIC_ID (100).
    matches!(e.kafka_code(), Some(UNKNOWN_TOPIC_OR_PARTITION | 100))
}

fn replication_factor(d: &TopicDescription) -> usize {
    d.partitions
        .iter()
        .map(|p| p.replicas.len())
        .max()
        .unwrap_or(0)
}

fn join_ids(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// `kafka-topics.sh --describe` layout: a topic line, then one tab-indented
/// line per partition.
fn write_description(out: &mut impl Write, d: &TopicDescription) -> std::io::Result<()> {
    write!(
        out,
        "Topic: {}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {}",
        d.name,
        d.topic_id,
        d.partitions.len(),
        replication_factor(d)
    )?;
    if let Some(configs) = &d.configs {
        let overrides: Vec<String> = configs
            .iter()
            .filter(|c| c.is_topic_override())
            .map(|c| format!("{}={}", c.name, c.value.as_deref().unwrap_or("")))
            .collect();
        write!(out, "\tConfigs: {}", overrides.join(","))?;
    }
    writeln!(out)?;
    for p in &d.partitions {
        writeln!(
            out,
            "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
            d.name,
            p.partition,
            if p.leader_id < 0 {
                "none".to_owned()
            } else {
                p.leader_id.to_string()
            },
            join_ids(&p.replicas),
            join_ids(&p.isr)
        )?;
    }
    Ok(())
}

fn description_json(d: &TopicDescription) -> serde_json::Value {
    let configs = d.configs.as_ref().map(|cs| {
        cs.iter()
            .filter(|c| c.is_topic_override())
            .map(|c| (c.name.clone(), json!(c.value)))
            .collect::<serde_json::Map<_, _>>()
    });
    json!({
        "name": d.name,
        "topic_id": d.topic_id.to_string(),
        "internal": d.is_internal,
        "partition_count": d.partitions.len(),
        "replication_factor": replication_factor(d),
        "configs": configs,
        "partitions": d.partitions.iter().map(|p| json!({
            "partition": p.partition,
            "leader": p.leader_id,
            "leader_epoch": p.leader_epoch,
            "replicas": p.replicas,
            "isr": p.isr,
            "offline_replicas": p.offline_replicas,
        })).collect::<Vec<_>>(),
    })
}
