//! `weir bench consume`: like `kafka-consumer-perf-test`. Reads the topic
//! from its log-start offsets with `--consumers` consumers that split the
//! partitions, until `--num-records` are read (default: every record the
//! topic held at the start) or `--duration` has passed.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use weir_client::{Consumer, OffsetSpec};

use super::progress::{BarLength, Shared, drive_bar, progress_bar};
use super::report::Report;
use super::{
    BenchFlags, Mode, Usage, ensure_topic, open_consumers, partition_offsets, print_report,
    with_watchdog,
};

/// The longest one poll waits, so a consumer notices the end of the run.
const POLL_SLICE: Duration = Duration::from_millis(200);

pub(crate) async fn run(flags: BenchFlags) -> anyhow::Result<ExitCode> {
    let admin = flags.connect().await?;
    let topic = flags.topic.clone();
    let partitions = ensure_topic(&admin, &flags, false).await?;
    let earliest = partition_offsets(&admin, &topic, partitions, OffsetSpec::Earliest).await?;
    let latest = partition_offsets(&admin, &topic, partitions, OffsetSpec::Latest).await?;
    let available: u64 = earliest
        .iter()
        .zip(&latest)
        .map(|(e, l)| u64::try_from(l - e).unwrap_or(0))
        .sum();
    let target = match (flags.num_records, flags.duration) {
        (Some(n), _) => n,
        (None, Some(_)) => u64::MAX,
        (None, None) => available,
    };
    if target == 0 {
        anyhow::bail!("topic '{topic}' is empty; fill it first with `weir bench produce`");
    }
    let consumers = open_consumers(&flags, &topic, partitions, &earliest).await?;
    let consumers_n = consumers.len();

    let shared = Shared::new(target);
    let length = match flags.run_duration() {
        Some(d) if flags.num_records.is_none() => BarLength::Duration(d),
        _ => BarLength::Records(target),
    };
    let bar = progress_bar(length, flags.json);
    let usage = Usage::start(&flags);
    let t0 = Instant::now();
    let end = flags.run_duration().map(|d| t0 + d);
    let ticker = tokio::spawn(drive_bar(bar.clone(), length, shared.clone()));
    let work = async {
        let mut readers = JoinSet::new();
        for c in consumers {
            readers.spawn(read(c, shared.clone(), target, end, topic.clone()));
        }
        while let Some(joined) = readers.join_next().await {
            joined.map_err(|e| anyhow::anyhow!("consumer task failed: {e}"))??;
            if shared.done() >= target {
                // The others may be in a long poll; the count is complete.
                // Waiting for them to wind down lets every byte they
                // counted land first.
                readers.shutdown().await;
                break;
            }
        }
        anyhow::Ok(())
    };
    let result = with_watchdog(&shared, &flags, Mode::Consume, work).await;
    let _ = ticker.await;
    bar.finish_and_clear();
    result?;
    let last = shared.last_progress();
    let (broker, client_cpu_s) = usage.finish();
    let mut parameters = flags.parameters(Mode::Consume, partitions);
    parameters["consumers"] = consumers_n.into();
    let report = Report {
        mode: "consume",
        parameters,
        records: shared.done(),
        bytes: shared.done_bytes.load(std::sync::atomic::Ordering::Relaxed),
        elapsed: last.saturating_duration_since(t0),
        latency: None,
        extra: Vec::new(),
        broker,
        client_cpu_s,
    };
    print_report(&report, flags.json)
}

/// One consumer's loop: poll, count, until the target, the end time, or
/// a stop.
async fn read(
    mut consumer: Consumer,
    shared: Arc<Shared>,
    target: u64,
    end: Option<Instant>,
    topic: String,
) -> anyhow::Result<()> {
    loop {
        if shared.stopped() || shared.done() >= target {
            return Ok(());
        }
        let slice = match end {
            Some(end) => {
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(());
                }
                left.min(POLL_SLICE)
            }
            None => POLL_SLICE,
        };
        let records = consumer
            .poll(slice)
            .await
            .map_err(|e| anyhow::anyhow!("consuming '{topic}' failed: {e}"))?;
        if records.is_empty() {
            continue;
        }
        let counted = shared.finish_up_to(records.len() as u64, target);
        let bytes: usize = records
            .iter()
            .take(usize::try_from(counted).unwrap_or(usize::MAX))
            .map(|r| {
                r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len())
            })
            .sum();
        shared.add_bytes(bytes as u64);
    }
}
