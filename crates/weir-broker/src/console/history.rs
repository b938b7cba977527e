//! What the console's charts show over time: every
//! `admin.console.sample.interval.ms` a sampler notes each topic's
//! record and byte counters (read back from the metrics exposition, the
//! same numbers `/metrics` serves) and each group's total lag, in a ring of
//! the last [`CAPACITY`] samples. Rates are differences between
//! consecutive samples. Nothing is sampled while the admin listener is off.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// Samples kept (one hour at the default 5 s interval).
pub const CAPACITY: usize = 720;

/// Per-topic counters: records in, bytes in, records out, bytes out.
pub type Counters = [f64; 4];

/// One sample.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Wall-clock time, ms since the epoch.
    pub ts_ms: i64,
    /// Counters by topic.
    pub topics: BTreeMap<String, Counters>,
    /// Total lag by group.
    pub group_lag: BTreeMap<String, i64>,
}

/// The ring of samples.
#[derive(Debug, Default)]
pub struct History {
    samples: Mutex<VecDeque<Sample>>,
}

/// Rates between two samples, per second: records in, bytes in, records
/// out, bytes out.
pub type Rates = [f64; 4];

fn rates(a: &Counters, b: &Counters, secs: f64) -> Rates {
    std::array::from_fn(|i| {
        let d = b.get(i).copied().unwrap_or(0.0) - a.get(i).copied().unwrap_or(0.0);
        // A counter that went down was reset (process restart): no rate.
        if d < 0.0 || secs <= 0.0 {
            0.0
        } else {
            d / secs
        }
    })
}

impl History {
    /// Add a sample, dropping the oldest beyond [`CAPACITY`].
    pub fn push(&self, sample: Sample) {
        let mut s = self.lock();
        if s.len() == CAPACITY {
            s.pop_front();
        }
        s.push_back(sample);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Sample>> {
        self.samples.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Each topic's rates between the last two samples.
    pub fn topic_rates(&self) -> BTreeMap<String, Rates> {
        let s = self.lock();
        let n = s.len();
        let (Some(a), Some(b)) = (n.checked_sub(2).and_then(|i| s.get(i)), s.back()) else {
            return BTreeMap::new();
        };
        let secs = (b.ts_ms - a.ts_ms) as f64 / 1000.0;
        let zero = [0.0; 4];
        b.topics
            .iter()
            .map(|(t, c)| (t.clone(), rates(a.topics.get(t).unwrap_or(&zero), c, secs)))
            .collect()
    }

    /// The whole broker's rates over time: (ts, rates) per interval.
    pub fn broker_rates(&self) -> Vec<(i64, Rates)> {
        let s = self.lock();
        let total = |x: &Sample| {
            x.topics.values().fold([0.0; 4], |mut acc, c| {
                for (a, v) in acc.iter_mut().zip(c) {
                    *a += v;
                }
                acc
            })
        };
        s.iter()
            .zip(s.iter().skip(1))
            .map(|(a, b)| {
                let secs = (b.ts_ms - a.ts_ms) as f64 / 1000.0;
                (b.ts_ms, rates(&total(a), &total(b), secs))
            })
            .collect()
    }

    /// A group's total lag over time.
    pub fn group_lag(&self, group: &str) -> Vec<(i64, i64)> {
        self.lock()
            .iter()
            .filter_map(|x| x.group_lag.get(group).map(|l| (x.ts_ms, *l)))
            .collect()
    }
}

/// The per-topic record and byte counters in a Prometheus text exposition.
pub fn parse_topic_counters(text: &str) -> BTreeMap<String, Counters> {
    let names = [
        weir_metrics::RECORDS_IN,
        weir_metrics::BYTES_IN,
        weir_metrics::RECORDS_OUT,
        weir_metrics::BYTES_OUT,
    ];
    let mut out: BTreeMap<String, Counters> = BTreeMap::new();
    for line in text.lines() {
        let Some((name, rest)) = line.split_once('{') else {
            continue;
        };
        let Some(slot) = names.iter().position(|n| *n == name) else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let Some(topic) = labels
            .split(',')
            .find_map(|l| l.strip_prefix("topic=\"")?.strip_suffix('"'))
        else {
            continue;
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        if let Some(c) = out.entry(topic.to_string()).or_default().get_mut(slot) {
            *c += v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counters_and_computes_rates() {
        let text = "# TYPE weir_records_in_total counter\n\
            weir_records_in_total{topic=\"a\"} 10\n\
            weir_bytes_in_total{topic=\"a\"} 1000\n\
            weir_records_out_total{topic=\"b\"} 4\n\
            weir_requests_total{api=\"Produce\"} 3\n";
        let c = parse_topic_counters(text);
        assert_eq!(c.get("a"), Some(&[10.0, 1000.0, 0.0, 0.0]));
        assert_eq!(c.get("b"), Some(&[0.0, 0.0, 4.0, 0.0]));
        assert_eq!(c.len(), 2);

        let h = History::default();
        h.push(Sample {
            ts_ms: 1_000,
            topics: c.clone(),
            group_lag: BTreeMap::from([("g".to_string(), 7)]),
        });
        let mut later = c;
        if let Some(a) = later.get_mut("a") {
            a[0] = 30.0;
            a[1] = 5000.0;
        }
        h.push(Sample {
            ts_ms: 3_000,
            topics: later,
            group_lag: BTreeMap::from([("g".to_string(), 2)]),
        });
        assert_eq!(h.topic_rates().get("a"), Some(&[10.0, 2000.0, 0.0, 0.0]));
        assert_eq!(h.broker_rates(), vec![(3_000, [10.0, 2000.0, 0.0, 0.0])]);
        assert_eq!(h.group_lag("g"), vec![(1_000, 7), (3_000, 2)]);
        for i in 0..CAPACITY as i64 {
            h.push(Sample {
                ts_ms: 10_000 + i,
                ..Default::default()
            });
        }
        assert_eq!(h.broker_rates().len(), CAPACITY - 1);
        assert!(h.group_lag("g").is_empty(), "old samples are dropped");
    }
}
