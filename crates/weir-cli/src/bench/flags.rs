//! The flags of `weir bench`, their checks and the defaults that depend
//! on the subcommand.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use weir_client::{Acks, Client, ClientConfig, ClientError, ConnectionTimeouts};

use super::send;

/// Topic the benchmarks use unless told otherwise.
pub(super) const DEFAULT_TOPIC: &str = "weir-bench";
/// Producers or consumers in one run at most: each is a client with its own
/// connections (and a thread, for producers).
const CLIENTS_MAX: usize = 256;
/// The largest `--record-size`: the value must fit the producer's default
/// `max.request.size` (1 MiB) with the record and batch headers around it.
const RECORD_SIZE_MAX_BYTES: usize = 1_000_000;

/// Compression codecs, by their Kafka names.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressionArg {
    /// Uncompressed batches
    None,
    /// gzip
    Gzip,
    /// snappy
    Snappy,
    /// lz4
    Lz4,
    /// zstd
    Zstd,
}

impl CompressionArg {
    fn name(self) -> &'static str {
        match self {
            CompressionArg::None => "none",
            CompressionArg::Gzip => "gzip",
            CompressionArg::Snappy => "snappy",
            CompressionArg::Lz4 => "lz4",
            CompressionArg::Zstd => "zstd",
        }
    }
}

/// The flags every `weir bench` subcommand takes.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchFlags {
    /// Broker(s) to bootstrap from: host:port[,host:port...]
    #[arg(
        long = "bootstrap-server",
        visible_alias = "bootstrap-servers",
        env = "WEIR_BOOTSTRAP_SERVER",
        default_value = "127.0.0.1:9092",
        value_name = "HOST:PORT"
    )]
    pub bootstrap_server: String,
    /// Topic; produce and e2e create it when missing
    #[arg(long, default_value = DEFAULT_TOPIC)]
    pub topic: String,
    /// Partitions of the topic when it is created (default: the broker's
    /// num.partitions)
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Value size of each record in bytes (e2e needs at least 16)
    #[arg(long, default_value_t = 100)]
    pub record_size: usize,
    /// Records in all (consume default: what the topic holds at the start)
    #[arg(long)]
    pub num_records: Option<u64>,
    /// Run for this many seconds instead of (or as well as) a record count
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Records per second of all producers together, at a fixed rate;
    /// -1 for as fast as possible
    #[arg(long, default_value_t = -1.0, allow_negative_numbers = true)]
    pub throughput: f64,
    /// Acknowledgements: 0, 1 or all (-1)
    #[arg(long, default_value = "all", allow_hyphen_values = true, value_parser = crate::produce::parse_acks)]
    pub acks: Acks,
    /// Compression codec (weir-client produces uncompressed batches only)
    #[arg(long, value_enum, default_value_t = CompressionArg::None)]
    pub compression: CompressionArg,
    /// How long a batch waits for more records, in ms (default: 5 for
    /// produce, 0 for e2e)
    #[arg(long)]
    pub linger_ms: Option<u64>,
    /// Batch size in bytes
    #[arg(long, default_value_t = 16 * 1024)]
    pub batch_size: usize,
    /// Producers, each with its own connection and an equal share of the
    /// records and of the rate
    #[arg(long, default_value_t = 1)]
    pub producers: usize,
    /// Consumers, each with its own connection and every
    /// `consumers`-th partition
    #[arg(long, default_value_t = 1)]
    pub consumers: usize,
    /// Fail when records are awaited and none arrives (or is
    /// acknowledged) for this long, in ms
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
    /// Broker process to report CPU time and peak RSS of (default: a local
    /// `weir broker` listening on the bootstrap port, when one is found)
    #[arg(long, value_name = "PID")]
    pub broker_pid: Option<u32>,
    /// Print one JSON object on stdout instead of the text summary
    #[arg(long)]
    pub json: bool,
    /// Client id sent to the broker
    #[arg(long, default_value = "weir-bench", value_name = "ID")]
    pub client_id: String,
}

/// Which benchmark, for messages and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Produce,
    Consume,
    E2e,
}

impl Mode {
    pub(super) fn name(self) -> &'static str {
        match self {
            Mode::Produce => "produce",
            Mode::Consume => "consume",
            Mode::E2e => "e2e",
        }
    }
}

