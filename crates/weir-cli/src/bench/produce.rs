//! `weir bench produce`: like `kafka-producer-perf-test`. Records/s and
//! MiB/s count acknowledged records; latency runs from each record's
//! intended send time (fixed rate) or enqueue time (max rate) to its
//! acknowledgement.

use std::process::ExitCode;
use std::time::Instant;

use super::progress::{BarLength, Shared, drive_bar, progress_bar};
use super::report::{LatencyOrigin, Report};
use super::send::{self, Producers, SendMode};
use super::{BenchFlags, Mode, Usage, ensure_topic, print_report, with_watchdog};

pub(crate) async fn run(flags: BenchFlags) -> anyhow::Result<ExitCode> {
    let admin = flags.connect().await?;
    let partitions = ensure_topic(&admin, &flags, true).await?;
    let producers = Producers::connect(&flags, Mode::Produce, partitions).await?;
    let shared = Shared::new(0);
    let length = match (flags.num_records, flags.run_duration()) {
        (Some(n), _) => BarLength::Records(n),
        (None, Some(d)) => BarLength::Duration(d),
        (None, None) => BarLength::Records(0),
    };
    let bar = progress_bar(length, flags.json);
    let usage = Usage::start(&flags);
    let t0 = Instant::now();
    let ticker = tokio::spawn(drive_bar(bar.clone(), length, shared.clone()));
    let result = with_watchdog(
        &shared,
        &flags,
        Mode::Produce,
        send::run(producers, &flags, SendMode::Produce, shared.clone(), t0),
    )
    .await;
    let _ = ticker.await;
    bar.finish_and_clear();
    let sent = result?;
    let end = sent.last_ack.unwrap_or_else(Instant::now);
    let (broker, client_cpu_s) = usage.finish();
    let origin = if flags.rate().is_some() {
        LatencyOrigin::IntendedSendTime
    } else {
        LatencyOrigin::EnqueueTime
    };
    let report = Report {
        mode: "produce",
        parameters: flags.parameters(Mode::Produce, partitions),
        records: sent.acked,
        bytes: sent.acked_bytes,
        elapsed: end.saturating_duration_since(t0),
        latency: sent.latencies.summary().map(|s| (s, origin)),
        extra: Vec::new(),
        broker,
        client_cpu_s,
    };
    print_report(&report, flags.json)
}
