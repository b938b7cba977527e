//! The result of a run: one JSON object with `--json`, else a few lines
//! shaped like Kafka's perf tools print.

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use super::latency::{LatencySummary, round3};
use super::proc_stats::ProcSample;

/// Bytes in the MiB that `mib_per_s` counts (Kafka's perf tools call the
/// same unit "MB").
const MIB_BYTES: f64 = 1024.0 * 1024.0;

/// Where latencies are measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LatencyOrigin {
    /// Fixed rate: the record's place in the schedule.
    IntendedSendTime,
    /// Max rate: just before the record was handed to the producer.
    EnqueueTime,
}

impl LatencyOrigin {
    fn name(self) -> &'static str {
        match self {
            LatencyOrigin::IntendedSendTime => "intended_send_time",
            LatencyOrigin::EnqueueTime => "enqueue_time",
        }
    }
}

/// CPU and memory of the broker process over the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BrokerUsage {
    pub(crate) pid: u32,
    pub(crate) before: ProcSample,
    pub(crate) after: ProcSample,
}

/// Everything a run reports.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    /// `produce`, `consume` or `e2e`.
    pub(crate) mode: &'static str,
    /// The flags, as run (partitions as found on the topic).
    pub(crate) parameters: serde_json::Value,
    /// Records acknowledged (produce) or received (consume, e2e).
    pub(crate) records: u64,
    /// Key plus value bytes of those records.
    pub(crate) bytes: u64,
    pub(crate) elapsed: Duration,
    pub(crate) latency: Option<(LatencySummary, LatencyOrigin)>,
    /// Mode-specific counts, e.g. `produced` for e2e.
    pub(crate) extra: Vec<(&'static str, serde_json::Value)>,
    pub(crate) broker: Option<BrokerUsage>,
    /// CPU seconds this process used over the run.
    pub(crate) client_cpu_s: Option<f64>,
}

impl Report {
    fn records_per_s(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / MIB_BYTES / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut doc = json!({
            "mode": self.mode,
            "records": self.records,
            "bytes": self.bytes,
            "elapsed_s": round3(self.elapsed.as_secs_f64()),
            "records_per_s": (self.records_per_s() * 10.0).round() / 10.0,
            "mib_per_s": round3(self.mib_per_s()),
            "latency_ms": self.latency.map(|(s, _)| s.to_json()),
            "latency_from": self.latency.map(|(_, o)| o.name()),
            "broker": self.broker.map(|b| json!({
                "pid": b.pid,
                "cpu_s": round3(b.after.cpu_s - b.before.cpu_s),
                "peak_rss_bytes": b.after.peak_rss_bytes,
                "rss_bytes_before": b.before.rss_bytes,
                "rss_bytes_after": b.after.rss_bytes,
            })),
            "client_cpu_s": self.client_cpu_s.map(round3),
            "parameters": self.parameters,
        });
        if let Some(map) = doc.as_object_mut() {
            for (k, v) in &self.extra {
                map.insert((*k).to_owned(), v.clone());
            }
        }
        doc
    }

    /// The human summary.
    pub(crate) fn write_text(&self, out: &mut impl Write) -> std::io::Result<()> {
        let verb = match self.mode {
            "produce" => "sent",
            _ => "received",
        };
        writeln!(
            out,
            "{} records {verb} in {:.2} s: {:.1} records/s ({:.2} MiB/s)",
            self.records,
            self.elapsed.as_secs_f64(),
            self.records_per_s(),
            self.mib_per_s()
        )?;
        for (k, v) in &self.extra {
            writeln!(out, "{}: {v}", k.replace('_', " "))?;
        }
        if let Some((s, origin)) = self.latency {
            let from = match origin {
                LatencyOrigin::IntendedSendTime => "from intended send time",
                LatencyOrigin::EnqueueTime => "from enqueue time",
            };
            writeln!(
                out,
                "latency ms ({from}): p50 {:.3}, p95 {:.3}, p99 {:.3}, p99.9 {:.3}, max {:.3}, mean {:.3}",
                s.p50_ms, s.p95_ms, s.p99_ms, s.p99_9_ms, s.max_ms, s.mean_ms
            )?;
        }
        if let Some(b) = self.broker {
            write!(
                out,
                "broker pid {}: {:.2} CPU s during the run",
                b.pid,
                b.after.cpu_s - b.before.cpu_s
            )?;
            if let Some(peak) = b.after.peak_rss_bytes {
                write!(out, ", peak RSS {:.1} MiB", peak as f64 / MIB_BYTES)?;
            }
            if let Some(rss) = b.after.rss_bytes {
                write!(out, ", RSS {:.1} MiB at the end", rss as f64 / MIB_BYTES)?;
            }
            writeln!(out)?;
        }
        if let Some(cpu) = self.client_cpu_s {
            writeln!(out, "this process: {cpu:.2} CPU s")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            mode: "produce",
            parameters: json!({"topic": "t"}),
            records: 2000,
            bytes: 2000 * 1024,
            elapsed: Duration::from_secs(2),
            latency: Some((
                LatencySummary {
                    count: 2000,
                    mean_ms: 1.5,
                    p50_ms: 1.0,
                    p95_ms: 2.0,
                    p99_ms: 3.0,
                    p99_9_ms: 4.0,
                    max_ms: 5.0,
                },
                LatencyOrigin::IntendedSendTime,
            )),
            extra: vec![("errors", json!(0))],
            broker: Some(BrokerUsage {
                pid: 7,
                before: ProcSample {
                    cpu_s: 1.0,
                    rss_bytes: Some(10),
                    peak_rss_bytes: Some(20),
                },
                after: ProcSample {
                    cpu_s: 3.5,
                    rss_bytes: Some(30),
                    peak_rss_bytes: Some(40),
                },
            }),
            client_cpu_s: Some(0.25),
        }
    }

    #[test]
    fn json_has_rates_latency_and_broker_usage() {
        let doc = report().to_json();
        assert_eq!(doc["records"], 2000);
        assert_eq!(doc["records_per_s"], 1000.0);
        assert_eq!(doc["mib_per_s"], 0.977);
        assert_eq!(doc["latency_ms"]["p99_9"], 4.0);
        assert_eq!(doc["latency_from"], "intended_send_time");
        assert_eq!(doc["broker"]["cpu_s"], 2.5);
        assert_eq!(doc["broker"]["peak_rss_bytes"], 40);
        assert_eq!(doc["errors"], 0);
        assert_eq!(doc["parameters"]["topic"], "t");
    }

    #[test]
    fn text_names_the_latency_origin() {
        let mut out = Vec::new();
        report().write_text(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("2000 records sent in 2.00 s: 1000.0 records/s (0.98 MiB/s)\n"),
            "{text}"
        );
        assert!(
            text.contains("latency ms (from intended send time): p50 1.000"),
            "{text}"
        );
        assert!(
            text.contains("broker pid 7: 2.50 CPU s during the run, peak RSS 0.0 MiB"),
            "{text}"
        );
    }
}