impl BenchFlags {
    pub(super) fn validate(&self, mode: Mode) -> anyhow::Result<()> {
        if self.compression != CompressionArg::None {
            anyhow::bail!(
                "--compression {}: weir-client produces uncompressed batches only",
                self.compression.name()
            );
        }
        if mode != Mode::Consume && self.num_records.is_none() && self.duration.is_none() {
            anyhow::bail!(
                "weir bench {} needs --num-records or --duration",
                mode.name()
            );
        }
        if self.num_records == Some(0) {
            anyhow::bail!("--num-records must be at least 1");
        }
        if let Some(d) = self.duration
            && !(d.is_finite() && d > 0.0 && d <= 1e9)
        {
            anyhow::bail!("--duration must be a positive number of seconds, got {d}");
        }
        if self.throughput == 0.0 || !self.throughput.is_finite() {
            anyhow::bail!("--throughput must be records per second, or -1 for as fast as possible");
        }
        if !(1..=CLIENTS_MAX).contains(&self.producers)
            || !(1..=CLIENTS_MAX).contains(&self.consumers)
        {
            anyhow::bail!("--producers and --consumers must be between 1 and {CLIENTS_MAX}");
        }
        if self.partitions.is_some_and(|p| p < 1) {
            anyhow::bail!("--partitions must be at least 1");
        }
        if mode == Mode::E2e && self.record_size < send::STAMP_BYTES {
            anyhow::bail!(
                "weir bench e2e needs --record-size of at least {} (the send time and a run id)",
                send::STAMP_BYTES
            );
        }
        if self.record_size > RECORD_SIZE_MAX_BYTES {
            anyhow::bail!("--record-size must be at most {RECORD_SIZE_MAX_BYTES} bytes");
        }
        if self.timeout_ms == 0 {
            anyhow::bail!("--timeout-ms must be at least 1");
        }
        Ok(())
    }

    /// Records per second of all producers; `None` for as fast as possible.
    pub(super) fn rate(&self) -> Option<f64> {
        (self.throughput > 0.0).then_some(self.throughput)
    }

    pub(super) fn run_duration(&self) -> Option<Duration> {
        self.duration.map(Duration::from_secs_f64)
    }

    pub(super) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub(super) fn linger(&self, mode: Mode) -> Duration {
        // End-to-end latency is the point of e2e: send as soon as the
        // previous request is answered, as EndToEndLatency does.
        let default_ms = if mode == Mode::E2e { 0 } else { 5 };
        Duration::from_millis(self.linger_ms.unwrap_or(default_ms))
    }

    /// A client with its own connections; requests time out with the run.
    pub(super) async fn connect(&self) -> anyhow::Result<Arc<Client>> {
        let mut config =
            ClientConfig::new(&self.bootstrap_server).client_id(self.client_id.clone());
        if config.bootstrap_servers.is_empty() {
            anyhow::bail!("--bootstrap-server is empty");
        }
        config.timeouts = ConnectionTimeouts {
            request: self.timeout(),
            ..ConnectionTimeouts::default()
        };
        let client = Client::connect(config).await.map_err(|e| match e {
            ClientError::NoBrokerAvailable { .. } | ClientError::InvalidAddress(_) => {
                anyhow::anyhow!("{e}")
            }
            other => anyhow::anyhow!("could not connect to {}: {other}", self.bootstrap_server),
        })?;
        Ok(Arc::new(client))
    }

