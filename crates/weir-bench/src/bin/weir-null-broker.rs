//! `weir-null-broker`: a Kafka broker that answers correctly and stores
//! nothing, the protocol-and-client ceiling of Weir's benchmarks.
//!
//! Prints `weir null-broker listening on HOST:PORT` once it accepts
//! connections, then serves until killed.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use weir_bench::null_broker::{self, NullBrokerConfig};

/// A Kafka broker that answers correctly and stores nothing.
#[derive(Parser, Debug)]
#[command(name = "weir-null-broker", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Partitions of every topic a request names before CreateTopics does.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Value size of the records Fetch serves.
    #[arg(long, default_value_t = 1024)]
    record_size: usize,
    /// Records in the batch Fetch serves.
    #[arg(long, default_value_t = 1000)]
    fetch_batch_records: i32,
    /// Log end offset of every partition before anything is produced (the
    /// records a consume run finds).
    #[arg(long, default_value_t = 0)]
    log_end_offset: i64,
    /// Fetch serves the last batches produced to each partition, not the
    /// pre-built one (end-to-end latency runs).
    #[arg(long)]
    echo: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = NullBrokerConfig {
        partitions: args.partitions,
        record_size_bytes: args.record_size,
        fetch_batch_records: args.fetch_batch_records,
        log_end_offset: args.log_end_offset,
        echo: args.echo,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("weir-null-broker: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let (listener, broker) = match null_broker::bind(&args.listen, config).await {
            Ok(bound) => bound,
            Err(e) => {
                eprintln!("weir-null-broker: {e}");
                return ExitCode::FAILURE;
            }
        };
        let (host, port) = &broker.advertised;
        println!("weir null-broker listening on {host}:{port}");
        let _ = std::io::stdout().flush();
        match null_broker::serve(listener, broker).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("weir-null-broker: accept failed: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
