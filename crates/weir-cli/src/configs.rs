//! `weir configs describe|alter` (shaped like `kafka-configs.sh`) and
//! `weir records delete` (like `kafka-delete-records.sh`).

use std::io::Write;
use std::process::ExitCode;

use serde_json::json;
use weir_client::Admin;
use weir_client::admin::{AlterConfigOp, RESOURCE_TYPE_BROKER, RESOURCE_TYPE_TOPIC};

use crate::output::OutputFormat;
use crate::{ConnectArgs, parse_key_value, topic_error};

/// `weir configs`.
#[derive(clap::Args, Debug)]
pub struct ConfigsArgs {
    /// What to do
    #[command(subcommand)]
    pub action: ConfigsAction,
}

/// Entity types, as `kafka-configs.sh --entity-type` names them.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntityType {
    /// A topic
    Topics,
    /// A broker (by node id)
    Brokers,
}

impl EntityType {
    fn label(self) -> &'static str {
        match self {
            EntityType::Topics => "topic",
            EntityType::Brokers => "broker",
        }
    }

    fn resource_type(self) -> i8 {
        match self {
            EntityType::Topics => RESOURCE_TYPE_TOPIC,
            EntityType::Brokers => RESOURCE_TYPE_BROKER,
        }
    }
}

/// The `weir configs` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ConfigsAction {
    /// Show the configs of a topic or broker, with their sources
    Describe {
        /// topics or brokers
        #[arg(long, value_enum)]
        entity_type: EntityType,
        /// Topic name or broker id
        #[arg(long, required_unless_present = "entity_default")]
        entity_name: Option<String>,
        /// The cluster-wide broker defaults (with --entity-type brokers)
        #[arg(long, conflicts_with = "entity_name")]
        entity_default: bool,
        /// Show every config, not only those set on the entity
        #[arg(long)]
        all: bool,
        /// Connection and output flags
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Set or remove configs (IncrementalAlterConfigs)
    Alter {
        /// topics or brokers
        #[arg(long, value_enum)]
        entity_type: EntityType,
        /// Topic name or broker id
        #[arg(long, required_unless_present = "entity_default")]
        entity_name: Option<String>,
        /// The cluster-wide broker defaults (with --entity-type brokers)
        #[arg(long, conflicts_with = "entity_name")]
        entity_default: bool,
        /// KEY=VALUE[,KEY=VALUE...] to set (repeatable)
        #[arg(long = "add-config", value_name = "KEY=VALUE", value_delimiter = ',', value_parser = parse_key_value)]
        add: Vec<(String, String)>,
        /// KEY[,KEY...] to remove (repeatable)
        #[arg(long = "delete-config", value_name = "KEY", value_delimiter = ',')]
        delete: Vec<String>,
        /// Connection and output flags
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

/// `weir records`.
#[derive(clap::Args, Debug)]
pub struct RecordsArgs {
    /// What to do
    #[command(subcommand)]
    pub action: RecordsAction,
}

/// The `weir records` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum RecordsAction {
    /// Delete the records of a partition below an offset (DeleteRecords)
    Delete {
        /// Topic name
        #[arg(long)]
        topic: String,
        /// Partition
        #[arg(long)]
        partition: i32,
        /// Delete every record below this offset (-1: up to the high watermark)
        #[arg(long, allow_negative_numbers = true)]
        before: i64,
        /// Connection and output flags
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

const SOURCE_NAMES: [(i8, &str); 4] = [
    (1, "DYNAMIC_TOPIC_CONFIG"),
    (4, "STATIC_BROKER_CONFIG"),
    (5, "DEFAULT_CONFIG"),
    (-1, "UNKNOWN"),
];

fn source_name(source: i8) -> &'static str {
    SOURCE_NAMES
        .iter()
        .find(|(s, _)| *s == source)
        .map(|(_, n)| *n)
        .unwrap_or("UNKNOWN")
}

/// The resource name: the entity name, or "" for `--entity-default`
/// (Kafka's name for the cluster-wide broker defaults).
fn entity(entity_type: EntityType, name: Option<String>, default: bool) -> anyhow::Result<String> {
    match (name, default) {
        (_, true) if entity_type != EntityType::Brokers => {
            anyhow::bail!("--entity-default applies to --entity-type brokers only")
        }
        (_, true) => Ok(String::new()),
        (Some(n), false) => Ok(n),
        (None, false) => anyhow::bail!("give --entity-name or --entity-default"),
    }
}

pub(crate) async fn run(args: ConfigsArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout();
    match args.action {
        ConfigsAction::Describe {
            entity_type,
            entity_name,
            entity_default,
            all,
            connect,
        } => {
            let entity_name = entity(entity_type, entity_name, entity_default)?;
            let admin = Admin::new(connect.connect().await?);
            let configs = admin
                .describe_configs(entity_type.resource_type(), &entity_name)
                .await
                .map_err(|e| topic_error("describe configs of", &entity_name, &e))?
                .ok_or_else(|| anyhow::anyhow!("the broker does not serve DescribeConfigs"))?;
            let shown: Vec<_> = configs
                .iter()
                .filter(|c| all || entity_type == EntityType::Brokers || c.is_topic_override())
                .collect();
            match connect.output {
                OutputFormat::Plain => {
                    writeln!(out, "Configs for {} '{entity_name}':", entity_type.label())?;
                    for c in shown {
                        let v = if c.is_sensitive {
                            "(sensitive)"
                        } else {
                            c.value.as_deref().unwrap_or("null")
                        };
                        writeln!(out, "  {}={} ({})", c.name, v, source_name(c.source))?;
                    }
                }
                OutputFormat::Json => {
                    let list: Vec<_> = shown
                        .iter()
                        .map(|c| {
                            json!({"name": c.name, "value": c.value, "source": source_name(c.source),
                                   "is_default": c.is_default, "read_only": c.read_only, "sensitive": c.is_sensitive})
                        })
                        .collect();
                    writeln!(
                        out,
                        "{}",
                        json!({"entity_name": entity_name, "configs": list})
                    )?;
                }
            }
        }
        ConfigsAction::Alter {
            entity_type,
            entity_name,
            entity_default,
            add,
            delete,
            connect,
        } => {
            let entity_name = entity(entity_type, entity_name, entity_default)?;
            if add.is_empty() && delete.is_empty() {
                anyhow::bail!("nothing to change: give --add-config and/or --delete-config");
            }
            let ops: Vec<AlterConfigOp> = add
                .into_iter()
                .map(|(k, v)| AlterConfigOp::Set(k, v))
                .chain(delete.into_iter().map(AlterConfigOp::Delete))
                .collect();
            let admin = Admin::new(connect.connect().await?);
            admin
                .alter_configs(entity_type.resource_type(), &entity_name, &ops)
                .await
                .map_err(|e| topic_error("alter configs of", &entity_name, &e))?;
            match connect.output {
                OutputFormat::Plain => {
                    writeln!(out, "Completed updating config for {entity_name}.")?
                }
                OutputFormat::Json => writeln!(
                    out,
                    "{}",
                    json!({"entity_name": entity_name, "altered": true})
                )?,
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run_records(args: RecordsArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout();
    let RecordsAction::Delete {
        topic,
        partition,
        before,
        connect,
    } = args.action;
    let admin = Admin::new(connect.connect().await?);
    let low = admin
        .delete_records(&topic, partition, before)
        .await
        .map_err(|e| topic_error("delete records of", &topic, &e))?;
    match connect.output {
        OutputFormat::Plain => writeln!(
            out,
            "Partition {topic}-{partition}: low watermark is now {low}."
        )?,
        OutputFormat::Json => writeln!(
            out,
            "{}",
            json!({"topic": topic, "partition": partition, "low_watermark": low})
        )?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
