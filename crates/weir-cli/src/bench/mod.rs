//! `weir bench produce|consume|e2e`: load generators on `weir-client`,
//! shaped like Kafka's `kafka-producer-perf-test`,
//! `kafka-consumer-perf-test` and `EndToEndLatency`. See
//! `docs/benchmarks.md` for the flags and what each number means.
//!
//! ## How a run is built
//!
//! * Each producer has its own client (so its own connections) and a
//!   [`weir_client::Producer`]. A blocking thread per producer paces and
//!   enqueues records: thread sleeps wake within tens of microseconds,
//!   while async timers round up to whole milliseconds, which would add up
//!   to a millisecond to every fixed-rate latency. An async collector per
//!   producer awaits the deliveries *unordered*, so each acknowledgement is
//!   timed when it arrives, not when the records enqueued before it have
//!   been acknowledged too (see [`send`]).
//! * Each consumer has its own client and a [`weir_client::Consumer`] with
//!   the partitions `p` where `p % consumers == k` assigned (no group).
//! * A watchdog ends the run with an error once records are awaited and
//!   nothing has moved for `--timeout-ms`; every other loop ends by record
//!   count, by `--duration`, or when the run stops (see [`progress`]).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_client::{Client, Consumer, ConsumerConfig, NewTopic, OffsetSpec, TopicPartition};

use crate::topic_error;

mod consume;
mod e2e;
mod flags;
mod latency;
mod pace;
mod proc_stats;
mod produce;
mod progress;
mod report;
mod send;

pub(crate) use flags::Mode;
pub use flags::{BenchFlags, CompressionArg};
use proc_stats::ProcSample;
use progress::Shared;
use report::{BrokerUsage, Report};

/// How long a topic's leaders may take to appear after it was created.
const LEADER_WAIT: Duration = Duration::from_secs(10);
/// Pause between looks for leaders.
const LEADER_RETRY: Duration = Duration::from_millis(50);
/// Kafka's `UNKNOWN_TOPIC_OR_PARTITION`.
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
/// Kafka's `TOPIC_ALREADY_EXISTS`.
const TOPIC_ALREADY_EXISTS: i16 = 36;

/// `weir bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Which benchmark
    #[command(subcommand)]
    pub action: BenchAction,
}

/// The `weir bench` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum BenchAction {
    /// Produce records and measure throughput and acknowledgement latency
    /// (like kafka-producer-perf-test)
    Produce(BenchFlags),
    /// Read a topic from the beginning and measure throughput (like
    /// kafka-consumer-perf-test)
    Consume(BenchFlags),
    /// Produce at a fixed rate and measure the latency until a consumer
    /// receives each record (like EndToEndLatency)
    E2e(BenchFlags),
}

/// Run `weir bench ...`.
pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        BenchAction::Produce(flags) => {
            flags.validate(Mode::Produce)?;
            produce::run(flags).await
        }
        BenchAction::Consume(flags) => {
            flags.validate(Mode::Consume)?;
            consume::run(flags).await
        }
        BenchAction::E2e(flags) => {
            flags.validate(Mode::E2e)?;
            e2e::run(flags).await
        }
    }
}