    /// The parameters as run, for the report: those `mode` uses.
    pub(super) fn parameters(&self, mode: Mode, partitions: i32) -> serde_json::Value {
        let mut doc = json!({
            "bootstrap_server": self.bootstrap_server,
            "topic": self.topic,
            "partitions": partitions,
            "record_size_bytes": self.record_size,
            "num_records": self.num_records,
            "duration_s": self.duration,
            "throughput_records_per_s": self.rate(),
            "acks": match self.acks { Acks::None => "0", Acks::Leader => "1", Acks::All => "all" },
            "compression": self.compression.name(),
            "linger_ms": u64::try_from(self.linger(mode).as_millis()).unwrap_or(u64::MAX),
            "batch_size_bytes": self.batch_size,
            "producers": self.producers,
            "consumers": self.consumers,
            "timeout_ms": self.timeout_ms,
        });
        let unused: &[&str] = match mode {
            Mode::Produce => &["consumers"],
            Mode::Consume => &[
                "record_size_bytes",
                "throughput_records_per_s",
                "acks",
                "compression",
                "linger_ms",
                "batch_size_bytes",
                "producers",
            ],
            Mode::E2e => &[],
        };
        if let Some(map) = doc.as_object_mut() {
            for key in unused {
                map.remove(*key);
            }
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::BenchAction;
    use clap::Parser;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        cmd: crate::ClientCommand,
    }

    fn flags(args: &[&str]) -> Result<(Mode, BenchFlags), String> {
        let cli = Cli::try_parse_from(args.iter().copied()).map_err(|e| e.to_string())?;
        let crate::ClientCommand::Bench(bench) = cli.cmd else {
            return Err("not bench".into());
        };
        Ok(match bench.action {
            BenchAction::Produce(f) => (Mode::Produce, f),
            BenchAction::Consume(f) => (Mode::Consume, f),
            BenchAction::E2e(f) => (Mode::E2e, f),
        })
    }

    fn valid(args: &[&str]) -> Result<(), String> {
        let (mode, f) = flags(args)?;
        f.validate(mode).map_err(|e| e.to_string())
    }

    #[test]
    fn largest_record_fits_a_default_produce_request() {
        let record = weir_client::ProducerRecord::new("t", vec![0u8; RECORD_SIZE_MAX_BYTES]);
        let batch_overhead_bytes = 128;
        assert!(
            record.size_bytes_max() + batch_overhead_bytes
                <= weir_client::ProducerConfig::default().max_request_size_bytes
        );
    }

    #[test]
    fn command_lines_parse_and_validate() {
        let ok = valid(&[
            "weir",
            "bench",
            "produce",
            "--num-records",
            "10",
            "--record-size",
            "1024",
            "--partitions",
            "6",
            "--acks",
            "1",
            "--throughput",
            "-1",
            "--producers",
            "2",
            "--json",
            "--broker-pid",
            "1",
        ]);
        assert_eq!(ok, Ok(()));
        assert_eq!(valid(&["weir", "bench", "consume"]), Ok(()));
        assert_eq!(
            valid(&[
                "weir",
                "bench",
                "e2e",
                "--throughput",
                "500",
                "--duration",
                "1.5"
            ]),
            Ok(())
        );
        let (_, f) =
            flags(&["weir", "bench", "e2e", "--duration", "1"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.linger(Mode::E2e), Duration::ZERO);
        assert_eq!(f.linger(Mode::Produce), Duration::from_millis(5));
        assert_eq!(f.acks, Acks::All);
        assert_eq!(f.topic, DEFAULT_TOPIC);

        let err = |args: &[&str], want: &str| {
            let got = valid(args);
            assert!(
                got.as_ref().is_err_and(|e| e.contains(want)),
                "{args:?}: {got:?}"
            );
        };
        err(
            &["weir", "bench", "produce"],
            "needs --num-records or --duration",
        );
        err(
            &[
                "weir",
                "bench",
                "produce",
                "--num-records",
                "1",
                "--compression",
                "zstd",
            ],
            "uncompressed",
        );
        err(
            &[
                "weir",
                "bench",
                "produce",
                "--num-records",
                "1",
                "--throughput",
                "0",
            ],
            "--throughput",
        );
        err(
            &[
                "weir",
                "bench",
                "produce",
                "--num-records",
                "1",
                "--producers",
                "0",
            ],
            "--producers",
        );
        err(
            &[
                "weir",
                "bench",
                "e2e",
                "--num-records",
                "1",
                "--record-size",
                "8",
            ],
            "at least 16",
        );
        err(
            &[
                "weir",
                "bench",
                "produce",
                "--num-records",
                "1",
                "--record-size",
                "2000000",
            ],
            "at most",
        );
        err(
            &["weir", "bench", "produce", "--duration", "0"],
            "--duration",
        );
        err(
            &[
                "weir",
                "bench",
                "produce",
                "--num-records",
                "1",
                "--acks",
                "2",
            ],
            "acks",
        );
    }
}
