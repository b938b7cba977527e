//! `weir bench e2e`: like Kafka's `EndToEndLatency`, but at a fixed rate.
//! Producers write stamped records (see [`super::send`]); consumers that
//! start at the partitions' end offsets read them back, and each record's
//! latency runs from its intended send time (fixed rate; enqueue time at
//! max rate) to the moment the poll that returned it came back.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;
use weir_client::{Consumer, OffsetSpec};

use super::latency::Latencies;
use super::progress::{BarLength, Shared, drive_bar, progress_bar};
use super::report::{LatencyOrigin, Report};
use super::send::{self, Producers, SendMode, read_stamp};
use super::{
    BenchFlags, Mode, Usage, ensure_topic, open_consumers, partition_offsets, print_report,
    with_watchdog,
};

/// The longest one poll waits, so a consumer notices the end of the run.
const POLL_SLICE: Duration = Duration::from_millis(100);

pub(crate) async fn run(flags: BenchFlags) -> anyhow::Result<ExitCode> {
    let admin = flags.connect().await?;
    let topic = flags.topic.clone();
    let partitions = ensure_topic(&admin, &flags, true).await?;
    // Explicit start offsets, looked up before anything is produced, so
    // no record of this run can be skipped.
    let latest = partition_offsets(&admin, &topic, partitions, OffsetSpec::Latest).await?;
    let consumers = open_consumers(&flags, &topic, partitions, &latest).await?;
    let consumers_n = consumers.len();
    let producers = Producers::connect(&flags, Mode::E2e, partitions).await?;
    let run_id = run_id();

    let shared = Shared::new(0);
    let producing_done = Arc::new(AtomicBool::new(false));
    let length = match (flags.num_records, flags.run_duration()) {
        (Some(n), _) => BarLength::Records(n),
        (None, Some(d)) => BarLength::Duration(d),
        (None, None) => BarLength::Records(0),
    };
    let bar = progress_bar(length, flags.json);
    let usage = Usage::start(&flags);
    let t0 = Instant::now();
    let ticker = tokio::spawn(drive_bar(bar.clone(), length, shared.clone()));
    let work = async {
        let mut readers = JoinSet::new();
        for c in consumers {
            readers.spawn(receive(
                c,
                shared.clone(),
                producing_done.clone(),
                run_id,
                topic.clone(),
            ));
        }
        let sending = async {
            let sent = send::run(
                producers,
                &flags,
                SendMode::E2e { run_id },
                shared.clone(),
                t0,
            )
            .await?;
            producing_done.store(true, Ordering::Release);
            anyhow::Ok(sent)
        };
        let receiving = async {
            let mut latencies = Latencies::new();
            let mut ignored = 0u64;
            while let Some(joined) = readers.join_next().await {
                let (l, i) = joined.map_err(|e| anyhow::anyhow!("consumer task failed: {e}"))??;
                latencies.merge(&l);
                ignored += i;
            }
            anyhow::Ok((latencies, ignored))
        };
        let (sent, (latencies, ignored)) = tokio::try_join!(sending, receiving)?;
        anyhow::Ok((sent, latencies, ignored))
    };
    let result = with_watchdog(&shared, &flags, Mode::E2e, work).await;
    let _ = ticker.await;
    bar.finish_and_clear();
    let (sent, latencies, ignored) = result?;
    let last = shared.last_progress();
    let (broker, client_cpu_s) = usage.finish();
    let origin = if flags.rate().is_some() {
        LatencyOrigin::IntendedSendTime
    } else {
        LatencyOrigin::EnqueueTime
    };
    let mut parameters = flags.parameters(Mode::E2e, partitions);
    parameters["consumers"] = consumers_n.into();
    let report = Report {
        mode: "e2e",
        parameters,
        records: shared.done(),
        bytes: shared.done_bytes.load(Ordering::Relaxed),
        elapsed: last.saturating_duration_since(t0),
        latency: latencies.summary().map(|s| (s, origin)),
        extra: vec![
            ("produced", json!(sent.acked)),
            ("ignored_records", json!(ignored)),
        ],
        broker,
        client_cpu_s,
    };
    print_report(&report, flags.json)
}

/// One consumer's loop: time every record of this run it receives, until
/// the producers are done and every record they sent has arrived.
/// Returns the latencies and the count of records of other runs.
async fn receive(
    mut consumer: Consumer,
    shared: Arc<Shared>,
    producing_done: Arc<AtomicBool>,
    run_id: u64,
    topic: String,
) -> anyhow::Result<(Latencies, u64)> {
    let mut latencies = Latencies::new();
    let mut ignored = 0u64;
    loop {
        if shared.stopped() {
            break;
        }
        if producing_done.load(Ordering::Acquire)
            && shared.done() >= shared.expected.load(Ordering::Relaxed)
        {
            break;
        }
        let records = consumer
            .poll(POLL_SLICE)
            .await
            .map_err(|e| anyhow::anyhow!("consuming '{topic}' failed: {e}"))?;
        let now_ns = shared.since_epoch_ns(Instant::now());
        let mut mine = 0u64;
        let mut bytes = 0u64;
        for r in &records {
            match r.value.as_deref().and_then(read_stamp) {
                Some((sent_ns, id)) if id == run_id => {
                    latencies.record(Duration::from_nanos(now_ns.saturating_sub(sent_ns)));
                    mine += 1;
                    bytes += r.value.as_ref().map_or(0, |v| v.len() as u64);
                }
                _ => ignored += 1,
            }
        }
        if mine > 0 {
            shared.finished(mine, bytes);
        }
    }
    Ok((latencies, ignored))
}

/// An id that tells this run's records from those of earlier or
/// concurrent runs on the same topic.
fn run_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 40)
}