/// The partition count of `flags.topic`, creating the topic with
/// `--partitions` when it is missing and `create` is set; waits (bounded)
/// until every partition has a leader.
async fn ensure_topic(
    client: &Arc<Client>,
    flags: &BenchFlags,
    create: bool,
) -> anyhow::Result<i32> {
    let topic = &flags.topic;
    match client.topic(topic, false).await {
        Ok(meta) => {
            if let Some(wanted) = flags.partitions
                && wanted != meta.partition_count()
            {
                eprintln!(
                    "warning: topic '{topic}' exists with {} partitions; --partitions {wanted} is ignored",
                    meta.partition_count()
                );
            }
        }
        Err(e) if e.kafka_code() == Some(UNKNOWN_TOPIC_OR_PARTITION) && create => {
            let mut new = NewTopic::new(topic.clone());
            new.partitions = flags.partitions;
            match weir_client::Admin::new(client.clone())
                .create_topic(&new, false)
                .await
            {
                Ok(_) => {}
                // Created meanwhile by another run: use it.
                Err(e) if e.kafka_code() == Some(TOPIC_ALREADY_EXISTS) => {}
                Err(e) => return Err(topic_error("create", topic, &e)),
            }
        }
        Err(e) if e.kafka_code() == Some(UNKNOWN_TOPIC_OR_PARTITION) => {
            anyhow::bail!("topic '{topic}' does not exist; fill it first with `weir bench produce`")
        }
        Err(e) => return Err(topic_error("read", topic, &e)),
    }
    let deadline = Instant::now() + LEADER_WAIT;
    loop {
        client.invalidate_topic(topic);
        let meta = client
            .topic(topic, false)
            .await
            .map_err(|e| topic_error("read", topic, &e))?;
        let count = meta.partition_count();
        if count > 0 && meta.partitions.iter().all(|p| p.leader_id >= 0) {
            return Ok(count);
        }
        if Instant::now() >= deadline {
            anyhow::bail!("topic '{topic}' has partitions without a leader after {LEADER_WAIT:?}");
        }
        tokio::time::sleep(LEADER_RETRY).await;
    }
}

/// Look up every partition's leader and connect to it, so the first
/// record of a run does not pay for metadata and connection set-up.
pub(super) async fn warm(client: &Client, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let mut leaders = Vec::new();
    for p in 0..partitions {
        let leader = client
            .leader(topic, p, false)
            .await
            .map_err(|e| anyhow::anyhow!("no leader for {topic}-{p}: {e}"))?;
        if !leaders.contains(&leader) {
            client
                .broker_connection(leader)
                .await
                .map_err(|e| anyhow::anyhow!("cannot reach broker {leader}: {e}"))?;
            leaders.push(leader);
        }
    }
    Ok(())
}

/// The `spec` offset (earliest or latest) of every partition of `topic`,
/// by partition; retries (bounded by `LEADER_WAIT`) while leaders are not
/// ready yet.
async fn partition_offsets(
    client: &Arc<Client>,
    topic: &str,
    partitions: i32,
    spec: OffsetSpec,
) -> anyhow::Result<Vec<i64>> {
    let lookup = Consumer::new(client.clone(), ConsumerConfig::default());
    let specs: Vec<(TopicPartition, OffsetSpec)> = (0..partitions)
        .map(|p| (TopicPartition::new(topic, p), spec))
        .collect();
    let deadline = Instant::now() + LEADER_WAIT;
    loop {
        let mut offsets = vec![-1i64; specs.len()];
        let mut retry = None;
        for (tp, result) in lookup.list_offsets(&specs).await? {
            match result {
                Ok(o) => {
                    if let Some(slot) = usize::try_from(tp.partition)
                        .ok()
                        .and_then(|i| offsets.get_mut(i))
                    {
                        *slot = o;
                    }
                }
                Err(e) if e.is_retriable() => {
                    client.invalidate_topic(topic);
                    retry = Some(e);
                }
                Err(e) => anyhow::bail!("cannot look up offsets of {tp}: {e}"),
            }
        }
        match retry {
            None => return Ok(offsets),
            Some(e) if Instant::now() >= deadline => {
                anyhow::bail!("cannot look up offsets of '{topic}' within {LEADER_WAIT:?}: {e}")
            }
            Some(_) => tokio::time::sleep(LEADER_RETRY).await,
        }
    }
}

/// `--consumers` consumers (at most one per partition) that split the
/// partitions of `topic` between them, each connected, warmed up and
/// positioned at `starts[p]` for its partitions `p`.
pub(super) async fn open_consumers(
    flags: &BenchFlags,
    topic: &str,
    partitions: i32,
    starts: &[i64],
) -> anyhow::Result<Vec<Consumer>> {
    let n = flags
        .consumers
        .min(usize::try_from(partitions).unwrap_or(1).max(1));
    let mut consumers = Vec::with_capacity(n);
    for k in 0..n {
        let client = flags.connect().await?;
        warm(&client, topic, partitions).await?;
        let config = ConsumerConfig {
            // Only used if retention moves the log start during the run.
            auto_offset_reset: weir_client::OffsetReset::Earliest,
            ..ConsumerConfig::default()
        };
        let mut consumer = Consumer::new(client, config);
        let mine = consumer_partitions(partitions, k, n);
        consumer.assign(mine.iter().map(|p| TopicPartition::new(topic, *p)));
        for p in mine {
            let start = usize::try_from(p)
                .ok()
                .and_then(|i| starts.get(i))
                .copied()
                .unwrap_or(0);
            consumer.seek(&TopicPartition::new(topic, p), OffsetSpec::Offset(start))?;
        }
        consumers.push(consumer);
    }
    Ok(consumers)
}

