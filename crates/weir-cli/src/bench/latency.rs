//! Latency percentiles, kept in an HdrHistogram.
//!
//! Values are recorded in microseconds with three significant digits, so a
//! percentile is within 0.1% of the true value. The histogram resizes
//! itself, so a latency of hours is still recorded (exactly what a stalled
//! broker should show), never dropped.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::json;

/// Significant decimal digits the histogram keeps.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Latencies of one run (or one task of it; [`Latencies::merge`] joins them).
#[derive(Debug, Clone)]
pub(crate) struct Latencies {
    us: Histogram<u64>,
}

/// The percentiles reported, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LatencySummary {
    pub(crate) count: u64,
    pub(crate) mean_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) p99_9_ms: f64,
    pub(crate) max_ms: f64,
}

impl Latencies {
    pub(crate) fn new() -> Latencies {
        let us = Histogram::new(SIGNIFICANT_DIGITS)
            .expect("an auto-resizing histogram accepts 0 to 5 significant digits");
        Latencies { us }
    }

    pub(crate) fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        // `record` grows the auto-resizing histogram; `saturating_record`
        // would clamp to its current range instead.
        if self.us.record(us).is_err() {
            self.us.saturating_record(us);
        }
    }

    pub(crate) fn merge(&mut self, other: &Latencies) {
        // Both auto-resize, so adding cannot fail on range.
        let _ = self.us.add(&other.us);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.us.len()
    }

    /// `None` when nothing was recorded.
    pub(crate) fn summary(&self) -> Option<LatencySummary> {
        if self.us.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(LatencySummary {
            count: self.us.len(),
            mean_ms: self.us.mean() / 1000.0,
            p50_ms: ms(self.us.value_at_quantile(0.50)),
            p95_ms: ms(self.us.value_at_quantile(0.95)),
            p99_ms: ms(self.us.value_at_quantile(0.99)),
            p99_9_ms: ms(self.us.value_at_quantile(0.999)),
            max_ms: ms(self.us.max()),
        })
    }
}

impl LatencySummary {
    pub(crate) fn to_json(self) -> serde_json::Value {
        json!({
            "count": self.count,
            "mean": round3(self.mean_ms),
            "p50": round3(self.p50_ms),
            "p95": round3(self.p95_ms),
            "p99": round3(self.p99_ms),
            "p99_9": round3(self.p99_9_ms),
            "max": round3(self.max_ms),
        })
    }
}

/// Three decimals: microseconds for values in ms, and no float noise.
pub(crate) fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_uniform_spread() {
        let mut l = Latencies::new();
        for ms in 1..=1000u64 {
            l.record(Duration::from_millis(ms));
        }
        let s = l.summary().unwrap();
        assert_eq!(s.count, 1000);
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 0.001;
        assert!(close(s.p50_ms, 500.0), "{s:?}");
        assert!(close(s.p95_ms, 950.0), "{s:?}");
        assert!(close(s.p99_ms, 990.0), "{s:?}");
        assert!(close(s.p99_9_ms, 999.0), "{s:?}");
        assert!(close(s.max_ms, 1000.0), "{s:?}");
        assert!(close(s.mean_ms, 500.5), "{s:?}");
    }

    #[test]
    fn merged_histograms_count_everything_and_keep_long_stalls() {
        let mut a = Latencies::new();
        let mut b = Latencies::new();
        a.record(Duration::from_micros(100));
        b.record(Duration::from_secs(7200));
        a.merge(&b);
        assert_eq!(a.len(), 2);
        let s = a.summary().unwrap();
        assert!(s.max_ms >= 7_200_000.0 * 0.999, "{s:?}");
        assert!(Latencies::new().summary().is_none());
    }
}
