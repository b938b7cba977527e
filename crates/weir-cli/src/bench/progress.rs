//! What every task of a run shares: counters, the stop flag, the stall
//! watchdog and the progress bar.
//!
//! ## Invariants
//!
//! * `expected` counts records the run is waiting for (enqueued ones for a
//!   producer, the target for a consumer); `done` those finished
//!   (acknowledged, or received). The run is *waiting* while
//!   `done < expected`.
//! * `last_progress_ns` moves forward whenever `done` grows, and when work
//!   starts after an idle spell (so a slow fixed rate is not a stall).
//! * `stop` only goes from false to true; every loop checks it.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often the bar and the watchdog look at the counters.
const TICK: Duration = Duration::from_millis(100);

/// Counters and flags shared by the tasks of one run.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The zero of `last_progress_ns` and of e2e timestamps.
    pub(crate) epoch: Instant,
    pub(crate) expected: AtomicU64,
    pub(crate) done: AtomicU64,
    pub(crate) done_bytes: AtomicU64,
    last_progress_ns: AtomicU64,
    pub(crate) stop: AtomicBool,
}

impl Shared {
    pub(crate) fn new(expected: u64) -> Arc<Shared> {
        Arc::new(Shared {
            epoch: Instant::now(),
            expected: AtomicU64::new(expected),
            done: AtomicU64::new(0),
            done_bytes: AtomicU64::new(0),
            last_progress_ns: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        })
    }

    /// Nanoseconds from `epoch` to `t`.
    pub(crate) fn since_epoch_ns(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.last_progress_ns
            .fetch_max(self.since_epoch_ns(Instant::now()), Ordering::Relaxed);
    }

    /// One more record the run waits for.
    pub(crate) fn expect_one(&self) {
        let before = self.expected.fetch_add(1, Ordering::Relaxed);
        if before <= self.done.load(Ordering::Relaxed) {
            self.touch();
        }
    }

    /// `records` records of `bytes` bytes finished.
    pub(crate) fn finished(&self, records: u64, bytes: u64) {
        self.done.fetch_add(records, Ordering::Relaxed);
        self.done_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.touch();
    }

    /// Count up to `records` more finished records, never past `target`; returns how many were counted.
    pub(crate) fn finish_up_to(&self, records: u64, target: u64) -> u64 {
        let prev = self
            .done
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                Some(d + records.min(target.saturating_sub(d)))
            })
            .unwrap_or_else(|d| d);
        let counted = records.min(target.saturating_sub(prev));
        if counted > 0 {
            self.touch();
        }
        counted
    }

    /// Add bytes of records counted with [`Shared::finish_up_to`].
    pub(crate) fn add_bytes(&self, bytes: u64) {
        self.done_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// When `done` last grew (or work last started).
    pub(crate) fn last_progress(&self) -> Instant {
        self.epoch + Duration::from_nanos(self.last_progress_ns.load(Ordering::Relaxed))
    }

    pub(crate) fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Resolves (with the error to report) once the run has waited for
    /// `timeout` without progress; never resolves otherwise. `verb` says
    /// what `done` counts ("acknowledged", "received"); `hint` what to
    /// check.
    pub(crate) async fn watchdog(
        &self,
        timeout: Duration,
        verb: &str,
        hint: &str,
    ) -> anyhow::Error {
        self.touch();
        loop {
            tokio::time::sleep(TICK).await;
            let done = self.done();
            let expected = self.expected.load(Ordering::Relaxed);
            let last = Duration::from_nanos(self.last_progress_ns.load(Ordering::Relaxed));
            let idle = self.epoch.elapsed().saturating_sub(last);
            if done < expected && idle >= timeout {
                let expected = if expected == u64::MAX {
                    String::from("more")
                } else {
                    expected.to_string()
                };
                return anyhow::anyhow!(
                    "no progress for {:.1} s (--timeout-ms): {done} of {expected} records {verb}; {hint}",
                    idle.as_secs_f64()
                );
            }
        }
    }
}

/// What the bar counts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BarLength {
    Records(u64),
    Duration(Duration),
}

/// The progress bar on stderr: hidden with `--json` or when stderr is not
/// a terminal, so scripts and logs get only the summary.
pub(crate) fn progress_bar(length: BarLength, json: bool) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (len, template) = match length {
        BarLength::Records(n) => (
            n,
            "{elapsed_precise} [{bar:30}] {pos}/{len} records {per_sec} {msg}",
        ),
        BarLength::Duration(d) => (
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            "{elapsed_precise} [{bar:30}] {msg}",
        ),
    };
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Keep `bar` in step with `shared` until the run stops.
pub(crate) async fn drive_bar(bar: ProgressBar, length: BarLength, shared: Arc<Shared>) {
    let start = Instant::now();
    while !shared.stopped() {
        let done = shared.done();
        match length {
            BarLength::Records(_) => bar.set_position(done),
            BarLength::Duration(_) => {
                let elapsed = start.elapsed();
                bar.set_position(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
                let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
                bar.set_message(format!("{done} records, {rate:.0} records/s"));
            }
        }
        tokio::time::sleep(TICK).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn watchdog_fires_only_while_waiting() {
        let shared = Shared::new(0);
        // Nothing expected: an idle run is not a stall.
        let idle = tokio::time::timeout(
            Duration::from_millis(500),
            shared.watchdog(Duration::from_millis(100), "acknowledged", "check"),
        )
        .await;
        assert!(idle.is_err());
        shared.expect_one();
        let e = shared
            .watchdog(Duration::from_millis(100), "acknowledged", "check")
            .await;
        assert!(
            e.to_string().contains("0 of 1 records acknowledged; check"),
            "{e}"
        );
        shared.finished(1, 10);
        let done = tokio::time::timeout(
            Duration::from_millis(500),
            shared.watchdog(Duration::from_millis(100), "acknowledged", "check"),
        )
        .await;
        assert!(done.is_err(), "all expected records are done");
    }
}
