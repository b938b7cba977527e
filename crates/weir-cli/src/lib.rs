//! The `weir topics`, `weir produce`, `weir consume`, `weir groups` and
//! `weir bench` subcommands, built on `weir-client`. Shaped like Kafka's
//! `kafka-topics.sh`, `kafka-console-producer.sh`,
//! `kafka-console-consumer.sh`, `kafka-consumer-groups.sh` and its perf
//! tools; see `docs/cli.md` and `docs/benchmarks.md`.
//!
//! The `weir` binary flattens [`ClientCommand`] into its own subcommands and
//! calls [`run`]. Errors come back as `anyhow` errors whose message is meant
//! for the user (`topic 'x' already exists (TOPIC_ALREADY_EXISTS)`); the
//! binary prints them as `Error: ...` and exits non-zero.

use std::process::ExitCode;
use std::sync::Arc;

use weir_client::{Client, ClientConfig, ClientError};

mod bench;
mod configs;
mod consume;
mod groups;
mod groups_reset;
mod output;
mod produce;
mod topics;

pub use bench::{BenchAction, BenchArgs, BenchFlags, CompressionArg};
pub use consume::ConsumeArgs;
pub use groups::{GroupsAction, GroupsArgs};
pub use groups_reset::ResetArgs;
pub use output::OutputFormat;
pub use produce::ProduceArgs;
pub use topics::{TopicsAction, TopicsArgs};

/// The client subcommands of `weir`.
#[derive(clap::Subcommand, Debug)]
pub enum ClientCommand {
    /// Create, list, describe and delete topics
    Topics(TopicsArgs),
    /// Produce lines from stdin
    Produce(ProduceArgs),
    /// Consume records
    Consume(ConsumeArgs),
    /// List, describe, reset offsets of and delete consumer groups
    Groups(GroupsArgs),
    /// Describe and alter topic and broker configs
    Configs(configs::ConfigsArgs),
    /// Delete records below an offset
    Records(configs::RecordsArgs),
    /// Measure produce, consume and end-to-end throughput and latency
    Bench(BenchArgs),
}

impl ClientCommand {
    /// Whether the command wants a multi-threaded runtime: benchmarks keep
    /// several clients busy at once; the other commands need one thread.
    pub fn wants_worker_threads(&self) -> bool {
        matches!(self, ClientCommand::Bench(_))
    }
}

/// Run a client subcommand; the exit code says whether it fully succeeded.
pub async fn run(cmd: ClientCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ClientCommand::Topics(args) => topics::run(args).await,
        ClientCommand::Produce(args) => produce::run(args).await,
        ClientCommand::Consume(args) => consume::run(args).await,
        ClientCommand::Groups(args) => groups::run(args).await,
        ClientCommand::Configs(args) => configs::run(args).await,
        ClientCommand::Records(args) => configs::run_records(args).await,
        ClientCommand::Bench(args) => bench::run(args).await,
    }
}

/// Flags every client subcommand takes.
#[derive(clap::Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Broker(s) to bootstrap from: host:port[,host:port...]
    #[arg(
        long = "bootstrap-server",
        visible_alias = "bootstrap-servers",
        env = "WEIR_BOOTSTRAP_SERVER",
        default_value = "127.0.0.1:9092",
        value_name = "HOST:PORT"
    )]
    pub bootstrap_server: String,
    /// Client id sent to the broker
    #[arg(long, default_value = "weir-cli", value_name = "ID")]
    pub client_id: String,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Plain)]
    pub output: OutputFormat,
}

impl ConnectArgs {
    /// Connect to the cluster.
    pub async fn connect(&self) -> anyhow::Result<Arc<Client>> {
        let config = ClientConfig::new(&self.bootstrap_server).client_id(self.client_id.clone());
        if config.bootstrap_servers.is_empty() {
            anyhow::bail!("--bootstrap-server is empty");
        }
        let client = Client::connect(config).await.map_err(|e| match e {
            ClientError::NoBrokerAvailable { .. } | ClientError::InvalidAddress(_) => {
                anyhow::anyhow!("{e}")
            }
            other => anyhow::anyhow!("could not connect to {}: {other}", self.bootstrap_server),
        })?;
        Ok(Arc::new(client))
    }
}