/// The partitions consumer `k` of `consumers` reads: every
/// `consumers`-th one, starting at `k`.
fn consumer_partitions(partitions: i32, k: usize, consumers: usize) -> Vec<i32> {
    (0..partitions)
        .filter(|p| usize::try_from(*p).is_ok_and(|p| p % consumers.max(1) == k))
        .collect()
}

/// CPU and memory of the broker, sampled at the start and end of a run.
struct BrokerWatch {
    pid: u32,
    before: ProcSample,
}

impl BrokerWatch {
    /// Start watching `--broker-pid`, or a local broker found by port.
    fn start(flags: &BenchFlags) -> Option<BrokerWatch> {
        let pid = match flags.broker_pid {
            Some(pid) => pid,
            None => {
                proc_stats::find_local_broker(proc_stats::loopback_port(&flags.bootstrap_server)?)?
            }
        };
        match proc_stats::sample(Some(pid)) {
            Ok(before) => Some(BrokerWatch { pid, before }),
            Err(e) => {
                if flags.broker_pid.is_some() {
                    eprintln!(
                        "warning: cannot read /proc/{pid}: {e}; broker usage is not reported"
                    );
                }
                None
            }
        }
    }

    fn finish(self) -> Option<BrokerUsage> {
        let after = proc_stats::sample(Some(self.pid)).ok()?;
        Some(BrokerUsage {
            pid: self.pid,
            before: self.before,
            after,
        })
    }
}

/// Samples taken around the measured part of a run.
struct Usage {
    broker: Option<BrokerWatch>,
    client_before: Option<ProcSample>,
}

impl Usage {
    fn start(flags: &BenchFlags) -> Usage {
        Usage {
            broker: BrokerWatch::start(flags),
            client_before: proc_stats::sample(None).ok(),
        }
    }

    /// Broker usage and this process's CPU seconds since `start`.
    fn finish(self) -> (Option<BrokerUsage>, Option<f64>) {
        let client = self
            .client_before
            .zip(proc_stats::sample(None).ok())
            .map(|(a, b)| b.cpu_s - a.cpu_s);
        (self.broker.and_then(BrokerWatch::finish), client)
    }
}

/// Run `work` until it ends or the watchdog sees a stall; stop every task
/// of the run either way.
async fn with_watchdog<T>(
    shared: &Arc<Shared>,
    flags: &BenchFlags,
    mode: Mode,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let broker = &flags.bootstrap_server;
    let (verb, hint) = match mode {
        Mode::Produce => (
            "acknowledged",
            format!("is the broker at {broker} still answering?"),
        ),
        Mode::Consume => (
            "received",
            format!(
                "does topic '{}' hold that many records, and is the broker at {broker} still answering?",
                flags.topic
            ),
        ),
        Mode::E2e => (
            "received",
            format!("is the broker at {broker} still answering?"),
        ),
    };
    let result = tokio::select! {
        r = work => r,
        e = shared.watchdog(flags.timeout(), verb, &hint) => Err(e),
    };
    shared.request_stop();
    result
}

/// Print the report; the exit code is success.
fn print_report(report: &Report, json: bool) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, &report.to_json())?;
        out.write_all(b"\n")?;
    } else {
        report.write_text(&mut out)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumers_split_partitions() {
        assert_eq!(consumer_partitions(6, 0, 2), vec![0, 2, 4]);
        assert_eq!(consumer_partitions(6, 1, 2), vec![1, 3, 5]);
        assert_eq!(consumer_partitions(2, 0, 1), vec![0, 1]);
        let all: usize = (0..4).map(|k| consumer_partitions(10, k, 4).len()).sum();
        assert_eq!(all, 10);
    }
}
