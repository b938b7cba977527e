//! When each record is meant to be sent, and when a sender stops.
//!
//! At a fixed rate the schedule, not the sender, decides: record `j` of a
//! sender running at `r` records/s is *intended* to go out at
//! `start + j / r`, whether or not the previous record has been sent yet.
//! Latency is measured from that intended time, so a stall of the broker
//! (or of this process) shows up in every record that should have been
//! sent during it instead of in one slow record: this is how a benchmark
//! avoids coordinated omission.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The longest single sleep, so a sender notices a stop request quickly.
const SLEEP_SLICE: Duration = Duration::from_millis(50);

/// How one sender paces its records and when it stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pace {
    start: Instant,
    /// Records per second of this sender; `None` for as fast as possible.
    records_per_s: Option<f64>,
    /// Records this sender sends; `None` when bounded by time only.
    records: Option<u64>,
    /// When this sender stops; `None` when bounded by count only.
    end: Option<Instant>,
}

impl Pace {
    /// Sender `k` of `senders` sharing `total_records` (if given) and a
    /// total rate of `total_records_per_s` (if fixed), from `start` for
    /// `duration` (if given).
    pub(crate) fn new(
        start: Instant,
        k: usize,
        senders: usize,
        total_records: Option<u64>,
        total_records_per_s: Option<f64>,
        duration: Option<Duration>,
    ) -> Pace {
        let senders = senders.max(1);
        Pace {
            start,
            records_per_s: total_records_per_s.map(|r| r / senders as f64),
            records: total_records.map(|t| share(t, k, senders)),
            end: duration.map(|d| start + d),
        }
    }

    /// When record `j` (0-based) is meant to be sent; `None` at max rate.
    pub(crate) fn intended(&self, j: u64) -> Option<Instant> {
        self.records_per_s
            .map(|r| self.start + Duration::from_secs_f64(j as f64 / r))
    }

    /// Whether record `j`, meant to go out at `at` (its intended time, or
    /// now at max rate), is still to be sent.
    pub(crate) fn sends(&self, j: u64, at: Instant) -> bool {
        self.records.is_none_or(|n| j < n) && self.end.is_none_or(|end| at < end)
    }
}

/// Records of `total` that sender `k` of `senders` owns: an even share, the
/// first `total % senders` senders one more.
pub(crate) fn share(total: u64, k: usize, senders: usize) -> u64 {
    let senders = senders.max(1) as u64;
    total / senders + u64::from((k as u64) < total % senders)
}

/// Sleep this thread until `at` (thread sleeps are precise to tens of
/// microseconds, unlike async timers' milliseconds); returns early, false,
/// once `stop` is set.
pub(crate) fn sleep_until(at: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(SLEEP_SLICE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        for total in [0, 1, 7, 1000, 1001] {
            for senders in 1..=5 {
                let sum: u64 = (0..senders).map(|k| share(total, k, senders)).sum();
                assert_eq!(sum, total);
                let max = (0..senders).map(|k| share(total, k, senders)).max();
                let min = (0..senders).map(|k| share(total, k, senders)).min();
                assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1));
            }
        }
    }

    #[test]
    fn fixed_rate_spreads_intended_times_per_sender() {
        let t0 = Instant::now();
        // 1000 records/s over 2 senders: 500/s each, 2 ms apart.
        let p = Pace::new(t0, 1, 2, Some(10), Some(1000.0), None);
        assert_eq!(p.intended(0), Some(t0));
        assert_eq!(p.intended(3), Some(t0 + Duration::from_millis(6)));
        assert!(p.sends(4, t0));
        assert!(!p.sends(5, t0), "sender 1 of 2 owns 5 of 10 records");
        let max = Pace::new(t0, 0, 1, Some(3), None, None);
        assert_eq!(max.intended(2), None);
    }

    #[test]
    fn duration_ends_by_intended_time() {
        let t0 = Instant::now();
        let p = Pace::new(t0, 0, 1, None, Some(100.0), Some(Duration::from_secs(1)));
        assert!(p.sends(99, p.intended(99).unwrap_or(t0)));
        assert!(!p.sends(100, p.intended(100).unwrap_or(t0)));
    }

    #[test]
    fn sleeping_stops_on_request() {
        let stop = AtomicBool::new(true);
        assert!(!sleep_until(
            Instant::now() + Duration::from_secs(60),
            &stop
        ));
        let go = AtomicBool::new(false);
        let at = Instant::now() + Duration::from_millis(2);
        assert!(sleep_until(at, &go));
        assert!(Instant::now() >= at);
    }
}