/// A user-facing message for an error about topic `topic`, naming the
/// Kafka error code when there is one.
pub(crate) fn topic_error(action: &str, topic: &str, e: &ClientError) -> anyhow::Error {
    let ClientError::Kafka {
        code,
        name,
        message,
    } = e
    else {
        return anyhow::anyhow!("could not {action} topic '{topic}': {e}");
    };
    let detail = message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    match code {
        3 => anyhow::anyhow!("topic '{topic}' does not exist ({name})"),
        36 => anyhow::anyhow!("topic '{topic}' already exists ({name})"),
        17 => anyhow::anyhow!("invalid topic name '{topic}'{detail} ({name})"),
        37 => anyhow::anyhow!("invalid number of partitions for topic '{topic}'{detail} ({name})"),
        38 => anyhow::anyhow!("invalid replication factor for topic '{topic}'{detail} ({name})"),
        40 => anyhow::anyhow!("invalid config for topic '{topic}'{detail} ({name})"),
        _ => anyhow::anyhow!("could not {action} topic '{topic}'{detail} ({name})"),
    }
}

/// Parse `key=value`.
pub(crate) fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        cmd: ClientCommand,
    }

    #[test]
    fn topic_errors_name_the_code() {
        let e = topic_error(
            "create",
            "t",
            &ClientError::kafka(36, Some("Topic 't' already exists.".into())),
        );
        assert_eq!(
            e.to_string(),
            "topic 't' already exists (TOPIC_ALREADY_EXISTS)"
        );
        let e = topic_error("create", "a b", &ClientError::kafka(17, Some("bad".into())));
        assert_eq!(
            e.to_string(),
            "invalid topic name 'a b': bad (INVALID_TOPIC_EXCEPTION)"
        );
        let e = topic_error("delete", "t", &ClientError::kafka(3, None));
        assert_eq!(
            e.to_string(),
            "topic 't' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
        );
    }

    #[test]
    fn key_values_parse() {
        assert_eq!(parse_key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_key_value("novalue").is_err());
        assert!(parse_key_value("=v").is_err());
    }

    #[test]
    fn command_lines_parse() {
        let cli = Cli::try_parse_from([
            "weir",
            "topics",
            "create",
            "--topic",
            "t",
            "--partitions",
            "3",
            "--config",
            "retention.ms=1",
            "--bootstrap-server",
            "h:1",
        ])
        .map_err(|e| e.to_string());
        assert!(cli.is_ok(), "{cli:?}");
        let cli = Cli::try_parse_from(["weir", "consume", "t", "--offset", "5"]);
        assert!(cli.is_err(), "--offset needs --partition");
        let cli = Cli::try_parse_from([
            "weir",
            "consume",
            "t",
            "--partition",
            "0",
            "--offset",
            "earliest",
        ]);
        assert!(cli.is_ok());
        let cli = Cli::try_parse_from(["weir", "produce", "t", "--acks", "2"]);
        assert!(cli.is_err());
        let cli = Cli::try_parse_from(["weir", "produce", "t", "--acks", "-1", "--header", "a=b"]);
        assert!(cli.is_ok(), "{cli:?}");
    }

    #[test]
    fn group_command_lines_parse() {
        let ok = |args: &[&str]| {
            let cli = Cli::try_parse_from(args.iter().copied()).map_err(|e| e.to_string());
            assert!(cli.is_ok(), "{args:?}: {cli:?}");
        };
        let bad = |args: &[&str]| {
            assert!(
                Cli::try_parse_from(args.iter().copied()).is_err(),
                "{args:?}"
            );
        };
        ok(&["weir", "groups", "list", "--state", "Stable,Empty"]);
        ok(&[
            "weir",
            "groups",
            "describe",
            "g",
            "--members",
            "--output",
            "json",
        ]);
        ok(&["weir", "groups", "delete", "g"]);
        ok(&[
            "weir",
            "groups",
            "reset-offsets",
            "g",
            "--topic",
            "t",
            "--to-earliest",
        ]);
        ok(&[
            "weir",
            "groups",
            "reset-offsets",
            "g",
            "--topic",
            "t:0,1",
            "--shift-by",
            "-2",
            "--execute",
        ]);
        ok(&[
            "weir",
            "groups",
            "reset-offsets",
            "g",
            "--topic",
            "t",
            "--to-datetime",
            "2024-01-01T00:00:00Z",
        ]);
        // Exactly one target, and a topic.
        bad(&["weir", "groups", "reset-offsets", "g", "--topic", "t"]);
        bad(&[
            "weir",
            "groups",
            "reset-offsets",
            "g",
            "--topic",
            "t",
            "--to-earliest",
            "--to-latest",
        ]);
        bad(&["weir", "groups", "reset-offsets", "g", "--to-earliest"]);
        bad(&[
            "weir",
            "groups",
            "reset-offsets",
            "g",
            "--topic",
            "t",
            "--to-latest",
            "--dry-run",
            "--execute",
        ]);
        bad(&[
            "weir",
            "groups",
            "reset-offsets",
            "g",
            "--topic",
            "t",
            "--to-datetime",
            "yesterday",
        ]);
    }
}
