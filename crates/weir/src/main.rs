//! `weir`: the broker and its command-line tools in one binary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use weir_broker::broker::Broker;
use weir_broker::config::{BrokerConfig, read_properties_file};

/// Weir: an event-streaming broker that speaks the Kafka protocol.
#[derive(Parser, Debug)]
#[command(name = "weir", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a broker (defaults: 127.0.0.1:9092, data in ./weir-data).
    Broker(BrokerArgs),
    #[command(flatten)]
    Client(weir_cli::ClientCommand),
}

/// `weir broker` flags. Each flag is a shortcut for a Kafka property and
/// overrides the `--config` file; `--override key=value` sets any property.
#[derive(clap::Args, Debug)]
struct BrokerArgs {
    /// Kafka-style server.properties file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// `listeners`, e.g. PLAINTEXT://127.0.0.1:9092 (port 0 = ephemeral).
    #[arg(long)]
    listeners: Option<String>,
    /// `advertised.listeners`.
    #[arg(long)]
    advertised_listeners: Option<String>,
    /// `log.dirs`: data directory.
    #[arg(long, alias = "data-dir")]
    log_dirs: Option<String>,
    /// `node.id`.
    #[arg(long)]
    node_id: Option<i32>,
    /// Any property as key=value; repeatable; wins over the file.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

fn broker_props(args: &BrokerArgs) -> anyhow::Result<BTreeMap<String, String>> {
    let mut props = match &args.config {
        Some(path) => read_properties_file(path)?,
        None => BTreeMap::new(),
    };
    for kv in &args.overrides {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--override {kv:?}: expected key=value"))?;
        props.insert(k.trim().to_string(), v.trim().to_string());
    }
    if let Some(v) = &args.listeners {
        props.insert("listeners".into(), v.clone());
    }
    if let Some(v) = &args.advertised_listeners {
        props.insert("advertised.listeners".into(), v.clone());
    }
    if let Some(v) = &args.log_dirs {
        props.remove("log.dir");
        props.insert("log.dirs".into(), v.clone());
    }
    if let Some(v) = args.node_id {
        props.remove("broker.id");
        props.insert("node.id".into(), v.to_string());
    }
    Ok(props)
}

/// Resolves on SIGTERM or SIGINT. The handlers are registered when this is
/// called (not when the future is first polled), so a signal that arrives
/// right after the ready line still shuts the broker down cleanly.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}

fn run_broker(args: BrokerArgs) -> anyhow::Result<()> {
    let props = broker_props(&args)?;
    let (config, warnings) = BrokerConfig::from_props(props)?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    match weir_broker::server::raise_open_files_limit() {
        Some((before, after)) if after > before => {
            tracing::info!(before, after, "raised the open files limit");
        }
        Some((_, limit)) => tracing::info!(limit, "open files limit"),
        None => {}
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let shutdown = shutdown_signal()?;
        let broker = Arc::new(tokio::task::spawn_blocking(move || Broker::open(config)).await??);
        weir_broker::server::run(broker, shutdown).await?;
        Ok(())
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Broker(args) => match run_broker(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e:#}");
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Cmd::Client(cmd) => {
            let mut builder = if cmd.wants_worker_threads() {
                tokio::runtime::Builder::new_multi_thread()
            } else {
                tokio::runtime::Builder::new_current_thread()
            };
            let rt = match builder.enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(weir_cli::run(cmd)) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("Error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
